// goro::wait_group: Go's sync.WaitGroup algorithm (sync/waitgroup.go), with
// the counter split across workers while it is large.
//
// state_ packs the counter (bits 32-63, signed), the number of shards that
// hold a share of it (bits 24-31) and the number of waiters (bits 0-23), so
// that "counter reached zero" and "who is waiting" are read in one atomic
// step. When the counter drops to zero with waiters present, the state is
// reset to 0 and each waiter gets one semaphore unit (Go's algorithm).
//
// Why shards: with one counter, every done() from goroutines finishing on
// two cores moves the counter's cache line between them; spawning 1,000,000
// goroutines that each call done() spent about half its time there (64-66
// ns per goroutine, 30-46 with a per-core counter instead). So, while the
// counter is large, a worker takes a batch of kBatch units out of it into
// its own shard (one cache line, normally touched by that worker only) and
// counts its done() calls down there.
//
// Invariants:
//  S1. counter == (units not in any shard) + held, where held is the number
//      of shards whose units are > 0 (each such shard keeps one "marker"
//      unit in the counter). So the counter cannot reach zero while any
//      shard holds a unit, and the true count is counter - held + the sum
//      of the shards' units.
//  S2. A shard goes from 0 to k units only by a borrow (a CAS on state_
//      that moves k + 1 units out of the counter and adds a marker, then a
//      CAS of the shard from 0; if that fails, the units and the marker go
//      back), and to 0 only by a CAS on the shard, whose maker then
//      removes the marker (an RMW on state_): from 1 by a done(), from any
//      n by an add(-k) (drain_shards, which puts the n units back with the
//      same RMW; counter += n - 1 then, so never a zero it did not have).
//  S3. done() touches the wait_group after its decrement only when that
//      decrement cannot have been the last one: a shard decrement that left
//      units, or one that emptied the shard and so still has its marker in
//      the counter until the marker's removal, which is then the decisive
//      step, as the single counter's decrement is in Go. (A waiter may
//      destroy the wait_group as soon as the counter reaches zero.)
//  S4. A borrow needs counter - held >= 2 * kBatch: it takes units that
//      some done() still owes, never more than there are.
//  Between a borrow's CAS and the shard's fill, and between a shard's emptying
//  and its marker's removal, the shard reads 0 while the counter counts a
//  marker; a done() that finds every unit in shards and none it can take
//  waits for that window to close (take_from_shards, done_central).
//
// Ordering: every update of state_ and of a shard is acq_rel, so each
// done() is in a chain of read-modify-writes that ends in the update that
// brings the counter to zero, and the waiter wakes after that.
//
// Happens-before (stated for TSan, since the runtime is not instrumented):
// every done() releases on the wait_group; wait() acquires on it before it
// returns.
#include "goro/wait_group.hpp"

#include <new>

#include "base/backoff.hpp"
#include "base/race.hpp"
#include "goro/panic.hpp"
#include "sched/sched.hpp"
#include "sync/sema.hpp"

namespace goro {

namespace {
constexpr int kCounterShift = 32;
constexpr int kHeldShift = 24;
constexpr uint64_t kOne = uint64_t{1} << kCounterShift;
constexpr uint64_t kHeldOne = uint64_t{1} << kHeldShift;
constexpr uint32_t kHeldMax = 0xff;
constexpr uint32_t kWaitersMax = 0xffffff;
constexpr uint32_t kBatch = 64;           // units a worker takes at a time
constexpr int64_t kShardFrom = 1024;      // shards are made once the counter reaches this
constexpr uint32_t kMaxShards = 64;

int32_t counter_of(uint64_t s) { return static_cast<int32_t>(s >> kCounterShift); }
uint32_t held_of(uint64_t s) { return static_cast<uint32_t>(s >> kHeldShift) & kHeldMax; }
uint32_t waiters_of(uint64_t s) { return static_cast<uint32_t>(s) & kWaitersMax; }
}  // namespace

struct wait_group::shard_block {
  struct alignas(64) shard {
    std::atomic<uint32_t> units{0};
  };
  uint32_t mask;  // shard count - 1 (a power of two)
  shard s[kMaxShards];
};

wait_group::~wait_group() {
  shard_block* sb = shards_.load(std::memory_order_acquire);
  if (sb == nullptr) return;
  // No done() on this wait_group is running (S3), but Ps may still name it
  // in their memo; a new wait_group at this address must not find it.
  int32_t n = detail::sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) {
    const void* key = this;
    detail::sched.allp[i].load(std::memory_order_acquire)
        ->wg_memo_key.compare_exchange_strong(key, nullptr, std::memory_order_acq_rel);
  }
  delete sb;
}

