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

void place(heap_t& h, size_t i, timer_entry e) {
  h[i] = e;
  e.t->heap_index = static_cast<int32_t>(i);
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
  h[i].t->heap_index = -1;
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

void timer_add(timer* t) {
  ensure_runtime();
  int64_t when = t->when;  // t may fire (and be reused) once the lock is dropped
  m* mp = current_m();
  p* pp = (mp != nullptr && mp->pp != nullptr) ? mp->pp : p_for_index(0);
  {
    lock_guard lk(pp->timers.lock);
    GORO_CHECK(t->heap_index < 0);
    t->owner = pp;
    pp->timers.heap.push_back(timer_entry{t->when, t});
    sift_up(pp->timers.heap, pp->timers.heap.size() - 1);
    update_timer0(pp);
  }
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
  int ran = 0;
  for (;;) {
    timer* t;
    {
      lock_guard lk(pp->timers.lock);
      auto& h = pp->timers.heap;
      if (h.empty() || h[0].when > now) {
        update_timer0(pp);
        return ran;
      }
      t = h[0].t;
      remove_at(h, 0);
      update_timer0(pp);
      // The next timer due is usually in a record nobody touched since it
      // was armed: start loading it while this one fires.
      if (!h.empty() && h[0].when <= now) prefetch_for_write(h[0].t);
    }
    t->fn(t);
    ran++;
  }
}

int64_t timers_next_when() {
  int64_t next = INT64_MAX;
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) next = std::min(next, p_for_index(i)->timer0_when.load(std::memory_order_seq_cst));
  return next;
}

}  // namespace goro::detail
