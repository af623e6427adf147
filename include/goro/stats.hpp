// Runtime metrics: a snapshot of what the scheduler has done and holds now
// (Go's runtime/metrics and expvar), and the same snapshot as Prometheus
// text for a /metrics endpoint.
//
//   auto s = goro::debug::stats();
//   std::printf("%lld goroutines, %lld waiting on channels\n",
//               static_cast<long long>(s.goroutines), static_cast<long long>(s.waiting_on("chan receive")));
//   goro::debug::write_prometheus(std::cout, s);
//
// Cost: the counters are kept per P and summed when stats() is called
// (O(Ps + wait reasons), no walk over goroutines), so the scheduler's hot
// paths pay one plain increment per event and nothing else. A snapshot
// taken while goroutines run is a little stale (each counter is read once,
// at a slightly different instant), never torn; "now" values (goroutines
// waiting, runnable) are exact once the program is quiet.
//
// Thread-safety: stats() and write_prometheus() may be called from any
// goroutine or plain thread, concurrently with anything.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace goro::debug {

// Goroutines parked with one wait reason (Go's words: "chan receive",
// "chan send", "select", "sleep", "sync.Mutex.Lock", ...).
struct wait_reason_stats {
  // The reason, e.g. "chan receive"; a static string (valid as long as
  // the program runs).
  std::string_view reason;
  int64_t waiting = 0;   // parked with this reason now
  uint64_t waits = 0;    // parks with this reason since the runtime started
  // Total time those waits took, in nanoseconds: measured for the sync
  // waits (Mutex, RWMutex, WaitGroup, Cond, semaphores); 0 for the rest,
  // whose waits are too short and frequent for two clock reads each.
  uint64_t wait_ns = 0;
};

// What stats() returns: the scheduler's counters at one moment (see the
// top of this file for how fresh they are).
struct runtime_stats {
  // Goroutines now.
  int64_t goroutines = 0;           // alive (goro::num_goroutine())
  int64_t goroutines_runnable = 0;  // in run queues, waiting for a worker
  int64_t goroutines_waiting = 0;   // parked
  int64_t threads_waiting = 0;      // plain threads parked in goro primitives (and in run())
  // Goroutines running or about to (on a worker, or between states):
  // goroutines - runnable - waiting.
  int64_t goroutines_running = 0;
  // One entry per wait reason, in a fixed order, reasons never used
  // included; its `waiting` counts goroutines and plain threads alike.
  std::vector<wait_reason_stats> by_reason;

  // Events since the runtime started.
  uint64_t goroutines_created = 0;
  uint64_t context_switches = 0;  // goroutine switches on the workers
  uint64_t steals = 0;            // goroutines one worker took from another's queue
  uint64_t worker_parks = 0;      // a worker thread with nothing to do went to sleep
  uint64_t worker_wakes = 0;      // a sleeping worker was woken and handed a processor
  uint64_t chan_waits = 0;        // parks on a channel or a select
  uint64_t mutex_waits = 0;       // parks in goro::mutex and goro::rwmutex
  uint64_t mutex_wait_ns = 0;     // time those took
  // goro::mutex's bias (goro/mutex.hpp): biases another locker ended, each
  // one membarrier call, and times new bias paused because they cost more
  // than their budget.
  uint64_t mutex_bias_revocations = 0;
  uint64_t mutex_bias_pauses = 0;

  // Workers.
  int maxprocs = 0;        // goro::maxprocs()
  int procs = 0;           // processors ever made (maxprocs plus those for blocking sections)
  int procs_idle = 0;      // processors with no worker now
  int threads = 0;         // worker threads alive
  int threads_idle = 0;    // worker threads asleep

  int64_t timers_pending = 0;  // timers, sleeps and deadlines armed

  // Goroutine stacks (the default-size pool; dedicated stacks of
  // go_with({.stack_size}) are not counted).
  uint64_t stack_size = 0;            // bytes of each pooled stack
  int64_t stacks_reserved = 0;        // held by goroutines, plus small per-processor batches
  int64_t stacks_cached = 0;          // free, memory kept for reuse (global cache)
  int64_t stacks_released = 0;        // free, memory given back to the OS
  uint64_t stack_bytes_released_total = 0;  // by the scavenger and free_os_memory, ever
  int64_t process_resident_bytes = 0;  // the whole process's RSS (/proc/self/statm)

  // How many wait with `reason` (Go's words) now: by_reason's `waiting`
  // for it; 0 if the reason is unknown.
  int64_t waiting_on(std::string_view reason) const;
};

// A snapshot of the counters above.
runtime_stats stats();

// Writes `s` in Prometheus' text exposition format (version 0.0.4), every
// metric prefixed `goro_`, with HELP and TYPE lines: gauges for the "now"
// values, counters (suffix _total) for events; the per-reason values as
// `goro_goroutines_waiting{reason="chan receive"}` and
// `goro_waits_total{reason=...}`.
void write_prometheus(std::ostream& os, const runtime_stats& s);
// write_prometheus's text, as a string.
std::string prometheus_text(const runtime_stats& s);

}  // namespace goro::debug