// The counter changed by delta (state is its new value): Go's checks, and
// the wake-up when it reached zero with waiters.
void wait_group::after_update(uint64_t state, int64_t delta) {
  int32_t v = counter_of(state);
  uint32_t w = waiters_of(state);
  if (v < 0) throw panic_error("sync: negative WaitGroup counter");
  if (w != 0 && delta > 0 && v == static_cast<int32_t>(delta))
    throw panic_error("sync: WaitGroup misuse: Add called concurrently with Wait");
  if (v > 0 || w == 0) return;
  // Counter is zero (so no shard holds a unit, S1) and there are waiters:
  // no add() may race with this.
  if (state_.load(std::memory_order_relaxed) != state)
    throw panic_error("sync: WaitGroup misuse: Add called concurrently with Wait");
  // release: a wait() that comes later and reads this 0 returns at once,
  // after every done() (this store heads no release sequence of theirs).
  state_.store(0, std::memory_order_release);
  for (; w > 0; w--) detail::semrelease(&sema_);
}

void wait_group::add(int64_t delta) {
  if (delta == -1) {
    done();
    return;
  }
  if (delta < -1) {
    // In one step while no shard holds units, as Go's Add: taking more
    // than the counter holds panics with nobody released (one unit at a
    // time, the unit that reached zero released the waiters first).
    detail::race_release(this);
    const uint64_t minus = (uint64_t{0} - static_cast<uint64_t>(delta)) << kCounterShift;
    detail::backoff wait;
    uint64_t state = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (held_of(state) == 0) {
        // (The counter wraps as Go's does: a delta beyond it panics.)
        if (state_.compare_exchange_weak(state, state - minus, std::memory_order_acq_rel, std::memory_order_relaxed)) {
          after_update(state - minus, delta);
          return;
        }
        continue;
      }
      // Some units sit in shards (S1; the counter is large): back into
      // the counter first, so that the delta is one step and a delta
      // beyond the count panics with nobody released (one unit at a time,
      // the unit that reached zero released the waiters first).
      if (!drain_shards()) wait.snooze();  // a shard between its borrow and its fill
      state = state_.load(std::memory_order_relaxed);
    }
  }
  uint64_t state = state_.fetch_add(static_cast<uint64_t>(delta) << kCounterShift, std::memory_order_acq_rel) +
                   (static_cast<uint64_t>(delta) << kCounterShift);
  after_update(state, delta);
}

// Spends one unit of a shard: false if it read empty. The unit that
// empties the shard also drops the shard's marker from the counter (S2),
// which is the decisive step when it is the last unit (S3).
bool wait_group::take_unit(std::atomic<uint32_t>& units) {
  uint32_t n = units.load(std::memory_order_relaxed);
  while (n > 0) {
    if (units.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      if (n == 1) after_update(state_.fetch_sub(kOne + kHeldOne, std::memory_order_acq_rel) - (kOne + kHeldOne), -1);
      return true;
    }
  }
  return false;
}

