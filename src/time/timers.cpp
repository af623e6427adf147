// Per-P timer heaps. Design and invariants in timer.hpp.
//
// The heap is 4-ary (as Go's): shallower than a binary heap, so sifting
// touches fewer cache lines for the same number of timers.
//
// Deletion is lazy (Go's runtime does the same with its "zombie" timers):
// timer_del turns the entry into a dead one in place (ref 0) instead of
// sifting the last entry through the heap from the middle, which wrote the
// heap_index of every timer it moved, a cache miss per level. Dead entries
// are dropped when they reach the top, all at once when every entry is
// dead, and by a compaction (filter, then Floyd's bottom-up heapify) when
// they are more than half the heap, so the heap is never more than twice
// its live entries and the amortized cost of a deletion stays O(1).
//
// The in-order queues (timer.hpp, timer_heap) take the entries whose
// deadline is not before a queue's last one; their timer entries are
// deleted the same lazy way (dead in place, found again by queue and
// sequence number), and a queue is compacted when dead entries are more
// than half of it.
//
// A lock-free deletion (timer_lf_del, timer.hpp "Zombies") does not even
// make a dead entry: the entry stays live until a pop, its user, or a
// reaper (reap_chunk_locked) drops it; reaping turns zombies into dead entries,
// so the bounds above hold again after each reap.
#include <algorithm>
#include <cstdlib>
#include <new>
#include <vector>

#include "base/check.hpp"
#include "base/prefetch.hpp"
#include "netpoll/netpoll.hpp"
#include "sched/sched.hpp"
#include "sched/test_hooks.hpp"
#include "sched/trace.hpp"
#include "time/timer.hpp"
#include "time/timer_stats.hpp"

