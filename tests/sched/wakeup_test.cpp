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

// A receiver parked on `c`, readied by main's send into main's P's
// runnext, while main computes.
TEST(Wakeup, ReadiedGoroutineRunsWhileWakerComputes) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(2);
  goro::run([] {
    for (int trial = 0; trial < 20; trial++) {
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
  });
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
