// Ports of the semantics of Go's own sync-package tests (src/sync/*_test.go)
// that the other tests in this directory do not cover yet: once and
// OnceFunc/OnceValue with concurrent callers and thrown exceptions, the
// function's release after the first call, Cond's ticket order under the
// races Go's tests build, RWMutex.RLocker, WaitGroup reuse and nesting,
// and sync.Map's operations on shared keys checked against what one lock
// would give. Each test names the Go test it ports. No test asserts on
// time: waits are for conditions, with generous bounds against hangs.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// As for every sync test (tests/CMakeLists.txt): these tests (and
// starve_waiter.hpp) lock and unlock in different functions, goroutines
// and threads on purpose, which clang's thread-safety analysis cannot
// follow.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

#include "goro/goro.hpp"
#include "sync/starve_waiter.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

void join_all(std::vector<std::thread>& ts) {
  goro::blocking([&] {
    for (auto& t : ts) t.join();
  });
  ts.clear();
}

// ---- sync.Once, OnceFunc, OnceValue ----

// Go's TestOncePanic with TestOnce's concurrent callers: the first call's
// function throws while other callers (goroutines parked on the once, and a
// plain thread) wait for it. Only the caller that ran it gets the
// exception; the others return normally, without running their own
// function, and see what it wrote before it threw.
TEST(GoPortOnce, ThrowWhileOthersWaitReleasesThemNormally) {
  goro_test::for_procs([] {
    goro::once o;
    int written = 0;  // plain: by the one function, read by every caller after call()
    std::atomic<int> runs{0}, thrown_to_waiters{0}, saw_unwritten{0};
    const int kWaiters = 6;
    goro::wait_group wg;
    std::vector<std::thread> ts;
    auto waiter = [&] {
      try {
        o.call([&] { runs++; });
      } catch (...) {
        thrown_to_waiters++;
      }
      if (written != 1) saw_unwritten++;
    };
    bool caught = false;
    const uint64_t parks0 = goro_test::mutex_parks();
    try {
      o.call([&] {
        runs++;
        for (int i = 0; i < kWaiters; i++) wg.go(waiter);
        ts.emplace_back(waiter);
        // Hold the once until the goroutines wait on it (the thread may
        // come before or after).
        EXPECT_TRUE(goro_test::wait_for([&] { return goro_test::mutex_parks() >= parks0 + kWaiters; }));
        written = 1;
        throw std::runtime_error("init failed");
      });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "init failed";
    }
    EXPECT_TRUE(caught);
    wg.wait();
    join_all(ts);
    EXPECT_EQ(runs.load(), 1);
    EXPECT_EQ(thrown_to_waiters.load(), 0) << "a waiter got the first caller's exception";
    EXPECT_EQ(saw_unwritten.load(), 0);
    bool ran = false;
    o.call([&] { ran = true; });
    EXPECT_FALSE(ran);
  });
}

