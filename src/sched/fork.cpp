// fork(): a child may only exec (or _exit), as in Go.
//
// fork() copies the calling thread alone. In a child forked after the
// runtime started, the workers and the monitor are gone, along with every
// goroutine they were running (its registers with them), and any runtime
// lock one of those threads held stays locked forever. Reinitializing the
// runtime there cannot be made sound: a goroutine that was running on
// another worker cannot be resumed, and the data it was changing under a
// lock is half-written. So, like Go (whose syscall.ForkExec runs nothing
// of the runtime between fork and exec), goro supports fork only to exec;
// a child that calls into goro gets a clear fatal error instead of the
// hang it would otherwise get (its goroutines would never be run, its
// blocked threads never woken).
//
// How (no cost on the hot paths):
//  - runtime_start(), the slow path of ensure_runtime(), registers
//    on_fork_child with pthread_atfork before the runtime starts. Forks
//    before that are unaffected: such a child starts a runtime of its own.
//  - on_fork_child (run in the child, by its only thread, before fork()
//    returns there) sets g_forked_child (base/check.hpp), clears
//    sched.started, so that every entry through ensure_runtime() (go, run,
//    after, maxprocs) comes back here and fails, and clears the thread's
//    current M: a worker that forked (a goroutine called fork()) is a
//    plain thread in the child, so its goroutine's further runtime calls
//    take the plain-thread paths below instead of the scheduler's.
//  - Those slow paths check g_forked_child: a plain thread about to block
//    (current_waiter: channels, select, wait_group, run), a wake-up from a
//    plain thread (ready: a goroutine would go to the global queue, a
//    thread waiter is the parent's thread), a goroutine returning in the
//    child (g_main has no M to exit to), and a contended runtime lock
//    (its holder is gone).
// What stays unchecked, because it would cost the hot paths a load: an
// operation that neither blocks nor wakes anyone (a send into a buffered
// channel with room, a try_recv) may still appear to work in the child;
// nothing promises it. sleep_for in the child sleeps the thread, as on
// any plain thread.
#include <pthread.h>

#include <cstdlib>
#include <mutex>

#include "base/check.hpp"
#include "sched/sched.hpp"

namespace goro::detail {

namespace {

void on_fork_child() {
  g_forked_child.store(true, std::memory_order_relaxed);
  sched.started.store(false, std::memory_order_relaxed);
  set_current_m(nullptr);
}

}  // namespace

void runtime_start() {
  check_not_forked_child();
  // Registered before the runtime starts, so that no fork can come between
  // the start and the registration.
  static std::once_flag registered;
  std::call_once(registered, [] {
    GORO_CHECK(pthread_atfork(nullptr, nullptr, on_fork_child) == 0);
    // exit() while a report runs (check.hpp's process_dying) waits for it.
    GORO_CHECK(std::atexit([] {
                 if (process_dying()) wait_for_dying_report();
               }) == 0);
    note_process_exiting_at_exit();
  });
  runtime_init();
}

}  // namespace goro::detail
