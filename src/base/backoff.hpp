// Backoff for short waits on another running thread.
#pragma once

#include <sched.h>

#include "base/lock.hpp"

namespace goro::detail {

// Waiting for another thread to finish a step it has started (a ring slot
// reserved but not yet published, chan/ring.hpp; a wait_group shard being
// filled or emptied, sync/wait_group.cpp). That window is a few
// instructions unless the other thread was preempted, and `pause` is slow
// on some CPUs and VMs (28 ns measured on the AMD EPYC VMs goro is
// benchmarked on: crossbeam's 2^6 pauses would be 1.8 us), so the spin
// grows slowly (1, 1, 2, 2, 4 pauses) and then yields the CPU.
struct backoff {
  unsigned step = 0;
  void spin() {
    unsigned n = 1u << (step < 8 ? step / 2 : 4);
    for (unsigned i = 0; i < n; i++) cpu_relax();
    if (step < 8) step++;
  }
  // Waiting for an in-flight thread: yield the CPU after a while (with
  // maxprocs > cores the other thread may not be running).
  void snooze() {
    if (step < 8) {
      spin();
    } else {
      sched_yield();
    }
  }
};

}  // namespace goro::detail
