// goro::context against the semantics of Go's own context tests
// (src/context/x_test.go, context_test.go, afterfunc_test.go), for what
// context_test.cpp and context_stress_test.cpp do not cover yet: cancels
// racing each other over a tree, cancels interlocked through done(),
// random layers of value/cancel/timeout contexts, a parent cancelled while
// a child is being made, the whole Cause table, cause() polled while
// another goroutine cancels, after funcs that block and that are
// registered several times, and deadlines earlier and later than the
// parent's. Everything waits on conditions; the only durations are
// deadlines in the past, deadlines that must never come (an hour) and
// hang guards of 30 s. The two tests at the end check the order in which
// a cancelled tree becomes visible, where goro differed from Go.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::for_procs;

namespace {

constexpr auto kHangGuard = 30s;

inline constexpr goro::context_key<int> kValueKey;

// Whether ctx.done() is closed now (Go's `select { case <-ctx.Done(): default: }`).
bool is_done(const goro::context& ctx) {
  return goro::select(goro::case_recv(ctx.done()), goro::case_default()).index() == 0;
}

// Waits for ch to be closed (or to deliver); false only if the hang guard
// fired first, i.e. the build is broken.
bool await_done(const goro::recv_chan<goro::unit>& ch) {
  return goro::select(goro::case_recv(ch), goro::case_recv(goro::after(kHangGuard))).index() == 0;
}

const std::error_code kParentCause = std::make_error_code(std::errc::connection_reset);
const std::error_code kChildCause = std::make_error_code(std::errc::connection_aborted);
const std::error_code kTooSlow = std::make_error_code(std::errc::timed_out);
const std::error_code kFinishedEarly = std::make_error_code(std::errc::operation_canceled);

// Go's TestSimultaneousCancels: a 4-ary tree of about 100 contexts whose
// cancel functions all run at once, in goroutines, in random order. Every
// context ends done with errc::canceled, every cancel returns, and no
// context keeps a child.
TEST(GoPortContext, SimultaneousCancels) {
  for_procs([] {
    std::mt19937 rng(42);
    for (int round = 0; round < goro_test::scaled(10, 5); round++) {
      std::vector<std::pair<goro::context, goro::cancel_func>> all;
      all.push_back(goro::with_cancel(goro::background()));
      for (size_t q = 0; q < all.size() && all.size() < 100; q++) {
        goro::context parent = all[q].first;
        for (int i = 0; i < 4; i++) all.push_back(goro::with_cancel(parent));
      }
      std::vector<size_t> order(all.size());
      for (size_t i = 0; i < order.size(); i++) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      goro::wait_group wg;
      for (size_t i : order) wg.go([cancel = all[i].second] { cancel(); });
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t i : order) ASSERT_TRUE(await_done(all[i].first.done())) << "context " << i << " never done";
      wg.wait();
      for (auto& [ctx, cancel] : all) {
        EXPECT_EQ(ctx.err(), goro::errc::canceled);
        EXPECT_EQ(goro::cause(ctx), goro::errc::canceled);
        EXPECT_EQ(goro::detail::context_child_count(ctx), 0);
      }
    }
  });
}

// Go's TestInterlockedCancels: a goroutine that waits for the parent's
// done() and then cancels the child, while the parent's cancel is in
// progress, must not deadlock with it; the child ends done.
TEST(GoPortContext, InterlockedCancels) {
  for_procs([] {
    for (int i = 0; i < goro_test::scaled(200, 10); i++) {
      auto [parent, cancel_parent] = goro::with_cancel(goro::background());
      auto [child, cancel_child] = goro::with_cancel(parent);
      goro::wait_group wg;
      wg.go([parent = parent, cancel_child = cancel_child] {
        parent.done().recv();
        cancel_child();
      });
      cancel_parent();
      ASSERT_TRUE(await_done(child.done()));
      wg.wait();
      EXPECT_EQ(child.err(), goro::errc::canceled);
      EXPECT_EQ(goro::detail::context_child_count(parent), 0);
    }
  });
}

