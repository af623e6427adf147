// The monitor (Go's sysmon): a background thread, holding no P, that
//  - notices a P whose goroutine has run for more than 10 ms without a
//    scheduling point while the goroutines queued on that P have not moved,
//    or has sat in goro::blocking for more than 20 us while others wait on
//    that P (or no other worker is free),
//    and hands the P's queued goroutines and its place among the maxprocs
//    to a fresh worker (handoff_detached);
//  - wakes a worker when a timer is overdue and nobody is looking;
//  - polls the fds when goroutines wait for them and nobody has polled
//    for 10 ms (netpoll/netpoll.hpp);
//  - keeps the coarse clock used for wait-since stamps;
//  - prints the goroutine dump and exits when SIGQUIT came (crash.cpp);
//  - finishes the deadlock check that a worker going idle asked for, and
//    looks again every 100 ms while a run() waits (deadlock.cpp);
// (Giving unused stack pages back to the kernel is the scavenger's job,
// on a thread of its own, scavenger.cpp: a madvise can take milliseconds,
// and no round here may wait for one.)
// Goroutines are never preempted in the middle of C++ code: the detached
// goroutine keeps running on its M, and its P is given back when it next
// reaches the scheduler (proc.cpp: over-budget check).
//
// It polls every 20 us while it has something to do, backing off to 10 ms
// after 50 quiet rounds (as Go's sysmon does).
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include <cstring>

#include "base/check.hpp"
#include "base/debug_env.hpp"
#include "netpoll/netpoll.hpp"
#include "sched/sched.hpp"
#include "sched/sysmon.hpp"
#include "sched/thread_locks.hpp"
#include "sched/test_hooks.hpp"

namespace goro::detail {

// On a line of its own: every worker reads it each round, and the
// monitor's counters beside it would be written every round.
alignas(64) std::atomic<bool> g_idle_p_timers_overdue{false};

namespace {

// Completed rounds (sysmon_rounds). Relaxed: a statistic, it orders nothing.
std::atomic<uint64_t> g_rounds{0};
std::atomic<uint64_t> g_timer_rescues{0};  // relaxed: as g_rounds

constexpr int64_t kForcePreemptNs = 10'000'000;  // a goroutine running longer starves its P
constexpr int64_t kBlockingNs = 20'000;          // a blocking section longer hands its P off
constexpr int64_t kPollStaleNs = 10'000'000;     // the monitor polls fds when nobody has for longer

// Goroutines queued on the P, or its timers overdue by a millisecond (a
// sleeper whose wake-up waits for the P's goroutine to stop computing).
bool has_local_work(p* pp, int64_t now) {
  return !runq_empty(pp) || pp->timer0_when.load(std::memory_order_relaxed) < now - 1'000'000;
}

// Goroutines wait in the global queue and no worker is free to take them:
// every allowed P is held and nobody is spinning. (A goroutine stuck in a
// blocking call it did not declare, a join() say, holds the only P.)
bool global_work_starving() {
  return sched.runq_size.load(std::memory_order_relaxed) > 0 &&
         sched.nmspinning.load(std::memory_order_relaxed) == 0 &&
         p_active_count() >= sched.maxprocs.load(std::memory_order_relaxed) +
                                 sched.ndetached.load(std::memory_order_relaxed);
}

// Timers overdue by a millisecond on a P that no worker may take (idle
// while every allowed P is held: maxprocs was lowered, or a grant ended).
// Only a busy P's scheduling round runs them (find_runnable), so while
// every allowed P computes they count as work for each (Go moves a dropped
// P's timers to a live one, whose overdue timers then get it preempted).
// One pass over the Ps per monitor round.
bool idle_p_timers_starving(int64_t now) {
  if (p_active_count() < sched.maxprocs.load(std::memory_order_relaxed) +
                             sched.ndetached.load(std::memory_order_relaxed))
    return false;  // an idle P may be taken: the timed sleeper runs them
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) {
    p* pp = p_for_index(i);
    // A detached P is running, but its goroutine computes on without a
    // scheduling round (that is why it was detached): its timers are as
    // stranded as an idle P's (a review, 2026-12-07: a sleeper on it
    // slept for seconds past its deadline while the other Ps computed).
    if ((pp->status.load(std::memory_order_relaxed) != p_status::running ||
         pp->detached.load(std::memory_order_relaxed)) &&
        pp->timer0_when.load(std::memory_order_relaxed) < now - 1'000'000)
      return true;
  }
  return false;
}

// What a detached P's goroutine readies or starts after the hand-off (a
// wait_group::done, a mutex unlock, a go()) lands in that P's own queue,
// which its goroutine, computing, never serves, and which a worker steals
// from only when it has nothing to run: with every other P computing too,
// nobody did (a review, 2026-12-07: a goroutine readied so waited 3 s,
// until its waker stopped). Moves it to the global queue, where the check
// below sees it starving and asks the other Ps to yield (or detaches
// another, within the limit). Returns true if it moved any.
bool rescue_detached_queues() {
  bool moved = false;
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) {
    p* pp = p_for_index(i);
    if (!pp->detached.load(std::memory_order_relaxed) || runq_empty(pp)) continue;
    {
      // Under sched.lock, as handoff_detached: goroutines between the
      // ring and the global queue would be in no queue for the deadlock
      // check; and the P is still detached (its goroutine has not come
      // back to the scheduler, which clears the flag under this lock).
      lock_guard lk(sched.lock);
      if (pp->detached.load(std::memory_order_relaxed) && runq_drain_to_global_locked(pp) > 0) moved = true;
    }
  }
  if (moved) wakep();  // a P may be free (a goroutine parked meanwhile)
  return moved;
}

