// maxprocs bounds the goroutines that run goroutine code, and the threads
// stay bounded, whatever the goroutines do (issue 15, item 3): a goroutine
// coming back from goro::blocking waits for a P instead of running beside
// the maxprocs others, the monitor asks a computing goroutine to yield at
// its next safe point, and it grants extra Ps for goroutines that compute
// without one only maxprocs at a time.
#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <thread>

#include "goro/goro.hpp"
#include "detach_off.hpp"
#include "sched/sched.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

int thread_count() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') n++;
    closedir(d);
  }
  return n;
}

// maxprocs 1. A goroutine sits in a blocking section until main, running
// on the only P (the monitor took it from the blocked goroutine and gave
// it to main), tells it to return; main then computes for 1 s without a
// scheduling point. The returning goroutine must wait for the P: before,
// it went on running beside main. (goro_test::detach_off keeps the
// monitor from granting main's queue an extra P, which would let it run.)
TEST(Maxprocs, BlockingSectionEndWaitsForAP) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(1);
  goro::run([] {
    std::atomic<bool> in_section{false}, release{false}, returned{false};
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      goro::blocking([&] {
        in_section = true;
        while (!release.load()) std::this_thread::sleep_for(1ms);
      });
      returned = true;
      wg.done();
    });
    while (!in_section.load()) goro::yield();
    // Wait (parked) for the monitor to take the blocked goroutine's P:
    // main runs again only on a P, and the only P is that one.
    goro::sleep_for(50ms);
    release = true;
    auto t0 = steady::now();
    bool ran_beside_main = false;
    while (steady::now() - t0 < 1s)
      if (returned.load()) ran_beside_main = true;
    EXPECT_FALSE(ran_beside_main) << "a goroutine left its blocking section and ran beside main with maxprocs 1";
    wg.wait();
    EXPECT_TRUE(returned.load());
  });
}

// A goroutine that sends on a channel with room in a loop never parks; the
// monitor's request makes it yield at a send, so the goroutine queued
// behind it runs (maxprocs 1, no extra P: detachoff).
TEST(Preempt, ChannelLoopYieldsWhenAsked) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(1);
  goro::run([] {
    auto c = goro::make_chan<int>(1 << 20);
    std::atomic<bool> other_ran{false};
    goro::go([&] { other_ran = true; });
    auto t0 = steady::now();
    int n = 0;
    while (!other_ran.load() && steady::now() - t0 < 10s) {
      c.send(n);
      if (++n == (1 << 20)) {  // keep room in the buffer: drain it
        while (c.try_recv()) {
        }
        n = 0;
      }
    }
    EXPECT_TRUE(other_ran.load()) << "the sender never yielded";
  });
}

// The same with goro::preempt_point() as the only runtime call.
TEST(Preempt, PreemptPointYieldsWhenAsked) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(1);
  goro::run([] {
    std::atomic<bool> other_ran{false};
    goro::go([&] { other_ran = true; });
    auto t0 = steady::now();
    while (!other_ran.load() && steady::now() - t0 < 10s) goro::preempt_point();
    EXPECT_TRUE(other_ran.load()) << "preempt_point never yielded";
  });
}

// 20 goroutines compute for 100 ms each with no safe point, maxprocs 2.
// Before, the monitor gave each P whose goroutine ran 10 ms with work
// queued an extra P and thread, and the new P took a batch and was handed
// off in turn: up to one thread per goroutine. Now at most maxprocs grants
// exist at once.
TEST(Maxprocs, ComputingBurstKeepsThreadsBounded) {
  goro::set_maxprocs(2);
  goro::run([] {
    // Warm up: both workers exist.
    {
      goro::wait_group wg;
      for (int i = 0; i < 4; i++) wg.go([] { goro::blocking([] { std::this_thread::sleep_for(1ms); }); });
      wg.wait();
    }
    std::atomic<bool> done{false};
    std::atomic<int> max_threads{0};
    std::thread sampler([&] {
      while (!done.load()) {
        int n = thread_count();
        if (n > max_threads.load()) max_threads = n;
        std::this_thread::sleep_for(1ms);
      }
    });
    int before = thread_count();
    goro::wait_group wg;
    for (int i = 0; i < 20; i++) {
      wg.go([] {
        auto t0 = steady::now();
        while (steady::now() - t0 < 100ms) {
        }
      });
    }
    wg.wait();
    done = true;
    sampler.join();
    // maxprocs workers, maxprocs grants, and a spare worker or two.
    EXPECT_LE(max_threads.load(), before + 2 + 2 + 2) << "threads before the burst: " << before;
  });
}

}  // namespace

