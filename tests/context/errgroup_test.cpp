// goro::errgroup: the semantics of golang.org/x/sync/errgroup's tests
// (errgroup_test.go: TestZeroGroup, TestWithContext, TestTryGo,
// TestGoLimit, TestCancelCause, and the SetLimit panic), plus goro's
// second way to fail: an exception, rethrown by wait().
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

const std::error_code err1 = std::make_error_code(std::errc::connection_reset);
const std::error_code err2 = std::make_error_code(std::errc::timed_out);

// TestZeroGroup: the first error is returned, later ones dropped; no
// error: an empty one.
TEST(Errgroup, ZeroGroupFirstErrorWins) {
  goro_test::for_procs([] {
    std::vector<std::vector<std::error_code>> cases = {
        {}, {std::error_code{}}, {err1}, {err1, std::error_code{}, err2}};
    for (const auto& errs : cases) {
      goro::errgroup g;
      std::error_code first;
      for (size_t i = 0; i < errs.size(); i++) {
        std::error_code e = errs[i];
        // One at a time, so "first" is well defined, as in Go's test.
        auto ran = goro::make_chan<goro::unit>(1);
        g.go([e, ran]() -> std::error_code {
          ran.send({});
          return e;
        });
        ran.recv();
        if (!first) first = e;
        std::error_code got = g.wait();
        EXPECT_EQ(got, first);
      }
    }
  });
}

// TestWithContext / TestCancelCause: the context is cancelled by the first
// failure, with it as the cause; and when wait returns even without one.
TEST(Errgroup, WithContextCancelsOnFirstFailureAndOnWait) {
  goro_test::for_procs([] {
    {
      auto [g, ctx] = goro::errgroup_with_context(goro::background());
      for (int i = 0; i < 4; i++) {
        g.go([ctx = ctx, i]() -> std::error_code {
          if (i == 2) return err1;
          ctx.done().recv();  // the others wait for the cancel
          return ctx.err();
        });
      }
      EXPECT_EQ(g.wait(), err1);
      EXPECT_EQ(ctx.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(ctx), err1);
    }
    {
      auto [g, ctx] = goro::errgroup_with_context(goro::background());
      g.go([] {});
      EXPECT_FALSE(g.wait());
      EXPECT_EQ(ctx.err(), goro::errc::canceled);  // Go: cancelled when Wait returns
      EXPECT_EQ(goro::cause(ctx), goro::errc::canceled);
    }
  });
}

