// goro::weighted_semaphore: the semantics of x/sync/semaphore's tests
// (semaphore_test.go): acquire/release, try_acquire, cancellation, the
// panic on over-release, FIFO that does not starve a large request, and a
// stress from goroutines and plain threads with the held count checked.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

TEST(WeightedSemaphore, AcquireReleaseAndTryAcquire) {
  goro::run([] {
    goro::weighted_semaphore sem(3);
    EXPECT_FALSE(sem.acquire(goro::background(), 2));
    EXPECT_TRUE(sem.try_acquire(1));
    EXPECT_FALSE(sem.try_acquire(1));  // full
    sem.release(2);
    EXPECT_TRUE(sem.try_acquire(2));
    EXPECT_FALSE(sem.try_acquire(1));
    sem.release(3);
    EXPECT_TRUE(sem.try_acquire(3));
    sem.release(3);
  });
}

TEST(WeightedSemaphore, ReleasingMoreThanHeldPanics) {
  goro::run([] {
    goro::weighted_semaphore sem(1);
    try {
      sem.release(1);
      ADD_FAILURE() << "no panic";
    } catch (const goro::panic_error& e) {
      EXPECT_STREQ(e.what(), "semaphore: released more than held");
    }
    EXPECT_TRUE(sem.try_acquire(1));  // the failed release changed nothing
  });
}

// A waiter whose context is done gives up with ctx.err() and takes nothing;
// one that can never fit (n > size) waits only for its context.
TEST(WeightedSemaphore, AcquireCancelled) {
  goro::run([] {
    goro::weighted_semaphore sem(2);
    ASSERT_FALSE(sem.acquire(goro::background(), 2));
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::wait_group wg;
    std::error_code got;
    wg.go([&, ctx = ctx] { got = sem.acquire(ctx, 1); });
    goro::sleep_for(1ms);  // let it queue (not needed for correctness)
    cancel();
    wg.wait();
    EXPECT_EQ(got, goro::errc::canceled);
    sem.release(2);
    EXPECT_TRUE(sem.try_acquire(2));  // the cancelled waiter holds nothing
    sem.release(2);
    auto [tctx, tcancel] = goro::with_timeout(goro::background(), 2ms);
    EXPECT_EQ(sem.acquire(tctx, 3), goro::errc::deadline_exceeded);
    tcancel();
  });
}

// Go's TestLargeAcquireDoesntStarve: while goroutines keep taking and
// giving back one unit each, a request for all of them still gets through,
// because it blocks the small ones that come after it.
TEST(WeightedSemaphore, LargeAcquireDoesNotStarve) {
  goro::run([] {
    constexpr int64_t n = 4;
    goro::weighted_semaphore sem(n);
    std::atomic<bool> running{true};
    goro::wait_group wg;
    ASSERT_FALSE(sem.acquire(goro::background(), 1));
    for (int i = 0; i < n; i++) {
      wg.go([&] {
        while (running.load()) {
          ASSERT_FALSE(sem.acquire(goro::background(), 1));
          goro::yield();
          sem.release(1);
        }
      });
    }
    sem.release(1);
    ASSERT_FALSE(sem.acquire(goro::background(), n));  // must not hang
    running = false;
    sem.release(n);
    wg.wait();
  });
}

// FIFO: a unit freed while a large request waits at the front does not go
// to a smaller one behind it; cancelling the large one lets the small one
// in (x/sync's TestAllocCancelDoesntStarve).
TEST(WeightedSemaphore, FrontWaiterIsNotPassedAndItsCancelLetsOthersIn) {
  goro::run([] {
    goro::weighted_semaphore sem(10);
    ASSERT_FALSE(sem.acquire(goro::background(), 2));  // 8 left
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::wait_group wg;
    std::error_code big;
    wg.go([&, ctx = ctx] { big = sem.acquire(ctx, 10); });  // queues at the front
    // try_acquire fails while anyone waits, though units are free.
    while (sem.try_acquire(1)) {
      sem.release(1);
      goro::yield();
    }
    std::atomic<bool> small_done{false};
    wg.go([&] {
      EXPECT_FALSE(sem.acquire(goro::background(), 1));  // queues behind the big one
      small_done = true;
      sem.release(1);
    });
    for (int i = 0; i < 100; i++) goro::yield();
    sem.release(1);  // 9 free: not enough for the front (10), and it is not passed
    for (int i = 0; i < 100; i++) goro::yield();
    EXPECT_FALSE(small_done.load());
    cancel();
    wg.wait();
    EXPECT_EQ(big, goro::errc::canceled);
    EXPECT_TRUE(small_done.load());
    sem.release(1);
    EXPECT_TRUE(sem.try_acquire(10));  // everything came back
  });
}

