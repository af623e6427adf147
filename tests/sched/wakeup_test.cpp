// Wake-up latency: a goroutine readied by a goroutine that then computes or
// enters goro::blocking must run on an idle P, not wait for its waker
// (issue 15, items 1 and 2).
//
// The monitor would rescue such a goroutine by handing off its waker's P
// after 10 ms; these tests turn that off (goro_test::detach_off, as
// $GORO_DEBUG=detachoff=1 does for a whole program), so that
// only the scheduler's own wake-up can run it. The waker then waits for
// the readied goroutine for up to 10 s: without the wake-up it waits out
// the whole 10 s and the test fails; with it the goroutine runs in
// microseconds. Nothing here asserts how fast.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <thread>

#include "goro/goro.hpp"
#include "detach_off.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

// Spins without a scheduling point until flag is set or `limit` passes.
bool spin_until(const std::atomic<bool>& flag, steady::duration limit) {
  auto t0 = steady::now();
  while (!flag.load(std::memory_order_acquire))
    if (steady::now() - t0 > limit) return false;
  return true;
}

// Sleeps 2 ms in a blocking section: the monitor leaves a P alone for
// 10 ms in a blocking call when other workers are free, and a blocking
// section readies nobody.
void quiet_pause() {
  goro::blocking([] { std::this_thread::sleep_for(2ms); });
}

// Trials of a receiver parked on `c`, readied by this goroutine's send
// into its P's runnext while it computes: the receiver must run on the
// other worker meanwhile.
void readied_runs_while_waker_computes(int trials) {
  for (int trial = 0; trial < trials; trial++) {
    auto c = goro::make_chan<int>();
    std::atomic<bool> waiting{false}, got{false};
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      waiting = true;
      c.recv();
      got.store(true, std::memory_order_release);
      wg.done();
    });
    // Give the receiver time to park, and any worker woken meanwhile
    // time to give up spinning, without waking anyone (a sleep would:
    // its timer wakes a worker). If the receiver has not parked, the
    // send parks and the trial passes without testing anything.
    while (!waiting.load()) goro::yield();
    quiet_pause();
    c.send(trial);
    ASSERT_TRUE(spin_until(got, 10s)) << "trial " << trial << ": the receiver waited for its computing waker";
    wg.wait();
  }
}

TEST(Wakeup, ReadiedGoroutineRunsWhileWakerComputes) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(2);
  goro::run([] { readied_runs_while_waker_computes(20); });
}

// The same once the Ps have made 2^32 switches. The thieves' looks kept
// the switch count in 32 bits and compared it with the 64-bit count:
// past 2^32 every victim looked busy switching, so its runnext and short
// queues were never stolen (found by a review, 2026-12-06: 20-30 ms late,
// the monitor's detach the only rescue; here it is off).
TEST(Wakeup, ReadiedGoroutineRunsWhileWakerComputesAfterFourBillionSwitches) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(2);
  goro::run([] {
    goro::detail::test_hooks::set_schedticks((uint64_t{1} << 32) + 100);
    readied_runs_while_waker_computes(5);
    if (::testing::Test::HasFatalFailure()) return;
    // A short queue (8 goroutines started by a goroutine that then
    // computes) is taken by the idle worker too (through runnext or the
    // ring).
    std::atomic<int> ran{0};
    std::atomic<bool> all_ran{false};
    goro::wait_group wg;
    for (int i = 0; i < 8; i++)
      wg.go([&] {
        if (++ran == 8) all_ran.store(true, std::memory_order_release);
      });
    EXPECT_TRUE(spin_until(all_ran, 10s)) << ran.load() << " of 8 ran while their spawner computed";
    wg.wait();
  });
}