// An exception is a failure: the first one is rethrown by wait, and
// cancels the context.
TEST(Errgroup, ExceptionIsRethrownByWait) {
  auto [g, ctx] = goro::errgroup_with_context(goro::background());
  g.go([] { throw std::runtime_error("boom"); });
  g.go([ctx = ctx] { ctx.done().recv(); });
  try {
    g.wait();
    ADD_FAILURE() << "wait did not rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  EXPECT_EQ(ctx.err(), goro::errc::canceled);
}

// TestTryGo: at the limit try_go refuses; once a slot frees it accepts.
TEST(Errgroup, TryGo) {
  goro::errgroup g;
  constexpr int kLimit = 3;
  g.set_limit(kLimit);
  auto release = goro::make_chan<goro::unit>();
  auto started = goro::make_chan<goro::unit>(kLimit);
  for (int i = 0; i < kLimit; i++) {
    EXPECT_TRUE(g.try_go([release, started] {
      started.send({});
      release.recv();
    }));
  }
  for (int i = 0; i < kLimit; i++) started.recv();
  std::atomic<bool> ran{false};
  EXPECT_FALSE(g.try_go([&ran] { ran = true; }));  // at the limit
  release.close();
  g.wait();
  EXPECT_FALSE(ran.load());
  EXPECT_TRUE(g.try_go([&ran] { ran = true; }));
  g.wait();
  EXPECT_TRUE(ran.load());
}

// TestGoLimit: never more than the limit at once; go blocks meanwhile.
TEST(Errgroup, GoLimit) {
  goro_test::for_procs([] {
    constexpr int kLimit = 4;
    goro::errgroup g;
    g.set_limit(kLimit);
    std::atomic<int> active{0}, peak{0};
    for (int i = 0; i < 200; i++) {
      g.go([&] {
        int n = ++active;
        int p = peak.load();
        while (n > p && !peak.compare_exchange_weak(p, n)) {
        }
        goro::yield();
        active--;
      });
    }
    g.wait();
    EXPECT_LE(peak.load(), kLimit);
    EXPECT_GE(peak.load(), 1);
  });
}

// Go panics when the limit changes while limited goroutines run.
TEST(Errgroup, SetLimitWhileActiveThrows) {
  goro::errgroup g;
  g.set_limit(2);
  auto release = goro::make_chan<goro::unit>();
  g.go([release] { release.recv(); });
  try {
    g.set_limit(3);
    ADD_FAILURE() << "no panic";
  } catch (const goro::panic_error& e) {
    EXPECT_STREQ(e.what(), "errgroup: modify limit while 1 goroutines in the group are still active");
  }
  release.close();
  g.wait();
  g.set_limit(-1);  // fine once idle
  g.go([] {});
  g.wait();
}

// Go's SetLimit(n < 0) turns the limit off even while limited tasks run
// (it checks n < 0 before the panic): the running tasks keep their slots,
// new tasks start at once, and wait still waits for all. A task may start
// tasks while another goroutine turns the limit off (TSan: no race on the
// limit). goro threw here before.
TEST(Errgroup, SetLimitNegativeWhileActiveTurnsTheLimitOff) {
  goro_test::for_procs([] {
    goro::errgroup g;
    g.set_limit(1);
    auto release = goro::make_chan<goro::unit>();
    std::atomic<int> ran{0};
    g.go([release, &ran] {
      release.recv();
      ran++;
    });
    // A task that starts tasks through a copy, beside the set_limit below.
    goro::errgroup copy = g;
    auto spawner_started = goro::make_chan<goro::unit>(1);
    goro::wait_group spawner;
    spawner.go([copy, &ran, spawner_started]() mutable {
      spawner_started.send({});
      for (int i = 0; i < 50; i++) copy.try_go([&ran] { ran++; });
    });
    spawner_started.recv();
    EXPECT_NO_THROW(g.set_limit(-1));
    for (int i = 0; i < 10; i++) g.go([&ran] { ran++; });  // the slot is still taken: would block
    spawner.wait();
    release.close();
    EXPECT_FALSE(g.wait());
    EXPECT_GE(ran.load(), 11);
    // And the limit can be set again once idle: the old slot was given back.
    g.set_limit(1);
    EXPECT_TRUE(g.try_go([] {}));
    g.wait();
  });
}

// From plain threads too, through copies of one group.
TEST(Errgroup, FromPlainThreads) {
  goro::errgroup g;
  std::vector<std::thread> ths;
  std::atomic<int> ran{0};
  for (int t = 0; t < 4; t++)
    ths.emplace_back([g, &ran]() mutable {
      for (int i = 0; i < 50; i++) g.go([&ran] { ran++; });
    });
  for (auto& th : ths) th.join();
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(ran.load(), 200);
}

}  // namespace

namespace {

// Sets *flag in its destructor, after a pause that lets wait() return
// first if the task's captures outlive its wg.done() (they did: the
// closure was destroyed after the task had released the waiter). A
// moved-from copy sets nothing.
struct sets_on_destroy {
  std::atomic<bool>* flag;
  explicit sets_on_destroy(std::atomic<bool>* f) : flag(f) {}
  sets_on_destroy(sets_on_destroy&& o) noexcept : flag(std::exchange(o.flag, nullptr)) {}
  sets_on_destroy(const sets_on_destroy&) = delete;
  ~sets_on_destroy() {
    if (flag == nullptr) return;
    goro::sleep_for(std::chrono::milliseconds(20));
    flag->store(true);
  }
};

}  // namespace

// wait() returns after every task's captures are destroyed: a capture may
// refer to the waiter's frame (an arena, a guard, a counter).
TEST(Errgroup, TaskCapturesAreDestroyedBeforeWaitReturns) {
  goro_test::for_procs([] {
    for (bool limited : {false, true}) {
      std::atomic<bool> destroyed{false};
      goro::errgroup g;
      if (limited) g.set_limit(1);
      g.go([guard = sets_on_destroy(&destroyed)] {});
      EXPECT_FALSE(g.wait());
      EXPECT_TRUE(destroyed.load()) << "limited " << limited;
    }
  });
}
