// What the deadlock check has done, for tests (tests/sched/deadlock_test.cpp)
// and for reading in a debugger. Kept free of the runtime's other headers
// so that a test can include it alone.
#pragma once

#include <cstdint>

namespace goro::detail {

// The deadlock check lists the process's threads (/proc/self/task) at most
// once per this interval (sched/deadlock.cpp).
inline constexpr int64_t kDeadlockScanIntervalNs = 100'000'000;

struct deadlock_stats {
  // Listings of /proc/self/task made by the deadlock check.
  uint64_t scans = 0;
  // Of those, the ones made while the listing thread held sched.lock. Known
  // only where the runtime tracks which locks a thread holds (builds with
  // GORO_DEBUG_CHECKS: debug, asan, tsan); lock_tracked says so.
  uint64_t scans_holding_sched_lock = 0;
  bool lock_tracked = false;
  // Times the monitor evaluated the cheap conditions (a)-(c) while a run()
  // waited (each may or may not lead to a listing).
  uint64_t looks = 0;
  // Threads declared unable to wake anyone (goro::ignore_thread_in_deadlock_check)
  // that the check still remembers.
  uint64_t declared_threads = 0;
  // run() calls waiting for their main goroutine now: the check is armed
  // while this is above 0.
  int64_t runs_waiting = 0;
};

// The counts since the process started. Callable from any thread.
deadlock_stats deadlock_stats_read();

}  // namespace goro::detail
