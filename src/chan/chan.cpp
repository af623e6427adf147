// Channel operations: make, send, receive, close, len, cap.
//
// Each operation is Go's chansend/chanrecv/closechan (src/runtime/chan.go)
// with one change for buffered channels of nothrow-movable elements: the
// buffer is a lock-free ring (ring.hpp), so the lock is taken only when a
// waiter exists or the operation must block. The invariants I1-I5 and who
// touches which field are in hchan.hpp; this file keeps them as follows.
//
//  Fast path (lock-free mode): push or pop on the ring, then read the
//  opposite waiter flag (seq_cst); if set, take the lock and serve_locked()
//  pairs waiters with the ring (I2). A sender does not take the fast path
//  while senders are queued, nor a receiver while receivers are (FIFO
//  among waiters; a relaxed read suffices, it is only a fairness hint).
//
//  Slow path: lock, try the operation (send_locked/recv_locked: hand off to
//  a parked peer first, as Go does, then the buffer); if it must block,
//  enqueue a sudog that lives on this stack, set the flag, serve_locked()
//  once more (I2: a ring change may have raced with our flag), and park.
//  The waker writes sudog::result; `retry` sends us round the loop.
//
//  Exceptions: only a locked-mode or unbuffered move can throw. A throw
//  while moving a sender's value goes to that sender: to the running
//  sender directly (the parked receiver it meant is woken with `retry`),
//  or, when a receiver moves a parked sender's value, through
//  sudog::error (`failed`), the receiver carrying on as if that sender had
//  not been there. A throw while moving out of the buffer goes to the
//  receiver, and the value stays in the buffer.
//
// Lock order: one channel lock at a time here (select takes several).
// Nothing is readied under a lock (ready_list).
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "base/big_memory.hpp"
#include "base/check.hpp"
#include "base/race.hpp"
#include "chan/hchan.hpp"
#include "chan/ring.hpp"
#include "goro/panic.hpp"
#include "sched/park.hpp"
#include "sched/sched.hpp"  // preempt_check
#include "time/timer.hpp"

