// Basic goroutine life cycle: run, go, yield, ids, counts.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "goro/goro.hpp"

namespace {

TEST(Run, ReturnsMainResult) {
  EXPECT_EQ(goro::run([] { return 7; }), 7);
  EXPECT_EQ(goro::run([] {}), 0);
}

TEST(Run, MainIsAGoroutine) {
  goro::run([] { EXPECT_NE(goro::goroutine_id(), 0u); });
  EXPECT_EQ(goro::goroutine_id(), 0u);
}

TEST(Go, ManyGoroutinesAllRun) {
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    std::atomic<int> sum{0};
    goro::run([&] {
      goro::wait_group wg;
      for (int i = 1; i <= 10000; i++) {
        wg.add(1);
        goro::go([&sum, &wg, i] {
          sum.fetch_add(i, std::memory_order_relaxed);
          wg.done();
        });
      }
      wg.wait();
    });
    EXPECT_EQ(sum.load(), 10000 * 10001 / 2) << "procs=" << procs;
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
    for (int i = 0; i < 1000 && goro::num_goroutine() != base; i++) goro::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(goro::num_goroutine(), base);
  });
}

}  // namespace
