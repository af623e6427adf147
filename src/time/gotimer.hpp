// The record behind goro::timer, goro::ticker and goro::after_func
// (Go's runtime timer with its channel, runtime/time.go).
//
// A record is a runtime timer (time/timer.hpp: an entry in its P's heap)
// plus what firing does: deliver the time on the timer's channel, or start
// a goroutine that runs the stored function.
//
// Memory. A channel timer's record (96 bytes) and its channel (an
// unbuffered hchan, 104) are a slot of the record arenas and its
// companion (time/rec_slab.hpp: apart, so that Stops stream through the
// records alone), made by new_timer and freed together; with its 16-byte
// heap entry a pending timer costs about 218 bytes, where Go 1.19's
// time.NewTimer costs 220-228 (the toolkit/timer_add anchor). The
// channel used to be made by the first c(), with its sudog, from two
// more allocations: 304 bytes once c() was called, as every Go-style
// use does. The sudog that carries a value to the channel (below) is
// still made apart, the first time a fired value has to wait for its
// receiver: a timer stopped before it fires, or whose every value finds
// a receiver parked, never has one. (A receive that finds the deadline
// passed fires the timer itself, timer_rec_run_if_due, before it parks:
// that value waits for it, so it makes one.)
//
// The channel (Go 1.23 semantics). A timer channel is an unbuffered hchan
// with a virtual sender: the value the timer fired is held in the record
// (`value`) and offered by a sudog without a goroutine (`sd`, gp null)
// queued on the channel's sendq, so that a receive or a select takes it
// exactly as it takes a parked sender's value, and stop/reset withdraw it
// by unlinking the sudog. So the channel never holds a stale value, len()
// and cap() read 0, and a ticker drops a tick while one is still queued.
//
// Firing and re-arming (no seq numbers): an entry popped from a heap may
// fire while its owner re-arms the record, so firing checks, under the
// record's lock, that the record is armed and its *current* deadline has
// passed (`t.when <= now`). A fire of an older arming whose deadline has
// passed is as good as the current one's (it is not early); one whose
// deadline has not come is stale and does nothing.
//
// Lifetime. `refs` counts the timer's handles, its channel's handles (a
// timer channel's refs_ is unused: chan_retain/chan_release forward here),
// goroutines running an after_func's function, and one reference held for
// the runtime while `entries` > 0. `entries` counts heap entries plus fires
// in progress (popped, callback not done): a record is never freed while
// the heap or a firing worker still points at it. Channel timers and
// tickers that nobody can observe any more are cancelled: the handle
// drop that leaves refs == 2 with entries > 0 is the last user's, and it
// deletes the heap entry (unless the timer was stopped lock-free: T5); a fire that finds refs == 1 delivers nothing and
// does not re-arm. after_func records keep firing without handles.
//
// Stop without the lock (T5). Go's Stop of a pending timer is one CAS on
// the timer's status, its heap entry left for its P to drop; ours took the
// record's lock and then the P heap's lock to kill the entry (four atomic
// read-modify-writes and a cache miss per lock word, 60+ ns). Now, while
// the record is in the state T5 names, Stop is time/timer.hpp's
// timer_lf_del: one CAS on the runtime timer's `lf` word that turns the
// entry into a zombie. Everything else that changes the record holds its
// lock, and the lock (rec_lock in gotimer.cpp) takes `lf` back first: a
// Stop that won its CAS is then applied as if it had held the lock just
// before (disarmed; the entry deleted, or left to whoever already dropped
// it). So the CAS is ordered with every locked change: it either came
// before (and the holder sees it) or fails (and Stop takes the lock).
// The zombie entry keeps the runtime's reference (T1) until it is dropped
// by a pop at its deadline (a stale fire), by the next locked change (a
// reset, ...), or by a reaper (sysmon, once a P's zombies may be half its
// heap; the deadlock check, all), which hands its count back through
// fire(t, kTimerReaped) without the lock. The last handle's drop leaves a
// zombie alone (one atomic, as a stopped timer's drop was before; deleting
// the entry there took both locks and cost more than the lock-free stop
// saved), so the record is freed by whoever drops the entry. Memory: a
// zombie costs its 16-byte entry, plus its record and channel (200
// bytes, and the sudog if it ever queued a value) once no handle is
// left, and zombies are at most about half a P's heap between sysmon's
// reaps. Only channel timers and tickers stop lock-free: an after_func's
// function (and what it captured) must go with its last handle after a
// Stop, not when a reaper comes.
//
// Invariants (under `lock` unless said):
//  T1. entries > 0 iff the runtime's reference is held (it is taken under
//      the lock at 0 -> 1; dropped after the 1 -> 0 decrement, which is
//      made under the lock, or by fire(kTimerReaped) without it: entries
//      is atomic for that).
//  T2. At most one heap entry: every timer_add is preceded, under the lock,
//      by a timer_del when entries > 0.
//  T3. A value is pending (sd->in_queue, under the channel's lock too)
//      only for channel timers, and at most one. sd, once made, stays
//      until the record is freed.
//  T4. armed == false => no delivery, whatever fires.
//  T5. t.lf is kLfArmed (a lock-free Stop allowed) only while the lock is
//      free and the record is a channel timer armed with nothing to
//      withdraw: a one-shot, or a ticker that has never had to queue a
//      tick (no sd; rec_lock's lf_stoppable). Set as the lock is
//      released (a fresh record, never locked: under the P heap's lock as
//      its entry goes in, timer_add_lf_armed), taken back (exchanged to
//      kLfNone) as it is taken, before any field is read. `armed` may
//      thus be stale only while `lf` says kLfZombie or kLfReaped, and only
//      until the next holder applies it.
//
// Lock order: record lock (rank `timer`) -> its channel's lock (`chan`) ->
// P timer heap locks (`timers`) -> `sched` (timer_add's wake-up). Nothing is
// readied and no goroutine started under a lock. The lock-free Stop takes
// none; the reaper takes a heap lock alone, and calls fire(kTimerReaped)
// after releasing it. Chan records' memory: time/rec_slab.hpp (leaf lock).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "base/lock.hpp"
#include "goro/timer.hpp"
#include "time/timer.hpp"

namespace goro::detail {

struct hchan;
struct sudog;

enum class timer_kind : uint8_t { chan, func };

struct timer_rec {
  timer t;                          // first: timer* <-> timer_rec*; t.when guarded by lock
  int64_t period = 0;               // ns; 0: one-shot. Guarded by lock
  std::chrono::steady_clock::time_point value{};  // the pending value (T3); lock, and c's lock once queued
  std::atomic<uint32_t> refs{1};
  std::atomic<uint32_t> entries{0};  // T1, T2
  runtime_lock lock{lock_rank::timer};
  timer_kind kind = timer_kind::chan;
  bool armed = false;
  uint16_t closure_off = 0;         // func: where the function is stored, from this
  uint16_t closure_align = 0;       // func: its allocation's alignment
  union {
    hchan* c = nullptr;             // chan: its channel, in the slot's companion (rec_slab.hpp)
    const void* created_pc;         // func: where after_func was called (its goroutines name it)
  };
  sudog* sd = nullptr;              // chan: the virtual sender of `value`, once needed (T3)
};

static_assert(offsetof(timer_rec, t) == 0, "timer_rec::t must come first");

}  // namespace goro::detail
