# Shared by the consumer tests' drivers (run_*.cmake), which ctest runs as
# `cmake -P`: a step runner that stops with the failing command's output,
# and the check of what the consumer app prints.

# Requires -D<var>=... for each variable named.
function(require_vars)
  foreach(var IN LISTS ARGN)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
      message(FATAL_ERROR "${CMAKE_SCRIPT_MODE_FILE}: -D${var}=... is required")
    endif()
  endforeach()
endfunction()

# step(<name> <command...>): runs the command; on failure prints its output
# and stops. Sets step_out to its stdout.
function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TEST_NAME}: ${name} failed (${rc})\n"
                        "command: ${ARGN}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
  endif()
  set(step_out "${out}" PARENT_SCOPE)
endfunction()

# Runs the consumer app (tests/install/consumer/main.cpp) and checks its
# output.
function(run_consumer_app app)
  step("consumer run" ${app})
  if(NOT step_out MATCHES "goro consumer: 10 goroutines, sum 55, slept >= 10 ms\ngoro consumer: goro [0-9]+\\.[0-9]+\\.[0-9]+\n")
    message(FATAL_ERROR "${TEST_NAME}: unexpected output from the app:\n${step_out}")
  endif()
  message(STATUS "${TEST_NAME}: ${step_out}")
endfunction()
