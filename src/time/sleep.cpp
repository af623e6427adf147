// goro::sleep_for / sleep_until: a goroutine parks with a sleep entry in
// its P's timer heap (time/timer.hpp: no timer record, no allocation); a
// plain thread sleeps in the kernel.
//
// The entry is added from park's unlock function, on the scheduler stack
// after the goroutine is switched out, so it cannot fire (and ready the
// goroutine) before the goroutine is fully parked.
#include <time.h>

#include <cerrno>

#include "sched/sched.hpp"
#include "time/timer.hpp"

namespace goro::detail {

namespace {
// arg: the deadline, on the parking goroutine's stack (intact until it is
// readied, which only this call makes possible).
bool arm_sleep(g* gp, void* arg) {
  sleep_add(gp, *static_cast<const int64_t*>(arg));
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
  park(wait_reason::sleep, arm_sleep, &deadline_ns);
}

}  // namespace goro::detail
