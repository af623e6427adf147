// The scheduler: worker threads (M), processors (P), the scheduling loop,
// spinning and parking of idle workers. Design in sched.hpp and
// docs/design.md; the model is Go's src/runtime/proc.go.
//
// The loop each M runs on its own stack (g0):
//
//   find_runnable:  every 61st round other Ps' timers overdue by 0.1 ms
//                   (an unowned idle P's as soon as due), then the global
//                   queue first (fairness); expired timers of this P;
//                   runnext and the local ring;
//                   the global queue; expired timers of every P; then, as a
//                   spinning M, four rounds of stealing half of a random
//                   victim's ring (runnext too in the last round); then
//                   give up the P and sleep on the M's futex note.
//   execute:        switch to the goroutine (binding a stack on first run).
//   after_switch:   the goroutine came back (park / yield / exit): do what
//                   it asked on this stack, where it is safe to publish it.
//   direct switch:  a goroutine that stops switches straight to the next
//                   one of its P's queue when the loop has nothing else to
//                   do (direct_successor); that goroutine runs the
//                   after_switch of the one before it (finish_switch).
//
// Invariants:
//  - An M holds at most one P; a P is held by at most one M (p.owner).
//  - npactive (Ps held) <= maxprocs + ndetached, except briefly after a
//    detached goroutine returns or maxprocs shrinks: the next find_runnable
//    of any M over budget gives its P back.
//  - nmspinning counts Ms with spinning == true.
//  - An idle M is on sched.midle with idle == true; whoever takes it off
//    sets idle = false and nextp under sched.lock, then wakes its note.
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "base/check.hpp"
#include "base/prefetch.hpp"
#include "base/race.hpp"
#include "netpoll/netpoll.hpp"
#include "sched/eh_state.hpp"
#include "sched/sched.hpp"
#include "sched/trace.hpp"
#include "sched/stack.hpp"
#include "sched/sysmon.hpp"
#include "sched/test_hooks.hpp"
#include "sched/thread_locks.hpp"
#include "sync/mutex_bias.hpp"
#include "time/rec_slab.hpp"

