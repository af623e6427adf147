// The buffer of a buffered channel: a bounded MPMC ring with sequence
// stamps per slot (Dmitry Vyukov, "Bounded MPMC queue", 1024cores.net),
// with crossbeam-channel's encoding of positions as lap | mark | index so
// that the closed mark lives in `tail_` (a push cannot start after close).
//
// Positions: index = pos & (mark_bit - 1), lap = pos & ~(one_lap - 1),
// one_lap = 4 * mark_bit, mark_bit = next_pow2(cap + 1). Between the
// index and the lap sit two flag bits: mark_bit in tail_ says closed;
// park_bit (2 * mark_bit) says waiters are parked on the other side, in
// head_ senders (the ring is full), in tail_ receivers (it is empty).
// Both park bits are set and cleared under the channel lock, with the
// waiter flags (hchan::sync_flag). While head_ carries it no lock-free pop
// starts, so a receive under the lock can move a parked sender's value
// into the slot it frees in the same step, as Go does: the ring never
// looks less than full, and a close() cannot come between the two halves
// (where it made the sender panic). While tail_ carries it no lock-free
// push starts, so a send hands its value straight to a parked receiver
// and the ring never looks non-empty. A lock-free push or pop checks the
// bit in the position it already loaded; its CAS fails if the bit was
// set after that load. Under the lock, start_* ignore the park bits and
// next_pos carries them over. A slot's state
// is one byte, its stamp, kept apart from the values (stamps_[idx]): for
// lap number L = pos >> lap_shift, 2L (mod 256) means free for the push at
// pos, 2L + 1 that it holds the value pushed at pos; the pop at pos makes
// it 2(L + 1), free for the next lap. Zeroed memory (fresh pages, never
// touched: a 5,000,000-slot ring costs nothing until used) is a correct
// initial state. Crossbeam and Vyukov store the whole position; a byte is
// enough because a stamp is only trusted together with a position that
// the CAS on the full 64-bit tail_/head_ then confirms: while the position
// has not moved, the slot is within one lap of it, so mod 256 is exact.
// One byte per slot instead of eight (plus padding) halves the memory a
// big buffer touches (9 bytes per 8-byte message instead of 16), and
// zero-filling fresh pages is most of seq/bounded_n's cost on these VMs.
//
// A push or pop is two steps: start_* reserves a position with a CAS on
// tail_/head_, finish_* moves the value and publishes the stamp. Between
// the two the slot is "in flight"; others that need it spin (the in-flight
// thread is running, never parked: element moves must not block; but it
// may be preempted, so such waits yield the CPU after a few spins).
//
// Memory orders: the stamp load is acquire and the publishing store
// release (the value moves happen between them). The reserving CAS is
// seq_cst: it is the first half of the Dekker pair with the waiter flags
// (hchan.hpp, I2); the flag read that follows it is seq_cst too.
//
// TSan: the runtime is not instrumented, so each finish_* states the edges
// Go's chan.go states with racerelease/raceacquire on chanbuf(c, i): the
// push before the pop of the same slot, and the k-th pop before the
// (k+cap)-th push.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/backoff.hpp"
#include "base/check.hpp"
#include "base/prefetch.hpp"
#include "base/race.hpp"
#include "chan/hchan.hpp"

