// goro::debug::stats() and its Prometheus text: every counter moves when
// the event it counts happens, and the "now" values come back when the
// program is quiet again. Each test runs in its own process (ctest), so
// deltas against a snapshot taken at the start are exact.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "goro/chan.hpp"
#include "goro/mutex.hpp"
#include "goro/runtime.hpp"
#include "goro/stats.hpp"
#include "goro/time.hpp"
#include "goro/timer.hpp"
#include "goro/wait_group.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

namespace {

using goro::debug::stats;

// Waits (yielding, never for a fixed time) until pred() holds.
template <class Pred>
void wait_until(Pred pred) {
  while (!pred()) {
    if (goro::goroutine_id() != 0)
      goro::yield();
    else
      std::this_thread::yield();
  }
}

TEST(Stats, WaitingByReasonCountsParkedGoroutinesAndReturnsToZero) {
  constexpr int kWaiters = 200;
  goro::run([] {
    const auto before = stats();
    auto ch = goro::make_chan<int>();
    goro::wait_group wg;
    wg.add(kWaiters);
    for (int i = 0; i < kWaiters; i++)
      goro::go([ch, &wg] {
        ch.recv();
        wg.done();
      });
    wait_until([&] { return stats().waiting_on("chan receive") == before.waiting_on("chan receive") + kWaiters; });
    auto during = stats();
    EXPECT_GE(during.goroutines_waiting, before.goroutines_waiting + kWaiters);
    EXPECT_GE(during.goroutines, before.goroutines + kWaiters);
    EXPECT_GE(during.chan_waits, before.chan_waits + kWaiters);
    EXPECT_EQ(during.goroutines_created, before.goroutines_created + kWaiters);
    ch.close();
    wg.wait();
    wait_until([&] { return goro::num_goroutine() == before.goroutines; });
    auto after = stats();
    EXPECT_EQ(after.waiting_on("chan receive"), before.waiting_on("chan receive"));
    EXPECT_GE(after.context_switches, before.context_switches + kWaiters);
  });
}

TEST(Stats, CreatedCountsGoroutinesFromGoroutinesAndPlainThreads) {
  constexpr int kFromGoroutine = 1000, kFromThread = 10;
  const auto before = stats();
  goro::wait_group wg;
  wg.add(kFromGoroutine + kFromThread);
  std::thread t([&] {
    for (int i = 0; i < kFromThread; i++) goro::go([&wg] { wg.done(); });
  });
  goro::go([&wg] {
    for (int i = 0; i < kFromGoroutine - 1; i++) goro::go([&wg] { wg.done(); });
    wg.done();
  });
  t.join();
  wg.wait();
  EXPECT_EQ(stats().goroutines_created, before.goroutines_created + kFromGoroutine + kFromThread);
}

TEST(Stats, PlainThreadsWaitingAreCountedApartFromGoroutines) {
  goro::set_maxprocs(2);
  const auto before = stats();
  auto ch = goro::make_chan<int>();
  std::thread t([ch] { ch.recv(); });
  wait_until([&] { return stats().threads_waiting == before.threads_waiting + 1; });
  auto during = stats();
  EXPECT_EQ(during.waiting_on("chan receive"), before.waiting_on("chan receive") + 1);
  EXPECT_EQ(during.goroutines_waiting, before.goroutines_waiting);
  ch.send(1);
  t.join();
  EXPECT_EQ(stats().threads_waiting, before.threads_waiting);
}

TEST(Stats, MutexWaitsAndTheirTimeAreCounted) {
  goro::run([] {
    const auto before = stats();
    goro::mutex mu;
    goro::wait_group wg;
    mu.lock();
    wg.add(1);
    goro::go([&] {
      mu.lock();
      mu.unlock();
      wg.done();
    });
    wait_until([&] { return stats().waiting_on("sync.Mutex.Lock") == before.waiting_on("sync.Mutex.Lock") + 1; });
    // Hold the lock a little longer, so the wait has a length to count
    // (a bound from below only: any length will do).
    goro::sleep_for(std::chrono::milliseconds(1));
    mu.unlock();
    wg.wait();
    auto after = stats();
    EXPECT_GE(after.mutex_waits, before.mutex_waits + 1);
    EXPECT_GT(after.mutex_wait_ns, before.mutex_wait_ns);
    EXPECT_EQ(after.waiting_on("sync.Mutex.Lock"), before.waiting_on("sync.Mutex.Lock"));
  });
}

TEST(Stats, TimersPendingCountsArmedTimers) {
  constexpr int kTimers = 50;
  const auto before = stats();
  std::vector<goro::timer> ts;
  for (int i = 0; i < kTimers; i++) ts.push_back(goro::new_timer(std::chrono::hours(1)));
  EXPECT_EQ(stats().timers_pending, before.timers_pending + kTimers);
  for (auto& t : ts) EXPECT_TRUE(t.stop());
  EXPECT_EQ(stats().timers_pending, before.timers_pending);
}

TEST(Stats, WorkersAndStacksAreReported) {
  goro::set_maxprocs(2);
  goro::run([] {
    auto s = stats();
    EXPECT_EQ(s.maxprocs, 2);
    EXPECT_GE(s.procs, 2);
    EXPECT_GE(s.threads, 1);
    EXPECT_GT(s.stack_size, 0u);
    EXPECT_GE(s.stacks_reserved, 1);  // this goroutine's
    EXPECT_GT(s.process_resident_bytes, 0);
  });
}

// Steals and worker wakes: goroutines spawned faster than one worker runs
// them are taken by the other, which sleeps in between.
TEST(Stats, StealsAndWorkerWakesAreCounted) {
  goro::set_maxprocs(2);
  const auto before = stats();
  goro::run([&before] {
    for (int round = 0; round < 1000 && stats().steals == before.steals; round++) {
      goro::wait_group wg;
      wg.add(64);
      for (int i = 0; i < 64; i++)
        goro::go([&wg] {
          volatile int x = 0;
          for (int k = 0; k < 20'000; k++) x = x + k;
          wg.done();
        });
      wg.wait();
    }
    // The other worker sleeps once it finds nothing more; a goroutine
    // spawned then wakes it (a fresh process may have made that worker
    // for the burst above, which counts no wake).
    wait_until([&] { return stats().threads_idle >= 1; });
    // Until a worker was woken and one went to sleep after `before`: with
    // earlier tests in this process, the burst above may wake a worker
    // and leave the thread that was asleep before as the idle one.
    auto not_both_yet = [&] {
      auto s = stats();
      return s.worker_wakes == before.worker_wakes || s.worker_parks == before.worker_parks;
    };
    for (int round = 0; round < 1000 && not_both_yet(); round++) {
      goro::wait_group wg;
      wg.add(1);
      goro::go([&wg] { wg.done(); });
      wg.wait();
      wait_until([&] { return stats().threads_idle >= 1; });
    }
  });
  auto after = stats();
  EXPECT_GT(after.steals, before.steals);
  EXPECT_GT(after.worker_wakes, before.worker_wakes);
  EXPECT_GT(after.worker_parks, before.worker_parks);
}

// Every sample line names a metric declared by a TYPE line before it, and
// its value is a number; the per-reason gauge is there.
TEST(Stats, PrometheusTextIsWellFormed) {
  auto ch = goro::make_chan<int>();
  std::thread t([ch] { ch.recv(); });
  wait_until([] { return stats().threads_waiting >= 1; });
  std::string text = goro::debug::prometheus_text(stats());
  ch.send(1);
  t.join();

  std::istringstream in(text);
  std::string line;
  std::vector<std::string> typed;
  int samples = 0;
  bool saw_receive = false;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(line.substr(7));
      std::string name, type;
      f >> name >> type;
      EXPECT_TRUE(type == "gauge" || type == "counter") << line;
      EXPECT_EQ(name.rfind("goro_", 0), 0u) << line;
      typed.push_back(name);
      continue;
    }
    ASSERT_NE(line[0], '#') << line;
    size_t name_end = line.find_first_of("{ ");
    ASSERT_NE(name_end, std::string::npos) << line;
    std::string name = line.substr(0, name_end);
    ASSERT_FALSE(typed.empty()) << line;
    EXPECT_EQ(name, typed.back()) << "sample of an undeclared metric: " << line;
    size_t space = line.rfind(' ');
    char* end = nullptr;
    std::string value = line.substr(space + 1);
    std::strtod(value.c_str(), &end);
    EXPECT_EQ(*end, '\0') << "not a number: " << line;
    if (line.rfind("goro_goroutines_waiting{reason=\"chan receive\"} ", 0) == 0) {
      saw_receive = true;
      EXPECT_NE(value, "0") << line;
    }
    samples++;
  }
  EXPECT_GT(samples, 20);
  EXPECT_TRUE(saw_receive) << text;
}

