// Timers armed on a P whose goroutine then computes must still fire on
// time when every P is busy (issue 15, item 6): another P runs them, as
// Go's Ps run each other's timers.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "ping_pong_pairs.hpp"
#include "sched/sched.hpp"  // to see which Ps hold timers
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

// maxprocs 2. A goroutine arms a 5 ms after() timer on its P and then
// computes, polling the channel with try_recv (no scheduling point), until
// the timer fires or 10 s pass; the other P is kept busy by a ping-pong
// pair, so no worker is idle. Before, only the computing P ran its own
// timers, and the timer fired seconds late. Lateness is counted in the
// pair's round trips rather than in time, so a busy machine, which slows
// the pair as much as the clock, does not change the verdict: the busy P
// runs the overdue timer within about a millisecond of round trips (a few
// thousand), and the bound is 100,000 (before: hundreds of thousands to millions).
TEST(Timers, OverdueTimerOfABusyPFiresWhileItComputes) {
  goro::set_maxprocs(2);
  goro::run([] {
    for (int trial = 0; trial < 5; trial++) {
      std::atomic<bool> stop{false};
      std::atomic<int64_t> round_trips{0};
      goro::wait_group pair;
      goro_test::go_ping_pong_pairs(pair, 1, stop, round_trips);
      // The pair is running.
      while (round_trips.load() < 1000) goro::yield();
      std::atomic<bool> fired{false};
      std::atomic<int64_t> late_by{-1};
      goro::wait_group computer;
      computer.go([&] {
        auto t = goro::after(5ms);
        auto t0 = steady::now();
        int64_t armed_at = round_trips.load();
        while (steady::now() - t0 < 10s) {
          if (t.try_recv()) {
            fired = true;
            break;
          }
          // Until 5 ms have passed the timer is not late: restart the count.
          if (steady::now() - t0 < 5ms) armed_at = round_trips.load();
        }
        late_by = round_trips.load() - armed_at;
      });
      computer.wait();
      stop = true;
      pair.wait();
      EXPECT_TRUE(fired.load()) << "trial " << trial << ": the timer waited for its P's goroutine to stop";
      EXPECT_LT(late_by.load(), 100'000) << "trial " << trial << ": round trips of the pair while the timer was due";
    }
  });
}

// Whether an idle P (one no worker holds) has a timer pending.
bool idle_p_holds_timers() {
  int32_t n = goro::detail::sched.nallp.load();
  for (int32_t i = 0; i < n; i++) {
    goro::detail::p* pp = goro::detail::p_for_index(i);
    if (pp->status.load() == goro::detail::p_status::idle && pp->timer0_when.load() != INT64_MAX) return true;
  }
  return false;
}

// maxprocs drops from 2 to 1 while goroutines sleep on both Ps: the P
// given up keeps its timers, and no worker may take it up again (the
// budget is full), so the busy P must run them. Before, it looked at
// other Ps' overdue timers only in its every-61st-round check, and only
// when the global queue was empty; 400 ping-pong pairs on one P never
// empty it, so the sleepers on the idle P slept for ever. (Found as the
// live dump test hanging under ASan on a busy machine: the monitor's
// grants for workers the OS had descheduled left a P idle, over budget,
// holding the main goroutine's 1 ms sleep; design.md section 6.)
// Lateness is counted in the pairs' round trips, not in time: before,
// the bound was reached in every trial whose idle P held a sleeper.
// Most sleepers sleep 1 ms; a few sleep 100 ms, so that the given-up P
// still holds their timers when the test looks (the 1 ms ones it holds
// are run as soon as due now, often before the main goroutine, one of
// 800 runnable on the one P, gets to look: under TSan no trial of 40
// caught one).
TEST(Timers, TimersOfAGivenUpPFireWhileTheGlobalQueueNeverEmpties) {
  const int pairs = 400, sleepers = 64, long_sleepers = 8;
  const int saved_maxprocs = goro::maxprocs();
  int stranded_trials = 0;  // trials whose given-up P held a timer
  for (int trial = 0; trial < 40 && stranded_trials < 3; trial++) {
    goro::set_maxprocs(2);
    goro::run([&] {
      std::atomic<bool> stop_sleepers{false}, stop_pairs{false};
      std::atomic<int64_t> round_trips{0};
      std::vector<std::atomic<int>> wakes(sleepers);
      goro::wait_group sleeping, pairing;
      goro_test::go_ping_pong_pairs(pairing, pairs, stop_pairs, round_trips);
      // Started from a plain thread, the sleepers go to the global queue,
      // which both busy Ps take from: each P then holds the timers of
      // about half of them (a woken sleeper runs, and sleeps again, on the
      // P that ran its timer).
      std::thread starter([&] {
        for (int s = 0; s < sleepers; s++)
          sleeping.go([&, s] {
            const auto period = s < long_sleepers ? 100ms : 1ms;
            while (!stop_sleepers.load()) {
              goro::sleep_for(period);
              wakes[s].fetch_add(1);
            }
          });
      });
      starter.join();
      for (int s = long_sleepers; s < sleepers; s++)
        while (wakes[s].load() < 3) goro::yield();
      goro::set_maxprocs(1);
      while (goro::detail::p_active_count() > 1) goro::yield();
      bool stranded = idle_p_holds_timers();
      stranded_trials += stranded ? 1 : 0;
      // From here on every 1 ms sleeper wakes 5 more times within the
      // bound, and every 100 ms one once.
      std::vector<int> base(sleepers);
      for (int s = 0; s < sleepers; s++) base[s] = wakes[s].load();
      int64_t start = round_trips.load();
      bool all_woke = false;
      while (!all_woke && round_trips.load() - start < 5'000'000) {
        all_woke = true;
        for (int s = 0; s < sleepers && all_woke; s++)
          all_woke = wakes[s].load() >= base[s] + (s < long_sleepers ? 1 : 5);
        goro::yield();
      }
      EXPECT_TRUE(all_woke) << "trial " << trial << (stranded ? " (its idle P held timers)" : "")
                            << ": sleepers still asleep after 5,000,000 round trips of the pairs";
      goro::set_maxprocs(2);  // frees any sleeper left on the idle P
      stop_sleepers = true;
      sleeping.wait();
      stop_pairs = true;
      pairing.wait();
    });
  }
  // Else the test did not make the case it is about.
  EXPECT_GT(stranded_trials, 0);
  goro::set_maxprocs(saved_maxprocs);
}

}  // namespace
