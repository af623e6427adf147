// goro::mutex (src/sync/mutex.cpp): the semantics of Go's sync/mutex_test.go
// (TestMutex, TestMutexFairness, TryLock), the standard lock types, timed
// locking and its races with hand-offs, and stress from goroutines and
// plain threads mixed. Mutual exclusion is checked with a non-atomic
// counter and an "inside" flag; no test waits on time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "goro/debug.hpp"
#include "goro/goro.hpp"
#include "sync/guarded_section.hpp"
#include "sync/starve_waiter.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

using goro_test::guarded;
using goro_test::mutex_parks;
using goro_test::starve_a_waiter;

TEST(Mutex, GoroutinesExcludeEachOther) {
  goro_test::for_procs([] {
    guarded g;
    const int n = 8, iters = goro_test::scaled(20000);
    goro::wait_group wg;
    for (int i = 0; i < n; i++)
      wg.go([&] {
        for (int k = 0; k < iters; k++) {
          g.mu.lock();
          g.enter();
          if ((k & 255) == 0) goro::yield();  // hold it across a switch now and then
          g.mu.unlock();
        }
      });
    wg.wait();
    EXPECT_EQ(g.count, int64_t{n} * iters);
    EXPECT_EQ(g.overlaps.load(), 0);
  });
}

// Goroutines, plain threads, lock, try_lock and try_lock_for all at once.
TEST(Mutex, StressGoroutinesAndThreadsMixed) {
  goro::set_maxprocs(2);
  goro::run([] {
    guarded g;
    const int kG = 6, kT = 3, iters = goro_test::scaled(20000);
    std::atomic<int64_t> taken{0};
    auto body = [&](int who) {
      for (int k = 0; k < iters; k++) {
        bool got = true;
        switch ((k + who) % 3) {
          case 0: g.mu.lock(); break;
          case 1: got = g.mu.try_lock(); break;
          case 2: got = g.mu.try_lock_for(std::chrono::microseconds(k % 50)); break;
        }
        if (!got) continue;
        g.enter();
        taken.fetch_add(1, std::memory_order_relaxed);
        g.mu.unlock();
      }
    };
    goro::wait_group wg;
    for (int i = 0; i < kG; i++) wg.go(body, i);
    std::vector<std::thread> ts;
    for (int i = 0; i < kT; i++) ts.emplace_back(body, kG + i);
    wg.wait();
    for (auto& t : ts) t.join();
    EXPECT_EQ(g.count, taken.load());
    EXPECT_EQ(g.overlaps.load(), 0);
    // Neither lost nor duplicated: free now, and exclusive.
    ASSERT_TRUE(g.mu.try_lock());
    EXPECT_FALSE(g.mu.try_lock());
    g.mu.unlock();
  });
}

