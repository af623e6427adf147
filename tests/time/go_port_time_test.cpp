// Ports of Go's own time-package tests (src/time/sleep_test.go and
// tick_test.go, Go 1.23 semantics) that tests/time/timer_test.cpp and
// sleep_test.cpp do not cover: AfterFunc chains and calls that Stop/Reset
// do not wait for, tickers under concurrent receivers, timers moved
// earlier and through Go's timer state machine, timer channels with
// receivers blocked while the timer is re-armed, the value a late receiver
// gets, zero-duration timers, negative and overflowing durations, and Go's
// panic messages.
//
// SCOPED_TRACE is not used inside goroutines: gtest keeps its trace stack
// per thread, and a goroutine may resume on another worker thread.
//
// No assertion depends on how fast the machine is: a duration is either a
// hang guard (kHangGuard) or one that must never fire (an hour and more),
// and "it has fired" is always shown by a receive or a counter. Short
// sleeps only give a bug the chance to show; what is checked after them
// must hold however long they last.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "goro/goro.hpp"
#include "sched/sched.hpp"  // p_active_count: waiting for maxprocs 1 to take effect
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;
using goro_test::wait_for;

namespace {

using tp = steady::time_point;

// How long a receive that must succeed may block before the test gives up
// on it (a broken build, not a slow machine).
constexpr auto kHangGuard = 20s;

// What a guarded receive saw.
template <class T>
struct guarded {
  bool timed_out = true;
  bool ok = false;  // a value (false: the channel was closed)
  T value{};
  bool got() const { return !timed_out && ok; }
};

// Receives from c, giving up after kHangGuard.
template <class Ch>
guarded<typename Ch::value_type> recv_guarded(const Ch& c) {
  using T = typename Ch::value_type;
  guarded<T> g;
  goro::select(goro::on_recv(c,
                             [&](T v, bool ok) {
                               g.timed_out = false;
                               g.ok = ok;
                               g.value = std::move(v);
                             }),
               goro::on_recv(goro::after(kHangGuard)));
  return g;
}

// Go's two timer implementations in sleep_test.go: a channel timer
// (NewTimer), and newTimerFunc, an AfterFunc whose function sends the time
// on a channel of capacity 1.
struct test_timer {
  goro::timer t;
  goro::recv_chan<tp> c;
  bool is_func = false;
};

template <class D>
test_timer make_timer(bool func, D d) {
  if (!func) {
    goro::timer t = goro::new_timer(d);
    return {t, t.c(), false};
  }
  auto c = goro::make_chan<tp>(1);
  goro::timer t = goro::after_func(d, [c] { c.send(steady::now()); });
  return {t, c, true};
}

const char* impl_name(bool func) { return func ? "impl=func" : "impl=chan"; }

// Runs f at maxprocs 1, once no second P is active any more, so that every
// timer the test makes is on one P's heap, run in deadline order by one
// thread; then restores maxprocs.
template <class F>
void on_one_p(F f) {
  const int saved = goro::set_maxprocs(1);
  goro::run([&] {
    while (goro::detail::p_active_count() > 1) goro::yield();
    f();
  });
  goro::set_maxprocs(saved);
}

// Go's TestAfterFunc: a function started by AfterFunc(0, f) arms the next
// call and then blocks; the chain goes on while every earlier call still
// blocks, so each call has a goroutine of its own. (Go's calls sleep a
// second; here they block until the last call has run, which makes the
// point without the wait: run inline, the chain would stop at its first
// link.)
TEST(GoPortTime, AfterFuncChainRunsWhileEarlierCallsBlock) {
  goro_test::for_procs([] {
    constexpr int kLinks = 10;
    auto last = goro::make_chan<int>(1);
    auto release = goro::make_chan<goro::unit>();
    std::atomic<int> left{kLinks};
    std::atomic<int> blocked{0};
    goro::wait_group calls;
    std::function<void()> f;
    f = [&] {
      if (left.fetch_sub(1) > 0) {
        blocked++;  // before arming the next call, which reads it at the end
        calls.add(1);
        goro::after_func(0ns, [&f] { f(); });
        release.recv();  // returns once release is closed
        blocked--;
      } else {
        last.send(blocked.load());
      }
      calls.done();
    };
    calls.add(1);
    goro::after_func(0ns, [&f] { f(); });
    auto g = recv_guarded(last);
    release.close();
    ASSERT_TRUE(g.got()) << "the chain of AfterFunc calls stopped";
    EXPECT_EQ(g.value, kLinks) << "calls still blocked when the last one ran";
    calls.wait();
  });
}

// Go's TestTickerStress and TestTickerConcurrentStress: a 1 ns ticker read
// by one goroutine, then by ten at once, while another goroutine keeps
// sleeping for 1 ns (Go's loop runs the GC too). Every tick comes; a
// receiver's ticks are stamped in increasing order; no tick reaches two
// receivers; once Stop returns nothing more arrives.
TEST(GoPortTime, OneNanosecondTickerWithConcurrentReceivers) {
  constexpr int kReceivers = 10, kTicks = 100;
  goro_test::for_procs([] {
    std::atomic<bool> stop{false};
    goro::wait_group churn;
    churn.go([&] {
      while (!stop.load()) goro::sleep_for(1ns);
    });
    goro::ticker tk = goro::new_ticker(1ns);
    auto c = tk.c();
    int missing = 0, out_of_order = 0;
    tp prev{};
    for (int i = 0; i < kTicks; i++) {
      auto g = recv_guarded(c);
      if (!g.got()) {
        missing++;
        break;
      }
      if (g.value <= prev) out_of_order++;
      prev = g.value;
    }
    std::vector<std::vector<tp>> got(kReceivers);
    std::atomic<int> missing_concurrent{0};
    goro::wait_group receivers;
    for (int r = 0; r < kReceivers; r++) {
      receivers.go([&, r] {
        for (int i = 0; i < kTicks; i++) {
          auto g = recv_guarded(c);
          if (!g.got()) {
            missing_concurrent++;
            return;
          }
          got[r].push_back(g.value);
        }
      });
    }
    receivers.wait();
    tk.stop();
    EXPECT_TRUE(c.try_recv().would_block()) << "a tick after Stop returned";
    stop = true;
    churn.wait();
    EXPECT_EQ(missing, 0);
    EXPECT_EQ(missing_concurrent.load(), 0);
    EXPECT_EQ(out_of_order, 0);
    std::vector<tp> all;
    for (auto& v : got) {
      EXPECT_TRUE(std::is_sorted(v.begin(), v.end()) && std::adjacent_find(v.begin(), v.end()) == v.end())
          << "one receiver's ticks are not in increasing order";
      all.insert(all.end(), v.begin(), v.end());
    }
    EXPECT_EQ(all.size(), size_t{kReceivers} * kTicks);
    std::sort(all.begin(), all.end());
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "one tick reached two receivers";
  });
}

// Go's TestAfterFuncStarvation: at maxprocs 1, two goroutines that keep
// each other runnable through a channel of capacity 1 must not keep an
// AfterFunc's goroutine from ever running; it stops them. The sender arms
// the AfterFunc once the pair is well under way. (The sender gives up
// after kHangGuard, so a starved function fails the test rather than
// hanging it.)
TEST(GoPortTime, AfterFuncRunsWhileTwoGoroutinesKeepTheOnlyPBusy) {
  on_one_p([] {
    auto stop = std::make_shared<std::atomic<bool>>(false);  // outlives a call that comes too late
    auto c = goro::make_chan<bool>(1);
    std::atomic<bool> gave_up{false};
    goro::timer t;
    goro::wait_group wg;
    wg.go([&] {
      const auto start = steady::now();
      for (int i = 0; !stop->load(); i++) {
        c.send(true);
        if (i == 1000) t = goro::after_func(1us, [stop] { stop->store(true); });
        if (i % 1024 == 0 && steady::now() - start > kHangGuard) {
          gave_up = true;
          break;
        }
      }
      c.close();
    });
    wg.go([&] {
      for (bool v : c) (void)v;
    });
    wg.wait();
    EXPECT_FALSE(gave_up.load()) << "the AfterFunc call never ran beside the two busy goroutines";
    EXPECT_FALSE(t.stop());  // it ran (or, on failure, will run and touch only its own state)
  });
}

// Go's TestAfterStop, both implementations: Stop of a timer before its
// value was received; a later timer then fires; the stopped ones never
// deliver, and Stop once more returns false. Deadlines are short and
// random, so Stop races the firing; what must hold holds either way: a
// channel timer's Stop is true whenever its value was not received (Go
// 1.23), and an AfterFunc's Stop is true exactly when its function will
// not run.
TEST(GoPortTime, StoppedTimersNeverDeliverAndStopTwiceIsFalse) {
  const int rounds = goro_test::scaled(40, 4);
  goro_test::for_procs([rounds] {
    std::mt19937 rng(20240611);
    for (bool func : {false, true}) {
      int wrong = 0;
      for (int i = 0; i < rounds; i++) {
        auto us = [&] { return std::chrono::microseconds(rng() % 1000); };
        goro::after_func(us(), [] {});  // another entry on the heap, left to fire
        test_timer t0 = make_timer(func, us());
        auto c1 = goro::make_chan<int>(1);
        goro::timer t1 = goro::after_func(us(), [c1] { c1.send(1); });
        auto c2 = goro::after(1500us);  // later than every deadline above
        const bool s0 = t0.t.stop();
        const bool s1 = t1.stop();
        if (!func && !s0) wrong++;  // never received: a channel timer's Stop must be true
        if (!recv_guarded(c2).got()) wrong++;
        if (s0) {
          if (!t0.c.try_recv().would_block()) wrong++;  // stopped: no value
        } else if (!recv_guarded(t0.c).got()) {
          wrong++;  // not stopped in time: its function runs and sends
        }
        if (s1) {
          if (!c1.try_recv().would_block()) wrong++;
        } else if (!recv_guarded(c1).got()) {
          wrong++;
        }
        if (t0.t.stop()) wrong++;
        if (t1.stop()) wrong++;
      }
      EXPECT_EQ(wrong, 0) << impl_name(func);
    }
  });
}

// Go's TestAfterQueuing: After channels of staggered durations, each
// awaited by its own goroutine. All arrive, none early, and a timer whose
// deadline is surely earlier than another's carries an earlier or equal
// time. (Go checks the order of arrival, with retries; the order of the
// values is what the timers decide. At maxprocs 1 one heap runs them all,
// in deadline order.)
TEST(GoPortTime, AfterChannelsFireInDeadlineOrder) {
  on_one_p([] {
    const std::vector<int> slots = {5, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0};
    constexpr auto delta = 2ms;
    const size_t n = slots.size();
    struct arrival {
      size_t idx = 0;
      bool ok = false;
      tp value{};
    };
    auto results = goro::make_chan<arrival>(static_cast<int64_t>(n));
    std::vector<tp> lo(n), hi(n);  // bounds of each deadline
    goro::wait_group wg;
    for (size_t i = 0; i < n; i++) {
      const auto d = slots[i] * delta;
      lo[i] = steady::now() + d;
      auto c = goro::after(d);
      hi[i] = steady::now() + d;
      wg.go([c, i, results] {
        auto g = recv_guarded(c);
        results.send({i, g.got(), g.value});
      });
    }
    std::vector<tp> v(n);
    for (size_t k = 0; k < n; k++) {
      arrival a = results.recv();
      ASSERT_TRUE(a.ok) << "After(" << slots[a.idx] << " * 2ms) never fired";
      v[a.idx] = a.value;
    }
    wg.wait();
    for (size_t i = 0; i < n; i++) {
      EXPECT_GE(v[i], lo[i]) << "After(" << slots[i] << " * 2ms) fired early";
      for (size_t j = 0; j < n; j++)
        if (hi[i] < lo[j]) {
          EXPECT_LE(v[i], v[j]) << "slot " << slots[i] << " (#" << i << ") fired after slot " << slots[j] << " (#"
                                << j << ")";
        }
    }
  });
}

// Go's TestTimerModifiedEarlier, both implementations: a timer set an
// hour out is stopped and reset to the distant past ten times in a row,
// and must still fire (Go's issue 47329: the timer was dropped). A channel
// timer's Stop is true every time (its value is never received); when an
// AfterFunc's Stop comes too late, its value is taken before the reset.
TEST(GoPortTime, TimerMovedEarlierRepeatedlyStillFires) {
  const int count = goro_test::scaled(400);
  goro_test::for_procs([count] {
    const auto past = -std::chrono::years(55);  // Go: Until(Unix(0, 0))
    for (bool func : {false, true}) {
      int stop_false = 0, missing = 0;
      for (int i = 0; i < count && missing == 0; i++) {
        test_timer tt = make_timer(func, 1h);
        for (int j = 0; j < 10; j++) {
          if (!tt.t.stop()) {
            stop_false++;
            if (!recv_guarded(tt.c).got()) missing++;
          }
          tt.t.reset(past);
        }
        goro::timer deadline = goro::new_timer(kHangGuard);
        if (goro::select(goro::on_recv(tt.c), goro::on_recv(deadline.c())) != 0) missing++;
        EXPECT_TRUE(deadline.stop());
      }
      EXPECT_EQ(missing, 0) << impl_name(func) << ": a timer moved earlier never fired";
      if (!func) {
        EXPECT_EQ(stop_false, 0) << "Stop of a timer whose value was never received returned false";
      }
    }
  });
}

// Go's TestAdjustTimers (Go's issue 47762), with both implementations
// (Go's uses newTimerFunc): 100 timers, each stepped through the same
// sequence (fire at once and be received; reset to minutes and stopped,
// three times; reset to 0 and received) in a random interleaving. Every
// Reset and Stop returns what Go 1.23 says it does.
TEST(GoPortTime, TimersSteppedThroughResetAndStopInRandomOrder) {
  goro_test::for_procs([] {
    const unsigned seed = std::random_device{}();
    std::mt19937 rng(seed);
    for (bool func : {false, true}) {
      constexpr int n = 100;
      std::vector<test_timer> timers(n);
      std::vector<int> states(n, 0);
      std::vector<int> indices(n);
      std::iota(indices.begin(), indices.end(), 0);
      std::shuffle(indices.begin(), indices.end(), rng);
      int wrong = 0, missing = 0;
      while (!indices.empty() && missing == 0) {
        const size_t ii = rng() % indices.size();
        const int i = indices[ii];
        test_timer& t = timers[i];
        switch (states[i]++) {
          case 0: t = make_timer(func, 0ns); break;
          case 1:  // fired at once: received, the timer is idle
            if (!recv_guarded(t.c).got()) missing++;
            break;
          case 2:  // idle: Reset reports false
            if (t.t.reset(1min)) wrong++;
            break;
          case 4:
            if (t.t.reset(3min)) wrong++;
            break;
          case 6:
            if (t.t.reset(2min)) wrong++;
            break;
          case 3:
          case 5:
          case 7:  // pending for minutes: Stop reports true
            if (!t.t.stop()) wrong++;
            break;
          case 8:  // stopped: false, and it fires at once
            if (t.t.reset(0ns)) wrong++;
            break;
          case 9:
            if (!recv_guarded(t.c).got()) missing++;
            break;
          case 10:
            indices[ii] = indices.back();
            indices.pop_back();
            break;
        }
      }
      EXPECT_EQ(wrong, 0) << impl_name(func) << ", seed " << seed << ": Reset or Stop returned the wrong value";
      EXPECT_EQ(missing, 0) << impl_name(func) << ", seed " << seed << ": a timer reset to fire at once never fired";
    }
  });
}

// Go's tickerTimer: a ticker seen through Timer's Stop/Reset, which
// report whether it was running.
struct ticker_as_timer {
  goro::ticker tk;
  bool stopped = false;
  bool stop() {
    bool pending = !stopped;
    stopped = true;
    tk.stop();
    return pending;
  }
  template <class D>
  bool reset(D d) {
    bool pending = !stopped;
    stopped = false;
    tk.reset(d);
    return pending;
  }
  goro::recv_chan<tp> c() const { return tk.c(); }
};

struct timer_as_timer {
  goro::timer t;
  bool stop() { return t.stop(); }
  template <class D>
  bool reset(D d) {
    return t.reset(d);
  }
  goro::recv_chan<tp> c() const { return t.c(); }
};

// Go's testTimerChan with Go 1.23's synchronous timer channels
// (asynctimerchan=0): no value from before a Stop or Reset is ever
// received; a receiver blocked on the channel waits through a far Reset
// and gets the value of an imminent one; of two selects on a timer's
// channel exactly one gets its value; selects on a stopped timer's channel
// get nothing.
template <class Tim>
void timer_chan_semantics(Tim& tim, bool is_ticker) {
  auto C = tim.c();
  constexpr auto sched = 2ms;  // a chance for a wrong value to show
  auto no_tick = [&](const char* where) { EXPECT_TRUE(C.try_recv().would_block()) << "extra tick: " << where; };
  auto assert_tick = [&](const char* where) { EXPECT_TRUE(recv_guarded(C).got()) << "missing tick: " << where; };

  EXPECT_TRUE(tim.stop());  // pending, never in use
  no_tick("after Stop");
  EXPECT_FALSE(tim.reset(10000s));
  no_tick("after a far Reset");
  EXPECT_TRUE(tim.reset(1ns));
  assert_tick("after Reset(1ns)");

  // A ticker has ticked again by now (or is about to): Reset withdraws it.
  goro::sleep_for(sched);
  EXPECT_EQ(tim.reset(10000s), is_ticker);  // a timer's value was received: false
  no_tick("after Reset following a tick");

  // A receiver blocked on the channel while the timer is re-armed.
  {
    auto done = goro::make_chan<goro::unit>();
    goro::wait_group wg;
    wg.go([C, done] {
      EXPECT_TRUE(recv_guarded(C).got());
      done.close();
    });
    goro::sleep_for(sched);
    EXPECT_TRUE(done.try_recv().would_block()) << "the receiver got a value from a timer 10000 s out";
    EXPECT_TRUE(tim.reset(20000s));
    goro::sleep_for(sched);
    EXPECT_TRUE(done.try_recv().would_block()) << "the receiver got a value from a timer 20000 s out";
    EXPECT_TRUE(tim.reset(1ns));
    EXPECT_TRUE(recv_guarded(done).timed_out == false) << "the blocked receiver never got the tick";
    wg.wait();
  }
  if (is_ticker) {
    assert_tick("a 1 ns ticker keeps ticking");
  } else {
    no_tick("a fired timer fires once");
  }
  tim.stop();
  no_tick("after Stop");

  // Two selects on the channel: the value goes to one of them.
  {
    EXPECT_FALSE(tim.reset(10000s));
    auto done = goro::make_chan<int>(2);
    auto stop = goro::make_chan<goro::unit>();
    goro::wait_group wg;
    for (int k = 0; k < 2; k++)
      wg.go([C, done, stop] {
        goro::select(goro::on_recv(C, [&] { done.send(1); }), goro::on_recv(stop));
      });
    goro::sleep_for(sched);
    EXPECT_TRUE(done.try_recv().would_block()) << "a select got a value from a timer 10000 s out";
    tim.reset(1ms);
    EXPECT_TRUE(recv_guarded(done).got()) << "neither select got the value";
    tim.stop();
    stop.close();
    wg.wait();
    if (is_ticker) {
      (void)done.try_recv();  // the other select may have had the next tick
    } else {
      EXPECT_TRUE(done.try_recv().would_block()) << "both selects got the timer's one value";
    }
    no_tick("after Stop, with selects on the channel");
  }

  // Selects on a stopped timer's channel get nothing.
  {
    std::atomic<int> unexpected{0};
    auto stop = goro::make_chan<goro::unit>();
    goro::wait_group wg;
    for (int k = 0; k < 2; k++)
      wg.go([C, stop, &unexpected] { goro::select(goro::on_recv(C, [&] { unexpected++; }), goro::on_recv(stop)); });
    goro::sleep_for(sched);
    stop.close();
    wg.wait();
    EXPECT_EQ(unexpected.load(), 0) << "a stopped timer's channel delivered";
  }

  // Stop and Reset withhold values from before them (Go's issue 37196).
  EXPECT_FALSE(tim.reset(1ns));
  goro::sleep_for(sched);  // it has fired, or will: either way Stop finds it pending
  EXPECT_TRUE(tim.stop());
  no_tick("after Stop of a fired, unreceived timer");
  EXPECT_FALSE(tim.reset(1h));
  no_tick("after Reset(1h)");
  EXPECT_TRUE(tim.reset(1ns));
  assert_tick("after Reset(1ns) of a pending timer");
  goro::sleep_for(sched);
  if (is_ticker) {
    assert_tick("a 1 ns ticker keeps ticking");
  } else {
    no_tick("a fired timer fires once");
  }
  EXPECT_EQ(tim.reset(1h), is_ticker);
  no_tick("after Reset(1h) following a tick");
  tim.stop();
}

// Go's TestChan, Timer (asynctimerchan=0).
TEST(GoPortTime, TimerChannelSemantics) {
  goro_test::for_procs([] {
    timer_as_timer tim{goro::new_timer(10000s)};
    timer_chan_semantics(tim, false);
  });
}

// Go's TestChan, Ticker (asynctimerchan=0).
TEST(GoPortTime, TickerChannelSemantics) {
  goro_test::for_procs([] {
    ticker_as_timer tim{goro::new_ticker(10000s)};
    timer_chan_semantics(tim, true);
  });
}

// Go's TestAfterTimes and TestTickTimes: a receiver that comes late gets
// the time the timer fired (for a ticker, the first tick it missed; the
// later ones are dropped), not the time of the receive. Evidence that the
// timer has fired: a witness timer with a later deadline, on the same heap
// (maxprocs 1), has fired first; the value must be no later than the
// witness's.
TEST(GoPortTime, LateReceiverGetsTheFiringTimeNotTheReceiveTime) {
  on_one_p([] {
    enum { after, timer_chan_made_first, timer_chan_made_late, tick, ticker_chan_made_late };
    for (int kind : {after, timer_chan_made_first, timer_chan_made_late, tick, ticker_chan_made_late}) {
      goro::recv_chan<tp> c;
      goro::timer t;
      goro::ticker tk;
      switch (kind) {
        case after: c = goro::after(1ms); break;
        case timer_chan_made_first:
          t = goro::new_timer(1ms);
          c = t.c();
          break;
        case timer_chan_made_late: t = goro::new_timer(1ms); break;
        case tick: c = goro::tick(1ms); break;
        case ticker_chan_made_late: tk = goro::new_ticker(1ms); break;
      }
      goro::timer witness = goro::new_timer(2ms);
      auto w = recv_guarded(witness.c());
      ASSERT_TRUE(w.got()) << "kind " << kind;
      goro::sleep_for(5ms);  // more ticks a ticker drops meanwhile
      if (kind == timer_chan_made_late) c = t.c();
      if (kind == ticker_chan_made_late) c = tk.c();
      const tp receive_start = steady::now();
      auto g = recv_guarded(c);
      ASSERT_TRUE(g.got()) << "kind " << kind;
      EXPECT_LE(g.value, w.value) << "kind " << kind << ": the value is later than a timer that fired after this one";
      EXPECT_LT(g.value, receive_start) << "kind " << kind;
      if (kind == ticker_chan_made_late) tk.stop();
    }
  });
}

// Go's TestReset and TestAfterStop look at a timer's channel with a
// select that has a default case, once its deadline has passed ("reset
// timer did not fire"). In Go 1.23 that look cannot miss: a channel timer
// nobody is blocked on sits on no heap, and every receive and every select
// first runs such a timer if its deadline has passed (the runtime's
// maybeRunChan), so once the clock is past the deadline even a
// non-blocking receive gets the value. Shown here without relying on a
// sleep: at maxprocs 1 the goroutine waits for the clock to pass the
// deadlines without reaching a scheduling point, then looks.
// FAILS: Go hands an expired timer's value to any receive once the clock is
// past its deadline; goro delivers it only when a P's scheduling loop runs
// its timer heap, so here try_recv returns would_block and a select takes
// its default case in most rounds (timer, after() and ticker alike).
TEST(GoPortTime, ExpiredTimerValueIsReadyForANonBlockingReceive) {
  on_one_p([] {
    constexpr int kRounds = 20;
    int missed_timer = 0, missed_after = 0, missed_ticker = 0, missed_select = 0;
    for (int i = 0; i < kRounds; i++) {
      goro::timer t = goro::new_timer(1ms);
      auto tc = t.c();
      goro::timer t2 = goro::new_timer(1ms);
      auto t2c = t2.c();
      auto a = goro::after(1ms);
      goro::ticker tk = goro::new_ticker(1ms);
      auto kc = tk.c();
      const auto past = steady::now() + 2ms;  // after every deadline above
      while (steady::now() < past) {
      }
      if (!tc.try_recv().received()) missed_timer++;
      if (!a.try_recv().received()) missed_after++;
      if (!kc.try_recv().received()) missed_ticker++;
      if (goro::select(goro::on_recv(t2c), goro::on_default()) != 0) missed_select++;
      tk.stop();
    }
    EXPECT_EQ(missed_timer, 0) << "of " << kRounds << " try_recv on an expired timer";
    EXPECT_EQ(missed_after, 0) << "of " << kRounds << " try_recv on an expired after()";
    EXPECT_EQ(missed_ticker, 0) << "of " << kRounds << " try_recv on a ticker past its first tick";
    EXPECT_EQ(missed_select, 0) << "of " << kRounds << " selects with a default on an expired timer";
  });
}

// Go's Timer.Stop and Timer.Reset documentation for AfterFunc timers
// (sleep.go; Go's TestAfterFunc relies on the first part): once f has
// started, Stop returns false without waiting for it, and Reset returns
// false and runs f again, possibly while the first call still runs. Reset
// of a pending AfterFunc moves the call: true, and f runs once.
TEST(GoPortTime, AfterFuncStopAndResetDoNotWaitForARunningCall) {
  goro_test::for_procs([] {
    auto release = goro::make_chan<goro::unit>();
    auto started = std::make_shared<std::atomic<int>>(0);
    auto finished = std::make_shared<std::atomic<int>>(0);
    goro::timer t = goro::after_func(0ns, [=] {
      (*started)++;
      release.recv();  // until closed
      (*finished)++;
    });
    const bool first = wait_for([&] { return started->load() == 1; });
    const bool stop_result = t.stop();
    const bool reset_result = t.reset(0ns);
    const bool second = wait_for([&] { return started->load() == 2; });
    const int finished_meanwhile = finished->load();
    release.close();
    EXPECT_TRUE(first);
    EXPECT_FALSE(stop_result) << "Stop after f started";
    EXPECT_FALSE(reset_result) << "Reset after f started";
    EXPECT_TRUE(second) << "Reset did not run f again while the first call still ran";
    EXPECT_EQ(finished_meanwhile, 0);
    EXPECT_TRUE(wait_for([&] { return finished->load() == 2; }));
    EXPECT_FALSE(t.stop());

    auto runs = std::make_shared<std::atomic<int>>(0);
    goro::timer p = goro::after_func(1h, [runs] { (*runs)++; });
    EXPECT_TRUE(p.reset(1ms)) << "Reset of a pending AfterFunc";
    EXPECT_TRUE(wait_for([&] { return runs->load() == 1; }));
    EXPECT_FALSE(p.stop()) << "the hour-long arming was replaced, not kept beside the new one";
    EXPECT_FALSE(p.reset(1h));
    EXPECT_TRUE(p.stop());
    EXPECT_EQ(runs->load(), 1);
  });
}

// Go's TestZeroTimer (Go's issue 44868), its three implementations plus a
// reused channel timer: zero-duration timers are never missed. A reused
// timer's Reset(0) reports true only the first time (it was pending an
// hour); after that its value has always been received.
TEST(GoPortTime, ZeroDurationTimersAreNeverMissed) {
  const int n = goro_test::scaled(1500);
  goro_test::for_procs([n] {
    int missed = 0, wrong_reset = 0;
    for (int i = 0; i < n && missed == 0; i++) {  // impl=chan
      goro::timer t = goro::new_timer(0ns);
      if (!recv_guarded(t.c()).got()) missed++;
    }
    for (int i = 0; i < n && missed == 0; i++) {  // impl=func
      test_timer t = make_timer(true, 0ns);
      if (!recv_guarded(t.c).got()) missed++;
    }
    for (bool func : {true, false}) {  // impl=cache, and its channel-timer twin
      test_timer t = make_timer(func, 1h);
      for (int i = 0; i < n && missed == 0; i++) {
        if (t.t.reset(0ns) != (i == 0)) wrong_reset++;
        if (!recv_guarded(t.c).got()) missed++;
      }
    }
    EXPECT_EQ(missed, 0) << "a zero-duration timer never fired";
    EXPECT_EQ(wrong_reset, 0);
  });
}

// Go's TestOverflowSleep: a duration so large that adding it to now
// overflows never fires (a short timer beside it wins), and the most
// negative durations fire at once, in every form: After, NewTimer, Reset,
// AfterFunc, Sleep.
TEST(GoPortTime, OverflowingAndMostNegativeDurations) {
  goro_test::for_procs([] {
    for (int k = 0; k < 3; k++) {
      auto huge = k == 0   ? goro::after(std::chrono::nanoseconds::max())
                  : k == 1 ? goro::after(std::chrono::hours::max())
                           : goro::after(std::chrono::duration<double>(1e300));
      EXPECT_EQ(goro::select(goro::on_recv(huge), goro::on_recv(goro::after(1ms))), 1) << "huge timeout #" << k
                                                                                        << " fired";
    }
    goro::sleep_for(std::chrono::nanoseconds::min());
    goro::sleep_for(std::chrono::hours::min());
    goro::sleep_until(steady::time_point::min());
    EXPECT_TRUE(recv_guarded(goro::after(std::chrono::nanoseconds::min())).got());
    EXPECT_TRUE(recv_guarded(goro::after(std::chrono::hours::min())).got());
    EXPECT_TRUE(recv_guarded(goro::after(std::chrono::duration<double>::min())).got());  // -1.8e308 s
    goro::timer t = goro::new_timer(std::chrono::nanoseconds::min());
    EXPECT_TRUE(recv_guarded(t.c()).got());
    EXPECT_FALSE(t.reset(std::chrono::hours::min()));
    EXPECT_TRUE(recv_guarded(t.c()).got());
    auto ran = goro::make_chan<int>(1);
    goro::timer f = goro::after_func(std::chrono::nanoseconds::min(), [ran] { ran.send(1); });
    EXPECT_TRUE(recv_guarded(ran).got());
    EXPECT_FALSE(f.stop());
  });
}

template <class F>
std::string panic_message(F f) {
  try {
    f();
  } catch (const goro::panic_error& e) {
    return e.what();
  }
  return "<no panic>";
}

// Go's TestZeroTimerResetPanics, TestZeroTimerStopPanics,
// TestNewTickerLtZeroDuration, TestTickerResetLtZeroDuration and
// TestIssue5745: Go's panic messages, the interval checked before the
// ticker (as Go's Ticker.Reset does), and a panic leaves nothing locked:
// a ticker still stops, resets and ticks afterwards, in a goroutine too.
TEST(GoPortTime, PanicsCarryGosMessagesAndLeaveTimersUsable) {
  goro::timer null_timer;
  goro::ticker null_ticker;
  EXPECT_EQ(panic_message([&] { null_timer.reset(1ns); }), "time: Reset called on uninitialized Timer");
  EXPECT_EQ(panic_message([&] { null_timer.stop(); }), "time: Stop called on uninitialized Timer");
  EXPECT_EQ(panic_message([&] { null_ticker.reset(1s); }), "time: Reset called on uninitialized Ticker");
  EXPECT_EQ(panic_message([&] { null_ticker.reset(0s); }), "non-positive interval for Ticker.Reset");
  EXPECT_EQ(panic_message([] { goro::new_ticker(-1ns); }), "non-positive interval for NewTicker");
  goro::run([&] {
    goro::ticker tk = goro::new_ticker(1h);
    EXPECT_EQ(panic_message([&] { tk.reset(0ns); }), "non-positive interval for Ticker.Reset");
    EXPECT_EQ(panic_message([&] { tk.reset(-1s); }), "non-positive interval for Ticker.Reset");
    EXPECT_TRUE(tk.c().try_recv().would_block()) << "a rejected Reset changed the ticker";
    EXPECT_EQ(panic_message([&] { null_timer.stop(); }), "time: Stop called on uninitialized Timer");
    tk.stop();  // Go's issue 5745: deadlocked after the panic
    tk.reset(1ms);
    EXPECT_TRUE(recv_guarded(tk.c()).got());
    tk.stop();
  });
}

}  // namespace
