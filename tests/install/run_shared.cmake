# Run by ctest as `cmake -P` (tests/install/CMakeLists.txt): shared_consumer.
# Configures goro from GORO_SOURCE_DIR with -DBUILD_SHARED_LIBS=ON (library
# only: no tests, examples or benchmarks), builds and installs it into
# WORK_DIR/prefix, builds the find_package consumer (CONSUMER_SOURCE_DIR)
# against that prefix, runs it, and checks that the app really uses the
# installed libgoro.so: the soname is among its NEEDED entries, the loader
# resolves it into the prefix, and the runtime's code is not in the app.
# Also checks that no per-operation path of libgoro.so reads a thread-local
# through __tls_get_addr, or calls a function of its own file through the
# PLT (below, steps 4 and 5).
#
# Inputs: GORO_SOURCE_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR C_COMPILER
#         CXX_COMPILER BUILD_TYPE SONAME READELF OBJDUMP
cmake_minimum_required(VERSION 3.20)
set(TEST_NAME shared_consumer)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
require_vars(GORO_SOURCE_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR C_COMPILER CXX_COMPILER SONAME READELF OBJDUMP)

set(goro_build ${WORK_DIR}/goro-build)
set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# 1. goro as a shared library, alone.
step("goro configure"
     ${CMAKE_COMMAND} -S ${GORO_SOURCE_DIR} -B ${goro_build} -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER}
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DBUILD_SHARED_LIBS=ON
     -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_BENCH=OFF)
step("goro build" ${CMAKE_COMMAND} --build ${goro_build} --target goro)
step("goro install" ${CMAKE_COMMAND} --install ${goro_build} --prefix ${prefix})
file(GLOB so ${prefix}/lib*/${SONAME})
file(GLOB archive ${prefix}/lib*/libgoro.a)
if(NOT so OR archive)
  message(FATAL_ERROR "${TEST_NAME}: expected ${SONAME} and no libgoro.a under ${prefix}")
endif()

# 2. The consumer, against the prefix only.
step("consumer configure"
     ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${build} -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
     -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_PREFIX_PATH=${prefix}
     -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
step("consumer build" ${CMAKE_COMMAND} --build ${build})

# 3. The app links libgoro.so, and the loader finds the installed one.
step("readelf -d" ${READELF} -d ${build}/app)
if(NOT step_out MATCHES "\\(NEEDED\\)[^\n]*\\[${SONAME}\\]")
  message(FATAL_ERROR "${TEST_NAME}: app does not need ${SONAME}:\n${step_out}")
endif()
step("readelf -s" ${READELF} -W -s ${build}/app)
if(step_out MATCHES " [0-9]+ goro_fiber_switch\n")  # defined here, not UND
  message(FATAL_ERROR "${TEST_NAME}: the app carries goro's runtime itself")
endif()
step("ldd" ldd ${build}/app)
file(REAL_PATH ${prefix} real_prefix)
if(NOT step_out MATCHES "${SONAME} => (${prefix}|${real_prefix})/lib")
  message(FATAL_ERROR "${TEST_NAME}: the loader does not take ${SONAME} from ${prefix}:\n${step_out}")
endif()
# Four Ps on two or more threads: goroutines move between threads, each
# reading the M from libgoro.so's initial-exec TLS.
set(ENV{GORO_MAXPROCS} 4)
run_consumer_app(${build}/app)

# 4 and 5: what libgoro.so's functions call through the PLT, one
# "<caller>: <callee@plt>" line per call, from one disassembly.
execute_process(COMMAND ${OBJDUMP} -d --no-show-raw-insn ${so}
                COMMAND awk "/^[0-9a-f]+ </ { fn = $2 } /(call|jmp).*@plt>/ { print fn, $NF }"
                RESULT_VARIABLE rc OUTPUT_VARIABLE plt_calls ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TEST_NAME}: objdump | awk failed (${rc}): ${err}")
endif()

# 4. Thread-locals on per-operation paths are initial-exec. In a shared
# library a plain thread_local is read through a call to __tls_get_addr
# (the linker turns that into a plain load only when the library is linked
# into the executable, so the static build never shows it): every read
# lock and unlock of a goro::rwmutex (its reader-slot line), every select
# (its random state) and every traced event would pay that call. The
# functions named here must not call it; cold paths (thread set-up, the
# lock-order detector, plain threads' waits) may.
string(REGEX MATCHALL "<[^>\n]*(rwmutex|my_line|assign_line|fastrand|trace_record)[^>\n]*>: <__tls_get_addr@plt>"
       hot "${plt_calls}")
if(hot)
  list(REMOVE_DUPLICATES hot)
  message(FATAL_ERROR "${TEST_NAME}: per-operation paths call __tls_get_addr (make their thread-locals "
                      "initial-exec): ${hot}")
endif()

# 5. Built with -fno-semantic-interposition (src/CMakeLists.txt): the
# library's functions call the others of their own file directly (or
# inline them), never through the PLT. Checked on goro::rwmutex, whose read
# lock went through three PLT calls without the flag.
string(REGEX MATCHALL "<_ZN4goro7rwmutex[^>]*>: <_ZN4goro7rwmutex[^>]*>" self_plt "${plt_calls}")
if(self_plt)
  list(REMOVE_DUPLICATES self_plt)
  message(FATAL_ERROR "${TEST_NAME}: goro::rwmutex calls itself through the PLT (built without "
                      "-fno-semantic-interposition?): ${self_plt}")
endif()