// $GORO_DEBUG=detachoff=1: never hand off a computing goroutine's P.
// Read at first use; tests change it with sysmon_set_detach_off (-1: not
// read yet).
std::atomic<int> g_detach_off{-1};

bool detach_off() {
  int off = g_detach_off.load(std::memory_order_relaxed);
  if (off < 0) {
    off = debug_setting("detachoff", 0) != 0 ? 1 : 0;
    int unread = -1;
    if (!g_detach_off.compare_exchange_strong(unread, off, std::memory_order_relaxed)) off = unread;
  }
  return off != 0;
}

// Returns true if it handed a P off.
bool retake(int64_t now) {
  bool handed = rescue_detached_queues();
  const bool stranded_timers = idle_p_timers_starving(now);
  if (g_idle_p_timers_overdue.load(std::memory_order_relaxed) != stranded_timers)
    g_idle_p_timers_overdue.store(stranded_timers, std::memory_order_relaxed);
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) {
    p* pp = p_for_index(i);
    if (pp->status.load(std::memory_order_relaxed) != p_status::running ||
        pp->detached.load(std::memory_order_relaxed))
      continue;
    // A goroutine has held the P for 10 ms, and the goroutines queued behind
    // it have not moved meanwhile (no other worker stole them), or work in
    // the global queue has no free worker: they are starving. (A P whose queue others keep draining, like a goroutine
    // spawning a million others, is not helped by one more thread.)
    uint32_t tick = pp->schedtick.load(std::memory_order_relaxed);
    uint32_t head = pp->q.head.load(std::memory_order_relaxed);
    g* next = pp->q.runnext.load(std::memory_order_relaxed);
    // A goroutine that loops short blocking sections keeps its P the
    // same way (its count stands still too), but is inside a section at
    // almost every look, where it cannot be asked to yield, and its
    // syscalltick moves at every look, which kept the hand-off below from
    // ever coming (found by a review, 2026-12-06: a goroutine queued
    // behind it waited seconds). As Go's sysretake: a P whose goroutines
    // have not moved for kForcePreemptNs is handed off from its blocking
    // section whatever its syscalltick says.
    bool sysretake = false;
    if (tick != pp->sysmon_tick || head != pp->sysmon_head || next != pp->sysmon_next) {
      pp->sysmon_tick = tick;
      pp->sysmon_head = head;
      pp->sysmon_next = next;
      pp->sysmon_when = now;
    } else if (now - pp->sysmon_when > kForcePreemptNs &&
               (has_local_work(pp, now) || global_work_starving() || stranded_timers)) {
      if (pp->blocking_m.load(std::memory_order_acquire) != nullptr) {
        sysretake = true;  // handed off below, from its section
      } else if (!pp->preempt.load(std::memory_order_relaxed)) {
        // First ask the goroutine to yield at its next safe point (a
        // channel operation, go(), goro::preempt_point()): that keeps
        // maxprocs. Only a goroutine that computes 10 ms more without one
        // gets its P's work handed to an extra P, and only maxprocs such
        // grants at a time: threads stay bounded (maxprocs running + that
        // many computing + those in blocking sections), and goroutines
        // queued behind more computing goroutines than that wait, as in
        // Go before 1.14 (design.md, section 2).
        pp->preempt.store(true, std::memory_order_relaxed);
        handed = true;  // poll fast until it answers
      } else if (now - pp->sysmon_when > 2 * kForcePreemptNs && !detach_off() &&
                 sched.ndetached.load(std::memory_order_relaxed) < sched.maxprocs.load(std::memory_order_relaxed)) {
        handoff_detached(pp);
        handed = true;
        continue;
      }
    }
    // A slice that has held the P for 10 ms while goroutines wait in the
    // global queue with no free worker, or in the P's own yield list: a
    // ping-pong pair's, whose switches keep the counts above moving (each
    // takes the other from runnext and continues the slice). Asked to
    // yield as a computing goroutine is; its partner, parked, waits for
    // it, so the waiting goroutines get the P. (Before, a pair beside a
    // goroutine that computes between safe points had the P for 61
    // switches, the other for 10 ms.)
    // And a P beyond a lowered maxprocs: the goroutine yields at its next
    // safe point and its worker gives the P back (release_p_if_over_budget;
    // before, goroutines that never blocked kept running on it).
    const uint32_t slice = pp->slicetick.load(std::memory_order_relaxed);
    if (slice != pp->sysmon_slicetick) {
      pp->sysmon_slicetick = slice;
      pp->sysmon_slicewhen = now;
    } else if (pp->blocking_m.load(std::memory_order_relaxed) == nullptr && !pp->preempt.load(std::memory_order_relaxed) &&
               ((now - pp->sysmon_slicewhen > kForcePreemptNs &&
                 (global_work_starving() || pp->q.yield_len.load(std::memory_order_relaxed) > 0)) ||
                p_active_count() > allowed_p())) {
      pp->preempt.store(true, std::memory_order_relaxed);
      handed = true;  // poll fast until it answers
    }
    if (m* bm = pp->blocking_m.load(std::memory_order_acquire)) {
      uint32_t st = pp->syscalltick.load(std::memory_order_relaxed);
      // (Idle Ps beyond the budget free nobody: counting them kept a
      // section from being handed off after a grant had ended.)
      bool others_free = sched.nmspinning.load(std::memory_order_relaxed) > 0 || idle_p_takeable();
      if (st != pp->sysmon_syscalltick) {
        pp->sysmon_syscalltick = st;
        pp->sysmon_syscallwhen = now;
        // A new section, seen first. If handing the P off would help (the
        // same test as below), watch it: the next round comes in 20 us
        // and hands the P off if the section is still on. Without this
        // the monitor, its rounds backed off to 10 ms while nothing
        // happened, saw a new section at each round of a goroutine that
        // loops 5 ms sections and never handed its P off (a review,
        // 2026-12-07: four computing goroutines used 1.0 of 2 CPUs beside
        // it; Go 1.5). Sections that keep ending before the next round
        // are too short to hand off: after 8 such in a row the monitor
        // backs off as before, until it hands this P off again or 10 ms
        // have passed (the goroutine may have gone on to longer sections,
        // which a monitor backed off to 10 ms would never see twice).
        if (pp->sysmon_short_sections >= 8 && now - pp->sysmon_short_since > kForcePreemptNs)
          pp->sysmon_short_sections = 0;
        if (pp->sysmon_short_sections == 0) pp->sysmon_short_since = now;
        if (pp->sysmon_watching && pp->sysmon_short_sections < UINT8_MAX) pp->sysmon_short_sections++;
        pp->sysmon_watching = pp->sysmon_short_sections < 8 && (has_local_work(pp, now) || !others_free);
        if (pp->sysmon_watching) handed = true;  // poll fast
        if (!sysretake) continue;
      }
      pp->sysmon_watching = false;
      // As Go's retake: hand off if there is work for the P, or nobody else
      // is free to pick up new work, or the call has gone on for long.
      if ((sysretake || (now - pp->sysmon_syscallwhen > kBlockingNs &&
                         (has_local_work(pp, now) || !others_free || now - pp->sysmon_syscallwhen > kForcePreemptNs))) &&
          pp->blocking_m.compare_exchange_strong(bm, nullptr, std::memory_order_acq_rel)) {
        // The P is ours now; its M learns it at the section's end.
        pp->sysmon_short_sections = 0;
        handoff_taken(pp);
        handed = true;
      }
    }
  }
  return handed;
}

