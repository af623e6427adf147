// The channel core: the `hchan` record, waiter records and wait queues.
//
// Design (docs/design-chan.md has the long form and the rejected designs):
//  - Unbuffered channels are Go's hchan: one lock guards everything; a send
//    meets a parked receiver (or the reverse) and copies the value straight
//    into the parked side's slot, on its stack.
//  - Buffered channels whose element moves without throwing keep their
//    values in a lock-free ring (Vyukov's bounded MPMC queue, with
//    crossbeam-channel's lap/index stamps, ring.hpp). The lock guards only
//    the wait queues: a send or receive that neither blocks nor finds a
//    waiter never takes it.
//  - Buffered channels of types with a throwing move constructor use the
//    same ring, but only under the lock ("locked mode"), so that a move can
//    be undone by not publishing it. So do channels of one or two slots,
//    where nearly every operation meets a waiter and takes the lock anyway
//    (kLockedMaxCap in chan.cpp has the measurements).
//
// Invariants (lock-free mode; Go's hold exactly in the other modes):
//  I1. recv_waiting_ == !recvq.empty() and send_waiting_ == !sendq.empty()
//      whenever the lock is free (lock-free and unbuffered channels; in
//      locked mode nobody reads them: see sync_flag).
//  I2. A receiver is never left parked while the ring holds a value, nor a
//      sender while the ring has room: whoever changes the ring without the
//      lock (a push or pop) then reads the opposite flag (seq_cst), and a
//      waiter sets its flag (seq_cst) and then rechecks the ring under the
//      lock (`serve`). Dekker's argument: one of the two sees the other.
//  I3. A waiter record (sudog) is in at most one queue, its `in_queue` says
//      so; both are guarded by its channel's lock. It lives on its owner's
//      stack until the owner has unlinked it or seen it unlinked.
//  I4. A sudog of a select is taken only by whoever wins sel->done
//      (0 -> 1); losers unlink it and look at the next one.
//  I5. The closed bit is set only under the lock; for buffered channels it
//      is also the mark bit of `tail_`, so no push can start after close.
//  I6. Lock-free mode: head_'s park bit is set iff send_waiting_ is, and
//      tail_'s iff recv_waiting_ is (both written by sync_flag, under the
//      lock). While head_'s is set no lock-free pop starts, so the ring
//      stays full (a sender parks only on a full ring, after serve found
//      no room) until a receive under the lock refills the slot it frees
//      from a parked sender in the same step, as Go does; while tail_'s is
//      set no lock-free push starts, so a send meets the parked receiver
//      (ring.hpp).
//
// Who touches what:
//  - refs_: atomic, anyone holding a handle.
//  - head_/tail_/slot stamps: atomic, lock-free pushers and poppers, and
//    lock holders (lock-free mode); written only by lock holders (locked
//    mode), where try_send/try_recv read head_/tail_ without the lock
//    (ring::len) to see a full or empty buffer.
//  - recv_waiting_/send_waiting_/closed_: written under lock, read by anyone.
//  - recvq/sendq and every field of a queued sudog: under lock.
//  - sudog::result: written by the waker under lock before ready(), read by
//    the owner after park() returns.
//
// Lock order: a channel's lock ranks `chan` (base/lock.hpp); select takes
// several, in increasing address order. Timer locks (rank timers) may be
// taken under it; nothing is readied under it (wakers collect waiters in a
// `ready_list` and ready them after unlocking).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>

#include "base/lock.hpp"
#include "goro/detail/chan_core.hpp"
#include "sched/park.hpp"

