// The runtime suite: park_mem, spawn, pingpong, mutex, timers (the anchors'
// workloads, ../shared/bench/README.md) and goro's own row, yield.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "goro/chan.hpp"
#include "goro/mutex.hpp"
#include "goro/runtime.hpp"
#include "goro/time.hpp"
#include "goro/wait_group.hpp"
#include "harness.hpp"

namespace goro_bench {

namespace {

constexpr int64_t kSpawnCount = 1'000'000;
constexpr int64_t kPingpongRT = 1'000'000;
constexpr int64_t kTimerCount = 100'000;
constexpr auto kTimerSleep = std::chrono::milliseconds(10);
constexpr int64_t kYieldRT = 1'000'000;
constexpr int kMutexWorkers = 4;
constexpr int64_t kMutexIters = 1'000'000;

// spawn: start 1,000,000 goroutines that each call wg.done(), then wait.
// Timed from the first start to wait()'s return; ops = goroutines.
void spawn() {
  goro::wait_group wg;
  wg.add(kSpawnCount);
  steal_count steals;
  stopwatch sw;
  for (int64_t i = 0; i < kSpawnCount; i++) goro::go([&wg] { wg.done(); });
  wg.wait();
  double d = sw.seconds();
  emit("runtime", "spawn", "-", d, kSpawnCount, steals.extra());
}

// pingpong: two goroutines pass an int back and forth over two unbuffered
// channels, 1,000,000 round trips, incrementing it on each trip.
void pingpong() {
  auto ping = goro::make_chan<int64_t>();
  auto pong = goro::make_chan<int64_t>();
  goro::wait_group wg;
  wg.add(2);
  int64_t last = 0;
  stopwatch sw;
  goro::go([&] {
    int64_t v = 0;
    for (int64_t i = 0; i < kPingpongRT; i++) {
      ping.send(v);
      v = pong.recv();
    }
    last = v;
    wg.done();
  });
  goro::go([&] {
    for (int64_t i = 0; i < kPingpongRT; i++) {
      int64_t v = ping.recv();
      pong.send(v + 1);
    }
    wg.done();
  });
  wg.wait();
  double secs = sw.seconds();
  if (last != kPingpongRT)
    fail("pingpong: final value %lld, want %lld", static_cast<long long>(last), static_cast<long long>(kPingpongRT));
  emit("runtime", "pingpong", "-", secs, kPingpongRT);
}

// mutex: kMutexWorkers goroutines each do kMutexIters lock, increment,
// unlock on one goro::mutex; the final count is checked.
void mutex() {
  goro::mutex mu;
  int64_t counter = 0;
  goro::wait_group wg;
  wg.add(kMutexWorkers);
  stopwatch sw;
  for (int w = 0; w < kMutexWorkers; w++)
    goro::go([&] {
      for (int64_t i = 0; i < kMutexIters; i++) {
        mu.lock();
        counter++;
        mu.unlock();
      }
      wg.done();
    });
  wg.wait();
  double secs = sw.seconds();
  if (counter != kMutexWorkers * kMutexIters)
    fail("mutex: counter %lld, want %lld", static_cast<long long>(counter),
         static_cast<long long>(kMutexWorkers * kMutexIters));
  emit("runtime", "mutex", "-", secs, kMutexWorkers * kMutexIters);
}

// timers: 100,000 goroutines each sleep 10 ms, then wg.done(). Timed from
// the first start to all woken; ratio = wall time / 10 ms.
void timers() {
  goro::wait_group wg;
  wg.add(kTimerCount);
  stopwatch sw;
  for (int64_t i = 0; i < kTimerCount; i++) {
    goro::go([&wg] {
      goro::sleep_for(kTimerSleep);
      wg.done();
    });
  }
  wg.wait();
  double secs = sw.seconds();
  char extra[64];
  std::snprintf(extra, sizeof extra, "ratio=%.2f",
                secs / std::chrono::duration<double>(kTimerSleep).count());
  emit("runtime", "timers", "-", secs, kTimerCount, extra);
}

// yield (goro only; no anchor has it): the cost of goro::yield(), the
// scheduler's round trip through its run queue without any channel.
//
// maxprocs is set to 1 for the case (and restored after), so that both
// goroutines share one P and each yield() hands the P to the other one.
// Goroutines A and B pass a turn back and forth through a shared word:
// A waits (yielding) until turn == 0, sets turn = 1 and yields; B waits
// until turn == 1, sets turn = 0 and yields. A round trip is A -> B -> A;
// each side makes kYieldRT hand-offs, so ops = 1,000,000 round trips of two
// yield() calls each when the scheduler alternates strictly. Every yield()
// is counted: extra = yields_per_rt (2.00 means every yield handed over
// directly; more means a yield came back to its own caller). Timed from
// both started to both finished.
void yield_pingpong() {
  int old = goro::set_maxprocs(1);
  // Let the other worker notice the new budget and give its P back.
  goro::sleep_for(std::chrono::milliseconds(20));
  std::atomic<int> turn{0};
  std::atomic<int64_t> yields{0};
  goro::wait_group wg;
  wg.add(2);
  auto side = [&](int me) {
    int64_t n = 0;
    for (int64_t i = 0; i < kYieldRT; i++) {
      while (turn.load(std::memory_order_acquire) != me) {
        goro::yield();
        n++;
      }
      turn.store(1 - me, std::memory_order_release);
    }
    yields.fetch_add(n, std::memory_order_relaxed);
    wg.done();
  };
  stopwatch sw;
  goro::go([&] { side(0); });
  goro::go([&] { side(1); });
  wg.wait();
  double secs = sw.seconds();
  goro::set_maxprocs(old);
  if (turn.load() != 0) fail("yield: final turn %d, want 0", turn.load());
  char extra[64];
  std::snprintf(extra, sizeof extra, "yields_per_rt=%.2f",
                static_cast<double>(yields.load()) / static_cast<double>(kYieldRT));
  emit("runtime", "yield", "-", secs, kYieldRT, extra);
}

}  // namespace

// park_mem: park_count goroutines (100,000; GORO_PARK_COUNT) each block
// receiving from one shared unbuffered channel. VmRSS is read before
// starting them and after all have reached the receive (plus 50 ms to let
// the last ones block); then the channel is closed and all are joined, and
// each must have seen the close. bytes_per_g = RSS delta / count.
//
// Also prints, as a comment line, the VmPTE (page-table) delta per
// goroutine: page tables are memory the kernel spends on the process that
// VmRSS does not count.
void runtime_park_mem() {
  const int64_t count = cfg().park_count;
  auto ch = goro::make_chan<int>();
  goro::wait_group parked, done;
  parked.add(count);
  done.add(count);
  std::atomic<int64_t> woke{0};
  int64_t rss_before = proc_status_kib("VmRSS");
  int64_t pte_before = proc_status_kib("VmPTE");
  stopwatch sw;
  for (int64_t i = 0; i < count; i++) {
    goro::go([&parked, &done, &woke, ch]() mutable {
      parked.done();
      auto [v, ok] = ch.recv_ok();
      (void)v;
      if (!ok) woke.fetch_add(1, std::memory_order_relaxed);
      done.done();
    });
  }
  parked.wait();
  double secs = sw.seconds();
  // Every goroutine has run up to its receive; let the last ones block.
  goro::sleep_for(std::chrono::milliseconds(50));
  int64_t rss_after = proc_status_kib("VmRSS");
  int64_t pte_after = proc_status_kib("VmPTE");
  ch.close();
  done.wait();
  if (woke.load() != count)
    fail("park_mem: %lld of %lld goroutines saw the close", static_cast<long long>(woke.load()),
         static_cast<long long>(count));
  int64_t per_g = (rss_after - rss_before) * 1024 / count;
  char extra[64];
  std::snprintf(extra, sizeof extra, "bytes_per_g=%lld", static_cast<long long>(per_g));
  emit("runtime", "park_mem", "-", secs, count, extra);
  comment("park_mem: %lld goroutines: VmRSS +%lld KiB (%lld B/g), VmPTE +%lld KiB (%.1f B/g, not in VmRSS)",
          static_cast<long long>(count), static_cast<long long>(rss_after - rss_before),
          static_cast<long long>(per_g), static_cast<long long>(pte_after - pte_before),
          static_cast<double>(pte_after - pte_before) * 1024.0 / static_cast<double>(count));
}

void runtime_suite() {
  if (selected("runtime", "spawn", "-")) spawn();
  if (selected("runtime", "pingpong", "-")) pingpong();
  if (selected("runtime", "mutex", "-")) mutex();
  if (selected("runtime", "timers", "-")) timers();
  if (selected("runtime", "yield", "-")) yield_pingpong();
}

}  // namespace goro_bench
