// goro::after (Go's time.After): a buffered channel of capacity 1 that a
// runtime timer (time/timer.hpp) fills once. Go 1.23 semantics: len() and
// cap() read 0 (hchan::sync_view_), and since an after() channel cannot be
// stopped or reset, it never holds a stale value.
//
// Ownership: the timer record belongs to the channel (hchan::after_timer_,
// freed with it). While pending, the timer holds a reference to the
// channel; it drops it after firing. Dropping the channel's last handle
// before then cancels the timer and frees both at once (chan_release), as
// Go 1.23 collects an unreferenced timer: a select loop with an after()
// case per round keeps no timers from past rounds.
//
// The callback runs on a worker's scheduler stack with no lock held: it
// only takes the channel lock (rank chan) if a receiver is parked, and
// never blocks, since the one send always finds room. A receive that
// finds the buffer empty once the deadline has passed runs the timer
// itself (after_run_if_due, Go's maybeRunChan), so that even a
// non-blocking receive sees the value as soon as the clock is past it.
// If a worker's timers_run has taken the entry off its heap first (it
// pops a batch, then fires them one by one), the receive waits for that
// fire's send (after_sent_), a step that never blocks, as Go's
// maybeRunChan waits on the timer's lock while a fire holds it.
#include <chrono>
#include <memory>

#include "base/backoff.hpp"
#include "base/futex.hpp"
#include "chan/hchan.hpp"
#include "sched/test_hooks.hpp"
#include "time/timer.hpp"

namespace goro::detail {

namespace {

using time_point = std::chrono::steady_clock::time_point;

// Sends the deadline (as Go's sendTime: a late fire does not move the
// value) and drops the timer's reference.
void after_fire(timer* t, int64_t) {
  auto* c = static_cast<hchan*>(t->arg);
  time_point due{std::chrono::nanoseconds(t->when)};
  chan_try_send(c, &due);  // room for one: never would_block, never closed
  // release: a receive that waits for this sees the value in the buffer.
  c->after_sent_.store(true, std::memory_order_release);
  chan_release(c);  // the timer's reference; may free c and t
}

}  // namespace

bool after_timer_retain(timer* t) noexcept {
  if (t->fn != after_fire) return false;
  chan_retain(static_cast<hchan*>(t->arg));  // (pending: the timer's reference is held)
  return true;
}

bool after_timer_waited(timer* t) noexcept {
  auto* c = static_cast<hchan*>(t->arg);
  lock_guard lk(c->lock_);
  return !c->recvq_.empty();
}

void after_timer_release(timer* t) noexcept { chan_release(static_cast<hchan*>(t->arg)); }

bool after_run_if_due(hchan* c) noexcept {
  timer* t = c->after_timer_;
  // t->when is written once, before the channel's first handle exists.
  if (t->when > nanotime()) return false;
  // Whoever takes the entry off the heap fires it: this receive, or the
  // P's pop. Then the value is in the buffer, or on its way from a fire
  // running now on another worker: wait for it (the caller's handle keeps
  // c alive), so that a non-blocking receive does not miss it.
  if (!timer_del(t)) {
    for (backoff b; !c->after_sent_.load(std::memory_order_acquire);) {
      if (auto hook = test_hooks::after_waits_for_fire.load(std::memory_order_relaxed)) [[unlikely]]
        hook(c);
      b.snooze();
    }
    return false;
  }
  after_fire(t, 0);  // the caller's handle keeps c alive through the release
  return true;
}

hchan* chan_after(int64_t deadline_ns) {
  auto owned = std::make_unique<timer>();  // freed here if chan_make throws
  hchan* c = chan_make(&elem_type_of<time_point>::value, 1);
  c->sync_view_ = true;
  timer* t = owned.release();
  t->when = deadline_ns;
  t->fn = after_fire;
  t->arg = c;
  c->after_timer_ = t;
  chan_retain(c);  // the timer's reference
  try {
    timer_add(t);  // throws std::bad_alloc if its P's queue cannot grow
  } catch (...) {
    // Never queued: the timer's reference goes, then the caller's, the
    // last, which frees the channel and its timer.
    c->refs_.fetch_sub(1, std::memory_order_relaxed);
    chan_release(c);
    throw;
  }
  return c;
}

}  // namespace goro::detail
