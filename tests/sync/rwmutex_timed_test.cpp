// goro::rwmutex's timed locks (src/sync/rwmutex.cpp, "Race outcomes"):
// the standard TimedLockable and SharedTimedLockable requirements, time-outs
// that leave nothing behind (a withdrawn writer blocks no later reader or
// writer; a withdrawn reader blocks no later lock() and lets no reader past
// a writer), from goroutines and plain threads, and stress on the two races
// of the protocol: a writer's time-out against the last reader leaving, and
// a reader's time-out against the writer's unlock.
//
// Time-outs are asserted only to come no earlier than the deadline; every
// wait for another goroutine waits on a condition.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <concepts>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "goro/debug.hpp"
#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;
using goro_test::steady;

// What std::unique_lock's and std::shared_lock's timed constructors call.
template <class M>
concept timed_lockable = requires(M& m, std::chrono::milliseconds d, steady::time_point t,
                                  std::chrono::system_clock::time_point st, std::chrono::duration<double> fd) {
  { m.try_lock_for(d) } -> std::same_as<bool>;
  { m.try_lock_for(fd) } -> std::same_as<bool>;
  { m.try_lock_until(t) } -> std::same_as<bool>;
  { m.try_lock_until(st) } -> std::same_as<bool>;
};
template <class M>
concept shared_timed_lockable = requires(M& m, std::chrono::milliseconds d, steady::time_point t,
                                         std::chrono::system_clock::time_point st, std::chrono::duration<double> fd) {
  { m.try_lock_shared_for(d) } -> std::same_as<bool>;
  { m.try_lock_shared_for(fd) } -> std::same_as<bool>;
  { m.try_lock_shared_until(t) } -> std::same_as<bool>;
  { m.try_lock_shared_until(st) } -> std::same_as<bool>;
};
static_assert(timed_lockable<goro::rwmutex>);
static_assert(shared_timed_lockable<goro::rwmutex>);
static_assert(timed_lockable<std::shared_timed_mutex>, "the concepts say what the standard's mutex has");
static_assert(shared_timed_lockable<std::shared_timed_mutex>);

// Goroutines parked with `reason` (the dump's word for it).
int parked(const char* reason) {
  int n = 0;
  for (const goro::debug::goroutine_info& g : goro::debug::goroutines())
    if (g.state == goro::debug::goroutine_state::waiting && g.wait_reason == reason) n++;
  return n;
}

// The mutex is free and whole: a writer gets it without waiting, then a
// reader does.
void expect_free(goro::rwmutex& mu) {
  ASSERT_TRUE(mu.try_lock());
  mu.unlock();
  ASSERT_TRUE(mu.try_lock_shared());
  mu.unlock_shared();
}

// Waits (by yielding, on a goroutine or a thread) until a writer is
// pending or in (a new reader is refused), or `gone` is set.
void wait_writer_pending(goro::rwmutex& mu, const std::atomic<bool>* gone = nullptr) {
  for (;;) {
    if (!mu.try_lock_shared()) return;
    if (gone != nullptr && gone->load()) {
      mu.unlock_shared();
      return;
    }
    mu.unlock_shared();
    goro::yield();
  }
}

TEST(RWMutexTimed, StandardTimedLockTypes) {
  goro::run([] {
    goro::rwmutex mu;
    {
      std::unique_lock w(mu, 10ms);
      EXPECT_TRUE(w.owns_lock());
      std::shared_lock r(mu, 1ms);
      EXPECT_FALSE(r.owns_lock());
    }
    {
      std::unique_lock w(mu, std::chrono::system_clock::now() + 1h);
      EXPECT_TRUE(w.owns_lock());
    }
    {
      std::shared_lock r1(mu, steady::now() + 1h);
      std::shared_lock r2(mu, std::chrono::duration<double>(0.5));
      std::shared_lock r3(mu, std::chrono::high_resolution_clock::now() + 1min);
      EXPECT_TRUE(r1.owns_lock() && r2.owns_lock() && r3.owns_lock());
      std::unique_lock w(mu, 1ms);
      EXPECT_FALSE(w.owns_lock());
    }
    {
      std::unique_lock w(mu, std::defer_lock);
      EXPECT_TRUE(w.try_lock_for(1h));
      w.unlock();
      EXPECT_TRUE(w.try_lock_until(std::chrono::system_clock::now()));
    }
    expect_free(mu);
  });
}

