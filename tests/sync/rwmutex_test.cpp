// goro::rwmutex (src/sync/rwmutex.cpp): the semantics of Go's
// sync/rwmutex_test.go (TestRWMutex's activity check, parallel readers,
// writer preference), the standard lock types, and stress from goroutines
// and plain threads mixed.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

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

namespace {

// Readers enter through the process-wide reader slots (rwmutex.cpp, S1-S4)
// when they can, counted otherwise; these tests drive the corners of that.

// A read lock taken on one goroutine or thread and released on another
// (allowed, as in Go): the releaser finds no entry in its own line and
// must leave through another line's entry or a counted holder, while
// writers (lock, try_lock, try_lock_for) convert entries under it.
void handed_over_reads(int lockers, int iters) {
  activity_check c;
  auto held = goro::make_chan<int>(64);
  std::atomic<int> handed{0};
  goro::wait_group wg;
  auto locker = [&](int who) {
    for (int k = 0; k < iters; k++) {
      c.mu.lock_shared();
      int32_t n = c.activity.fetch_add(1) + 1;
      if (n < 1 || n >= 10000) c.bad++;
      held.send(who);
      handed++;
    }
  };
  auto releaser = [&] {
    for (int k = 0; k < iters; k++) {
      (void)held.recv();
      c.activity.fetch_sub(1);
      c.mu.unlock_shared();
    }
  };
  auto writer = [&](int who) {
    for (int k = 0; k < iters / 8; k++) {
      bool locked;
      switch ((k + who) % 3) {
        case 0:
          c.mu.lock();
          locked = true;
          break;
        case 1:
          locked = c.mu.try_lock();
          break;
        default:
          locked = c.mu.try_lock_for(std::chrono::microseconds(50));
      }
      if (locked) {
        c.write();
        c.mu.unlock();
      }
    }
  };
  std::vector<std::thread> ts;
  for (int i = 0; i < lockers; i++) {
    // Lockers and releasers on goroutines, one pair on plain threads.
    if (i == 0) {
      ts.emplace_back(locker, i);
      wg.go(releaser);
    } else if (i == 1) {
      wg.go(locker, i);
      ts.emplace_back(releaser);
    } else {
      wg.go(locker, i);
      wg.go(releaser);
    }
  }
  wg.go(writer, 0);
  ts.emplace_back(writer, 1);
  wg.wait();
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.bad.load(), 0);
  EXPECT_EQ(handed.load(), lockers * iters);
  EXPECT_EQ(c.activity.load(), 0);
  ASSERT_TRUE(c.mu.try_lock());  // nothing left held, no entry left behind
  c.mu.unlock();
}

TEST(RWMutexSlots, ReadLocksReleasedElsewhereWhileWritersConvert) {
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run([] { handed_over_reads(4, goro_test::scaled(5000)); });
  }
  goro::set_maxprocs(2);
}

// A read lock held across parks that move the goroutine to another
// worker: the header's inline paths read the thread's slot line through
// asm, never an address kept from before the park. After each park the
// line the inline path reads must be the one this thread's own
// thread-local holds (read by a function the compiler cannot see into),
// and the unlock, inline or the library's, must leave no entry behind
// while a writer keeps converting them. The test checks that goroutines
// did move.
[[gnu::noinline]] goro::detail::rw_slot_line* thread_line_now() {
  asm volatile("" ::: "memory");
  return goro::detail::rw_thread_line();
}

TEST(RWMutexSlots, ReadLockHeldAcrossAMoveToAnotherThread) {
  goro::set_maxprocs(4);
  constexpr int kReaders = 8;
  const int rounds = goro_test::scaled(400);
  activity_check c;
  std::atomic<long> moves{0};
  std::atomic<int> stale_line{0};
  goro::run([&] {
    auto wake = goro::make_chan<int>();
    std::thread feeder([wake, rounds]() mutable {  // wakes come from a plain thread
      for (int i = 0; i < kReaders * rounds; i++) wake.send(i);
    });
    std::atomic<bool> readers_done{false};
    goro::wait_group wg;
    for (int k = 0; k < kReaders; k++)
      wg.go([&, wake]() mutable {
        for (int r = 0; r < rounds; r++) {
          c.mu.lock_shared();
          long tid = syscall(SYS_gettid);
          int32_t n = c.activity.fetch_add(1) + 1;
          if (n < 1 || n >= 10000) c.bad++;
          goro::yield();
          wake.recv();
          if (syscall(SYS_gettid) != tid) moves++;
          if (goro::detail::rw_thread_line() != thread_line_now()) stale_line++;
          c.activity.fetch_sub(1);
          c.mu.unlock_shared();
        }
      });
    goro::wait_group writer;
    writer.go([&] {
      while (!readers_done.load()) {
        c.mu.lock();
        c.write();
        c.mu.unlock();
        goro::yield();
      }
    });
    wg.wait();
    readers_done = true;
    writer.wait();
    goro::blocking([&] { feeder.join(); });
  });
  goro::set_maxprocs(2);
  EXPECT_GT(moves.load(), 0) << "no reader resumed on another thread: the test did not force migration";
  EXPECT_EQ(stale_line.load(), 0);
  EXPECT_EQ(c.bad.load(), 0);
  EXPECT_EQ(c.activity.load(), 0);
  ASSERT_TRUE(c.mu.try_lock());  // no entry left behind
  c.mu.unlock();
}

