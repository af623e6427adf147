// goro::rate_limiter: ports of golang.org/x/time/rate's rate_test.go
// (TestLimiterBurst1/3, TestLimiterJumpBackwards, TestSimpleReserve,
// TestMix, TestCancel*: fixed instants 100 ms apart, limit 10/s), plus
// waiting from goroutines and threads, inf and zero limits, and the
// cancellable wait a context overload will use.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <condition_variable>
#include <chrono>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"
#include "fill_timer_queue.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

constexpr auto d = 100ms;
// Go's t0..t9; an hour ahead, so the limiter (made now) starts full.
const steady::time_point t0 = steady::now() + 1h;
steady::time_point at(int k) { return t0 + k * d; }

struct allow_case {
  steady::time_point t;
  int n;
  bool ok;
};

void run_allows(goro::rate_limiter& lim, std::initializer_list<allow_case> cases) {
  int i = 0;
  for (const auto& c : cases) {
    EXPECT_EQ(lim.allow_n_at(c.t, c.n), c.ok) << "step " << i;
    i++;
  }
}

goro::reservation run_reserve(goro::rate_limiter& lim, steady::time_point t, int n, steady::time_point act, bool ok) {
  goro::reservation r = lim.reserve_n_at(t, n);
  EXPECT_EQ(r.ok(), ok);
  if (ok) {
    EXPECT_EQ(r.time_to_act(), act) << "off by " << (r.time_to_act() - act).count() << " ns";
  }
  return r;
}

TEST(Rate, LimiterBurst1) {
  goro::rate_limiter lim(10, 1);
  run_allows(lim, {{at(0), 1, true}, {at(0), 1, false}, {at(0), 1, false}, {at(1), 1, true}, {at(1), 1, false},
                   {at(1), 1, false}, {at(2), 2, false}, {at(2), 1, true}, {at(2), 1, false}});
}

TEST(Rate, LimiterBurst3) {
  goro::rate_limiter lim(10, 3);
  run_allows(lim, {{at(0), 2, true}, {at(0), 2, false}, {at(0), 1, true}, {at(0), 1, false}, {at(1), 4, false},
                   {at(2), 1, true}, {at(3), 1, true}, {at(4), 1, true}, {at(4), 1, true}, {at(4), 1, false},
                   {at(4), 1, false}, {at(9), 3, true}, {at(9), 0, true}});
}

TEST(Rate, LimiterJumpBackwards) {
  goro::rate_limiter lim(10, 3);
  run_allows(lim, {{at(1), 1, true}, {at(0), 1, true}, {at(0), 1, true}, {at(0), 1, false}, {at(0), 1, false},
                   {at(1), 1, true}, {at(1), 1, false}, {at(1), 1, false}, {at(2), 1, true}, {at(2), 1, false},
                   {at(2), 1, false}});
}

TEST(Rate, SimpleReserve) {
  goro::rate_limiter lim(10, 2);
  run_reserve(lim, at(0), 2, at(0), true);
  run_reserve(lim, at(0), 2, at(2), true);
  run_reserve(lim, at(3), 2, at(4), true);
}

TEST(Rate, Mix) {
  goro::rate_limiter lim(10, 2);
  run_reserve(lim, at(0), 3, at(1), false);  // n > burst
  run_reserve(lim, at(0), 2, at(0), true);
  run_allows(lim, {{at(1), 2, false}});
  run_reserve(lim, at(1), 2, at(2), true);
  run_allows(lim, {{at(1), 1, false}});  // negative tokens
  run_allows(lim, {{at(3), 1, true}});
}

TEST(Rate, CancelInvalid) {
  goro::rate_limiter lim(10, 2);
  run_reserve(lim, at(0), 2, at(0), true);
  auto r = run_reserve(lim, at(0), 3, at(3), false);
  r.cancel_at(at(0));  // no effect
  run_reserve(lim, at(0), 2, at(2), true);
}

TEST(Rate, CancelLast) {
  goro::rate_limiter lim(10, 2);
  run_reserve(lim, at(0), 2, at(0), true);
  auto r = run_reserve(lim, at(0), 2, at(2), true);
  r.cancel_at(at(1));  // 2 tokens back
  run_reserve(lim, at(1), 2, at(2), true);
}