namespace goro::detail {

// constinit: runtime_init may run from another file's global constructor,
// before this file's would run; a dynamic initializer would then wipe it.
constinit sched_t sched;

uint64_t fastrand(uint64_t* state) {
  // wyrand: one multiply, passes BigCrush, good enough for victim order.
  *state += 0xa0761d6478bd642fULL;
  __uint128_t t = static_cast<__uint128_t>(*state) * (*state ^ 0xe7037ed1a0b428dbULL);
  return static_cast<uint64_t>(t >> 64) ^ static_cast<uint64_t>(t);
}

p* p_for_index(int32_t i) { return sched.allp[i].load(std::memory_order_acquire); }

namespace {
std::atomic<int32_t> g_npactive_mirror{0};  // sched.npactive, readable without the lock
}  // namespace

int32_t p_active_count() { return g_npactive_mirror.load(std::memory_order_relaxed); }

int32_t allowed_p() {
  return sched.maxprocs.load(std::memory_order_relaxed) + sched.ndetached.load(std::memory_order_relaxed);
}

namespace {

// ---- P bookkeeping (sched.lock held) ------------------------------------

p* p_new_locked() {
  int32_t id = sched.nallp.load(std::memory_order_relaxed);
  if (id >= kMaxP) return nullptr;
  p* pp = new p();
  pp->id = id;
  pp->rand_state = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(id + 1);
  sched.allp[id].store(pp, std::memory_order_release);
  sched.nallp.store(id + 1, std::memory_order_release);
  stack_pool_add_p();  // its stack cache is out of other Ps' reach
  return pp;
}

void pidleput_locked(p* pp) {
  GORO_DCHECK(runq_empty(pp));
  // Over the budget (maxprocs was lowered, or a grant ended), the P may
  // stay idle for good: its free g records and stacks go back to the
  // global pools, as Go's procresize does for the Ps it destroys.
  if (sched.npactive > allowed_p()) p_caches_flush(pp);
  pp->status.store(p_status::idle, std::memory_order_relaxed);
  pp->owner = nullptr;
  pp->link = sched.pidle;
  sched.pidle = pp;
  sched.npidle.fetch_add(1, std::memory_order_relaxed);
  sched.npactive--;
  g_npactive_mirror.store(sched.npactive, std::memory_order_relaxed);
}

// An idle P, if the budget allows one more active P.
p* pidleget_locked() {
  if (sched.npactive >= allowed_p()) return nullptr;
  p* pp = sched.pidle;
  if (pp != nullptr) {
    sched.pidle = pp->link;
    sched.npidle.fetch_sub(1, std::memory_order_relaxed);
  } else {
    pp = p_new_locked();
    if (pp == nullptr) return nullptr;
  }
  pp->link = nullptr;
  pp->status.store(p_status::running, std::memory_order_relaxed);
  sched.npactive++;
  g_npactive_mirror.store(sched.npactive, std::memory_order_relaxed);
  return pp;
}

void acquirep(m* mp, p* pp) {
  mp->pp = pp;
  pp->owner = mp;
  // A request for the slice the P's last holder ran: a goroutine taken
  // from runnext now would inherit it (prepare_run clears it only when a
  // new slice begins) and yield once for nothing.
  if (pp->preempt.load(std::memory_order_relaxed)) pp->preempt.store(false, std::memory_order_relaxed);
}

// ---- M bookkeeping --------------------------------------------------------

void* m_thread_main(void* arg);

// Go's report for a program over its thread limit (checkmcount).
[[noreturn]] void thread_exhaustion(int32_t limit) {
  print_stderr("runtime: program exceeds %d-thread limit\n", limit);
  fatal_exit(2, "thread exhaustion");
}

void newm(p* pp, bool spinning) {
  int32_t id, count, limit = sched.max_threads.load(std::memory_order_relaxed);
  m* mp;
  {
    lock_guard lk(sched.lock);
    count = ++sched.mcount;
    id = sched.mnext++;
    mp = sched.mfree;
    if (mp != nullptr) sched.mfree = mp->link;
    sched.mwake_gen++;
  }
  // As Go: a program that needs this many threads (goroutines stuck in
  // blocking sections, most likely) is better stopped with a report than
  // left to exhaust the machine, or to stall when thread creation fails.
  if (count > limit) thread_exhaustion(limit);
  if (mp != nullptr) {
    mp->~m();
    new (mp) m();
  } else {
    mp = new m();
  }
  mp->id = id;
  mp->nextp = pp;
  mp->spinning = spinning;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  // The scheduler stack runs the loop, unlock functions and timer
  // callbacks: modest, but leave room for sanitizers.
  pthread_attr_setstacksize(&attr, 1 << 20);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
#if defined(GORO_TSAN)
  // The worker starts without its creator's history (often a goroutine's,
  // which called go() or readied one): each goroutine that later runs on
  // it acquires the worker's start (fiber.hpp, its TLS set-up), which
  // would otherwise order that goroutine's writes before all of them and
  // hide their races. The runtime that reads mp there is not instrumented.
  AnnotateIgnoreSyncBegin(__FILE__, __LINE__);
#endif
  int err = pthread_create(&mp->thread, &attr, m_thread_main, mp);
#if defined(GORO_TSAN)
  AnnotateIgnoreSyncEnd(__FILE__, __LINE__);
#endif
  pthread_attr_destroy(&attr);
  if (err != 0) fatal("runtime: failed to create new OS thread (%s)", strerror(err));
}

// Takes idle mp off sched.midle and hands it pp (sched.lock held).
void leave_idle_locked(m* mp, p* pp) {
  m** link = &sched.midle;
  while (*link != mp) link = &(*link)->link;
  *link = mp->link;
  sched.nmidle--;
  sched.mwake_gen++;
  mp->idle = false;
  if (sched.timed_sleeper == mp) {
    sched.timed_sleeper = nullptr;
    sched.timed_sleep_until.store(INT64_MAX, std::memory_order_relaxed);
  }
  mp->nextp = pp;
  mp->spinning = false;
}

// Starts an M (idle or new) running pp. Called without sched.lock.
void startm(p* pp, bool spinning) {
  m* mp = nullptr;
  bool polling = false;
  {
    lock_guard lk(sched.lock);
    mp = sched.midle;
    // Leave the M that waits in epoll_wait polling if another is idle:
    // waking it would leave nobody polling until an M goes idle again.
    if (mp != nullptr && mp->polling && mp->link != nullptr) mp = mp->link;
    if (mp != nullptr) {
      leave_idle_locked(mp, pp);
      mp->spinning = spinning;
      polling = mp->polling;
    }
  }
  if (mp != nullptr) {
    mp->park_note.wake();
    if (polling) netpoll_break();
    return;
  }
  newm(pp, spinning);
}

// How long an idle M beyond maxprocs waits to be needed before its thread
// exits: the scavenger's period ($GORO_SCAVENGE_MS, default 5 s), after
// which idle stacks are given back too.
int64_t idle_m_retire_ns() {
  static const int64_t ns = int64_t{env_int("GORO_SCAVENGE_MS", 5000, 3'600'000)} * 1'000'000;
  return ns;
}

// Ends an idle M's thread: called with sched.lock held by mp on its own
// thread (its g0 stack, holding no P), with mp on sched.midle. Threads made
// for blocking sections are given back this way once the burst is over.
[[noreturn]] void m_retire_locked(m* mp) {
  m** link = &sched.midle;
  while (*link != mp) link = &(*link)->link;
  *link = mp->link;
  sched.nmidle--;
  sched.mcount--;
  mp->idle = false;
  sched.lock.unlock();
  runtime_thread_unregister(mp->tid);
  m_signal_stack_free(mp);
  {
    // Last touch of mp: newm may reuse the record from here on.
    lock_guard lk(sched.lock);
    mp->link = sched.mfree;
    sched.mfree = mp;
  }
  set_current_m(nullptr);
  pthread_exit(nullptr);
}

// Puts mp to sleep until it is handed a P; returns holding it.
//
// One idle M, the timed sleeper, sleeps until the earliest timer; while
// goroutines wait for fds (netpoll_waiters() > 0) it sleeps in epoll_wait
// instead of on its futex, with that deadline as the timeout (Go's
// findrunnable blocking in netpoll), so only one M polls, and a ready fd
// wakes the M that runs its goroutine: no poller thread, no hand-off.
// Whoever wakes it (startm, a timer earlier than its deadline) reads
// m::polling under sched.lock and interrupts epoll_wait (netpoll_break).
// Goroutines it unblocks go to a P it takes from the idle list, or, with
// none idle, to the global queue, which the busy Ps serve.
// Ms whose m::polling is set (guarded by sched.lock). One M blocks in
// epoll_wait at a time: netpoll_break wakes one waiter, so with two
// blocked, the break meant for an M that startm just handed a P could be
// taken by the other, leaving the first blocked with its P until its
// deadline (a goroutine started then waited for ever; found by the netpoll
// tests run in one process).
int32_t g_npolling = 0;

void stop_m(m* mp) {
  const int64_t idle_since = nanotime();
  g* polled = nullptr;  // unblocked by this M's poll, for the P it leaves with
  int32_t npolled = 0;
  m* hand_poll_to = nullptr;  // the sleeper to kick as this M stops polling
  if (auto hook = test_hooks::stop_m_enter.load(std::memory_order_relaxed)) hook();
  sched.lock.lock();
  mp->idle = true;
  mp->link = sched.midle;
  sched.midle = mp;
  sched.nmidle++;
  sched.m_parks++;
  trace(trace_ev::m_park);
  check_dead_locked();  // cheap: at most asks the monitor to look (deadlock.cpp)
  for (;;) {
    int64_t deadline = INT64_MAX;
    bool poll = false;
    m* kick = nullptr;
    // A relaxed read: a goroutine that parks on an fd after it reads 0
    // was parked by an M that then looks for work, polls without blocking
    // (find_runnable) and comes here with it counted.
    const bool want_poll = netpoll_waiters() > 0;
    m* ts = sched.timed_sleeper;
    if (ts == nullptr || ts == mp || (want_poll && !ts->polling)) {
      if (auto hook = test_hooks::stop_m_before_timer_read.load(std::memory_order_relaxed)) hook();
      // "No deadline" first, then the heaps (both seq_cst, as
      // wake_for_timer's timer0_when store and its load of this): a timer
      // added meanwhile is either in what we read or its adder reads
      // INT64_MAX and kicks us (under sched.lock, so after park_note is
      // cleared below). Reading the heaps under the old, earlier deadline
      // let an adder whose timer came after that deadline skip the kick
      // while we read the heaps without its timer: we then slept past it
      // until the monitor's rescue.
      sched.timed_sleep_until.store(INT64_MAX, std::memory_order_seq_cst);
      int64_t next = timers_next_when();
      if (auto hook = test_hooks::stop_m_after_timer_read.load(std::memory_order_relaxed)) hook(next);
      if (next != INT64_MAX || want_poll) {
        // Taking the role from an M that sleeps on its futex: kick it, so
        // that it sees the role gone (it then sleeps without a deadline).
        if (ts != nullptr && ts != mp) kick = ts;
        sched.timed_sleeper = mp;
        sched.timed_sleep_until.store(next, std::memory_order_seq_cst);
        deadline = next;
        // Not while another M still polls: one startm took the role from
        // (handed a P) and has not yet seen its break.
        poll = want_poll && g_npolling == 0;
      } else if (ts == mp) {
        sched.timed_sleeper = nullptr;
        sched.timed_sleep_until.store(INT64_MAX, std::memory_order_relaxed);
      }
    }
    // More idle Ms than Ps (left by blocking sections): this one retires
    // if nobody needs it for a scavenge period.
    bool may_retire = deadline == INT64_MAX && !poll && sched.nmidle > sched.maxprocs.load(std::memory_order_relaxed);
    int64_t retire_at = idle_since + idle_m_retire_ns();
    mp->park_note.clear();
    mp->polling = poll;
    if (poll) g_npolling++;
    sched.lock.unlock();
    if (kick != nullptr) kick->park_note.wake();
    bool woken = true;
    if (poll) {
      // (polled is empty here: each round runs its list or queues it.)
      polled = netpoll(deadline, &npolled);
      if (auto hook = test_hooks::stop_m_after_poll.load(std::memory_order_relaxed)) hook();
    } else if (deadline != INT64_MAX) {
      woken = mp->park_note.sleep_until(deadline);
    } else if (may_retire) {
      woken = mp->park_note.sleep_until(retire_at);
    } else {
      mp->park_note.sleep();
    }
    sched.lock.lock();
    if (mp->polling) {
      mp->polling = false;
      g_npolling--;
      // Leaving with a P while goroutines wait for fds: an M that went
      // idle while we polled took the timed sleeper's role but sleeps on
      // its futex (one M polls at a time), and nobody would poll until the
      // monitor's round, 10 ms on (Go has this window). Kick it: it
      // rereads and polls in our place.
      if (!mp->idle && g_npolling == 0 && netpoll_waiters() > 0) {
        m* ts = sched.timed_sleeper;
        if (ts != nullptr && ts != mp && !ts->polling) hand_poll_to = ts;
      }
    }
    if (!mp->idle) break;  // startm handed us a P
    if (polled != nullptr) {
      // Goroutines to run: take an idle P for them, or give them to the
      // busy Ps through the global queue.
      if (p* pp = pidleget_locked()) {
        leave_idle_locked(mp, pp);
        break;
      }
      g* tail = polled;
      while (tail->schedlink != nullptr) tail = tail->schedlink;
      globrunq_put_batch_locked(polled, tail, npolled);
      polled = nullptr;
      npolled = 0;
    }
    if (may_retire && sched.timed_sleeper != mp && nanotime() >= retire_at &&
        sched.nmidle > sched.maxprocs.load(std::memory_order_relaxed)) {
      m_retire_locked(mp);  // does not return
    }
    if (deadline == INT64_MAX) continue;  // kicked, spurious, or not retiring after all: sleep again
    if (!woken || nanotime() >= deadline) {
      // A timer is due: take an idle P to run it. With none idle, every P
      // is busy and runs its timers at its next round.
      p* pp = pidleget_locked();
      if (pp != nullptr) {
        leave_idle_locked(mp, pp);
        break;
      }
      // Every P is busy, and each runs its due timers at its next round.
      // Give up the timed sleeper's role and sleep until kicked: sleeping
      // again until the same past deadline would spin here on the futex
      // and sched.lock, on a core the busy workers need (an extra idle M,
      // left from a handoff, made 100,000 sleeps up to twice as slow).
      // The next M to give up a P (stop_m) takes the role with that P idle.
      // (While it sleeps nobody polls: busy Ps poll when they run out of
      // work, and the monitor every 10 ms, as Go's.)
      if (sched.timed_sleeper == mp) {
        sched.timed_sleeper = nullptr;
        sched.timed_sleep_until.store(INT64_MAX, std::memory_order_relaxed);
      }
      // An M beyond maxprocs sleeps only until its retirement, and then
      // retires here: nobody kicks an M without the role, and going round
      // again it would take the role back (the timer still due) and never
      // reach the check above (27 of 105 threads stayed for good after a
      // burst of blocking sections beside a ping-pong pair and a sleeper).
      const bool extra = sched.nmidle > sched.maxprocs.load(std::memory_order_relaxed);
      mp->park_note.clear();
      sched.lock.unlock();
      if (extra)
        (void)mp->park_note.sleep_until(retire_at);
      else
        mp->park_note.sleep();
      sched.lock.lock();
      if (!mp->idle) break;
      if (extra && sched.timed_sleeper != mp && nanotime() >= retire_at &&
          sched.nmidle > sched.maxprocs.load(std::memory_order_relaxed)) {
        m_retire_locked(mp);  // does not return
      }
    }
    // Kicked to recompute the timer deadline, or spurious: sleep again.
  }
  sched.m_wakes++;
  sched.lock.unlock();
  if (hand_poll_to != nullptr) hand_poll_to->park_note.wake();
  trace(trace_ev::m_wake);
  acquirep(mp, mp->nextp);
  mp->nextp = nullptr;
  if (polled != nullptr) inject_glist(polled, npolled);
}

void reset_spinning(m* mp) {
  mp->spinning = false;
  // If we were the last spinner there may be more work than one M can take:
  // wake another (Go's resetspinning).
  if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) == 1) wakep();
}

