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

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "goro/goro.hpp"
#include "sched/deadlock_stats.hpp"
#include "sched/stats.hpp"
#include "sched/sysmon.hpp"
#include "sched/test_hooks.hpp"
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

// The header's example of declaring a thread by id, found by its name
// (goro/runtime.hpp), compiled and run; and the answers for an id that is
// not a thread of this process. (That a declared thread no longer hides a
// deadlock is tested from outside: crash.Deadlock.DeclaredThreads...)
TEST(DeadlockCheck, DeclareAThreadByIdAsTheHeaderShows) {
  std::atomic<bool> named{false}, stop{false};
  std::atomic<int> its_tid{0};
  std::thread lib_thread([&] {
    pthread_setname_np(pthread_self(), "grpc_global_tim");
    its_tid = static_cast<int>(gettid());
    named = true;
    while (!stop) std::this_thread::yield();
  });
  while (!named) std::this_thread::yield();
  int found = 0;
  // The example:
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "grpc_global_tim") {
      EXPECT_TRUE(goro::ignore_thread_in_deadlock_check(std::stoi(task.path().filename())));
      found = std::stoi(task.path().filename());
    }
  }
  EXPECT_EQ(found, its_tid.load());
  stop = true;
  lib_thread.join();
  EXPECT_FALSE(goro::ignore_thread_in_deadlock_check(0));
  EXPECT_FALSE(goro::ignore_thread_in_deadlock_check(1 << 23));  // above any pid_max
  // The caller itself, by id or not (on a thread of its own: a declared
  // thread keeps its promise until it exits, and this one then does); from a
  // goroutine, nothing happens.
  std::thread self([] {
    EXPECT_TRUE(goro::ignore_thread_in_deadlock_check(static_cast<int>(gettid())));
    goro::ignore_thread_in_deadlock_check();
  });
  self.join();
  goro::run([] { goro::ignore_thread_in_deadlock_check(); });
}

}  // namespace

