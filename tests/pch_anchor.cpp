// The translation unit of goro_test_pch (tests/CMakeLists.txt), which only
// exists to build the precompiled GoogleTest header the test binaries share.
int main() { return 0; }
