// goro::select: choice, fairness, default, nil channels, duplicates, no
// trace left behind, send on closed, timeouts, the runtime-sized form.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/debug.hpp"
#include "goro/goro.hpp"
#include "goro/select.hpp"
#include "sched/detach_off.hpp"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

using goro_test::for_procs;

TEST(Select, DefaultOnlyWhenNothingReady) {
  goro::run([] {
    auto a = goro::make_chan<int>(), b = goro::make_chan<int>(1);
    bool def = false;
    int i = goro::select(goro::on_recv(a), goro::on_recv(b), goro::on_default([&] { def = true; }));
    EXPECT_EQ(i, 2);
    EXPECT_TRUE(def);
    b.send(5);
    int got = 0;
    i = goro::select(goro::on_recv(a), goro::on_recv(b, [&](int v, bool ok) { got = ok ? v : -1; }),
                     goro::on_default());
    EXPECT_EQ(i, 1);
    EXPECT_EQ(got, 5);
    // A send case with room is ready.
    i = goro::select(goro::on_send(b, 6), goro::on_default());
    EXPECT_EQ(i, 0);
    EXPECT_EQ(b.recv(), 6);
  });
}

TEST(Select, NilChannelsNeverChosen) {
  goro::run([] {
    goro::chan<int> nil;
    auto c = goro::make_chan<int>(1);
    c.send(1);
    for (int k = 0; k < 100; k++) {
      int i = goro::select(goro::on_recv(nil), goro::on_send(nil, 1), goro::on_recv(c, [&](int v) { c.send(v); }));
      EXPECT_EQ(i, 2);
    }
    EXPECT_EQ(goro::select(goro::on_recv(nil), goro::on_default()), 1);
  });
}

TEST(Select, UniformAmongReadyCases) {
  // Go's TestSelectFairness spirit: 4 always-ready channels; each case
  // should win about a quarter of the time (tolerance: 25% +- 7%).
  for_procs([] {
    std::array<goro::chan<int>, 4> cs;
    for (auto& c : cs) {
      c = goro::make_chan<int>(1);
      c.send(0);
    }
    std::array<int, 4> hits{};
    const int n = 8000;
    for (int k = 0; k < n; k++) {
      auto refill = [&](int idx) { return [&, idx](int v) { cs[idx].send(v); }; };
      int i = goro::select(goro::on_recv(cs[0], refill(0)), goro::on_recv(cs[1], refill(1)),
                           goro::on_recv(cs[2], refill(2)), goro::on_recv(cs[3], refill(3)));
      hits[i]++;
    }
    for (int h : hits) {
      EXPECT_GT(h, n * 18 / 100);
      EXPECT_LT(h, n * 32 / 100);
    }
  });
}

// The poll order is drawn differently by size (a permutation table up to 5
// cases, Fisher-Yates above, a heap buffer above 16): at every size, with
// nil and not-ready cases mixed in at random places, each ready case must
// win 1/r of the selects (tolerance +-15%, about 8 standard deviations).
TEST(Select, UniformAmongReadyCasesAtEverySizeWithNilAndBlockedCases) {
  std::mt19937 rng(2026);
  for (int n : {2, 3, 4, 5, 6, 7, 9, 16, 17, 24}) {
    std::vector<goro::chan<int>> cs(n);
    std::vector<int> ready;
    while (ready.size() < 2) {
      ready.clear();
      for (int i = 0; i < n; i++) {
        switch (rng() % 3) {
          case 0:  // nil
            cs[i] = goro::chan<int>{};
            break;
          case 1:  // never ready
            cs[i] = goro::make_chan<int>(1);
            break;
          default:
            cs[i] = goro::make_chan<int>(1);
            cs[i].send(i);
            ready.push_back(i);
        }
      }
    }
    std::vector<int> hits(n, 0);
    const int trials = 3000 * static_cast<int>(ready.size());
    goro::run([&] {
      for (int t = 0; t < trials; t++) {
        std::vector<goro::select_case> cases;
        for (int i = 0; i < n; i++) cases.push_back(goro::on_recv(cs[i], [&, i](int v) { cs[i].send(v); }));
        hits[goro::select(cases)]++;
      }
    });
    for (int i = 0; i < n; i++) {
      bool is_ready = std::find(ready.begin(), ready.end(), i) != ready.end();
      if (!is_ready) {
        EXPECT_EQ(hits[i], 0) << "n=" << n << " case " << i;
        continue;
      }
      EXPECT_GT(hits[i], 3000 * 85 / 100) << "n=" << n << " case " << i;
      EXPECT_LT(hits[i], 3000 * 115 / 100) << "n=" << n << " case " << i;
    }
  }
}

