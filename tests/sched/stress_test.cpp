// Scheduler stress: spawn storms from goroutines and threads, deep spawn
// trees, park/ready chains, yield storms; counts must be conserved and
// nothing may hang, at maxprocs 1, 2 and 4.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

class Stress : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { goro::set_maxprocs(GetParam()); }
};

// Sizes: goroutine lives cost milliseconds each under TSan
// (goro_test::goroutines); each test here starts at most ~1,000 there.

TEST_P(Stress, SpawnStormFromManyGoroutines) {
  const int spawners = 8, per = goro_test::kTsan ? goro_test::goroutines(5000, 40) : goro_test::scaled(5000);
  std::atomic<long> ran{0};
  goro::run([&] {
    goro::wait_group wg;
    // The spawners count too: a spawner still testing `i < per` after its
    // last go() must not outlive this frame (TSan saw the next test's
    // frame written over `per` while a spawner of this one read it).
    wg.add(spawners * per + spawners);
    for (int s = 0; s < spawners; s++)
      goro::go([&] {
        for (int i = 0; i < per; i++)
          goro::go([&] {
            ran++;
            wg.done();
          });
        wg.done();
      });
    wg.wait();
  });
  EXPECT_EQ(ran.load(), spawners * per);
}

TEST_P(Stress, SpawnFromPlainThreads) {
  const int threads = 4, per = goro_test::scaled(2000);
  std::atomic<long> ran{0};
  goro::wait_group wg;
  wg.add(threads * per);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      for (int i = 0; i < per; i++)
        goro::go([&] {
          ran++;
          wg.done();
        });
    });
  wg.wait();
  for (auto& t : ts) t.join();
  EXPECT_EQ(ran.load(), threads * per);
}

void tree(int depth, std::atomic<long>& count, goro::wait_group& wg) {
  count++;
  if (depth > 0) {
    wg.add(2);
    goro::go([&, depth] { tree(depth - 1, count, wg); });
    goro::go([&, depth] { tree(depth - 1, count, wg); });
  }
  wg.done();
}

TEST_P(Stress, BinarySpawnTree) {
  const int depth = goro_test::kTsan ? 9 : goro_test::kSanitized ? 10 : 14;
  std::atomic<long> count{0};
  goro::run([&] {
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] { tree(depth, count, wg); });
    wg.wait();
  });
  EXPECT_EQ(count.load(), (1L << (depth + 1)) - 1);
}

// A ring of goroutines passing a token with wait_groups (each a one-shot
// park/ready): every hop is a park on one goroutine and a ready from
// another, often across Ps.
TEST_P(Stress, TokenRingOfParks) {
  const int n = 100, laps = goro_test::scaled(50);
  goro::run([&] {
    struct slot {
      goro::wait_group wg;
    };
    for (int lap = 0; lap < laps; lap++) {
      std::vector<std::unique_ptr<slot>> slots;
      for (int i = 0; i <= n; i++) {
        slots.push_back(std::make_unique<slot>());
        slots.back()->wg.add(1);
      }
      goro::wait_group all;
      all.add(n);
      for (int i = 0; i < n; i++)
        goro::go([&, i] {
          slots[i]->wg.wait();
          slots[i + 1]->wg.done();
          all.done();
        });
      slots[0]->wg.done();
      slots[n]->wg.wait();
      all.wait();
    }
  });
}

TEST_P(Stress, YieldStorm) {
  const int n = 16, yields = goro_test::scaled(2000);
  std::atomic<long> total{0};
  goro::run([&] {
    goro::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; i++)
      goro::go([&] {
        for (int k = 0; k < yields; k++) {
          total++;
          goro::yield();
        }
        wg.done();
      });
    wg.wait();
  });
  EXPECT_EQ(total.load(), static_cast<long>(n) * yields);
}

// Random mix of sleeps, yields, spawns and waits from goroutines and
// threads at once.
TEST_P(Stress, RandomMix) {
  const int workers = 32, steps = goro_test::scaled(300);
  std::atomic<long> done_steps{0};
  goro::run([&] {
    goro::wait_group wg;
    wg.add(workers);
    for (int w = 0; w < workers; w++)
      goro::go([&, w] {
        std::mt19937 rng(static_cast<unsigned>(w) * 7919u + static_cast<unsigned>(GetParam()));
        for (int s = 0; s < steps; s++) {
          switch (rng() % 4) {
            case 0: goro::yield(); break;
            case 1: goro::sleep_for(std::chrono::microseconds(rng() % 200)); break;
            case 2: {
              goro::wait_group child;
              child.add(1);
              goro::go([&] { child.done(); });
              child.wait();
              break;
            }
            case 3: break;
          }
          done_steps++;
        }
        wg.done();
      });
    std::thread t([&] {
      for (int i = 0; i < 100; i++) {
        goro::wait_group x;
        x.add(1);
        goro::go([&] { x.done(); });
        x.wait();
      }
    });
    wg.wait();
    t.join();
  });
  EXPECT_EQ(done_steps.load(), static_cast<long>(workers) * steps);
}

INSTANTIATE_TEST_SUITE_P(Procs, Stress, ::testing::Values(1, 2, 4));

// Many goroutines parked at once (the issue asks for a million; the bench
// measures that, this keeps the suite fast).
TEST(Scale, HundredThousandParked) {
  // TSan allows 8128 live threads, and counts each goroutine as one; 4,000
  // parked fibers took 88 s of the 120 s timeout on a busy machine.
  const int n = goro_test::kTsan ? 1000 : goro_test::kSanitized ? 4000 : 100000 * goro_test::stress_scale();
  goro::run([&] {
    goro::wait_group started, release, finished;
    started.add(n);
    release.add(1);
    finished.add(n);
    for (int i = 0; i < n; i++)
      goro::go([&] {
        started.done();
        release.wait();
        finished.done();
      });
    started.wait();
    EXPECT_GE(goro::num_goroutine(), n);
    release.done();
    finished.wait();
  });
}

}  // namespace
