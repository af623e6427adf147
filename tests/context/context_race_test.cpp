// The happens-before edges of a cancel, as ThreadSanitizer sees them (Go's
// memory model: the canceller holds the context's mutex that Err, Cause
// and Done take). In a TSan build a missing edge is a data race report,
// which fails the test process; elsewhere these check the values only.
//
// Each round: one goroutine writes a plain int, then cancels; another sees
// the context done (by polling err(), cause(), or asking for done() only
// after the cancel) and reads the int. A review (2026-12-07) found TSan
// reporting every polling read: err() returned canceled without an edge
// from the cancel, and done() asked for after it was a shared channel
// closed long before.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

constexpr int kRounds = 100;

// One round of the pattern: `see` returns once the reader knows ctx is done.
template <class See>
void round_trip(See see) {
  auto x = std::make_shared<int>(0);
  auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
  goro::wait_group wg;
  wg.go([x, cancel = cancel] {
    *x = 42;
    cancel(std::make_error_code(std::errc::interrupted));
  });
  wg.go([x, ctx = ctx, see] {
    see(ctx);
    EXPECT_EQ(*x, 42);
  });
  wg.wait();
}

TEST(ContextRace, ErrPolledAfterTheCancelIsOrderedAfterIt) {
  goro_test::for_procs([] {
    for (int i = 0; i < kRounds; i++)
      round_trip([](const goro::context& ctx) {
        while (!ctx.err()) goro::yield();
      });
  });
}

TEST(ContextRace, CausePolledAfterTheCancelIsOrderedAfterIt) {
  goro_test::for_procs([] {
    for (int i = 0; i < kRounds; i++)
      round_trip([](const goro::context& ctx) {
        while (!goro::cause(ctx)) goro::yield();
      });
  });
}

TEST(ContextRace, DoneAskedForAfterTheCancelIsOrderedAfterIt) {
  goro_test::for_procs([] {
    for (int i = 0; i < kRounds; i++) {
      auto x = std::make_shared<int>(0);
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      auto child = goro::with_cancel(ctx).first;  // a descendant, asked too
      std::atomic<bool> cancelled{false};
      goro::wait_group wg;
      wg.go([x, cancel = cancel, &cancelled] {
        *x = 42;
        cancel();
        cancelled.store(true, std::memory_order_relaxed);  // no edge: relaxed
      });
      wg.go([x, ctx = ctx, child, &cancelled] {
        while (!cancelled.load(std::memory_order_relaxed)) goro::yield();
        ctx.done().recv();    // done() made only now: the shared closed channel
        child.done().recv();
        EXPECT_EQ(*x, 42);
      });
      wg.wait();
    }
  });
}

}  // namespace