// ---- global run queue (sched.lock held) ----------------------------------

g* yieldq_get_locked() {
  g* gp = sched.yieldq_head;
  if (gp == nullptr) return nullptr;
  sched.yieldq_head = gp->schedlink;
  if (sched.yieldq_head == nullptr) sched.yieldq_tail = nullptr;
  gp->schedlink = nullptr;
  sched.yieldq_size.store(sched.yieldq_size.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  sched.runq_size.fetch_sub(1, std::memory_order_seq_cst);
  return gp;
}

// Appends gp to the list head..tail linked through schedlink.
void link_at_tail(g*& head, g*& tail, g* gp) { append_chain(head, tail, gp, gp); }

void yieldq_put_locked(g* gp) {
  link_at_tail(sched.yieldq_head, sched.yieldq_tail, gp);
  sched.yieldq_size.store(sched.yieldq_size.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sched.runq_size.fetch_add(1, std::memory_order_seq_cst);
}

}  // namespace

void yieldq_put_batch_locked(g* head, g* tail, int32_t n) {
  append_chain(sched.yieldq_head, sched.yieldq_tail, head, tail);
  sched.yieldq_size.store(sched.yieldq_size.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  sched.runq_size.fetch_add(n, std::memory_order_seq_cst);
}

namespace {

g* globrunq_get_locked(p* pp, int32_t max, bool yielded_too = true) {
  int32_t size = sched.runq_size.load(std::memory_order_relaxed) - sched.yieldq_size.load(std::memory_order_relaxed);
  if (size == 0) {
    if (!yielded_too) return nullptr;
    g* gp = yieldq_get_locked();
    if (gp == nullptr) return nullptr;
    pp->slices_since_yieldq = 0;
    // With nothing else to run (the ring is empty whenever max is 0), take
    // a share of the queue's goroutines (preempted ones, yields made with
    // no P, the yield lists of Ps that gave their work up) into the ring,
    // as Go takes a batch of its global queue: each then pays for
    // sched.lock once, to enter the queue, not again to leave it.
    if (max == 0) {
      // Go's share: the queue's length before this take over maxprocs,
      // plus one (gp).
      const int32_t left = sched.yieldq_size.load(std::memory_order_relaxed);
      int32_t n = (left + 1) / std::max<int32_t>(1, sched.maxprocs.load(std::memory_order_relaxed));
      n = std::min<int32_t>({n, left, static_cast<int32_t>(kRunqSize / 2)});
      for (int32_t i = 0; i < n; i++) runq_put(pp, yieldq_get_locked(), false);
    }
    return gp;
  }
  int32_t n = size / std::max<int32_t>(1, sched.maxprocs.load(std::memory_order_relaxed)) + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<int32_t>(kRunqSize / 2)) n = kRunqSize / 2;
  sched.runq_size.fetch_sub(n, std::memory_order_seq_cst);
  g* gp = sched.runq_head;
  sched.runq_head = gp->schedlink;
  for (int32_t i = 1; i < n; i++) {
    g* g1 = sched.runq_head;
    // Each link is a cache miss once a burst has left these g records
    // cold (100,000 timers fired at once, a context tree cancelled):
    // start the one kSchedAhead links on (g.hpp).
    if (g1->schedlink_ahead != nullptr) prefetch_for_write(g1->schedlink_ahead);
    sched.runq_head = g1->schedlink;
    runq_put(pp, g1, false);  // the local ring is empty here: no spill
  }
  if (sched.runq_head == nullptr) sched.runq_tail = nullptr;
  gp->schedlink = nullptr;
  return gp;
}

// ---- finding work ---------------------------------------------------------

// A timer this late was left by a busy P, and another P runs it
// (find_runnable's 61st round). A P that keeps switching runs its own
// within 16 switches (direct_successor), microseconds, so only one whose
// goroutine computes leaves a timer this late. It was 1 ms until
// 2026-12-05: `sched/timer_late_busy` (a 5 ms timer of a computing
// goroutine, the other P busy) read 1.0 ms late at p50, now 0.1 ms (Go's
// twin: 15 ms), with `runtime/timers`, `after_func` and `timer_stop`
// unchanged (three interleaved pairs).
constexpr int64_t kTimerOverdueNs = 100'000;
// How long a spinning M naps and looks beside other Ps that keep switching
// before it gives its P up (find_runnable).
constexpr int64_t kLingerNs = 1'000'000;

// Runs expired timers on every P (the caller holds a P, which gets what
// they ready). Returns true if any ran.
bool run_all_timers(int64_t now) {
  bool ran = false;
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) {
    p* v = p_for_index(i);
    if (v->timer0_when.load(std::memory_order_relaxed) <= now && timers_run(v, now) > 0) ran = true;
  }
  return ran;
}

// The 61st round's look at other Ps' timers: those overdue by
// kTimerOverdueNs, and an idle P's as soon as they are due when no
// worker may take that P up (the budget is full: its timed sleeper found
// no P to take, and only a busy P will run them).
void run_others_overdue_timers(p* self) {
  int64_t now = 0;
  bool budget_full = false;
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) {
    p* v = p_for_index(i);
    int64_t when = v->timer0_when.load(std::memory_order_relaxed);
    if (v == self || when == INT64_MAX) continue;
    if (now == 0) {
      now = nanotime();
      budget_full = g_npactive_mirror.load(std::memory_order_relaxed) >= allowed_p();
    }
    bool unowned = budget_full && v->status.load(std::memory_order_relaxed) == p_status::idle;
    if (when <= now - (unowned ? 0 : kTimerOverdueNs)) timers_run(v, now);
  }
}

}  // namespace

// Whether taking goroutines from victim's queue beats leaving them there.
// Moving a goroutine to another core costs the cache misses of its stack,
// its g record and what it works on (microseconds here); goroutines queued
// behind a P that switches every few hundred nanoseconds (a group of
// goroutines passing values over channels) would run sooner where they
// are, and stealing them only spreads one channel's users over two cores
// that then fight over its lock. So a short queue is left alone if its P
// switches at least as many times as it holds goroutines, and at least
// kFastSwitches times, within a short look; it is taken once the P has
// gone kQuietNs without a switch, or at the end of the look. A P that
// runs one goroutine for long (or sits in goro::blocking) does not advance
// its count, so its queue is taken after kQuietNs; so is the queue of one
// whose goroutines compute a microsecond or more between switches (a chain
// of goroutines that each compute and hand on to the next through
// runnext, while the queued one waits behind them: when one switch in the
// look was enough to leave the queue, such a ring used 1.4 of 2 CPUs,
// docs/design.md section 2, "Stealing").
bool worth_stealing(p* victim) {
  constexpr uint32_t kAlwaysSteal = 32;
  constexpr int64_t kLookNs = 5'000;
  constexpr uint64_t kFastSwitches = 4;  // one per 1.25 us or faster
  constexpr int64_t kQuietNs = 1'000;
  uint32_t n = runq_len(victim);
  if (n == 0 || n >= kAlwaysSteal) return true;  // empty: runq_steal looks at runnext
  // (64 bits, as the count: a 32-bit copy made every P past 2^32 switches
  // look busy switching, and its short queue was never taken.)
  const uint64_t t1 = victim->schedtick.load(std::memory_order_relaxed);
  uint64_t last_tick = t1;
  int64_t last_switch = nanotime();
  const int64_t until = last_switch + kLookNs;
  // The look also ends early when its queue has grown long (a goroutine
  // making goroutines: take them).
  for (;;) {
    for (int i = 0; i < 16; i++) cpu_relax();
    n = runq_len(victim);
    if (n >= kAlwaysSteal) return true;
    uint64_t tick = victim->schedtick.load(std::memory_order_relaxed);
    if (tick - t1 >= std::max<uint64_t>(n, kFastSwitches)) return false;
    int64_t now = nanotime();
    if (tick != last_tick) {
      last_tick = tick;
      last_switch = now;
    } else if (now - last_switch >= kQuietNs) {
      return true;
    }
    if (now >= until) return true;
  }
}