namespace goro::detail {

namespace {

using heap_t = entry_array;

constexpr uintptr_t kSleepTag = 1;
constexpr uintptr_t kDead = 0;  // a deleted timer's entry (timer_del)
// A heap array up to this many entries is kept when it empties or shrinks.
constexpr size_t kKeepCapacity = 4096;

bool is_sleep(timer_entry e) { return (e.ref & kSleepTag) != 0; }
bool is_timer(timer_entry e) { return !is_sleep(e) && e.ref != kDead; }
timer* timer_of(timer_entry e) { return reinterpret_cast<timer*>(e.ref); }
g* g_of(timer_entry e) { return reinterpret_cast<g*>(e.ref & ~kSleepTag); }

void place(heap_t& h, size_t i, timer_entry e) {
  h[i] = e;
  if (is_timer(e)) timer_of(e)->heap_index = static_cast<int32_t>(i);
}

void sift_up(heap_t& h, size_t i) {
  timer_entry e = h[i];
  while (i > 0) {
    size_t parent = (i - 1) / 4;
    if (h[parent].when <= e.when) break;
    place(h, i, h[parent]);
    i = parent;
  }
  place(h, i, e);
}

void sift_down(heap_t& h, size_t i) {
  size_t n = h.size();
  timer_entry e = h[i];
  for (;;) {
    size_t c = 4 * i + 1;
    if (c >= n) break;
    size_t best = c;
    size_t end = std::min(c + 4, n);
    for (size_t k = c + 1; k < end; k++)
      if (h[k].when < h[best].when) best = k;
    if (h[best].when >= e.when) break;
    place(h, i, h[best]);
    i = best;
  }
  place(h, i, e);
}

void remove_at(heap_t& h, size_t i) {
  if (is_timer(h[i])) timer_of(h[i])->heap_index = -1;
  size_t last = h.size() - 1;
  if (i != last) {
    h[i] = h[last];
    h.pop_back();
    sift_down(h, i);
    sift_up(h, i);
  } else {
    h.pop_back();
  }
}

// Entries of the heap and the queues, dead ones included.
size_t entries_locked(timer_heap& th) {
  size_t n = th.heap.size();
  for (timer_queue& q : th.queues) n += q.ring.size();
  return n;
}

// The queue whose head is due first (and not after the heap's top), or
// nullptr if the heap's top is.
timer_queue* earliest_queue(timer_heap& th) {
  timer_queue* best = nullptr;
  int64_t when = th.heap.empty() ? INT64_MAX : th.heap[0].when;
  for (timer_queue& q : th.queues) {
    if (!q.ring.empty() && q.ring.front().when <= when && (best == nullptr || q.ring.front().when < when)) {
      best = &q;
      when = q.ring.front().when;
    }
  }
  return best;
}

// The earliest deadline of the heap and the queues, INT64_MAX if none.
int64_t earliest_locked(timer_heap& th) {
  if (timer_queue* q = earliest_queue(th)) return q->ring.front().when;
  return th.heap.empty() ? INT64_MAX : th.heap[0].when;
}

// Takes the earliest live entry if it is due by `now`, dropping the dead
// entries due before it.
bool pop_due_locked(timer_heap& th, int64_t now, timer_entry* out) {
  for (;;) {
    if (timer_queue* q = earliest_queue(th)) {
      if (q->ring.front().when > now) return false;
      *out = q->ring.front();
      q->ring.pop_front();
      if (out->ref == kDead) {
        q->dead--;
        continue;
      }
      if (is_timer(*out)) timer_of(*out)->heap_index = -1;
      return true;
    }
    if (th.heap.empty() || th.heap[0].when > now) return false;
    *out = th.heap[0];
    remove_at(th.heap, 0);
    if (out->ref != kDead) return true;
    th.dead--;
  }
}

// Drops the dead entries and rebuilds the heap in O(n) (Floyd). Every live
// timer's heap_index is rewritten: filtering moved them all.
void compact_locked(timer_heap& th) {
  heap_t& h = th.heap;
  size_t n = 0;
  for (size_t i = 0; i < h.size(); i++)
    if (h[i].ref != kDead) place(h, n++, h[i]);
  h.shrink(n);
  th.dead = 0;
  for (size_t i = n / 4 + 1; i-- > 0;)
    if (i < n) sift_down(h, i);
  if (h.capacity() > kKeepCapacity && h.capacity() > 4 * n) h.shrink_to(n);
}

// Drops queue qi's dead entries, moving the live ones up in order. A timer
// whose entry moved gets its new place (the entries before the first dead
// one keep theirs).
void compact_queue_locked(timer_heap& th, int qi) {
  entry_ring& r = th.queues[qi].ring;
  uint64_t to = r.head_seq();
  for (uint64_t from = r.head_seq(); from != r.tail_seq(); from++) {
    timer_entry e = r.at(from);
    if (e.ref == kDead) continue;
    if (to != from) {
      r.at(to) = e;
      if (is_timer(e)) timer_of(e)->heap_index = queue_code(qi, to);
    }
    to++;
  }
  r.truncate(to);
  th.queues[qi].dead = 0;
}

// Empties `entries` (the heap's array or a queue's ring) if all of them
// are dead, giving a large array's memory back.
template <class Entries>
void drop_if_all_dead(Entries& entries, size_t& dead) {
  if (dead == 0 || dead != entries.size()) return;
  dead = 0;
  if (entries.capacity() > kKeepCapacity) {
    entries.release();
  } else {
    entries.clear();
  }
}

// After every change to the heap: with no live entry left, the dead ones go
// (so an idle P reports no timers to the deadlock check and sleeps without
// a deadline) and so does a large array; then timer0_when is republished.
void update_timer0(p* pp) {
  timer_heap& th = pp->timers;
  drop_if_all_dead(th.heap, th.dead);
  for (timer_queue& q : th.queues) drop_if_all_dead(q.ring, q.dead);
  pp->timer0_when.store(earliest_locked(th), std::memory_order_seq_cst);
  // The heap may have shrunk (a pop, a compaction): its zombies may be half
  // of it now without a new one, and sysmon looks again only when the
  // count moves or this is reset (timers_reap).
  if (th.zombies_seen.load(std::memory_order_relaxed) != 0) th.zombies_seen.store(0, std::memory_order_relaxed);
}

// A new earliest deadline may be before the idle worker's wake-up time:
// kick the timed sleeper (or any idle M) to recompute it.
void wake_for_timer(int64_t when) {
  if (when >= sched.timed_sleep_until.load(std::memory_order_seq_cst)) return;
  m* target;
  bool polling = false;
  {
    lock_guard lk(sched.lock);
    target = sched.timed_sleeper != nullptr ? sched.timed_sleeper : sched.midle;
    if (target != nullptr) polling = target->polling;
  }
  if (target != nullptr) {
    target->park_note.wake();
    if (polling) netpoll_break();  // it sleeps in epoll_wait (sched/proc.cpp stop_m)
  } else {
    wakep();
  }
}

}  // namespace

entry_array::~entry_array() { std::free(data_); }

entry_ring::~entry_ring() { std::free(data_); }

void entry_ring::release() {
  std::free(data_);
  data_ = nullptr;
  cap_ = 0;
  head_ = tail_ = 0;  // nothing queued names a sequence number now
}

// Doubles the ring, which is full. realloc keeps the old slots (moving a
// large block's pages with mremap, as entry_array does); then each entry
// whose sequence number has the old capacity's bit set belongs in the new
// upper half, at its old slot plus the old capacity.
void entry_ring::grow() {
  if (test_hooks::timer_grow_fails.load(std::memory_order_relaxed)) throw std::bad_alloc();
  size_t cap = cap_ == 0 ? 64 : 2 * cap_;
  void* p = std::realloc(data_, cap * sizeof(timer_entry));
  if (p == nullptr) throw std::bad_alloc();
  data_ = static_cast<timer_entry*>(p);
  if (cap_ != 0) {
    for (uint64_t seq = head_; seq != tail_; seq++)
      if ((seq & cap_) != 0) data_[(seq & (cap_ - 1)) + cap_] = data_[seq & (cap_ - 1)];
  }
  cap_ = cap;
}

void entry_array::set_capacity(size_t cap) {
  if (cap == 0) {
    release();
    return;
  }
  void* p = std::realloc(data_, cap * sizeof(timer_entry));
  if (p == nullptr) throw std::bad_alloc();
  data_ = static_cast<timer_entry*>(p);
  cap_ = cap;
}

void entry_array::grow() {
  if (test_hooks::timer_grow_fails.load(std::memory_order_relaxed)) throw std::bad_alloc();
  set_capacity(cap_ < 64 ? 64 : 2 * cap_);
}

void entry_array::shrink_to(size_t keep) {
  if (keep < size_) keep = size_;
  if (keep < cap_) set_capacity(keep);
}

void entry_array::release() {
  std::free(data_);
  data_ = nullptr;
  size_ = cap_ = 0;
}

namespace {

// The queue an entry due at `when` joins: the one whose last deadline is
// the latest not after `when`, else an empty one; -1: none (the heap).
int pick_queue(timer_heap& th, int64_t when) {
  int best = -1;
  int empty = -1;
  int64_t best_back = INT64_MIN;
  for (int i = 0; i < kTimerQueues; i++) {
    entry_ring& r = th.queues[i].ring;
    if (r.empty()) {
      if (empty < 0) empty = i;
    } else if (r.back().when <= when && r.back().when >= best_back && r.size() < entry_ring::kMaxQueued) {
      best = i;
      best_back = r.back().when;
    }
  }
  return best >= 0 ? best : empty;
}

// Adds entry e to the timers of the caller's P (P 0's for a plain thread).
// t: the timer record of a timer entry, null for a sleep entry. arm_lf:
// also make t lock-free deletable (timer_add_lf_armed).
void timers_add(timer_entry e, timer* t, bool arm_lf = false) {
  ensure_runtime();
  m* mp = current_m();
  p* pp = owned_p(mp);
  if (pp == nullptr) pp = p_for_index(0);
  bool earliest;
  {
    lock_guard lk(pp->timers.lock);
    timer_heap& th = pp->timers;
    // Only this lock's holders write timer0_when.
    earliest = e.when < pp->timer0_when.load(std::memory_order_relaxed);
    if (t != nullptr) GORO_CHECK(t->heap_index == -1);
    if (int qi = pick_queue(th, e.when); qi >= 0) {
      uint64_t seq = th.queues[qi].ring.push_back(e);
      if (t != nullptr) {
        t->owner = pp;
        t->heap_index = queue_code(qi, seq);
      }
    } else {
      if (t != nullptr) t->owner = pp;
      th.heap.push_back(e);
      sift_up(th.heap, th.heap.size() - 1);
    }
    // Before the lock's release: no worker can pop the entry (and fire,
    // which takes the state back) until then.
    if (arm_lf) timer_lf_arm(t);
    // A deadline after this P's earliest changes neither timer0_when nor
    // anyone's wake-up time: no store, no barrier, no wake.
    if (earliest) update_timer0(pp);
  }
  if (earliest) wake_for_timer(e.when);
}

}  // namespace

void timer_add(timer* t) {
  // t may fire (and be reused) once the lock is dropped: read it first.
  timers_add(timer_entry{t->when, reinterpret_cast<uintptr_t>(t)}, t);
}

void timer_add_lf_armed(timer* t) { timers_add(timer_entry{t->when, reinterpret_cast<uintptr_t>(t)}, t, true); }

void sleep_add(g* gp, int64_t when) { timers_add(timer_entry{when, reinterpret_cast<uintptr_t>(gp) | kSleepTag}, nullptr); }

bool timer_del(timer* t) {
  p* pp = t->owner;
  if (pp == nullptr) return false;
  lock_guard lk(pp->timers.lock);
  const int32_t where = t->heap_index;
  if (where == -1) return false;
  timer_heap& th = pp->timers;
  t->heap_index = -1;
  // Lazily (top of this file): the entry stays, dead. timer0_when may now
  // be earlier than the earliest live deadline: a worker then wakes early,
  // finds the dead entry due and drops it. It is republished only when the
  // heap or queue empties of live entries or is compacted.
  if (in_queue(where)) {
    const int qi = queue_of(where);
    timer_queue& q = th.queues[qi];
    timer_entry& e = q.ring.at(queue_seq_bits(where));
    GORO_CHECK(e.ref == reinterpret_cast<uintptr_t>(t));
    e.ref = kDead;
    q.dead++;
    if (q.dead == q.ring.size()) {
      update_timer0(pp);  // empties the queue
    } else if (2 * q.dead > q.ring.size()) {
      compact_queue_locked(th, qi);
      update_timer0(pp);
    }
    return true;
  }
  th.heap[static_cast<size_t>(where)].ref = kDead;
  th.dead++;
  if (th.dead == th.heap.size()) {
    update_timer0(pp);  // empties the heap
  } else if (2 * th.dead > th.heap.size()) {
    compact_locked(th);
    update_timer0(pp);
  }
  return true;
}

void timer_lf_arm(timer* t) {
  // owner: written by the timer_add under the caller's serialization.
  // release: a timer_lf_del that sees the state sees the P it names.
  t->lf.store((static_cast<uint32_t>(t->owner->id) << 2) | kLfArmed, std::memory_order_release);
}

bool timer_lf_del(timer* t) {
  uint32_t s = t->lf.load(std::memory_order_relaxed);
  if ((s & 3) != kLfArmed) return false;
  // acq_rel: ordered with timer_lf_disarm's exchange and the reaper's CAS.
  if (!t->lf.compare_exchange_strong(s, (s & ~3u) | kLfZombie, std::memory_order_acq_rel, std::memory_order_relaxed))
    return false;
  p_for_index(static_cast<int32_t>(s >> 2))->timers.zombies.fetch_add(1, std::memory_order_relaxed);
  return true;
}

uint32_t timer_lf_disarm(timer* t) {
  uint32_t s = t->lf.exchange(kLfNone, std::memory_order_acq_rel);
  // Took a zombie back (its entry goes with the caller's timer_del, or went
  // with the pop that called it): one zombie fewer on its P's heap.
  if ((s & 3) == kLfZombie) p_for_index(static_cast<int32_t>(s >> 2))->timers.zombies.fetch_sub(1, std::memory_order_relaxed);
  return s & 3;
}

namespace {

constexpr size_t kReapChunk = 4096;       // entries scanned per hold of the lock
constexpr int kMonitorReapChunks = 8;     // per P and sysmon round
std::atomic<uint64_t> g_reap_longest_scan{0};  // entries scanned in one hold (tests)

// Claims and kills the zombie entries among the next kReapChunk entries of
// pp's heap and then queues (one index over all: the heap's entries, then
// each queue's from its head, in turn) from reap_next (timer.hpp, "Zombies"),
// appending their timers to `out`; returns whether the scan reached the
// end. Under pp's timer lock. Every entry's timer is alive: its user keeps
// it so while the entry is in the heap. The heap and queue may change
// between chunks (a pop moves the heap's last entry to the top, or takes
// the queue's head): a zombie moved behind the scan stays counted for the
// next reap.
bool reap_chunk_locked(p* pp, std::vector<timer*>& out) {
  timer_heap& th = pp->timers;
  const size_t nheap = th.heap.size();
  size_t n = nheap;
  for (timer_queue& q : th.queues) n += q.ring.size();
  const size_t from = std::min(th.reap_next.load(std::memory_order_relaxed), n);
  const size_t end = std::min(from + kReapChunk, n);
  int32_t claimed = 0;
  int qi = 0;            // the queue index i is in, once past the heap
  size_t qstart = nheap;  // index of that queue's head
  for (size_t i = from; i < end; i++) {
    const bool in_heap = i < nheap;
    if (!in_heap) {
      while (i >= qstart + th.queues[qi].ring.size()) qstart += th.queues[qi++].ring.size();
    }
    timer_entry& e = in_heap ? th.heap[i] : th.queues[qi].ring.at(th.queues[qi].ring.head_seq() + (i - qstart));
    if (!is_timer(e)) continue;
    timer* t = timer_of(e);
    uint32_t s = t->lf.load(std::memory_order_relaxed);
    if ((s & 3) != kLfZombie) continue;
    if (!t->lf.compare_exchange_strong(s, (s & ~3u) | kLfReaped, std::memory_order_acq_rel,
                                       std::memory_order_relaxed))
      continue;  // its user took it back: it deletes the entry itself
    e.ref = kDead;
    t->heap_index = -1;
    if (in_heap) {
      th.dead++;
    } else {
      th.queues[qi].dead++;
    }
    claimed++;
    out.push_back(t);
  }
  if (claimed != 0) th.zombies.fetch_sub(claimed, std::memory_order_relaxed);
  if (end - from > g_reap_longest_scan.load(std::memory_order_relaxed))
    g_reap_longest_scan.store(end - from, std::memory_order_relaxed);  // (a statistic: a lost race is fine)
  if (end < n) {
    th.reap_next.store(end, std::memory_order_relaxed);
    return false;
  }
  th.reap_next.store(0, std::memory_order_relaxed);
  if (th.dead != nheap && 2 * th.dead > nheap) compact_locked(th);
  for (int q = 0; q < kTimerQueues; q++) {
    const size_t size = th.queues[q].ring.size();
    if (th.queues[q].dead != size && 2 * th.queues[q].dead > size) compact_queue_locked(th, q);
  }
  update_timer0(pp);  // empties a heap or queue left with dead entries only
  return true;
}

}  // namespace

void timers_reap(p* pp, bool all) {
  timer_heap& th = pp->timers;
  int32_t z = th.zombies.load(std::memory_order_relaxed);
  // A reap under way goes on to the end (its end drops or compacts the
  // dead entries it made), whatever the count says now.
  const bool under_way = th.reap_next.load(std::memory_order_relaxed) != 0;
  if (!under_way && (z <= 0 || (!all && z == th.zombies_seen.load(std::memory_order_relaxed)))) return;
  std::vector<timer*> reaped;
  for (int chunks = 0;; chunks++) {
    bool done;
    {
      lock_guard lk(th.lock);
      if (chunks == 0) {
        // >=: a heap of zombies and dead entries only is reaped (dead
        // entries are at most half of it: timer_del compacts past that).
        if (all) th.reap_next.store(0, std::memory_order_relaxed);  // every entry, from the top
        if (!all && th.reap_next.load(std::memory_order_relaxed) == 0 &&
            2 * static_cast<size_t>(std::max(z, 0)) < entries_locked(th)) {
          th.zombies_seen.store(z, std::memory_order_relaxed);
          return;
        }
        th.zombies_seen.store(0, std::memory_order_relaxed);
      }
      done = reap_chunk_locked(pp, reaped);
    }
    for (timer* t : reaped) t->fn(t, kTimerReaped);
    reaped.clear();
    // sysmon: a few chunks per round, so that a million stopped timers do
    // not hold up its other work either; it resumes at its next round.
    if (done || (!all && chunks + 1 >= kMonitorReapChunks)) return;
  }
}

void timers_reap_all(bool all) {
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) timers_reap(p_for_index(i), all);
}

