// How a P is shared between goroutines that compute and goroutines that hand
// work back and forth, and what lowering maxprocs does to goroutines that
// never block: found by a review of the scheduler against Go (2026-12-07).
//
// Go shares a P by time slices: a goroutine taken from runnext continues
// the slice of the one that readied it, so a ping-pong pair shares one
// slice, and the slice ends after 10 ms when others wait. Goroutines that
// yield or are preempted wait in the global queue, which a busy P looks at
// every 61st slice. goro counts the same slices (p::slicetick) and keeps
// yielded goroutines in a yield queue of their own (sched_t::yieldq).
//
// No timing assertion: each test counts what happened between events the
// goroutines see themselves (round trips between two turns of the other
// goroutine, goroutines running at once).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "detach_off.hpp"
#include "goro/goro.hpp"
#include "sched/sched.hpp"
#include "test_util.hpp"

namespace {

// About a microsecond of work that the compiler cannot drop.
void chunk() {
  volatile unsigned x = 1;
  for (int i = 0; i < 300; i++) x = x * 3 + 1;
}

enum class third_kind {
  computes,       // chunks with goro::preempt_point() between them (asked to yield after 10 ms)
  yields_per_ms,  // computes for about a millisecond, then goro::yield()
};

// maxprocs 1: a ping-pong pair (a goroutine sends, its partner echoes) and
// a third goroutine on the one P. The third sees a turn of the pair as the
// round-trip count moving between two of its chunks; the median of the
// round trips per turn over 8 turns is returned.
//
// Before: the third goroutine went to the global queue when it yielded,
// and the P looked there every 61st switch, so the pair had about 30 round
// trips per turn and the third the rest of the time (10 ms slices when it
// computes): the review measured the pair at 2,069 round trips a second,
// Go's at 2.4 million. Now the pair's turn is a slice of its own.
uint64_t pair_round_trips_per_turn_of(third_kind kind) {
  goro::set_maxprocs(1);
  uint64_t median = 0;
  goro::run([kind, &median] {
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>();
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> trips{0};
    goro::wait_group wg;
    wg.add(2);
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        a.send(1);
        b.recv();
        trips.fetch_add(1, std::memory_order_relaxed);
      }
      a.send(0);
      wg.done();
    });
    goro::go([&] {
      while (a.recv() != 0) b.send(1);
      wg.done();
    });
    std::vector<uint64_t> per_turn;
    uint64_t seen = trips.load(std::memory_order_relaxed);
    auto turn_ended = [&] {
      uint64_t t = trips.load(std::memory_order_relaxed);
      if (t == seen) return false;
      per_turn.push_back(t - seen);
      seen = t;
      return true;
    };
    // The first turn counts from the pair's start: left out.
    while (per_turn.size() < 9) {
      if (kind == third_kind::computes) {
        chunk();
        goro::preempt_point();
        turn_ended();
      } else {
        for (int i = 0; i < 1000; i++) chunk();
        goro::yield();
        turn_ended();
      }
    }
    stop.store(true);
    wg.wait();
    per_turn.erase(per_turn.begin());
    std::sort(per_turn.begin(), per_turn.end());
    median = per_turn[per_turn.size() / 2];
    std::printf("pair round trips per turn of the third goroutine: median %llu (min %llu, max %llu)\n",
                static_cast<unsigned long long>(median), static_cast<unsigned long long>(per_turn.front()),
                static_cast<unsigned long long>(per_turn.back()));
  });
  return median;
}

// Round trips in a pair's turn. A turn of 61 slices (before: of 61
// switches) is at least 61 round trips; a 10 ms slice (the third
// computes) is tens of thousands here, thousands under the sanitizers.
// Debug and sanitizer builds send a quarter of the readied goroutines
// through the global queue (forced migration), each such detour a new
// slice, so a 61-slice turn there is some 120 round trips (97-149 in an
// ASan build): 60 tells both from the 30 before (exactly 30, in every
// build: 61 switches).
constexpr uint64_t kAtLeast = 60;


TEST(Fairness, APingPongPairBesideAComputingGoroutineGetsTurnsOfItsOwn) {
  goro_test::detach_off no_rescue;
  EXPECT_GE(pair_round_trips_per_turn_of(third_kind::computes), kAtLeast);
}

// Go's Gosched: the yielder waits in the global queue while the P has
// other work, for up to 61 slices or until a slice ends after 10 ms. Before,
// it had the P back after 61 switches (the review: 992 of its 1 ms turns a
// second against the pair's 29,760 round trips; Go's yielder got 15).
TEST(Fairness, AGoroutineThatYieldsWaitsForThePairsTurn) {
  goro_test::detach_off no_rescue;
  EXPECT_GE(pair_round_trips_per_turn_of(third_kind::yields_per_ms), kAtLeast);
}