namespace goro::detail::ring {

struct token {
  uint64_t idx = 0;
  uint8_t stamp = 0;  // stamp to publish in finish_*
};

// parked: a lock-free push found receivers parked, or a pop senders
// (the position's park bit): take the lock and meet them.
enum class status : uint8_t { ok, full_or_empty, closed, parked };

// Whether start_* runs without the channel lock (and so must leave the
// ring to the lock holder while a park bit is set) or under it.
enum class mode : uint8_t { lock_free, under_lock };

inline std::atomic<uint8_t>& stamp_at(const hchan_ring* c, uint64_t idx) {
  return *reinterpret_cast<std::atomic<uint8_t>*>(c->stamps_ + idx);
}
inline void* elem_at(const hchan_ring* c, uint64_t idx) { return c->buf_ + idx * c->stride_; }
// 2 * lap number of pos, mod 256: the stamp of a slot free for pos.
inline uint8_t lap2(const hchan_ring* c, uint64_t pos) { return static_cast<uint8_t>((pos >> c->lap_shift_) << 1); }
inline uint8_t stamp_load(const hchan_ring* c, uint64_t idx) {
  // acquire: see the value (or the end of the previous pop) the stamp publishes.
  return stamp_at(c, idx).load(std::memory_order_acquire);
}
inline void stamp_publish(const hchan_ring* c, uint64_t idx, uint8_t stamp) {
  // release: the value move above happens before whoever acquires the stamp.
  stamp_at(c, idx).store(stamp, std::memory_order_release);
}
// The position after pos, its park bit carried over (pos + 1 cannot
// carry into the flag bits: idx + 1 < cap < mark_bit).
inline uint64_t next_pos(const hchan_ring* c, uint64_t pos) {
  uint64_t idx = pos & (c->mark_bit_ - 1);
  return idx + 1 < c->cap_ ? pos + 1 : ((pos & ~(c->one_lap_ - 1)) + c->one_lap_) | (pos & c->park_bit_);
}
// pos without its flag bits (closed mark, park bit): lap | index.
inline uint64_t unflagged(const hchan_ring* c, uint64_t pos) { return pos & ~(c->mark_bit_ | c->park_bit_); }

// Reserves the tail slot. Lock-free mode: M says whether the caller holds
// the channel lock (then a park bit does not stop it). Inlined into each caller: as a
// call, passing the token through memory cost 47 instructions per send and
// receive pair (callgrind, seq/bounded_n: 94.8 M -> 71.3 M for 500,000).
template <mode M = mode::lock_free>
[[gnu::always_inline]] inline status start_push(hchan_ring* c, token& t) {
  backoff b;
  // relaxed: a stale tail only makes the CAS below fail.
  uint64_t tail = c->tail_.load(std::memory_order_relaxed);
  for (;;) {
    if (tail & c->mark_bit_) return status::closed;
    if (M == mode::lock_free && (tail & c->park_bit_)) return status::parked;
    uint64_t idx = tail & (c->mark_bit_ - 1);
    uint8_t stamp = stamp_load(c, idx), free = lap2(c, tail);
    if (stamp == free) {
      if (c->tail_.compare_exchange_weak(tail, next_pos(c, tail), std::memory_order_seq_cst,
                                         std::memory_order_relaxed)) {
        t.idx = idx;
        t.stamp = static_cast<uint8_t>(free + 1);
        return status::ok;
      }
      b.spin();
    } else if (static_cast<uint8_t>(stamp + 1) == free) {
      // The slot still holds last lap's value: full, unless a pop of it is
      // in flight. seq_cst fence: the other half of I2 for senders.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      uint64_t head = c->head_.load(std::memory_order_relaxed);
      if (unflagged(c, head) + c->one_lap_ == unflagged(c, tail)) return status::full_or_empty;
      // A pop of this slot is in flight: its thread may have been
      // preempted (more threads than cores), so yield after a while.
      b.snooze();
      tail = c->tail_.load(std::memory_order_relaxed);
    } else {
      b.snooze();
      tail = c->tail_.load(std::memory_order_relaxed);
    }
  }
}

// Moves the value at src (not destroyed) into the reserved slot.
inline void finish_push(hchan_ring* c, const token& t, void* src) noexcept {
  void* e = elem_at(c, t.idx);
  // A big ring is written front to back, and the next push's locked CAS
  // waits until this store has its line: when the ring is larger than the
  // caches, every push would stall on the previous one's miss. Asking for
  // the line 1 KiB ahead, in exclusive state, overlaps those misses.
  // seq/bounded_n, 5 alternating runs: median 21.5 -> 15.8 ns per message.
  if (c->cap_ > 4096) prefetch_for_write(static_cast<char*>(e) + 1024);
  race_acquire(e);
  elem_move(c, e, src, false);  // lock-free mode: the move is noexcept
  race_release(e);
  stamp_publish(c, t.idx, t.stamp);
}

// Reserves the head slot. Lock-free mode; M as in start_push.
template <mode M = mode::lock_free>
[[gnu::always_inline]] inline status start_pop(hchan_ring* c, token& t) {
  backoff b;
  uint64_t head = c->head_.load(std::memory_order_relaxed);  // relaxed: as in start_push
  for (;;) {
    if (M == mode::lock_free && (head & c->park_bit_)) return status::parked;
    uint64_t idx = head & (c->mark_bit_ - 1);
    uint8_t stamp = stamp_load(c, idx), free = lap2(c, head);
    if (stamp == static_cast<uint8_t>(free + 1)) {
      if (c->head_.compare_exchange_weak(head, next_pos(c, head), std::memory_order_seq_cst,
                                         std::memory_order_relaxed)) {
        t.idx = idx;
        t.stamp = static_cast<uint8_t>(free + 2);
        return status::ok;
      }
      b.spin();
    } else if (stamp == free) {
      // Empty, unless a push of this slot is in flight. seq_cst fence: the
      // other half of I2 for receivers.
      // acquire: when the mark says closed, close() (which set it with a
      // seq_cst RMW) happens before this receive returns (Go's memory
      // model); a fence before a relaxed load would not make it one.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      uint64_t tail = c->tail_.load(std::memory_order_acquire);
      if (unflagged(c, tail) == unflagged(c, head))
        return (tail & c->mark_bit_) ? status::closed : status::full_or_empty;
      // A push of this slot is in flight: as above.
      b.snooze();
      head = c->head_.load(std::memory_order_relaxed);
    } else {
      b.snooze();
      head = c->head_.load(std::memory_order_relaxed);
    }
  }
}

// Moves the reserved slot's value into the storage dst.
inline void finish_pop(hchan_ring* c, const token& t, void* dst) noexcept {
  void* e = elem_at(c, t.idx);
  race_acquire(e);
  elem_move(c, dst, e, true);
  race_release(e);
  stamp_publish(c, t.idx, t.stamp);
}

// Locked mode (under the channel lock, no lock-free users): the move comes
// before the position moves, so a throwing move changes nothing.
inline bool push_exclusive(hchan_ring* c, void* src) {
  uint64_t tail = c->tail_.load(std::memory_order_relaxed) & ~c->mark_bit_;
  uint64_t idx = tail & (c->mark_bit_ - 1);
  if (stamp_load(c, idx) != lap2(c, tail)) return false;  // full
  void* e = elem_at(c, idx);
  race_acquire(e);
  elem_move(c, e, src, false);
  race_release(e);
  stamp_publish(c, idx, static_cast<uint8_t>(lap2(c, tail) + 1));
  c->tail_.store(next_pos(c, tail), std::memory_order_relaxed);  // relaxed: read under the lock
  return true;
}

// A receive that finds senders parked (so the ring is full) does Go's
// step in three parts, all under the lock: take_head moves the
// head value out (a throw changes nothing), then refill_head moves a
// sender's value into that same slot and advances tail_ and head_ at once,
// so the ring never looks less than full to ring::len (try_send, try_recv
// and select read it without the lock: a pop then a push let them see an
// empty cap-1 buffer); or, if no sender's value would move, finish_take
// completes an ordinary pop. In locked mode nobody else touches the ring.
// In lock-free mode head_'s park bit is set (senders are parked), so no
// lock-free pop starts; no lock-free push starts either while the ring is
// full, and it stays full until refill_head_exclusive has moved both
// positions (a push would need the head slot free). So the plain stores
// below race with nothing; next_pos carries the park bit over.
inline bool take_head_exclusive(hchan_ring* c, void* dst) {
  uint64_t head = c->head_.load(std::memory_order_relaxed);
  uint64_t idx = head & (c->mark_bit_ - 1);
  if (stamp_load(c, idx) != static_cast<uint8_t>(lap2(c, head) + 1)) return false;  // empty
  void* e = elem_at(c, idx);
  race_acquire(e);
  elem_move(c, dst, e, true);
  race_release(e);
  return true;
}

// After take_head_exclusive on a full ring: the T at src (not destroyed)
// fills the freed head slot as the push at tail. If the move throws,
// nothing changed since take_head_exclusive.
inline void refill_head_exclusive(hchan_ring* c, void* src) {
  uint64_t head = c->head_.load(std::memory_order_relaxed);
  uint64_t tail = c->tail_.load(std::memory_order_relaxed) & ~c->mark_bit_;
  uint64_t idx = head & (c->mark_bit_ - 1);
  void* e = elem_at(c, idx);
  race_acquire(e);
  elem_move(c, e, src, false);
  race_release(e);
  stamp_publish(c, idx, static_cast<uint8_t>(lap2(c, tail) + 1));
  // tail first, then head with release: a len() that sees the new head
  // rereads the new tail and tries again, so it never sees head == tail.
  c->tail_.store(next_pos(c, tail), std::memory_order_relaxed);
  c->head_.store(next_pos(c, head), std::memory_order_release);
}

// After take_head_exclusive: completes the pop.
inline void finish_take_exclusive(hchan_ring* c) {
  uint64_t head = c->head_.load(std::memory_order_relaxed);
  // Lock-free mode: head_'s park bit still keeps lock-free pops off this
  // slot (the caller clears it after this returns).
  GORO_DCHECK(c->locked_mode_ || (head & c->park_bit_) != 0);
  stamp_publish(c, head & (c->mark_bit_ - 1), static_cast<uint8_t>(lap2(c, head) + 2));
  c->head_.store(next_pos(c, head), std::memory_order_relaxed);  // relaxed: read under the lock
}

// Number of values in the ring (a snapshot, crossbeam's method), counted
// from the positions' laps as well as their indices: refill_head_exclusive
// advances tail_ before head_, and a len() reading between the two sees
// the tail a lap and one slot ahead of the head, cap + 1 values, which
// the indices alone would wrap to 1 (a full cap-2 channel looked half
// empty). The ring is full then, so the count is clamped to cap.
// The flag bits lie between index and lap, so neither reading sees them.
inline uint64_t len(const hchan_ring* c) {
  for (;;) {
    uint64_t tail = c->tail_.load();
    uint64_t head = c->head_.load();
    if (c->tail_.load() != tail) continue;
    uint64_t hix = head & (c->mark_bit_ - 1), tix = tail & (c->mark_bit_ - 1);
    uint64_t laps = (tail >> c->lap_shift_) - (head >> c->lap_shift_);  // 0 or 1 (2 in that moment's wrap)
    int64_t n = static_cast<int64_t>(laps * c->cap_) + static_cast<int64_t>(tix) - static_cast<int64_t>(hix);
    return n < 0 ? 0 : (static_cast<uint64_t>(n) > c->cap_ ? c->cap_ : static_cast<uint64_t>(n));
  }
}

}  // namespace goro::detail::ring
