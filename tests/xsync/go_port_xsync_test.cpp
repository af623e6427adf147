// goro's weighted_semaphore, errgroup and singleflight against the
// semantics of golang.org/x/sync's own tests (semaphore/semaphore_test.go,
// errgroup/errgroup_test.go, singleflight/singleflight_test.go), for what
// semaphore_test.cpp, singleflight_test.cpp and context/errgroup_test.cpp
// do not cover yet. Everything waits on conditions: a waiter counts as
// queued once the runtime shows its goroutine parked (goro::debug); the
// only durations are deadlines that must fire (a failing acquire), ones
// that must never come (an hour) and hang guards of 30 s.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

constexpr auto kHangGuard = 30s;

const std::error_code kDoom = std::make_error_code(std::errc::connection_reset);

// Waits until `count` more goroutines than `base` are parked with `reason`
// (goro::debug::stats, which walks no stack). For a semaphore waiter that
// means queued, and waiting for its units or its context.
void await_parked(std::string_view reason, int64_t base, int64_t count) {
  ASSERT_TRUE(goro_test::wait_for([&] { return goro::debug::stats().waiting_on(reason) >= base + count; }, kHangGuard))
      << count << " goroutines never parked with reason " << reason;
}

// ---- semaphore ---------------------------------------------------------

// Go's TestWeightedAcquireCanceled, first half: a waiter whose context is
// cancelled before enough units are freed fails with errc::canceled and
// takes nothing, even if the units come right after the cancel.
TEST(GoPortSemaphore, WeightedAcquireCanceledWhileWaiting) {
  goro_test::for_procs([] {
    for (int i = 0; i < goro_test::scaled(100, 10); i++) {
      goro::weighted_semaphore sem(2);
      ASSERT_FALSE(sem.acquire(goro::background(), 1));
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      goro::wait_group wg;
      wg.go([&sem, cancel = cancel] {
        // Once try_acquire fails with a unit free, the acquire(2) waits.
        while (sem.try_acquire(1)) {
          sem.release(1);
          goro::yield();
        }
        cancel();
        sem.release(1);
      });
      EXPECT_EQ(sem.acquire(ctx, 2), goro::errc::canceled);
      wg.wait();
      EXPECT_TRUE(sem.try_acquire(2)) << "the cancelled acquire kept units";
      sem.release(2);
    }
  });
}

// Since golang.org/x/sync v0.5.0 (go.dev/issue/63615), Acquire with a
// context that is already done returns ctx.Err() and takes nothing, even
// when the units are free. (goro took them before.) Go's
// TestWeightedAcquireCanceled, second half.
TEST(GoPortSemaphore, AcquireWithDoneContextFailsEvenIfFree) {
  {
    goro::weighted_semaphore sem(2);
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel();
    EXPECT_EQ(sem.acquire(ctx, 1), goro::errc::canceled);
    EXPECT_TRUE(sem.try_acquire(2)) << "acquire with a cancelled context took a unit";
  }
  {
    goro::weighted_semaphore sem(2);
    auto [ctx, cancel] = goro::with_deadline(goro::background(), std::chrono::steady_clock::now() - 1s);
    EXPECT_EQ(sem.acquire(ctx, 2), goro::errc::deadline_exceeded);
    EXPECT_TRUE(sem.try_acquire(2)) << "acquire with an expired context took the units";
  }
}

// Go's TestWeightedTryAcquire and TestWeightedAcquire: the same sequence
// of outcomes for try_acquire and for acquire with a context that gives
// up (a short timeout where the acquire must fail, an hour where it must
// succeed at once).
TEST(GoPortSemaphore, WeightedTryAcquireAndAcquire) {
  for (bool with_ctx : {false, true}) {
    SCOPED_TRACE(with_ctx ? "acquire with a context" : "try_acquire");
    goro::weighted_semaphore sem(2);
    auto attempt = [&](int64_t n, bool should_succeed) {
      if (!with_ctx) return sem.try_acquire(n);
      auto [ctx, cancel] = goro::with_timeout(goro::background(), should_succeed ? 1h : 10ms);
      std::error_code e = sem.acquire(ctx, n);
      cancel();
      if (e) {
        EXPECT_EQ(e, goro::errc::deadline_exceeded);
      }
      return !e;
    };
    std::vector<bool> got;
    ASSERT_FALSE(sem.acquire(goro::background(), 1));
    got.push_back(attempt(1, true));
    got.push_back(attempt(1, false));
    sem.release(2);
    got.push_back(attempt(1, true));
    ASSERT_FALSE(sem.acquire(goro::background(), 1));
    got.push_back(attempt(1, false));
    EXPECT_EQ(got, (std::vector<bool>{true, false, true, false}));
    sem.release(2);
    EXPECT_TRUE(sem.try_acquire(2));
  }
}