bool timers_may_wake() {
  // Channel timers met on the heaps, with their kind's release, each
  // holding a reference taken under the heap lock.
  struct watched_timer {
    timer* t;
    bool (*waited)(timer*) noexcept;
    void (*release)(timer*) noexcept;
  };
  std::vector<watched_timer> watched;
  bool live = false;
  try {
    int32_t np = sched.nallp.load(std::memory_order_acquire);
    for (int32_t i = 0; i < np && !live; i++) {
      timer_heap& th = p_for_index(i)->timers;
      lock_guard lk(th.lock);
      auto look = [&](timer_entry e) {
        if (is_sleep(e)) {
          live = true;  // a sleeping goroutine wakes at its deadline
          return;
        }
        if (!is_timer(e)) return;
        timer* t = timer_of(e);
        if (watched.size() == watched.capacity()) watched.reserve(2 * watched.size() + 16);  // (a throw: nothing retained)
        if (gotimer_chan_retain(t)) {
          watched.push_back({t, gotimer_chan_waited, gotimer_chan_release});
        } else if (after_timer_retain(t)) {
          watched.push_back({t, after_timer_waited, after_timer_release});
        } else {
          live = true;  // a function runs: it may wake anyone
        }
      };
      for (size_t k = 0; k < th.heap.size() && !live; k++) look(th.heap[k]);
      for (timer_queue& q : th.queues)
        for (uint64_t seq = q.ring.head_seq(), end = seq + q.ring.size(); seq != end && !live; seq++) look(q.ring.at(seq));
    }
  } catch (const std::bad_alloc&) {
    live = true;
  }
  for (const watched_timer& w : watched) {
    if (!live && w.waited(w.t)) live = true;
    w.release(w.t);  // may free w.t
  }
  return live;
}