namespace {

// Sets *declined if a non-empty queue was left alone because its P gets
// through it quickly (worth_stealing).
g* steal_work(p* pp, bool* declined) {
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  // Victims found switching fast enough in this call's first look: later
  // rounds skip them without another look, so a call spends at most one
  // look per P.
  uint64_t fast[kMaxP / 64] = {};
  for (int round = 0; round < 4; round++) {
    bool last = round == 3;
    uint32_t start = static_cast<uint32_t>(fastrand(&pp->rand_state));
    for (int32_t i = 0; i < n; i++) {
      int32_t vi = static_cast<int32_t>((start + static_cast<uint32_t>(i)) % static_cast<uint32_t>(n));
      p* victim = p_for_index(vi);
      if (victim == pp) continue;
      uint64_t bit = uint64_t{1} << (vi % 64);
      if (fast[vi / 64] & bit) continue;
      if (!worth_stealing(victim)) {
        trace(trace_ev::steal_skip, 0, static_cast<uint64_t>(victim->id));
        fast[vi / 64] |= bit;
        *declined = true;
        continue;
      }
      if (g* gp = runq_steal(pp, victim, last, declined)) {
        stat_add_owned(pp->stats.steals);
        trace(trace_ev::steal, gp->id, static_cast<uint64_t>(victim->id));
        return gp;
      }
    }
    if (sched.runq_size.load(std::memory_order_relaxed) > 0) {
      lock_guard lk(sched.lock);
      if (g* gp = globrunq_get_locked(pp, 0)) return gp;
    }
  }
  return nullptr;
}

// Whether any other running P has switched goroutines since this M's
// last call (the sum of their switch counts moved): a chatty group (a
// ping-pong pair) whose queue happens to be empty at the thief's look.
bool others_switching(m* mp, p* pp) {
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  uint64_t sum = 0;
  for (int32_t i = 0; i < n; i++) {
    p* v = p_for_index(i);
    if (v != pp && v->status.load(std::memory_order_relaxed) == p_status::running)
      sum += v->schedtick.load(std::memory_order_relaxed);
  }
  bool moved = sum != mp->others_ticks;
  mp->others_ticks = sum;
  return moved;
}

bool any_runq_nonempty() {
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++)
    if (!runq_empty(p_for_index(i))) return true;
  return false;
}

// If more Ps are active than allowed (maxprocs was lowered, or a detached
// goroutine came back), gives up mp's P, moving its goroutines to the
// global queue, and sleeps until handed one. The check and the release are
// one critical section, so two Ms cannot both decide to give theirs up.
bool release_p_if_over_budget(m* mp) {
  p* pp = mp->pp;
  bool moved = false;
  // Before the lock, as the callers' mirror check says it is likely over
  // budget (if not, the slots were only given back early): an idle P's
  // cache keeps no arena mapped (time/rec_slab.hpp). (Its g records and
  // stacks go in pidleput_locked.)
  timer_slab_flush_p(pp);
  {
    lock_guard lk(sched.lock);
    if (sched.npactive <= allowed_p()) return false;
    moved = runq_drain_to_global_locked(pp) > 0;
    pidleput_locked(pp);
    mp->pp = nullptr;
  }
  if (mp->spinning) {
    mp->spinning = false;
    sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    // As find_runnable's spinning-to-idle step: work queued while this M
    // still counted as spinning skipped wakep(), so look again now (a
    // goroutine started from a plain thread just as maxprocs went down
    // was left in the global queue with every worker asleep).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sched.runq_size.load(std::memory_order_seq_cst) > 0 || any_runq_nonempty()) moved = true;
  }
  if (moved) wakep();
  stop_m(mp);
  return true;
}