namespace {

// Threads made for a burst of blocking sections are given back once they
// have been idle for a scavenge period ($GORO_SCAVENGE_MS, 300 ms here):
// before, every M ever made stayed, asleep, for the life of the process.
TEST(Threads, IdleWorkersBeyondMaxprocsExit) {
  goro_test::scoped_env env("GORO_SCAVENGE_MS", "300");
  goro::set_maxprocs(2);
  goro::run([] {
    int before = thread_count();
    {
      goro::wait_group wg;
      std::atomic<int> inside{0};
      for (int i = 0; i < 40; i++) {
        wg.go([&] {
          goro::blocking([&] {
            inside++;
            // Stay until all 40 are inside (each holds a thread).
            auto t0 = steady::now();
            while (inside.load() < 40 && steady::now() - t0 < 20s) std::this_thread::sleep_for(1ms);
          });
        });
      }
      wg.wait();
      EXPECT_EQ(inside.load(), 40);
    }
    int peak = thread_count();
    EXPECT_GE(peak, before + 30) << "the burst should have held a thread per blocking section";
    auto t0 = steady::now();
    // Kept: the workers running (up to maxprocs), up to maxprocs idle ones
    // and the one sleeping until the next timer.
    const int kept = before + 2 + 1;
    while (thread_count() > kept && steady::now() - t0 < 20s) goro::sleep_for(10ms);
    EXPECT_LE(thread_count(), kept) << "threads before " << before << ", at the burst " << peak;
    // The runtime still works, with new threads as needed.
    goro::wait_group wg;
    std::atomic<int> ran{0};
    for (int i = 0; i < 8; i++) wg.go([&] { goro::blocking([&] { std::this_thread::sleep_for(5ms); ran++; }); });
    wg.wait();
    EXPECT_EQ(ran.load(), 8);
  });
}

// The same while every P stays busy and a timer keeps falling due: an idle
// M that woke for the timer and found no idle P to run it gave up the
// timer's role and slept until kicked, past its retirement, and nobody
// kicks an M without the role: 27 of 105 threads stayed for good after a
// burst of 100 sections (a review, 2026-12-07).
TEST(Threads, IdleWorkersBeyondMaxprocsExitWhileEveryPIsBusyAndTimersFallDue) {
  goro_test::scoped_env env("GORO_SCAVENGE_MS", "300");
  goro::set_maxprocs(2);
  goro::run([] {
    std::atomic<bool> stop{false};
    goro::wait_group busy;
    auto ping = goro::make_chan<int>(), pong = goro::make_chan<int>();
    busy.go([&, ping, pong] {  // a ping-pong pair keeps the Ps busy
      for (int v; (v = ping.recv()) >= 0;) pong.send(v);
    });
    busy.go([&, ping, pong] {
      while (!stop.load(std::memory_order_relaxed)) {
        ping.send(1);
        (void)pong.recv();
      }
      ping.send(-1);
    });
    busy.go([&] {
      while (!stop.load(std::memory_order_relaxed)) goro::sleep_for(1ms);  // a timer always near
    });
    int before = thread_count();
    {
      // 100 blocking sections at once, each holding a thread: each stays
      // until all are inside (bounded), then 100-199 ms more, so that they
      // end over a spread of moments, as a burst of calls does (ending
      // all at once, they did not leave the case behind).
      goro::wait_group wg;
      std::atomic<int> inside{0}, leaving{0};
      for (int i = 0; i < 100; i++) {
        wg.go([&inside, &leaving] {
          goro::blocking([&inside, &leaving] {
            inside++;
            for (auto t0 = steady::now(); inside.load() < 100 && steady::now() - t0 < 20s;)
              std::this_thread::sleep_for(1ms);
            std::this_thread::sleep_for(std::chrono::milliseconds(100 + leaving++));
          });
        });
      }
      wg.wait();
      EXPECT_EQ(inside.load(), 100);
    }
    int peak = thread_count();
    EXPECT_GE(peak, before + 50) << "the burst should have held a thread per blocking section";
    auto t0 = steady::now();
    // Kept: maxprocs idle Ms, the timed sleeper and one more the busy Ps'
    // hand-offs may hold a moment.
    const int kept = before + 2 + 1 + 1;
    while (thread_count() > kept && steady::now() - t0 < 20s) goro::sleep_for(10ms);
    EXPECT_LE(thread_count(), kept) << "threads before " << before << ", at the burst " << peak;
    stop.store(true);
    busy.wait();
  });
}

}  // namespace

