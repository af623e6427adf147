// goro::cond (src/sync/cond.cpp): the semantics of Go's sync/cond_test.go
// (TestCondSignal, TestCondBroadcast, TestCondSignalGenerations), with
// goro::mutex, std::unique_lock and std::mutex, from goroutines and plain
// threads.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

// Each signal wakes exactly one waiter.
TEST(Cond, SignalWakesOneWaiter) {
  goro_test::for_procs([] {
    goro::mutex mu;
    goro::cond c;
    const int n = 4;
    int waiting = 0, woken = 0;  // under mu
    goro::wait_group wg;
    for (int i = 0; i < n; i++)
      wg.go([&] {
        std::unique_lock lock(mu);
        waiting++;
        c.wait(lock);
        woken++;
      });
    for (;;) {
      std::unique_lock lock(mu);
      if (waiting == n) break;
      lock.unlock();
      goro::yield();
    }
    for (int i = 1; i <= n; i++) {
      c.signal();
      // Wait for the one it woke, and check no other woke.
      for (;;) {
        mu.lock();
        int w = woken;
        mu.unlock();
        if (w >= i) {
          EXPECT_EQ(w, i);
          break;
        }
        goro::yield();
      }
    }
    wg.wait();
  });
}

// Go's TestCondSignalGenerations: waiters wake in the order they began
// waiting.
TEST(Cond, SignalWakesInWaitingOrder) {
  goro::set_maxprocs(2);
  goro::run([] {
    goro::mutex mu;
    goro::cond c;
    const int n = 20;
    int waiting = 0;  // under mu
    std::vector<int> woke;  // under mu
    goro::wait_group wg;
    for (int i = 0; i < n; i++) {
      wg.go([&, i] {
        std::unique_lock lock(mu);
        waiting++;
        c.wait(lock);
        woke.push_back(i);
      });
      // The next waiter starts only after this one waits.
      for (;;) {
        std::unique_lock lock(mu);
        if (waiting == i + 1) break;
        lock.unlock();
        goro::yield();
      }
    }
    for (int i = 0; i < n; i++) {
      c.signal();
      for (;;) {
        std::unique_lock lock(mu);
        if (static_cast<int>(woke.size()) == i + 1) break;
        lock.unlock();
        goro::yield();
      }
    }
    wg.wait();
    for (int i = 0; i < n; i++) EXPECT_EQ(woke[i], i);
  });
}

// Broadcast wakes every waiter, goroutines and plain threads, and a
// waiter that starts after it is not woken by it.
TEST(Cond, BroadcastWakesAllWaiters) {
  goro_test::for_procs([] {
    goro::mutex mu;
    goro::cond c;
    int waiting = 0, generation = 0, woken = 0;  // under mu
    const int kG = 6, kT = 2;
    auto waiter = [&] {
      std::unique_lock lock(mu);
      int gen = generation;
      waiting++;
      c.wait(lock, [&] { return generation != gen; });
      woken++;
    };
    goro::wait_group wg;
    for (int i = 0; i < kG; i++) wg.go(waiter);
    std::vector<std::thread> ts;
    for (int i = 0; i < kT; i++) ts.emplace_back(waiter);
    for (;;) {
      std::unique_lock lock(mu);
      if (waiting == kG + kT) {
        generation++;
        c.broadcast();
        break;
      }
      lock.unlock();
      goro::yield();
    }
    wg.wait();
    for (auto& t : ts) t.join();
    EXPECT_EQ(woken, kG + kT);
  });
}

// A producer/consumer queue under stress: every item is taken once.
TEST(Cond, QueueStress) {
  goro::set_maxprocs(2);
  goro::run([] {
    goro::mutex mu;
    goro::cond not_empty;
    std::vector<int> queue;  // under mu
    bool closed = false;     // under mu
    const int items = goro_test::scaled(20000);
    std::atomic<int64_t> sum{0}, count{0};
    goro::wait_group consumers;
    auto consume = [&] {
      for (;;) {
        std::unique_lock lock(mu);
        not_empty.wait(lock, [&] { return !queue.empty() || closed; });
        if (queue.empty()) return;
        int v = queue.back();
        queue.pop_back();
        lock.unlock();
        sum += v;
        count++;
      }
    };
    for (int i = 0; i < 4; i++) consumers.go(consume);
    std::thread tc(consume);
    goro::wait_group producers;
    for (int p = 0; p < 2; p++)
      producers.go([&, p] {
        for (int i = p; i < items; i += 2) {
          {
            goro::mutex_lock lock(mu);
            queue.push_back(i);
          }
          if (i % 3 == 0) not_empty.notify_one(); else not_empty.signal();
        }
      });
    producers.wait();
    {
      goro::mutex_lock lock(mu);
      closed = true;
    }
    not_empty.broadcast();
    consumers.wait();
    tc.join();
    EXPECT_EQ(count.load(), items);
    EXPECT_EQ(sum.load(), int64_t{items} * (items - 1) / 2);
  });
}

// Any BasicLockable: a std::mutex between plain threads.
TEST(Cond, WorksWithStdMutexOnThreads) {
  std::mutex mu;
  goro::cond c;
  bool ready = false;
  std::thread t([&] {
    std::unique_lock lock(mu);
    c.wait(lock, [&] { return ready; });
  });
  {
    std::lock_guard lock(mu);
    ready = true;
  }
  c.notify_all();
  t.join();
  SUCCEED();
}

// A wait() whose unlock throws (a std::unique_lock that owns nothing)
// throws without waiting, and its ticket is not left to swallow the next
// signal(). Before the fix that signal woke nobody while a real waiter
// slept on (found by a review, 2026-12-06).
TEST(Cond, WaitWhoseUnlockThrowsLosesNoSignal) {
  goro::run([] {
    goro::mutex mu;
    goro::cond cv;
    {
      std::unique_lock<goro::mutex> not_held(mu, std::defer_lock);
      EXPECT_THROW(cv.wait(not_held), std::system_error);
    }
    std::atomic<uint64_t> waiter{0};
    std::atomic<bool> woke{false};
    bool ready = false;
    goro::go([&] {
      waiter = goro::goroutine_id();
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return ready; });
      woke = true;
    });
    auto parked = [&] {
      for (const auto& g : goro::debug::goroutines())
        if (g.id == waiter.load() && g.state == goro::debug::goroutine_state::waiting &&
            g.wait_reason == "sync.Cond.Wait")
          return true;
      return false;
    };
    ASSERT_TRUE(goro_test::wait_for([&] { return waiter.load() != 0 && parked(); }));
    {
      std::lock_guard lk(mu);
      ready = true;
    }
    cv.signal();
    EXPECT_TRUE(goro_test::wait_for([&] { return woke.load(); })) << "the signal was spent on the failed wait's ticket";
    if (!woke.load()) cv.broadcast();
    goro_test::wait_for([&] { return woke.load(); });
  });
}

}  // namespace