// The layers of Go's testLayers: a chain of at least 30 contexts, each a
// with_value, a with_cancel or a with_timeout of the one before, picked at
// random (seeded), with at least one of each kind.
struct layers {
  std::vector<std::unique_ptr<goro::context_key<int>>> keys;  // keys[i] holds i
  std::vector<goro::context> ctxs;  // ctxs[k]: the context after layer k
  std::vector<std::pair<size_t, goro::cancel_func>> cancels;  // (layer, its cancel)
  size_t first_timer = SIZE_MAX;  // the layer of the first with_timeout

  layers(uint32_t seed, std::chrono::nanoseconds timeout) {
    std::mt19937 rng(seed);
    goro::context ctx = goro::background();
    int timers = 0;
    for (int i = 0; i < 30 || timers == 0 || cancels.size() == static_cast<size_t>(timers) || keys.empty(); i++) {
      switch (rng() % 3) {
        case 0: {
          keys.push_back(std::make_unique<goro::context_key<int>>());
          ctx = goro::with_value(ctx, *keys.back(), static_cast<int>(keys.size() - 1));
          break;
        }
        case 1: {
          auto [c, cancel] = goro::with_cancel(ctx);
          ctx = c;
          cancels.emplace_back(ctxs.size(), cancel);
          break;
        }
        default: {
          auto [c, cancel] = goro::with_timeout(ctx, timeout);
          ctx = c;
          if (first_timer == SIZE_MAX) first_timer = ctxs.size();
          cancels.emplace_back(ctxs.size(), cancel);
          timers++;
          break;
        }
      }
      ctxs.push_back(ctx);
    }
  }

  // Every value is seen from the innermost context, by its own key.
  void check_values(const char* when) const {
    for (size_t i = 0; i < keys.size(); i++) {
      const int* v = ctxs.back().value(*keys[i]);
      ASSERT_NE(v, nullptr) << when << ": key " << i;
      EXPECT_EQ(*v, static_cast<int>(i)) << when << ": key " << i;
    }
  }

  void cancel_all() const {
    for (auto& [layer, cancel] : cancels) cancel();
  }
};

// Go's TestLayersCancel: cancelling one layer's context makes it and every
// later layer done at once (before cancel returns) with errc::canceled;
// the layers before it stay alive; values are still found afterwards.
TEST(GoPortContext, LayersCancel) {
  for (uint32_t seed = 1; seed <= static_cast<uint32_t>(goro_test::scaled(40, 4)); seed++) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    layers l(seed, 1h);
    EXPECT_FALSE(is_done(l.ctxs.back()));
    EXPECT_FALSE(l.ctxs.back().err());
    l.check_values("before cancel");
    std::mt19937 rng(seed * 7919);
    auto [layer, cancel] = l.cancels[rng() % l.cancels.size()];
    cancel();
    for (size_t k = 0; k < l.ctxs.size(); k++) {
      if (k < layer) {
        EXPECT_FALSE(l.ctxs[k].err()) << "layer " << k << " before the cancelled " << layer;
        EXPECT_FALSE(is_done(l.ctxs[k])) << "layer " << k;
      } else {
        EXPECT_EQ(l.ctxs[k].err(), goro::errc::canceled) << "layer " << k << " from the cancelled " << layer;
        EXPECT_TRUE(is_done(l.ctxs[k])) << "layer " << k;
      }
    }
    l.check_values("after cancel");
    l.cancel_all();
  }
}