namespace goro::detail {

void throw_send_on_closed() { throw panic_error("send on closed channel"); }

namespace {

bool unlock_chan(g*, void* arg) {
  static_cast<hchan*>(arg)->lock_.unlock();
  return true;
}

[[noreturn]] void block_forever(wait_reason why) {
  park(why, [](g*, void*) { return true; }, nullptr);
  fatal("goroutine blocked on a nil channel was woken");
}

// A sudog taken by serve_locked: its owner is either us (it will read the
// result without parking) or parked (ready it later).
void complete(sudog* s, wake result, g* self, ready_list& rl) {
  s->result = result;
  if (s->gp != self) rl.push(s);
}

bool ring_may_have_value(const hchan_ring* c) {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // I2: after our flag store
  return ring::unflagged(c, c->tail_.load(std::memory_order_relaxed)) !=
         ring::unflagged(c, c->head_.load(std::memory_order_relaxed));
}

bool ring_may_have_room(const hchan_ring* c) {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // I2: after our flag store
  return ring::unflagged(c, c->head_.load(std::memory_order_relaxed)) + c->one_lap_ !=
         ring::unflagged(c, c->tail_.load(std::memory_order_relaxed));
}

// Serves waiters after a lock-free push or pop saw the opposite flag set.
void serve_after_fast(hchan* c) {
  ready_list rl;
  c->lock_.lock();
  serve_locked(c, nullptr, rl);
  c->lock_.unlock();
  rl.ready_all();
}

}  // namespace

// ------------------------------------------------- operations under lock

void serve_locked(hchan* c, g* self, ready_list& rl, bool acquire) {
  GORO_DCHECK(c->lock_free());
  for (bool progress = true; progress;) {
    progress = false;
    if (!c->recvq_.empty() && ring_may_have_value(c->ring())) {
      if (sudog* r = c->recvq_.dequeue(acquire)) {
        ring::token t;
        ring::status st = ring::start_pop<ring::mode::under_lock>(c->ring(), t);
        if (st == ring::status::ok) {
          ring::finish_pop(c->ring(), t, r->elem);
          complete(r, wake::ok, self, rl);
        } else {
          // A lock-free receiver took the value first, or (while close
          // serves) the last one, leaving the ring closed and empty.
          complete(r, st == ring::status::closed ? wake::closed : wake::retry, self, rl);
        }
        progress = true;
      }
    }
    if (!c->sendq_.empty() && ring_may_have_room(c->ring())) {
      if (sudog* s = c->sendq_.dequeue(acquire)) {
        ring::token t;
        ring::status st = ring::start_push<ring::mode::under_lock>(c->ring(), t);
        if (st == ring::status::ok) {
          ring::finish_push(c->ring(), t, s->elem);
          complete(s, wake::ok, self, rl);
        } else {
          complete(s, st == ring::status::closed ? wake::closed : wake::retry, self, rl);
        }
        progress = true;
      }
    }
  }
  c->sync_flags();
}

op_result send_locked(hchan* c, void* src, ready_list& rl) {
  if (c->closed_.load(std::memory_order_relaxed)) throw_send_on_closed();  // relaxed: under lock
  sudog* r = c->recvq_.dequeue();
  // Also when it found none: dequeue drops the entries of selects another
  // case won, and the queue may be empty now (I1).
  c->sync_flag(c->recv_waiting_, c->recvq_);
  if (r != nullptr) {
    // A parked receiver: copy straight into its slot, bypassing the buffer.
    rl.push(r);
    r->result = wake::retry;  // if the move throws, the receiver tries again
    elem_move(c, r->elem, src, false);
    r->result = wake::ok;
    return op_result::ok;
  }
  if (c->cap_ == 0) return op_result::would_block;
  if (c->locked_mode_) return ring::push_exclusive(c->ring(), src) ? op_result::ok : op_result::would_block;
  if (!c->sendq_.empty()) {
    // Parked senders go first (Go: they are served as soon as there is
    // room, before any later send): fill the ring from them, and if some
    // are still waiting, the ring is full and this send queues behind them.
    serve_locked(c, nullptr, rl);
    if (!c->sendq_.empty()) return op_result::would_block;
  }
  ring::token t;
  if (ring::start_push<ring::mode::under_lock>(c->ring(), t) != ring::status::ok) return op_result::would_block;
  ring::finish_push(c->ring(), t, src);  // recvq is empty and we hold the lock: no one to serve
  return op_result::ok;
}

// Dequeues parked senders until one's value moves (`move(s)` does it;
// under the lock, locked mode or unbuffered). A sender whose move throws
// gets `failed` (its send throws that exception) and the next is tried.
// Every dequeued sender goes to rl. True if a value moved. The flag (and
// in lock-free mode head_'s park bit, I6) changes only after the move:
// until refill_head_exclusive is done no lock-free pop may start. When no
// value moved the caller syncs it, after it has finished what it does
// instead (finish_take_exclusive: a review of the park bits found a
// lock-free pop taking the slot between the bit's clearing and that
// pop's end, receiving a value twice and losing the next one).
template <class Move>
bool take_from_a_sender(hchan* c, ready_list& rl, Move move) {
  while (sudog* s = c->sendq_.dequeue()) {
    rl.push(s);
    try {
      move(s);
    } catch (...) {
      s->result = wake::failed;
      s->error = std::current_exception();
      continue;
    }
    s->result = wake::ok;
    c->sync_flag(c->send_waiting_, c->sendq_);
    return true;
  }
  return false;  // the caller syncs the flag: dequeue may have dropped dead select entries (I1)
}

op_result recv_locked(hchan* c, void* dst, ready_list& rl) {
  if (c->cap_ == 0 || c->locked_mode_) {
    if (c->cap_ != 0 && ring::take_head_exclusive(c->ring(), dst)) {  // a throw here changes nothing
      // Go: senders are parked only while the buffer is full, and the
      // first of them moves its value into the slot just freed, in the
      // same step (ring.hpp: the buffer never looks less than full). Its
      // send is then done: a close() right after this receive cannot make
      // it panic, and nobody overtakes it. If its value's move throws, its
      // send throws that, and the next sender is tried.
      if (!take_from_a_sender(c, rl, [c](sudog* s) { ring::refill_head_exclusive(c->ring(), s->elem); })) {
        ring::finish_take_exclusive(c->ring());
        c->sync_flag(c->send_waiting_, c->sendq_);
      }
      return op_result::ok;
    }
    // The sender's value moves straight into ours; if its move throws,
    // its send throws that, and this receive goes on as if that sender had
    // not been there.
    if (c->cap_ == 0) {
      if (take_from_a_sender(c, rl, [c, dst](sudog* s) { elem_move(c, dst, s->elem, false); })) return op_result::ok;
      c->sync_flag(c->send_waiting_, c->sendq_);
    }
    if (c->closed_.load(std::memory_order_relaxed)) {  // relaxed: under lock
      race_acquire(&c->closed_);
      return op_result::closed;
    }
    return op_result::would_block;
  }
  if (c->ring()->head_.load(std::memory_order_relaxed) & c->ring()->park_bit_) {  // relaxed: written under lock
    // Senders are parked, so the ring is full and no lock-free pop runs
    // (I6): Go's step, as in locked mode above. The first parked sender's
    // value fills the slot this receive frees before anyone can see it
    // free (lock-free moves cannot throw).
    GORO_DCHECK(!c->sendq_.empty());
    if (ring::take_head_exclusive(c->ring(), dst)) {
      if (!take_from_a_sender(c, rl, [c](sudog* s) { ring::refill_head_exclusive(c->ring(), s->elem); })) {
        // No live sender (selects that lost): an ordinary pop, ended
        // before the bit goes, which only then lets lock-free pops in.
        ring::finish_take_exclusive(c->ring());
        c->sync_flag(c->send_waiting_, c->sendq_);
      }
      return op_result::ok;
    }
    // Empty: the senders queued are selects another case won (I6 holds
    // for live ones only); serve_locked drops them.
  }
  if (!c->sendq_.empty() || !c->recvq_.empty()) {
    // A parked sender may fit now; parked receivers go first (as senders
    // do in send_locked): if some are still waiting, the ring is empty and
    // this receive queues behind them.
    serve_locked(c, nullptr, rl);
    if (!c->recvq_.empty()) {
      if (c->closed_.load(std::memory_order_relaxed)) {  // (close serves every receiver itself)
        race_acquire(&c->closed_);
        return op_result::closed;
      }
      return op_result::would_block;
    }
  }
  ring::token t;
  switch (ring::start_pop<ring::mode::under_lock>(c->ring(), t)) {
    case ring::status::ok:
      ring::finish_pop(c->ring(), t, dst);
      if (!c->sendq_.empty()) serve_locked(c, nullptr, rl);  // (only selects that lost: see above)
      return op_result::ok;
    case ring::status::closed:
      race_acquire(&c->closed_);
      return op_result::closed;
    default:
      return op_result::would_block;
  }
}

// ------------------------------------------------------ slow paths

namespace {

// The blocking half of send_slow and recv_slow, with c locked: queues s,
// lets a lock-free channel pair it at once (serve_locked), then parks until
// a waker sets s.result, or, if s was served or others must be woken
// first, takes s back out. Returns with c unlocked.
void wait_in_queue(hchan* c, waitq& q, sudog& s, wait_reason reason, ready_list& rl) {
  q.enqueue(&s);
  c->sync_flag_of(q);
  if (c->lock_free()) serve_locked(c, s.gp, rl);
  if (s.result == wake::none && rl.empty()) {
    park_waiter(s.gp, reason, unlock_chan, c);
  } else {
    q.remove(&s);
    c->sync_flags();
    c->lock_.unlock();
    rl.ready_all();
  }
}

op_result send_slow(hchan* c, void* src, bool block) {
  for (;;) {
    ready_list rl;
    c->lock_.lock();
    op_result r;
    try {
      r = send_locked(c, src, rl);
    } catch (...) {
      c->lock_.unlock();
      rl.ready_all();
      throw;
    }
    if (r == op_result::ok || !block) {
      c->lock_.unlock();
      rl.ready_all();
      return r;
    }
    sudog s;
    s.gp = current_waiter();
    s.elem = src;
    s.c = c;
    s.is_send = true;
    wait_in_queue(c, c->sendq_, s, wait_reason::chan_send, rl);
    switch (s.result) {
      case wake::ok: return op_result::ok;
      case wake::closed: throw_send_on_closed();
      case wake::failed: std::rethrow_exception(s.error);
      default: continue;  // none (we served others) or retry
    }
  }
}

op_result recv_slow(hchan* c, void* dst, bool block) {
  if (c->timer_owner_ != nullptr) {
    timer_rec_run_if_due(c->timer_owner_);
  } else if (c->after_timer_ != nullptr) {
    after_run_if_due(c);
  }
  for (;;) {
    ready_list rl;
    c->lock_.lock();
    op_result r;
    try {
      r = recv_locked(c, dst, rl);
    } catch (...) {
      c->lock_.unlock();
      rl.ready_all();
      throw;
    }
    if (r != op_result::would_block || !block) {
      c->lock_.unlock();
      rl.ready_all();
      return r;
    }
    sudog s;
    s.gp = current_waiter();
    s.elem = dst;
    s.c = c;
    wait_in_queue(c, c->recvq_, s, wait_reason::chan_receive, rl);
    switch (s.result) {
      case wake::ok: return op_result::ok;
      case wake::closed:
        race_acquire(&c->closed_);  // close released it before waking us
        return op_result::closed;
      default: continue;
    }
  }
}

}  // namespace

// ------------------------------------------------------ public entry points

void chan_send(hchan* c, void* src) {
  if (!c) block_forever(wait_reason::chan_send_nil);
  // relaxed: a fairness hint only (see the file comment).
  if (c->lock_free() && c->send_waiting_.load(std::memory_order_relaxed) == 0) {
    ring::token t;
    if (ring::start_push(c->ring(), t) == ring::status::ok) {
      ring::finish_push(c->ring(), t, src);
      if (c->recv_waiting_.load()) serve_after_fast(c);  // seq_cst: I2
      preempt_check();
      return;
    }
  }
  send_slow(c, src, true);
  preempt_check();
}

op_result chan_recv(hchan* c, void* dst) {
  if (!c) block_forever(wait_reason::chan_receive_nil);
  if (c->lock_free() && c->recv_waiting_.load(std::memory_order_relaxed) == 0) {  // relaxed: hint
    ring::token t;
    switch (ring::start_pop(c->ring(), t)) {
      case ring::status::ok:
        ring::finish_pop(c->ring(), t, dst);
        if (c->send_waiting_.load()) serve_after_fast(c);  // seq_cst: I2
        preempt_check();
        return op_result::ok;
      case ring::status::closed:
        race_acquire(&c->closed_);
        return op_result::closed;
      default:
        break;
    }
  }
  op_result r = recv_slow(c, dst, true);
  preempt_check();
  return r;
}

op_result chan_try_send(hchan* c, void* src) {
  if (!c) return op_result::would_block;
  // With senders parked, the slow path serves them first (send_locked):
  // a poller must not take the room a receive just made for them.
  // relaxed: as in chan_send, a hint; a sender that parks meanwhile is
  // concurrent with this send.
  if (c->lock_free() && c->send_waiting_.load(std::memory_order_relaxed) == 0) {
    ring::token t;
    switch (ring::start_push(c->ring(), t)) {
      case ring::status::ok:
        ring::finish_push(c->ring(), t, src);
        if (c->recv_waiting_.load()) serve_after_fast(c);  // seq_cst: I2
        return op_result::ok;
      case ring::status::full_or_empty:
        // Full at that instant: a send would block (Go's lock-free check).
        return op_result::would_block;
      default:
        break;  // closed: the slow path throws
    }
  } else if (c->cap_ == 0 && c->recv_waiting_.load() == 0 && c->closed_.load() == 0) {
    // Go's lock-free check: no receiver, then not closed (closed is final,
    // so both held at the second read). seq_cst loads.
    return op_result::would_block;
  } else if (c->cap_ != 0 && ring::len(c->ring()) == c->cap_ && c->closed_.load() == 0) {
    // Locked mode, Go's check for buffered channels: full (len() is a
    // consistent snapshot), then not closed. A full buffer never has a
    // parked receiver, so the send would have blocked at that instant.
    // Spares a select's first pass the lock of every full channel.
    return op_result::would_block;
  }
  return send_slow(c, src, false);
}

op_result chan_try_recv(hchan* c, void* dst) {
  if (!c) return op_result::would_block;
  // With receivers parked, the slow path serves them first (recv_locked);
  // but an empty ring (usual then) needs no lock, as in locked mode below.
  bool receivers_parked = false;
  if (c->lock_free() && !(receivers_parked = c->recv_waiting_.load(std::memory_order_relaxed) != 0)) {
    ring::token t;
    switch (ring::start_pop(c->ring(), t)) {
      case ring::status::ok:
        ring::finish_pop(c->ring(), t, dst);
        if (c->send_waiting_.load()) serve_after_fast(c);  // seq_cst: I2
        return op_result::ok;
      case ring::status::closed:
        race_acquire(&c->closed_);
        return op_result::closed;
      case ring::status::parked:
        break;  // senders parked: receive under the lock (I6)
      default:
        // Empty and not closed at that instant. A sender parked then (the
        // ring was full when it looked) is being served: its value goes to
        // the ring, so take the lock and receive it (seq_cst: after the pop).
        if (c->send_waiting_.load() == 0) return op_result::would_block;
        break;
    }
  }
  if (c->cap_ == 0 && c->send_waiting_.load() == 0 && c->closed_.load() == 0) {
    // As in chan_try_send, order matters: waiters, then closed. A timer's
    // channel may hold a value its P has not delivered yet (Go's
    // maybeRunChan); recv_slow runs the timer then.
    if (c->timer_owner_ == nullptr) return op_result::would_block;
  }
  // Locked mode, or receivers parked: empty, then not closed (an empty
  // buffer never has a parked sender: in locked mode a receive that frees
  // a slot refills it from the queue in the same step; a ring with
  // receivers parked had no room problem). len() counts a push in flight.
  if (c->cap_ != 0 && (!c->lock_free() || receivers_parked) && ring::len(c->ring()) == 0 &&
      c->closed_.load() == 0 && c->after_timer_ == nullptr)
    return op_result::would_block;  // (an after() channel: recv_slow runs its timer if due)
  return recv_slow(c, dst, false);
}

void chan_close(hchan* c) {
  if (!c) throw panic_error("close of nil channel");
  ready_list rl;
  c->lock_.lock();
  if (c->closed_.load(std::memory_order_relaxed)) {  // relaxed: under lock
    c->lock_.unlock();
    throw panic_error("close of closed channel");
  }
  // Close happens before a receive that sees it. Its own address, not c:
  // chan_release says every handle drop is a release on c, which a
  // closed-receive must not acquire (TSan would then see edges Go has not).
  race_release(&c->closed_);
  c->closed_.store(1);
  if (c->cap_) c->ring()->tail_.fetch_or(c->ring()->mark_bit_);  // I5: no push starts after this
  // Receivers before senders, as Go's closechan: a select parked on both
  // sides of an unbuffered channel is then woken by its receive (zero
  // value, ok false), not its send (a panic). On a ring, values in it go
  // to parked receivers first; a parked sender's push finds the mark
  // (closed) there.
  // No waiter's past is acquired here (dequeue(false)): what the closer
  // hands each woken goroutine (ready) is its own.
  if (c->lock_free()) serve_locked(c, nullptr, rl, /*acquire=*/false);
  while (sudog* r = c->recvq_.dequeue(false)) complete(r, wake::closed, nullptr, rl);
  while (sudog* s = c->sendq_.dequeue(false)) complete(s, wake::closed, nullptr, rl);  // they panic
  c->sync_flags();
  c->lock_.unlock();
  rl.ready_all();
}

int64_t chan_len(const hchan* c) noexcept {
  if (!c || c->cap_ == 0 || c->sync_view_) return 0;
  return static_cast<int64_t>(ring::len(c->ring()));
}

int64_t chan_cap(const hchan* c) noexcept {
  if (!c || c->sync_view_) return 0;
  return static_cast<int64_t>(c->cap_);
}

// ------------------------------------------------------ lifetime

namespace {
constexpr uint64_t big_buffer = 1 << 20;  // from here on, base/big_memory: mappings, kept for reuse
// Buffers this small use locked mode (Go's algorithm) even for nothrow
// elements. With one or two slots nearly every operation finds the buffer
// full or empty and meets a waiter, so it takes the lock anyway, and the
// lock-free ring only adds a push and a pop of the ring (each a contended
// CAS) to a handoff the lock could do alone. Measured with 4 senders and
// 4 receivers (ns per message, min of 3 runs of 2,000,000, lock-free vs
// locked): cap 1 276 vs 125, cap 2 104 vs 119, cap 4 81 vs 162, cap 8 26
// vs 157, cap 256 27 vs 109. 1 sender, 1 receiver, cap 1: 62 vs 61.
constexpr uint64_t kLockedMaxCap = 2;
uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
// The ring's allocation: the elements, then one stamp byte per slot.
uint64_t ring_bytes(const hchan_ring* c) { return c->cap_ * c->stride_ + c->cap_; }
}  // namespace

static_assert(alignof(hchan) <= alignof(std::max_align_t), "record_alloc aligns as malloc does");
static_assert(std::is_nothrow_constructible_v<hchan, const elem_type*, uint64_t>, "chan_make does not free on a throw");

hchan::hchan(const elem_type* et, uint64_t cap) noexcept
    : et_(et), cap_(cap), locked_mode_(cap != 0 && (!et->nothrow_move || cap <= kLockedMaxCap)) {
#if !defined(GORO_TSAN)
  if (et->trivial && (et->size == 8 || et->size == 16)) copy_bytes_ = et->size;
#endif
}

hchan* chan_make(const elem_type* et, int64_t cap) {
  constexpr int64_t max_cap = int64_t{1} << 40;
  if (cap < 0 || cap > max_cap) throw panic_error("makechan: size out of range");
  // An unbuffered channel's record comes from the per-P record caches
  // (sched/record_cache.hpp): channels are often made on one worker and
  // dropped on another. chan_free gives it back.
  if (cap == 0) return ::new (record_alloc(sizeof(hchan))) hchan(et, 0);
  auto* c = new hchan_ring(et, static_cast<uint64_t>(cap));
  uint64_t align = et->align < 8 ? 8 : et->align;
  c->stride_ = static_cast<uint32_t>(round_up(et->size, et->align));
  uint64_t mark = 1;
  while (mark < c->cap_ + 1) mark <<= 1;
  c->mark_bit_ = mark;
  c->park_bit_ = mark << 1;
  c->one_lap_ = mark << 2;
  c->lap_shift_ = static_cast<uint32_t>(__builtin_ctzll(c->one_lap_));
  uint64_t vbytes = c->cap_ * c->stride_;
  // Go's limit: the buffer may not exceed maxAlloc (2^48 bytes on 64-bit
  // Linux); past it a panic, not an allocation that fails.
  constexpr uint64_t max_alloc = uint64_t{1} << 48;
  if (vbytes / c->stride_ != c->cap_ || vbytes + c->cap_ < vbytes || vbytes + c->cap_ > max_alloc) {
    delete c;
    throw panic_error("makechan: size out of range");
  }
  uint64_t bytes = ring_bytes(c);
  void* p;
  if (bytes >= big_buffer && align <= 4096) {
    // A kept mapping of a freed big ring, or a fresh one (base/big_memory:
    // first touches are what big rings cost). Fresh pages are zero, a
    // valid empty ring (ring.hpp); a kept mapping needs its stamps zeroed,
    // one byte per slot (its values are never read before written).
    big_block b = big_memory_get(bytes);
    p = b.p;
    c->map_bytes_ = b.mapped;
    if (p != nullptr && b.reused) std::memset(static_cast<unsigned char*>(p) + c->cap_ * c->stride_, 0, c->cap_);
  } else {
    p = ::operator new(bytes, std::align_val_t(align < 64 ? 64 : align), std::nothrow);
    if (p) std::memset(p, 0, bytes);
  }
  if (!p) {
    delete c;
    throw std::bad_alloc();
  }
  c->buf_ = static_cast<unsigned char*>(p);
  c->stamps_ = c->buf_ + c->cap_ * c->stride_;
  return c;
}

void chan_retain(hchan* c) noexcept {
  if (c->timer_owner_ != nullptr) {
    timer_rec_retain(c->timer_owner_);
    return;
  }
  c->refs_.fetch_add(1, std::memory_order_relaxed);  // relaxed: the caller already holds a reference
}

namespace {

// For an after() channel: if the handle being dropped is the last one and
// its timer is still pending, cancels the timer and drops the reference it
// held, so that the caller's release frees the channel and the timer now
// (Go 1.23 collects an unreferenced timer) instead of at the deadline: an
// after(1h) in every round of a select loop no longer keeps each round's
// channel for an hour. Returns true if it dropped the caller's reference
// itself (not the last one).
//
// Why this is exact: while the timer is pending it holds a reference, so
// refs_ == 2 means the caller's handle is the only one, and nobody can
// make another from it concurrently (a handle is not copied while it is
// destroyed). The decrement is a CAS so that of two handles dropped at
// once, the one that is last sees refs_ == 2. With refs_ == 2 after the
// timer fired (two handles, or ours and a firing callback's), timer_del
// returns false and the normal release follows. The timer record lives as
// long as the channel, and the caller's reference keeps the channel alive
// through timer_del.
bool release_after_channel(hchan* c) noexcept {
  uint64_t r = c->refs_.load(std::memory_order_relaxed);
  for (;;) {
    if (r <= 2) {
      if (r == 2 && timer_del(c->after_timer_)) c->refs_.fetch_sub(1, std::memory_order_relaxed);  // 2 -> 1: ours
      return false;
    }
    // acq_rel, as the fetch_sub in chan_release.
    if (c->refs_.compare_exchange_weak(r, r - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
  }
}

}  // namespace

void chan_release(hchan* c) noexcept {
  race_release(c);  // every use through a handle happens before the free
  if (c->timer_owner_ != nullptr) {
    timer_rec_release(c->timer_owner_);  // may destroy c with the record
    return;
  }
  if (c->after_timer_ != nullptr && release_after_channel(c)) return;
  // acq_rel: the last releaser sees every other holder's writes.
  if (c->refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  chan_free(c);
}

void chan_free(hchan* c) noexcept {
  race_acquire(c);
  delete c->after_timer_;  // not pending: cancelled, or fired and done with c
  if (c->cap_) {
    // Destroy what is still buffered (no one else can touch the ring now).
    hchan_ring* r = c->ring();
    uint64_t tail = ring::unflagged(r, r->tail_.load(std::memory_order_relaxed));
    for (uint64_t pos = ring::unflagged(r, r->head_.load(std::memory_order_relaxed)); pos != tail;
         pos = ring::next_pos(r, pos)) {
      uint64_t idx = pos & (r->mark_bit_ - 1);
      void* e = ring::elem_at(r, idx);
      race_acquire(e);
      c->et_->destroy(e);
    }
    uint64_t bytes = ring_bytes(r);
    uint64_t align = c->et_->align < 8 ? 8 : c->et_->align;
    if (bytes >= big_buffer && align <= 4096)
      big_memory_put(r->buf_, r->map_bytes_);
    else
      ::operator delete(r->buf_, std::align_val_t(align < 64 ? 64 : align));
    delete r;
    return;
  }
  c->~hchan();
  record_free(c, sizeof(hchan));
}

}  // namespace goro::detail
