// Seams for white-box tests: a test sets one to stop the runtime at a
// chosen point, so that a race it needs happens on every run instead of
// once in a thousand (Go's runtime hands its tests such seams through
// export_test.go). Declarations only, so that tests may include this
// header without the runtime's structures.
//
// Every seam is null outside tests, and each costs one relaxed load where
// it sits, on paths that are already slow (an M going idle). A seam runs
// on the runtime's thread with the locks named in its comment held: it
// must not call into goro, only wait for a test thread that does.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail::test_hooks {

// stop_m (sched/proc.cpp), no lock held: an M without a P, about to go
// idle.
extern std::atomic<void (*)()> stop_m_enter;

// stop_m (sched/proc.cpp), no lock held: the M that polled for the idle
// ones has come back from the poll (a ready fd, its deadline, or a break:
// startm handed it a P).
extern std::atomic<void (*)()> stop_m_after_poll;

// The monitor (sched/sysmon.cpp) does not poll while set, so that a test
// sees a goroutine whose fd is ready stay unwoken when no worker polls
// (the monitor's poll, 10 ms after the last, would hide it).
extern std::atomic<bool> monitor_poll_off;

// stop_m (sched/proc.cpp), sched.lock held, when the idle M takes or keeps
// the timed sleeper's role: just before it reads the Ps' earliest timers,
// and just after, with what it read (INT64_MAX: none).
extern std::atomic<void (*)()> stop_m_before_timer_read;
extern std::atomic<void (*)(int64_t next)> stop_m_after_timer_read;

// The deadlock check's thread listing (sched/deadlock.cpp scan_threads),
// the thread registry's lock held: after it has read whether the plain
// thread `tid` is parked in goro.
extern std::atomic<void (*)(int tid, bool parked)> deadlock_scan_saw_thread;

// The dump's snapshot of a parked goroutine (sched/traceback.cpp), no
// lock held: after it checked the goroutine parked and before it copies
// the stack from `sp` up.
extern std::atomic<void (*)(const void* sp)> dump_before_stack_copy;
// Makes the dump copy stacks as where process_vm_readv is refused
// (seccomp, qemu-user), or not.
void dump_force_no_kernel_copy(bool on);

// timers_run (time/timers.cpp), no lock held: a popped timer (not a
// sleep) about to fire, on the worker that popped it; with the timer's arg
// (an after() channel's timer: its hchan).
extern std::atomic<void (*)(const void* arg)> timer_about_to_fire;
// A receive on an after() channel (chan/after.cpp after_run_if_due) that
// found its timer popped by a worker and waits for that fire's send: each
// round of the wait, with the channel.
extern std::atomic<void (*)(const void* c)> after_waits_for_fire;

// An after_func's timer firing (time/gotimer.cpp fire), on a worker's
// scheduler stack, no lock held: just after it started the goroutine that
// runs the function.
extern std::atomic<void (*)()> after_func_started;
// Set: a channel timer's virtual sender cannot be allocated (gotimer.cpp,
// virtual_sender_locked), as when memory has run out.
extern std::atomic<bool> timer_sudog_alloc_fails;

// A select's pass 2 (select/select.cpp), no lock held: at the start of
// each round, before it takes the channels' locks.
extern std::atomic<void (*)()> select_pass2_round;

// goro::num_goroutine (sched/proc.cpp), no lock held, on the caller's
// thread: after it read the plain threads' count of goroutines started,
// before the Ps' counts.
extern std::atomic<void (*)()> num_goroutine_after_first_read;

// goro::trace::stop (sched/trace.cpp), in its blocking section, no lock
// held: before it writes the file.
extern std::atomic<void (*)()> trace_before_write;
// A thread's first trace event registering its buffer (sched/trace.cpp
// register_buf), the buffer registry's lock held.
extern std::atomic<void (*)()> trace_registering_buffer;
// A plain thread's first block registering its waiter record
// (sched/deadlock.cpp thread_waiter_register), the thread registry's lock
// held.
extern std::atomic<void (*)()> thread_waiter_registering;
// A plain thread's first wait for an fd looking for a free waker
// (netpoll/netpoll.cpp this_thread_waker), the waker pool's lock held.
extern std::atomic<void (*)()> waker_pool_locked;
// The lock-order check recording a lock taken (sync/lock_order.cpp
// lock_order_acquired), its detector's spinlock held.
extern std::atomic<void (*)()> lock_order_recording;

// A new slab of g records joining the list of every g (sched/spawn.cpp
// publish_slab), the allgs lock held: a test raises a fatal error here to
// check that its goroutine dump, which walks that list, still comes out.
extern std::atomic<void (*)()> g_list_locked;

// A weighted_semaphore handing units to a waiter (xsync/semaphore.cpp
// notify_waiters_locked), its mutex held: after it closed the waiter's
// channel and took it off the list.
extern std::atomic<void (*)()> semaphore_handed_over;

// A cancellation (context/context.cpp ctx_cancel_tree) after it published
// its node, before it drops the references it took to the children it
// detached: a test drops a child's last handle here, so that the
// canceller's release is the last.
extern std::atomic<void (*)()> ctx_cancel_before_release;

// How many times a release on a scheduler stack walked a context's chain
// to see whether freeing it may block (context/context.cpp
// release_off_scheduler). Relaxed.
extern std::atomic<uint64_t> ctx_chain_walks;

// A cancellation's publish (context/context.cpp), on the canceller's
// thread: after it stored the node's err, before it closes the done
// channel someone made.
extern std::atomic<void (*)()> ctx_publish_before_close;

// A goroutine's escaped exception (sched/crash.cpp on_terminate), on the
// throwing thread: the process is marked dying, the report not begun.
extern std::atomic<void (*)()> panic_report_starting;

// goro-signal's dispatch (signal/relay.cpp), no lock held: after it took
// the contexts a signal cancels, before it cancels them.
extern std::atomic<void (*)()> signal_dispatch_unlocked;

// While set, growing a P's timer queue or heap (time/timers.cpp) throws
// std::bad_alloc, as when memory runs out.
extern std::atomic<bool> timer_grow_fails;

// Called by a plain thread waiting in wait_fd (netpoll_wait_thread) after
// its check for closing and before it polls.
extern std::atomic<void (*)()> thread_wait_before_ppoll;

// Counts the plain-thread waits (netpoll_wait_thread) that had no eventfd
// of their own (none could be made: out of descriptors).
extern std::atomic<int> thread_waits_without_eventfd;

// goro::net's set_deadline (net/net.cpp), no lock held: before it hands
// one direction's deadline to the poller.
extern std::atomic<void (*)()> net_set_deadline_before_poller;

// Set: the stack pool's free lists cannot grow (as if realloc failed), so
// mapping a new chunk of stacks throws goro::resource_error.
extern std::atomic<bool> stack_lists_grow_fails;

// Sets every P's switch count (p::schedtick) to `tick`, as after that
// many switches (the tests of counts past 2^32).
void set_schedticks(uint64_t tick);

// The deadline the timed sleeper has published for wake_for_timer
// (time/timers.cpp), INT64_MAX if none: a timer added before it is
// either seen by the sleeper or kicks it.
int64_t timed_sleep_until();

// The earliest deadline of every P's timers, INT64_MAX if none (what the
// timed sleeper reads).
int64_t earliest_timer();

}  // namespace goro::detail::test_hooks
