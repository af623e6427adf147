// Local run queues. See runq.hpp for the design and who touches what.
//
// Memory orderings (the ring is Go's proc.go runq, which uses the same
// load-acquire / store-release / CAS-release pattern):
//  - The owner fills a slot, then publishes it with a release store of
//    `tail`; a thief's acquire load of `tail` makes the slot contents
//    visible before it reads them.
//  - Consumers (owner or thief) claim slots with a CAS on `head` (release,
//    acq_rel for thieves) after reading them; the owner's acquire load of
//    `head` in runq_put guarantees a slot is reused only after its reader
//    has finished with it.
//  - runnext is swapped with seq_cst exchanges: the exchange in runq_put is
//    also the store-load barrier that wakep()'s check of nmspinning needs
//    (sched.hpp: a spinning M that goes idle re-checks every queue after it
//    decrements nmspinning; the readier puts work, then reads nmspinning).
//    One exception, in ready(): an empty runnext filled with no wakep()
//    after it is a release store (only the owner makes runnext non-null).
#include "sched/runq.hpp"

#include <algorithm>

#include "base/check.hpp"
#include "sched/sched.hpp"
#include "sched/trace.hpp"

namespace goro::detail {

namespace {

// Moves half of pp's ring plus gp to the global queue. False if a thief got
// in first (the ring then has room again; the caller retries).
bool runq_put_slow(p* pp, g* gp, uint32_t h, uint32_t t) {
  constexpr uint32_t n = kRunqSize / 2;
  GORO_DCHECK(t - h == kRunqSize);
  g* batch[n + 1];
  for (uint32_t i = 0; i < n; i++) batch[i] = pp->q.slots[(h + i) % kRunqSize].load(std::memory_order_relaxed);
  // release: the slots were read before they are given back to the owner.
  if (!pp->q.head.compare_exchange_strong(h, h + n, std::memory_order_release, std::memory_order_relaxed))
    return false;
  batch[n] = gp;
  for (uint32_t i = 0; i <= n; i++) {
    batch[i]->schedlink = i < n ? batch[i + 1] : nullptr;
    batch[i]->schedlink_ahead = i + kSchedAhead <= n ? batch[i + kSchedAhead] : nullptr;
  }
  {
    lock_guard lk(sched.lock);
    globrunq_put_batch_locked(batch[0], batch[n], static_cast<int32_t>(n + 1));
  }
  return true;
}

// Whether victim, whose runnext holds `next`, is about to run it itself:
// its M is running goroutines and switches within the look (a goroutine
// that just readied its partner and is about to block, as in a ping-pong
// or a request/response). Taking runnext then would split the pair over
// two cores; Go pauses 3 us before taking it. goro looks at the victim's
// switch count instead, up to 5 us, and leaves runnext as soon as the
// count moves: a victim whose goroutine computes or sits in goro::blocking
// after readying one (its count stands still) loses it after the look,
// and one that keeps switching is left alone (the thief naps and looks
// again, find_runnable).
bool victim_runs_its_runnext(p* victim, g* next) {
  constexpr int64_t kLookNs = 5'000;
  if (victim->status.load(std::memory_order_relaxed) != p_status::running) return false;
  // (64 bits, as the count: a 32-bit copy compared with it made every P
  // past 2^32 switches look busy, and its runnext was never taken.)
  const uint64_t t1 = victim->schedtick.load(std::memory_order_relaxed);
  int64_t now = nanotime();
  int64_t until = now + kLookNs;
  // The victim has not switched since ready() put `next` there and woke a
  // worker (this thief, most likely): the look started then. (That tick
  // is kept in 32 bits.)
  if (victim->q.runnext_woke_tick.load(std::memory_order_relaxed) == static_cast<uint32_t>(t1)) {
    int64_t woke = victim->q.runnext_woke_ns.load(std::memory_order_relaxed);
    if (woke <= now && woke + kLookNs < until) until = woke + kLookNs;
  }
  do {
    for (int i = 0; i < 16; i++) cpu_relax();
    if (victim->schedtick.load(std::memory_order_relaxed) != t1) return true;
    if (victim->q.runnext.load(std::memory_order_relaxed) != next) return true;
  } while (nanotime() < until);
  return false;
}

// Copies about half of victim's ring into ring `dst` starting at index
// `dst_tail`; returns how many. With `steal_next` and an empty ring, takes
// runnext unless the victim is about to run it (then sets *declined). Any
// thread.
uint32_t runq_grab(p* victim, std::atomic<g*>* dst, uint32_t dst_tail, bool steal_next, bool* declined) {
  for (;;) {
    uint32_t h = victim->q.head.load(std::memory_order_acquire);
    uint32_t t = victim->q.tail.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_next) {
        g* next = victim->q.runnext.load(std::memory_order_acquire);
        if (next != nullptr) {
          if (victim_runs_its_runnext(victim, next)) {
            trace(trace_ev::steal_skip, next->id, static_cast<uint64_t>(victim->id));
            *declined = true;
            return 0;
          }
          if (!victim->q.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel))
            continue;
          dst[dst_tail % kRunqSize].store(next, std::memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > kRunqSize / 2) continue;  // read an inconsistent h/t pair; retry
    for (uint32_t i = 0; i < n; i++) {
      g* gp = victim->q.slots[(h + i) % kRunqSize].load(std::memory_order_relaxed);
      dst[(dst_tail + i) % kRunqSize].store(gp, std::memory_order_relaxed);
    }
    if (victim->q.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel, std::memory_order_relaxed))
      return n;
  }
}

}  // namespace