namespace goro::detail {

struct g;
struct timer;
struct timer_rec;

// How a woken waiter's operation ended (set by its waker).
enum class wake : uint8_t {
  none,    // not woken yet
  ok,      // value sent / received
  closed,  // channel closed (receive: zero value; send: panic)
  retry,   // nothing happened (a peer's move threw, or a race took the
           // value the waker meant for us): run the operation again
  failed,  // send: moving our value threw; sudog::error holds the exception
};

// A select in progress: its claim word and what fired.
struct select_ctl {
  // 0 while any case may fire; the first waker to CAS it to 1 owns the
  // select (I4). seq_cst: it is rare and the argument is simpler.
  std::atomic<uint32_t> done{0};
  struct sudog* fired = nullptr;  // written by the winner, under its channel's lock
  // Every sudog of the select (n of them, one per non-nil case), written
  // before they are queued: the partial-deadlock report, finding one of
  // them in a queue, reads all the channels the select waits on.
  struct sudog* sgs = nullptr;
  int n = 0;
};

// A blocked operation (Go's sudog). Lives on the blocked waiter's stack.
struct sudog {
  g* gp = nullptr;          // the waiter to ready()
  sudog* next = nullptr;    // queue links; after dequeue, next links the ready_list
  sudog* prev = nullptr;
  void* elem = nullptr;     // send: the value; receive: storage for it
  hchan* c = nullptr;
  select_ctl* sel = nullptr;
  uint32_t case_index = 0;  // select: which case this is
  bool is_send = false;
  bool in_queue = false;
  wake result = wake::none;
  std::exception_ptr error;  // with wake::failed: what the move threw
};

// FIFO of sudogs, doubly linked for O(1) removal by a select.
struct waitq {
  sudog* first = nullptr;
  sudog* last = nullptr;

  bool empty() const { return first == nullptr; }
  void enqueue(sudog* s);
  void remove(sudog* s);  // no-op if s is not queued (I3)
  // Unlinks and returns the first sudog its caller may take (claiming its
  // select, I4), or null. TSan: with `acquire`, the caller acquires what
  // the waiter released as it parked (a matched send and receive order
  // each other); close passes false, as Go's closechan only releases: the
  // closer must not carry one waiter's past to the others it wakes.
  sudog* dequeue(bool acquire = true);
};

// Waiters taken under a lock, to ready() after unlocking (linked by next).
struct ready_list {
  sudog* head = nullptr;
  sudog* tail = nullptr;
  void push(sudog* s) {
    s->next = nullptr;
    if (tail) tail->next = s; else head = s;
    tail = s;
  }
  bool empty() const { return head == nullptr; }
  // Readies every waiter; call with no channel lock held. Inline: nearly
  // always zero or one waiter.
  // A sudog without a waiter (gp null: a timer channel's pending value,
  // time/gotimer.hpp) is only unlinked.
  void ready_all() {
    for (sudog* s = head; s;) {
      sudog* n = s->next;  // read before ready(): s may be gone after
      if (s->gp != nullptr) ready(s->gp);
      s = n;
    }
    head = tail = nullptr;
  }
};

// Moves (relocate == true: and destroys) the element at src into dst,
// copying trivially copyable 8- and 16-byte elements inline.
inline void elem_move(const hchan* c, void* dst, void* src, bool relocate);

struct hchan_ring;

// An unbuffered channel is an hchan alone (104 bytes, allocated without
// alignment: Go's is 96); a buffered one is an hchan_ring, which adds the
// ring (cap_ != 0 <=> the object is an hchan_ring; ring() converts).
// Why two types (2026-12-04): one layout with the ring's positions on cache
// lines of their own made every channel 384 bytes, so each context's done
// channel and each timer channel cost four times Go's.
struct hchan {
  hchan(const elem_type* et, uint64_t cap) noexcept;

  // --- immutable after construction (refs_ aside) ---
  const elem_type* et_;
  uint64_t cap_;             // capacity; 0 = unbuffered
  bool locked_mode_;         // buffered, and the element's move may throw or cap_ is tiny
  bool sync_view_ = false;   // Go 1.23 timer channel: len and cap read 0
  // An after() channel's value is in the buffer (chan/after.cpp): set by
  // its timer's fire after the send, for a receive that found the timer
  // already taken off its heap.
  std::atomic<bool> after_sent_{false};
  // Bytes to copy instead of calling et_->move/relocate (8 or 16: trivially
  // copyable elements of that size, not under TSan), else 0.
  uint32_t copy_bytes_ = 0;
  // An after() channel's timer (chan/after.cpp), freed with the channel;
  // null for every other channel. While the timer is pending it holds one
  // of refs_, and dropping the last handle cancels it (chan_release).
  timer* after_timer_ = nullptr;
  // A goro::timer or ticker channel (time/gotimer.hpp): the record that
  // owns this channel, which lives in the record's slot companion
  // (time/rec_slab.hpp). Its handles count on the record, not on refs_,
  // and the record destroys the channel with itself (never chan_free).
  timer_rec* timer_owner_ = nullptr;
  std::atomic<uint64_t> refs_{1};

