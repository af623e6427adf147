// goro::rwmutex (src/sync/rwmutex.cpp): the semantics of Go's
// sync/rwmutex_test.go (TestRWMutex's activity check, parallel readers,
// writer preference), the standard lock types, and stress from goroutines
// and plain threads mixed.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

// Go's reader/writer activity check: readers add 1, writers 10000; a
// reader must see no writer, a writer must see nobody else.
struct activity_check {
  goro::rwmutex mu;
  std::atomic<int32_t> activity{0};
  std::atomic<int> bad{0};
  int64_t writes = 0;  // plain, written under the write lock only

  void read() {
    int32_t n = activity.fetch_add(1) + 1;
    if (n < 1 || n >= 10000) bad++;
    activity.fetch_sub(1);
  }
  void write() {
    int32_t n = activity.fetch_add(10000) + 10000;
    if (n != 10000) bad++;
    writes++;
    activity.fetch_sub(10000);
  }
};

void hammer(activity_check& c, int who, int iters) {
  for (int k = 0; k < iters; k++) {
    switch ((k + who) % 10) {
      case 0: {
        std::lock_guard lock(c.mu);
        c.write();
        break;
      }
      case 1:
        if (c.mu.try_lock()) {
          c.write();
          c.mu.unlock();
        }
        break;
      case 2:
        if (c.mu.try_lock_shared()) {
          c.read();
          c.mu.unlock_shared();
        }
        break;
      default: {
        std::shared_lock lock(c.mu);
        c.read();
        if (k % 64 == 0) goro::yield();
      }
    }
  }
}

TEST(RWMutex, ReadersAndWritersExclude) {
  goro_test::for_procs([] {
    activity_check c;
    goro::wait_group wg;
    const int iters = goro_test::scaled(20000);
    for (int i = 0; i < 10; i++) wg.go(hammer, std::ref(c), i, iters);
    wg.wait();
    EXPECT_EQ(c.bad.load(), 0);
    EXPECT_GT(c.writes, 0);
  });
}

TEST(RWMutex, StressGoroutinesAndThreadsMixed) {
  goro::set_maxprocs(2);
  goro::run([] {
    activity_check c;
    const int iters = goro_test::scaled(20000);
    goro::wait_group wg;
    for (int i = 0; i < 6; i++) wg.go(hammer, std::ref(c), i, iters);
    std::vector<std::thread> ts;
    for (int i = 0; i < 3; i++) ts.emplace_back(hammer, std::ref(c), 6 + i, iters);
    wg.wait();
    for (auto& t : ts) t.join();
    EXPECT_EQ(c.bad.load(), 0);
    ASSERT_TRUE(c.mu.try_lock());  // nothing left held
    c.mu.unlock();
  });
}

// Go's TestParallelReaders: n readers hold the read lock at once (each
// waits, holding it, until all have it).
TEST(RWMutex, ReadersHoldItTogether) {
  goro_test::for_procs([] {
    goro::rwmutex mu;
    const int n = 8;
    std::atomic<int> in{0};
    goro::wait_group wg;
    for (int i = 0; i < n; i++)
      wg.go([&] {
        mu.lock_shared();
        in++;
        while (in.load() < n) goro::yield();
        mu.unlock_shared();
      });
    wg.wait();
    EXPECT_EQ(in.load(), n);
  });
}

// Writer preference: once a writer waits, a new reader waits behind it,
// while the reader that came before the writer finishes first.
TEST(RWMutex, WaitingWriterStopsNewReaders) {
  for (int procs : {1, 2}) {
    goro::set_maxprocs(procs);
    goro::run([] {
      goro::rwmutex mu;
      std::atomic<int> step{0};
      std::vector<int> order;  // appended under the locks
      goro::mutex order_mu;
      auto note = [&](int who) {
        std::lock_guard l(order_mu);
        order.push_back(who);
      };
      mu.lock_shared();  // the reader that came first
      goro::wait_group wg;
      wg.go([&] {
        mu.lock();  // waits for the first reader
        note(2);
        mu.unlock();
      });
      // Wait until the writer is pending: new readers are refused.
      for (;;) {
        if (!mu.try_lock_shared()) break;
        mu.unlock_shared();
        goro::yield();
      }
      wg.go([&] {
        step = 1;
        mu.lock_shared();  // must wait for the writer
        note(3);
        mu.unlock_shared();
      });
      while (step.load() == 0) goro::yield();
      for (int i = 0; i < 10; i++) goro::yield();  // give the reader every chance to barge
      note(1);
      mu.unlock_shared();
      wg.wait();
      ASSERT_EQ(order.size(), 3u);
      EXPECT_EQ(order[0], 1);
      EXPECT_EQ(order[1], 2);
      EXPECT_EQ(order[2], 3);
    });
  }
  goro::set_maxprocs(2);
}

TEST(RWMutex, TryLockRules) {
  goro::rwmutex mu;
  EXPECT_TRUE(mu.try_lock_shared());
  EXPECT_TRUE(mu.try_lock_shared());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock_shared();
  mu.unlock_shared();
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock_shared());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
}

TEST(RWMutex, StandardLockTypes) {
  goro::run([] {
    goro::rwmutex a, b;
    {
      std::shared_lock r1(a);
      std::shared_lock r2(a);
      EXPECT_TRUE(r1.owns_lock() && r2.owns_lock());
      EXPECT_FALSE(a.try_lock());
    }
    {
      std::unique_lock w(a);
      EXPECT_FALSE(a.try_lock_shared());
    }
    {
      std::lock_guard w(a);
      EXPECT_FALSE(a.try_lock_shared());
    }
    {
      std::scoped_lock both(a, b);
      EXPECT_FALSE(a.try_lock_shared());
      EXPECT_FALSE(b.try_lock_shared());
    }
    {
      goro::read_lock r(a);
      EXPECT_FALSE(a.try_lock());
    }
    {
      goro::write_lock w(a);
      EXPECT_FALSE(a.try_lock_shared());
    }
    EXPECT_TRUE(a.try_lock());
    a.unlock();
  });
}

}  // namespace
