// futex(2) wrappers. See futex.hpp.
#include "base/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <sched.h>

#include <algorithm>
#include <cerrno>

namespace goro::detail {

namespace {
long sys_futex(void* addr, int op, uint32_t val, const struct timespec* ts, uint32_t val3) {
  return syscall(SYS_futex, addr, op, val, ts, nullptr, val3);
}
}  // namespace

#if defined(GORO_TSAN)
// TSan holds a signal that lands in a thread outside its intercepted calls
// until that thread makes one; the futex system call is not one. A kill(2)
// of the process (SIGTERM from a shell, `timeout`) lands in main, which
// sleeps here while goro::run waits, and the handler of a
// signal_notify_context never ran. So under TSan a wait sleeps at most
// kTsanSliceNs at a time and then makes an intercepted call
// (sched_yield), which runs the held handler: a signal is at most that
// late. (Callers loop on their condition: the extra returns are spurious
// wake-ups.) Checked by tests/signal (SignalTsan.*).
constexpr int64_t kTsanSliceNs = 20'000'000;

bool futex_wait_slice(std::atomic<uint32_t>* word, uint32_t expected, int64_t deadline_ns) {
  int64_t until = std::min(deadline_ns, nanotime() + kTsanSliceNs);
  struct timespec ts;
  ts.tv_sec = until / 1000000000;
  ts.tv_nsec = until % 1000000000;
  long r = sys_futex(word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, &ts, FUTEX_BITSET_MATCH_ANY);
  if (r == -1 && errno == ETIMEDOUT) {
    sched_yield();  // TSan's interceptor runs the signal handlers it held
    return until < deadline_ns;
  }
  return true;
}
#endif

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
#if defined(GORO_TSAN)
  (void)futex_wait_slice(word, expected, INT64_MAX);
#else
  sys_futex(word, FUTEX_WAIT_PRIVATE, expected, nullptr, 0);
#endif
}

bool futex_wait_until(std::atomic<uint32_t>* word, uint32_t expected, int64_t deadline_ns) {
#if defined(GORO_TSAN)
  return futex_wait_slice(word, expected, deadline_ns);
#else
  struct timespec ts;
  ts.tv_sec = deadline_ns / 1000000000;
  ts.tv_nsec = deadline_ns % 1000000000;
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
  long r = sys_futex(word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, &ts,
                     FUTEX_BITSET_MATCH_ANY);
  return !(r == -1 && errno == ETIMEDOUT);
#endif
}

void futex_wake(std::atomic<uint32_t>* word, int n) {
  sys_futex(word, FUTEX_WAKE_PRIVATE, static_cast<uint32_t>(n), nullptr, 0);
}

void note::sleep() {
  while (state_.load(std::memory_order_acquire) == 0) futex_wait(&state_, 0);
}

bool note::sleep_until(int64_t deadline_ns) {
  while (state_.load(std::memory_order_acquire) == 0) {
    if (!futex_wait_until(&state_, 0, deadline_ns)) return state_.load(std::memory_order_acquire) == 1;
  }
  return true;
}

void note::wake() {
  // release: everything the waker did before wake() is visible to the
  // sleeper once sleep() returns.
  state_.store(1, std::memory_order_release);
  futex_wake(&state_, 1);
}

int64_t nanotime() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace goro::detail
