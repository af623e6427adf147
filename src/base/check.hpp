// Runtime checks and the fatal path.
//
// Two kinds of failure, as in Go's runtime:
//  - a broken runtime invariant (a bug in goro) ends the process through
//    `fatal()`: it prints "fatal error: <msg>", dumps the goroutines it can
//    see and aborts. GORO_CHECK is always on and must stay cheap;
//    GORO_DCHECK is compiled only into debug and sanitizer builds.
//  - user misuse throws goro::panic_error (include/goro/panic.hpp) instead.
#pragma once

#include <atomic>
#include <cstdarg>

namespace goro::detail {

// Prints "fatal error: <fmt...>" and the goroutine dump, then aborts.
// Safe to call from any thread and from the scheduler stack.
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Like fatal() but exits with `status` instead of aborting, for fatal
// errors that are the user's program's outcome (deadlock: status 2).
[[noreturn]] void fatal_exit(int status, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Runs fn(arg) on a thread of its own and waits for it (or runs it here
// if no thread can be made). For reports that symbolize with libdw, which
// takes tens of KiB of stack: more than a goroutine stack that is nearly
// used up (or a small one) has left, and libdw's larger frames can step
// over a guard page. Not async-signal-safe.
void run_on_report_thread(void (*fn)(void*), void* arg);

// ---- a process that is dying -------------------------------------------
// Set by every path that reports and then ends the process (a fatal error,
// a goroutine's escaped exception, a stack overflow, SIGQUIT) before its
// report, which may take a while (symbolizing). The process then must not
// end another way meanwhile: run() returning from main, or exit() called
// by the program, would end it with status 0 and a report cut short (or
// crash in static destructors under the report). Go's main parks when it
// finds a panic in progress; run_main and an atexit handler wait here for
// the report's own exit. Async-signal-safe.
void mark_process_dying() noexcept;
bool process_dying() noexcept;
// Waits for the dying report to end the process; never returns.
[[noreturn]] void wait_for_dying_report() noexcept;
// Marks the process dying and claims its one report (Go's paniclk): the
// first caller returns and writes its report; so do the claimer's thread
// and the report thread it runs (a failure inside the report itself
// reports that, then ends the process, as before). Anyone else waits for
// the first report to end the process: two goroutines panicking at once
// used to write two reports into each other. A first report that has not
// ended the process after 30 s lets the next one through (a report that
// hangs must not hide every later one). Async-signal-safe.
void claim_dying_report() noexcept;

// ---- a process that is exiting ------------------------------------------
// Set by atexit handlers that goro registers when the runtime starts and
// when a run() first returns; since handlers run in the reverse order of
// their registration, interleaved with static destructors, it is set
// before the destructors of every static object made before then. Goroutines
// may still run during exit (run() does not wait for them, nor does Go's
// main), so an object such as a namespace-scope goro::pool leaves its
// state to the OS then instead of freeing it under them.
void note_process_exiting_at_exit() noexcept;  // registers the handler (once per call site)
bool process_exiting() noexcept;

// Writes to stderr without allocating (usable from signal handlers and
// the scheduler stack).
void write_stderr(const char* s);
void print_stderr(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// ---- use in a forked child (sched/fork.cpp) ------------------------------
// A child forked after the runtime started has none of its threads (the
// workers, the monitor): set there by the fork handler, this makes every
// runtime entry that would need them fail with fatal_forked_child()
// instead of hanging. Written only by the child's single thread before it
// returns from fork(), so relaxed loads see it.
extern std::atomic<bool> g_forked_child;

inline bool in_forked_child() { return g_forked_child.load(std::memory_order_relaxed); }

// Prints "fatal error: goro: runtime used in a child process after fork();
// only exec is supported after fork" and exits with status 2. No goroutine
// dump: the goroutines are the parent's, and walking them could wait for a
// lock that a thread of the parent held when it forked.
[[noreturn]] void fatal_forked_child();

// For slow paths only (a plain thread parking, a wake-up from a plain
// thread, a contended lock): one relaxed load.
inline void check_not_forked_child() {
  if (__builtin_expect(in_forked_child(), 0)) fatal_forked_child();
}

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
