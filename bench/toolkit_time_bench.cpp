// The toolkit suite's time rows (../shared/bench/README.md, "Toolkit
// suite"; the Go anchor's timerAddStop and afterFunc):
//   toolkit timer_add  - : 1,000,000 new_timer(1h); extra bytes_per_timer,
//                          the heap bytes allocated per pending timer (glibc
//                          mallinfo2: in-use chunks plus mmapped blocks, so
//                          the P timer heaps' arrays count too; plus the
//                          arenas timer records are carved from, mapped
//                          outside malloc: time/rec_slab.hpp)
//   toolkit timer_stop - : then each stopped; every stop() must return true
//   toolkit after_func - : 100,000 after_func(10ms, wg.done); time until all
//                          ran, extra ratio = that time / 10 ms
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "goro/timer.hpp"
#include "goro/wait_group.hpp"
#include "harness.hpp"
#include "time/timer_stats.hpp"

namespace goro_bench {

namespace {

constexpr int64_t kPendingTimers = 1'000'000;
constexpr int64_t kAfterFuncCount = 100'000;
constexpr auto kAfterFuncDelay = std::chrono::milliseconds(10);

int64_t heap_bytes() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd) + goro::detail::timer_slab_bytes();
}

void timer_add_stop() {
  std::vector<goro::timer> ts(static_cast<size_t>(kPendingTimers));
  int64_t before = heap_bytes();
  stopwatch add;
  // Go's NewTimer makes the timer's channel, and every Go-style use reads
  // it (t.C), so the row asks for each timer's channel too.
  for (auto& t : ts) {
    t = goro::new_timer(std::chrono::hours(1));
    (void)t.c();
  }
  double added = add.seconds();
  int64_t after = heap_bytes();
  stopwatch stop;
  int64_t stopped = 0;
  for (auto& t : ts)
    if (t.stop()) stopped++;
  double d = stop.seconds();
  if (stopped != kPendingTimers)
    fail("timer_stop: %lld of %lld timers stopped", static_cast<long long>(stopped),
         static_cast<long long>(kPendingTimers));
  char extra[64];
  std::snprintf(extra, sizeof extra, "bytes_per_timer=%lld", static_cast<long long>((after - before) / kPendingTimers));
  if (selected("toolkit", "timer_add", "-")) emit("toolkit", "timer_add", "-", added, kPendingTimers, extra);
  if (selected("toolkit", "timer_stop", "-")) emit("toolkit", "timer_stop", "-", d, kPendingTimers);
}

void after_func() {
  goro::wait_group wg;
  wg.add(kAfterFuncCount);
  stopwatch sw;
  for (int64_t i = 0; i < kAfterFuncCount; i++) goro::after_func(kAfterFuncDelay, [&wg] { wg.done(); });
  wg.wait();
  double secs = sw.seconds();
  char extra[64];
  std::snprintf(extra, sizeof extra, "ratio=%.2f", secs / std::chrono::duration<double>(kAfterFuncDelay).count());
  emit("toolkit", "after_func", "-", secs, kAfterFuncCount, extra);
}

}  // namespace

void toolkit_time_suite() {
  if (selected("toolkit", "timer_add", "-") || selected("toolkit", "timer_stop", "-")) timer_add_stop();
  if (selected("toolkit", "after_func", "-")) after_func();
}

}  // namespace goro_bench
