// What the deadlock check costs while plain threads feed goroutines (issue
// 15, item 7). Every time the last worker goes idle the check may run, and
// its expensive part lists the process's threads (/proc/self/task, 10-70 us
// each): it must not do that once per message a std::thread sends, nor
// while holding sched.lock, where senders and wakep() would queue behind
// it. sched/deadlock_stats.hpp counts the listings.
//
// These programs are no deadlocks: were the check to call one (unsound), the
// process would end with status 2 and the test fail.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <thread>

#include "goro/goro.hpp"
#include "sched/deadlock_stats.hpp"
#include "test_util.hpp"

namespace {

using goro::detail::deadlock_stats;
using goro::detail::deadlock_stats_read;
using goro::detail::kDeadlockScanIntervalNs;
using goro_test::ms_since;
using goro_test::steady;

constexpr int kMessages = 2000;

// Listings allowed for a program that ran `ms` milliseconds: one per scan
// interval, and one more at each end for rounding.
uint64_t allowed_scans(double ms) {
  return 2 + static_cast<uint64_t>(ms * 1e6 / static_cast<double>(kDeadlockScanIntervalNs));
}

void expect_few_scans(const deadlock_stats& before, double ms, const char* what) {
  deadlock_stats after = deadlock_stats_read();
  uint64_t scans = after.scans - before.scans;
  uint64_t locked = after.scans_holding_sched_lock - before.scans_holding_sched_lock;
  std::printf("%s: %d messages in %.1f ms, %" PRIu64 " thread listings (%" PRIu64 " under sched.lock%s)\n", what,
              kMessages, ms, scans, locked, after.lock_tracked ? "" : ", not tracked in this build");
  EXPECT_LE(scans, allowed_scans(ms)) << kMessages << " messages in " << ms << " ms";
  EXPECT_EQ(locked, 0u) << "listed /proc/self/task while holding sched.lock";
}

// Busy for about `us` microseconds: the thread stays runnable, as one doing
// some work between two sends.
void work_for_us(int us) {
  auto until = steady::now() + std::chrono::microseconds(us);
  while (steady::now() < until) {
  }
}

// The case: a std::thread sends 2,000 messages over an unbuffered
// channel to the main goroutine, working a little before each, so the
// goroutine is already waiting when each comes. Each time it waits, every
// worker is idle, nothing is runnable and no timer is pending: only the
// listing can tell that the sender may still act. Before the fix, one
// listing per message (~2,000), each under sched.lock.
TEST(DeadlockCheck, ThreadSendingToAGoroutineDoesNotListThreadsPerMessage) {
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    deadlock_stats before = deadlock_stats_read();
    auto t0 = steady::now();
    auto ch = goro::make_chan<int>();
    std::thread sender;
    int64_t sum = 0;
    goro::run([&] {
      sender = std::thread([ch] {
        for (int i = 0; i < kMessages; i++) {
          work_for_us(10);
          ch.send(i);
        }
      });
      for (int i = 0; i < kMessages; i++) sum += ch.recv();
    });
    sender.join();
    EXPECT_EQ(sum, int64_t{kMessages} * (kMessages - 1) / 2);
    expect_few_scans(before, ms_since(t0), "thread -> goroutine");
  }
}

// A ping-pong between a plain thread and a goroutine: the thread is often
// parked in goro when the listing looks, and the goroutine then has just
// been woken, or is about to be. The check must see that, never calling
// this a deadlock, and still list threads only now and then.
TEST(DeadlockCheck, PingPongWithAThreadIsNotADeadlock) {
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    deadlock_stats before = deadlock_stats_read();
    auto t0 = steady::now();
    auto ping = goro::make_chan<int>();
    auto pong = goro::make_chan<int>();
    std::thread player;
    goro::run([&] {
      player = std::thread([ping, pong] {
        for (int i = 0; i < kMessages; i++) pong.send(ping.recv() + 1);
      });
      int v = 0;
      for (int i = 0; i < kMessages; i++) {
        ping.send(v);
        v = pong.recv();
      }
      EXPECT_EQ(v, kMessages);
    });
    player.join();
    expect_few_scans(before, ms_since(t0), "thread <-> goroutine");
  }
}

}  // namespace