// num_goroutine reads the plain threads' count, then each P's: a
// goroutine started from a plain thread after the first read and gone
// (its P's count lowered) before the second was subtracted without having
// been added, and the sum went below zero. A seam does exactly that
// between the reads. (A review of the diagnostics, 2026-12-06.)
void start_and_finish_one_from_this_thread() {
  goro::detail::test_hooks::num_goroutine_after_first_read.store(nullptr);  // once
  goro::wait_group wg;
  wg.go([] {});
  wg.wait();
  // Its count has come off its P once a fresh reading says none are left.
  ASSERT_TRUE(goro_test::spin_until([] { return goro::num_goroutine() == 0; }));
}

TEST(Stats, NumGoroutineIsNeverNegative) {
  // A plain thread, no goroutine alive (each test runs in a process of
  // its own under ctest; in a shared one earlier tests' goroutines may
  // still be counted, which only makes the check weaker).
  if (goro::num_goroutine() != 0) GTEST_SKIP() << "goroutines of earlier tests are still alive";
  goro::detail::test_hooks::num_goroutine_after_first_read.store(start_and_finish_one_from_this_thread);
  int64_t n = goro::num_goroutine();
  goro::detail::test_hooks::num_goroutine_after_first_read.store(nullptr);
  EXPECT_GE(n, 0);
  EXPECT_GE(goro::debug::stats().goroutines, 0);
}

}  // namespace
