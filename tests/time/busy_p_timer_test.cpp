// Timers armed on a P whose goroutine then computes must still fire on
// time when every P is busy (issue 15, item 6): another P runs them, as
// Go's Ps run each other's timers.
#include <gtest/gtest.h>

#include <atomic>

#include "goro/goro.hpp"
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
      auto ping = goro::make_chan<int>(), pong = goro::make_chan<int>();
      pair.go([&] {
        while (!stop.load()) {
          ping.send(1);
          pong.recv();
          round_trips.fetch_add(1, std::memory_order_relaxed);
        }
        ping.close();
      });
      pair.go([&] {
        for (int v : ping) pong.send(v);
      });
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

}  // namespace
