// A P's local run queue: a bounded single-producer, multi-consumer ring of
// 256 goroutines plus the `runnext` slot (Go's runqput/runqget/runqgrab in
// proc.go, after Chase-Lev's work-stealing deque, with stealing from the
// head in batches of half).
//
// Who touches what:
//  - The owner P (the M holding it) pushes at `tail` and pops at `head`.
//  - Thieves (other Ms, sysmon when it hands a P's work away) take from
//    `head` with a compare-and-swap, half of the queue at a time.
//  - runnext: written by the owner (exchange), taken by the owner or, on the
//    last stealing round, by a thief (compare-and-swap) that saw the owner's
//    switch count stand still for a moment.
// When the ring is full, the owner moves half of it, plus the new g, to the
// global run queue in one batch (runq_put_slow).
//
// The yield list: goroutines that called goro::yield() on this P, oldest
// first, behind everything else runnable here (docs/design.md section 2,
// "Yields stay on their P"). A linked list under its own lock (rank
// p_yields), touched by:
//  - the owner: appends (after_switch) and takes the oldest (when the ring
//    and the global queue are empty, and at every 61st slice);
//  - a thief: an idle P's spinning M takes half (runq_steal, once the ring
//    gave nothing), and a busy P at its 61st switch takes from a P with two
//    or more yielders more than it (runq_balance_yielded);
//  - whoever drains the P under sched.lock (runq_drain_to_global_locked),
//    which moves the list to the global yield queue.
// yield_len is written under the lock and read without it as a hint, except
// by the owner, for whom 0 is exact (only the owner appends).
#pragma once

#include <atomic>
#include <cstdint>

#include "base/lock.hpp"

namespace goro::detail {

struct g;
struct p;

inline constexpr uint32_t kRunqSize = 256;

struct runq {
  // head: next slot to take; tail: next slot to fill. Free-running
  // counters (mod 2^32); slots are index % kRunqSize.
  //
  // Each on its own cache line: thieves write `head`, the owner writes
  // `tail` and `runnext`. Sharing a line made every steal invalidate the
  // line of the owner's next runnext exchange (a cache miss per go() in
  // the spawn benchmark).
  alignas(64) std::atomic<uint32_t> head{0};
  alignas(64) std::atomic<uint32_t> tail{0};
  alignas(64) std::atomic<g*> runnext{nullptr};
  // When ready() last filled runnext and woke a worker for it (owner
  // writes, before the release store of runnext; thieves read), and the
  // owner's switch count then: a thief that finds the count unchanged
  // knows the owner has not switched since, so its look at the owner
  // (victim_runs_its_runnext) counts from then rather than from its own
  // arrival, which came a futex wake-up later.
  std::atomic<int64_t> runnext_woke_ns{0};
  std::atomic<uint32_t> runnext_woke_tick{0};
  // Owner only: goroutines taken from runnext in a row while the ring was
  // not empty (runq_get).
  uint32_t runnext_streak = 0;
  // Owner only: runq_get's last goroutine came from runnext, so it
  // continues the running slice (prepare_run; Go's inheritTime).
  bool took_runnext = false;
  alignas(64) std::atomic<g*> slots[kRunqSize] = {};

  // The yield list (above). Its own line: the owner writes it at every
  // yield, other Ps read yield_len at their 61st switch.
  alignas(64) runtime_lock yield_lock{lock_rank::p_yields};
  g* yield_head = nullptr;  // guarded by yield_lock
  g* yield_tail = nullptr;  // guarded by yield_lock
  std::atomic<uint32_t> yield_len{0};
};

// Puts gp on pp's queue; with `next`, into runnext (the previous runnext
// goes to the tail). Owner only. Spills to the global queue when full.
void runq_put(p* pp, g* gp, bool next);

inline constexpr uint32_t kRunnextStreakMax = 61;

// Takes the next goroutine: runnext first, except that after
// kRunnextStreakMax runnext goroutines in a row the ring's head goes first.
// Two goroutines handing a value back and forth refill runnext for each
// other at every switch; without the limit, anything in the ring behind
// them (a goroutine woken by a timer, say) would wait until another worker
// stole it, and forever with one worker. (Go bounds it with the time slice
// the pair shares, ended by sysmon's preemption.) Owner only.
g* runq_get(p* pp);

// Steals about half of victim's queue into pp's (pp must be empty) and
// returns one of the stolen goroutines, or null. With `steal_next`, takes
// victim's runnext when its queue is empty, unless the victim is about to
// run it itself (it keeps switching): then sets *declined. A victim whose
// ring gives nothing gives half its yield list instead, to pp's yield
// list. Owner of pp only.
g* runq_steal(p* pp, p* victim, bool steal_next, bool* declined);

// Appends gp, which called goro::yield(), to pp's yield list. Owner only.
void runq_put_yielded(p* pp, g* gp);

// Takes the oldest goroutine of pp's yield list, or null. Owner only.
g* runq_get_yielded(p* pp);

// Yielders spread over the Ps: if another P has at least two yielders more
// than pp (its list and the one it runs, against pp's list), moves half the
// difference to pp's list and returns one of them; else null. Owner of pp
// only; called at its 61st switch, so that goroutines that yield in a loop
// do not stay crowded on one P while another runs a lone one (each P keeps
// its own yielders otherwise).
g* runq_balance_yielded(p* pp);

// Takes everything from pp's queue, runnext and yield list (any thread) and
// pushes it on the global queue (the yield list on the global yield queue);
// returns how many it moved. Used when a P gives up
// its place or is handed off. Called with sched.lock held, so that the
// goroutines are never out of every queue while the lock is free (the
// deadlock check looks at the queues under it).
uint32_t runq_drain_to_global_locked(p* pp);

// Nothing runnable in pp's ring, runnext or yield list.
bool runq_empty(const p* pp);

uint32_t runq_len(const p* pp);

}  // namespace goro::detail