// Go's TestOnceFuncPanic and TestOnceValuePanic, with concurrent callers:
// the function runs once, and every call, the first and all later ones,
// from goroutines and plain threads, throws the very exception object it
// threw (Go re-panics with the same value).
TEST(GoPortOnceFunc, EveryConcurrentCallRethrowsTheOneException) {
  struct init_error : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  for (int procs : {1, 2}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run([] {
      std::atomic<int> f_calls{0}, v_calls{0};
      auto f = goro::once_func([&] {
        f_calls++;
        for (int i = 0; i < 20; i++) goro::yield();  // others call meanwhile
        throw init_error("func");
      });
      auto v = goro::once_value([&]() -> std::string {
        v_calls++;
        for (int i = 0; i < 20; i++) goro::yield();
        throw init_error("value");
      });
      std::atomic<const void*> f_obj{nullptr}, v_obj{nullptr};
      std::atomic<int> bad{0}, thrown{0};
      auto same = [&](std::atomic<const void*>& slot, const init_error& e) {
        const void* expected = nullptr;
        if (!slot.compare_exchange_strong(expected, &e) && expected != &e) bad++;
      };
      auto caller = [&, f, v] {  // copies share the one call
        for (int i = 0; i < 3; i++) {
          try {
            f();
            bad++;
          } catch (const init_error& e) {
            thrown++;
            if (std::string(e.what()) != "func") bad++;
            same(f_obj, e);
          }
          try {
            (void)v();
            bad++;
          } catch (const init_error& e) {
            thrown++;
            if (std::string(e.what()) != "value") bad++;
            same(v_obj, e);
          }
        }
      };
      const int kG = 6, kT = 2;
      goro::wait_group wg;
      for (int i = 0; i < kG; i++) wg.go(caller);
      std::vector<std::thread> ts;
      for (int i = 0; i < kT; i++) ts.emplace_back(caller);
      caller();
      wg.wait();
      join_all(ts);
      EXPECT_EQ(f_calls.load(), 1);
      EXPECT_EQ(v_calls.load(), 1);
      EXPECT_EQ(thrown.load(), (kG + kT + 1) * 3 * 2);
      EXPECT_EQ(bad.load(), 0) << "a call returned, or threw another exception object";
    });
  }
  goro::set_maxprocs(2);
}

// Go's TestOnceFuncPanicNil: a panic whose value is not an error (nil)
// is re-raised on every call too. C++'s nearest: exceptions that are not
// std::exceptions, a null pointer and an int.
TEST(GoPortOnceFunc, NonStandardExceptionValuesAreRethrownEveryTime) {
  int f_calls = 0, v_calls = 0;
  auto f = goro::once_func([&] {
    f_calls++;
    throw nullptr;
  });
  auto v = goro::once_value([&]() -> int {
    v_calls++;
    throw 42;
  });
  for (int i = 0; i < 3; i++) {
    bool f_threw = false, v_threw = false;
    try {
      f();
    } catch (std::nullptr_t) {
      f_threw = true;
    } catch (...) {
    }
    try {
      (void)v();
    } catch (int e) {
      v_threw = e == 42;
    } catch (...) {
    }
    EXPECT_TRUE(f_threw) << "call " << i;
    EXPECT_TRUE(v_threw) << "call " << i;
  }
  EXPECT_EQ(f_calls, 1);
  EXPECT_EQ(v_calls, 1);
}

// Go's TestOnceXGC: the function given to once_func / once_value is kept
// until the first call and released by it, whether it returned or threw
// (Go lets the collector take it), while the returned function lives on
// and keeps answering.
TEST(GoPortOnceFunc, FunctionIsReleasedByTheFirstCall) {
  auto check = [](const char* name, auto make) {
    SCOPED_TRACE(name);
    auto res = std::make_shared<int>(7);
    std::weak_ptr<int> w = res;
    auto fn = make(std::move(res));
    EXPECT_FALSE(w.expired()) << "released before the first call";
    for (int i = 0; i < 2; i++) {
      try {
        fn();
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "failed");
      }
      EXPECT_TRUE(w.expired()) << "still held after call " << i;
    }
  };
  check("once_func", [](std::shared_ptr<int> r) { return goro::once_func([r] { EXPECT_EQ(*r, 7); }); });
  check("once_value", [](std::shared_ptr<int> r) {
    auto f = goro::once_value([r] { return *r * 2; });
    return [f] { EXPECT_EQ(f(), 14); };
  });
  check("once_func throwing", [](std::shared_ptr<int> r) {
    return goro::once_func([r] {
      if (*r == 7) throw std::runtime_error("failed");
    });
  });
  check("once_value throwing", [](std::shared_ptr<int> r) {
    auto f = goro::once_value([r]() -> int {
      if (*r == 7) throw std::runtime_error("failed");
      return 0;
    });
    return [f] { (void)f(); };
  });
}

// ---- sync.Cond ----