// A free mutex is taken at once, whatever the time-out (an hour would show
// as a hung test), including zero and negative ones and deadlines past.
TEST(RWMutexTimed, FreeLockIsTakenAtOnce) {
  goro::run([] {
    goro::rwmutex mu;
    ASSERT_TRUE(mu.try_lock_for(1h));
    mu.unlock();
    ASSERT_TRUE(mu.try_lock_for(0s));
    mu.unlock();
    ASSERT_TRUE(mu.try_lock_until(steady::now() - 1s));
    mu.unlock();
    ASSERT_TRUE(mu.try_lock_shared_for(1h));
    ASSERT_TRUE(mu.try_lock_shared_for(-1s));  // readers share
    ASSERT_TRUE(mu.try_lock_shared_until(std::chrono::system_clock::now() - 1h));
    mu.unlock_shared();
    mu.unlock_shared();
    mu.unlock_shared();
    expect_free(mu);
  });
}

// A held mutex and a time-out of zero or a deadline past: false, at once.
TEST(RWMutexTimed, ZeroTimeOutFailsAtOnce) {
  goro::run([] {
    goro::rwmutex mu;
    mu.lock_shared();
    EXPECT_FALSE(mu.try_lock_for(0s));
    EXPECT_FALSE(mu.try_lock_until(steady::now() - 1h));
    mu.unlock_shared();
    mu.lock();
    EXPECT_FALSE(mu.try_lock_shared_for(0s));
    EXPECT_FALSE(mu.try_lock_shared_until(std::chrono::system_clock::now() - 1s));
    EXPECT_FALSE(mu.try_lock_for(-5s));
    mu.unlock();
    expect_free(mu);
  });
}

// A writer that times out behind a reader returns false no earlier than
// its deadline, and leaves no trace: new readers come in beside the old
// one at once, and the next writer gets the lock once the reader is gone.
TEST(RWMutexTimed, WriterTimesOutBehindAReader) {
  goro_test::for_procs([] {
    goro::rwmutex mu;
    mu.lock_shared();
    auto t0 = steady::now();
    EXPECT_FALSE(mu.try_lock_for(20ms));
    EXPECT_GE(steady::now() - t0, 20ms);
    auto deadline = steady::now() + 5ms;
    EXPECT_FALSE(mu.try_lock_until(deadline));
    EXPECT_GE(steady::now(), deadline);
    auto sys_deadline = std::chrono::system_clock::now() + 5ms;
    EXPECT_FALSE(mu.try_lock_until(sys_deadline));
    EXPECT_GE(std::chrono::system_clock::now(), sys_deadline);
    // Not blocked by the writers that gave up.
    ASSERT_TRUE(mu.try_lock_shared());
    mu.unlock_shared();
    EXPECT_FALSE(mu.try_lock());
    mu.unlock_shared();
    expect_free(mu);
  });
}

// A writer that times out waiting for another writer (on the inner mutex).
TEST(RWMutexTimed, WriterTimesOutBehindAWriter) {
  goro_test::for_procs([] {
    goro::rwmutex mu;
    mu.lock();
    auto t0 = steady::now();
    EXPECT_FALSE(mu.try_lock_for(10ms));
    EXPECT_GE(steady::now() - t0, 10ms);
    EXPECT_FALSE(mu.try_lock_shared());
    mu.unlock();
    expect_free(mu);
  });
}

// Readers that queued behind a writer come in when it gives up, while the
// reader it waited for still holds the lock; a writer that then waits is
// served as usual.
TEST(RWMutexTimed, WithdrawnWriterLetsQueuedReadersIn) {
  goro_test::for_procs([] {
    goro::rwmutex mu;
    mu.lock_shared();
    std::atomic<bool> writer_done{false}, writer_got{false};
    std::atomic<int> readers_in{0};
    goro::wait_group wg;
    wg.go([&] {
      writer_got = mu.try_lock_for(300ms);
      if (writer_got) mu.unlock();
      writer_done = true;
    });
    wait_writer_pending(mu, &writer_done);
    const int n = 3;
    std::atomic<int> arrived{0};
    for (int i = 0; i < n; i++)
      wg.go([&] {
        arrived++;
        mu.lock_shared();  // queued behind the writer (unless it is gone)
        readers_in++;
        mu.unlock_shared();
      });
    // Let the readers queue before the writer's deadline, if the machine
    // allows; the outcome is the same either way. (A dump costs
    // milliseconds: look only once they are on their way.)
    while (arrived.load() < n) goro::yield();
    while (!writer_done.load() && parked("sync.RWMutex.RLock") < n) goro::yield();
    if (!writer_done.load()) std::printf("  %d readers queued behind the writer\n", n);
    while (readers_in.load() < n) goro::yield();  // they come in: the writer withdrew
    // Its withdrawal lets them in before its try_lock_for returns, so
    // writer_done may still be false here (seen under TSan): wait for it.
    while (!writer_done.load()) goro::yield();
    EXPECT_FALSE(writer_got.load());
    // A later writer waits for the reader, then gets the lock.
    std::atomic<bool> later_in{false};
    wg.go([&] {
      mu.lock();
      later_in = true;
      mu.unlock();
    });
    wait_writer_pending(mu);
    EXPECT_FALSE(later_in.load());
    mu.unlock_shared();
    wg.wait();
    EXPECT_TRUE(later_in.load());
    expect_free(mu);
  });
}

