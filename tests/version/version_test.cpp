// goro/version.hpp: generated from project(goro VERSION ...) and included by
// goro/goro.hpp. tests/CMakeLists.txt passes the CMake project version in
// as GORO_TEST_PROJECT_VERSION{,_MAJOR,_MINOR,_PATCH}.
#include <gtest/gtest.h>

#include <string>

#include "goro/goro.hpp"

#if !defined(GORO_VERSION_MAJOR) || !defined(GORO_VERSION_MINOR) || !defined(GORO_VERSION_PATCH) || \
    !defined(GORO_VERSION_STRING)
#error "goro/goro.hpp does not define the GORO_VERSION_* macros"
#endif

// Usable in #if, as a version header is meant to be.
#if GORO_VERSION_MAJOR < 0 || GORO_VERSION_MINOR < 0 || GORO_VERSION_PATCH < 0
#error "GORO_VERSION_* are not numbers the preprocessor can compare"
#endif

TEST(Version, MacrosMatchTheCMakeProjectVersion) {
  EXPECT_EQ(GORO_VERSION_MAJOR, GORO_TEST_PROJECT_VERSION_MAJOR);
  EXPECT_EQ(GORO_VERSION_MINOR, GORO_TEST_PROJECT_VERSION_MINOR);
  EXPECT_EQ(GORO_VERSION_PATCH, GORO_TEST_PROJECT_VERSION_PATCH);
  EXPECT_EQ(std::string(GORO_VERSION_STRING), GORO_TEST_PROJECT_VERSION);
}

TEST(Version, StringIsMajorMinorPatch) {
  std::string expect = std::to_string(GORO_VERSION_MAJOR) + "." + std::to_string(GORO_VERSION_MINOR) + "." +
                       std::to_string(GORO_VERSION_PATCH);
  EXPECT_EQ(std::string(GORO_VERSION_STRING), expect);
}