// Go's TestWeightedDoesntBlockIfTooBig: a pending acquire of more than the
// size (it can never succeed) does not hold up smaller ones that arrive
// after it; it ends only with its context.
TEST(GoPortSemaphore, WeightedDoesntBlockIfTooBig) {
  goro::run([] {
    constexpr int64_t n = 2;
    goro::weighted_semaphore sem(n);
    auto [big_ctx, big_cancel] = goro::with_cancel(goro::background());
    auto big_err = goro::make_chan<std::error_code>(1);
    const int64_t base = goro::debug::stats().waiting_on("chan receive");
    goro::go([&sem, big_err, big_ctx = big_ctx] { big_err.send(sem.acquire(big_ctx, n + 1)); });
    await_parked("chan receive", base, 1);  // waits for its context only
    auto [guard, guard_cancel] = goro::with_timeout(goro::background(), kHangGuard);
    auto [g, ctx] = goro::errgroup_with_context(guard);
    for (int i = 0; i < n * 3; i++) {
      g.go([&sem, ctx = ctx]() -> std::error_code {
        if (std::error_code e = sem.acquire(ctx, 1)) return e;
        goro::yield();
        sem.release(1);
        return {};
      });
    }
    EXPECT_FALSE(g.wait()) << "small acquires were held up by the too-big one";
    guard_cancel();
    big_cancel();
    EXPECT_EQ(big_err.recv(), goro::errc::canceled);
    EXPECT_TRUE(sem.try_acquire(n));
  });
}

// x/sync's notifyWaiters rule (the reason for TestLargeAcquireDoesntStarve):
// waiters are served in arrival order and a unit freed while the front
// waiter does not fit goes to nobody, so a large request queued first is
// served before the small ones queued behind it, which then both get in.
TEST(GoPortSemaphore, WaitersServedInArrivalOrder) {
  goro::run([] {
    goro::weighted_semaphore sem(2);
    ASSERT_FALSE(sem.acquire(goro::background(), 2));
    auto served = goro::make_chan<char>(3);
    auto release_big = goro::make_chan<goro::unit>();
    const int64_t base = goro::debug::stats().waiting_on("select");
    int64_t queued = 0;
    auto waiter = [&](char name, int64_t units, bool hold) {
      auto done = goro::make_chan<goro::unit>(1);
      goro::go([&sem, served, release_big, done, name, units, hold] {
        EXPECT_FALSE(sem.acquire(goro::background(), units));
        served.send(name);
        if (hold) release_big.recv();
        sem.release(units);
        done.send({});
      });
      await_parked("select", base, ++queued);  // queued before the next one arrives
      return done;
    };
    auto a = waiter('A', 2, true);
    auto b = waiter('B', 1, false);
    auto c = waiter('C', 1, false);
    sem.release(1);  // one free: A (front) needs two; B and C must not pass it
    sem.release(1);  // two free: A
    EXPECT_EQ(served.recv(), 'A');
    release_big.close();  // A gives its two back: B and C
    std::set<char> rest{served.recv(), served.recv()};
    EXPECT_EQ(rest, (std::set<char>{'B', 'C'}));
    a.recv();
    b.recv();
    c.recv();
    EXPECT_TRUE(sem.try_acquire(2));
  });
}