// A reader that times out behind a writer returns false no earlier than
// its deadline and leaves no count behind: once the writer unlocks, the
// next writer takes the lock without waiting.
TEST(RWMutexTimed, ReaderTimesOutBehindAWriter) {
  goro_test::for_procs([] {
    goro::rwmutex mu;
    mu.lock();
    auto t0 = steady::now();
    EXPECT_FALSE(mu.try_lock_shared_for(20ms));
    EXPECT_GE(steady::now() - t0, 20ms);
    auto deadline = steady::now() + 5ms;
    EXPECT_FALSE(mu.try_lock_shared_until(deadline));
    EXPECT_GE(steady::now(), deadline);
    mu.unlock();
    ASSERT_TRUE(mu.try_lock());  // no reader left counted
    mu.unlock();
    expect_free(mu);
  });
}

// A reader that timed out behind one writer gives no reader a way past the
// next: a reader that arrives while the next writer holds the lock waits
// for its unlock.
TEST(RWMutexTimed, TimedOutReaderLetsNoReaderPastTheNextWriter) {
  goro_test::for_procs([] {
    goro::rwmutex mu;
    mu.lock();
    goro::wait_group wg;
    std::atomic<int> timed_out{0};
    for (int i = 0; i < 3; i++)
      wg.go([&] {
        if (!mu.try_lock_shared_for(5ms)) timed_out++;
        else mu.unlock_shared();
      });
    wg.wait();
    ASSERT_EQ(timed_out.load(), 3);
    mu.unlock();
    ASSERT_TRUE(mu.try_lock());  // the next writer
    std::atomic<bool> reader_in{false};
    wg.go([&] {
      mu.lock_shared();
      reader_in = true;
      mu.unlock_shared();
    });
    while (parked("sync.RWMutex.RLock") < 1 && !reader_in.load()) goro::yield();
    EXPECT_FALSE(reader_in.load());
    mu.unlock();
    wg.wait();
    EXPECT_TRUE(reader_in.load());
    expect_free(mu);
  });
}

// The same rules from plain threads, with no goro::run around them.
TEST(RWMutexTimed, FromPlainThreads) {
  goro::rwmutex mu;
  std::thread([&] { mu.lock_shared(); }).join();  // held by a thread that has left
  std::thread([&] {
    auto t0 = steady::now();
    EXPECT_FALSE(mu.try_lock_for(10ms));
    EXPECT_GE(steady::now() - t0, 10ms);
    EXPECT_TRUE(mu.try_lock_shared_for(1h));  // the writer withdrew
    mu.unlock_shared();
  }).join();
  mu.unlock_shared();
  ASSERT_TRUE(mu.try_lock_for(1h));
  std::thread([&] {
    auto t0 = steady::now();
    EXPECT_FALSE(mu.try_lock_shared_for(10ms));
    EXPECT_GE(steady::now() - t0, 10ms);
    EXPECT_FALSE(mu.try_lock_for(1ms));
  }).join();
  // A thread's writer that waits for a thread's reader gets the lock when
  // it leaves, before its deadline.
  mu.unlock();
  mu.lock_shared();
  std::atomic<bool> got{false};
  std::thread w([&] {
    got = mu.try_lock_for(1h);
    if (got) mu.unlock();
  });
  wait_writer_pending(mu);
  mu.unlock_shared();
  w.join();
  EXPECT_TRUE(got.load());
  expect_free(mu);
}

// ---- stress ----

// Go's activity check (rwmutex_test.cpp): readers add 1, writers 10000.
// Also counts the write sections in a plain variable, written only under
// the write lock: two writers in at once would lose increments.
struct activity {
  goro::rwmutex mu;
  std::atomic<int32_t> active{0};
  std::atomic<int> bad{0};
  int64_t writes = 0;
  std::atomic<int64_t> write_locks{0}, read_locks{0}, timeouts{0}, late{0};