namespace {

// Through the runtime (not inline here): under TSan, code built with it
// must not read the runtime's own records, whose writes TSan does not
// order before the goroutines that run on a worker (its creator's history
// is not the worker's; docs/design.md section 8).
int32_t my_p_id() { return goro::detail::current_p_id(); }

// After maxprocs is lowered, the P left over the budget keeps its timers
// (Ps are never freed; Go moves a dropped P's timers to a live one). While
// the one allowed P computes, the monitor saw no work for it (its own
// queue and timers empty), so a goroutine sleeping on the other P slept on
// for as long as the computation lasted. Now those overdue timers count as
// work: the computing goroutine is asked to yield, and its P's next round
// runs them; computing on without a safe point, its work goes to an extra
// P, which takes the idle one and runs them.
void sleeper_on_a_dropped_p_wakes(bool safe_points) {
  goro::set_maxprocs(2);
  goro::run([safe_points] {
    bool made_the_case = false;
    for (int round = 0; round < 50 && !made_the_case; round++) {
      goro::set_maxprocs(2);
      const int32_t mine = my_p_id();
      std::atomic<int32_t> sleeper_p{-1};
      std::atomic<bool> woke{false};
      goro::go([&] {
        sleeper_p = my_p_id();
        goro::sleep_for(1ms);
        woke = true;
      });
      // Computing (safe points only when asked): the idle P steals it.
      auto end = steady::now() + 20s;
      while (sleeper_p.load() == -1 && steady::now() < end) goro::preempt_point();
      ASSERT_NE(sleeper_p.load(), -1);
      if (sleeper_p.load() == mine) {  // ran here after a yield: no case
        ASSERT_TRUE(goro_test::wait_for([&] { return woke.load(); }));
        continue;
      }
      made_the_case = true;
      goro::set_maxprocs(1);  // the sleeper's P: idle, over the budget
      // Computing: a busy loop (a thread sleep would look blocked to the
      // monitor, which would hand this P to another worker).
      auto give_up = steady::now() + 20s;
      while (!woke.load() && steady::now() < give_up)
        if (safe_points) goro::preempt_point();
      bool woken = woke.load();
      EXPECT_TRUE(woken) << "the sleeper on the dropped P slept on while this P computed";
      goro::set_maxprocs(2);
      ASSERT_TRUE(goro_test::wait_for([&] { return woke.load(); }));
    }
    EXPECT_TRUE(made_the_case) << "the sleeper never ran on the other P";
  });
  goro::set_maxprocs(2);
}

// Lowering maxprocs empties the caches of the Ps beyond it (free g records
// and stacks back to the global pools, stack credits given back), as Go's
// procresize does for the Ps it destroys: such a P may never run again,
// and its stacks' pages stayed committed (up to 64 stacks per P) until it
// did. Goroutines exit on both Ps (two parents, each on a P of its own,
// start 100 children each), then maxprocs drops to 1 while both Ps are
// held: the worker that gives its P up must leave it empty. (Before, 15
// to 17 stacks and 38 to 63 g records stayed in it, five runs.)
TEST(Maxprocs, LoweringItEmptiesTheCachesOfThePsBeyondIt) {
  goro::set_maxprocs(2);
  goro::run([] {
    std::atomic<int> running{0};
    goro::wait_group parents;
    for (int k = 0; k < 2; k++)
      parents.go([&] {
        running.fetch_add(1);
        while (running.load() < 2) goro::preempt_point();
        goro::wait_group kids;
        for (int i = 0; i < 100; i++) kids.go([] {});
        kids.wait();
      });
    parents.wait();
    goro::set_maxprocs(1);
    ASSERT_TRUE(goro_test::wait_for([] { return goro::detail::p_active_count() == 1; }));
    auto c = goro::detail::idle_p_cached();
    EXPECT_EQ(c.stacks, 0) << "stacks left in the caches of idle Ps";
    EXPECT_EQ(c.gs, 0) << "g records left in the caches of idle Ps";
    goro::set_maxprocs(2);
  });
  goro::set_maxprocs(2);
}

TEST(Maxprocs, SleeperOnADroppedPWakesWhileTheOtherComputes) { sleeper_on_a_dropped_p_wakes(false); }
TEST(Maxprocs, SleeperOnADroppedPWakesWhileTheOtherYieldsWhenAsked) { sleeper_on_a_dropped_p_wakes(true); }

}  // namespace