// Timed waiters that time out while unlocks hand the mutex around (normal
// and starvation mode): every hand-off must reach someone. A lost one
// would leave the mutex locked forever (try_lock below fails), a duplicated
// one shows as an overlap.
TEST(Mutex, TimeoutsRacingHandoffs) {
  goro_test::for_procs([] {
    guarded g;
    const int n = 8, iters = goro_test::scaled(3000, 3);
    std::atomic<int64_t> taken{0}, timed_out{0};
    goro::wait_group wg;
    for (int i = 0; i < n; i++)
      wg.go([&, i] {
        for (int k = 0; k < iters; k++) {
          bool got;
          if (i % 2 == 0) {
            g.mu.lock();
            got = true;
          } else {
            got = g.mu.try_lock_for(std::chrono::microseconds((k * 7 + i) % 200));
          }
          if (!got) {
            timed_out.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          g.enter();
          taken.fetch_add(1, std::memory_order_relaxed);
          // Hold it a little (a few hundred ns of work, or a yield), so
          // that waiters queue and some time out.
          if (k % 2 == 0) goro::yield();
          g.mu.unlock();
        }
      });
    wg.wait();
    // Free, not merely lockable: a hand-off or starvation mode left behind
    // would make try_lock fail here.
    ASSERT_TRUE(g.mu.try_lock());
    EXPECT_EQ(g.count, taken.load());
    EXPECT_EQ(g.overlaps.load(), 0);
    g.mu.unlock();
  });
}

// The last waiter of a mutex in starvation mode times out: it must take
// starvation mode with it. Left behind, the mode made the mutex refuse
// try_lock after the holder's unlock (free, yet "handed" to nobody) and
// queue every newcomer. The waiter is made to starve: it waits over 1 ms,
// is woken by an unlock and finds the mutex retaken, so it switches the
// mutex to starvation mode and parks again, then its deadline passes.
TEST(Mutex, LastTimedOutWaiterTakesStarvationModeWithIt) {
  goro::set_maxprocs(1);  // the waiter runs only when the holder yields
  goro::run([] {
    goro::mutex mu;
    for (auto deadline = 50ms;; deadline *= 2) {
      ASSERT_LT(deadline, 100s);
      mu.lock();
      std::atomic<int> result{-1};  // the waiter's try_lock_for, once it returns
      const uint64_t parks = mutex_parks();
      goro::wait_group wg;
      wg.go([&] { result = mu.try_lock_for(deadline) ? 1 : 0; });
      while (mutex_parks() == parks) goro::yield();
      goro::sleep_for(2ms);  // the waiter has now waited over 1 ms
      mu.unlock();           // wakes it (it is runnable, not running: one P)
      mu.lock();             // and retakes the mutex first
      // The waiter runs, finds the mutex held, starves it and parks again;
      // unless its deadline passed first (a very busy machine): try longer.
      while (mutex_parks() == parks + 1 && result.load() < 0) goro::yield();
      const bool reparked = result.load() < 0;
      while (result.load() < 0) goro::sleep_for(1ms);  // its deadline passes
      EXPECT_EQ(result.load(), 0);
      mu.unlock();
      wg.wait();
      if (!reparked) continue;
      ASSERT_TRUE(mu.try_lock()) << "a free mutex refused try_lock";
      mu.unlock();
      break;
    }
  });
  goro::set_maxprocs(2);
}

// In starvation mode an unlock hands the mutex to the first waiter, and
// until that waiter runs, nobody else may take it: the locked bit stays
// set through the hand-off, since the inline lock and try_lock take the
// mutex whenever they find that bit clear (mutex.cpp, M4). A hand-off that
// cleared the bit let the try_lock below take a mutex that was the
// waiter's.
TEST(Mutex, NewcomerCannotTakeAMutexBeingHandedOver) {
  goro::set_maxprocs(1);
  goro::run([] {
    for (int attempt = 0;; attempt++) {
      ASSERT_LT(attempt, 1000);
      goro::mutex mu;
      goro::wait_group wg;
      std::atomic<bool> waiter_got_it{false};
      const bool starved = starve_a_waiter(mu, wg, waiter_got_it);
      mu.unlock();  // if starved, the hand-off: the waiter is runnable and has not run
      if (starved && mu.try_lock()) {
        // Legitimate only if the waiter ran (elsewhere) and is done: while
        // this holds the mutex it cannot be inside.
        ASSERT_TRUE(waiter_got_it.load()) << "a newcomer took the mutex handed to the waiter";
        mu.unlock();
        wg.wait();
        continue;
      }
      wg.wait();  // parks: the waiter runs, takes and releases the mutex
      ASSERT_TRUE(waiter_got_it.load());
      if (!starved) continue;
      // It was the last waiter: starvation mode went with it.
      ASSERT_TRUE(mu.try_lock()) << "a free mutex refused try_lock";
      mu.unlock();
      break;
    }
  });
  goro::set_maxprocs(2);
}

// Go's TestMutexFairness, with its time limit replaced by a bound on the
// hog's rounds: a goroutine that keeps relocking a mutex right after
// unlocking it cannot keep a waiter out. The waiter is woken at each
// unlock but finds the mutex retaken; once it has waited over 1 ms the
// mutex goes to starvation mode and is handed to it. The bound is far
// above what a working mutex needs (a few thousand rounds), since the
// waiter's thread may be off the CPU for a long while on a busy machine
// while the hog's runs: 2,000,000 rounds (0.36 s) were used up that way
// once beside other jobs. Without starvation mode the hog reaches it in
// 15-30 s and the test fails.
TEST(Mutex, RelockingGoroutineCannotStarveAWaiter) {
  for (int procs : {1, 2}) {
    goro::set_maxprocs(procs);
    goro::run([] {
      goro::mutex mu;
      std::atomic<bool> stop{false}, hog_running{false};
      std::atomic<int64_t> hog_rounds{0};
      const int64_t kMaxRounds = 100'000'000;
      goro::wait_group wg;
      wg.go([&] {
        while (!stop.load() && hog_rounds.load() < kMaxRounds) {
          mu.lock();
          // Hold it across switches: the waiter runs, finds it locked and
          // parks again; the unlock below wakes it, but the relock comes
          // first unless the mutex is handed over.
          for (int i = 0; i < 3; i++) goro::yield();
          mu.unlock();
          hog_rounds.fetch_add(1);
          hog_running = true;
        }
      });
      while (!hog_running) goro::yield();
      int done = 0;
      for (int i = 0; i < 10; i++) {
        mu.lock();
        done++;
        mu.unlock();
      }
      stop = true;
      wg.wait();
      EXPECT_EQ(done, 10);
      EXPECT_LT(hog_rounds.load(), kMaxRounds) << "the waiter got the mutex only after the hog stopped";
    });
  }
  goro::set_maxprocs(2);
}

TEST(Mutex, TryLock) {
  goro::mutex mu;
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  std::thread([&] { EXPECT_FALSE(mu.try_lock()); }).join();
  mu.unlock();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

TEST(Mutex, TryLockForTimesOutWhileHeldAndSucceedsWhenFree) {
  goro::run([] {
    goro::mutex mu;
    mu.lock();
    {
      goro::wait_group w;
      w.go([&] { EXPECT_FALSE(mu.try_lock_for(1ms)); });
      w.wait();
    }
    EXPECT_FALSE(mu.try_lock_until(std::chrono::steady_clock::now() + 1ms));
    EXPECT_FALSE(mu.try_lock_until(std::chrono::system_clock::now() + 1ms));
    EXPECT_FALSE(mu.try_lock_for(-5s));
    mu.unlock();
    EXPECT_TRUE(mu.try_lock_for(0s));
    mu.unlock();
    // A long-deadline waiter gets the mutex when it is released.
    std::atomic<bool> got{false};
    mu.lock();
    goro::wait_group wg;
    wg.go([&] {
      got = mu.try_lock_for(std::chrono::hours(1));
      if (got) mu.unlock();
    });
    goro::yield();
    mu.unlock();
    wg.wait();
    EXPECT_TRUE(got.load());
  });
}

// A plain thread waits on a mutex a goroutine holds, and the other way.
TEST(Mutex, PlainThreadAndGoroutineWaitForEachOther) {
  goro::run([] {
    goro::mutex mu;
    guarded g;
    mu.lock();
    std::atomic<bool> started{false};
    std::thread t([&] {
      started = true;
      mu.lock();  // blocks the thread, on a futex
      g.enter();
      mu.unlock();
    });
    while (!started) goro::yield();
    goro::sleep_for(1ms);  // not needed for correctness: lets the thread block first
    g.enter();
    mu.unlock();
    t.join();
    EXPECT_EQ(g.count, 2);
  });
}

TEST(Mutex, StandardLockTypes) {
  goro::run([] {
    goro::mutex a, b;
    int n = 0;
    {
      std::lock_guard lock(a);
      n++;
      EXPECT_FALSE(a.try_lock());
    }
    {
      std::unique_lock lock(a);
      EXPECT_TRUE(lock.owns_lock());
      lock.unlock();
      EXPECT_TRUE(lock.try_lock());
    }
    {
      std::unique_lock lock(a, 10ms);  // TimedLockable
      EXPECT_TRUE(lock.owns_lock());
    }
    {
      std::scoped_lock lock(a, b);
      EXPECT_FALSE(a.try_lock());
      EXPECT_FALSE(b.try_lock());
    }
    // std::lock on two mutexes taken in opposite orders by two goroutines
    // cannot deadlock.
    goro::wait_group wg;
    for (int i = 0; i < 4; i++)
      wg.go([&, i] {
        for (int k = 0; k < 1000; k++) {
          if (i % 2 == 0) {
            std::scoped_lock lock(a, b);
            n++;
          } else {
            std::scoped_lock lock(b, a);
            n++;
          }
        }
      });
    wg.wait();
    EXPECT_EQ(n, 4001);
    {
      goro::mutex_lock lock(a);
      EXPECT_FALSE(a.try_lock());
    }
    EXPECT_TRUE(a.try_lock());
    a.unlock();
  });
}

}  // namespace