// Moves every shard's units back into the counter, each shard's in one
// CAS that empties it (S2: its marker goes with them). Returns whether it
// left no shard held, as far as it saw.
bool wait_group::drain_shards() {
  shard_block* sb = shards_.load(std::memory_order_acquire);
  if (sb == nullptr) return false;
  for (uint32_t i = 0; i <= sb->mask; i++) {
    std::atomic<uint32_t>& units = sb->s[i].units;
    uint32_t n = units.load(std::memory_order_relaxed);
    while (n > 0) {
      if (units.compare_exchange_weak(n, 0, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        // n units back, the marker (one unit) and the held count out.
        state_.fetch_add((static_cast<uint64_t>(n - 1) << kCounterShift) - kHeldOne, std::memory_order_acq_rel);
        break;
      }
    }
  }
  return held_of(state_.load(std::memory_order_relaxed)) == 0;
}

// Takes one unit from some shard. False if every shard read empty (units
// in flight: see the file comment).
bool wait_group::take_from_shards() {
  shard_block* sb = shards_.load(std::memory_order_acquire);
  if (sb == nullptr) return false;
  for (uint32_t i = 0; i <= sb->mask; i++)
    if (take_unit(sb->s[i].units)) return true;
  return false;
}

// done() without a unit of the caller's own shard.
void wait_group::done_central() {
  detail::backoff wait;
  uint64_t state = state_.load(std::memory_order_relaxed);
  for (;;) {
    int32_t v = counter_of(state);
    uint32_t held = held_of(state);
    if (held == 0 || v - static_cast<int32_t>(held) >= 1) {
      // A unit outside the shards (or none at all: the counter goes
      // negative and after_update panics, as Go does).
      if (state_.compare_exchange_weak(state, state - kOne, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        after_update(state - kOne, -1);
        return;
      }
      continue;
    }
    // Every unit left sits in shards (S1): take one there.
    if (take_from_shards()) return;
    // A shard is between its borrow and its fill, or between emptying and
    // dropping its marker: a few instructions, unless its thread was
    // descheduled.
    wait.snooze();
    state = state_.load(std::memory_order_relaxed);
  }
}

void wait_group::done() {
  detail::m* mp = detail::current_m();
  detail::p* pp = detail::owned_p(mp);
  std::atomic<uint32_t>* shard = nullptr;
  if (pp != nullptr) {  // else a plain thread (or a worker between goroutines)
    if (pp->wg_memo_key.load(std::memory_order_relaxed) == this)
      shard = static_cast<std::atomic<uint32_t>*>(pp->wg_memo_shard);
    else
      shard = find_shard(pp);
  }
  // After find_shard, whose allocation the waiter's thread may free.
  detail::race_release(this);
  if (shard != nullptr) {
    count_down(*shard);
  } else {
    done_central();
  }
}

// This P's shard of the wait_group, made if the counter is large; null if
// the counter is small. Remembered in the P's memo.
std::atomic<uint32_t>* wait_group::find_shard(detail::p* pp) {
  shard_block* sb = shards_.load(std::memory_order_acquire);
  if (sb == nullptr) {
    uint64_t state = state_.load(std::memory_order_relaxed);
    if (counter_of(state) < kShardFrom) return nullptr;
    // Large counter: make the shards (once; the loser of a race frees its).
    auto* fresh = new (std::nothrow) shard_block;
    if (fresh == nullptr) return nullptr;
    uint32_t n = 1;
    auto procs = static_cast<uint32_t>(detail::sched.maxprocs.load(std::memory_order_relaxed));
    while (n < kMaxShards && n < procs) n <<= 1;
    fresh->mask = n - 1;
    if (shards_.compare_exchange_strong(sb, fresh, std::memory_order_acq_rel, std::memory_order_acquire)) {
      sb = fresh;
    } else {
      delete fresh;
    }
  }
  auto* units = &sb->s[static_cast<uint32_t>(pp->id) & sb->mask].units;
  pp->wg_memo_shard = units;
  pp->wg_memo_key.store(this, std::memory_order_release);
  return units;
}

// done() on the given shard.
void wait_group::count_down(std::atomic<uint32_t>& units) {
  // Usually this P's own shard; Ps beyond the shard count (maxprocs raised
  // later) share one, so every change of a shard is a CAS.
  if (take_unit(units)) return;
  // Empty: borrow a batch if the counter is large (S4), else count centrally.
  uint64_t state = state_.load(std::memory_order_relaxed);
  for (;;) {
    int32_t v = counter_of(state);
    uint32_t held = held_of(state);
    if (held == kHeldMax || v - static_cast<int32_t>(held) < static_cast<int32_t>(2 * kBatch)) break;
    // kBatch units out (one of them is this done()), one marker in.
    uint64_t next = state - kBatch * kOne + kOne + kHeldOne;
    if (state_.compare_exchange_weak(state, next, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      uint32_t zero = 0;
      if (units.compare_exchange_strong(zero, kBatch - 1, std::memory_order_acq_rel, std::memory_order_relaxed))
        return;
      // A P sharing this shard filled it first: give the batch back (but
      // this done()'s unit) and drop the marker. The counter only grows.
      state_.fetch_add((kBatch - 1) * kOne - (kOne + kHeldOne), std::memory_order_acq_rel);
      return;
    }
  }
  done_central();
}

void wait_group::wait() {
  uint64_t state = state_.load(std::memory_order_acquire);
  for (;;) {
    if (counter_of(state) == 0) {
      detail::race_acquire(this);
      return;
    }
    if (waiters_of(state) == kWaitersMax) throw panic_error("sync: WaitGroup has too many waiters");
    if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) {
      detail::semacquire(&sema_, detail::wait_reason::sync_wait_group_wait);
      if (state_.load(std::memory_order_acquire) != 0)
        throw panic_error("sync: WaitGroup is reused before previous Wait has returned");
      detail::race_acquire(this);
      return;
    }
  }
}

}  // namespace goro
