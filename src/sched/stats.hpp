// The runtime's event counters behind goro::debug::stats() (stats.cpp).
//
// Hot-path counters live in the P (p::stats) and are written only by the
// M that holds the P, as plain increments (a relaxed load and store, no
// locked instruction: the hand-off of a P between Ms orders one owner's
// writes before the next's). stats() sums them over every P with relaxed
// loads, so a snapshot taken while goroutines run is a little stale, never
// torn. Code without a P (a plain thread, a goroutine inside
// goro::blocking) counts into the global atomics in `stats_global`,
// with a fetch_add: those paths are already slow.
//
// What is counted where:
//  - spawned: go() on a P (spawn.cpp); from plain threads, the global.
//    Counted after the new goroutine is runnable (visible to for_each_g):
//    a walk of the goroutines between two equal sums of it saw every
//    goroutine that existed during it (goroutines_created_total).
//  - steals: goroutines a thief took from another P's queue (proc.cpp).
//  - parks[r] / resumes[r]: a goroutine starting and ending a wait with
//    reason r (park_waiter, proc.cpp); their difference is how many wait
//    now. A park whose unlock function declines still counts both, so
//    the difference stays exact.
//  - wait_ns[r]: time waited, measured only where waits are long enough
//    for two clock reads not to matter (the semaphore behind sync.Mutex,
//    RWMutex and WaitGroup: sync/sema.cpp).
// Worker (M) parks and wakes are counted under sched.lock (stop_m).
#pragma once

#include <atomic>
#include <cstdint>

#include "sched/wait_reason.hpp"

namespace goro::detail {

struct p_stats {
  std::atomic<uint64_t> spawned{0};
  std::atomic<uint64_t> steals{0};
  std::atomic<uint64_t> parks[kWaitReasonCount] = {};
  std::atomic<uint64_t> resumes[kWaitReasonCount] = {};
  std::atomic<uint64_t> wait_ns[kWaitReasonCount] = {};
};

// Counters of code that holds no P.
struct stats_global_t {
  std::atomic<uint64_t> spawned{0};
  std::atomic<uint64_t> parks[kWaitReasonCount] = {};
  std::atomic<uint64_t> resumes[kWaitReasonCount] = {};
  std::atomic<uint64_t> wait_ns[kWaitReasonCount] = {};
  // Plain threads parked in goro primitives now (they are in parks[] and
  // resumes[] too, but are not goroutines).
  std::atomic<int64_t> threads_waiting{0};
};
extern stats_global_t stats_global;

// Adds n to a counter of the P the caller holds (single writer).
inline void stat_add_owned(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// How many goroutines go() has made (every P's count and the global's),
// read with acquire loads: the leak check and goroutine_ids() compare it
// around a walk of the goroutines to know that no goroutine started
// during it (one started in a slot already walked, while its creator
// ended before its slot was read, would be missed).
uint64_t goroutines_created_total();

// Adds a measured wait of `ns` with `reason` to the caller's P, or to the
// global counters without one (stats.cpp).
void stats_add_wait_ns(wait_reason reason, int64_t ns);

}  // namespace goro::detail
