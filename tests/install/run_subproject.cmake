# Run by ctest as `cmake -P` (tests/install/CMakeLists.txt):
# subdirectory_consumer (VIA=subdirectory) and fetchcontent_consumer
# (VIA=fetchcontent). Configures tests/install/subproject, which builds goro
# from GORO_SOURCE_DIR as part of itself: by add_subdirectory of the source
# tree, or by FetchContent from a file:// URL of an archive holding only
# what a release of the library needs (CMakeLists.txt, cmake/, include/,
# src/, LICENSE), so the library's build is also checked not to reach into
# tests/, bench/ or scripts/. The consumer is configured with no build type
# (goro must not choose one for its parent); it checks the options at
# configure time. Then builds and runs the app, and installs the consumer
# to check that goro added no install rules of its own.
#
# Inputs: GORO_SOURCE_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR CXX_COMPILER
#         C_COMPILER VIA
cmake_minimum_required(VERSION 3.20)
set(TEST_NAME ${VIA}_consumer)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
require_vars(GORO_SOURCE_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR C_COMPILER CXX_COMPILER VIA)

set(build ${WORK_DIR}/build)
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

if(VIA STREQUAL "subdirectory")
  set(source ${GORO_SOURCE_DIR})
elseif(VIA STREQUAL "fetchcontent")
  set(archive ${WORK_DIR}/goro-src.tar.gz)
  step("archive the sources" ${CMAKE_COMMAND} -E chdir ${GORO_SOURCE_DIR}
       ${CMAKE_COMMAND} -E tar czf ${archive} -- CMakeLists.txt LICENSE cmake include src)
  set(source file://${archive})
else()
  message(FATAL_ERROR "${TEST_NAME}: VIA must be subdirectory or fetchcontent")
endif()

# C_COMPILER: goro's project also enables C and ASM (the context switch).
step("consumer configure"
     ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${build} -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER}
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DGORO_VIA=${VIA} -DGORO_SOURCE=${source})
step("consumer build" ${CMAKE_COMMAND} --build ${build} --target app)
run_consumer_app(${build}/app)

step("consumer install" ${CMAKE_COMMAND} --install ${build} --prefix ${prefix})
if(NOT EXISTS ${prefix}/bin/app)
  message(FATAL_ERROR "${TEST_NAME}: the consumer's own install rule did not run")
endif()
file(GLOB_RECURSE installed RELATIVE ${prefix} ${prefix}/*)
list(REMOVE_ITEM installed bin/app)
if(installed)
  message(FATAL_ERROR "${TEST_NAME}: goro installed files into its parent's install: ${installed}")
endif()