// Go's TestLayersTimeout: with short timeouts the innermost context ends
// done with errc::deadline_exceeded (the earliest deadline wins, whatever
// its layer) and the values are still found; the layers before the first
// timer never become done by themselves.
TEST(GoPortContext, LayersTimeout) {
  for (uint32_t seed = 1; seed <= static_cast<uint32_t>(goro_test::scaled(20, 4)); seed++) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    layers l(seed, 1ms);
    l.check_values("before timeout");
    ASSERT_TRUE(await_done(l.ctxs.back().done()));
    EXPECT_EQ(l.ctxs.back().err(), goro::errc::deadline_exceeded);
    EXPECT_EQ(goro::cause(l.ctxs.back()), goro::errc::deadline_exceeded);
    ASSERT_NE(l.first_timer, SIZE_MAX);
    ASSERT_TRUE(await_done(l.ctxs[l.first_timer].done()));
    for (size_t k = l.first_timer; k < l.ctxs.size(); k++)
      EXPECT_EQ(l.ctxs[k].err(), goro::errc::deadline_exceeded) << "layer " << k;
    for (size_t k = 0; k < l.first_timer; k++) EXPECT_FALSE(l.ctxs[k].err()) << "layer " << k;
    l.check_values("after timeout");
    l.cancel_all();
    EXPECT_EQ(l.ctxs.back().err(), goro::errc::deadline_exceeded);  // a later cancel changes nothing
  }
}

// Go's TestWithCancelSimultaneouslyCanceledParent: the parent is cancelled
// (with a cause) by another goroutine while the child is being made. The
// child always ends done, with errc::canceled and the parent's cause, and
// is not left on the parent's list.
TEST(GoPortContext, WithCancelSimultaneouslyCanceledParent) {
  for_procs([] {
    for (int i = 0; i < goro_test::scaled(100, 2); i++) {
      auto [parent, pcancel] = goro::with_cancel_cause(goro::background());
      goro::wait_group wg;
      wg.go([pcancel = pcancel] { pcancel(kParentCause); });
      auto [child, ccancel] = goro::with_cancel(parent);
      ASSERT_TRUE(await_done(child.done()));
      EXPECT_EQ(child.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(child), kParentCause);
      wg.wait();
      EXPECT_EQ(goro::detail::context_child_count(parent), 0);
    }
  });
}

