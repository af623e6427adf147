// Select cases kept past their select call must not compile (they would
// dangle): compiles tests/compile_fail/select_case_lifetime.cpp with the
// compiler named by $CXX (default c++), as compile_fail_test.cpp does, once
// per misuse, and expects the control to compile and every misuse to fail.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

std::string source_root() {
  std::string f = __FILE__;  // <root>/tests/chan/select_compile_fail_test.cpp
  for (int i = 0; i < 3; i++) f = f.substr(0, f.rfind('/'));
  return f;
}

int compile(int misuse) {
  const char* cxx = std::getenv("CXX");
  std::string root = source_root();
  std::string cmd = std::string(cxx && *cxx ? cxx : "c++") + " -std=c++20 -fsyntax-only -I" + root +
                    "/include -DGORO_MISUSE=" + std::to_string(misuse) + " " + root +
                    "/tests/compile_fail/select_case_lifetime.cpp > /dev/null 2>&1";
  return std::system(cmd.c_str());
}

// In suite CompileFail, which tests/CMakeLists.txt runs with the long
// timeout that compiler runs need.
TEST(CompileFail, SelectInlineCasesCompile) { EXPECT_EQ(compile(0), 0); }
TEST(CompileFail, SelectStoredRecvCaseOfTemporaryChannel) { EXPECT_NE(compile(1), 0); }
TEST(CompileFail, SelectMovedRecvCaseOfTemporaryChannel) { EXPECT_NE(compile(2), 0); }
TEST(CompileFail, SelectStoredSendCaseOfTemporaryValue) { EXPECT_NE(compile(3), 0); }
TEST(CompileFail, SelectStoredCaseRecv) { EXPECT_NE(compile(4), 0); }
TEST(CompileFail, SelectStoredCaseSend) { EXPECT_NE(compile(5), 0); }
TEST(CompileFail, SelectCaseFromStoredCase) { EXPECT_NE(compile(6), 0); }
TEST(CompileFail, SelectCaseCopy) { EXPECT_NE(compile(7), 0); }
TEST(CompileFail, SelectMixedForms) { EXPECT_NE(compile(8), 0); }
TEST(CompileFail, SelectResultGetOfSendCase) { EXPECT_NE(compile(9), 0); }

}  // namespace