// Goroutines and plain threads take 1-3 units each; the units held never
// exceed the size and all come back.
TEST(WeightedSemaphore, StressGoroutinesAndThreads) {
  constexpr int64_t kSize = 5;
  const int rounds = goro_test::scaled(2000, 10);
  goro::weighted_semaphore sem(kSize);
  std::atomic<int64_t> held{0}, peak{0};
  auto body = [&](int seed) {
    for (int i = 0; i < rounds; i++) {
      int64_t n = 1 + (seed + i) % 3;
      ASSERT_FALSE(sem.acquire(goro::background(), n));
      int64_t now = held.fetch_add(n) + n;
      int64_t p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      if (i % 7 == 0) goro::yield();
      held.fetch_sub(n);
      sem.release(n);
    }
  };
  goro::run([&] {
    goro::wait_group wg;
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++) threads.emplace_back(body, 100 + t);
    for (int g = 0; g < 6; g++) wg.go(body, g);
    wg.wait();
    for (auto& t : threads) t.join();
  });
  EXPECT_LE(peak.load(), kSize);
  EXPECT_EQ(held.load(), 0);
  EXPECT_TRUE(sem.try_acquire(kSize));
}

// A waiter that was handed its units may destroy the semaphore as soon as
// acquire returns, while the release that handed them over still holds the
// semaphore's mutex. Release used to go on with the semaphore (the list,
// the mutex's unlock) after waking the waiter: here the waiter destroys it
// and fills its memory with garbage while the seam holds the releaser just
// after the hand-over, and the releaser then crashed on the garbage. Now
// the waiter waits for the mutex before it returns (it parks on it, which
// the seam waits to see).
std::atomic<bool> g_waiter_returned{false};
std::atomic<int64_t> g_lock_waiters_before{0};

TEST(WeightedSemaphore, WaiterMayDestroyItAsSoonAsAcquireReturns) {
  goro::set_maxprocs(2);
  g_waiter_returned = false;
  goro::run([] {
    alignas(goro::weighted_semaphore) static unsigned char storage[sizeof(goro::weighted_semaphore)];
    auto* sem = new (storage) goro::weighted_semaphore(1);
    ASSERT_FALSE(sem->acquire(goro::background(), 1));
    g_lock_waiters_before = goro::debug::stats().waiting_on("sync.Mutex.Lock");
    auto returned = goro::make_chan<int>(1);
    goro::go([sem, returned] {
      EXPECT_FALSE(sem->acquire(goro::background(), 1));
      sem->~weighted_semaphore();
      std::memset(storage, 0xab, sizeof storage);
      g_waiter_returned = true;
      returned.send(1);
    });
    goro::detail::test_hooks::semaphore_handed_over.store([] {
      goro_test::spin_until([] {
        return g_waiter_returned.load() ||
               goro::debug::stats().waiting_on("sync.Mutex.Lock") > g_lock_waiters_before.load();
      });
    });
    std::thread releaser([sem] {
      // try_acquire(0) succeeds until the waiter is queued.
      goro_test::spin_until([sem] { return !sem->try_acquire(0); });
      sem->release(1);
    });
    returned.recv();
    goro::blocking([&] { releaser.join(); });
    goro::detail::test_hooks::semaphore_handed_over.store(nullptr);
  });
}

}  // namespace
