// goro::context: the semantics of Go's context tests (src/context/
// context_test.go, x_test.go, afterfunc_test.go), ported: propagation to
// descendants, a parent already done, deadlines and timeouts, causes,
// AfterFunc and its stop, WithoutCancel, values through the chain, err and
// cause before and after cancel. Tests wait on conditions (done channels),
// never on time; the only timing check is "not before the deadline".
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/test_hooks.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::for_procs;

namespace {

inline constexpr goro::context_key<int> key1;
inline constexpr goro::context_key<int> key2;
inline constexpr goro::context_key<std::string> key3;

// Whether ctx.done() is closed now (a select with default, as Go's tests'
// `select { case <-c.Done(): ... default: }`).
bool is_done(const goro::context& ctx) {
  return goro::select(goro::case_recv(ctx.done()), goro::case_default()).index() == 0;
}

TEST(Errc, MessagesAndCategory) {
  std::error_code c = goro::errc::canceled;
  std::error_code d = goro::errc::deadline_exceeded;
  EXPECT_EQ(c.message(), "context canceled");
  EXPECT_EQ(d.message(), "context deadline exceeded");
  EXPECT_STREQ(c.category().name(), "goro");
  EXPECT_EQ(c, goro::errc::canceled);
  EXPECT_NE(c, d);
  EXPECT_TRUE(c);
}

TEST(Context, BackgroundAndTodo) {
  for (goro::context ctx : {goro::background(), goro::todo(), goro::context{}}) {
    EXPECT_FALSE(ctx.err());
    EXPECT_FALSE(goro::cause(ctx));
    EXPECT_FALSE(ctx.deadline().has_value());
    EXPECT_TRUE(ctx.done().is_nil());  // Go's nil Done: blocks forever
    EXPECT_FALSE(is_done(ctx));
    EXPECT_EQ(ctx.value(key1), nullptr);
  }
}

// Go's TestWithCancel: a chain of cancel contexts; cancelling the middle
// one cancels it and its child, not its parent.
TEST(Context, WithCancelPropagates) {
  for_procs([] {
    auto [c1, cancel1] = goro::with_cancel(goro::background());
    auto o = goro::with_value(c1, key1, 1);
    auto [c2, cancel2] = goro::with_cancel(o);
    auto [c3, cancel3] = goro::with_cancel(c2);
    std::vector<goro::context> all{c1, o, c2, c3};
    for (auto& c : all) {
      EXPECT_FALSE(c.err());
      EXPECT_FALSE(is_done(c));
    }
    EXPECT_EQ(goro::detail::context_child_count(c1), 1);  // c2 (through o)
    cancel2();
    EXPECT_FALSE(c1.err());
    EXPECT_FALSE(is_done(c1));
    EXPECT_FALSE(is_done(o));
    EXPECT_EQ(c2.err(), goro::errc::canceled);
    EXPECT_EQ(c3.err(), goro::errc::canceled);
    EXPECT_TRUE(is_done(c2));
    EXPECT_TRUE(is_done(c3));
    EXPECT_EQ(goro::detail::context_child_count(c1), 0);  // c2 detached itself
    cancel1();
    EXPECT_EQ(c1.err(), goro::errc::canceled);
    EXPECT_EQ(o.err(), goro::errc::canceled);
    EXPECT_TRUE(is_done(o));
    cancel3();  // later calls do nothing
    cancel1();
    EXPECT_EQ(c3.err(), goro::errc::canceled);
  });
}

// Parent cancelled while children are blocked on done() in goroutines.
TEST(Context, CancelWakesWaitersEverywhere) {
  for_procs([] {
    auto [parent, cancel] = goro::with_cancel(goro::background());
    constexpr int kN = 50;
    goro::wait_group wg;
    std::atomic<int> woke{0};
    std::vector<goro::cancel_func> cancels;
    for (int i = 0; i < kN; i++) {
      auto [child, cc] = goro::with_cancel(parent);
      cancels.push_back(cc);
      wg.go([child = child, &woke] {
        child.done().recv();
        EXPECT_EQ(child.err(), goro::errc::canceled);  // err before done closes
        woke.fetch_add(1);
      });
    }
    // A plain thread waits too.
    std::thread th([parent = parent, &woke] {
      auto [v, ok] = parent.done().recv_ok();
      EXPECT_FALSE(ok);
      woke.fetch_add(1);
    });
    EXPECT_EQ(goro::detail::context_child_count(parent), kN);
    cancel();
    wg.wait();
    th.join();
    EXPECT_EQ(woke.load(), kN + 1);
    EXPECT_EQ(goro::detail::context_child_count(parent), 0);
  });
}

// Go's TestParentFinishesChild / TestChildFinishesFirst: a child cancelled
// first leaves the parent's children; a parent cancelled first cancels it.
TEST(Context, ChildFinishesFirstIsDetached) {
  auto [parent, cancel] = goro::with_cancel(goro::background());
  {
    auto [child, cc] = goro::with_cancel(parent);
    auto [timer_child, tc] = goro::with_timeout(parent, 1h);
    auto [vchild, vc] = goro::with_cancel(goro::with_value(parent, key1, 3));
    EXPECT_EQ(goro::detail::context_child_count(parent), 3);
    cc();
    EXPECT_EQ(goro::detail::context_child_count(parent), 2);
    tc();
    vc();
    EXPECT_EQ(goro::detail::context_child_count(parent), 0);
    EXPECT_FALSE(parent.err());
  }
  // Dropped without cancel: detached when its last handle goes.
  {
    auto [child, cc] = goro::with_cancel(parent);
    EXPECT_EQ(goro::detail::context_child_count(parent), 1);
  }
  EXPECT_EQ(goro::detail::context_child_count(parent), 0);
  cancel();
}

// Go's TestCancelRemoves and the "no leak" requirement: a long-lived
// parent with a million short-lived children keeps none of them.
TEST(Context, ManyShortLivedChildrenDoNotLeak) {
  auto [parent, cancel] = goro::with_cancel(goro::background());
  const int n = goro_test::scaled(1'000'000, 10);
  long rss0 = goro_test::vm_rss_kib();
  for (int i = 0; i < n; i++) {
    if (i % 2 == 0) {
      auto [child, cc] = goro::with_cancel(parent);
      (void)child.done();
      cc();
    } else {
      auto [child, cc] = goro::with_timeout(parent, 1h);  // timer stopped by cc
      cc();
    }
    ASSERT_EQ(goro::detail::context_child_count(parent), 0);
  }
  long rss1 = goro_test::vm_rss_kib();
  // A million live children would take well over 100 MiB.
  if (!goro_test::kSanitized && rss0 > 0) {
    EXPECT_LT(rss1 - rss0, 32 * 1024);
  }
  cancel();
}

// Go's "parent already cancelled": a child made from a done parent is done
// at once, with the parent's error and cause.
TEST(Context, ParentAlreadyDone) {
  auto [parent, cancel] = goro::with_cancel_cause(goro::background());
  auto myerr = std::make_error_code(std::errc::connection_reset);
  cancel(myerr);
  auto [c1, cc1] = goro::with_cancel(parent);
  auto [c2, cc2] = goro::with_timeout(parent, 1h);
  auto [c3, cc3] = goro::with_cancel_cause(parent);
  for (auto& c : {c1, c2, c3}) {
    EXPECT_EQ(c.err(), goro::errc::canceled);
    EXPECT_EQ(goro::cause(c), myerr);
    EXPECT_TRUE(is_done(c));
  }
  cc3(std::make_error_code(std::errc::timed_out));  // no effect: already done
  EXPECT_EQ(goro::cause(c3), myerr);
  EXPECT_EQ(goro::detail::context_child_count(parent), 0);
}

// Go's TestDeadline / TestTimeout: done by the deadline, not before.
TEST(Context, DeadlineAndTimeout) {
  for_procs([] {
    auto t0 = std::chrono::steady_clock::now();
    auto [c, cancel] = goro::with_timeout(goro::background(), 20ms);
    ASSERT_TRUE(c.deadline().has_value());
    EXPECT_GE(*c.deadline(), t0 + 20ms);
    c.done().recv();
    EXPECT_GE(std::chrono::steady_clock::now(), t0 + 20ms);  // not before the deadline
    EXPECT_EQ(c.err(), goro::errc::deadline_exceeded);
    EXPECT_EQ(goro::cause(c), goro::errc::deadline_exceeded);
    cancel();  // after the deadline: err stays
    EXPECT_EQ(c.err(), goro::errc::deadline_exceeded);

    // A child's later deadline does not override the parent's earlier one.
    auto [p, pc] = goro::with_timeout(goro::background(), 30ms);
    auto [ch, chc] = goro::with_timeout(p, 1h);
    EXPECT_EQ(ch.deadline(), p.deadline());
    auto [ch2, ch2c] = goro::with_deadline(p, *p.deadline() - 10ms);
    EXPECT_LT(*ch2.deadline(), *p.deadline());
    ch.done().recv();
    EXPECT_EQ(ch.err(), goro::errc::deadline_exceeded);
    EXPECT_EQ(ch2.err(), goro::errc::deadline_exceeded);

    // A deadline in the past: done at once.
    auto [past, pastc] = goro::with_deadline(goro::background(), std::chrono::steady_clock::now() - 1s);
    EXPECT_EQ(past.err(), goro::errc::deadline_exceeded);
    EXPECT_TRUE(is_done(past));
    // Another clock.
    auto [sys, sysc] = goro::with_deadline(goro::background(), std::chrono::system_clock::now() + 10ms);
    sys.done().recv();
    EXPECT_EQ(sys.err(), goro::errc::deadline_exceeded);
  });
}

// Huge timeouts saturate instead of wrapping into the past.
TEST(Context, HugeTimeoutsNeverFire) {
  auto [a, ca] = goro::with_timeout(goro::background(), std::chrono::nanoseconds::max());
  auto [b, cb] = goro::with_timeout(goro::background(), std::chrono::hours(24 * 365 * 1000));
  auto [c, cc] = goro::with_deadline(goro::background(), std::chrono::steady_clock::time_point::max());
  auto [d, cd] = goro::with_deadline(goro::background(), std::chrono::system_clock::time_point::max());
  for (auto& x : {a, b, c, d}) {
    EXPECT_FALSE(x.err());
    ASSERT_TRUE(x.deadline().has_value());
    EXPECT_GT(*x.deadline(), std::chrono::steady_clock::now() + std::chrono::hours(24 * 365 * 100));
  }
  goro::select(goro::case_recv(a.done()), goro::case_recv(goro::after(5ms)));
  EXPECT_FALSE(a.err());
  ca();
  EXPECT_EQ(a.err(), goro::errc::canceled);
}

// Go's TestCause, condensed: cause vs err for each way of being done.
TEST(Context, Causes) {
  auto e1 = std::make_error_code(std::errc::connection_reset);
  auto e2 = std::make_error_code(std::errc::timed_out);
  {
    auto [c, cancel] = goro::with_cancel_cause(goro::background());
    EXPECT_FALSE(goro::cause(c));
    cancel(e1);
    cancel(e2);
    EXPECT_EQ(c.err(), goro::errc::canceled);
    EXPECT_EQ(goro::cause(c), e1);
  }
  {
    auto [c, cancel] = goro::with_cancel_cause(goro::background());
    cancel({});  // no cause: canceled
    EXPECT_EQ(goro::cause(c), goro::errc::canceled);
  }
  {
    // Cause of a parent propagates to a child made before the cancel, and
    // through a value context.
    auto [p, pcancel] = goro::with_cancel_cause(goro::background());
    auto [c, ccancel] = goro::with_cancel(goro::with_value(p, key1, 1));
    auto v = goro::with_value(c, key2, 2);
    pcancel(e1);
    EXPECT_EQ(goro::cause(c), e1);
    EXPECT_EQ(goro::cause(v), e1);
    EXPECT_EQ(v.err(), goro::errc::canceled);
  }
  {
    // Deadline with a cause: err is deadline_exceeded, cause the given one;
    // cancelled first: canceled for both.
    auto [c, cancel] = goro::with_timeout_cause(goro::background(), 1ms, e2);
    c.done().recv();
    EXPECT_EQ(c.err(), goro::errc::deadline_exceeded);
    EXPECT_EQ(goro::cause(c), e2);
    auto [d, dcancel] = goro::with_timeout_cause(goro::background(), 1h, e2);
    dcancel();
    EXPECT_EQ(d.err(), goro::errc::canceled);
    EXPECT_EQ(goro::cause(d), goro::errc::canceled);
    auto [past, pc] = goro::with_deadline_cause(goro::background(), std::chrono::steady_clock::now() - 1s, e1);
    EXPECT_EQ(goro::cause(past), e1);
  }
  {
    // A child cancelled by its own cause while the parent is not.
    auto [p, pcancel] = goro::with_cancel_cause(goro::background());
    auto [c, ccancel] = goro::with_cancel_cause(p);
    ccancel(e2);
    pcancel(e1);
    EXPECT_EQ(goro::cause(c), e2);
    EXPECT_EQ(goro::cause(p), e1);
  }
}

// Go's TestValues: lookup through the chain, nearest first; keys are
// distinct by address and typed.
TEST(Context, Values) {
  auto c0 = goro::background();
  auto c1 = goro::with_value(c0, key1, 1);
  auto c2 = goro::with_value(c1, key2, 2);
  auto c3 = goro::with_value(c2, key1, 3);  // shadows
  auto [c4, cancel] = goro::with_cancel(c3);
  auto c5 = goro::with_value(goro::without_cancel(c4), key3, std::string("five"));
  EXPECT_EQ(c0.value(key1), nullptr);
  EXPECT_EQ(*c1.value(key1), 1);
  EXPECT_EQ(c1.value(key2), nullptr);
  EXPECT_EQ(*c2.value(key1), 1);
  EXPECT_EQ(*c2.value(key2), 2);
  EXPECT_EQ(*c3.value(key1), 3);
  EXPECT_EQ(*c4.value(key1), 3);
  EXPECT_EQ(*c4.value(key2), 2);
  EXPECT_EQ(*c5.value(key3), "five");
  EXPECT_EQ(*c5.value(key1), 3);
  EXPECT_EQ(c4.value(key3), nullptr);
  cancel();
  EXPECT_EQ(*c4.value(key1), 3);  // values outlive cancellation
  // A value lives as long as a context holding it.
  std::weak_ptr<int> w;
  goro::context keep;
  {
    static constexpr goro::context_key<std::shared_ptr<int>> kp{};
    auto sp = std::make_shared<int>(7);
    w = sp;
    keep = goro::with_value(goro::background(), kp, std::move(sp));
    EXPECT_EQ(**keep.value(kp), 7);
  }
  EXPECT_FALSE(w.expired());
  keep = goro::context{};
  EXPECT_TRUE(w.expired());
}

// Go's TestWithoutCancel: not cancelled with the parent, no deadline,
// values still seen; its own children are cancellable as usual.
TEST(Context, WithoutCancel) {
  auto [p, pcancel] = goro::with_timeout(goro::with_value(goro::background(), key1, 9), 1h);
  auto w = goro::without_cancel(p);
  EXPECT_FALSE(w.deadline().has_value());
  EXPECT_TRUE(w.done().is_nil());
  auto [wc, wcancel] = goro::with_cancel(w);
  pcancel();
  EXPECT_EQ(p.err(), goro::errc::canceled);
  EXPECT_FALSE(w.err());
  EXPECT_FALSE(goro::cause(w));
  EXPECT_FALSE(wc.err());
  EXPECT_FALSE(is_done(wc));
  EXPECT_EQ(*w.value(key1), 9);
  wcancel();
  EXPECT_EQ(wc.err(), goro::errc::canceled);
  EXPECT_FALSE(w.err());
}

// done() is one channel per context, closed once, usable in select.
TEST(Context, DoneIsOneChannelUsableInSelect) {
  for_procs([] {
    auto [c, cancel] = goro::with_cancel(goro::background());
    auto d1 = c.done();
    auto d2 = c.done();
    EXPECT_TRUE(d1 == d2);
    auto jobs = goro::make_chan<int>();
    goro::go([cancel = cancel] { cancel(); });
    int i = goro::select(goro::on_recv(jobs, [](int) {}), goro::on_recv(c.done()));
    EXPECT_EQ(i, 1);
    EXPECT_EQ(c.err(), goro::errc::canceled);
    // Cancelled before done() was ever asked: a closed channel all the same.
    auto [c2, cancel2] = goro::with_cancel(goro::background());
    cancel2();
    EXPECT_TRUE(is_done(c2));
    EXPECT_TRUE(c2.done() == c2.done());
  });
}

// Go's TestAfterFuncCalledAfterCancel and friends.
TEST(Context, AfterFuncRunsOnceAfterCancel) {
  for_procs([] {
    auto [c, cancel] = goro::with_cancel(goro::background());
    auto ran = goro::make_chan<goro::context>(1);
    auto stop = goro::context_after_func(c, [c = c, ran] {
      EXPECT_EQ(c.err(), goro::errc::canceled);  // runs after the cancel
      ran.send(c);
    });
    EXPECT_EQ(goro::detail::context_child_count(c), 1);
    EXPECT_TRUE(ran.try_recv().would_block());
    cancel();
    ran.recv();
    EXPECT_FALSE(stop());  // already started
    EXPECT_FALSE(stop());
    cancel();  // no second run
    EXPECT_TRUE(goro::select(goro::case_recv(ran), goro::case_recv(goro::after(2ms))).index() == 1);
  });
}

// Cancelling a wide tree whose children are leaves and inner nodes (each
// published after its own children, context.cpp) alike: every after func
// sees its context's err set, every done channel is closed, and once
// cancel() returns every node's err is set (Go's propagation guarantee).
TEST(Context, WideTreeOfLeavesAndInnerNodesCancelsWhole) {
  for_procs([] {
    auto [root, cancel] = goro::with_cancel(goro::background());
    constexpr int kChildren = 300;
    std::vector<goro::context> nodes;
    std::vector<goro::cancel_func> cancels;
    std::vector<goro::after_func_stop> stops;
    std::atomic<int> ran{0}, wrong{0};
    for (int i = 0; i < kChildren; i++) {
      auto [child, cc] = goro::with_cancel(root);
      nodes.push_back(child);
      cancels.push_back(cc);
      if (i % 3 == 0) {  // an inner node: two grandchildren, one with an after func
        for (int k = 0; k < 2; k++) {
          auto [gc, gcc] = goro::with_cancel(child);
          nodes.push_back(gc);
          cancels.push_back(gcc);
        }
      }
      if (i % 2 == 0) {
        goro::context mine = nodes.back();
        stops.push_back(goro::context_after_func(mine, [mine, &ran, &wrong] {
          if (mine.err() != goro::errc::canceled) wrong.fetch_add(1);
          ran.fetch_add(1);
        }));
      }
    }
    cancel();
    for (auto& n : nodes) {
      EXPECT_EQ(n.err(), goro::errc::canceled);
      EXPECT_TRUE(n.done().try_recv().closed());
    }
    while (ran.load() < static_cast<int>(stops.size())) goro::yield();
    EXPECT_EQ(wrong.load(), 0);
    for (auto& s : stops) EXPECT_FALSE(s());  // all started already
    EXPECT_EQ(goro::detail::context_child_count(root), 0);
  });
}

// A plain with_cancel child and its done channel cost 272 bytes of heap:
// the node (152 bytes, without the deadline, stop_token and signal fields
// that only those contexts carry, context.hpp) and an unbuffered channel
// (104). They took 320 when every cancel node carried those fields, and
// 600 when every channel had the ring's layout.
TEST(Context, WithCancelChildIsSmall) {
#if defined(GORO_ASAN) || defined(GORO_TSAN)
  GTEST_SKIP() << "the sanitizers replace malloc: mallinfo2 does not see their heap";
#else
  goro::run([] {
    auto [parent, cancel] = goro::with_cancel(goro::background());
    constexpr int n = 10'000;
    std::vector<std::pair<goro::context, goro::cancel_func>> children;
    std::vector<goro::recv_chan<goro::unit>> dones;
    children.reserve(n);
    dones.reserve(n);
    struct mallinfo2 mi = mallinfo2();
    const size_t before = mi.uordblks + mi.hblkhd;
    for (int i = 0; i < n; i++) {
      children.push_back(goro::with_cancel(parent));
      dones.push_back(children.back().first.done());
    }
    mi = mallinfo2();
    const double per_child = static_cast<double>(mi.uordblks + mi.hblkhd - before) / n;
    EXPECT_LE(per_child, 288.0) << "heap bytes per child and its done channel";
    cancel();
    for (auto& d : dones) EXPECT_TRUE(d.try_recv().closed());
  });
#endif
}

TEST(Context, AfterFuncStopBeforeCancel) {
  auto [c, cancel] = goro::with_cancel(goro::background());
  std::atomic<int> runs{0};
  auto stop = goro::context_after_func(c, [&runs] { runs++; });
  auto stop_copy = stop;
  EXPECT_TRUE(stop());
  EXPECT_FALSE(stop_copy());  // stop was already called
  EXPECT_EQ(goro::detail::context_child_count(c), 0);  // unregistered
  cancel();
  // If f were started it would be by now... but wait on something real:
  // another after func registered later runs, proving the cancel is over.
  auto ran = goro::make_chan<goro::unit>(1);
  goro::context_after_func(c, [ran] { ran.send({}); });
  ran.recv();
  EXPECT_EQ(runs.load(), 0);
}

TEST(Context, AfterFuncOnDoneAndNeverDoneContexts) {
  auto [c, cancel] = goro::with_cancel(goro::background());
  cancel();
  auto ran = goro::make_chan<int>(2);
  auto stop = goro::context_after_func(c, [ran] { ran.send(1); });  // runs at once
  EXPECT_EQ(ran.recv(), 1);
  EXPECT_FALSE(stop());
  auto stop2 = goro::context_after_func(goro::background(), [ran] { ran.send(2); });
  EXPECT_TRUE(stop2());  // never would have run; stopped now
  EXPECT_FALSE(stop2());
  // An after func on a child runs when the parent is cancelled, and on a
  // deadline.
  auto [p, pc] = goro::with_cancel(goro::background());
  auto [ch, chc] = goro::with_cancel(goro::with_value(p, key1, 1));
  goro::context_after_func(ch, [ran] { ran.send(3); });
  pc();
  EXPECT_EQ(ran.recv(), 3);
  auto [t, tc] = goro::with_timeout(goro::background(), 1ms);
  goro::context_after_func(t, [ran] { ran.send(4); });
  EXPECT_EQ(ran.recv(), 4);
  EXPECT_EQ(t.err(), goro::errc::deadline_exceeded);
}

// Go's TestAfterFuncStopCalledConcurrently-like race: stop and cancel at
// once; f runs iff stop returned false.
TEST(Context, AfterFuncStopRacesCancel) {
  const int rounds = goro_test::scaled(2000, 4);
  goro::run([rounds] {
    for (int i = 0; i < rounds; i++) {
      auto [c, cancel] = goro::with_cancel(goro::background());
      auto ran = goro::make_chan<goro::unit>(1);
      auto stop = goro::context_after_func(c, [ran] { ran.send({}); });
      auto stopped = goro::make_chan<bool>(1);
      goro::go([stop, stopped] { stopped.send(stop()); });
      cancel();
      bool s = stopped.recv();
      if (!s) {
        ran.recv();  // f was started: it runs
      } else {
        EXPECT_TRUE(ran.try_recv().would_block());
      }
      EXPECT_EQ(goro::detail::context_child_count(c), 0);
    }
  });
}

// stop racing a cancel that drops the context's last handles: the
// canceller that starts (or finds stopped) the registration used to drop
// the registration's reference to the context while stop, having won,
// was about to lock the context's list through it: the context freed
// under stop (ASan: use after poison of its record). Two plain threads
// meet at a spin barrier each round, so the calls overlap.
TEST(Context, AfterFuncStopRacesACancelThatFreesTheContext) {
  const int rounds = goro_test::scaled(20000, 4);
  std::atomic<int> arrived{0};
  std::optional<goro::after_func_stop> stop;
  std::optional<std::pair<goro::context, goro::cancel_func>> ctx;
  std::atomic<int> stopped{0};
  auto meet = [&](int round) {
    arrived.fetch_add(1);
    // Yielding: with CPU hogs beside, the other thread may be off its CPU.
    while (arrived.load() < 2 * (round + 1)) std::this_thread::yield();
  };
  std::thread stopper([&] {
    for (int i = 0; i < rounds; i++) {
      meet(2 * i);
      if ((*stop)()) stopped++;
      meet(2 * i + 1);
    }
  });
  for (int i = 0; i < rounds; i++) {
    ctx.emplace(goro::with_cancel(goro::background()));
    stop.emplace(goro::context_after_func(ctx->first, [] {}));
    meet(2 * i);
    ctx->second();
    ctx.reset();  // the last handles: the registration's reference is the context's last
    meet(2 * i + 1);
    stop.reset();
  }
  stopper.join();
  EXPECT_GT(stopped.load(), 0);
}

// Both ways with std::stop_token.
TEST(Context, StopTokenInterop) {
  for_procs([] {
    std::stop_source src;
    auto [c, cancel] = goro::with_stop_token(goro::background(), src.get_token());
    EXPECT_FALSE(c.err());
    std::thread th([&src] { src.request_stop(); });
    c.done().recv();
    EXPECT_EQ(c.err(), goro::errc::canceled);
    th.join();

    std::stop_source already;
    already.request_stop();
    auto [c2, cancel2] = goro::with_stop_token(goro::background(), already.get_token());
    EXPECT_EQ(c2.err(), goro::errc::canceled);

    // Dropping the context unregisters the callback: a later stop is fine.
    std::stop_source later;
    { auto [c3, cancel3] = goro::with_stop_token(goro::background(), later.get_token()); }
    later.request_stop();

    // A stop_source from a context.
    auto [p, pc] = goro::with_cancel(goro::background());
    std::stop_source s = goro::make_stop_source(p);
    std::stop_token st = s.get_token();
    EXPECT_FALSE(st.stop_requested());
    auto fired = goro::make_chan<goro::unit>(1);
    std::stop_callback cb(st, [fired] { fired.send({}); });
    pc();
    fired.recv();
    EXPECT_TRUE(st.stop_requested());
    EXPECT_TRUE(goro::make_stop_source(p).stop_requested());          // done already
    EXPECT_FALSE(goro::make_stop_source(goro::background()).stop_requested());
  });
}

// A deadline at the min() of another clock has passed: the context is
// done at once (the conversion overflowed into a deadline about 237 years
// off). At its max() it is far off, and the context is not done.
TEST(Context, DeadlineAtTheEndsOfAnotherClock) {
  goro::run([] {
    auto [past, c1] = goro::with_deadline(goro::background(), std::chrono::system_clock::time_point::min());
    EXPECT_EQ(past.err(), goro::errc::deadline_exceeded);
    auto [far, c2] = goro::with_deadline(goro::background(), std::chrono::system_clock::time_point::max());
    EXPECT_FALSE(far.err());
    ASSERT_TRUE(far.deadline().has_value());
    EXPECT_GT(*far.deadline(), std::chrono::steady_clock::now() + std::chrono::hours(24 * 365 * 100));
    c1();
    c2();
  });
}

// err() is not set while done() is still open (Go: "If Done is not yet
// closed, Err returns nil"; Go 1.25's Err waits for Done). The canceller
// stores err and then closes the done channel a done() call made; the
// seam holds it between the two while a goroutine reads err() and then
// polls done(). Before the fix err() returned canceled at once and the
// poll found done open (a review found it: 137 times in 200,000 tries).
std::atomic<bool> g_in_publish_window{false};
std::atomic<bool> g_err_returned{false};

void hold_the_publish_window() {
  g_in_publish_window.store(true);
  // Until the reader's err() returned (at once before the fix), or for a
  // moment: after the fix err() waits for this close, so this bound is
  // what lets it go (a bound on the test's power, not on its outcome).
  goro_test::spin_until([] { return g_err_returned.load(); }, std::chrono::milliseconds(200));
}

TEST(Context, ErrIsNotSetWhileDoneIsStillOpen) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::recv_chan<goro::unit> done = ctx.done();  // a channel of its own, to be closed by the cancel
    auto verdict = goro::make_chan<int>(1);     // 0: consistent; 1: err set with done open
    g_in_publish_window.store(false);
    g_err_returned.store(false);
    goro::detail::test_hooks::ctx_publish_before_close.store(hold_the_publish_window);
    goro::go([ctx = ctx, done, verdict] {
      goro_test::spin_until([] { return g_in_publish_window.load(); });
      std::error_code e = ctx.err();
      g_err_returned.store(true);
      auto r = done.try_recv();
      verdict.send(e && !r.closed() ? 1 : 0);
    });
    std::thread canceller([cancel = cancel] { cancel(); });
    int v = verdict.recv();
    goro::blocking([&] { canceller.join(); });
    goro::detail::test_hooks::ctx_publish_before_close.store(nullptr);
    EXPECT_TRUE(g_in_publish_window.load()) << "the seam did not run";
    EXPECT_EQ(v, 0) << "err() was set while done() was still open";
    EXPECT_EQ(ctx.err(), goro::errc::canceled);
  });
}

}  // namespace