  void read() {
    int32_t n = active.fetch_add(1) + 1;
    if (n < 1 || n >= 10000) bad++;
    active.fetch_sub(1);
    read_locks++;
  }
  void write() {
    int32_t n = active.fetch_add(10000) + 10000;
    if (n != 10000) bad++;
    writes++;
    active.fetch_sub(10000);
    write_locks++;
  }
};

struct rng {
  uint64_t s;
  uint32_t next(uint32_t n) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s % n);
  }
};

// Holds a lock for a few hundred nanoseconds to a few microseconds.
void spin(uint32_t n) {
  for (uint32_t i = 0; i < n; i++) asm volatile("" ::: "memory");  // not optimized away
}

std::chrono::nanoseconds tiny(rng& r) { return std::chrono::nanoseconds(r.next(20000)); }

// Every operation, the timed ones with time-outs of 0-20 us.
void mixed(activity& a, int who, int iters) {
  rng r{0x9e3779b97f4a7c15ull * static_cast<uint64_t>(who + 1)};
  for (int k = 0; k < iters; k++) {
    switch (r.next(8)) {
      case 0:
        a.mu.lock();
        a.write();
        a.mu.unlock();
        break;
      case 1:
        if (a.mu.try_lock_for(tiny(r))) {
          a.write();
          a.mu.unlock();
        } else {
          a.timeouts++;
        }
        break;
      case 2:
        if (a.mu.try_lock_until(steady::now() + tiny(r))) {
          a.write();
          a.mu.unlock();
        } else {
          a.timeouts++;
        }
        break;
      case 3:
        if (a.mu.try_lock_shared_for(tiny(r))) {
          a.read();
          spin(r.next(200));
          a.mu.unlock_shared();
        } else {
          a.timeouts++;
        }
        break;
      case 4:
        if (a.mu.try_lock()) {
          a.write();
          a.mu.unlock();
        }
        break;
      case 5:
        if (a.mu.try_lock_shared()) {
          a.read();
          a.mu.unlock_shared();
        }
        break;
      default:
        a.mu.lock_shared();
        a.read();
        spin(r.next(200));
        a.mu.unlock_shared();
    }
    if (k % 64 == 0) goro::yield();
  }
}

void expect_sound(activity& a) {
  EXPECT_EQ(a.bad.load(), 0);
  EXPECT_EQ(a.writes, a.write_locks.load());
  EXPECT_EQ(a.active.load(), 0);
  expect_free(a.mu);
  std::printf("  writes %lld, reads %lld, time-outs %lld, won at the deadline %lld\n",
              static_cast<long long>(a.write_locks.load()), static_cast<long long>(a.read_locks.load()),
              static_cast<long long>(a.timeouts.load()), static_cast<long long>(a.late.load()));
}

TEST(RWMutexTimed, StressMixedGoroutinesAndThreads) {
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run([] {
      activity a;
      const int iters = goro_test::scaled(20000, 20);
      goro::wait_group wg;
      for (int i = 0; i < 6; i++) wg.go(mixed, std::ref(a), i, iters);
      std::vector<std::thread> ts;
      for (int i = 0; i < 3; i++) ts.emplace_back(mixed, std::ref(a), 6 + i, iters);
      wg.wait();
      for (auto& t : ts) t.join();
      expect_sound(a);
    });
  }
  goro::set_maxprocs(2);
}

// The writer's withdrawal against the last reader's departure: readers
// overlap so that a writer nearly always waits for some, and timed
// writers give up after 0-20 us, about when the readers they wait for
// leave. A writer whose withdrawal leaves the last reader's wake-up behind
// (a stray post on the writer semaphore) lets the next waiting writer in
// beside readers: the untimed writers and the activity check catch that.
void withdraw_writer(activity& a, std::atomic<bool>& stop, int who) {
  rng r{0x2545f4914f6cdd1dull * static_cast<uint64_t>(who + 1)};
  while (!stop.load(std::memory_order_relaxed)) {
    if (r.next(4) == 0) {
      a.mu.lock();
      a.write();
      a.mu.unlock();
    } else {
      // 0-4 us: about as long as a reader holds the lock.
      auto deadline = steady::now() + std::chrono::nanoseconds(r.next(4000));
      if (a.mu.try_lock_until(deadline)) {
        if (steady::now() >= deadline) a.late++;  // won at the deadline
        a.write();
        a.mu.unlock();
      } else {
        a.timeouts++;
      }
    }
    spin(r.next(100));
  }
}