// Two goroutines compute with goro::preempt_point() as their only safe
// point, maxprocs 2; a plain thread lowers it to 1. The second P must be
// given back: the goroutines' safe points now yield when a P is over the
// budget, and no two chunks run at once from then on. Before, nothing asked
// them to yield (only a blocking goroutine passed the scheduler, where a P
// over the budget is given back): both ran on, maxprocs() said 1, and 5-7
// million chunks a second overlapped (Go stops the world to resize).
TEST(Maxprocs, LoweringItStopsGoroutinesThatNeverBlock) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(2);
  goro::run([] {
    std::atomic<bool> stop{false};
    std::atomic<int> inside{0};
    std::atomic<uint64_t> overlaps{0}, chunks{0};
    goro::wait_group wg;
    for (int i = 0; i < 2; i++) {
      wg.add(1);
      goro::go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          if (inside.fetch_add(1) == 1) overlaps.fetch_add(1, std::memory_order_relaxed);
          chunk();
          inside.fetch_sub(1);
          chunks.fetch_add(1, std::memory_order_relaxed);
          goro::preempt_point();
        }
        wg.done();
      });
    }
    bool lowered = false;
    goro::blocking([&] {
      // Both computing on their own Ps first.
      goro_test::spin_until([&] { return overlaps.load() > 0; });
      goro::set_maxprocs(1);
      lowered = goro_test::spin_until([] { return goro::detail::p_active_count() <= 1; }, std::chrono::seconds(20));
      // A goroutine may have seen an overlap just before the other P went
      // and be about to count it: let the running one finish a few more
      // chunks first (1 run in 120 beside two CPU hogs counted one then).
      uint64_t c_mid = chunks.load();
      goro_test::spin_until([&] { return chunks.load() >= c_mid + 1000; }, std::chrono::seconds(20));
      uint64_t from = overlaps.load(), c0 = chunks.load();
      goro_test::spin_until([&] { return chunks.load() >= c0 + 200000; }, std::chrono::seconds(20));
      EXPECT_EQ(overlaps.load(), from) << "chunks ran at once with maxprocs 1";
    });
    EXPECT_TRUE(lowered) << "the second P was never given back";
    stop.store(true);
    wg.wait();
  });
}

// The yield queue under load, at maxprocs 1, 2 and 4: goroutines that
// yield in loops, a spawner that fills its P's queue (until 2026-12-07
// its go() then yielded), spawned goroutines that yield, a ping-pong
// pair, and a goroutine lowering and raising maxprocs meanwhile. Every yield returns, every
// spawned goroutine runs once, the pair finishes: no goroutine is lost in
// or run twice from the queue, and none waits there for good.
TEST(Fairness, YieldQueueLosesNothingUnderLoad) {
  const int yielders = goro_test::scaled(40, 4), yields_each = goro_test::scaled(500, 10);
  const int spawned = goro_test::scaled(3000, 10), trips = goro_test::scaled(20000, 10);
  goro_test::for_procs([=] {
    const int procs = goro::maxprocs();
    std::atomic<int> yields{0}, ran{0};
    goro::wait_group wg;
    for (int i = 0; i < yielders; i++) {
      wg.add(1);
      goro::go([&] {
        for (int k = 0; k < yields_each; k++) {
          goro::yield();
          yields.fetch_add(1, std::memory_order_relaxed);
        }
        wg.done();
      });
    }
    wg.add(1);
    goro::go([&] {
      for (int i = 0; i < spawned; i++) {
        wg.add(1);
        goro::go([&] {
          goro::yield();
          goro::yield();
          ran.fetch_add(1, std::memory_order_relaxed);
          wg.done();
        });
      }
      wg.done();
    });
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>();
    wg.add(2);
    goro::go([&] {
      for (int i = 0; i < trips; i++) {
        a.send(i);
        EXPECT_EQ(b.recv(), i);
      }
      wg.done();
    });
    goro::go([&] {
      for (int i = 0; i < trips; i++) b.send(a.recv());
      wg.done();
    });
    wg.add(1);
    goro::go([&] {
      for (int i = 0; i < 10; i++) {
        goro::set_maxprocs(1 + i % procs);
        for (int k = 0; k < 100; k++) goro::yield();
      }
      goro::set_maxprocs(procs);
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(yields.load(), yielders * yields_each);
    EXPECT_EQ(ran.load(), spawned);
    EXPECT_EQ(goro::maxprocs(), procs);
  });
}

// A P with nothing else to run takes a share of the yield queue into its
// ring, as Go's takes a batch of its global queue, where Gosched puts its
// goroutines: so goroutines yielding in a loop find the next one in the
// ring, and each yield takes sched.lock once (to enter the queue), not
// twice. Before, the P took one yielded goroutine at a time and its ring
// stayed empty (4 goroutines yielding on 2 Ps made 1.8-2.2 M yields a
// second, the two workers fighting over the lock; Go 4.8-5.5 M). At
// maxprocs 1, four goroutines yield 1,000 times each; after a yield one
// of them must see others queued in its P's ring.
// The goroutine's P's ring length, read from the runtime's records. Not
// instrumented under TSan: the m record was allocated by another thread,
// and nothing the memory model promises orders that allocation before a
// goroutine that reads it (TSan reported the read as a race with operator
// new, in one CI rehearsal); the runtime itself is not instrumented.
__attribute__((no_sanitize("thread")))
uint32_t own_ring_length() {
  return goro::detail::runq_len(goro::detail::current_m()->pp);
}

TEST(Fairness, YieldedGoroutinesAreTakenFromTheQueueInBatches) {
  const int old = goro::set_maxprocs(1);
  goro::run([] {
    std::atomic<uint32_t> most_queued{0};
    goro::wait_group wg;
    for (int i = 0; i < 4; i++) {
      wg.add(1);
      goro::go([&] {
        for (int k = 0; k < 1000; k++) {
          goro::yield();
          uint32_t queued = own_ring_length();
          if (queued > most_queued.load(std::memory_order_relaxed)) most_queued.store(queued);
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_GT(most_queued.load(), 0u) << "no yielded goroutine was ever in the ring";
  });
  goro::set_maxprocs(old);
}

}  // namespace