// Go's TestCondSignalGenerations: waiters come one at a time, each after
// the previous signal, so each signal finds exactly one waiter, the one
// before it, and must wake that one (never the one that begins to wait
// after it). Every fifth waiter is a plain thread.
TEST(GoPortCond, EachSignalWakesTheWaiterThatCameBeforeIt) {
  const int n = goro_test::goroutines(100, 2);
  for (int procs : {1, 2}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run([n] {
      goro::mutex mu;
      goro::cond c;
      auto running = goro::make_chan<int>(n);
      auto awake = goro::make_chan<int>(n);
      auto waiter = [&](int i) {
        mu.lock();
        running.send(i);
        c.wait(mu);
        awake.send(i);
        mu.unlock();
      };
      goro::wait_group wg;
      std::vector<std::thread> ts;
      for (int i = 0; i < n; i++) {
        if (i % 5 == 4)
          ts.emplace_back(waiter, i);
        else
          wg.go(waiter, i);
        if (i > 0) {
          EXPECT_EQ(awake.recv(), i - 1) << "the wrong waiter woke";
        }
        EXPECT_EQ(running.recv(), i);
        mu.lock();  // once held, waiter i is inside wait()
        c.signal();
        mu.unlock();
      }
      EXPECT_EQ(awake.recv(), n - 1);
      wg.wait();
      join_all(ts);
    });
  }
  goro::set_maxprocs(2);
}

// Go's TestCondBroadcast: round after round, every waiter (goroutines and
// plain threads, waiting without a predicate) is woken exactly once by
// each broadcast, none before it; in the last round they leave, and a
// broadcast with nobody waiting is harmless.
TEST(GoPortCond, BroadcastWakesEveryWaiterOncePerRound) {
  const int kG = goro_test::goroutines(32, 4), kT = 2, n = kG + kT;
  const int rounds = goro_test::scaled(40, 4);
  goro_test::for_procs([&] {
    goro::mutex mu;
    goro::cond c;
    bool exit = false;  // under mu
    auto running = goro::make_chan<int>(n);
    auto awake = goro::make_chan<int>(n);
    auto waiter = [&](int g) {
      mu.lock();
      while (!exit) {
        running.send(g);
        c.wait(mu);
        awake.send(g);
      }
      mu.unlock();
    };
    goro::wait_group wg;
    std::vector<std::thread> ts;
    for (int g = 0; g < n; g++) {
      if (g < kT)
        ts.emplace_back(waiter, g);
      else
        wg.go(waiter, g);
    }
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < n; i++) (void)running.recv();
      if (r == rounds - 1) {
        goro::mutex_lock lock(mu);
        exit = true;
      }
      EXPECT_TRUE(awake.try_recv().would_block()) << "a waiter woke before the broadcast, round " << r;
      mu.lock();
      c.broadcast();
      mu.unlock();
      std::vector<bool> seen(n);
      for (int i = 0; i < n; i++) {
        int g = awake.recv();
        EXPECT_FALSE(seen[g]) << "waiter " << g << " woke twice in round " << r;
        seen[g] = true;
      }
    }
    wg.wait();
    join_all(ts);
    EXPECT_TRUE(running.try_recv().would_block()) << "a waiter did not leave";
    c.broadcast();
  });
}