  // --- read by every operation, written rarely (under lock). On the first
  // cache line of a ring channel with the fields above: a lock-free push or
  // pop reads both, and only a change of waiters writes these ---
  std::atomic<uint32_t> recv_waiting_{0};
  std::atomic<uint32_t> send_waiting_{0};
  std::atomic<uint32_t> closed_{0};
  // The lock starts the second line of a ring channel (64-byte aligned):
  // a waiter taking it does not take the line every push and pop reads.
  char line_pad_[4];

  // --- the lock and what it guards ---
  runtime_lock lock_{lock_rank::chan};
  waitq recvq_;
  waitq sendq_;

  // This buffered channel's ring (cap_ != 0 only).
  inline hchan_ring* ring();
  inline const hchan_ring* ring() const;

  bool lock_free() const { return cap_ != 0 && !locked_mode_; }
  // Re-establishes I1 after the queues changed. Under lock. In lock-free
  // mode the store is seq_cst: it is one half of I2's Dekker pair. In the
  // other modes every operation that acts on a flag takes the lock, and
  // the lock-free reads in try_send/try_recv only need to see a flag no
  // older than the lock release that follows it (Go's chan.go writes its
  // queues with plain stores), so release suffices: a plain store on
  // x86-64 instead of an xchg, four of them per message on an unbuffered
  // channel whose peers take turns.
  void sync_flags() {
    sync_flag(recv_waiting_, recvq_);
    sync_flag(send_waiting_, sendq_);
  }
  // The same for the one queue an operation changed.
  void sync_flag(std::atomic<uint32_t>& flag, const waitq& q) {
    // Locked mode (buffered): nobody reads the flags. Operations take the
    // lock and look at the queues; try_* first reads the ring's length,
    // which says enough. Keeping them would only add stores
    // to the park and wake paths.
    if (locked_mode_) return;
    uint32_t v = q.empty() ? 0 : 1;
    if (flag.load(std::memory_order_relaxed) == v) return;
    if (cap_ != 0) {
      flag.store(v, std::memory_order_seq_cst);  // lock-free mode
      set_park_bit(&flag == &send_waiting_, v != 0);
    } else {
      flag.store(v, std::memory_order_release);
    }
  }
  // Lock-free mode, under lock: the park bit (ring.hpp) in head_ for
  // senders, in tail_ for receivers. A seq_cst RMW, so a lock-free push
  // or pop that loaded the position before it fails its CAS.
  inline void set_park_bit(bool senders, bool parked);
  void sync_flag_of(const waitq& q) { sync_flag(&q == &recvq_ ? recv_waiting_ : send_waiting_, q); }
};

// A buffered channel: the ring's shape (read-mostly, a cache line of its
// own, away from the lock's writes) and its two positions, one line each.
struct hchan_ring : hchan {
  hchan_ring(const elem_type* et, uint64_t cap) noexcept : hchan(et, cap) {}

  // --- immutable after construction ---
  alignas(64) uint64_t mark_bit_ = 0;  // closed mark in tail_, above the index bits
  uint64_t park_bit_ = 0;              // waiters parked on the other side (ring.hpp), 2 * mark_bit_
  uint64_t one_lap_ = 0;               // one lap, above the park bit
  unsigned char* buf_ = nullptr;       // cap_ elements, stride_ apart, then the stamps
  unsigned char* stamps_ = nullptr;    // one stamp byte per slot (ring.hpp)
  uint64_t map_bytes_ = 0;             // bytes mapped for buf_ when it is a big_memory block
  uint32_t stride_ = 0;                // bytes per element in buf_
  uint32_t lap_shift_ = 0;             // one_lap_ == 1 << lap_shift_

