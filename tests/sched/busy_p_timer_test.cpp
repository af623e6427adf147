// Timers on a P whose goroutines compute between switches. A busy P
// switches straight from goroutine to goroutine and looks at the clock
// only at every 16th switch (direct_successor, sched/proc.cpp): when the
// switches come milliseconds apart, a due timer waited up to 16 such
// slices. The monitor now moves its coarse clock past each timer as it
// falls due, and the switch after that runs it.
//
// What is counted is slices, not time: how many of the computing
// goroutines' turns began after the sleeper's deadline, before the sleeper
// ran. Nothing asserts how late in milliseconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count(); }

TEST(BusyPTimers, ASleeperWakesWithinAFewSlicesOfItsDeadline) {
  int saved = goro::set_maxprocs(1);
  goro::run([] {
    constexpr int kComputing = 8;
    constexpr auto kSlice = 3ms;
    constexpr int kRounds = 15;
    std::atomic<int64_t> deadline{INT64_MAX};
    std::atomic<int> late_turns{0};
    std::atomic<bool> stop{false};
    goro::wait_group wg;
    for (int i = 0; i < kComputing; i++) {
      wg.go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          for (auto t0 = steady::now(); steady::now() - t0 < kSlice;) {
          }
          goro::yield();
          // A turn that began after the deadline, the sleeper still asleep.
          if (now_ns() >= deadline.load(std::memory_order_relaxed)) late_turns.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    goro::yield();  // let them start
    std::vector<int> late;
    for (int round = 0; round < kRounds; round++) {
      late_turns.store(0);
      deadline.store(now_ns() + 200'000);
      goro::sleep_for(200us);
      deadline.store(INT64_MAX);
      late.push_back(late_turns.exchange(0));
    }
    stop.store(true);
    wg.wait();
    std::vector<int> sorted = late;
    std::sort(sorted.begin(), sorted.end());
    std::string all;
    for (int n : late) all += std::to_string(n) + " ";
    // Before: 5 1 7 2 4 7 7 6 repeating (median 6); after: 0 or 1.
    EXPECT_LE(sorted[kRounds / 2], 3) << "turns that began after the deadline, per round: " << all;
  });
  goro::set_maxprocs(saved);
}

}  // namespace
