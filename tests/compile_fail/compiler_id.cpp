// Compiled by tests/chan/compile_fail_test.cpp (CompileFail.UsesTheConfiguredCompiler)
// with -DGORO_EXPECT_CLANG=0|1 -DGORO_EXPECT_MAJOR=N from the build's
// CMAKE_CXX_COMPILER_ID and _VERSION: it compiles only under the compiler
// the build was configured with, so the compile-fail tests cannot test
// another one.
#if defined(__clang__)
#define GORO_IS_CLANG 1
#define GORO_MAJOR __clang_major__
#else
#define GORO_IS_CLANG 0
#define GORO_MAJOR __GNUC__
#endif

#if GORO_IS_CLANG != GORO_EXPECT_CLANG
#error "the compile-fail tests run another compiler family than the build's"
#endif
#if GORO_MAJOR != GORO_EXPECT_MAJOR
#error "the compile-fail tests run another compiler version than the build's"
#endif

int main() { return 0; }