// Go's TestRace (cond_test.go): three parties hand a value through one
// cond. The second sets x = 2 and signals in one critical section; the
// first (waiting since x = 1) must be the one woken, not the third, which
// can only begin to wait after seeing x == 2; the first's signal (x = 3)
// then wakes the third. One party in three rounds of four is a plain
// thread.
TEST(GoPortCond, SignalWakesOnlyWaitersThatBeganBeforeIt) {
  const int rounds = goro_test::scaled(150, 3);
  goro::set_maxprocs(2);
  goro::run([rounds] {
    for (int r = 0; r < rounds; r++) {
      goro::mutex mu;
      goro::cond c;
      int x = 0;  // under mu
      std::atomic<int> bad{0}, finished{0};
      auto first = [&] {
        mu.lock();
        x = 1;
        c.wait(mu);
        if (x != 2) bad++;
        x = 3;
        c.signal();
        mu.unlock();
        finished++;
      };
      auto second = [&] {
        mu.lock();
        while (x != 1) {
          mu.unlock();
          goro::yield();
          mu.lock();
        }
        x = 2;
        c.signal();
        mu.unlock();
        finished++;
      };
      auto third = [&] {
        mu.lock();
        for (;;) {
          if (x == 2) {
            c.wait(mu);
            if (x != 3) bad++;
            break;
          }
          if (x == 3) break;
          mu.unlock();
          goro::yield();
          mu.lock();
        }
        mu.unlock();
        finished++;
      };
      std::function<void()> parties[3] = {first, second, third};
      goro::wait_group wg;
      std::vector<std::thread> ts;
      for (int p = 0; p < 3; p++) {
        if (r % 4 == p)
          ts.emplace_back(parties[p]);
        else
          wg.go(parties[p]);
      }
      const bool ok = goro_test::wait_for([&] { return finished.load() == 3; }, 20s);
      EXPECT_TRUE(ok) << "round " << r << ": a waiter was never woken";
      if (!ok) {  // release whoever is stuck, so that the test ends
        goro::mutex_lock lock(mu);
        x = 3;
        c.broadcast();
      }
      wg.wait();
      join_all(ts);
      ASSERT_EQ(bad.load(), 0) << "round " << r;
    }
  });
}

// Go's TestCondSignalStealing: a waiter is inside wait() when a broadcast
// races a new waiter; the new one may or may not be woken, but the first
// must be (the broadcast must not be spent on the newcomer). The racing
// newcomer is a plain thread in one iteration of ten.
TEST(GoPortCond, BroadcastRacingANewWaiterStillWakesTheOldOne) {
  const int iters = goro_test::goroutines(1000, 5);
  for (int procs : {1, 2}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run([iters] {
      for (int it = 0; it < iters; it++) {
        goro::mutex m;
        goro::cond c;
        bool done = false;  // under m
        std::atomic<int> stage{0};
        goro::wait_group wg;
        wg.go([&] {
          m.lock();
          stage = 1;
          c.wait(m);
          m.unlock();
          stage = 2;
        });
        ASSERT_TRUE(goro_test::wait_for([&] { return stage.load() >= 1; }));
        m.lock();  // the waiter set stage under m and then waited: it is inside wait()
        m.unlock();
        wg.go([&] { c.broadcast(); });
        auto newcomer = [&] {
          m.lock();
          while (!done) c.wait(m);
          m.unlock();
        };
        std::thread t;
        if (it % 10 == 0)
          t = std::thread(newcomer);
        else
          wg.go(newcomer);
        const bool woke = goro_test::wait_for([&] { return stage.load() == 2; }, 20s);
        EXPECT_TRUE(woke) << "iteration " << it << ": the first waiter missed the broadcast";
        {
          goro::mutex_lock lock(m);
          done = true;
        }
        c.broadcast();  // releases the newcomer (and, after a failure, the first waiter)
        wg.wait();
        if (t.joinable()) goro::blocking([&] { t.join(); });
        if (!woke) break;
      }
    });
  }
  goro::set_maxprocs(2);
}

// ---- sync.RWMutex ----

// Go's RWMutex.RLocker: a Locker whose lock() takes the read lock. goro
// has none; any BasicLockable works where Go takes a Locker (goro::cond,
// std::unique_lock), so this is how C++ spells it.
struct read_locker {
  goro::rwmutex& mu;
  void lock() { mu.lock_shared(); }
  void unlock() { mu.unlock_shared(); }
};