// Go's TestCause, the whole table: err() and cause() for each way of being
// done, including the orders of parent and child cancels, timeouts of 0
// (done at once, so a later cancel changes nothing), causes stacked under
// a deadline, and without_cancel.
TEST(GoPortContext, CauseTable) {
  const auto forever = 1'000'000s;
  struct test_case {
    const char* name;
    std::function<goro::context()> make;
    std::error_code err;
    std::error_code cause;
  };
  const goro::errc canceled = goro::errc::canceled;
  const goro::errc deadline = goro::errc::deadline_exceeded;
  std::vector<test_case> cases = {
      {"background", [] { return goro::background(); }, {}, {}},
      {"todo", [] { return goro::todo(); }, {}, {}},
      {"with_cancel",
       [] {
         auto [ctx, cancel] = goro::with_cancel(goro::background());
         cancel();
         return ctx;
       },
       canceled, canceled},
      {"with_cancel_cause",
       [] {
         auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
         cancel(kParentCause);
         return ctx;
       },
       canceled, kParentCause},
      {"with_cancel_cause empty",
       [] {
         auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
         cancel({});
         return ctx;
       },
       canceled, canceled},
      {"parent cause before child's",
       [] {
         auto [p, cancel_parent] = goro::with_cancel_cause(goro::background());
         auto [c, cancel_child] = goro::with_cancel_cause(p);
         cancel_parent(kParentCause);
         cancel_child(kChildCause);
         return c;
       },
       canceled, kParentCause},
      {"parent cause after child's",
       [] {
         auto [p, cancel_parent] = goro::with_cancel_cause(goro::background());
         auto [c, cancel_child] = goro::with_cancel_cause(p);
         cancel_child(kChildCause);
         cancel_parent(kParentCause);
         return c;
       },
       canceled, kChildCause},
      {"parent cause before plain child cancel",
       [] {
         auto [p, cancel_parent] = goro::with_cancel_cause(goro::background());
         auto [c, cancel_child] = goro::with_cancel(p);
         cancel_parent(kParentCause);
         cancel_child();
         return c;
       },
       canceled, kParentCause},
      {"parent cause after plain child cancel",
       [] {
         auto [p, cancel_parent] = goro::with_cancel_cause(goro::background());
         auto [c, cancel_child] = goro::with_cancel(p);
         cancel_child();
         cancel_parent(kParentCause);
         return c;
       },
       canceled, canceled},
      {"child cause after plain parent cancel",
       [] {
         auto [p, cancel_parent] = goro::with_cancel(goro::background());
         auto [c, cancel_child] = goro::with_cancel_cause(p);
         cancel_parent();
         cancel_child(kChildCause);
         return c;
       },
       canceled, canceled},
      {"child cause before plain parent cancel",
       [] {
         auto [p, cancel_parent] = goro::with_cancel(goro::background());
         auto [c, cancel_child] = goro::with_cancel_cause(p);
         cancel_child(kChildCause);
         cancel_parent();
         return c;
       },
       canceled, kChildCause},
      {"with_timeout 0",
       [] {
         auto [ctx, cancel] = goro::with_timeout(goro::background(), 0s);
         cancel();
         return ctx;
       },
       deadline, deadline},
      {"with_timeout cancelled",
       [forever] {
         auto [ctx, cancel] = goro::with_timeout(goro::background(), forever);
         cancel();
         return ctx;
       },
       canceled, canceled},
      {"with_timeout_cause 0",
       [] {
         auto [ctx, cancel] = goro::with_timeout_cause(goro::background(), 0s, kTooSlow);
         cancel();
         return ctx;
       },
       deadline, kTooSlow},
      {"with_timeout_cause cancelled",
       [forever] {
         auto [ctx, cancel] = goro::with_timeout_cause(goro::background(), forever, kTooSlow);
         cancel();
         return ctx;
       },
       canceled, canceled},
      {"with_timeout_cause stacked",
       [] {
         auto [p, cancel] = goro::with_cancel_cause(goro::background());
         auto [c, unused] = goro::with_timeout_cause(p, 0s, kTooSlow);
         cancel(kFinishedEarly);
         return c;
       },
       deadline, kTooSlow},
      {"with_timeout_cause stacked cancelled",
       [forever] {
         auto [p, cancel] = goro::with_cancel_cause(goro::background());
         auto [c, c_cancel] = goro::with_timeout_cause(p, forever, kTooSlow);
         cancel(kFinishedEarly);
         c_cancel();  // after the parent's: changes nothing
         return c;
       },
       canceled, kFinishedEarly},
      {"without_cancel", [] { return goro::without_cancel(goro::background()); }, {}, {}},
      {"without_cancel of a cancelled parent",
       [] {
         auto [p, cancel] = goro::with_cancel_cause(goro::background());
         auto w = goro::without_cancel(p);
         cancel(kFinishedEarly);
         return w;
       },
       {}, {}},
      {"without_cancel of a timed-out parent",
       [] {
         auto [p, cancel] = goro::with_timeout_cause(goro::background(), 0s, kTooSlow);
         auto w = goro::without_cancel(p);
         cancel();
         return w;
       },
       {}, {}},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    goro::context ctx = tc.make();
    EXPECT_EQ(ctx.err(), tc.err) << ctx.err().message();
    EXPECT_EQ(goro::cause(ctx), tc.cause) << goro::cause(ctx).message();
  }
}