// A deadline cancelling a chain of contexts N deep releases the N nodes
// on the timer's scheduler stack; each release walked its node's whole
// chain (to see whether freeing it may run user code) before seeing that
// the user still held the node, N^2/2 steps in one timer callback (a
// review, 2026-12-07: 2.3 s of a worker at N = 40,000). Only a last
// reference needs the walk now: here, with every handle held, none.
// One P: the timer's callback runs on the worker's scheduler stack and
// ends before this goroutine, readied by it, runs again.
TEST(Context, DeadlineCancellingADeepChainWalksNoChainWhileTheNodesAreHeld) {
  goro::set_maxprocs(1);
  goro::run([] {
    constexpr int kDepth = 2000;
    auto [root, cancel_root] = goro::with_timeout(goro::background(), 1ms);
    std::vector<std::pair<goro::context, goro::cancel_func>> chain;
    chain.reserve(kDepth);
    goro::context cur = root;
    for (int i = 0; i < kDepth; i++) {
      chain.push_back(goro::with_cancel(cur));
      cur = chain.back().first;
    }
    uint64_t before = goro::detail::test_hooks::ctx_chain_walks.load();
    cur.done().recv();
    uint64_t walks = goro::detail::test_hooks::ctx_chain_walks.load() - before;
    EXPECT_LT(walks, 10u) << "chain walks during the deadline's cancel of " << kDepth << " held nodes";
    cancel_root();
  });
  goro::set_maxprocs(2);
}
