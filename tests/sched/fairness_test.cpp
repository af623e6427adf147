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
#include <climits>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
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

// goro::yield() keeps the goroutine on its P (its P's yield list,
// sched/runq.hpp), so a yield writes no line another worker uses. Before,
// every yield went through the global yield queue under sched.lock, and
// the next free P took it: four goroutines yielding in a loop on 2 Ps made
// 8-11 M yields a second, the two workers fighting over the lock's line
// (Go's Gosched 16-21 M on this machine), and 22-42% of the yields
// resumed on the other P; now 43-75 M, and a handful of yields in 80,000
// move. Counted: yields after which the goroutine runs on another P, in a
// round where the four ran on both Ps (a round on one P, the other never
// woken, proves nothing and is run again).
TEST(Fairness, AYieldingGoroutineStaysOnItsP) {
  const int old = goro::set_maxprocs(2);
  goro::run([] {
    constexpr int kGoroutines = 4, kYields = 20000;
    for (int round = 0; round < 20; round++) {
      std::atomic<long> moves{0};
      std::atomic<unsigned> ps_seen{0};
      goro::wait_group wg;
      for (int i = 0; i < kGoroutines; i++) {
        wg.add(1);
        goro::go([&] {
          long moved = 0;
          unsigned seen = 0;
          for (int k = 0; k < kYields; k++) {
            int32_t before = goro::detail::current_p_id();
            goro::yield();
            int32_t after = goro::detail::current_p_id();
            if (after != before) moved++;
            seen |= 1u << after;
          }
          moves += moved;
          ps_seen |= seen;
          wg.done();
        });
      }
      wg.wait();
      if (__builtin_popcount(ps_seen.load()) < 2) continue;
      EXPECT_LT(moves.load(), kGoroutines * kYields / 20) << "yields resumed on the other P";
      return;
    }
    ADD_FAILURE() << "the goroutines never ran on both Ps";
  });
  goro::set_maxprocs(old);
}

// Yielders stay on their P, so the Ps even their yield lists out every 61
// switches (runq_balance_yielded). Here one goroutine yields in a loop on
// a P of its own, and five more are started on the other while it does:
// the lone one's P, never idle, never steals. Without the balancing the
// five stay on their P for good, sharing one core while the lone one has
// the other; with it they spread three and three. (Go's global queue mixes
// them at every Gosched.) Counted: how many of the five have run on the
// lone one's P by the time it has yielded 200,000 more times; not CPU
// shares, which the machine's other load moves.
TEST(Fairness, YieldersCrowdedOnOnePAreSpreadOverThePs) {
  const int old = goro::set_maxprocs(2);
  goro::run([] {
    struct alignas(64) padded_count {
      std::atomic<long> n{0};
    };
    std::atomic<bool> stop{false};
    std::atomic<int32_t> lone_p{-1};
    std::atomic<long> lone_target{LONG_MAX};
    std::atomic<unsigned> ran_beside_lone{0};
    padded_count counts[6];
    goro::wait_group wg, lone_done;
    lone_done.add(1);
    auto yielder = [&](int i) {
      goro::go([&, i] {
        bool signalled = false;
        while (!stop.load(std::memory_order_relaxed)) {
          int32_t p = goro::detail::current_p_id();
          if (i == 0) {
            lone_p.store(p, std::memory_order_relaxed);
          } else if (p == lone_p.load(std::memory_order_relaxed)) {
            ran_beside_lone.fetch_or(1u << i, std::memory_order_relaxed);
          }
          goro::yield();
          long n = counts[i].n.fetch_add(1, std::memory_order_relaxed) + 1;
          if (i == 0 && !signalled && n >= lone_target.load(std::memory_order_relaxed)) {
            signalled = true;
            lone_done.done();
          }
        }
        wg.done();
      });
    };
    wg.add(6);
    yielder(0);
    // The lone yielder running on the other P than this goroutine's: the
    // five below start on this one, which then parks.
    while (lone_p.load() < 0 || lone_p.load() == goro::detail::current_p_id()) goro::yield();
    for (int i = 1; i < 6; i++) yielder(i);
    const long from = counts[0].n.load();
    lone_target.store(from + 200000);
    lone_done.wait();
    const int spread = __builtin_popcount(ran_beside_lone.load());
    long fewest = counts[1].n.load();
    for (int i = 2; i < 6; i++) fewest = std::min(fewest, counts[i].n.load());
    const long lone = counts[0].n.load() - from;
    stop.store(true);
    wg.wait();
    std::printf("%d of the five ran on the lone yielder's P; it yielded %ld times, the fewest of the five %ld\n",
                spread, lone, fewest);
    EXPECT_GE(spread, 2) << "the five stayed crowded on one P";
  });
  goro::set_maxprocs(old);
}

// Two goroutines yielding in turn on one P, and the other P goes idle
// (its lone goroutine ends): the idle P must take one of them. Yielders
// stay on their P, so only the idle P's look at the other's yield list
// (runq_steal) moves one: without it the pair shares a core beside an idle
// one for good (2 of 3 runs failed with that look taken out; the third
// picked the wrong goroutine as the lone one, which proves nothing). Three
// goroutines yield in a loop on 2 Ps; the one alone on its P ends; the
// other two must then run on different Ps.
TEST(Fairness, YieldersSharingAPBesideAnIdleOneAreSplit) {
  const int old = goro::set_maxprocs(2);
  goro::run([] {
    std::atomic<bool> stop{false};
    std::atomic<int> leave{-1};
    std::atomic<int32_t> ps[3] = {-1, -1, -1};
    std::atomic<bool> left_flag{false};
    auto left_flag_wait = [](std::atomic<bool>& f) { goro_test::spin_until([&] { return f.load(); }); };
    goro::wait_group wg;
    wg.add(3);
    for (int i = 0; i < 3; i++) {
      goro::go([&, i] {
        while (!stop.load(std::memory_order_relaxed)) {
          ps[i].store(goro::detail::current_p_id(), std::memory_order_relaxed);
          if (leave.load(std::memory_order_relaxed) == i) break;
          goro::yield();
        }
        if (leave.load() == i) left_flag.store(true);
        wg.done();
      });
    }
    // Watched from a plain thread while this goroutine parks: a timer
    // here (a sleeping poll) would wake the idle P and hide the fault.
    bool placed = false, split = false;
    goro::wait_group watched;
    watched.add(1);
    std::thread watcher([&] {
      // Placed two and one (the Ps even their lists out).
      int lone = -1;
      placed = goro_test::spin_until([&] {
        int32_t a = ps[0].load(), b = ps[1].load(), c = ps[2].load();
        if (a < 0 || b < 0 || c < 0) return false;
        lone = a != b && a != c ? 0 : b != a && b != c ? 1 : c != a && c != b ? 2 : -1;
        return lone >= 0;
      }, std::chrono::seconds(20));
      if (placed) {
        const int j = (lone + 1) % 3, k = (lone + 2) % 3;
        leave.store(lone);
        left_flag_wait(left_flag);
        ps[j].store(-1);
        ps[k].store(-1);
        split = goro_test::spin_until([&] {
          int32_t a = ps[j].load(), b = ps[k].load();
          return a >= 0 && b >= 0 && a != b;
        }, std::chrono::seconds(20));
      }
      stop.store(true);
      watched.done();
    });
    watched.wait();
    wg.wait();
    watcher.join();
    ASSERT_TRUE(placed) << "three yielders never spread over the two Ps";
    EXPECT_TRUE(split) << "two yielders shared a P beside an idle one";
  });
  goro::set_maxprocs(old);
}

}  // namespace
