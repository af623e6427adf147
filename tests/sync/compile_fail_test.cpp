// Clang thread-safety annotations (goro/thread_annotations.hpp) must make
// an unguarded access a compile error: compiles
// tests/compile_fail/thread_safety.cpp with the build's own C++ compiler
// and -Wthread-safety -Werror, once per misuse, and expects the control to
// compile and every misuse to fail. Under g++, which has no such analysis
// (the macros expand to nothing), the tests are skipped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#ifndef GORO_TEST_CXX
#error "tests/CMakeLists.txt defines GORO_TEST_CXX, the configured C++ compiler"
#endif

namespace {

std::string source_root() {
  std::string f = __FILE__;  // <root>/tests/sync/compile_fail_test.cpp
  for (int i = 0; i < 3; i++) f = f.substr(0, f.rfind('/'));
  return f;
}

std::string command(int misuse) {
  std::string root = source_root();
  // g++ knows no -Wthread-safety (and would reject it).
  const char* analysis = GORO_TEST_CXX_IS_CLANG ? " -Wthread-safety" : "";
  return std::string("'") + GORO_TEST_CXX + "' -std=c++20 -fsyntax-only -Werror" + analysis + " -I" + root +
         "/include -DGORO_MISUSE=" + std::to_string(misuse) + " " + root + "/tests/compile_fail/thread_safety.cpp";
}

// system()'s status: 0 if it compiled.
int compile(int misuse) { return std::system((command(misuse) + " > /dev/null 2>&1").c_str()); }

// Whether the thread-safety analysis is what rejected it (not some other
// error in the misuse).
bool rejected_by_analysis(int misuse) {
  return std::system((command(misuse) + " 2>&1 | grep -q 'Wthread-safety'").c_str()) == 0;
}

#define GORO_REQUIRE_CLANG()                                                                           \
  if (!GORO_TEST_CXX_IS_CLANG) GTEST_SKIP() << "thread-safety analysis needs clang (the clang preset); " \
                                               "this build's compiler is " GORO_TEST_CXX

TEST(ThreadSafetyCompileFail, ControlCompiles) {
  // Under any compiler: the annotations must not break a valid program.
  EXPECT_EQ(compile(0), 0);
}
TEST(ThreadSafetyCompileFail, WriteWithoutLock) {
  GORO_REQUIRE_CLANG();
  EXPECT_NE(compile(1), 0);
  EXPECT_TRUE(rejected_by_analysis(1));
}
TEST(ThreadSafetyCompileFail, ReturnWithLockHeld) {
  GORO_REQUIRE_CLANG();
  EXPECT_NE(compile(2), 0);
  EXPECT_TRUE(rejected_by_analysis(2));
}
TEST(ThreadSafetyCompileFail, ReadAfterUnlock) {
  GORO_REQUIRE_CLANG();
  EXPECT_NE(compile(3), 0);
  EXPECT_TRUE(rejected_by_analysis(3));
}
TEST(ThreadSafetyCompileFail, WriteUnderReadLock) {
  GORO_REQUIRE_CLANG();
  EXPECT_NE(compile(4), 0);
  EXPECT_TRUE(rejected_by_analysis(4));
}
TEST(ThreadSafetyCompileFail, RWGuardedWriteWithoutLock) {
  GORO_REQUIRE_CLANG();
  EXPECT_NE(compile(5), 0);
  EXPECT_TRUE(rejected_by_analysis(5));
}
TEST(ThreadSafetyCompileFail, RequiresWithoutLock) {
  GORO_REQUIRE_CLANG();
  EXPECT_NE(compile(6), 0);
  EXPECT_TRUE(rejected_by_analysis(6));
}
TEST(ThreadSafetyCompileFail, WriteUnderTimedReadLock) {
  GORO_REQUIRE_CLANG();
  EXPECT_NE(compile(7), 0);
  EXPECT_TRUE(rejected_by_analysis(7));
}

}  // namespace