// A goroutine that loops short blocking sections, on the only P, with the
// goroutine it readied waiting in that P's runnext. The monitor could not
// ask it to yield (it is inside a section at almost every look) and never
// handed its P off (its syscalltick moved at every look): the readied
// goroutine waited until a look happened to fall between two sections,
// seconds (found by a review, 2026-12-06: 0.05 to 23 s). Now the P is
// handed off once its goroutines have not moved for 10 ms, as Go's
// sysretake. Each section sleeps 2 ms, so a look between two sections is
// rare (the bound below, 2,500 sections, is at least 5 s).
TEST(Wakeup, GoroutineLoopingBlockingSectionsDoesNotStrandTheOneItReadied) {
  goro::set_maxprocs(1);
  goro::run([] {
    for (int round = 0; round < 3; round++) {
      // Nothing for the monitor to do for 100 ms: it naps its longest
      // (10 ms) then, so that each of its looks sees a new syscalltick.
      // (A plain sleep on purpose: no blocking section, no timer.)
      std::this_thread::sleep_for(100ms);
      std::atomic<bool> stop{false};
      std::atomic<int> sections{0};
      auto started = goro::make_chan<int>();
      goro::wait_group wg;
      wg.go([&, started] {
        started.send(1);  // readies main into this P's runnext
        for (int i = 0; i < 2500 && !stop.load(); i++) {
          goro::blocking([] { std::this_thread::sleep_for(2ms); });
          sections++;
        }
      });
      (void)started.recv();
      bool in_time = !(sections.load() >= 2500);
      stop = true;
      wg.wait();
      ASSERT_TRUE(in_time) << "round " << round << ": the readied goroutine waited out 2,500 blocking sections";
    }
  });
  goro::set_maxprocs(2);
}

// The same with a waker that enters goro::blocking after the send, and
// whose P the monitor has handed off once before (a blocking section
// longer than 20 us): the P stays "detached" until the goroutine reaches
// the scheduler, and the monitor's retake skips detached Ps.
TEST(Wakeup, ReadiedGoroutineRunsWhileWakerBlocks) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(2);
  goro::run([] {
    for (int trial = 0; trial < 10; trial++) {
      auto c = goro::make_chan<int>();
      std::atomic<bool> waiting{false}, got{false};
      goro::wait_group wg;
      wg.add(1);
      goro::go([&] {
        waiting = true;
        c.recv();
        got.store(true, std::memory_order_release);
        wg.done();
      });
      while (!waiting.load()) goro::yield();
      // A long blocking call: the monitor hands this P's place off.
      goro::blocking([] { std::this_thread::sleep_for(30ms); });
      quiet_pause();
      c.send(trial);
      bool ran = goro::blocking([&] { return spin_until(got, 10s); });
      ASSERT_TRUE(ran) << "trial " << trial << ": the receiver waited for its blocked waker";
      wg.wait();
    }
  });
}

// The loop the issue names: a goroutine that alternates a long blocking
// read with a send to a consumer. Every value must reach the consumer
// while the producer sits in its next read, not after it.
TEST(Wakeup, BlockingReadThenSendLoopDoesNotStrandTheConsumer) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(2);
  goro::run([] {
    auto c = goro::make_chan<int>();
    std::atomic<int> received{0};
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      for (int v : c) received.store(v + 1, std::memory_order_release);
      wg.done();
    });
    for (int i = 0; i < 10; i++) {
      goro::blocking([] { std::this_thread::sleep_for(20ms); });
      c.send(i);
      // The next "read" lasts until the consumer has the value (or 10 s).
      bool seen = goro::blocking([&] {
        auto t0 = steady::now();
        while (received.load(std::memory_order_acquire) != i + 1)
          if (steady::now() - t0 > 10s) return false;
        return true;
      });
      ASSERT_TRUE(seen) << "value " << i << " reached the consumer only after the next read";
    }
    c.close();
    wg.wait();
  });
}

// go() from a goroutine that then computes: the new goroutine runs on the
// idle P.
TEST(Wakeup, GoFromAComputingGoroutineRunsElsewhere) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(2);
  goro::run([] {
    for (int trial = 0; trial < 20; trial++) {
      std::atomic<bool> got{false};
      goro::go([&] { got.store(true, std::memory_order_release); });
      ASSERT_TRUE(spin_until(got, 10s)) << "trial " << trial;
    }
  });
}

}  // namespace
