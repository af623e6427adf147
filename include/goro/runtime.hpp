// Goroutines and the scheduler: go, run, yield, blocking, maxprocs.
//
// A goroutine is a stackful fiber run by goro's M:N work-stealing scheduler
// (Go's G-M-P design, docs/design.md): any function can block in it, on a
// channel, a wait_group, a sleep, without being written specially.
//
//   int main() {
//     return goro::run([] {
//       goro::wait_group wg;
//       for (int i = 0; i < 10; i++) {
//         wg.add(1);
//         goro::go([&wg, i] { std::printf("hello from %d\n", i); wg.done(); });
//       }
//       wg.wait();
//     });
//   }
//
// Thread-safety: every function here may be called from any goroutine and
// from any plain OS thread, concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <goro/detail/spawn.hpp>
#include <goro/panic.hpp>

namespace goro {

// Starts f(args...) in a new goroutine, like Go's `go f(args...)`, and
// returns its id. Every callable works, as with std::invoke: a lambda, a
// named callable, a function or function pointer, a std::function, a
// member function pointer with the object (pointer) as first argument.
//
//   goro::go(worker, jobs, results);        // arguments are copied/moved in
//   goro::go(&worker, jobs, results);
//   goro::go(task);                         // a named lambda or std::function
//   goro::go(&server::serve, &srv, conn);   // srv.serve(conn)
//   goro::go([&] { counter.fetch_add(1); });
//
// The function and arguments are decay-copied (moved where possible) into
// the goroutine, as std::thread does; pass std::ref to share. The return
// value, if any, is discarded. Does not block. Throws goro::resource_error
// if no stack can be had (the goroutine is then not started). An exception
// escaping f ends the process with a panic report (goro/panic.hpp).
//
// Where the goroutine was created ("created by ... at file:line" in dumps
// and reports) is the return address of this call, as Go records its
// caller's PC; it is symbolized only when a report needs it (always
// inlined, so that the address lies in the caller).
template <class F, class... Args>
[[gnu::always_inline]] inline uint64_t go(F&& f, Args&&... args) {
  uint64_t id = detail::spawn_here(0, std::forward<F>(f), std::forward<Args>(args)...);
  asm volatile("");  // keeps the call out of tail position: its return address is the caller's
  return id;
}

// Options for go_with.
struct spawn_options {
  // Stack size in bytes (rounded up to pages); 0 means the default
  // (set_default_stack_size; 128 KiB unless changed, 256 KiB in
  // sanitizer builds). Stacks are committed
  // lazily: a goroutine pays only for the pages it touches. Above 1 TiB,
  // go_with throws goro::resource_error.
  std::size_t stack_size = 0;
};

// go() with options (returns the goroutine's id, throws as go() does),
// e.g. a goroutine that needs a deep stack:
//
//   goro::go_with({.stack_size = 8 << 20}, parse_deeply_nested, doc);
template <class F, class... Args>
[[gnu::always_inline]] inline uint64_t go_with(spawn_options opts, F&& f, Args&&... args) {
  uint64_t id = detail::spawn_here(opts.stack_size, std::forward<F>(f), std::forward<Args>(args)...);
  asm volatile("");  // as in go()
  return id;
}

namespace detail {
// Records its own return address (in run's caller, run being inlined) as
// where the main goroutine was created.
[[gnu::noinline]] int run_main(void (*invoke)(void* ctx, int* status), void* ctx);

// run()'s body for a callable object (a lambda, a function pointer).
template <class Fn>
[[gnu::always_inline]] inline int run_callable(Fn* main_fn) {
  auto invoke = [](void* ctx, int* status) {
    Fn& fn = *static_cast<Fn*>(ctx);
    if constexpr (std::is_convertible_v<std::invoke_result_t<Fn&>, int>) {
      *status = static_cast<int>(fn());
    } else {
      fn();
      *status = 0;
    }
  };
  // (const_cast: a const callable is called as const; invoke casts back.)
  int status = detail::run_main(invoke, const_cast<void*>(static_cast<const void*>(main_fn)));
  asm volatile("");  // as in go()
  return status;
}
}  // namespace detail

// Runs main_fn as the program's main goroutine (goroutine 1 when it is the
// process's first goroutine; goroutine_info::is_main says which it is) and
// returns when it returns: its int result, or 0 if it returns void. Starts
// the runtime if needed; the runtime stays up for later run() calls, and
// goroutines still running when main_fn returns keep running (in Go the
// process would exit; here the caller decides).
//
//   int main() { return goro::run(real_main); }
//
// While main_fn is blocked and nothing else can ever run, the process ends
// with Go's "fatal error: all goroutines are asleep - deadlock!" report and
// exit status 2. Called from a goroutine, it simply calls main_fn.
// main_fn: a lambda or other callable, or a function (run(real_main)).
template <class F>
[[gnu::always_inline]] inline int run(F&& main_fn) {
  using Fn = std::remove_reference_t<F>;
  if constexpr (std::is_function_v<Fn>) {
    // A function named as is (run(real_main)): run it through a pointer.
    Fn* fp = &main_fn;
    return run(fp);
  } else {
    return detail::run_callable<Fn>(&main_fn);
  }
}

// Lets other goroutines run (Go's runtime.Gosched): the caller waits
// behind every other goroutine runnable on its worker, in that worker's
// list of yielded goroutines, and runs again when the worker has nothing
// else to do, at the worker's 61st time slice, or when a slice has held the
// worker for 10 ms (a goroutine taken from runnext, as a ping-pong
// partner, continues its waker's slice). An idle worker takes half of a
// busy one's yielded goroutines, and workers even their lists out every
// 61 switches (Go puts them on its global queue instead; goro keeps them
// where they ran, so a yield writes no line another worker uses). On a
// plain thread, yields the CPU.
void yield();

// The most worker threads the runtime may make (Go's debug.SetMaxThreads;
// default 10,000). Threads run goroutines (maxprocs of them) and sit in
// goro::blocking sections (one each); a program that needs more, most
// likely goroutines piling up in blocking calls that never return, is
// stopped with Go's report ("runtime: program exceeds N-thread limit",
// "fatal error: thread exhaustion", the goroutine dump) and exit status 2
// rather than left to exhaust the machine. A limit below the threads the
// program has already ends it the same way at once, as Go's. Returns the
// previous limit; n < 1 only queries it.
int set_max_threads(int n);

// A safe point for long computations: yields (as yield()) only if the
// scheduler has asked the running goroutine to, because it has held its
// worker for 10 ms while other goroutines wait; otherwise it costs a load.
// goro cannot preempt C++ code (design.md explains why), so a loop that
// computes for long without a channel operation, go(), sleep or other
// runtime call should call it now and then to let others run, as Go code
// before Go 1.14 had to:
//
//   for (auto& row : rows) {
//     crunch(row);
//     goro::preempt_point();
//   }
//
// send, recv (and a range-for), select (also one that finds a case ready
// or takes its default) and go() check the same request when they return;
// try_send and try_recv never switch goroutines.
void preempt_point();

// The running goroutine's id (ids count up from 1 over the whole process:
// the first run()'s main goroutine is 1, as in Go); 0 on a plain OS thread.
uint64_t goroutine_id();

// Number of goroutines that exist now: running, runnable or blocked
// (Go's runtime.NumGoroutine). Counted without stopping anyone: while
// goroutines start and end it may miss some of them, but is never
// negative.
int64_t num_goroutine();

// GOMAXPROCS: how many goroutines may run at once (the number of Ps,
// not counting goroutines inside goro::blocking). Defaults to the number of CPUs, or $GORO_MAXPROCS.
int maxprocs();

// Sets maxprocs to n and returns the previous value; n < 1 only queries
// (as runtime.GOMAXPROCS); n above 512 is taken as 512. Lowering it takes
// effect at the running goroutines' next scheduling point or safe point
// (preempt_point, a channel operation, go()): the monitor asks those on
// workers beyond the new value to yield.
int set_maxprocs(int n);

// Default stack size for new goroutines, in bytes (rounded up to whole
// pages, at least 16 KiB). Returns the previous value. $GORO_STACK_SIZE
// sets it at start-up. Only virtual address space is reserved up front.
// Throws std::invalid_argument above 1 TiB.
std::size_t set_default_stack_size(std::size_t bytes);

// Gives the memory of goroutine stacks that are free now back to the
// operating system (Go's debug.FreeOSMemory, for stacks), and the buffers
// of destroyed big channels (1 MiB or more) that the runtime keeps for the
// next big channel, and hands the small records it keeps for reuse
// (context nodes, unbuffered channels) back to malloc: after a burst of
// many goroutines, resident memory drops to what the live ones use (plus
// up to 64 cached stacks per worker). The runtime also does this by itself for memory that stays
// unused for 5 to 10 seconds ($GORO_SCAVENGE_MS sets the period, in
// milliseconds). Reused stacks cost a page fault again on their first use.
//
//   for (int i = 0; i < 1'000'000; i++) goro::go(handle, i);  // a burst
//   ...                                                      // all done
//   goro::free_os_memory();  // VmRSS back down at once
void free_os_memory();

// ---- plain threads and the deadlock check --------------------------------
//
// goro reports "fatal error: all goroutines are asleep - deadlock!" (exit
// status 2) only when it can prove that nothing will ever wake a goroutine.
// A plain OS thread that is not blocked in goro (a logger, a watchdog, a
// library's worker thread) might still send on a channel or call done(), so
// while one exists the check cannot conclude and reports nothing. If every
// goroutine then stays asleep for 10 s ($GORO_DEADLOCK_GRACE_MS, in
// milliseconds; 0 turns it off), goro prints a warning naming those
// threads, once, and keeps running:
//
//   goro: all goroutines have been asleep for 10.0 s, but these threads
//   could still wake one, so no deadlock is reported:
//     thread 4242 (logger)
//   ...
//
// ignore_thread_in_deadlock_check() declares the calling thread as one that
// never wakes a goroutine: the check then counts it as blocked forever, so
// a deadlock is reported even while it runs. The promise: from now until it
// exits, the thread does nothing that could release a goroutine or a thread
// blocked in goro. It never sends on or closes a channel, never calls
// done(), never starts a goroutine, and never starts a thread that might do
// any of these. Declaring a thread that breaks the promise can make goro
// report a deadlock that is not one, and end the process.
//
//   std::thread logger([&] {
//     goro::ignore_thread_in_deadlock_check();  // it only writes log lines
//     for (;;) {
//       flush_log();
//       std::this_thread::sleep_for(1s);
//     }
//   });
//
// The declaration ends when the thread exits. From a goroutine it does
// nothing (the worker threads are the runtime's own). Never blocks.
void ignore_thread_in_deadlock_check();

// The same for another thread of this process, named by its Linux thread id
// (what gettid() returns in that thread; the numbers under /proc/self/task,
// whose `comm` file gives each thread's name): for threads you did not
// start, like a library's timer thread. Returns false if the process has no
// thread with that id. The declaration ends when that thread exits: a later
// thread given the same id is not covered.
//
//   // a library's thread named "grpc_global_tim":
//   for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
//     std::ifstream comm(task.path() / "comm");
//     std::string name;
//     if (std::getline(comm, name) && name == "grpc_global_tim")
//       goro::ignore_thread_in_deadlock_check(std::stoi(task.path().filename()));
//   }
bool ignore_thread_in_deadlock_check(int tid);

namespace detail {
void enter_blocking();
void exit_blocking();
}  // namespace detail

// Runs fn() as a declared blocking section: a blocking system call or C
// library call that does not know about goroutines (a read() on a pipe,
// a DNS lookup, a database driver's synchronous call). While it blocks, the
// monitor hands the worker's other goroutines, and its place among the
// maxprocs, to another worker, so nothing queued behind the call is
// starved (Go's entersyscall/exitsyscall). Returns fn's result; exceptions
// pass through. On a plain thread it just calls fn.
//
//   ssize_t n = goro::blocking([&] { return ::read(fd, buf, sizeof buf); });
template <class F>
decltype(auto) blocking(F&& fn) {
  struct guard {
    guard() { detail::enter_blocking(); }
    ~guard() { detail::exit_blocking(); }
  } g;
  return std::forward<F>(fn)();
}

}  // namespace goro