// The listing reads the threads' statuses one at a time. Two plain threads:
// the first is seen parked; then (the seam pauses the listing there) the
// second, not yet seen, readies it and parks itself before it is seen.
// Neither touches runtime state, the main goroutine waits for them, and
// the first is about to send: no deadlock. Before the fix the check
// called it one and the process exited with status 2.
namespace {

std::atomic<int> g_first_tid{0};
std::atomic<int> g_second_tid{0};
std::atomic<bool> g_first_seen{false};
std::atomic<bool> g_second_parking{false};

// The thread's scheduler state letter from /proc (R, S, ...).
char task_state(int tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

void on_saw_thread(int tid, bool parked) {
  if (tid != g_first_tid.load() || !parked || g_first_seen.exchange(true)) return;
  // Let the second thread ready the first and park before it is seen.
  goro_test::spin_until([] { return g_second_parking.load() && task_state(g_second_tid.load()) == 'S'; });
}

}  // namespace

TEST(DeadlockCheck, AThreadWokenByAnotherWhileTheListingReadsIsNotADeadlock) {
  namespace hooks = goro::detail::test_hooks;
  goro::set_maxprocs(1);
  g_first_tid = g_second_tid = 0;  // (--gtest_repeat)
  g_first_seen = g_second_parking = false;
  auto a = goro::make_chan<int>();
  auto b = goro::make_chan<int>();
  auto done = goro::make_chan<int>();
  goro::run([&] {
    auto warm = goro::make_chan<int>();
    auto body = [&](std::atomic<int>* my_tid) {
      // A thread's first park registers its waiter record, under the
      // lock the listing holds while the seam waits: get it done.
      warm.recv();
      int me = static_cast<int>(syscall(SYS_gettid));
      my_tid->store(me);
      goro_test::spin_until([] { return g_first_tid.load() != 0; });
      if (me == g_first_tid.load()) {
        a.recv();  // parked until the second readies it, mid-listing
        // Let that check finish (the monitor's round that runs it ends),
        // then act: a deadlock report would have come before this.
        uint64_t r0 = goro::detail::sysmon_rounds();
        goro_test::spin_until([r0] { return goro::detail::sysmon_rounds() >= r0 + 2; });
        b.send(1);
      } else {
        goro_test::spin_until([] { return g_first_seen.load(); });
        a.send(1);
        g_second_parking.store(true);
        b.recv();
        done.send(1);
      }
    };
    std::atomic<int> tid1{0}, tid2{0};
    std::thread t1(body, &tid1), t2(body, &tid2);
    warm.send(1);
    warm.send(2);
    goro_test::spin_until([&] { return tid1.load() != 0 && tid2.load() != 0; });
    // The listing goes in tid order: the lower one is seen first.
    g_second_tid.store(std::max(tid1.load(), tid2.load()));
    hooks::deadlock_scan_saw_thread.store(on_saw_thread);
    g_first_tid.store(std::min(tid1.load(), tid2.load()));
    done.recv();
    hooks::deadlock_scan_saw_thread.store(nullptr);
    EXPECT_TRUE(g_first_seen.load());
    goro::blocking([&] {
      t1.join();
      t2.join();
    });
  });
}

// A plain thread that runs while the check looks at timers may add one and
// park on its channel before the listing reads it: goro::after(300ms).recv()
// while the main goroutine holds a timer nobody reads (so timers are pending
// when the check starts) and waits for the thread's send. The seam pauses
// the listing at a parked thread listed before it, while the thread adds
// its timer and parks. Before the fix the check walked the timers first
// (only the unread one: it wakes nobody), then found every thread parked,
// and reported a deadlock: the test process exited with status 2.
namespace {

std::atomic<int> g_parked_tid{0};
std::atomic<int> g_timer_tid{0};
std::atomic<bool> g_listing_paused{false};
std::atomic<bool> g_timer_thread_parking{false};

void on_saw_parked_thread(int tid, bool parked) {
  if (tid != g_parked_tid.load() || !parked || g_listing_paused.load()) return;
  // Parked in goro: counted as a waiting thread (just before its status
  // changes) and asleep (on its park futex, the next thing it does; not on
  // a runtime lock on its way there).
  const int64_t before = goro::detail::stats_global.threads_waiting.load();
  g_listing_paused.store(true);
  goro_test::spin_until([before] {
    return g_timer_thread_parking.load() && goro::detail::stats_global.threads_waiting.load() > before &&
           task_state(g_timer_tid.load()) == 'S';
  });
}

}  // namespace

void add_a_timer_and_park_while_the_check_runs() {
  namespace hooks = goro::detail::test_hooks;
  using namespace std::chrono_literals;
  g_parked_tid = g_timer_tid = 0;
  g_listing_paused = g_timer_thread_parking = false;
  goro::run([] {
    goro::timer unread = goro::new_timer(1h);  // pending, read by nobody
    auto warm = goro::make_chan<int>();
    auto release_parked = goro::make_chan<int>();
    auto result = goro::make_chan<int>();
    std::atomic<int> tid1{0}, tid2{0};
    // Both threads park once first: a thread's first park registers its
    // waiter record under the lock the listing holds while the seam waits.
    auto body = [&](std::atomic<int>* my_tid) {
      warm.recv();
      int me = static_cast<int>(syscall(SYS_gettid));
      my_tid->store(me);
      goro_test::spin_until([] { return g_parked_tid.load() != 0; });
      if (me == g_parked_tid.load()) {
        release_parked.recv();
        return;
      }
      // Running (not parked) until the listing pauses at the other thread.
      goro_test::spin_until([] { return g_listing_paused.load(); });
      g_timer_thread_parking.store(true);
      goro::after(300ms).recv();
      result.send(42);
    };
    std::thread t1(body, &tid1), t2(body, &tid2);
    warm.send(1);
    warm.send(2);
    goro_test::spin_until([&] { return tid1.load() != 0 && tid2.load() != 0; });
    // The listing goes in tid order: the parked thread is the lower one.
    g_timer_tid.store(std::max(tid1.load(), tid2.load()));
    hooks::deadlock_scan_saw_thread.store(on_saw_parked_thread);
    g_parked_tid.store(std::min(tid1.load(), tid2.load()));
    EXPECT_EQ(result.recv(), 42);
    hooks::deadlock_scan_saw_thread.store(nullptr);
    EXPECT_TRUE(g_listing_paused.load());
    release_parked.send(1);
    goro::blocking([&] {
      t1.join();
      t2.join();
    });
    unread.stop();
  });
}

// Three rounds: in a round where the thread's goro::after starts a worker
// thread the listing sees that and stays out of it, so the old check
// reported in 2 to 7 runs of 10 with one round, 10 of 10 with three.
TEST(DeadlockCheck, AThreadThatAddsATimerAndParksWhileTheCheckRunsIsNotADeadlock) {
  goro::set_maxprocs(1);
  for (int round = 0; round < 3; round++) add_a_timer_and_park_while_the_check_runs();
}

// Declaring threads by id that come and go keeps nothing: the same thread
// declared again adds no entry, and the check drops the entries of threads
// that have exited. (Each call added an entry that stayed until its id was
// reused: a program declaring its library's threads now and then grew the
// list, and the listing's work with it, without end.)
TEST(DeadlockCheck, DeclaringThreadsThatComeAndGoKeepsNothing) {
  goro::set_maxprocs(1);
  uint64_t base = deadlock_stats_read().declared_threads;
  goro::run([base] {
    for (int i = 0; i < 5; i++) {
      std::atomic<int> tid{0};
      std::atomic<bool> stop{false};
      std::thread t([&] {
        tid = static_cast<int>(syscall(SYS_gettid));
        while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      });
      goro_test::spin_until([&] { return tid.load() != 0; });
      for (int k = 0; k < 50; k++) EXPECT_TRUE(goro::ignore_thread_in_deadlock_check(tid.load()));
      EXPECT_LE(deadlock_stats_read().declared_threads, base + static_cast<uint64_t>(i) + 1);
      stop = true;
      goro::blocking([&] { t.join(); });
    }
    // The check's listings (every 100 ms while this goroutine waits) drop
    // the exited threads' entries.
    auto done = goro::make_chan<bool>();
    std::thread watcher([&] {
      done.send(goro_test::spin_until([base] { return deadlock_stats_read().declared_threads <= base; }));
    });
    EXPECT_TRUE(done.recv()) << deadlock_stats_read().declared_threads << " entries left, " << base << " before";
    goro::blocking([&] { watcher.join(); });
  });
}
