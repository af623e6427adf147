// Thin wrappers over Linux futex(2), the bottom of every blocking wait in
// goro: idle workers, parked OS threads and the runtime lock all sleep here.
//
// All waits are private (FUTEX_PRIVATE_FLAG): goro's futex words never live
// in shared memory. Spurious wake-ups are possible; callers loop on their
// own condition.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

// Sleeps while *word == expected. Returns early on a wake-up, a signal or a
// spurious wake-up.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected);

// As futex_wait, but gives up at `deadline_ns` on CLOCK_MONOTONIC (absolute,
// so a loop around it never drifts). Returns false on timeout.
bool futex_wait_until(std::atomic<uint32_t>* word, uint32_t expected, int64_t deadline_ns);

// Wakes up to `n` waiters sleeping on `word`.
void futex_wake(std::atomic<uint32_t>* word, int n);

// A one-shot, reusable wake-up flag for exactly one sleeper (Go's `note`).
// sleep() returns once wake() was called since the last clear().
class note {
 public:
  void clear() { state_.store(0, std::memory_order_relaxed); }
  // Blocks the calling OS thread until wake().
  void sleep();
  // As sleep(), but gives up at deadline_ns (CLOCK_MONOTONIC). Returns
  // true if woken.
  bool sleep_until(int64_t deadline_ns);
  void wake();
  bool woken() const { return state_.load(std::memory_order_acquire) == 1; }

 private:
  std::atomic<uint32_t> state_{0};  // 0 = not woken, 1 = woken
};

// CLOCK_MONOTONIC in nanoseconds: the runtime's one clock (timers, sysmon,
// wait-since stamps). Same clock as std::chrono::steady_clock on Linux.
int64_t nanotime();

}  // namespace goro::detail
