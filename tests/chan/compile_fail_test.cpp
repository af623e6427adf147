// Channel direction misuse must not compile: compiles
// tests/compile_fail/chan_direction.cpp with the compiler named by $CXX
// (default c++), once per misuse, and expects the control to compile and
// every misuse to fail.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

std::string source_root() {
  std::string f = __FILE__;  // <root>/tests/chan/compile_fail_test.cpp
  for (int i = 0; i < 3; i++) f = f.substr(0, f.rfind('/'));
  return f;
}

int compile(int misuse) {
  const char* cxx = std::getenv("CXX");
  std::string root = source_root();
  std::string cmd = std::string(cxx && *cxx ? cxx : "c++") + " -std=c++20 -fsyntax-only -I" + root +
                    "/include -DGORO_MISUSE=" + std::to_string(misuse) + " " + root +
                    "/tests/compile_fail/chan_direction.cpp > /dev/null 2>&1";
  return std::system(cmd.c_str());
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