void runq_put(p* pp, g* gp, bool next) {
  if (next) {
    gp = pp->q.runnext.exchange(gp, std::memory_order_seq_cst);
    if (gp == nullptr) return;
    // The old runnext goes to the tail.
  }
  for (;;) {
    uint32_t h = pp->q.head.load(std::memory_order_acquire);
    uint32_t t = pp->q.tail.load(std::memory_order_relaxed);  // only the owner writes tail
    if (t - h < kRunqSize) {
      pp->q.slots[t % kRunqSize].store(gp, std::memory_order_relaxed);
      pp->q.tail.store(t + 1, std::memory_order_release);
      return;
    }
    if (runq_put_slow(pp, gp, h, t)) return;
  }
}

namespace {

g* take_runnext(p* pp) {
  g* next = pp->q.runnext.load(std::memory_order_relaxed);
  if (next != nullptr && pp->q.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel))
    return next;
  return nullptr;
}

// After the owner takes the ring's head: start loading what a later switch
// will touch. When a burst of wake-ups fills the ring (a context cancelled
// with 100,000 watchers, a broadcast), each goroutine runs for a few
// hundred nanoseconds and was readied long before, so its stack and g have
// left the cache; ready()'s prefetch (proc.cpp) came too early. So the
// entry two places behind gets eight lines of its stack from the saved sp
// loaded (its g's line 0 is read for the sp). Eight, not ready()'s four: a
// woken channel receiver returns through more (its sudog is a local of
// recv_slow); eight in ready() cost the hot channel paths a little
// (spsc/bounded0 64-71 ns against 62-64), so ready() keeps four.
// Entries may be stolen meanwhile: a prefetch of lines a thief uses costs
// it a line transfer at worst, and the read relies on nothing (g records
// are never freed).
// Measured with a probe that repeats toolkit/ctx_cancel (100,000 watchers
// woken by one cancel) eight times per process, interleaved runs: 452-482
// ns per watcher without, 346-376 with four lines, 284-318 with eight
// (twelve, here and in ready(), no better than four); runtime/spawn
// unchanged (its goroutines never ran: null sp). Also prefetching the g
// four places behind cost spawn 8% (its records were just written on the
// spawner's core) for no gain here (docs/design.md, "park").
constexpr int kRingResumeLines = 8;