// More read locks held at once by one goroutine than a slot line holds
// (and the same rwmutex read-locked twice): the overflow goes counted, and
// a writer must see every holder however it entered.
TEST(RWMutexSlots, NestedReadLocksBeyondALineAllHold) {
  goro::set_maxprocs(2);
  goro::run([] {
    constexpr int kLocks = 24;
    std::vector<goro::rwmutex> mus(kLocks);
    for (int round = 0; round < goro_test::scaled(200); round++) {
      for (auto& m : mus) m.lock_shared();
      mus[round % kLocks].lock_shared();  // twice
      for (auto& m : mus) EXPECT_FALSE(m.try_lock());
      // A writer on another goroutine waits for every one of them.
      std::atomic<int> written{0};
      goro::wait_group wg;
      wg.go([&] {
        for (auto& m : mus) {
          m.lock();
          written++;
          m.unlock();
        }
      });
      for (int i = 0; i < 20; i++) goro::yield();
      EXPECT_EQ(written.load(), 0);
      mus[round % kLocks].unlock_shared();
      EXPECT_EQ(written.load(), 0);
      // Release in an order unlike the locking one, some from a thread.
      std::thread t([&] {
        for (int i = kLocks - 1; i >= kLocks / 2; i--) mus[i].unlock_shared();
      });
      t.join();
      for (int i = 0; i < kLocks / 2; i++) mus[i].unlock_shared();
      wg.wait();
      EXPECT_EQ(written.load(), kLocks);
      for (auto& m : mus) {
        ASSERT_TRUE(m.try_lock());
        m.unlock();
      }
    }
  });
}

// try_lock never succeeds over a reader that holds through a slot, and a
// try_lock that catches a reader coming in through a slot backs out
// leaving the rwmutex usable.
TEST(RWMutexSlots, TryLockRacingSlotReaders) {
  goro::set_maxprocs(2);
  goro::run([] {
    activity_check c;
    std::atomic<bool> stop{false};
    goro::wait_group wg;
    for (int i = 0; i < 3; i++)
      wg.go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          c.mu.lock_shared();
          c.read();
          c.mu.unlock_shared();
        }
      });
    std::thread reader([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (c.mu.try_lock_shared()) {
          c.read();
          c.mu.unlock_shared();
        }
      }
    });
    int taken = 0;
    const int tries = goro_test::scaled(20000);
    for (int k = 0; k < tries; k++) {
      if (c.mu.try_lock()) {
        c.write();
        c.mu.unlock();
        taken++;
      }
      if (k % 16 == 0) goro::yield();
    }
    stop = true;
    wg.wait();
    reader.join();
    EXPECT_EQ(c.bad.load(), 0);
    EXPECT_EQ(c.writes, taken);
    ASSERT_TRUE(c.mu.try_lock());
    c.mu.unlock();
  });
}

}  // namespace

namespace {

// A writer converts a slot reader (S2) while the last counted reader it
// announced itself to leaves (S4): the departure's post must not let the
// writer in while the converted reader still holds. Three plain threads,
// so each keeps its own slot line: the slot reader's, the counted reader's
// (filled with 8 other read locks, so its read lock on `mu` goes counted),
// and the writer's. The counted reader leaves the moment it sees the
// writer pending, inside the writer's conversion as often as not.
TEST(RWMutexSlots, CountedReaderLeavingWhileTheWriterConvertsASlotReader) {
  constexpr int kFill = 8;  // a slot line's size (rwmutex.cpp)
  // Each round is ~100 sched_yield calls, 8 us each on the project's VMs
  // and a busy loop's whole time slice each beside busy loops: 3,000
  // rounds took 11 s alone and 80-91 s of the 120 s timeout in CI's
  // busy-loop stage. With 600 it still fails without the conversion's
  // S4 step (rwmutex.cpp): 14 of 15 runs, each within 11 ms.
  const int rounds = goro_test::scaled(600);
  goro::rwmutex mu;
  std::vector<goro::rwmutex> fill(kFill);
  std::atomic<int> s_in{0}, a_in{0}, a_out{0}, s_out{0}, done{0};
  std::atomic<int> bad{0};
  std::thread slot_reader([&] {
    for (int r = 1; r <= rounds; r++) {
      while (done.load() != r - 1) std::this_thread::yield();
      mu.lock_shared();
      s_in = r;
      while (a_out.load() != r) std::this_thread::yield();
      for (int i = 0; i < 20; i++) std::this_thread::yield();  // time for a wrong writer to get in
      s_out = r;
      mu.unlock_shared();
    }
  });
  std::thread counted_reader([&] {
    for (int r = 1; r <= rounds; r++) {
      while (done.load() != r - 1) std::this_thread::yield();
      for (auto& f : fill) f.lock_shared();
      mu.lock_shared();
      a_in = r;
      while (mu.try_lock_shared()) mu.unlock_shared();  // until the writer is pending
      mu.unlock_shared();
      a_out = r;
      for (auto& f : fill) f.unlock_shared();
    }
  });
  std::thread writer([&] {
    for (int r = 1; r <= rounds; r++) {
      while (s_in.load() != r || a_in.load() != r) std::this_thread::yield();
      mu.lock();
      if (s_out.load() != r) bad++;
      mu.unlock();
      done = r;
    }
  });
  slot_reader.join();
  counted_reader.join();
  writer.join();
  EXPECT_EQ(bad.load(), 0) << "the writer got in while a converted slot reader held the read lock";
}

}  // namespace
