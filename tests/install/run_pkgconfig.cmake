# Run by ctest as `cmake -P` (tests/install/CMakeLists.txt): pkgconfig_consumer.
# Installs goro from GORO_BUILD_DIR into WORK_DIR/prefix, asks pkg-config
# (looking in the prefix's pkgconfig directory) for goro's version, cflags
# and libs, compiles and links CONSUMER_SOURCE with the C++ compiler and
# those flags alone (plus -std=c++20), and runs it. With a static
# libgoro.a the link fails unless goro.pc names what the library needs
# (threads, libdl, libdw); the prefix is not goro's configured install
# prefix, so it also checks that goro.pc is relocatable.
#
# Inputs: GORO_BUILD_DIR WORK_DIR CONSUMER_SOURCE CXX_COMPILER PKG_CONFIG
#         VERSION
cmake_minimum_required(VERSION 3.20)
set(TEST_NAME pkgconfig_consumer)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
require_vars(GORO_BUILD_DIR WORK_DIR CONSUMER_SOURCE CXX_COMPILER PKG_CONFIG VERSION)

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

step("cmake --install" ${CMAKE_COMMAND} --install ${GORO_BUILD_DIR} --prefix ${prefix})
file(GLOB pc ${prefix}/lib*/pkgconfig/goro.pc ${prefix}/lib/*/pkgconfig/goro.pc)
if(NOT pc)
  message(FATAL_ERROR "${TEST_NAME}: goro.pc was not installed under ${prefix}")
endif()
get_filename_component(pc_dir ${pc} DIRECTORY)
set(pkg_config ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir} ${PKG_CONFIG})

step("pkg-config --modversion" ${pkg_config} --modversion goro)
string(STRIP "${step_out}" modversion)
if(NOT modversion STREQUAL VERSION)
  message(FATAL_ERROR "${TEST_NAME}: goro.pc says version '${modversion}', the project ${VERSION}")
endif()
step("pkg-config --cflags --libs" ${pkg_config} --cflags --libs goro)
string(STRIP "${step_out}" flags)
message(STATUS "${TEST_NAME}: pkg-config --cflags --libs goro: ${flags}")
file(REAL_PATH ${prefix} real_prefix)
if(NOT flags MATCHES "-I(${prefix}|${real_prefix}|[^ ]*/lib[^ ]*/pkgconfig/\\.\\./\\.\\.)/include")
  message(FATAL_ERROR "${TEST_NAME}: the cflags do not point into ${prefix}: ${flags}")
endif()
separate_arguments(flag_list UNIX_COMMAND "${flags}")

# The source first, the libraries after it, as a static link needs.
step("consumer compile and link" ${CXX_COMPILER} -std=c++20 -O1 ${CONSUMER_SOURCE} ${flag_list} -o ${WORK_DIR}/app)
# If this build's libgoro is shared, the loader must find it in the prefix.
get_filename_component(libdir ${pc_dir} DIRECTORY)
set(ENV{LD_LIBRARY_PATH} ${libdir})
run_consumer_app(${WORK_DIR}/app)