TEST(Select, SameChannelTwice) {
  for_procs([] {
    auto c = goro::make_chan<int>();
    goro::go([=]() mutable {
      for (int i = 0; i < 1000; i++) c.send(i);
      c.close();
    });
    int sum = 0, first = 0, second = 0;
    for (;;) {
      bool closed = false;
      int i = goro::select(goro::on_recv(c, [&](int v, bool ok) { closed = !ok; sum += v; }),
                           goro::on_recv(c, [&](int v, bool ok) { closed = !ok; sum += v; }));
      (i == 0 ? first : second)++;
      if (closed) break;
    }
    EXPECT_EQ(sum, 999 * 1000 / 2);
    EXPECT_GT(first, 300);
    EXPECT_GT(second, 300);
  });
}

TEST(Select, SendAndRecvSameChannelDoNotMeet) {
  // Go's TestSelfSelect: two goroutines select send and receive on one
  // channel; a select must never pair with itself.
  for_procs([] {
    for (int cap : {0, 10}) {
      auto c = goro::make_chan<int>(cap);
      goro::wait_group wg;
      for (int p = 0; p < 2; p++) {
        wg.add(1);
        goro::go([=, &wg]() mutable {
          for (int i = 0; i < 1000; i++) {
            if ((p == 0) == (i % 2 == 0)) {
              goro::select(goro::on_send(c, p), goro::on_recv(c, [&](int v) {
                             if (cap == 0) { EXPECT_NE(v, p) << "self-select"; }
                           }));
            } else {
              goro::select(goro::on_recv(c, [&](int v) {
                             if (cap == 0) { EXPECT_NE(v, p) << "self-select"; }
                           }),
                           goro::on_send(c, p));
            }
          }
          wg.done();
        });
      }
      wg.wait();
    }
  });
}

// Go's closechan wakes the receivers before the senders, so a select
// parked on both sides of an unbuffered channel that gets closed returns
// its receive (zero value, ok false), not a panic. goro woke the senders
// first: the select's send case won and threw "send on closed channel".
TEST(Select, CloseWakesAParkedSendAndReceiveSelectWithTheReceive) {
  for_procs([] {
    for (int order = 0; order < 2; order++) {
      auto c = goro::make_chan<int>();
      std::atomic<uint64_t> id{0};
      auto result = goro::make_chan<int>(1);  // 1: the receive, closed; 0: the send; -1: a panic
      goro::go([=, &id] {
        id = goro::goroutine_id();
        try {
          int got = -2;
          if (order == 0)
            goro::select(goro::on_send(c, 7), goro::on_recv(c, [&](int v, bool ok) { got = ok ? -3 : v + 1; }));
          else
            goro::select(goro::on_recv(c, [&](int v, bool ok) { got = ok ? -3 : v + 1; }), goro::on_send(c, 7));
          result.send(got == -2 ? 0 : got);
        } catch (const goro::panic_error&) {
          result.send(-1);
        }
      });
      ASSERT_TRUE(goro_test::wait_for([&] {
        for (const auto& g : goro::debug::goroutines())
          if (g.id == id.load() && g.state == goro::debug::goroutine_state::waiting) return g.wait_reason == "select";
        return false;
      }));
      c.close();
      EXPECT_EQ(result.recv(), 1) << "order " << order << " (-1: the send case panicked)";
    }
  });
}

TEST(Select, BlockedSelectLeavesNoTrace) {
  for_procs([] {
    auto a = goro::make_chan<int>(), b = goro::make_chan<int>();
    auto done = goro::make_chan<int>(1);
    goro::go([=]() mutable {
      int i = goro::select(goro::on_recv(a), goro::on_recv(b));
      done.send(i);
    });
    goro::sleep_for(2ms);
    a.send(1);
    EXPECT_EQ(done.recv(), 0);
    // The select is gone from b's queue: nobody is receiving on b.
    EXPECT_FALSE(b.try_send(2));
    EXPECT_FALSE(a.try_send(2));
  });
}

TEST(Select, WakesOnExactlyOneCase) {
  // Many selects blocked on a and b; a sender on each must be matched with
  // a distinct select (the other case must not also fire).
  for_procs([] {
    auto a = goro::make_chan<int>(), b = goro::make_chan<int>();
    auto out = goro::make_chan<int>(100);
    const int n = 50;
    for (int i = 0; i < n; i++) {
      goro::go([=]() mutable {
        int got = -1;
        goro::select(goro::on_recv(a, [&](int v) { got = v; }), goro::on_recv(b, [&](int v) { got = v; }));
        out.send(got);
      });
    }
    for (int i = 0; i < n / 2; i++) {
      a.send(i);
      b.send(1000 + i);
    }
    long sum = 0;
    for (int i = 0; i < n; i++) sum += out.recv();
    EXPECT_EQ(sum, long(n / 2) * (n / 2 - 1) / 2 * 2 + 1000L * (n / 2));
    EXPECT_FALSE(a.try_send(0));
    EXPECT_FALSE(b.try_send(0));
  });
}