// Go's TestWeighted: as many goroutines as workers, goroutine i taking i
// units at a time (0 included) in a loop; nothing hangs and every unit
// comes back.
TEST(GoPortSemaphore, Weighted) {
  goro_test::for_procs([] {
    const int n = goro::maxprocs() < 2 ? 2 : goro::maxprocs();
    const int loops = goro_test::scaled(4000, 10) / n;
    goro::weighted_semaphore sem(n);
    goro::wait_group wg;
    for (int i = 0; i < n; i++) {
      wg.go([&sem, i, loops] {
        for (int k = 0; k < loops; k++) {
          EXPECT_FALSE(sem.acquire(goro::background(), i));
          if (k % 8 == 0) goro::yield();
          sem.release(i);
        }
      });
    }
    wg.wait();
    EXPECT_TRUE(sem.try_acquire(n));
  });
}

// ---- errgroup ------------------------------------------------------------

// Go's TestTryGo: at the limit try_go refuses and does not run f; after
// wait it accepts again; the limit can be changed once the group is idle;
// a limit of 0 refuses everything.
TEST(GoPortErrgroup, TryGo) {
  goro::run([] {
    goro::errgroup g;
    constexpr int n = 42;
    g.set_limit(n);
    auto ch = goro::make_chan<goro::unit>();  // each task blocks until drained
    auto fn = [ch]() -> std::error_code {
      ch.send({});
      return {};
    };
    goro::wait_group drainers;
    auto drain = [&](int k) {
      drainers.go([ch, k] {
        for (int i = 0; i < k; i++) ch.recv();
      });
    };
    for (int i = 0; i < n; i++) ASSERT_TRUE(g.try_go(fn)) << i;
    std::atomic<bool> ran{false};
    EXPECT_FALSE(g.try_go([&ran] { ran = true; }));
    drain(n);
    EXPECT_FALSE(g.wait());
    EXPECT_FALSE(ran.load());

    EXPECT_TRUE(g.try_go(fn));
    drain(1);
    g.wait();

    g.set_limit(1);
    EXPECT_TRUE(g.try_go(fn));
    EXPECT_FALSE(g.try_go(fn));
    drain(1);
    g.wait();

    g.set_limit(0);
    for (int i = 0; i < 1024; i++) ASSERT_FALSE(g.try_go(fn)) << i;
    EXPECT_FALSE(g.wait());
    drainers.wait();
  });
}

// Go's TestWithContext and TestCancelCause, with go and with try_go: wait
// returns the first error; the context is done when wait returns, whatever
// happened (also with no task at all), and its cause is that error, or
// errc::canceled when none failed. A group made from a cancelled parent
// keeps the parent's cause.
TEST(GoPortErrgroup, WithContextCancelCause) {
  struct test_case {
    std::vector<std::error_code> errs;
    std::error_code want;
  };
  const std::vector<test_case> cases = {
      {{}, {}}, {{std::error_code{}}, {}}, {{kDoom}, kDoom}, {{kDoom, std::error_code{}}, kDoom}};
  for (bool use_try : {false, true}) {
    for (const auto& tc : cases) {
      SCOPED_TRACE(std::string(use_try ? "try_go" : "go") + ", " + std::to_string(tc.errs.size()) + " tasks");
      auto [g, ctx] = goro::errgroup_with_context(goro::background());
      for (std::error_code e : tc.errs) {
        auto task = [e] { return e; };
        if (use_try) {
          EXPECT_TRUE(g.try_go(task));
        } else {
          g.go(task);
        }
      }
      EXPECT_EQ(g.wait(), tc.want);
      EXPECT_TRUE(ctx.done().try_recv().closed()) << "done() not closed after wait";
      EXPECT_EQ(ctx.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(ctx), tc.want ? tc.want : std::error_code(goro::errc::canceled));
    }
  }
  auto [parent, pcancel] = goro::with_cancel_cause(goro::background());
  pcancel(kDoom);
  auto [g, ctx] = goro::errgroup_with_context(parent);
  EXPECT_EQ(goro::cause(ctx), kDoom);
  std::atomic<int> ran{0};
  g.go([&ran] { ran++; });  // tasks still run
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(goro::cause(ctx), kDoom);  // wait's cancel comes too late to change it
}

// ---- singleflight ----------------------------------------------------------

