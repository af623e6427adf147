// Basic goroutine life cycle: run, go, yield, ids, counts.
#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

TEST(Run, ReturnsMainResult) {
  EXPECT_EQ(goro::run([] { return 7; }), 7);
  EXPECT_EQ(goro::run([] {}), 0);
}

int real_main() { return 5; }
void void_main() {}

// What the header's example shows, run(real_main) with a function named as
// is, and a const callable: neither compiled (the function type and the
// const object could not be cast to and from the context pointer).
TEST(Run, TakesAFunctionAsIsAndConstCallables) {
  EXPECT_EQ(goro::run(real_main), 5);
  EXPECT_EQ(goro::run(void_main), 0);
  EXPECT_EQ(goro::run(&real_main), 5);
  const auto seven = [] { return 7; };
  EXPECT_EQ(goro::run(seven), 7);
}

TEST(Run, MainIsAGoroutine) {
  goro::run([] { EXPECT_NE(goro::goroutine_id(), 0u); });
  EXPECT_EQ(goro::goroutine_id(), 0u);
}

// 10,000 goroutines at each maxprocs; 500 under TSan, where 30,000
// goroutine lives took 83 s on an idle machine and timed out on a busy one
// (goro_test::goroutines says why).
TEST(Go, ManyGoroutinesAllRun) {
  const int n = goro_test::goroutines(10000, 20);
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    std::atomic<long> sum{0};
    goro::run([&] {
      goro::wait_group wg;
      for (int i = 1; i <= n; i++) {
        wg.add(1);
        goro::go([&sum, &wg, i] {
          sum.fetch_add(i, std::memory_order_relaxed);
          wg.done();
        });
      }
      wg.wait();
    });
    EXPECT_EQ(sum.load(), long(n) * (n + 1) / 2) << "procs=" << procs;
  }
}

TEST(Go, ArgumentsAreMovedIn) {
  goro::run([] {
    goro::wait_group wg;
    wg.add(1);
    auto p = std::make_unique<int>(42);
    int got = 0;
    goro::go(
        [&](std::unique_ptr<int> q) {
          got = *q;
          wg.done();
        },
        std::move(p));
    wg.wait();
    EXPECT_EQ(got, 42);
  });
}

TEST(Go, LargeClosureGoesToHeap) {
  goro::run([] {
    goro::wait_group wg;
    std::array<int, 100> big{};
    big[99] = 5;
    int got = 0;
    wg.add(1);
    goro::go([&, big] {
      got = big[99];
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(got, 5);
  });
}

TEST(Yield, LetsOthersRunOnOneP) {
  goro::set_maxprocs(1);
  goro::run([] {
    std::atomic<bool> ran{false};
    goro::go([&] { ran = true; });
    while (!ran.load()) goro::yield();
    EXPECT_TRUE(ran.load());
  });
}

// A goroutine that parks on one worker may resume on another: yield() goes
// through the global queue, and so does a goroutine woken by a plain
// thread. Every read of the running worker after a park must be the new
// thread's (current_m() is an inline asm read of the thread pointer, never
// a cached thread-local address): the goroutine's id, the worker whose run
// queue ready() fills, the wait_group shard done() counts down in (the
// count is over 1,024, so done() takes the per-worker shard path). The
// test checks that goroutines did move between threads, that each still
// sees its own id after every park, and that every done() counted once.
TEST(Go, GoroutinesMoveBetweenThreadsAndStayThemselves) {
  goro::set_maxprocs(4);
  constexpr int kGoroutines = 8, kRounds = 500;
  std::atomic<long> moves{0};
  std::atomic<int> wrong_id{0};
  goro::run([&] {
    auto wake = goro::make_chan<int>();
    std::thread feeder([wake]() mutable {  // wakes come from a plain thread
      for (int i = 0; i < kGoroutines * kRounds; i++) wake.send(i);
    });
    goro::wait_group done_rounds;
    done_rounds.add(kGoroutines * kRounds);
    goro::wait_group finished;
    finished.add(kGoroutines);
    for (int k = 0; k < kGoroutines; k++) {
      goro::go([&, wake]() mutable {
        const uint64_t me = goro::goroutine_id();
        long tid = syscall(SYS_gettid);
        auto after_park = [&] {
          long now = syscall(SYS_gettid);
          if (now != tid) moves++;
          tid = now;
          if (goro::goroutine_id() != me) wrong_id++;
        };
        for (int r = 0; r < kRounds; r++) {
          goro::yield();
          after_park();
          wake.recv();
          after_park();
          done_rounds.done();
        }
        finished.done();
      });
    }
    finished.wait();
    done_rounds.wait();
    goro::blocking([&] { feeder.join(); });
  });
  EXPECT_GT(moves.load(), 0) << "no goroutine resumed on another thread: the test did not force migration";
  EXPECT_EQ(wrong_id.load(), 0);
}

TEST(NumGoroutine, CountsLiveGoroutines) {
  goro::run([] {
    int64_t base = goro::num_goroutine();
    EXPECT_GE(base, 1);
    goro::wait_group started, release;
    release.add(1);
    for (int i = 0; i < 10; i++) {
      started.add(1);
      goro::go([&] {
        started.done();
        release.wait();
      });
    }
    started.wait();
    EXPECT_EQ(goro::num_goroutine(), base + 10);
    release.done();
    // The ten exit after wait() returns to them: wait for that, with a
    // deadline far beyond what a loaded machine needs.
    auto give_up = goro_test::steady::now() + std::chrono::seconds(30);
    while (goro::num_goroutine() != base && goro_test::steady::now() < give_up)
      goro::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(goro::num_goroutine(), base);
  });
}

}  // namespace
