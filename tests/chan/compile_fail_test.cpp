// Channel direction misuse must not compile: compiles
// tests/compile_fail/chan_direction.cpp with the build's own C++ compiler
// (CMAKE_CXX_COMPILER, passed in by tests/CMakeLists.txt as
// GORO_TEST_CXX), once per misuse, and expects the control to compile and
// every misuse to fail. A clang build tests what clang rejects, a g++
// build what g++ rejects.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#ifndef GORO_TEST_CXX
#error "tests/CMakeLists.txt defines GORO_TEST_CXX, the configured C++ compiler"
#endif

namespace {

std::string source_root() {
  std::string f = __FILE__;  // <root>/tests/chan/compile_fail_test.cpp
  for (int i = 0; i < 3; i++) f = f.substr(0, f.rfind('/'));
  return f;
}

// Runs the build's compiler on tests/compile_fail/<file> with `flags`;
// returns system()'s status (0: compiled).
int compile_file(const std::string& file, const std::string& flags) {
  std::string root = source_root();
  std::string cmd = std::string("'") + GORO_TEST_CXX + "' -std=c++20 -fsyntax-only -I" + root + "/include " + flags +
                    " " + root + "/tests/compile_fail/" + file + " > /dev/null 2>&1";
  return std::system(cmd.c_str());
}

int compile(int misuse) { return compile_file("chan_direction.cpp", "-DGORO_MISUSE=" + std::to_string(misuse)); }

// The compiler these tests run is the one the build uses.
TEST(CompileFail, UsesTheConfiguredCompiler) {
  EXPECT_EQ(compile_file("compiler_id.cpp", "-DGORO_EXPECT_CLANG=" + std::to_string(GORO_TEST_CXX_IS_CLANG) +
                                                " -DGORO_EXPECT_MAJOR=" + std::to_string(GORO_TEST_CXX_MAJOR)),
            0);
}

TEST(CompileFail, ControlCompiles) { EXPECT_EQ(compile(0), 0); }

// One test per misuse, so that ctest compiles them in parallel.
TEST(CompileFail, SendOnRecvChan) { EXPECT_NE(compile(1), 0); }
TEST(CompileFail, RecvOnSendChan) { EXPECT_NE(compile(2), 0); }
TEST(CompileFail, CloseRecvChan) { EXPECT_NE(compile(3), 0); }
TEST(CompileFail, SelectRecvOnSendChan) { EXPECT_NE(compile(4), 0); }
TEST(CompileFail, SelectSendOnRecvChan) { EXPECT_NE(compile(5), 0); }
TEST(CompileFail, ViewToChan) { EXPECT_NE(compile(6), 0); }
TEST(CompileFail, TrySendOnRecvChan) { EXPECT_NE(compile(7), 0); }

}  // namespace