void* sysmon_main(void* started) {
  prctl(PR_SET_NAME, "goro-sysmon", 0, 0, 0);
  // 1 us of timer slack, as the workers have (m_thread_main): with the
  // default 50 us, inherited from the thread that started the runtime, a
  // "20 us" round took up to 70 us, and a P held by a 200 us blocking
  // section was handed off late in it (sched/blocking_beside w5_s200_b2:
  // 5,915 -> 4,053 ns per item, 1.26 -> 1.67 CPUs; Go 4,200).
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  runtime_thread_register(static_cast<int>(syscall(SYS_gettid)));
  static_cast<note*>(started)->wake();
  int64_t delay_us = 20;
  int64_t sleep_us = delay_us;
  int idle = 0;
  for (;;) {
    struct timespec ts{0, sleep_us * 1000};
    nanosleep(&ts, nullptr);
    int64_t now = nanotime();
    sched.coarse_now.store(now, std::memory_order_relaxed);
    bool acted = retake(now);
    // Goroutines wait for fds and nobody has polled for 10 ms (every
    // worker busy, none idle in epoll_wait): poll, and queue what is ready
    // on the global queue (Go's sysmon does the same).
    if (netpoll_waiters() > 0 && !netpoll_blocked() && now - netpoll_last_poll() > kPollStaleNs &&
        !test_hooks::monitor_poll_off.load(std::memory_order_relaxed)) {
      int32_t n = 0;
      if (g* list = netpoll(0, &n)) {
        netpoll_count_monitor(n);
        inject_glist(list, n);
        acted = true;
      }
    }
    // An overdue timer with no worker looking: wake one.
    int64_t next = timers_next_when();
    if (next < now - 1'000'000 && sched.nmspinning.load(std::memory_order_relaxed) == 0) {
      g_timer_rescues.fetch_add(1, std::memory_order_relaxed);
      wakep();
      acted = true;
    }
    // Stopped timers left on the heaps as zombies (time/timer.hpp): drop
    // them once they may be half of a P's heap. A load per P otherwise.
    timers_reap_all(false);
    // The deadlock check: its thread listing, when a worker going idle
    // asked for it, and now and then while a run() waits (for when the last
    // to block was a plain thread). At most one listing per 100 ms, with no
    // lock held (deadlock.cpp).
    deadlock_monitor_check(now);
    sigquit_poll();
    g_rounds.fetch_add(1, std::memory_order_relaxed);
    if (acted) {
      idle = 0;
      delay_us = 20;
    } else if (++idle > 50) {
      delay_us = std::min<int64_t>(delay_us * 2, 10'000);
    }
    // A timer falls due before the next round while goroutines run: wake
    // then, so that coarse_now passes it in time. A busy P switches
    // straight from goroutine to goroutine and reads the clock only at
    // every 16th switch (direct_successor, proc.cpp); between those it
    // compares its first timer with coarse_now. Goroutines that compute
    // for milliseconds between switches left a due timer waiting up to 16
    // such slices (found by a review, 2026-12-07: a 1 ms sleep 95 ms late
    // behind 20 computing goroutines, Go 21-39 ms). No sooner than 1 ms,
    // so that a flood of short timers costs the monitor at most a
    // thousand rounds a second; idle Ps wait for their timers in the
    // poller and need none of this.
    // A timer already due (the monitor's own sleep overshot it, and the
    // busy P has not reached a switch yet) keeps the rounds at 1 ms too.
    // A timer armed while the monitor sleeps its longest (10 ms) is seen
    // at the next round.
    sleep_us = delay_us;
    if (next != INT64_MAX && p_active_count() > 0) {
      const int64_t until_us = next > now ? (next - now + 999) / 1000 : 0;
      sleep_us = std::min<int64_t>(delay_us, std::max<int64_t>(until_us, 1000));
    }
  }
  return nullptr;
}

}  // namespace