// Go's TestCauseRace: cause() polled (not waited for through done()) while
// another goroutine cancels with a cause: the first cause seen is the
// given one, never an intermediate errc::canceled; and once err() is seen
// set, cause() is already the given one, on the context and on a child
// the cancel reaches.
TEST(GoPortContext, CauseRace) {
  for_procs([] {
    for (int i = 0; i < goro_test::scaled(300, 10); i++) {
      auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
      auto [child, child_cancel] = goro::with_cancel(goro::with_value(ctx, kValueKey, i));
      goro::wait_group wg;
      wg.go([cancel = cancel] { cancel(kParentCause); });
      for (;;) {
        if (std::error_code c = goro::cause(ctx)) {
          EXPECT_EQ(c, kParentCause);
          break;
        }
        goro::yield();
      }
      for (;;) {
        if (child.err()) {
          EXPECT_EQ(goro::cause(child), kParentCause);
          break;
        }
        goro::yield();
      }
      wg.wait();
      EXPECT_EQ(ctx.err(), goro::errc::canceled);
    }
  });
}

// Go's TestAfterFuncCalledAsynchronously: cancel does not wait for an
// after func to finish. Here f blocks on an unbuffered send that is
// received only after cancel returned; at maxprocs 1 too.
TEST(GoPortContext, AfterFuncCalledAsynchronously) {
  auto body = [] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto donec = goro::make_chan<goro::unit>();  // unbuffered: f blocks in send
    auto stop = goro::context_after_func(ctx, [donec] { donec.send({}); });
    cancel();
    ASSERT_TRUE(await_done(donec));
    EXPECT_FALSE(stop());  // f was started
  };
  for_procs(body);
  body();  // cancelled from a plain thread
}

// Go's AfterFunc contract, "each call registers f separately": three
// registrations on one context, the middle one stopped, run
// independently; the stopped one reports it was stopped, the others that
// they had started.
TEST(GoPortContext, AfterFuncRegistrationsAreIndependent) {
  for_procs([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto ran = goro::make_chan<int>(3);
    auto f = [ran](int id) { return [ran, id] { ran.send(id); }; };
    auto stop1 = goro::context_after_func(ctx, f(1));
    auto stop2 = goro::context_after_func(ctx, f(2));
    auto stop3 = goro::context_after_func(ctx, f(1));  // the same function again: runs again
    EXPECT_EQ(goro::detail::context_child_count(ctx), 3);
    EXPECT_TRUE(stop2());
    EXPECT_EQ(goro::detail::context_child_count(ctx), 2);
    cancel();
    int a = ran.recv(), b = ran.recv();
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 1);
    EXPECT_FALSE(stop1());
    EXPECT_FALSE(stop3());
    EXPECT_FALSE(stop2());  // stopped already
    EXPECT_EQ(goro::detail::context_child_count(ctx), 0);
  });
}

// Go's AfterFunc on a context that can never be done (without_cancel of a
// cancelled parent): f is never started, so stop, even after the parent's
// cancel, stops it (true), once.
TEST(GoPortContext, AfterFuncOnWithoutCancelNeverRuns) {
  auto [p, cancel] = goro::with_cancel(goro::background());
  auto w = goro::with_value(goro::without_cancel(p), kValueKey, 1);
  std::atomic<bool> ran{false};
  auto stop = goro::context_after_func(w, [&ran] { ran = true; });
  EXPECT_EQ(goro::detail::context_child_count(p), 0);  // not registered on p
  cancel();
  EXPECT_TRUE(stop());  // f was not started by p's cancel
  EXPECT_FALSE(stop());
  EXPECT_FALSE(ran.load());
}