TEST(Select, SendOnClosedPanics) {
  goro::run([] {
    auto c = goro::make_chan<int>(1);
    c.close();
    try {
      goro::select(goro::on_send(c, 1));
      ADD_FAILURE();
    } catch (const goro::panic_error& e) {
      EXPECT_STREQ(e.what(), "send on closed channel");
    }
    // A blocked select send case panics when the channel is closed.
    auto u = goro::make_chan<int>();
    auto res = goro::make_chan<std::string>(1);
    goro::go([=]() mutable {
      try {
        goro::select(goro::on_send(u, 1));
        res.send("sent");
      } catch (const goro::panic_error& e) {
        res.send(e.what());
      }
    });
    goro::sleep_for(2ms);
    u.close();
    EXPECT_EQ(res.recv(), "send on closed channel");
  });
}

TEST(Select, RecvClosedGivesZeroAndNotOk) {
  goro::run([] {
    auto c = goro::make_chan<std::unique_ptr<int>>();
    goro::go([=]() mutable {
      goro::sleep_for(1ms);
      c.close();
    });
    bool ok = true;
    bool null = false;
    goro::select(goro::on_recv(c, [&](std::unique_ptr<int> p, bool k) {
      ok = k;
      null = !p;
    }));
    EXPECT_FALSE(ok);
    EXPECT_TRUE(null);
  });
}

TEST(Select, SendCaseMovesOnlyWhenChosen) {
  goro::run([] {
    auto full = goro::make_chan<std::unique_ptr<int>>();
    auto p = std::make_unique<int>(1);
    EXPECT_EQ(goro::select(goro::on_send(full, std::move(p)), goro::on_default()), 1);
    EXPECT_TRUE(p);
    auto room = goro::make_chan<std::unique_ptr<int>>(1);
    EXPECT_EQ(goro::select(goro::on_send(full, std::move(p)), goro::on_send(room, std::move(p))), 1);
    EXPECT_FALSE(p);
    EXPECT_EQ(*room.recv(), 1);
  });
}

TEST(Select, HandlersRunWithoutLocks) {
  goro::run([] {
    auto c = goro::make_chan<int>(1);
    c.send(1);
    // The handler uses the same channel again: would deadlock if locked.
    goro::select(goro::on_recv(c, [&](int v) { c.send(v + 1); }));
    EXPECT_EQ(c.recv(), 2);
  });
}

TEST(Select, TimeoutWithAfter) {
  for_procs([] {
    auto never = goro::make_chan<int>();
    auto t0 = std::chrono::steady_clock::now();
    int i = goro::select(goro::on_recv(never), goro::on_recv(goro::after(3ms)));
    EXPECT_EQ(i, 1);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 3ms);
  });
}

TEST(Select, RuntimeSizedList) {
  for_procs([] {
    std::vector<goro::chan<int>> ins;
    for (int i = 0; i < 20; i++) ins.push_back(goro::make_chan<int>(i % 2));
    for (int i = 0; i < 20; i++) {
      goro::go([c = ins[i], i]() mutable {
        c.send(i);
        c.close();
      });
    }
    long sum = 0;
    int open = 20;
    std::vector<goro::chan<int>> live = ins;
    while (open > 0) {
      std::vector<goro::select_case> cases;
      for (auto& c : live) {
        cases.push_back(goro::on_recv(c, [&, &ch = c](int v, bool ok) {
          if (ok) {
            sum += v;
          } else {
            ch = goro::chan<int>{};  // disable it, as Go programs set a channel to nil
            open--;
          }
        }));
      }
      goro::select(cases);
    }
    EXPECT_EQ(sum, 19 * 20 / 2);
    std::vector<goro::select_case> cases;
    auto c = goro::make_chan<int>(1);
    cases.push_back(goro::on_send(c, 3));
    cases.push_back(goro::on_default());
    EXPECT_EQ(goro::select(cases), 0);
    EXPECT_EQ(goro::select(cases), 1);  // now full: default
    cases.push_back(goro::on_default());
    EXPECT_THROW(goro::select(cases), goro::panic_error);
  });
}