TEST(Rate, CancelTooLate) {
  goro::rate_limiter lim(10, 2);
  run_reserve(lim, at(0), 2, at(0), true);
  auto r = run_reserve(lim, at(0), 2, at(2), true);
  r.cancel_at(at(3));  // too late: no effect
  run_reserve(lim, at(3), 2, at(4), true);
}

TEST(Rate, Cancel0Tokens) {
  goro::rate_limiter lim(10, 2);
  run_reserve(lim, at(0), 2, at(0), true);
  auto r = run_reserve(lim, at(0), 1, at(1), true);
  run_reserve(lim, at(0), 1, at(2), true);
  r.cancel_at(at(0));  // 0 tokens back
  run_reserve(lim, at(0), 1, at(3), true);
}

TEST(Rate, Cancel1Token) {
  goro::rate_limiter lim(10, 2);
  run_reserve(lim, at(0), 2, at(0), true);
  auto r = run_reserve(lim, at(0), 2, at(2), true);
  run_reserve(lim, at(0), 1, at(3), true);
  r.cancel_at(at(2));  // 1 token back
  run_reserve(lim, at(2), 2, at(4), true);
}

TEST(Rate, CancelMulti) {
  goro::rate_limiter lim(10, 4);
  run_reserve(lim, at(0), 4, at(0), true);
  auto ra = run_reserve(lim, at(0), 3, at(3), true);
  run_reserve(lim, at(0), 1, at(4), true);
  auto rc = run_reserve(lim, at(0), 1, at(5), true);
  rc.cancel_at(at(1));  // 1 token back
  ra.cancel_at(at(1));  // 2 back, as if C had never been reserved
  run_reserve(lim, at(1), 3, at(5), true);
}

TEST(Rate, InfAllowsEverythingAndZeroOnlyTheBucket) {
  goro::rate_limiter inf(goro::rate_limiter::inf, 0);
  for (int i = 0; i < 1000; i++) EXPECT_TRUE(inf.allow_n(100));
  EXPECT_FALSE(inf.wait_n(1000));
  goro::rate_limiter zero(0, 2);
  EXPECT_TRUE(zero.allow());
  EXPECT_TRUE(zero.allow());
  EXPECT_FALSE(zero.allow());
  EXPECT_EQ(zero.burst(), 2);  // the bucket is empty, its size unchanged
  {
    // Nothing will ever come: a wait with any deadline fails at once.
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 1h);
    EXPECT_EQ(zero.wait(ctx), std::make_error_code(std::errc::timed_out));
    cancel();
  }
  zero.set_limit(goro::rate_limiter::inf);
  EXPECT_TRUE(zero.allow());
  EXPECT_EQ(goro::every(0ms), goro::rate_limiter::inf);
  EXPECT_DOUBLE_EQ(goro::every(100ms), 10.0);
}

// Go's TestSetAfterZeroLimit: a limit of 0 takes the token the bucket
// started with and adds none, and a positive limit set later refills it.
// (The limit-0 path used to spend the burst itself: set_limit could not
// give it back, and every later reservation of 1 was refused.)
TEST(Rate, SetAfterZeroLimit) {
  goro::rate_limiter lim(0, 1);
  run_allows(lim, {{at(0), 1, true}, {at(0), 1, false}});
  EXPECT_EQ(lim.burst(), 1);
  lim.set_limit_at(at(0), 10);
  run_reserve(lim, at(0), 1, at(1), true);
}

// A reservation made while the limit was inf, cancelled after the limit
// became finite again, gives back its one token (Go: an inf reservation
// carries limit 0). It carried inf: 0 * inf made the bucket NaN, after
// which every allow succeeded.
TEST(Rate, CancellingAnInfReservationUnderAFiniteLimit) {
  goro::rate_limiter lim(10, 1);
  run_allows(lim, {{at(0), 1, true}});
  lim.set_limit_at(at(0), goro::rate_limiter::inf);
  goro::reservation r = lim.reserve_n_at(at(0), 1);
  ASSERT_TRUE(r.ok());
  lim.set_limit_at(at(0), 10);
  r.cancel_at(at(0));
  EXPECT_DOUBLE_EQ(lim.tokens_at(at(0)), 1.0);
  run_allows(lim, {{at(0), 1, true}, {at(0), 1, false}});
}