namespace {

// The sum of count(heap) over every P's timers, each under its lock.
template <class Count>
int64_t sum_over_heaps(Count count) {
  int64_t n = 0;
  int32_t np = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    timer_heap& th = p_for_index(i)->timers;
    lock_guard lk(th.lock);
    n += static_cast<int64_t>(count(th));
  }
  return n;
}

}  // namespace

int64_t timer_heap_entries() noexcept { return sum_over_heaps(entries_locked); }

int64_t timer_queue_entries() noexcept {
  return sum_over_heaps([](timer_heap& th) { return entries_locked(th) - th.heap.size(); });
}

int64_t timer_zombies_counted() noexcept {
  int64_t n = 0;
  int32_t np = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) n += p_for_index(i)->timers.zombies.load(std::memory_order_relaxed);
  return n;
}

uint64_t timer_reap_longest_scan() noexcept { return g_reap_longest_scan.load(std::memory_order_relaxed); }

int timers_run(p* pp, int64_t now) {
  // Due entries are taken in batches under one hold of the lock, then
  // fired outside it. The records they fire (sleeping goroutines' g
  // records, timers) were last touched when armed, often on another core
  // and long ago: prefetching the whole batch first overlaps those misses
  // instead of taking them one after the other.
  constexpr int kBatch = 32;
  timer_entry batch[kBatch];
  int ran = 0;
  for (;;) {
    int n = 0;
    {
      lock_guard lk(pp->timers.lock);
      while (n < kBatch && pop_due_locked(pp->timers, now, &batch[n])) n++;
      update_timer0(pp);
    }
    for (int i = 0; i < n; i++)
      prefetch_for_write(is_sleep(batch[i]) ? static_cast<const void*>(g_of(batch[i])) : timer_of(batch[i]));
    // Fired in deadline order; runs of sleeping goroutines are readied
    // together (one wakep() for the run).
    g* wake[kBatch];
    int nwake = 0;
    for (int i = 0; i < n; i++) {
      if (is_sleep(batch[i])) {
        wake[nwake++] = g_of(batch[i]);
        continue;
      }
      ready_goroutines(wake, nwake);
      nwake = 0;
      timer* t = timer_of(batch[i]);
      trace(trace_ev::timer_fire);
      if (auto hook = test_hooks::timer_about_to_fire.load(std::memory_order_relaxed)) [[unlikely]]
        hook(t->arg);
      t->fn(t, now);
    }
    ready_goroutines(wake, nwake);
    ran += n;
    if (n < kBatch) return ran;
  }
}

int64_t timers_next_when() {
  int64_t next = INT64_MAX;
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) next = std::min(next, p_for_index(i)->timer0_when.load(std::memory_order_seq_cst));
  return next;
}

}  // namespace goro::detail
