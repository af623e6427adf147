// goro::sleep_for / sleep_until: a goroutine parks with its embedded timer
// armed (no allocation); a plain thread sleeps in the kernel.
//
// The timer is added from park's unlock function, on the scheduler stack
// after the goroutine is switched out, so the timer cannot fire (and ready
// the goroutine) before it is fully parked.
#include <time.h>

#include <cerrno>

#include "sched/sched.hpp"
#include "time/timer.hpp"

namespace goro::detail {

namespace {
void sleep_fire(timer* t) { ready(static_cast<g*>(t->arg)); }

bool arm_sleep_timer(g* gp, void*) {
  timer_add(&gp->sleep_timer);
  return true;
}
}  // namespace

int64_t steady_now_ns() { return nanotime(); }

void sleep_until_ns(int64_t deadline_ns) {
  if (!in_goroutine()) {
    struct timespec ts;
    ts.tv_sec = deadline_ns / 1000000000;
    ts.tv_nsec = deadline_ns % 1000000000;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    return;
  }
  if (deadline_ns <= nanotime()) return;
  g* gp = current_waiter();
  gp->sleep_timer.when = deadline_ns;
  gp->sleep_timer.fn = sleep_fire;
  gp->sleep_timer.arg = gp;
  park(wait_reason::sleep, arm_sleep_timer, nullptr);
}

}  // namespace goro::detail