// Go's reflect.Select takes up to 65,536 cases, which goro's 16-bit case
// indices cover, and panics above that. goro ended the program at 65,536
// (a runtime check) before, inside a try for goro::panic_error too.
TEST(Select, RuntimeSizedListOf65536CasesAndNoMore) {
  goro::run([] {
    auto c = goro::make_chan<int>(1);
    c.send(5);
    int got = -1;
    std::vector<goro::select_case> cases;
    for (int i = 0; i < 65536; i++) cases.push_back(goro::on_recv(c, [&](int v) { got = v; }));
    int chosen = goro::select(cases);
    EXPECT_GE(chosen, 0);
    EXPECT_LT(chosen, 65536);
    EXPECT_EQ(got, 5);
    cases.push_back(goro::on_recv(c));
    try {
      goro::select(cases);
      ADD_FAILURE() << "65,537 cases were taken";
    } catch (const goro::panic_error& e) {
      EXPECT_STREQ(e.what(), "reflect.Select: too many cases (max 65536)");
    }
  });
}

// A list of cases may be run again, as a []reflect.SelectCase is: a send
// case sends the same value each time. The second select sent the empty
// moved-from string before. A move-only value is sent once; using its
// case again throws.
TEST(Select, ARuntimeSizedListSendsTheSameValueEachTime) {
  goro::run([] {
    const std::string text = "hello, a value longer than the small-string buffer";
    auto c = goro::make_chan<std::string>(2);
    std::vector<goro::select_case> cases;
    cases.push_back(goro::on_send(c, std::string(text)));
    EXPECT_EQ(goro::select(cases), 0);
    EXPECT_EQ(goro::select(cases), 0);
    EXPECT_EQ(c.recv(), text);
    EXPECT_EQ(c.recv(), text);

    auto m = goro::make_chan<std::unique_ptr<int>>(2);
    std::vector<goro::select_case> once;
    once.push_back(goro::on_send(m, std::make_unique<int>(7)));
    EXPECT_EQ(goro::select(once), 0);
    EXPECT_THROW(goro::select(once), std::logic_error);
    EXPECT_EQ(m.len(), 1);
    EXPECT_EQ(*m.recv(), 7);

    // A container of move-only values claims a copy constructor it cannot
    // instantiate: it is sent once, as a move-only value (and compiles).
    using boxes = std::vector<std::unique_ptr<int>>;
    auto b = goro::make_chan<boxes>(2);
    boxes v;
    v.push_back(std::make_unique<int>(8));
    std::vector<goro::select_case> once_more;
    once_more.push_back(goro::on_send(b, std::move(v)));
    EXPECT_EQ(goro::select(once_more), 0);
    EXPECT_THROW(goro::select(once_more), std::logic_error);
    EXPECT_EQ(*b.recv().at(0), 8);
  });
}

TEST(Select, FromPlainThreads) {
  auto a = goro::make_chan<int>(), b = goro::make_chan<int>();
  const int n = 2000;
  std::thread t1([&] {
    for (int i = 0; i < n; i++) a.send(1);
  });
  std::thread t2([&] {
    for (int i = 0; i < n; i++) b.send(2);
  });
  long sum = 0;
  for (int i = 0; i < 2 * n; i++) goro::select(goro::on_recv(a, [&](int v) { sum += v; }), goro::on_recv(b, [&](int v) { sum += v; }));
  t1.join();
  t2.join();
  EXPECT_EQ(sum, 3L * n);
}

// A select is a safe point, as a send or receive is: a loop of selects
// that never park (a ready case, or a default) yields when the monitor
// asks, so the goroutines queued behind it on its P run. Before, only a
// select that went around a second time checked (found by a review of the
// docs, 2026-12-06), and such a loop on the only P stranded them (the
// monitor's detach, off here, is the only other rescue). Two tests: a
// failed first one's go() (a safe point) would rescue the second.
// Runs select(one_round) on the only P, detach off, until a goroutine
// queued behind it has run (10 s bound): true if it ran.
template <class Round>
bool select_loop_lets_the_queued_one_run(Round one_round) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(1);
  bool ran = false;
  goro::run([&] {
    std::atomic<bool> other_ran{false};
    goro::go([&other_ran] { other_ran.store(true); });
    auto start = std::chrono::steady_clock::now();
    while (!other_ran.load() && std::chrono::steady_clock::now() - start < 10s) one_round();
    ran = other_ran.load();
  });
  goro::set_maxprocs(2);
  return ran;
}

TEST(Select, LoopWithAReadyCaseYieldsWhenAsked) {
  auto closed = goro::make_chan<int>();  // always ready: a receive from it never waits
  closed.close();
  auto empty = goro::make_chan<int>();
  EXPECT_TRUE(select_loop_lets_the_queued_one_run([&] { goro::select(goro::on_recv(closed), goro::on_recv(empty)); }))
      << "a loop of selects with a ready case never yielded";
}

TEST(Select, LoopWithADefaultYieldsWhenAsked) {
  auto empty = goro::make_chan<int>();
  EXPECT_TRUE(select_loop_lets_the_queued_one_run([&] { goro::select(goro::on_recv(empty), goro::on_default([] {})); }))
      << "a loop of selects with a default never yielded";
}

}  // namespace