// Go's TestRLocker: a goroutine (or a plain thread) takes the read lock
// twice through the read locker, then asks for the write lock; the main
// goroutine releases both read locks (taken by the other side) and the
// write lock only when each step allows: the writer must get in only
// after both read locks are gone, and the next read lock only after the
// write lock is.
TEST(GoPortRWMutex, ReadLockerReadLocksAndRespectsTheWriteLock) {
  const int n = goro_test::scaled(100, 5);
  for (bool thread_side : {false, true}) {
    SCOPED_TRACE(thread_side ? "locker is a plain thread" : "locker is a goroutine");
    goro::run([n, thread_side] {
      goro::rwmutex wl;
      read_locker rl{wl};
      auto rlocked = goro::make_chan<int>(1);
      auto wlocked = goro::make_chan<int>(1);
      auto locker = [&] {
        for (int i = 0; i < n; i++) {
          rl.lock();
          rl.lock();
          rlocked.send(i);
          wl.lock();
          wlocked.send(i);
        }
      };
      goro::wait_group wg;
      std::thread t;
      if (thread_side)
        t = std::thread(locker);
      else
        wg.go(locker);
      for (int i = 0; i < n; i++) {
        EXPECT_EQ(rlocked.recv(), i);
        rl.unlock();
        for (int k = 0; k < 3; k++) goro::yield();  // room for a writer that would wrongly get in
        EXPECT_TRUE(wlocked.try_recv().would_block()) << "the writer got in over a read lock, round " << i;
        rl.unlock();
        EXPECT_EQ(wlocked.recv(), i);
        for (int k = 0; k < 3; k++) goro::yield();
        EXPECT_TRUE(rlocked.try_recv().would_block()) << "a read lock was taken over the write lock, round " << i;
        wl.unlock();
      }
      wg.wait();
      if (t.joinable()) goro::blocking([&] { t.join(); });
      EXPECT_TRUE(wl.try_lock()) << "left locked";
      wl.unlock();
    });
  }
}

// ---- sync.WaitGroup ----

// Go's TestWaitGroup: two wait_groups used as a barrier, reused round
// after round: no member passes the second barrier until its count is
// zero, and then all do. Members are goroutines and plain threads.
TEST(GoPortWaitGroup, ReusedBarrierReleasesOnlyAtZero) {
  for (int procs : {1, 2}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run([] {
      goro::wait_group wg1, wg2;  // the same two every round
      const int n = 16, kThreads = 2;
      for (int round = 0; round < 8; round++) {
        wg1.add(n);
        wg2.add(n);
        std::atomic<int> exited{0};
        auto member = [&] {
          wg1.done();
          wg2.wait();
          exited++;
        };
        goro::wait_group all;
        std::vector<std::thread> ts;
        for (int i = 0; i < n; i++) {
          if (i < kThreads)
            ts.emplace_back(member);
          else
            all.go(member);
        }
        wg1.wait();
        for (int i = 0; i < n; i++) {
          goro::yield();
          EXPECT_EQ(exited.load(), 0) << "released too soon, round " << round << " after " << i << " done()s";
          wg2.done();
        }
        EXPECT_TRUE(goro_test::wait_for([&] { return exited.load() == n; })) << "round " << round;
        all.wait();
        join_all(ts);
      }
    });
  }
  goro::set_maxprocs(2);
}

// Go's TestWaitGroupRace: wait() on a two-member group returns only after
// both done() calls, never early (a spurious wake-up); one member in
// sixteen iterations is a plain thread.
TEST(GoPortWaitGroup, WaitNeverReturnsBeforeEveryDone) {
  const int iters = goro_test::goroutines(1000, 5);
  for (int procs : {1, 2}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run([iters] {
      int early = 0;
      for (int it = 0; it < iters; it++) {
        goro::wait_group wg;
        std::atomic<int> n{0};
        auto member = [&] {
          n.fetch_add(1);
          wg.done();
        };
        wg.add(1);
        goro::go(member);
        wg.add(1);
        std::thread t;
        if (it % 16 == 0)
          t = std::thread(member);
        else
          goro::go(member);
        wg.wait();
        if (n.load() != 2) early++;
        if (t.joinable()) goro::blocking([&] { t.join(); });
      }
      EXPECT_EQ(early, 0);
    });
  }
  goro::set_maxprocs(2);
}