TEST(Rate, SetLimitAndBurstAtRunTime) {
  goro::rate_limiter lim(10, 1);
  run_allows(lim, {{at(0), 1, true}, {at(0), 1, false}});
  lim.set_limit_at(at(0), 20);  // a token every 50 ms from now
  EXPECT_TRUE(lim.allow_n_at(at(0) + 50ms, 1));
  EXPECT_FALSE(lim.allow_n_at(at(0) + 50ms, 1));
  lim.set_burst_at(at(1), 3);
  EXPECT_EQ(lim.burst(), 3);
  EXPECT_DOUBLE_EQ(lim.limit(), 20);
  EXPECT_TRUE(lim.allow_n_at(at(4), 3));  // 150 ms refill the bigger bucket
}

TEST(Rate, WaitExceedingBurstFailsAtOnce) {
  goro::rate_limiter lim(1, 2);
  auto t0 = steady::now();
  EXPECT_EQ(lim.wait_n(3), std::make_error_code(std::errc::invalid_argument));
  EXPECT_LT(steady::now() - t0, 1s);
  EXPECT_TRUE(lim.allow_n(2));  // nothing was taken
}

// wait() paces goroutines and threads together: the k-th token is never
// handed out before start + (k - burst) / limit.
TEST(Rate, WaitPacesGoroutinesAndThreads) {
  goro_test::for_procs([] {
    auto start = steady::now();
    goro::rate_limiter lim(200, 2);  // a token every 5 ms
    std::atomic<int> got{0};
    std::atomic<int> early{0};
    auto worker = [&] {
      for (int i = 0; i < 5; i++) {
        EXPECT_FALSE(lim.wait());
        int k = ++got;  // this is at least the k-th token
        if (steady::now() < start + (k - 2) * 5ms) early++;
      }
    };
    goro::wait_group wg;
    for (int g = 0; g < 3; g++) wg.go(worker);
    std::thread th(worker);
    wg.wait();
    th.join();
    EXPECT_EQ(got.load(), 20);
    EXPECT_EQ(early.load(), 0);
  });
}

TEST(Rate, ReserveDelay) {
  goro::rate_limiter lim(10, 1);
  auto r1 = lim.reserve();
  EXPECT_TRUE(r1.ok());
  EXPECT_EQ(r1.delay(), 0ns);
  auto r2 = lim.reserve();
  EXPECT_GT(r2.delay(), 50ms);
  EXPECT_LE(r2.delay(), 100ms);
  r2.cancel();
  auto r3 = lim.reserve_n(2);
  EXPECT_FALSE(r3.ok());
  EXPECT_EQ(r3.delay(), std::chrono::nanoseconds::max());
}

// The internal wait the context overload will use: a deadline it cannot
// meet fails at once, and cancelling gives the tokens back.
TEST(Rate, CancellableWaitGivesTokensBack) {
  goro::run([] {
    goro::rate_limiter lim(10, 1);
    EXPECT_TRUE(lim.allow());
    auto soon = goro::detail::steady_now_ns() + 10'000'000;  // 10 ms: the token is 100 ms away
    EXPECT_EQ(goro::detail::rate_wait(lim, 1, soon, {}), std::make_error_code(std::errc::timed_out));
    auto cancel = goro::make_chan<goro::unit>();
    goro::after_func(5ms, [cancel] { cancel.close(); });
    EXPECT_EQ(goro::detail::rate_wait(lim, 1, INT64_MAX, cancel), std::make_error_code(std::errc::operation_canceled));
    // The cancelled wait's token came back: the next one is ~100 ms after
    // the allow(), not 200 ms.
    auto r = lim.reserve();
    EXPECT_LE(r.delay(), 100ms);
    r.cancel();
  });
}