  // --- ring positions (lap | mark | index), one cache line each ---
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
};

static_assert(offsetof(hchan, lock_) == 64, "a ring channel's lock starts its second cache line");
static_assert(sizeof(hchan) <= 128, "an unbuffered channel stays small");

inline hchan_ring* hchan::ring() { return static_cast<hchan_ring*>(this); }
inline const hchan_ring* hchan::ring() const { return static_cast<const hchan_ring*>(this); }

inline void hchan::set_park_bit(bool senders, bool parked) {
  hchan_ring* r = ring();
  std::atomic<uint64_t>& pos = senders ? r->head_ : r->tail_;
  if (parked)
    pos.fetch_or(r->park_bit_);
  else
    pos.fetch_and(~r->park_bit_);
}

// Inline: each runs once or twice per blocking operation.
inline void waitq::enqueue(sudog* s) {
  race_release(s);  // the waiter's past happens before its matcher's move
  s->next = nullptr;
  s->prev = last;
  if (last) last->next = s; else first = s;
  last = s;
  s->in_queue = true;
}

inline void waitq::remove(sudog* s) {
  if (!s->in_queue) return;
  if (s->prev) s->prev->next = s->next; else first = s->next;
  if (s->next) s->next->prev = s->prev; else last = s->prev;
  s->next = s->prev = nullptr;
  s->in_queue = false;
}

inline sudog* waitq::dequeue(bool acquire) {
  while (sudog* s = first) {
    remove(s);
    if (s->sel) {
      uint32_t expect = 0;
      if (!s->sel->done.compare_exchange_strong(expect, 1)) continue;  // another case won
      s->sel->fired = s;
    }
    if (acquire) race_acquire(s);
    return s;
  }
  return nullptr;
}

inline void elem_move(const hchan* c, void* dst, void* src, bool relocate) {
  if (c->copy_bytes_ == 8) {
    uint64_t v;
    __builtin_memcpy(&v, src, 8);
    __builtin_memcpy(dst, &v, 8);
  } else if (c->copy_bytes_ == 16) {
    uint64_t v[2];
    __builtin_memcpy(v, src, 16);
    __builtin_memcpy(dst, v, 16);
  } else if (relocate) {
    c->et_->relocate(dst, src);
  } else {
    c->et_->move(dst, src);
  }
}

// ---- operations under the channel lock (chan.cpp), shared with select ----

// Tries to send the T at src without blocking: hands it to a waiting
// receiver or puts it in the buffer. Returns ok or would_block; throws
// panic_error on a closed channel, or what the move throws (the receiver
// it was meant for is then woken with `retry`). Waiters to wake go to rl.
op_result send_locked(hchan* c, void* src, ready_list& rl);
// Tries to receive into dst without blocking. ok, closed or would_block.
op_result recv_locked(hchan* c, void* dst, ready_list& rl);
// Lock-free mode: pairs waiters with the ring (I2): fills waiting
// receivers from the ring and the ring from waiting senders. A sudog of
// the caller's own (gp == self) is completed but not put in rl.
void serve_locked(hchan* c, g* self, ready_list& rl, bool acquire = true);

[[noreturn]] void throw_send_on_closed();

// Frees c and what it buffers; no handle, waiter or timer may remain.
// chan_release calls it with the last reference; a timer channel is never
// freed here (its record destroys it: hchan::timer_owner_).
void chan_free(hchan* c) noexcept;

// The timer record's reference count (time/gotimer.cpp), which a timer
// channel's handles share.
void timer_rec_retain(timer_rec* t) noexcept;
void timer_rec_release(timer_rec* t) noexcept;
// Go's maybeRunChan: a receive from a timer's channel that finds no value
// first runs the timer if its deadline has passed and its P has not fired
// it yet, so that once the clock is past the deadline even a non-blocking
// receive (try_recv, a select with a default) gets the value. True if it
// offered a value (queued now on the channel's sendq). Takes the record's
// lock, then the channel's: call it with neither held.
bool timer_rec_run_if_due(timer_rec* t) noexcept;
// The same for goro::after's channel (chan/after.cpp): fires its timer
// here if the deadline has passed and its P has not taken it yet. Call
// with c's lock not held, holding a handle of c.
bool after_run_if_due(hchan* c) noexcept;

}  // namespace goro::detail