// Go's TestWaitGroupGo: wait_group::go called from goroutines that the
// same wait_group counts (a tree of them, each starting two children);
// wait() returns, in the main goroutine and in a plain thread alike, only
// once every node has run.
TEST(GoPortWaitGroup, GoFromGoroutinesItCounts) {
  goro_test::for_procs([] {
    const int depth = goro_test::kTsan ? 5 : 8;
    const int nodes = (1 << (depth + 1)) - 1;
    goro::wait_group wg;
    std::atomic<int> ran{0};
    std::function<void(int)> node = [&](int d) {
      ran.fetch_add(1);
      if (d > 0) {
        wg.go(node, d - 1);
        wg.go(node, d - 1);
      }
    };
    wg.go(node, depth);
    int thread_saw = -1;
    std::thread t([&] {
      wg.wait();
      thread_saw = ran.load();
    });
    wg.wait();
    EXPECT_EQ(ran.load(), nodes);
    goro::blocking([&] { t.join(); });
    EXPECT_EQ(thread_saw, nodes);
  });
}

// ---- sync.Map ----

// Go's TestMapRangeNestedCall: a range inside range's function sees only
// keys it can load with the value offered; load_or_store of a key never
// stored stores it; store then load_and_delete takes it out again; and
// the outer range, deleting each key it visits, leaves the map empty.
TEST(GoPortSyncMap, NestedRangesAndDeletingEveryKeyLeaveItEmpty) {
  goro::sync_map<int, std::string> m;
  const char* words[] = {"alpha", "beta", "gamma"};
  for (int i = 0; i < 3; i++) m.store(i, words[i]);
  int outer = 0;
  m.range([&](const int& key, const std::string&) {
    outer++;
    m.range([&](const int& k, const std::string& v) {
      EXPECT_EQ(m.load(k), v) << "inner range offered key " << k;
      auto [actual, loaded] = m.load_or_store(42, "dummy");
      EXPECT_FALSE(loaded) << "key 42 was never left in the map";
      EXPECT_EQ(actual, "dummy");
      m.store(42, "stored");
      EXPECT_EQ(m.load_and_delete(42), "stored");
      return true;
    });
    m.erase(key);
    return true;
  });
  EXPECT_EQ(outer, 3);
  int left = 0;
  m.range([&](const int&, const std::string&) { return ++left, true; });
  EXPECT_EQ(left, 0);
  EXPECT_EQ(m.load(42), std::nullopt);
}

// A key that counts its live copies.
struct counted_key {
  static inline std::atomic<int64_t> live{0};
  int64_t k;
  explicit counted_key(int64_t v) : k(v) { live++; }
  counted_key(const counted_key& o) : k(o.k) { live++; }
  counted_key& operator=(const counted_key&) = default;
  ~counted_key() { live--; }
  bool operator==(const counted_key& o) const { return k == o.k; }
};
struct counted_key_hash {
  std::size_t operator()(const counted_key& c) const { return std::hash<int64_t>{}(c.k); }
};

// Go's TestIssue40999: keys stored and deleted are freed while the map
// lives on (Go watches a finalizer; here the key type counts its copies):
// a new key stored and deleted over and over beside one that stays, and
// batches stored, promoted by a range, then deleted. The live keys stay
// bounded instead of growing with the number stored.
TEST(GoPortSyncMap, DeletedKeysAreFreedWhileTheMapLives) {
  const int cycles = goro_test::scaled(20000, 10);
  const int64_t before = counted_key::live.load();
  {
    goro::sync_map<counted_key, int, counted_key_hash> m;
    m.store(counted_key(-1), 0);  // one that stays, as Go's test keeps one
    for (int i = 0; i < cycles; i++) {
      m.store(counted_key(i), i);
      m.erase(counted_key(i));
    }
    EXPECT_LE(counted_key::live.load() - before, 16) << "deleted keys are kept";
    // Keys that reached the snapshot before being deleted.
    const int kBatch = 100;
    int64_t next = 1'000'000;
    for (int b = 0; b < goro_test::scaled(200, 10); b++) {
      for (int i = 0; i < kBatch; i++) m.store(counted_key(next + i), i);
      m.range([](const counted_key&, const int&) { return true; });  // promotes
      for (int i = 0; i < kBatch; i++) m.erase(counted_key(next + i));
      next += kBatch;
    }
    EXPECT_LE(counted_key::live.load() - before, 4 * kBatch) << "deleted keys are kept";
    EXPECT_EQ(m.load(counted_key(-1)), 0);
  }
  EXPECT_EQ(counted_key::live.load(), before);
}

