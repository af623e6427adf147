// The poller's counters, for white-box tests (tests/netpoll/) and for
// reading in a debugger. Declarations only, so that a test may include
// this header alone.
#pragma once

#include <cstdint>

namespace goro::detail {

struct netpoll_stats {
  // Goroutines made runnable by an idle worker blocked in epoll_wait
  // (sched/proc.cpp stop_m), by a poll that did not block (a worker about
  // to give up its P, find_runnable, or the monitor), and by the monitor
  // alone (a subset of the previous).
  uint64_t readied_blocking = 0;
  uint64_t readied_nonblocking = 0;
  uint64_t readied_by_monitor = 0;
  // The io_uring variant (netpoll.hpp): whether it runs, and the
  // completions of receives it reaped.
  bool uring = false;
  uint64_t uring_completions = 0;
};

// The counts since the process started (relaxed reads). Any thread.
netpoll_stats netpoll_stats_read();

}  // namespace goro::detail