// Go's TestDeadline ("in the past", "now") and WithDeadline's rule for a
// deadline earlier than the parent's: the child keeps its own deadline,
// becomes done by it with errc::deadline_exceeded while the parent stays
// alive, and leaves the parent's list by itself (its cancel is never
// called). A deadline of now, in the past, or a timeout <= 0 makes the
// child done before with_deadline returns.
TEST(GoPortContext, DeadlineEarlierThanParent) {
  for_procs([] {
    auto [p, pcancel] = goro::with_timeout(goro::background(), 1h);
    {
      auto [c, ccancel] = goro::with_timeout(p, 1ms);
      ASSERT_TRUE(c.deadline() && p.deadline());
      EXPECT_LT(*c.deadline(), *p.deadline());
      ASSERT_TRUE(await_done(c.done()));
      EXPECT_EQ(c.err(), goro::errc::deadline_exceeded);
      EXPECT_EQ(goro::cause(c), goro::errc::deadline_exceeded);
      // The timer's cancel detaches it, as cancel would.
      ASSERT_TRUE(goro_test::wait_for([&p = p] { return goro::detail::context_child_count(p) == 0; }));
    }
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<goro::context, goro::cancel_func>> at_once;
    at_once.push_back(goro::with_deadline(p, now));
    at_once.push_back(goro::with_deadline(p, now - 1s));
    at_once.push_back(goro::with_deadline(p, std::chrono::system_clock::now() - 1s));
    at_once.push_back(goro::with_timeout(p, 0s));
    at_once.push_back(goro::with_timeout(p, -5s));
    at_once.push_back(goro::with_deadline_cause(p, now, kTooSlow));
    for (size_t i = 0; i < at_once.size(); i++) {
      const goro::context& c = at_once[i].first;
      EXPECT_EQ(c.err(), goro::errc::deadline_exceeded) << i;
      EXPECT_TRUE(is_done(c)) << i;
      EXPECT_EQ(goro::cause(c), i + 1 == at_once.size() ? kTooSlow : std::error_code(goro::errc::deadline_exceeded))
          << i;
      at_once[i].second();  // after the deadline: changes nothing
      EXPECT_EQ(c.err(), goro::errc::deadline_exceeded) << i;
    }
    EXPECT_EQ(goro::detail::context_child_count(p), 0);
    EXPECT_FALSE(p.err());
    EXPECT_FALSE(is_done(p));
    pcancel();
  });
}

// Go's TestDeadline "WithDeadline+otherContext+WithDeadline" and the
// propagation of a parent's deadline: a child asking for a later deadline
// keeps the parent's; when it passes, the child and its descendants (also
// below a value context) are done with errc::deadline_exceeded and the
// parent's cause.
TEST(GoPortContext, DeadlineLaterThanParentKeepsParents) {
  for_procs([] {
    auto [p, pcancel] = goro::with_timeout_cause(goro::background(), 2ms, kTooSlow);
    auto [c, ccancel] = goro::with_timeout_cause(p, 1h, kChildCause);
    EXPECT_EQ(c.deadline(), p.deadline());
    auto v = goro::with_value(c, kValueKey, 5);
    auto [g, gcancel] = goro::with_cancel(v);
    EXPECT_EQ(g.deadline(), p.deadline());
    ASSERT_TRUE(await_done(g.done()));
    // Ancestors are published after their descendants (context.cpp): wait
    // for p too before reading its err (see ChildDoneImpliesParentErr).
    ASSERT_TRUE(await_done(p.done()));
    const goro::context chain[] = {p, c, v, g};
    for (int i = 0; i < 4; i++) {
      EXPECT_EQ(chain[i].err(), goro::errc::deadline_exceeded) << "chain[" << i << "]";
      EXPECT_EQ(goro::cause(chain[i]), kTooSlow) << "chain[" << i << "]";
    }
    gcancel();
    ccancel();
    EXPECT_EQ(g.err(), goro::errc::deadline_exceeded);
  });
}

// A chain root -> n1 -> ... -> nK of with_cancel contexts.
std::vector<std::pair<goro::context, goro::cancel_func>> make_chain(const goro::context& root, int k) {
  std::vector<std::pair<goro::context, goro::cancel_func>> chain;
  goro::context ctx = root;
  for (int i = 0; i < k; i++) {
    chain.push_back(goro::with_cancel(ctx));
    ctx = chain.back().first;
  }
  return chain;
}