// Go's TestForget (go.dev/issue/31420): after forget, a new execution
// starts; when the forgotten one ends it must not remove the new one, so a
// third call joins the second execution and gets its value.
TEST(GoPortSingleflight, Forget) {
  goro::run([] {
    goro::singleflight<std::string, int> g;
    auto first_started = goro::make_chan<goro::unit>(1);
    auto unblock_first = goro::make_chan<goro::unit>();
    goro::wait_group first;
    goro::singleflight<std::string, int>::result r1{0, true};
    first.go([&] {
      r1 = g.do_call("key", [&] {
        first_started.send({});
        unblock_first.recv();
        return 1;
      });
    });
    first_started.recv();
    g.forget("key");

    auto unblock_second = goro::make_chan<goro::unit>();
    auto second = g.do_chan("key", [unblock_second] {
      unblock_second.recv();
      return 2;
    });
    unblock_first.close();
    first.wait();  // the first execution has ended and cleaned up
    EXPECT_EQ(r1.value, 1);
    EXPECT_FALSE(r1.shared);

    std::atomic<bool> third_ran{false};
    auto third = g.do_chan("key", [&third_ran] {
      third_ran = true;
      return 3;
    });
    unblock_second.close();
    auto s = second.recv();
    auto t = third.recv();
    EXPECT_EQ(s.get(), 2);
    EXPECT_EQ(t.get(), 2) << "the third call did not join the second execution";
    EXPECT_TRUE(s.shared);
    EXPECT_TRUE(t.shared);
    EXPECT_FALSE(third_ran.load());
  });
}

// Go's TestPanicDo: fn throws while several goroutines (and a plain
// thread) call do_call for its key: every caller gets the exception, none
// hangs, and the key is free again afterwards.
TEST(GoPortSingleflight, PanicDo) {
  goro::singleflight<std::string, int> g;
  constexpr int n = 5;
  std::atomic<int> threw{0}, calls{0}, entered{0};
  auto release = goro::make_chan<goro::unit>();
  auto call = [&] {
    entered++;
    try {
      g.do_call("key", [&]() -> int {
        calls++;
        release.recv();
        throw std::runtime_error("invalid memory address or nil pointer dereference");
      });
      ADD_FAILURE() << "do_call returned";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "invalid memory address or nil pointer dereference");
      threw++;
    }
  };
  goro::run([&] {
    goro::wait_group wg;
    for (int i = 0; i < n; i++) wg.go(call);
    std::thread t(call);
    while (entered.load() < n + 1) goro::yield();
    release.close();
    wg.wait();
    t.join();
  });
  EXPECT_EQ(threw.load(), n + 1);
  EXPECT_GE(calls.load(), 1);
  EXPECT_LE(calls.load(), n + 1);
  auto r = g.do_call("key", [] { return 7; });  // not stuck
  EXPECT_EQ(r.value, 7);
  EXPECT_FALSE(r.shared);
}

// Go's TestPanicDoSharedByDoChan, in goro's terms: do_chan joining a
// do_call execution that throws does not run its own fn; where Go's
// process crashes (a DoChan receiver cannot get a panic), goro hands the
// exception to the channel's result, marked shared, and do_call rethrows
// it.
TEST(GoPortSingleflight, PanicDoSharedByDoChan) {
  goro::run([] {
    goro::singleflight<std::string, int> g;
    auto blocked = goro::make_chan<goro::unit>(1);
    auto unblock = goro::make_chan<goro::unit>();
    goro::wait_group wg;
    std::atomic<bool> do_threw{false};
    wg.go([&] {
      try {
        g.do_call("", [&]() -> int {
          blocked.send({});
          unblock.recv();
          throw std::logic_error("Panicking in Do");
        });
      } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "Panicking in Do");
        do_threw = true;
      }
    });
    blocked.recv();
    std::atomic<bool> own_ran{false};
    auto ch = g.do_chan("", [&own_ran]() -> int {
      own_ran = true;
      return 0;
    });
    unblock.close();
    auto r = ch.recv();
    wg.wait();
    EXPECT_TRUE(do_threw.load());
    EXPECT_FALSE(own_ran.load()) << "do_chan ran its own fn";
    EXPECT_TRUE(r.shared);
    EXPECT_FALSE(r.value.has_value());
    ASSERT_TRUE(r.error);
    EXPECT_THROW(r.get(), std::logic_error);
  });
}

}  // namespace
