// goro::sleep_for / sleep_until: a goroutine parks with a sleep entry in
// its P's timer heap (time/timer.hpp: no timer record, no allocation); a
// plain thread sleeps in the kernel.
//
// The entry is added from park's unlock function, on the scheduler stack
// after the goroutine is switched out, so it cannot fire (and ready the
// goroutine) before the goroutine is fully parked.
#include <time.h>

#include <cerrno>
#include <cstdint>

#include "goro/detail/duration.hpp"
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

void sleep_thread_until(int64_t deadline_ns) {
  struct timespec ts;
  ts.tv_sec = deadline_ns / 1000000000;
  ts.tv_nsec = deadline_ns % 1000000000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// Parks the caller (or sleeps the plain thread) until deadline_ns.
void sleep_to(int64_t deadline_ns) {
  if (!in_goroutine()) {
    sleep_thread_until(deadline_ns);
    return;
  }
  park(wait_reason::sleep, arm_sleep, &deadline_ns);
}

}  // namespace

int64_t steady_now_ns() { return nanotime(); }

// A clock read costs as much as a goroutine switch on these VMs: sleep_for
// reads it once (sleep_until_ns has to read it again to see whether the
// deadline has passed).
void sleep_for_ns(int64_t ns) {
  if (ns <= 0) return;
  int64_t now = nanotime();
  sleep_to(deadline_after(now, ns));
}

void sleep_until_ns(int64_t deadline_ns) {
  if (in_goroutine() && deadline_ns <= nanotime()) return;
  sleep_to(deadline_ns);
}

}  // namespace goro::detail
