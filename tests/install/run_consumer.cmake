# Run by ctest as `cmake -P` (tests/install/CMakeLists.txt): install goro from
# GORO_BUILD_DIR into WORK_DIR/prefix, build CONSUMER_SOURCE_DIR against that
# prefix alone, with the compiler, generator and build type of the goro
# build, run the app and check what it prints. Fails with the output of the
# step that went wrong.
#
# Inputs: GORO_BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR CXX_COMPILER
#         BUILD_TYPE
cmake_minimum_required(VERSION 3.20)
set(TEST_NAME install_consumer)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
require_vars(GORO_BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR CXX_COMPILER)

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# 1. Install the build tree.
step("cmake --install" ${CMAKE_COMMAND} --install ${GORO_BUILD_DIR} --prefix ${prefix})
foreach(f include/goro/goro.hpp include/goro/runtime.hpp include/goro/version.hpp include/goro/detail/spawn.hpp
          share/goro/gdb/goro-gdb.py)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "install_consumer: ${f} was not installed")
  endif()
endforeach()
file(GLOB config ${prefix}/lib*/cmake/goro/goroConfig.cmake)
file(GLOB lib ${prefix}/lib*/libgoro.a ${prefix}/lib*/libgoro.so)  # .so: a BUILD_SHARED_LIBS build
if(NOT config OR NOT lib)
  message(FATAL_ERROR "install_consumer: goroConfig.cmake or libgoro.a/.so missing under ${prefix}")
endif()
# The installed package must not point back into the build or source tree.
file(GLOB targets ${prefix}/lib*/cmake/goro/goroTargets*.cmake)
foreach(t IN LISTS targets)
  file(READ ${t} text)
  string(FIND "${text}" "${GORO_BUILD_DIR}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "install_consumer: ${t} refers to the build tree ${GORO_BUILD_DIR}")
  endif()
endforeach()

# 2. Configure the consumer against the prefix only: no package registry,
#    so a build tree cannot stand in for the install.
step("consumer configure"
     ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${build} -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
     -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_PREFIX_PATH=${prefix}
     -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
file(REAL_PATH ${prefix} real_prefix)
string(FIND "${step_out}" "goro_DIR=${prefix}/" at)
string(FIND "${step_out}" "goro_DIR=${real_prefix}/" at_real)
if(at EQUAL -1 AND at_real EQUAL -1)
  message(FATAL_ERROR "install_consumer: goro was not found in ${prefix}:\n${step_out}")
endif()

# 3. Build and run it.
step("consumer build" ${CMAKE_COMMAND} --build ${build})
run_consumer_app(${build}/app)
