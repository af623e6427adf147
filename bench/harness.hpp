// Shared pieces of goro-bench: configuration, row output, checks, timing.
//
// goro-bench prints the rows of the shared benchmark format
// (../shared/bench/README.md):
//
//   goro suite case kind seconds ops ns_per_op extra
//   goro suite case kind unsupported
//
// and mirrors the Go anchor (../shared/bench/go/main.go) workload for
// workload. A failed check prints "goro-bench: FAILED: ..." on stderr and
// ends the process with status 1 at once, so no row is printed for a wrong
// result and no later row runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace goro_bench {

inline constexpr const char* kImpl = "goro";
// Producers/consumers per multi-party case; fixed because the select cases
// are static four-way selects (as in the Go anchor).
inline constexpr int kThreads = 4;

struct config {
  int64_t messages = 5'000'000;   // BENCH_MESSAGES
  int64_t park_count = 100'000;   // GORO_PARK_COUNT (goro only)
  std::vector<std::string> patterns;  // substring filters on suite/case/kind
};
config& cfg();

// True if the row suite/case/kind is selected by the command line filters
// (no filter: every row).
bool selected(const char* suite, const char* cas, const char* kind);

// Prints one row and flushes stdout (a later crash or time-out keeps it).
void emit(const char* suite, const char* cas, const char* kind, double seconds, int64_t ops,
          const std::string& extra = "-");
// emit() with a given ns_per_op instead of seconds / ops: for rows whose
// ns_per_op is a statistic of many samples (the sched suite's medians).
void emit_ns(const char* suite, const char* cas, const char* kind, double seconds, int64_t ops, double ns_per_op,
             const std::string& extra = "-");
void unsupported(const char* suite, const char* cas, const char* kind);
// The scheduler's counters over a row, as its extra column: "steals=N"
// (goroutines one worker took from another's queue; goro::debug::stats).
// Rows whose time depends on how the two workers share the goroutines
// (spawn, ctx_cancel) print it, so a slow run can be told apart.
class steal_count {
 public:
  steal_count();
  std::string extra() const;

 private:
  uint64_t before_;
};
// A comment line on stdout ("# ..."); compare and run-anchors skip it.
void comment(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// "goro-bench: FAILED: ..." on stderr, then exit status 1 without running
// destructors or atexit handlers (the runtime's threads are still running).
[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Worker w of n handles the half-open index range [lo, hi) of total items,
// split as evenly as possible (the anchors' share()).
struct range {
  int64_t lo, hi;
};
range share(int64_t total, int64_t n, int64_t w);

// Wall-clock stopwatch on the steady clock.
class stopwatch {
 public:
  stopwatch() : t0_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  std::chrono::steady_clock::time_point t0_;
};

// A field of /proc/self/status in KiB ("VmRSS", "VmPTE", ...).
int64_t proc_status_kib(const char* field);

// What the receivers of a channel case saw; checked after the case.
struct tally {
  std::atomic<int64_t> count{0};
  std::atomic<uint64_t> sum{0};
  int64_t left = 0;  // values still buffered in the channels afterwards
  void add(int64_t n, uint64_t s) {
    count.fetch_add(n, std::memory_order_relaxed);
    sum.fetch_add(s, std::memory_order_relaxed);
  }
  // Exactly messages values 0..messages-1 received, nothing left behind.
  void check(const char* cas, const char* kind) const;
};

// The suites, in the anchors' order: park_mem first (before anything has
// allocated and freed memory the runtime could reuse), then the channel
// suite, then the rest of the runtime suite, then goro's own sched suite
// (its Go twin is bench/go_sched). All run inside goro::run.
void runtime_park_mem();
void channel_suite();
void runtime_suite();
void sched_suite();
// The toolkit suite's context rows (toolkit_context_bench.cpp).
void toolkit_context_suite();
// The toolkit suite's sync rows (toolkit_sync_bench.cpp).
void toolkit_sync_suite();
// The toolkit suite's time rows (toolkit_time_bench.cpp).
void toolkit_time_suite();

}  // namespace goro_bench