void prefetch_ring_after(p* pp, uint32_t h, uint32_t t) {
  uint32_t left = t - (h + 1);  // entries after the one taken
  if (left < 2 || left > kRunqSize) return;
  // A goroutine that never ran has a null saved sp (g_free), and no
  // frames to load: prefetch_resume_frames skips them.
  prefetch_resume_frames(pp->q.slots[(h + 2) % kRunqSize].load(std::memory_order_relaxed), kRingResumeLines);
}

g* take_ring_head(p* pp) {
  for (;;) {
    uint32_t h = pp->q.head.load(std::memory_order_acquire);
    uint32_t t = pp->q.tail.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    g* gp = pp->q.slots[h % kRunqSize].load(std::memory_order_relaxed);
    if (pp->q.head.compare_exchange_strong(h, h + 1, std::memory_order_release, std::memory_order_relaxed)) {
      prefetch_ring_after(pp, h, t);
      return gp;
    }
  }
}

}  // namespace

g* runq_get(p* pp) {
  bool ring_first = pp->q.runnext_streak >= kRunnextStreakMax;
  if (!ring_first) {
    if (g* gp = take_runnext(pp)) {
      pp->q.runnext_streak++;
      pp->q.took_runnext = true;
      return gp;
    }
  }
  pp->q.runnext_streak = 0;
  if (g* gp = take_ring_head(pp)) return gp;
  if (!ring_first) return nullptr;
  g* gp = take_runnext(pp);  // an empty ring: runnext after all
  if (gp != nullptr) pp->q.took_runnext = true;
  return gp;
}

namespace {
g* take_yielded_from(p* pp, p* victim, uint32_t most);
}  // namespace

g* runq_steal(p* pp, p* victim, bool steal_next, bool* declined) {
  uint32_t t = pp->q.tail.load(std::memory_order_relaxed);
  uint32_t n = runq_grab(victim, pp->q.slots, t, steal_next, declined);
  if (n == 0) {
    // Nothing in the ring: the victim's yielders, which would otherwise
    // wait there while this P has nothing to run.
    if (victim->q.yield_len.load(std::memory_order_relaxed) == 0) return nullptr;
    return take_yielded_from(pp, victim, UINT32_MAX);
  }
  n--;
  g* gp = pp->q.slots[(t + n) % kRunqSize].load(std::memory_order_relaxed);
  if (n == 0) return gp;
  GORO_DCHECK(t + n - pp->q.head.load(std::memory_order_relaxed) < kRunqSize);
  pp->q.tail.store(t + n, std::memory_order_release);
  return gp;
}

namespace {
// Takes everything from pp's ring and runnext into a linked batch.
uint32_t runq_take_all(p* pp, g** head, g** tail) {
  std::atomic<g*> buf[kRunqSize];
  uint32_t total = 0;
  *head = *tail = nullptr;
  for (;;) {
    bool unused = false;
    uint32_t n = runq_grab(pp, buf, 0, false, &unused);
    g* next = pp->q.runnext.exchange(nullptr, std::memory_order_acq_rel);
    if (next != nullptr) buf[n++].store(next, std::memory_order_relaxed);
    if (n == 0) return total;
    for (uint32_t i = 0; i < n; i++) {
      g* gp = buf[i].load(std::memory_order_relaxed);
      gp->schedlink = nullptr;
      if (*tail != nullptr)
        (*tail)->schedlink = gp;
      else
        *head = gp;
      *tail = gp;
    }
    total += n;
  }
}
}  // namespace