// Go's Wait(ctx): a done context fails at once with its error and takes
// nothing; cancelling during the wait returns ctx.err() and gives the
// token back; a deadline before the token fails at once with timed_out.
TEST(Rate, WaitWithContext) {
  goro::run([] {
    goro::rate_limiter lim(10, 1);
    auto [done_ctx, cancel_now] = goro::with_cancel(goro::background());
    cancel_now();
    EXPECT_EQ(lim.wait(done_ctx), goro::errc::canceled);
    EXPECT_TRUE(lim.allow());  // the done context took nothing
    // A token 100 s away and a deadline 10 s away: fails at once (a
    // deadline so far that no busy machine reaches it before the call).
    goro::rate_limiter slow(0.01, 1);
    EXPECT_TRUE(slow.allow());
    auto [short_ctx, c1] = goro::with_timeout(goro::background(), 10s);
    EXPECT_EQ(slow.wait(short_ctx), std::make_error_code(std::errc::timed_out));
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::after_func(5ms, [cancel = cancel] { cancel(); });
    EXPECT_EQ(lim.wait(ctx), goro::errc::canceled);
    auto r = lim.reserve();  // the cancelled wait's token came back
    EXPECT_LE(r.delay(), 100ms);
    r.cancel();
    EXPECT_EQ(lim.wait_n(goro::background(), 2), std::make_error_code(std::errc::invalid_argument));
    EXPECT_FALSE(lim.wait(goro::background()));  // no deadline: waits, then takes
    c1();
  });
}

// The _at forms take any time point: Go's Time.Sub saturates, and so does
// the bucket's arithmetic. A reservation at time_point::min() used to
// leave `last` there, and the next refill (now - last) wrapped negative:
// the tokens went to about -1e10 and the limiter stalled.
TEST(Rate, ExtremeTimePointsSaturate) {
  goro::rate_limiter lim(1, 1);
  EXPECT_TRUE(lim.allow_n_at(steady::time_point::min(), 1));
  EXPECT_DOUBLE_EQ(lim.tokens_at(steady::time_point{} + 1s), 1.0);
  EXPECT_TRUE(lim.allow_n_at(steady::time_point{} + 1s, 1));

  goro::rate_limiter slow(1, 1);
  auto r = slow.reserve_n_at(t0, 1);
  auto later = slow.reserve_n_at(t0, 1);  // acts 1 s after t0
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later.delay_from(steady::time_point::min()), std::chrono::nanoseconds::max());
  EXPECT_EQ(later.delay_from(steady::time_point::max()), 0ns);
  EXPECT_EQ(r.delay_from(t0), 0ns);
}

// A wait whose timer cannot be made (out of memory) throws and gives its
// reservation back: the tokens it took are not spent. They were: the
// bucket stayed a token short. The seam makes the timer queues' growth
// fail; a queue is filled first with timers an hour before the wait's
// (which comes 1e9 s after the allow, 31 years: nothing else is queued
// that far off), so that the wait's timer goes to that queue, after them,
// and needs it to grow.
TEST(Rate, WaitThatCannotMakeItsTimerGivesItsTokensBack) {
  goro::set_maxprocs(1);  // every timer here on the same P
  goro::run([] {
    constexpr double kLimit = 1e-9;  // a token every 1e9 s
    goro::rate_limiter lim(kLimit, 1);
    ASSERT_TRUE(lim.allow());  // the bucket is empty now
    std::vector<goro::timer> fill;
    goro::detail::test_hooks::timer_grow_fails.store(true);
    const bool full = goro_test::make_timers_until_bad_alloc(fill, std::chrono::seconds(1'000'000'000) - 1h);
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    // If the wait does park (the failure), end it after a while from a
    // plain thread: no goro timer can be made now.
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
    std::thread watchdog([&, cancel = cancel] {
      std::unique_lock lk(mu);
      if (!cv.wait_for(lk, 20s, [&] { return finished; })) cancel();
    });
    const double before = lim.tokens();
    bool threw = false;
    try {
      (void)lim.wait(ctx);
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    goro::detail::test_hooks::timer_grow_fails.store(false);
    {
      std::lock_guard lk(mu);
      finished = true;
    }
    cv.notify_all();
    goro::blocking([&] { watchdog.join(); });
    ASSERT_TRUE(full);
    ASSERT_TRUE(threw) << "the wait made its timer although the queue could not grow";
    EXPECT_NEAR(lim.tokens(), before, 0.01) << "the failed wait kept its token";
    cancel();
  });
}

}  // namespace