g* find_runnable(m* mp) {
top:
  p* pp = mp->pp;
  if (pp->detached.load(std::memory_order_relaxed)) {
    // Under sched.lock, as handoff_detached sets it, so that ndetached
    // never reads one less than the Ps flagged (it could go to -1).
    lock_guard lk(sched.lock);
    if (pp->detached.exchange(false)) sched.ndetached.fetch_sub(1, std::memory_order_relaxed);
  }
  if (g_npactive_mirror.load(std::memory_order_relaxed) > allowed_p() && release_p_if_over_budget(mp)) goto top;

  uint32_t tick = pp->schedtick.load(std::memory_order_relaxed);
  if (tick % 61 == 0 || g_idle_p_timers_overdue.load(std::memory_order_relaxed)) {
    // Timers of other Ps overdue by kTimerOverdueNs: their owners are busy
    // (a goroutine computing there), or no worker may hold them (an idle P
    // over the budget: maxprocs was lowered, or a grant ended), so run them
    // here, as Go's Ps run each other's timers while they look for work.
    // Every round while the monitor sees an idle P's timers overdue with
    // no worker allowed to take it (g_idle_p_timers_overdue; it also asks
    // computing Ps to yield for them).
    // A P that always has work of its own (a ping-pong pair) looks only
    // here, every 61st round, and before the global queue: a goroutine
    // taken from it returns at once, and with more goroutines runnable
    // than the local ring holds that queue never empties, which left an
    // idle P's sleepers asleep for good.
    run_others_overdue_timers(pp);
    if (sched.runq_size.load(std::memory_order_relaxed) > 0) {
      lock_guard lk(sched.lock);
      if (g* gp = globrunq_get_locked(pp, 1, false)) return gp;
    }
    // Goroutines that yield in a loop stay on their P (runq.hpp), so
    // spread them: five on one P and one alone on the other would
    // otherwise share their cores 5:1 for good (Go's global queue mixes
    // them at every Gosched).
    if (g* gp = runq_balance_yielded(pp)) {
      pp->slices_since_yieldq = 0;
      return gp;
    }
  }
  // Every 61st slice, a goroutine that yielded (Go looks at its global
  // queue, where they go, every 61st slice): so a P whose own queue never
  // empties still gives them a turn. This P's yielders first, then the
  // global yield queue's (the preempted), which a P with nothing else to
  // run takes first.
  if (pp->slices_since_yieldq >= 61) {
    pp->slices_since_yieldq = 0;
    if (g* gp = runq_get_yielded(pp)) return gp;
    if (sched.yieldq_size.load(std::memory_order_relaxed) > 0) {
      lock_guard lk(sched.lock);
      if (g* gp = yieldq_get_locked()) return gp;
    }
  }
  // Read the clock only when this P has a timer (a clock read costs as much
  // as a goroutine switch).
  if (int64_t when = pp->timer0_when.load(std::memory_order_relaxed); when != INT64_MAX) {
    int64_t now = nanotime();
    if (when <= now) timers_run(pp, now);
  }
  if (g* gp = runq_get(pp)) return gp;
  // The global queue, its yield queue included, then this P's yielders:
  // yielded goroutines run after the rest. (The 61st slice, above, takes
  // this P's before the global yield queue's, so neither starves the
  // other: goroutines preempted there could otherwise wait behind a P's
  // yielders for good, as a pair's did behind a yielder.)
  if (sched.runq_size.load(std::memory_order_relaxed) > 0) {
    lock_guard lk(sched.lock);
    if (g* gp = globrunq_get_locked(pp, 0)) return gp;
  }
  if (g* gp = runq_get_yielded(pp)) {
    pp->slices_since_yieldq = 0;
    return gp;
  }
  if (timers_next_when() != INT64_MAX && run_all_timers(nanotime())) {
    if (g* gp = runq_get(pp)) return gp;
  }
  // Goroutines waiting for fds, and no M blocked in epoll_wait to see
  // them: poll without blocking (Go's findrunnable does, before
  // stealing). One relaxed load when no goroutine waits for an fd.
  if (netpoll_waiters() > 0 && !netpoll_blocked()) {
    int32_t n = 0;
    if (g* list = netpoll(0, &n)) {
      g* rest = list->schedlink;
      list->schedlink = nullptr;
      if (rest != nullptr) inject_glist(rest, n - 1);
      return list;
    }
  }

  // Steal, as a spinning M, unless half the busy Ps already have a spinner.
  if (mp->spinning || 2 * sched.nmspinning.load(std::memory_order_relaxed) <
                          g_npactive_mirror.load(std::memory_order_relaxed)) {
    if (!mp->spinning) {
      mp->spinning = true;
      sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
    }
    bool declined = false;
    if (g* gp = steal_work(pp, &declined)) return gp;
    // Linger: other Ps switching fast (a ping-pong pair) have nothing to
    // steal at most instants, and a thief that gave its P up at once
    // would be woken again by the pair's next ready() (a futex call on the
    // pair's path, every few tens of microseconds: 70 ns per message of
    // a 180 ns ping-pong, docs/benchmarks.md). So while they switch, nap
    // and look again as below, for at most kLingerNs since this M began
    // spinning; after that, one wake-up per kLingerNs is noise.
    bool lingering = false;
    if (!declined && others_switching(mp, pp)) {
      int64_t now = nanotime();
      if (mp->linger_until == 0) mp->linger_until = now + kLingerNs;
      lingering = now < mp->linger_until;
    }
    if (declined || lingering) {
      // The only work there is sits in queues that their Ps get through
      // quickly (a chatty group of goroutines on one worker). Giving up
      // the P now would make the next goroutine they ready wake us with a
      // futex call (their queues are rarely empty), and looking again at
      // once would keep this core busy doing nothing: nap instead, still
      // spinning (so readiers do not wake anyone for us), and look again.
      // A nap is 20 us (the workers' timer slack is 1 us, m_thread_main);
      // a look is 5 us, so a thief with nothing worth taking uses about a
      // fifth of its core, and takes a queue whose P stalls within 25 us.
      trace(trace_ev::m_nap, 0, declined ? 1 : 2);
      struct timespec ts{0, 20'000};
      nanosleep(&ts, nullptr);
      goto top;
    }
  }

  // Nothing to do: give up the P.
  mp->linger_until = 0;
  timer_slab_flush_p(pp);  // an idle P's cache keeps no arena mapped (rec_slab.hpp)
  {
    lock_guard lk(sched.lock);
    if (sched.runq_size.load(std::memory_order_relaxed) > 0) {
      if (g* gp = globrunq_get_locked(pp, 0)) return gp;
    }
    if (!runq_empty(pp)) goto top;  // a timer callback refilled it
    pidleput_locked(pp);
    mp->pp = nullptr;
  }
  if (mp->spinning) {
    mp->spinning = false;
    sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    // The fence orders the decrement before the queue reads below in the
    // C++ model (a seq_cst read-modify-write does not order later acquire
    // loads; x86 and ARMv8 happen to, C++ does not promise it). It pairs
    // with the readier's seq_cst exchange or fence before it reads
    // nmspinning: one of the two sees the other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Work submitted while we still counted as spinning may have skipped
    // wakep(): look again now that we do not (see sched.hpp).
    int64_t next_timer = timers_next_when();
    if (any_runq_nonempty() || sched.runq_size.load(std::memory_order_seq_cst) > 0 ||
        (next_timer != INT64_MAX && next_timer <= nanotime())) {
      p* np;
      {
        lock_guard lk(sched.lock);
        np = pidleget_locked();
      }
      if (np != nullptr) {
        acquirep(mp, np);
        mp->spinning = true;
        sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
        goto top;
      }
    }
  }
  stop_m(mp);
  goto top;
}

void after_switch(m* mp, g* gp) {
  m_action action = mp->action;
  mp->action = m_action::none;
  switch (action) {
    case m_action::park: {
      g_set_status(gp, g_status::running, g_status::waiting);
      unlock_fn unlock = mp->unlock;
      if (unlock != nullptr && !unlock(gp, mp->unlock_arg)) {
        g_transition(gp, g_status::waiting, g_status::runnable);
        if (mp->pp != nullptr)
          runq_put(mp->pp, gp, true);
        else
          globrunq_put(gp);  // parked inside a blocking section whose P was taken
      }
      break;
    }
    case m_action::yield:
      // To this P's yield list: no shared line is written (the global
      // yield queue's lock, taken by every yield of every P, held four
      // goroutines yielding on 2 Ps to 9 M yields a second, Go's
      // Gosched 21 M). A P may be idle: when gp waits behind another
      // goroutine (one switched to directly runs here: mp->curg), it
      // takes half of them (runq_steal); a lone yielder just runs again.
      // The store-load barrier wakep()'s reads need after the append is
      // paid only when a P is free to take the work (as in ready()).
      if (p* pp = mp->pp) {
        g_set_status(gp, g_status::running, g_status::runnable);
        runq_put_yielded(pp, gp);
        if ((mp->curg != nullptr || pp->q.yield_len.load(std::memory_order_relaxed) > 1 || !runq_empty_ring(pp)) &&
            wakep_may_help()) {
          std::atomic_thread_fence(std::memory_order_seq_cst);
          wakep();
        }
        break;
      }
      [[fallthrough]];  // yielded inside a blocking section whose P was taken
    case m_action::preempted:
      g_set_status(gp, g_status::running, g_status::runnable);
      {
        lock_guard lk(sched.lock);
        yieldq_put_locked(gp);
      }
      wakep();  // a P may be idle: it takes it at once
      break;
    case m_action::requeue:
      g_set_status(gp, g_status::running, g_status::runnable);
      globrunq_put(gp);
      break;
    case m_action::exit: {
      p* pp = mp->pp;
      g_set_status(gp, g_status::running, g_status::dead);
#if defined(GORO_TSAN)
      __tsan_destroy_fiber(gp->ctx.tsan_fiber);
      gp->ctx.tsan_fiber = nullptr;
#endif
      stack_release(pp, gp);
      pp->ngoroutines.store(pp->ngoroutines.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
      g_free(pp, gp);
      break;
    }
    case m_action::none:
      fatal("goroutine %llu switched to the scheduler without an action",
            static_cast<unsigned long long>(gp->id));
  }
}

// Makes gp mp's running goroutine, ready to be switched to.
void prepare_run(m* mp, g* gp) {
  p* pp = mp->pp;
  pp->schedtick.store(pp->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  trace(trace_ev::go_start, gp->id);
  if (pp->q.took_runnext) {
    pp->q.took_runnext = false;  // continues the slice (and its preemption request)
  } else {
    pp->slicetick.store(pp->slicetick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    pp->slices_since_yieldq++;
    if (pp->preempt.load(std::memory_order_relaxed)) pp->preempt.store(false, std::memory_order_relaxed);
  }
  // The live dump's side of the snapshot protocol (traceback.cpp): the
  // generation and the status change before the goroutine's first write
  // to its stack. The release fence orders those stores before every
  // later store, the stack writes included; on x86-64 it is no
  // instruction at all (stores are not reordered with stores).
  gp->run_gen.store(gp->run_gen.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  g_set_status(gp, g_status::runnable, g_status::running);
  std::atomic_thread_fence(std::memory_order_release);
  mp->curg = gp;
  set_current_g(gp);
  gp->cur_m = mp;
  if (gp->ctx.sp == nullptr) {  // first run
    stack_bind(pp, gp);
    fiber_make(&gp->ctx, gp->stack_lo, gp->stack_hi, g_main, gp);
#if defined(GORO_TSAN)
    // One TSan fiber per goroutine life. (Reusing fibers would be faster,
    // but a reused fiber carries its last goroutine's clock, which orders
    // goroutines that TSan must see as concurrent.) Made here, on the
    // worker that first runs it, not at the go() call, where reports would
    // name the creator better: a fiber made before its worker thread
    // existed has no order with that thread's TLS set-up, and TSan then
    // reports the goroutine's first errno read as a race (seen in CI).
    gp->ctx.tsan_fiber = __tsan_create_fiber(0);
#endif
  }
}

void execute(m* mp, g* gp) {
  prepare_run(mp, gp);
  fiber_switch(&mp->g0, &gp->ctx);
  // Back on this M's scheduler stack (g0 never migrates), switched to by
  // gp or by a goroutine gp switched to directly (mcall).
  mp->curg = nullptr;
  set_current_g(nullptr);
  g* out = mp->switched_out;
  mp->switched_out = nullptr;
  after_switch(mp, out);
}

// The goroutine that should run after mp's current one stops, if the P's
// local queue can say so without the scheduling loop: the loop's other
// duties (the global queue and due timers every 61st round, giving the P
// back when over budget or detached) send the caller through g0 instead.
// Timers: a clock read costs as much as the switch, so a P with timers
// reads it every 16th switch, and a due timer sends the caller through
// g0, whose loop runs it: it waits at most 16 switches (microseconds).
// Switches that come milliseconds apart (goroutines computing between
// yields, preemptions) are caught by the monitor's clock, coarse_now, one
// load, which the monitor moves past each timer as it falls due while Ps
// are busy (sysmon.cpp): such a timer waits for the switch that ends the
// slice in which it fell due, plus a millisecond (the monitor's rounds
// while Ps are busy and timers wait), or up to the monitor's longest nap
// (10 ms) for a timer armed while it napped.
g* direct_successor(m* mp) {
#if defined(GORO_TSAN)
  // TSan builds always go through g0: the completed action's lock
  // annotations (stack and g free lists) would otherwise be made on the
  // next goroutine's TSan fiber and order it after the one that exited,
  // hiding real races between the two (crash test race_sequential).
  (void)mp;
  return nullptr;
#else
  p* pp = mp->pp;
  uint32_t tick = pp->schedtick.load(std::memory_order_relaxed);
  if (tick % 61 == 0) return nullptr;
  if (int64_t when = pp->timer0_when.load(std::memory_order_relaxed);
      when != INT64_MAX && (sched.coarse_now.load(std::memory_order_relaxed) >= when || (tick % 16 == 0 && nanotime() >= when)))
    return nullptr;
  if (pp->detached.load(std::memory_order_relaxed)) return nullptr;
  if (g_npactive_mirror.load(std::memory_order_relaxed) > allowed_p()) return nullptr;
  if (pp->slices_since_yieldq >= 61) return nullptr;  // find_runnable looks at the yield queue
  if (g* gp = runq_get(pp)) return gp;
  // This P's yielders, when nothing waits in the global queues
  // (find_runnable's order otherwise). The goroutine switching away is not
  // among them yet: its action, run after the switch, adds it.
  if (sched.runq_size.load(std::memory_order_relaxed) != 0) return nullptr;
  g* gp = runq_get_yielded(pp);
  if (gp != nullptr) pp->slices_since_yieldq = 0;
  return gp;
#endif
}

void schedule_loop(m* mp) {
  for (;;) {
    // A goroutine whose P the monitor took (in goro::blocking) came back
    // here to wait for one.
    if (mp->pp == nullptr) stop_m(mp);
    g* gp = find_runnable(mp);
    mp->linger_until = 0;  // found work: the next spin lingers afresh
    if (mp->spinning) reset_spinning(mp);
    execute(mp, gp);
  }
}

void* m_thread_main(void* arg) {
  m* mp = static_cast<m*>(arg);
#if defined(GORO_TSAN)
  tsan_thread_started();
#endif
  set_current_m(mp);
  mp->eh = thread_eh_globals();
  mp->tid = static_cast<int>(syscall(SYS_gettid));
  runtime_thread_register(mp->tid);
  char name[16];
  snprintf(name, sizeof name, "goro-m%d", mp->id);
  prctl(PR_SET_NAME, name, 0, 0, 0);
  // 1 us of timer slack instead of Linux's default 50 us: a thief's nap
  // (find_runnable) and a worker's sleep until the next timer end when
  // asked, not up to 50 us later.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  m_signal_stack_init(mp);
#if defined(GORO_ASAN)
  {
    pthread_attr_t attr;
    pthread_getattr_np(pthread_self(), &attr);
    void* addr = nullptr;
    size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    mp->g0.stack_lo = addr;
    mp->g0.stack_size = size;
  }
#endif
#if defined(GORO_TSAN)
  mp->g0.tsan_fiber = __tsan_get_current_fiber();
#endif
  acquirep(mp, mp->nextp);
  mp->nextp = nullptr;
  schedule_loop(mp);
  return nullptr;
}

int ncpu() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace

void p_caches_flush(p* pp) {
  gcache_flush(pp);
  stack_cache_flush(pp);
}

idle_p_caches idle_p_cached() {
  idle_p_caches r;
  lock_guard lk(sched.lock);
  for (p* pp = sched.pidle; pp != nullptr; pp = pp->link) {
    r.stacks += pp->nstack_cache;
    r.gs += pp->gcache.nfree;
  }
  return r;
}

// ---- public to the runtime -------------------------------------------------

void runtime_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    int procs = env_int("GORO_MAXPROCS", ncpu(), 100000);
    if (procs > kMaxP / 2) procs = kMaxP / 2;
    sched.maxprocs.store(procs, std::memory_order_relaxed);
    stack_pool_init();
    {
      lock_guard lk(sched.lock);
      for (int i = 0; i < procs; i++) {
        p* pp = p_new_locked();
        pp->link = sched.pidle;
        sched.pidle = pp;
        sched.npidle.fetch_add(1, std::memory_order_relaxed);
      }
    }
    sched.coarse_now.store(nanotime(), std::memory_order_relaxed);
    crash_handlers_install();
    mutex_bias_decide_if_alone();  // while it costs microseconds (sync/mutex_bias.cpp)
    sysmon_start();
    scavenger_start();
    deadlock_init_ignored_threads();
    sched.started.store(true, std::memory_order_release);
    trace_start_from_env();
  });
}

bool wakep_may_help() { return g_npactive_mirror.load(std::memory_order_relaxed) < allowed_p(); }

void wakep() {
  if (g_npactive_mirror.load(std::memory_order_seq_cst) >= allowed_p()) return;
  if (sched.nmspinning.load(std::memory_order_seq_cst) != 0) return;
  int32_t zero = 0;
  if (!sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) return;
  p* pp;
  {
    lock_guard lk(sched.lock);
    pp = pidleget_locked();
  }
  if (pp == nullptr) {
    sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  startm(pp, true);
}

void globrunq_put_locked(g* gp) {
  link_at_tail(sched.runq_head, sched.runq_tail, gp);
  sched.runq_size.fetch_add(1, std::memory_order_seq_cst);
}

void globrunq_put_batch_locked(g* head, g* tail, int32_t n) {
  append_chain(sched.runq_head, sched.runq_tail, head, tail);
  sched.runq_size.fetch_add(n, std::memory_order_seq_cst);
}

void globrunq_put(g* gp) {
  {
    lock_guard lk(sched.lock);
    globrunq_put_locked(gp);
  }
  wakep();
}

void inject_glist(g* head, int32_t n) {
  if (head == nullptr) return;
  if (p* pp = owned_p(current_m())) {
    while (head != nullptr) {
      g* next = head->schedlink;
      runq_put(pp, head, false);
      head = next;
    }
    // The store-load barrier wakep()'s read of nmspinning needs after the
    // release stores that published the goroutines (sched.hpp).
    std::atomic_thread_fence(std::memory_order_seq_cst);
  } else {
    g* tail = head;
    while (tail->schedlink != nullptr) tail = tail->schedlink;
    lock_guard lk(sched.lock);
    globrunq_put_batch_locked(head, tail, n);
  }
  wakep();
}

void finish_switch(m* mp) {
  GORO_DCHECK(mp == current_m());
  if (g* out = mp->switched_out) {
    mp->switched_out = nullptr;
    after_switch(mp, out);
  }
}

void mcall(m_action action, unlock_fn unlock, void* arg) { mcall_on(current_m(), action, unlock, arg); }

void mcall_on(m* mp, m_action action, unlock_fn unlock, void* arg) {
  g* gp = mp->curg;
  trace(action == m_action::park                                     ? trace_ev::go_block
        : action == m_action::yield || action == m_action::preempted || action == m_action::requeue
            ? trace_ev::go_yield
                                                                     : trace_ev::go_end,
        gp->id, static_cast<uint64_t>(gp->reason));
  mp->action = action;
  mp->unlock = unlock;
  mp->unlock_arg = arg;
  mp->switched_out = gp;
  // A goroutine that parks inside goro::blocking is not blocking its P: it
  // reclaims the P from the monitor's reach, or learns that the monitor
  // took it (mp->pp is then null, and g0 sleeps until handed a P).
  // (Kept in a local: after a long park the g record is cold, the stack
  // frame is not, and only the goroutine itself changes the depth.)
  bool blocking = gp->blocking_depth > 0;
  if (blocking) blocking_pause(mp);
  // Switching straight to the next goroutine saves a switch to g0 and a
  // round of the scheduling loop (a quarter of a channel handoff's cost).
  // The action is then completed by that goroutine (finish_switch), once
  // gp's context is saved: nobody may wake or free gp before that.
  // The exception being handled, if we park inside a catch block, goes
  // with us, not with the thread (eh_state.hpp).
  eh_state eh;
  eh.take_from(mp->eh);
  if (g* next = mp->pp != nullptr ? direct_successor(mp) : nullptr) {
    prepare_run(mp, next);
    fiber_switch(&gp->ctx, &next->ctx, action == m_action::exit);
  } else {
    fiber_switch(&gp->ctx, &mp->g0, action == m_action::exit);
  }
  // Resumed, possibly on another M: mp is stale from here on, gp->cur_m
  // is the M we resumed on.
  eh.give_to(gp->cur_m->eh);
  finish_switch(gp->cur_m);
  if (blocking) blocking_resume(gp->cur_m);
}

void preempt_yield(m* mp) {
  g* gp = mp->curg;
  // Only goroutine code outside blocking sections yields (the flag may be
  // read on g0, or in a section whose P is about to be taken).
  if (gp == nullptr || gp->blocking_depth > 0) return;
  // A yield as any other: the goroutine may resume on another thread,
  // leaving this one counted as holding its pthread locks.
  check_thread_locks_at_park(gp, wait_reason::none);  // debug builds only
  mcall_on(mp, m_action::preempted, nullptr, nullptr);
}

void blocking_pause(m* mp) {
  m* self = mp;
  // acq_rel: pairs with the monitor's CAS; on failure the P belongs to
  // someone else and this M must not touch it again.
  if (!mp->pp->blocking_m.compare_exchange_strong(self, nullptr, std::memory_order_acq_rel)) mp->pp = nullptr;
}

void blocking_resume(m* mp) {
  p* pp = mp->pp;
  pp->syscalltick.store(pp->syscalltick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // release: sysmon reads the tick after seeing blocking_m.
  pp->blocking_m.store(mp, std::memory_order_release);
}

void handoff_taken(p* pp) {
  bool work;
  bool spin = false;
  {
    lock_guard lk(sched.lock);
    pp->owner = nullptr;
    // A P granted extra for a computing goroutine that then blocked: the
    // grant ends with its goroutine's hold on the P.
    if (pp->detached.exchange(false)) sched.ndetached.fetch_sub(1, std::memory_order_relaxed);
    // Work for it: queued goroutines, or pending timers (some M must sleep
    // until they are due: with every other M busy or blocked, none would).
    work = !runq_empty(pp) || sched.runq_size.load(std::memory_order_relaxed) > 0 ||
           pp->timer0_when.load(std::memory_order_relaxed) != INT64_MAX;
    // Nothing of its own, but with no P idle and no M spinning nobody
    // looks at the other Ps' queues: the P goes to a spinning M, which
    // steals from them (Go's handoffp). Left idle, it waited for a wakep()
    // that the busy Ps' goroutines, queued behind each other, seldom make,
    // and the M of a goroutine that loops short blocking sections took it
    // back at each section's end: four computing goroutines shared one
    // core beside it (a review, 2026-12-07: 1.0 CPUs used of 2; Go 1.5).
    if (!work) {
      int32_t none = 0;
      if (!idle_p_takeable() && sched.nmspinning.compare_exchange_strong(none, 1, std::memory_order_seq_cst))
        spin = true;
      else
        pidleput_locked(pp);
    }
  }
  // The P keeps its place among the active ones, with a new M. (Its timers
  // need nothing: an idle P's timers are run by the timed sleeper.)
  if (work || spin) startm(pp, spin);
}

void reacquire_p(m* mp) {
  p* pp;
  {
    lock_guard lk(sched.lock);
    pp = pidleget_locked();
  }
  if (pp != nullptr) {
    acquirep(mp, pp);
    return;
  }
  // No P free: queue the goroutine for one and let this M sleep until it
  // is handed a P (schedule_loop). It may resume on another M.
  check_thread_locks_at_park(mp->curg, wait_reason::none);  // debug builds only
  mcall_on(mp, m_action::requeue, nullptr, nullptr);
}

void handoff_detached(p* pp) {
  p* np;
  {
    // The move to the global queue happens under sched.lock: goroutines
    // taken from the ring but not yet in the global queue would be in no
    // queue at all, and a worker going idle meanwhile would run the
    // deadlock check, see every queue empty and every M idle (the monitor
    // is not an M), and report a deadlock that is not there (seen once in
    // Stress.BinarySpawnTree with 4 Ps on 2 loaded cores: 245 "runnable"
    // goroutines in the report).
    lock_guard lk(sched.lock);
    if (pp->detached.exchange(true)) return;
    sched.ndetached.fetch_add(1, std::memory_order_seq_cst);
    runq_drain_to_global_locked(pp);
    np = pidleget_locked();
  }
  if (np != nullptr) startm(np, false);
}

// ---- park / ready ------------------------------------------------------------

namespace {

// Counts a goroutine's wait starting or ending (stats.hpp): on the P it
// holds, else (inside goro::blocking) in the global counters.
inline void count_wait(p* pp, std::atomic<uint64_t> (p_stats::*per_p)[kWaitReasonCount],
                       std::atomic<uint64_t> (stats_global_t::*global)[kWaitReasonCount], wait_reason reason) {
  const int r = static_cast<int>(reason);
  if (pp != nullptr)
    stat_add_owned((pp->stats.*per_p)[r]);
  else
    (stats_global.*global)[r].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

void park(wait_reason reason, unlock_fn unlock, void* arg) { park_waiter(current_waiter(), reason, unlock, arg); }

void park_waiter(g* w, wait_reason reason, unlock_fn unlock, void* arg) {
  if (!w->is_thread) {
    g* gp = w;
    m* mp = gp->cur_m;
    GORO_DCHECK(mp == current_m() && mp->curg == gp);
    check_thread_locks_at_park(gp, reason);  // debug builds only (thread_locks.hpp)
    // Atomic stores: the dumps read both from other threads while it
    // waits. Plain moves on x86-64 and arm64.
    __atomic_store(&gp->reason, &reason, __ATOMIC_RELAXED);
    int64_t since = sched.coarse_now.load(std::memory_order_relaxed);
    __atomic_store(&gp->wait_since, &since, __ATOMIC_RELAXED);
    count_wait(owned_p(mp), &p_stats::parks, &stats_global_t::parks, reason);
    mcall_on(mp, m_action::park, unlock, arg);
    count_wait(owned_p(gp->cur_m), &p_stats::resumes, &stats_global_t::resumes, reason);
    wait_reason none = wait_reason::none;
    __atomic_store(&gp->reason, &none, __ATOMIC_RELAXED);
    race_acquire(race_token(gp));
    return;
  }
  w->reason = reason;
  w->wait_since = sched.coarse_now.load(std::memory_order_relaxed);
  const int r = static_cast<int>(reason);
  stats_global.parks[r].fetch_add(1, std::memory_order_relaxed);
  stats_global.threads_waiting.fetch_add(1, std::memory_order_relaxed);
  g_transition(w, g_status::running, g_status::waiting);
  if (unlock != nullptr && !unlock(w, arg)) {
    g_transition(w, g_status::waiting, g_status::running);
    w->reason = wait_reason::none;
    stats_global.resumes[r].fetch_add(1, std::memory_order_relaxed);
    stats_global.threads_waiting.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  // A plain thread that blocks may have been the last thing that could wake
  // anyone; the monitor's periodic check (sysmon.cpp) sees that, so this
  // path, hot for channels used from threads, takes no global lock.
  auto* word = reinterpret_cast<std::atomic<uint32_t>*>(&w->status);
  while (w->status.load(std::memory_order_acquire) == g_status::waiting)
    futex_wait(word, static_cast<uint32_t>(g_status::waiting));
  g_transition(w, g_status::runnable, g_status::running);
  w->reason = wait_reason::none;
  stats_global.resumes[r].fetch_add(1, std::memory_order_relaxed);
  stats_global.threads_waiting.fetch_sub(1, std::memory_order_relaxed);
  race_acquire(race_token(w));
}

namespace {

// ready() without the race detector's edge from the caller to gp: for the
// timers' sleepers, which timers_run readies on the scheduler stack. In Go
// a sleeper's wake-up orders it after nothing (goready makes no race
// edge); here a release there would hand the scheduler stack's history to
// the sleeper, and through it whatever that stack had acquired, hiding a
// race between the sleeper and an unrelated goroutine (section 8).
void ready_unordered(g* gp) {
  if (g_trace_on.load(std::memory_order_relaxed) && !gp->is_thread) [[unlikely]] {
    m* cur = current_m();
    trace_record(trace_ev::go_unblock, gp->id, cur != nullptr && cur->curg != nullptr ? cur->curg->id : 0);
  }
  if (gp->is_thread) {
    check_not_forked_child();  // the waiter's thread is the parent's (fork.cpp)
    g_transition(gp, g_status::waiting, g_status::runnable);
    g_thread_readies.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(reinterpret_cast<std::atomic<uint32_t>*>(&gp->status), 1);
    return;
  }
  g_wake_transition(gp);
  prefetch_resume_frames(gp);
  m* mp = current_m();
  if (p* pp = owned_p(mp)) {
#if defined(GORO_DEBUG_CHECKS)
    // Debug and sanitizer builds send a quarter of the readied goroutines
    // through the global queue, so they often resume on another worker:
    // code that holds a thread-affine lock across a park or keeps a
    // thread-local address across one then fails in CI, not in production
    // (DESIGN.md section 6).
    if ((fastrand(&pp->rand_state) & 3) == 0) {
      globrunq_put(gp);
      return;
    }
#endif
    // gp goes to runnext, to run at the waker's next switch, typically
    // microseconds away (it is about to block, as in a ping-pong or a
    // request/response). But if the waker computes or enters
    // goro::blocking instead, gp must not wait for it while a P is idle:
    // as Go's ready(), wake a spinning worker, which takes runnext if the
    // waker's switch count stands still for a moment (runq.cpp,
    // victim_runs_its_runnext) and otherwise naps beside it, still
    // spinning, so that the pair's later handoffs wake nobody.
    //
    // An empty runnext is filled with a release store rather than the
    // seq_cst exchange (only the owner makes runnext non-null, so it stays
    // empty until this store): one locked instruction less per handoff.
    // The store-load barrier that wakep()'s reads need is paid only when a
    // P is free to take the work, which is when wakep() has work to do.
    if (mp->curg != nullptr && pp->q.runnext.load(std::memory_order_relaxed) == nullptr && runq_empty_ring(pp)) {
      bool wake = wakep_may_help();
      if (wake) {
        pp->q.runnext_woke_tick.store(pp->schedtick.load(std::memory_order_relaxed), std::memory_order_relaxed);
        pp->q.runnext_woke_ns.store(nanotime(), std::memory_order_relaxed);
      }
      pp->q.runnext.store(gp, std::memory_order_release);  // pairs with thieves' acquire load
      if (wake) {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        wakep();
      }
      return;
    }
    g* prev = pp->q.runnext.exchange(gp, std::memory_order_seq_cst);
    if (prev != nullptr) runq_put(pp, prev, false);
    wakep();
  } else {
    check_not_forked_child();  // no worker would run it (fork.cpp)
    globrunq_put(gp);
  }
}

}  // namespace

void ready(g* gp) {
  race_release(race_token(gp));
  ready_unordered(gp);
}

void ready_goroutines(g* const* gs, int n) {
  if (n == 0) return;
  m* mp = current_m();
  GORO_DCHECK(mp != nullptr && mp->pp != nullptr);
#if defined(GORO_DEBUG_CHECKS)
  // ready()'s random detours through the global queue (see there).
  for (int i = 0; i < n; i++) ready_unordered(gs[i]);
  (void)mp;
#else
  p* pp = mp->pp;
  for (int i = 0; i < n; i++) {
    g* gp = gs[i];
    GORO_DCHECK(!gp->is_thread);
    trace(trace_ev::go_unblock, gp->id);  // by a timer: no goroutine readies it
    g_wake_transition(gp);
    prefetch_resume_frames(gp);
    // The last of the batch runs next, as Go's timers ready each sleeper
    // into runnext; the rest queue at the ring's tail. With the ring full
    // behind a ping-pong pair in runnext, the ring advances one goroutine
    // per kRunnextStreakMax + 1 switches, and a woken sleeper queued at its
    // tail waited some 16,000 switches (1.2 ms at the median in a probe).
    runq_put(pp, gp, i == n - 1);
  }
  // The store-load barrier wakep()'s read of nmspinning needs after the
  // release stores that published the goroutines (sched.hpp).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  wakep();
#endif
}

int env_int(const char* name, int fallback, int max) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  long n = strtol(v, &end, 10);
  if (*end != '\0' || n < 1 || n > max) {
    print_stderr("goro: ignoring %s=%s (want an integer from 1 to %d)\n", name, v, max);
    return fallback;
  }
  return static_cast<int>(n);
}

[[noreturn]] void fatal_bad_wake(const g* gp, g_status cur) {
  fatal("goroutine %llu: bad status transition waiting -> runnable (status is %s)",
        static_cast<unsigned long long>(gp->id), g_status_string(cur));
}

void g_transition(g* gp, g_status from, g_status to) {
  g_status cur = from;
  // acq_rel: the waking side (waiting -> runnable) publishes what it did;
  // the other transitions are made by the thread that owns the g.
  if (!gp->status.compare_exchange_strong(cur, to, std::memory_order_acq_rel, std::memory_order_acquire))
    fatal("goroutine %llu: bad status transition %s -> %s (status is %s)",
          static_cast<unsigned long long>(gp->id), g_status_string(from), g_status_string(to),
          g_status_string(cur));
}

const char* g_status_string(g_status s) {
  switch (s) {
    case g_status::idle: return "idle";
    case g_status::runnable: return "runnable";
    case g_status::running: return "running";
    case g_status::waiting: return "waiting";
    case g_status::dead: return "dead";
  }
  return "?";
}

// ---- public API --------------------------------------------------------------

namespace test_hooks {

std::atomic<void (*)()> stop_m_enter{nullptr};
std::atomic<void (*)()> stop_m_before_timer_read{nullptr};
std::atomic<void (*)(int64_t)> stop_m_after_timer_read{nullptr};
std::atomic<void (*)()> stop_m_after_poll{nullptr};
std::atomic<bool> monitor_poll_off{false};
std::atomic<void (*)()> select_pass2_round{nullptr};
std::atomic<void (*)()> num_goroutine_after_first_read{nullptr};
std::atomic<void (*)()> trace_before_write{nullptr};
std::atomic<void (*)()> trace_registering_buffer{nullptr};
std::atomic<void (*)()> thread_waiter_registering{nullptr};
std::atomic<void (*)()> waker_pool_locked{nullptr};
std::atomic<void (*)()> lock_order_recording{nullptr};
std::atomic<void (*)()> g_list_locked{nullptr};
std::atomic<void (*)()> semaphore_handed_over{nullptr};
std::atomic<void (*)()> ctx_cancel_before_release{nullptr};
std::atomic<uint64_t> ctx_chain_walks{0};
std::atomic<void (*)()> ctx_publish_before_close{nullptr};
std::atomic<void (*)()> panic_report_starting{nullptr};
std::atomic<void (*)()> signal_dispatch_unlocked{nullptr};
void set_schedticks(uint64_t tick) {
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) p_for_index(i)->schedtick.store(tick, std::memory_order_relaxed);
}
std::atomic<bool> timer_grow_fails{false};
std::atomic<bool> stack_lists_grow_fails{false};
std::atomic<void (*)()> thread_wait_before_ppoll{nullptr};
std::atomic<void (*)()> net_set_deadline_before_poller{nullptr};
std::atomic<int> thread_waits_without_eventfd{0};

int64_t timed_sleep_until() { return sched.timed_sleep_until.load(std::memory_order_seq_cst); }

int64_t earliest_timer() { return timers_next_when(); }

}  // namespace test_hooks

}  // namespace goro::detail

namespace goro {

void preempt_point() { detail::preempt_check(); }

void yield() {
  using namespace detail;
  m* mp = current_m();
  if (mp == nullptr || mp->curg == nullptr) {
    sched_yield();
    return;
  }
  check_thread_locks_at_park(mp->curg, wait_reason::none);  // debug builds only
  mcall(m_action::yield, nullptr, nullptr);
}

uint64_t goroutine_id() {
  detail::m* mp = detail::current_m();
  return (mp != nullptr && mp->curg != nullptr) ? mp->curg->id : 0;
}

int64_t num_goroutine() {
  using namespace detail;
  // Each count is read once, not all at one instant: a goroutine started
  // after its creator's count was read and gone before its last P's was
  // is subtracted without having been added. The sum can then fall below
  // the goroutines alive, even below zero; Go's NumGoroutine clamps too.
  int64_t n = sched.ngoroutines_foreign.load(std::memory_order_relaxed);
  if (auto hook = test_hooks::num_goroutine_after_first_read.load(std::memory_order_relaxed)) hook();
  int32_t np = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) n += p_for_index(i)->ngoroutines.load(std::memory_order_relaxed);
  return std::max<int64_t>(n, 0);
}

int set_max_threads(int n) {
  using namespace detail;
  ensure_runtime();
  if (n < 1) return sched.max_threads.load(std::memory_order_relaxed);
  int old;
  int32_t count;
  {
    // As Go's setMaxThreads (checkmcount under sched.lock): a limit below
    // the threads the program has now ends it at once, as if it had just
    // made one too many (it used to go on until the next thread).
    lock_guard lk(sched.lock);
    old = sched.max_threads.exchange(n, std::memory_order_relaxed);
    count = sched.mcount;
  }
  if (count > n) thread_exhaustion(n);
  return old;
}

int maxprocs() {
  detail::ensure_runtime();
  return detail::sched.maxprocs.load(std::memory_order_relaxed);
}

int set_maxprocs(int n) {
  using namespace detail;
  ensure_runtime();
  if (n < 1) return sched.maxprocs.load(std::memory_order_relaxed);
  if (n > kMaxP / 2) n = kMaxP / 2;
  int old = sched.maxprocs.exchange(n, std::memory_order_seq_cst);
  if (n > old) wakep();
  if (n < old) {
    // The idle Ps beyond the new budget may never run again: their caches
    // go back to the global pools now (the running ones' go as their
    // workers give them up, release_p_if_over_budget). Which idle Ps the
    // budget leaves is not known, so all of them: a P taken up again
    // refills from the pools.
    lock_guard lk(sched.lock);
    for (p* pp = sched.pidle; pp != nullptr; pp = pp->link) p_caches_flush(pp);
  }
  return old;
}

}  // namespace goro