// Go sets a context's err before it cancels the children (cancelCtx.cancel:
// c.err, close(done), then each child, all under c.mu, which Err takes), so
// a goroutine that sees a descendant done because the root was cancelled
// then sees root.Err() != nil. goro publishes a cancelled tree bottom-up,
// and a watcher woken by the deepest context's done() read the root's
// err() empty while the cancel was still publishing the chain; now err()
// waits for the publish of a context whose cancellation has begun.
// Go's TestWithCancel/TestParentFinishesChild propagation, seen from a
// concurrent watcher on a plain thread.
TEST(GoPortContext, ChildDoneImpliesParentErr) {
  const int depth = goro_test::scaled(2000, 4);
  int violations = 0;
  for (int round = 0; round < 20; round++) {
    auto [root, cancel] = goro::with_cancel(goro::background());
    auto chain = make_chain(root, depth);
    goro::recv_chan<goro::unit> deepest = chain.back().first.done();
    std::atomic<bool> watching{false};
    bool root_err_seen = true;
    std::thread watcher([&, root = root] {
      watching = true;
      while (!deepest.try_recv().closed()) {
      }
      root_err_seen = static_cast<bool>(root.err());
    });
    while (!watching.load()) std::this_thread::yield();
    cancel();
    watcher.join();
    if (!root_err_seen) violations++;
  }
  EXPECT_EQ(violations, 0) << "rounds in which the deepest context was done while the root's err() was empty";
}

// In Go a cancel function returns only once every descendant's Err() is
// set, even when a descendant's own cancel is running at the same moment
// (the parent's cancel waits on that child's lock; Go's TestWithCancel
// "should propagate synchronously"). goro's root cancel skips a child
// whose own cancel has started, and returned while that cancel was still
// publishing: the child's err() read empty after the root's cancel
// returned. Now err() waits for that publish (context.cpp's header says
// which window is left).
TEST(GoPortContext, CancelReturnsAfterDescendantsDespiteConcurrentCancel) {
  const int depth = goro_test::scaled(2000, 4);
  int violations = 0;
  for (int round = 0; round < 20; round++) {
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    auto [mid, cancel_mid] = goro::with_cancel(root);
    auto chain = make_chain(mid, depth);
    std::thread other([cancel_mid = cancel_mid] { cancel_mid(); });
    // Once the deepest is published, mid's own cancel is under way.
    while (!chain.back().first.err()) std::this_thread::yield();
    cancel_root();
    bool all_set = static_cast<bool>(mid.err()) && static_cast<bool>(chain.front().first.err());
    other.join();
    if (!all_set) violations++;
    EXPECT_EQ(mid.err(), goro::errc::canceled);
  }
  EXPECT_EQ(violations, 0) << "rounds in which cancel() returned before a descendant's err() was set";
}

// The same guarantee when the root's cancel starts while mid's own cancel
// is still on its way down the chain: the root's cancel skips mid (busy)
// and must wait for it, or the deepest context, which mid's canceller has
// not reached yet, reads err() empty after the root's cancel returned. (Go:
// the root's cancel waits on mid's lock.)
TEST(GoPortContext, CancelWaitsForADescendantsCancelStillUnderWay) {
  const int depth = goro_test::scaled(2000, 4);
  int violations = 0;
  for (int round = 0; round < 30; round++) {
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    auto [mid, cancel_mid] = goro::with_cancel(root);
    auto chain = make_chain(mid, depth);
    std::atomic<bool> going{false};
    std::thread other([&going, cancel_mid = cancel_mid] {
      going = true;
      cancel_mid();
    });
    while (!going.load()) {
    }
    cancel_root();
    if (!chain.back().first.err() || !mid.err()) violations++;
    other.join();
  }
  EXPECT_EQ(violations, 0) << "rounds in which the root's cancel returned before a descendant's err() was set";
}

}  // namespace
