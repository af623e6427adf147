// goro::after (Go's time.After): a buffered channel of capacity 1 that a
// runtime timer (time/timer.hpp) fills once. Go 1.23 semantics: len() and
// cap() read 0 (hchan::sync_view_), and since an after() channel cannot be
// stopped or reset, it never holds a stale value.
//
// Ownership: the timer holds its own reference to the channel and drops it
// after firing, so the channel lives at least until then (Go 1.23 would
// collect an unreferenced timer earlier; goro keeps it until it fires).
// The timer record is heap-allocated and freed by its own callback, which
// runs on a worker's scheduler stack with no lock held: it only takes the
// channel lock (rank chan) if a receiver is parked, and never blocks,
// since the one send always finds room.
#include <chrono>

#include "chan/hchan.hpp"
#include "time/timer.hpp"

namespace goro::detail {

int64_t steady_now_ns();

namespace {

using time_point = std::chrono::steady_clock::time_point;

struct after_timer {
  timer t;
  hchan* c = nullptr;
};

void after_fire(timer* t) {
  auto* a = static_cast<after_timer*>(t->arg);
  time_point now{std::chrono::nanoseconds(steady_now_ns())};
  chan_try_send(a->c, &now);  // room for one: never would_block, never closed
  chan_release(a->c);
  delete a;
}

}  // namespace

hchan* chan_after(int64_t deadline_ns) {
  hchan* c = chan_make(&elem_type_of<time_point>::value, 1);
  c->sync_view_ = true;
  chan_retain(c);  // the timer's reference
  auto* a = new after_timer;
  a->c = c;
  a->t.when = deadline_ns;
  a->t.fn = after_fire;
  a->t.arg = a;
  timer_add(&a->t);
  return c;
}

}  // namespace goro::detail
