# Run by ctest as `cmake -P` (tests/arch/CMakeLists.txt). MODE selects the
# check:
#   marking  READELF CXX SWITCH_OBJECT PROBE_SOURCE SOURCE_DIR WORK_DIR
#            The switch object built into libgoro (SWITCH_OBJECT: the same
#            object in libgoro.a and libgoro.so) is marked IBT and not
#            SHSTK, and
#            a relocatable link of it with a C++ object compiled with
#            -fcf-protection=full keeps IBT (the C++ object's SHSTK mark is
#            dropped, truthfully: the switch does not support shadow stacks).
#   unwind   GDB PROBE WORK_DIR
#            gdb stops at every instruction of goro_fiber_switch on three
#            switches of goro_switch_probe (main -> a new fiber, the fiber ->
#            main, main -> the fiber again) and prints the stack at each.
#            Every stack must start in goro_fiber_switch, go on into
#            fiber_switch (the C++ caller) or goro_fiber_start (a new fiber's
#            bottom frame), end at main or goro_fiber_start, and name every
#            frame (no "??": a frame read from a wrong slot).
# A missing tool prints "SKIPPED: ..." (the test's SKIP_REGULAR_EXPRESSION).
cmake_minimum_required(VERSION 3.20)

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run_step name)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc})\ncommand: ${ARGN}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
  endif()
  set(step_out "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "marking")
  if(NOT READELF)
    message("SKIPPED: readelf not found")
    return()
  endif()
  # The switch object as built into the library.
  if(NOT EXISTS "${SWITCH_OBJECT}")
    message(FATAL_ERROR "no switch object: '${SWITCH_OBJECT}'")
  endif()
  get_filename_component(member ${SWITCH_OBJECT} NAME)
  file(COPY ${SWITCH_OBJECT} DESTINATION ${WORK_DIR})
  run_step("readelf -n ${member}" ${READELF} -n ${WORK_DIR}/${member})
  if(NOT step_out MATCHES "x86 feature: IBT")
    message(FATAL_ERROR "${member} (built into libgoro) is not marked IBT-compatible "
                        "(no GNU_PROPERTY_X86_FEATURE_1_IBT in .note.gnu.property); "
                        "linking goro would turn off a CET build's IBT marking.\nreadelf -n:\n${step_out}")
  endif()
  if(step_out MATCHES "SHSTK")
    message(FATAL_ERROR "${member} claims SHSTK, which the switch does not support:\n${step_out}")
  endif()

  # A C++ object built for CET, linked (relocatably) with the switch.
  execute_process(COMMAND ${CXX} -fcf-protection=full -x c++ -c /dev/null -o ${WORK_DIR}/empty.o
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message("${CXX} has no -fcf-protection; only the library's object was checked")
    return()
  endif()
  run_step("compile the probe with -fcf-protection=full"
           ${CXX} -std=c++20 -O2 -fcf-protection=full -I${SOURCE_DIR}/src -I${SOURCE_DIR}/include
           -c ${PROBE_SOURCE} -o ${WORK_DIR}/probe.o)
  run_step("readelf -n probe.o" ${READELF} -n ${WORK_DIR}/probe.o)
  if(NOT step_out MATCHES "IBT, SHSTK")
    message(FATAL_ERROR "${CXX} -fcf-protection=full did not mark its object IBT and SHSTK:\n${step_out}")
  endif()
  run_step("relocatable link" ${CXX} -r -nostdlib ${WORK_DIR}/probe.o ${WORK_DIR}/${member} -o ${WORK_DIR}/linked.o)
  run_step("readelf -n linked.o" ${READELF} -n ${WORK_DIR}/linked.o)
  if(NOT step_out MATCHES "x86 feature: IBT" OR step_out MATCHES "SHSTK")
    message(FATAL_ERROR "linking the switch into a CET-built object must keep IBT and drop SHSTK:\n${step_out}")
  endif()
  message("switch object and a CET-built link marked IBT (not SHSTK)")

elseif(MODE STREQUAL "unwind")
  if(NOT GDB)
    message("SKIPPED: gdb not found")
    return()
  endif()
  # How many instructions the switch has: stop at each one.
  run_step("gdb disassemble" ${GDB} -batch -nx -ex "disassemble goro_fiber_switch" ${PROBE})
  string(REGEX MATCHALL "\n +0x[0-9a-f]+ <\\+[0-9]+>:" insns "${step_out}")
  list(LENGTH insns ninsns)
  if(ninsns LESS 5)
    message(FATAL_ERROR "cannot read goro_fiber_switch's instructions:\n${step_out}")
  endif()
  set(hits 3)
  set(script "set pagination off\nset confirm off\nbreak goro_fiber_switch\nrun\n")
  foreach(h RANGE 1 ${hits})
    foreach(i RANGE 1 ${ninsns})
      string(APPEND script "echo @@@STOP\\n\nx/i $pc\nbt 20\nstepi\n")
    endforeach()
    string(APPEND script "continue\n")
  endforeach()
  string(APPEND script "kill\n")
  file(WRITE ${WORK_DIR}/unwind.gdb "${script}")
  run_step("gdb" ${GDB} -batch -nx -x ${WORK_DIR}/unwind.gdb ${PROBE})
  set(out "${step_out}")
  string(REPLACE ";" "<semicolon>" out "${out}")
  string(REPLACE "@@@STOP" ";" stops "${out}")
  list(REMOVE_AT stops 0)  # what came before the first stop
  set(checked 0)
  set(failures "")
  foreach(stop IN LISTS stops)
    if(NOT stop MATCHES "=> 0x[0-9a-f]+ <goro_fiber_switch")
      continue()
    endif()
    math(EXPR checked "${checked} + 1")
    string(REGEX MATCHALL "\n#[0-9]+ [^\n]*" frames "${stop}")
    list(LENGTH frames nframes)
    set(bad "")
    if(nframes LESS 2)
      set(bad "fewer than two frames")
    else()
      list(GET frames 0 f0)
      list(GET frames 1 f1)
      list(GET frames -1 flast)
      if(NOT f0 MATCHES "goro_fiber_switch")
        set(bad "frame #0 is not goro_fiber_switch")
      elseif(NOT f1 MATCHES " in goro::detail::fiber_switch|goro_fiber_start \\(")
        set(bad "frame #1 is neither the C++ caller nor goro_fiber_start")
      elseif(NOT flast MATCHES " main \\(|goro_fiber_start \\(")
        set(bad "the stack does not end at main or goro_fiber_start")
      elseif(stop MATCHES "\\?\\? \\(")
        set(bad "an unnamed frame")
      endif()
    endif()
    if(bad)
      string(APPEND failures "--- ${bad}:${stop}\n")
    endif()
  endforeach()
  math(EXPR want "${hits} * ${ninsns}")
  if(NOT checked EQUAL want)
    message(FATAL_ERROR "stopped at ${checked} instructions of goro_fiber_switch, wanted ${want}:\n${out}")
  endif()
  if(failures)
    string(REPLACE "<semicolon>" ";" failures "${failures}")
    message(FATAL_ERROR "wrong stacks from inside goro_fiber_switch:\n${failures}")
  endif()
  message("unwound correctly from all ${ninsns} instructions of goro_fiber_switch on ${hits} switches")

else()
  message(FATAL_ERROR "switch_test.cmake: MODE must be marking or unwind")
endif()