// The values of the shared-key tests below: unique, and naming their key.
int64_t token(int key, int worker, int i) { return int64_t{key} << 48 | int64_t{worker + 1} << 24 | i; }
int key_of(int64_t token) { return static_cast<int>(token >> 48); }

// Go's TestMapMatchesRWMutex asks each operation to act as it would under
// one lock. With goroutines and plain threads replacing the values of a
// few shared keys at once through swap() and compare_and_swap(), that
// means each value put in is taken out exactly once (returned by the swap
// or the successful compare_and_swap that replaced it) or is the final
// value, and only ever from its own key; load_or_store on a present key
// loads. Ranges alongside visit each key once.
TEST(GoPortSyncMap, ConcurrentSwapsHandEachValueOnExactlyOnce) {
  const int kKeys = 4, kG = goro_test::goroutines(6, 2), kT = 2, workers = kG + kT;
  const int iters = goro_test::scaled(3000, 6);
  goro_test::for_procs([&] {
    goro::sync_map<int, int64_t> m;
    std::vector<int64_t> initial;
    for (int k = 0; k < kKeys; k++) {
      initial.push_back(token(k, -1, 0));
      m.store(k, initial.back());
    }
    std::vector<std::vector<int64_t>> put(workers), took(workers);
    std::atomic<int> bad{0};
    auto worker = [&](int w) {
      std::mt19937 rng(static_cast<uint32_t>(w + 1));
      for (int i = 0; i < iters; i++) {
        const int k = static_cast<int>(rng() % kKeys);
        const int64_t v = token(k, w, i);
        switch (rng() % 8) {
          case 0:
          case 1:
          case 2: {
            std::optional<int64_t> prev = m.swap(k, v);
            if (!prev || key_of(*prev) != k) {
              bad++;
              break;
            }
            took[w].push_back(*prev);
            put[w].push_back(v);
            break;
          }
          case 3:
          case 4:
          case 5: {
            std::optional<int64_t> cur = m.load(k);
            if (!cur || key_of(*cur) != k) {
              bad++;
              break;
            }
            if (m.compare_and_swap(k, *cur, v)) {
              took[w].push_back(*cur);
              put[w].push_back(v);
            }
            break;
          }
          case 6: {
            auto [actual, loaded] = m.load_or_store(k, v);
            if (!loaded || key_of(actual) != k) bad++;
            break;
          }
          case 7: {
            std::vector<bool> seen(kKeys);
            m.range([&](const int& key, const int64_t& val) {
              if (key < 0 || key >= kKeys || seen[key] || key_of(val) != key) bad++;
              if (key >= 0 && key < kKeys) seen[key] = true;
              return true;
            });
            break;
          }
        }
        if (i % 64 == 0) goro::yield();
      }
    };
    goro::wait_group wg;
    for (int w = 0; w < kG; w++) wg.go(worker, w);
    std::vector<std::thread> ts;
    for (int w = kG; w < workers; w++) ts.emplace_back(worker, w);
    wg.wait();
    join_all(ts);
    EXPECT_EQ(bad.load(), 0);
    std::vector<int64_t> in = initial, out;
    for (int w = 0; w < workers; w++) {
      in.insert(in.end(), put[w].begin(), put[w].end());
      out.insert(out.end(), took[w].begin(), took[w].end());
    }
    for (int k = 0; k < kKeys; k++) {
      std::optional<int64_t> last = m.load(k);
      ASSERT_TRUE(last.has_value());
      EXPECT_EQ(key_of(*last), k);
      out.push_back(*last);
    }
    std::sort(in.begin(), in.end());
    std::sort(out.begin(), out.end());
    EXPECT_EQ(in.size(), out.size());
    EXPECT_TRUE(in == out) << "a value was taken out twice, or lost";
  });
}

