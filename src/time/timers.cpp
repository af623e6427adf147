// Per-P timer heaps. Design and invariants in timer.hpp.
//
// The heap is 4-ary (as Go's): shallower than a binary heap, so sifting
// touches fewer cache lines for the same number of timers.
#include <algorithm>

#include "base/check.hpp"
#include "base/prefetch.hpp"
#include "sched/sched.hpp"
#include "time/timer.hpp"

namespace goro::detail {

namespace {

using heap_t = std::vector<timer_entry>;

constexpr uintptr_t kSleepTag = 1;

bool is_sleep(timer_entry e) { return (e.ref & kSleepTag) != 0; }
timer* timer_of(timer_entry e) { return reinterpret_cast<timer*>(e.ref); }
g* g_of(timer_entry e) { return reinterpret_cast<g*>(e.ref & ~kSleepTag); }

void place(heap_t& h, size_t i, timer_entry e) {
  h[i] = e;
  if (!is_sleep(e)) timer_of(e)->heap_index = static_cast<int32_t>(i);
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
  if (!is_sleep(h[i])) timer_of(h[i])->heap_index = -1;
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

void update_timer0(p* pp) {
  auto& h = pp->timers.heap;
  pp->timer0_when.store(h.empty() ? INT64_MAX : h[0].when, std::memory_order_seq_cst);
}

// A new earliest deadline may be before the idle worker's wake-up time:
// kick the timed sleeper (or any idle M) to recompute it.
void wake_for_timer(int64_t when) {
  if (when >= sched.timed_sleep_until.load(std::memory_order_seq_cst)) return;
  m* target;
  {
    lock_guard lk(sched.lock);
    target = sched.timed_sleeper != nullptr ? sched.timed_sleeper : sched.midle;
  }
  if (target != nullptr) {
    target->park_note.wake();
  } else {
    wakep();
  }
}

}  // namespace

namespace {

// Adds entry e to the heap of the caller's P (P 0's for a plain thread);
// returns the P.
p* heap_add(timer_entry e, timer* t) {
  ensure_runtime();
  m* mp = current_m();
  p* pp = (mp != nullptr && mp->pp != nullptr) ? mp->pp : p_for_index(0);
  {
    lock_guard lk(pp->timers.lock);
    if (t != nullptr) {
      GORO_CHECK(t->heap_index < 0);
      t->owner = pp;
    }
    pp->timers.heap.push_back(e);
    sift_up(pp->timers.heap, pp->timers.heap.size() - 1);
    update_timer0(pp);
  }
  return pp;
}

}  // namespace

void timer_add(timer* t) {
  int64_t when = t->when;  // t may fire (and be reused) once the lock is dropped
  heap_add(timer_entry{when, reinterpret_cast<uintptr_t>(t)}, t);
  wake_for_timer(when);
}

void sleep_add(g* gp, int64_t when) {
  heap_add(timer_entry{when, reinterpret_cast<uintptr_t>(gp) | kSleepTag}, nullptr);
  wake_for_timer(when);
}

bool timer_del(timer* t) {
  p* pp = t->owner;
  if (pp == nullptr) return false;
  lock_guard lk(pp->timers.lock);
  if (t->heap_index < 0) return false;
  remove_at(pp->timers.heap, static_cast<size_t>(t->heap_index));
  update_timer0(pp);
  return true;
}

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
      auto& h = pp->timers.heap;
      while (n < kBatch && !h.empty() && h[0].when <= now) {
        batch[n++] = h[0];
        remove_at(h, 0);
      }
      update_timer0(pp);
    }
    for (int i = 0; i < n; i++)
      prefetch_for_write(is_sleep(batch[i]) ? static_cast<const void*>(g_of(batch[i])) : timer_of(batch[i]));
    for (int i = 0; i < n; i++) {
      if (is_sleep(batch[i])) {
        ready(g_of(batch[i]));
      } else {
        timer* t = timer_of(batch[i]);
        t->fn(t);
      }
    }
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