void overlapping_reader(activity& a, int who, int iters) {
  rng r{0xd1b54a32d192ed03ull * static_cast<uint64_t>(who + 1)};
  for (int k = 0; k < iters; k++) {
    a.mu.lock_shared();
    a.read();
    spin(r.next(2000));
    a.mu.unlock_shared();
    if (k % 64 == 0) goro::yield();
  }
}

TEST(RWMutexTimed, StressWriterWithdrawalAgainstLastReader) {
  for (int procs : {2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run([] {
      activity a;
      std::atomic<bool> stop{false};
      const int iters = goro_test::scaled(20000, 20);
      goro::wait_group writers, readers;
      writers.go(withdraw_writer, std::ref(a), std::ref(stop), 0);
      std::thread tw(withdraw_writer, std::ref(a), std::ref(stop), 1);
      for (int i = 0; i < 3; i++) readers.go(overlapping_reader, std::ref(a), i, iters);
      std::thread tr(overlapping_reader, std::ref(a), 3, iters);
      readers.wait();
      tr.join();
      stop = true;
      writers.wait();
      tw.join();
      expect_sound(a);
    });
  }
  goro::set_maxprocs(2);
}

// A reader's withdrawal against the writer's unlock: writers hold the lock
// briefly and back to back, readers wait for it with time-outs of 0-20 us,
// about when a writer lets them in. A reader whose withdrawal leaves a
// grant behind lets a later reader in beside a writer (the activity check);
// one that leaves its count behind keeps every later writer out (the test
// hangs, or expect_free fails).
void unlocking_writer(activity& a, std::atomic<bool>& stop, int who) {
  rng r{0xbf58476d1ce4e5b9ull * static_cast<uint64_t>(who + 1)};
  while (!stop.load(std::memory_order_relaxed)) {
    a.mu.lock();
    a.write();
    spin(r.next(2000));
    a.mu.unlock();
    spin(r.next(200));
  }
}

void timed_reader(activity& a, int who, int iters) {
  rng r{0x94d049bb133111ebull * static_cast<uint64_t>(who + 1)};
  for (int k = 0; k < iters; k++) {
    bool got = true;
    if (r.next(4) == 0) {
      a.mu.lock_shared();
    } else {
      // 0-4 us: about as long as a writer holds the lock.
      auto deadline = steady::now() + std::chrono::nanoseconds(r.next(4000));
      got = a.mu.try_lock_shared_until(deadline);
      if (got && steady::now() >= deadline) a.late++;
    }
    if (got) {
      a.read();
      spin(r.next(100));
      a.mu.unlock_shared();
    } else {
      a.timeouts++;
    }
    if (k % 64 == 0) goro::yield();
  }
}

TEST(RWMutexTimed, StressReaderWithdrawalAgainstUnlock) {
  for (int procs : {2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run([] {
      activity a;
      std::atomic<bool> stop{false};
      const int iters = goro_test::scaled(20000, 20);
      goro::wait_group writers, readers;
      writers.go(unlocking_writer, std::ref(a), std::ref(stop), 0);
      std::thread tw(unlocking_writer, std::ref(a), std::ref(stop), 1);
      for (int i = 0; i < 4; i++) readers.go(timed_reader, std::ref(a), i, iters);
      std::thread tr(timed_reader, std::ref(a), 4, iters);
      readers.wait();
      tr.join();
      stop = true;
      writers.wait();
      tw.join();
      expect_sound(a);
    });
  }
  goro::set_maxprocs(2);
}

// The two races head on, one round at a time. A reader holds the read lock
// while a writer waits with a deadline, and the reader leaves at about
// that deadline (0-60 us after it, where the writer's wake-up from its
// time-out lands); or the writer holds the lock while a reader waits with a
// deadline, and the writer unlocks at about that deadline. Either outcome
// of a round is right; what must not follow is a writer in beside the
// reader of the next round (a wake-up post left behind by a withdrawn
// writer) or a reader in beside the writer of the next round (a grant left
// behind by a withdrawn reader).
struct duel {
  goro::rwmutex mu;
  std::atomic<int> round{0};     // the round the holder has started (it holds the lock)
  std::atomic<int64_t> deadline_ns{0};
  std::atomic<int> deadline_round{0};
  std::atomic<int> waiter_done{0};
  std::atomic<bool> holder_in{false};
  std::atomic<int> bad{0};
  std::atomic<int> won{0}, lost{0}, won_late{0};
};

int64_t ns_of(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void wait_for(const std::atomic<int>& a, int v) {
  while (a.load() < v) goro::yield();
}

// The side that holds the lock (shared if `writer_waits`), then leaves at
// the waiter's deadline plus 0-60 us.
void duel_holder(duel& d, bool writer_waits, int rounds) {
  rng r{0x6a09e667f3bcc909ull};
  for (int i = 1; i <= rounds; i++) {
    if (writer_waits) d.mu.lock_shared();
    else d.mu.lock();
    d.holder_in = true;
    d.round = i;
    wait_for(d.deadline_round, i);
    auto leave = steady::time_point(std::chrono::nanoseconds(d.deadline_ns.load())) +
                 std::chrono::nanoseconds(r.next(60000));
    while (steady::now() < leave) {
    }
    d.holder_in = false;
    if (writer_waits) d.mu.unlock_shared();
    else d.mu.unlock();
    wait_for(d.waiter_done, i);
  }
}

void duel_waiter(duel& d, bool writer_waits, int rounds) {
  for (int i = 1; i <= rounds; i++) {
    wait_for(d.round, i);
    auto deadline = steady::now() + 20us;
    d.deadline_ns = ns_of(deadline);
    d.deadline_round = i;
    bool got = writer_waits ? d.mu.try_lock_until(deadline) : d.mu.try_lock_shared_until(deadline);
    if (got) {
      if (d.holder_in.load()) d.bad++;  // in beside the holder
      d.won++;
      if (steady::now() >= deadline) d.won_late++;
      if (writer_waits) d.mu.unlock();
      else d.mu.unlock_shared();
    } else {
      d.lost++;
    }
    d.waiter_done = i;
  }
}

void run_duel(bool writer_waits, bool holder_thread, bool waiter_thread) {
  duel d;
  const int rounds = goro_test::scaled(1500, 5);
  goro::wait_group wg;
  std::vector<std::thread> ts;
  if (holder_thread) ts.emplace_back(duel_holder, std::ref(d), writer_waits, rounds);
  else wg.go(duel_holder, std::ref(d), writer_waits, rounds);
  if (waiter_thread) ts.emplace_back(duel_waiter, std::ref(d), writer_waits, rounds);
  else wg.go(duel_waiter, std::ref(d), writer_waits, rounds);
  wg.wait();
  for (auto& t : ts) t.join();
  EXPECT_EQ(d.bad.load(), 0);
  expect_free(d.mu);
  std::printf("  %s waits: won %d (%d at the deadline), timed out %d\n", writer_waits ? "writer" : "reader",
              d.won.load(), d.won_late.load(), d.lost.load());
}

TEST(RWMutexTimed, DuelWriterTimeOutAgainstLastReaderLeaving) {
  goro::set_maxprocs(2);
  goro::run([] {
    run_duel(true, false, false);
    run_duel(true, true, true);
    run_duel(true, false, true);
  });
}

TEST(RWMutexTimed, DuelReaderTimeOutAgainstWriterUnlocking) {
  goro::set_maxprocs(2);
  goro::run([] {
    run_duel(false, false, false);
    run_duel(false, true, true);
    run_duel(false, false, true);
  });
}

// Timed locks until the min() of another clock fail at once (the
// conversion `t - Clock::now()` overflowed into a wait of about 237 years;
// see Sleep.SleepUntilTheMinOfAnotherClockReturnsAtOnce).
TEST(RWMutexTimed, MinOfAnotherClockFailsAtOnce) {
  goro::run([] {
    goro::rwmutex rw;
    goro::mutex mu;
    rw.lock();
    mu.lock();
    auto done = goro::make_chan<int>(1);
    goro::go([&, done] {
      EXPECT_FALSE(rw.try_lock_until(std::chrono::system_clock::time_point::min()));
      EXPECT_FALSE(rw.try_lock_shared_until(std::chrono::system_clock::time_point::min()));
      EXPECT_FALSE(mu.try_lock_until(std::chrono::system_clock::time_point::min()));
      done.send(1);
    });
    bool returned = false;
    goro::select(goro::on_recv(done, [&](int) { returned = true; }), goro::on_recv(goro::after(20s)));
    ASSERT_TRUE(returned) << "a timed lock until system_clock::time_point::min() waited";
    rw.unlock();
    mu.unlock();
  });
}

}  // namespace