// The same contract for adding and deleting (Go's LoadOrStore,
// LoadAndDelete, CompareAndDelete and Swap against the one-lock reference
// map of map_reference_test.go): goroutines and plain threads store unique
// tokens into shared keys and take them out. Every token that
// load_or_store reports as stored (loaded == false) or that swap put in is
// taken out exactly once, by load_and_delete, compare_and_delete or a
// later swap, or is still in the map at the end; load_or_store's loaded
// value is another token of the same key. Ranges alongside visit each key
// at most once.
TEST(GoPortSyncMap, AddsAndDeletesHandEachTokenOnExactlyOnce) {
  const int kKeys = 8, kG = goro_test::goroutines(6, 2), kT = 2, workers = kG + kT;
  const int iters = goro_test::scaled(3000, 6);
  goro_test::for_procs([&] {
    goro::sync_map<int, int64_t> m;
    std::vector<std::vector<int64_t>> stored(workers), removed(workers);
    std::atomic<int> bad{0};
    auto worker = [&](int w) {
      std::mt19937 rng(static_cast<uint32_t>(100 + w));
      for (int i = 0; i < iters; i++) {
        const int k = static_cast<int>(rng() % kKeys);
        const int64_t t = token(k, w, i);
        switch (rng() % 7) {
          case 0:
          case 1: {
            auto [actual, loaded] = m.load_or_store(k, t);
            if (!loaded) {
              if (actual != t) bad++;
              stored[w].push_back(t);
            } else if (actual == t || key_of(actual) != k) {
              bad++;
            }
            break;
          }
          case 2: {
            std::optional<int64_t> prev = m.swap(k, t);
            stored[w].push_back(t);
            if (prev) {
              if (key_of(*prev) != k) bad++;
              removed[w].push_back(*prev);
            }
            break;
          }
          case 3:
          case 4:
            if (std::optional<int64_t> v = m.load_and_delete(k)) {
              if (key_of(*v) != k) bad++;
              removed[w].push_back(*v);
            }
            break;
          case 5:
            if (std::optional<int64_t> v = m.load(k)) {
              if (key_of(*v) != k) bad++;
              if (m.compare_and_delete(k, *v)) removed[w].push_back(*v);
            }
            break;
          case 6: {
            std::vector<bool> seen(kKeys);
            m.range([&](const int& key, const int64_t& val) {
              if (key < 0 || key >= kKeys || seen[key] || key_of(val) != key) bad++;
              if (key >= 0 && key < kKeys) seen[key] = true;
              return true;
            });
            break;
          }
        }
        if (i % 64 == 0) goro::yield();
      }
    };
    goro::wait_group wg;
    for (int w = 0; w < kG; w++) wg.go(worker, w);
    std::vector<std::thread> ts;
    for (int w = kG; w < workers; w++) ts.emplace_back(worker, w);
    wg.wait();
    join_all(ts);
    EXPECT_EQ(bad.load(), 0);
    std::vector<int64_t> in, out;
    for (int w = 0; w < workers; w++) {
      in.insert(in.end(), stored[w].begin(), stored[w].end());
      out.insert(out.end(), removed[w].begin(), removed[w].end());
    }
    m.range([&](const int& key, const int64_t& val) {
      EXPECT_EQ(key_of(val), key);
      EXPECT_EQ(m.load(key), val);
      out.push_back(val);
      return true;
    });
    std::sort(in.begin(), in.end());
    std::sort(out.begin(), out.end());
    EXPECT_EQ(in.size(), out.size());
    EXPECT_TRUE(in == out) << "a token was taken out twice, or lost";
  });
}

}  // namespace