void sysmon_set_detach_off(bool off) { g_detach_off.store(off ? 1 : 0, std::memory_order_relaxed); }

uint64_t sysmon_rounds() { return g_rounds.load(std::memory_order_relaxed); }

uint64_t sysmon_timer_rescues() { return g_timer_rescues.load(std::memory_order_relaxed); }

void start_runtime_thread(void* (*thread_main)(void* started_note), size_t stack_bytes, const char* what) {
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, stack_bytes);
  note started;
  int err = pthread_create(&t, &attr, thread_main, &started);
  pthread_attr_destroy(&attr);
  if (err != 0) fatal("runtime: cannot start the %s thread (%s)", what, strerror(err));
  // Wait until it has registered as a runtime thread: until then the
  // deadlock detector would take it for a user thread that might act.
  started.sleep();
}

void sysmon_start() {
  // 1 MiB, as the workers have (only touched pages are committed): the
  // monitor may run the deadlock check, whose goroutine dump unwinds and
  // symbolizes stacks with libdw, which needed more than 256 KiB under TSan.
  start_runtime_thread(sysmon_main, 1 << 20, "monitor");
}

}  // namespace goro::detail

namespace goro::detail {

void enter_blocking() {
  m* mp = current_m();
  if (mp == nullptr || mp->curg == nullptr) return;
  g* gp = mp->curg;
  if (gp->blocking_depth > 0) [[unlikely]] {
    if (gp->blocking_depth == INT16_MAX) fatal("goro: blocking sections nested %d deep", INT16_MAX);
    gp->blocking_depth++;
    return;
  }
  gp->blocking_depth = 1;
  p* pp = mp->pp;
  pp->syscalltick.store(pp->syscalltick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // release: sysmon reads the tick after seeing blocking_m. From here on
  // the monitor may take the P; this M reads it only through the CAS in
  // exit_blocking (owned_p() is null inside the section).
  pp->blocking_m.store(mp, std::memory_order_release);
  // Goroutines queued here (one this goroutine just readied, say) must not
  // wait out the call: with a P free, a spinning worker takes them (its
  // look sees this P's switch count stand still). Otherwise the monitor
  // takes the P after kBlockingNs and hands it to another worker.
  if (!runq_empty(pp) && wakep_may_help()) wakep();
}

void exit_blocking() {
  m* mp = current_m();
  if (mp == nullptr || mp->curg == nullptr) return;
  if (--mp->curg->blocking_depth > 0) return;
  p* pp = mp->pp;
  m* self = mp;
  // acq_rel: pairs with the monitor's CAS (sysmon.cpp retake).
  if (pp->blocking_m.compare_exchange_strong(self, nullptr, std::memory_order_acq_rel)) {
    pp->syscalltick.store(pp->syscalltick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    // A P granted extra for a computing goroutine (detached) is given
    // back at the goroutine's next pass through the scheduler: this one.
    // And a goroutine the monitor asked to yield (p::preempt, set while
    // it was between two sections) does so here, at the section's end, as
    // Go's exitsyscall re-arms the preemption request.
    if (pp->detached.load(std::memory_order_relaxed) || pp->preempt.load(std::memory_order_relaxed)) {
      check_thread_locks_at_park(mp->curg, wait_reason::none);  // debug builds only
      mcall_on(mp, m_action::preempted, nullptr, nullptr);
    }
    return;
  }
  // The monitor took the P while the call blocked: get one back, or wait
  // for one (Go's exitsyscall), so that at most maxprocs goroutines run
  // goroutine code.
  mp->pp = nullptr;
  reacquire_p(mp);
}

}  // namespace goro::detail
