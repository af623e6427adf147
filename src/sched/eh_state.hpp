// The C++ exception-handling state of a goroutine, kept across switches.
//
// The C++ runtime keeps, per OS thread, the stack of exceptions being
// handled (the caught ones: what std::current_exception() and a bare
// `throw;` use, and what the end of each catch block pops and frees) and
// the count of exceptions in flight (std::uncaught_exceptions()). A
// goroutine that parks inside a catch block (sending the error on a
// channel, say) leaves its exception on its thread's stack: another
// goroutine that throws and catches on that thread then pops and frees the
// wrong one, and the parked goroutine, resumed on another thread, finds a
// stack that is not its own (std::current_exception() returned the other
// goroutine's exception; TSan saw exception objects freed by the wrong
// goroutine). So the switch moves the state off the thread into the
// switching goroutine's frame, and back onto whichever thread it resumes
// on: the threads' state is empty whenever the scheduler runs.
//
// The layout is the Itanium C++ ABI's __cxa_eh_globals, the same in
// libstdc++'s libsupc++ and LLVM's libc++abi on x86-64 and aarch64: the
// caught-exceptions list, then the uncaught count (32-bit ARM EABI adds a
// third field; goro does not run there). The pointer is per thread and
// never changes, so each M reads it once, on its own thread, at start
// (__cxa_get_globals is declared `const`: the compiler may reuse one
// call's result across a switch, which would be another thread's).
#pragma once

#include <cxxabi.h>

namespace goro::detail {

struct eh_globals_view {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

// The calling thread's exception state (call once per thread).
inline eh_globals_view* thread_eh_globals() { return reinterpret_cast<eh_globals_view*>(abi::__cxa_get_globals()); }

// A switching goroutine's exception state, on its own stack.
struct eh_state {
  void* caught = nullptr;
  unsigned int uncaught = 0;

  // Takes the thread's state (leaving it empty). Nearly always empty: two
  // loads and a branch.
  void take_from(eh_globals_view* t) {
    caught = t->caught_exceptions;
    uncaught = t->uncaught_exceptions;
    if (caught != nullptr || uncaught != 0) {
      t->caught_exceptions = nullptr;
      t->uncaught_exceptions = 0;
    }
  }
  // Puts it back on the (empty) state of the thread it resumed on.
  void give_to(eh_globals_view* t) const {
    if (caught != nullptr || uncaught != 0) {
      t->caught_exceptions = caught;
      t->uncaught_exceptions = uncaught;
    }
  }
};

}  // namespace goro::detail
