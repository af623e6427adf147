// Runtime checks and the fatal path.
//
// Two kinds of failure, as in Go's runtime:
//  - a broken runtime invariant (a bug in goro) ends the process through
//    `fatal()`: it prints "fatal error: <msg>", dumps the goroutines it can
//    see and aborts. GORO_CHECK is always on and must stay cheap;
//    GORO_DCHECK is compiled only into debug and sanitizer builds.
//  - user misuse throws goro::panic_error (include/goro/panic.hpp) instead.
#pragma once

#include <cstdarg>

namespace goro::detail {

// Prints "fatal error: <fmt...>" and the goroutine dump, then aborts.
// Safe to call from any thread and from the scheduler stack.
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Like fatal() but exits with `status` instead of aborting, for fatal
// errors that are the user's program's outcome (deadlock: status 2).
[[noreturn]] void fatal_exit(int status, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Writes to stderr without allocating (usable from signal handlers and
// the scheduler stack).
void write_stderr(const char* s);
void print_stderr(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace goro::detail

#define GORO_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (__builtin_expect(!(cond), 0))                                                      \
      ::goro::detail::fatal("runtime check failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
  } while (0)

#if defined(GORO_DEBUG_CHECKS)
#define GORO_DCHECK(cond) GORO_CHECK(cond)
#else
#define GORO_DCHECK(cond) \
  do {                    \
  } while (0)
#endif
