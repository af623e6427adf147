// goro::wait_group (src/sync/wait_group.cpp): Go's sync.WaitGroup rules,
// from goroutines and plain threads, and the per-worker shares of a large
// counter.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "goro/debug.hpp"
#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

TEST(WaitGroup, WorksFromPlainThreads) {
  goro::wait_group wg;
  std::atomic<int> n{0};
  std::vector<std::thread> ts;
  wg.add(8);
  for (int i = 0; i < 8; i++)
    ts.emplace_back([&] {
      n++;
      wg.done();
    });
  wg.wait();
  EXPECT_EQ(n.load(), 8);
  for (auto& t : ts) t.join();
}

TEST(WaitGroup, GoroutinesReleaseAThread) {
  goro::wait_group wg;
  std::atomic<int> n{0};
  for (int i = 0; i < 100; i++) {
    wg.add(1);
    goro::go([&] {
      goro::sleep_for(std::chrono::milliseconds(1));
      n++;
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(n.load(), 100);
}

TEST(WaitGroup, NegativeCounterPanics) {
  goro::wait_group wg;
  try {
    wg.done();
    FAIL() << "no panic";
  } catch (const goro::panic_error& e) {
    EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
  }
}

// With a goroutine parked in wg.wait(): add(minus) must panic with Go's
// message and release nobody; add(back) (which brings the counter to zero)
// then releases the waiter. Called with the only worker held (maxprocs 1),
// so nothing runs in between.
void add_beyond_the_counter_releases_nobody(goro::wait_group& wg, int64_t minus, int64_t back) {
  std::atomic<uint64_t> waiter{0};
  std::atomic<bool> returned{false};
  goro::go([&] {
    waiter = goro::goroutine_id();
    wg.wait();
    returned = true;
  });
  auto reason = [&] {
    for (const auto& g : goro::debug::goroutines())
      if (g.id == waiter.load() && g.state == goro::debug::goroutine_state::waiting) return g.wait_reason;
    return std::string();
  };
  ASSERT_TRUE(goro_test::wait_for([&] { return waiter.load() != 0 && reason() == "sync.WaitGroup.Wait"; }));
  goro_test::expect_panic([&] { wg.add(minus); }, "sync: negative WaitGroup counter");
  EXPECT_EQ(reason(), "sync.WaitGroup.Wait") << "the waiter was released";
  EXPECT_FALSE(returned.load());
  wg.add(back);
  EXPECT_TRUE(goro_test::wait_for([&] { return returned.load(); }));
}

// Go's Add takes a negative delta in one step: Add(-2) on a counter of 1
// panics with nobody released. goro took it a unit at a time, so the unit
// that reached zero released the waiter before the next one panicked.
TEST(WaitGroup, AddBeyondTheCounterPanicsWithoutReleasingWaiters) {
  goro::set_maxprocs(1);
  goro::run([] {
    goro::wait_group wg;
    wg.add(1);
    add_beyond_the_counter_releases_nobody(wg, -2, 1);  // -1 + 1: zero, with the waiter still counted
  });
  goro::set_maxprocs(2);
}

// The same when the counter is large enough that workers keep shares of
// it (sync/wait_group.cpp): add(-n) went one unit at a time there, so the
// unit that reached zero released the waiter, which then found the counter
// negative and threw "WaitGroup is reused before previous Wait has
// returned" out of its goroutine (found by a review, 2026-12-06).
TEST(WaitGroup, AddBeyondALargeCounterPanicsWithoutReleasingWaiters) {
  goro::set_maxprocs(1);
  goro::run([] {
    goro::wait_group wg;
    wg.add(3000);
    // done() on a worker takes its units from a shard of its own.
    goro::wait_group helper;
    helper.go([&] {
      for (int i = 0; i < 100; i++) wg.done();
    });
    helper.wait();
    add_beyond_the_counter_releases_nobody(wg, -3500, 600);  // 2,900 - 3,500 + 600: zero
  });
  goro::set_maxprocs(2);
}

TEST(WaitGroup, GoHelper) {
  goro::run([] {
    goro::wait_group wg;
    std::atomic<int> n{0};
    for (int i = 0; i < 50; i++) wg.go([&] { n++; });
    wg.wait();
    EXPECT_EQ(n.load(), 50);
  });
}

// The tests below count past the size at which done() keeps per-worker
// shares of the counter (sync/wait_group.cpp): 1,024 and up.

// Every goroutine marks itself finished before done(); wait() must not
// return before all of them have, and must return once they have (a unit
// lost in a shard would hang here). The same wait_group serves every round.
TEST(WaitGroup, LargeCountsReachZeroExactly) {
  // Sanitizer builds start goroutines slower, TSan builds by milliseconds
  // each (goro_test::goroutines); the counts stay above the sharding
  // threshold. Under TSan 13,500 goroutines took 105 s of the 120 s
  // timeout on a busy machine; now 4,400.
  const std::vector<int> counts = goro_test::kTsan        ? std::vector<int>{1100, 1100}
                                  : goro_test::kSanitized ? std::vector<int>{1500, 3000}
                                                          : std::vector<int>{1500, 5000, 1100, 20000 * goro_test::stress_scale()};
  for (int procs : {1, 2, 4, 8}) {
    if (goro_test::kSanitized && procs == 8) continue;
    if (goro_test::kTsan && procs == 1) continue;
    goro::set_maxprocs(procs);
    goro::run([procs, &counts] {
      goro::wait_group wg;
      for (int n : counts) {
        std::atomic<int> finished{0};
        wg.add(n);
        for (int i = 0; i < n; i++)
          goro::go([&] {
            if ((finished.fetch_add(1, std::memory_order_relaxed) & 63) == 0) goro::yield();
            wg.done();
          });
        wg.wait();
        EXPECT_EQ(finished.load(), n) << "procs " << procs;
      }
    });
  }
  goro::set_maxprocs(2);
}

// Shards are sized for the workers there are when they are made. Raising
// maxprocs afterwards makes several workers share a shard; two of them may
// then borrow into it at once, and the loser must give its batch back.
TEST(WaitGroup, WorkersSharingAShardAfterMaxprocsGrows) {
  goro::set_maxprocs(1);
  goro::run([] {
    // Above the sharding threshold in every build; under TSan 9,000
    // goroutines took 73 s of the 120 s timeout, now 2,200.
    const int n = goro_test::kTsan ? 1100 : goro_test::kSanitized ? 3000 : 40000;
    const int rounds = goro_test::kTsan ? 2 : 3;
    for (int round = 0; round < rounds; round++) {
      goro::wait_group wg;
      std::atomic<int> finished{0};
      wg.add(n + 1);
      wg.done();  // makes the shards for one worker
      goro::set_maxprocs(4);
      for (int i = 0; i < n; i++)
        goro::go([&] {
          finished.fetch_add(1, std::memory_order_relaxed);
          wg.done();
        });
      wg.wait();
      EXPECT_EQ(finished.load(), n) << "round " << round;
      goro::set_maxprocs(1);
    }
  });
  goro::set_maxprocs(2);
}

// Goroutines and plain threads count down the same large wait_group.
TEST(WaitGroup, LargeCountFromGoroutinesAndThreads) {
  goro::set_maxprocs(2);
  goro::run([] {
    const int kThreads = 4, kPerThread = 2000;
    const int kGoroutines = goro_test::kTsan ? 1000 : goro_test::kSanitized ? 3000 : 20000;
    goro::wait_group wg;
    std::atomic<int> finished{0};
    wg.add(kThreads * kPerThread + kGoroutines);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++)
      ts.emplace_back([&] {
        for (int i = 0; i < kPerThread; i++) {
          finished.fetch_add(1, std::memory_order_relaxed);
          wg.done();
        }
      });
    for (int i = 0; i < kGoroutines; i++)
      goro::go([&] {
        finished.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    wg.wait();
    EXPECT_EQ(finished.load(), kThreads * kPerThread + kGoroutines);
    for (auto& t : ts) t.join();
  });
}

// add(n) then n + 1 done() calls spread over workers: exactly one of them
// panics, whichever shares the units sat in.
TEST(WaitGroup, LargeCountNegativePanicsOnce) {
  goro::set_maxprocs(4);
  goro::run([] {
    const int n = goro_test::kTsan ? 1100 : goro_test::kSanitized ? 2000 : 5000;
    goro::wait_group wg, all;
    std::atomic<int> panics{0};
    wg.add(n);
    all.add(n + 1);
    for (int i = 0; i <= n; i++)
      goro::go([&] {
        try {
          wg.done();
        } catch (const goro::panic_error& e) {
          EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
          panics++;
        }
        all.done();
      });
    all.wait();
    EXPECT_EQ(panics.load(), 1);
  });
  goro::set_maxprocs(2);
}

// A wait_group made at the address of a destroyed one must not inherit its
// shards (each worker remembers the last shard it counted down in).
TEST(WaitGroup, NewWaitGroupAtAnOldAddressStartsClean) {
  goro::run([] {
    // Under TSan 8,000 goroutines took 89 s of the 120 s timeout; four
    // rounds of 1,100 still alternate with and without shards.
    const int rounds = goro_test::kTsan ? 4 : 8, sharded = goro_test::kTsan ? 1100 : 2000;
    for (int round = 0; round < rounds; round++) {
      int n = round % 2 == 0 ? sharded : 7;  // with shards, then without
      std::atomic<int> finished{0};
      goro::wait_group wg;
      wg.add(n);
      for (int i = 0; i < n; i++)
        goro::go([&] {
          finished++;
          wg.done();
        });
      wg.wait();
      EXPECT_EQ(finished.load(), n) << "round " << round;
    }
  });
}

// Two large wait_groups counted down in turn by the same goroutines.
TEST(WaitGroup, TwoLargeWaitGroupsInterleaved) {
  goro::run([] {
    const int n = goro_test::kTsan ? 1100 : goro_test::kSanitized ? 2000 : 8000;
    goro::wait_group a, b;
    std::atomic<int> fa{0}, fb{0};
    a.add(n);
    b.add(n);
    for (int i = 0; i < n; i++)
      goro::go([&] {
        fa++;
        a.done();
        fb++;
        b.done();
      });
    a.wait();
    EXPECT_EQ(fa.load(), n);
    b.wait();
    EXPECT_EQ(fb.load(), n);
  });
}

}  // namespace