namespace {
// Detaches up to n goroutines from the front of pp's yield list (lock
// held) into a chain; returns how many.
uint32_t yield_list_take_locked(p* pp, uint32_t n, g** head, g** tail) {
  *head = *tail = nullptr;
  if (n == 0 || pp->q.yield_head == nullptr) return 0;
  // The first n stay linked as they are: cut the list after the n-th.
  g* last = pp->q.yield_head;
  uint32_t taken = 1;
  for (; taken < n && last->schedlink != nullptr; taken++) last = last->schedlink;
  *head = pp->q.yield_head;
  *tail = last;
  pp->q.yield_head = last->schedlink;
  last->schedlink = nullptr;
  if (pp->q.yield_head == nullptr) pp->q.yield_tail = nullptr;
  pp->q.yield_len.store(pp->q.yield_len.load(std::memory_order_relaxed) - taken, std::memory_order_relaxed);
  return taken;
}

// Appends a chain of n goroutines to pp's yield list (lock held).
void yield_list_append_locked(p* pp, g* head, g* tail, uint32_t n) {
  append_chain(pp->q.yield_head, pp->q.yield_tail, head, tail);
  pp->q.yield_len.store(pp->q.yield_len.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Moves half of victim's yield list (at least one, at most `most`) to the
// end of pp's, and returns the first of them, taken off again to run.
g* take_yielded_from(p* pp, p* victim, uint32_t most) {
  g *head, *tail;
  uint32_t n;
  {
    lock_guard lk(victim->q.yield_lock);
    uint32_t len = victim->q.yield_len.load(std::memory_order_relaxed);
    n = std::min(std::max<uint32_t>(len - len / 2, 1), most);
    n = yield_list_take_locked(victim, n, &head, &tail);
  }
  if (n == 0) return nullptr;
  g* first = head;
  if (n > 1) {
    lock_guard lk(pp->q.yield_lock);
    yield_list_append_locked(pp, first->schedlink, tail, n - 1);
  }
  first->schedlink = nullptr;
  return first;
}
}  // namespace

void runq_put_yielded(p* pp, g* gp) {
  lock_guard lk(pp->q.yield_lock);
  yield_list_append_locked(pp, gp, gp, 1);
}

g* runq_get_yielded(p* pp) {
  if (pp->q.yield_len.load(std::memory_order_relaxed) == 0) return nullptr;
  g *head, *tail;
  lock_guard lk(pp->q.yield_lock);
  yield_list_take_locked(pp, 1, &head, &tail);
  return head;
}

g* runq_balance_yielded(p* pp) {
  // The caller is between goroutines, so all of its yielders are on its
  // list; a busy P runs one of its own besides its list. Each side's
  // yielders are then mine and len + 1: take half the difference when it
  // is two or more. (Comparing the lists alone left four against two.)
  uint32_t mine = pp->q.yield_len.load(std::memory_order_relaxed);
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  p* fullest = nullptr;
  uint32_t most = mine;
  for (int32_t i = 0; i < n; i++) {
    p* v = p_for_index(i);
    uint32_t len = v->q.yield_len.load(std::memory_order_relaxed);
    if (v != pp && len > most) {
      fullest = v;
      most = len;
    }
  }
  if (fullest == nullptr) return nullptr;
  return take_yielded_from(pp, fullest, (most + 1 - mine) / 2);
}

uint32_t runq_drain_to_global_locked(p* pp) {
  g *head, *tail;
  uint32_t n = runq_take_all(pp, &head, &tail);
  if (n > 0) globrunq_put_batch_locked(head, tail, static_cast<int32_t>(n));
  uint32_t yielded;
  {
    lock_guard lk(pp->q.yield_lock);
    yielded = yield_list_take_locked(pp, UINT32_MAX, &head, &tail);
  }
  if (yielded > 0) yieldq_put_batch_locked(head, tail, static_cast<int32_t>(yielded));
  return n + yielded;
}

bool runq_empty(const p* pp) {
  // Read head, tail, runnext, then tail again: a g moving from runnext to
  // the ring between the reads would otherwise make a non-empty queue look
  // empty. (Nothing moves between the yield list and the ring.)
  for (;;) {
    uint32_t h = pp->q.head.load(std::memory_order_acquire);
    uint32_t t = pp->q.tail.load(std::memory_order_acquire);
    g* next = pp->q.runnext.load(std::memory_order_acquire);
    if (t == pp->q.tail.load(std::memory_order_acquire))
      return h == t && next == nullptr && pp->q.yield_len.load(std::memory_order_acquire) == 0;
  }
}

uint32_t runq_len(const p* pp) {
  uint32_t h = pp->q.head.load(std::memory_order_acquire);
  uint32_t t = pp->q.tail.load(std::memory_order_acquire);
  return t - h;
}

}  // namespace goro::detail
