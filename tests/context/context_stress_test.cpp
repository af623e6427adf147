// Context stress: goroutines and plain threads at once grow one tree
// (with_cancel, with_timeout, with_value, context_after_func), cancel
// random nodes of it and watch random nodes' done() channels, while the
// invariants are checked:
//  - every watcher woken by done() sees err() set (err before done);
//  - every done() channel is closed exactly once (a second close would
//    throw "close of closed channel" inside the runtime and end the test);
//  - every after func registered and not stopped runs exactly once (a
//    wait_group: a second run would panic on a negative counter, a missing
//    one would leave wait() blocked);
//  - after the nodes are cancelled, the root has no children left;
//  - after the root is cancelled, every node is done with an error equal
//    to its own cancellation or an ancestor's.
// Sizes scale with GORO_STRESS.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

inline constexpr goro::context_key<int> depth_key;

struct node {
  goro::context ctx;
  goro::cancel_func cancel;
  int parent = -1;
};

struct tree {
  std::mutex mu;  // the test's own bookkeeping, not the runtime's
  std::vector<node> nodes;
  goro::wait_group afuncs;  // one count per registered after func
  std::atomic<int> afunc_stopped{0};
  std::atomic<int> root_afuncs{0};
  std::atomic<int> watchers_woken{0};
  goro::wait_group watchers;

  node get(int i) {
    std::lock_guard lk(mu);
    return nodes[static_cast<size_t>(i)];
  }
  int size() {
    std::lock_guard lk(mu);
    return static_cast<int>(nodes.size());
  }
  void add(node n) {
    std::lock_guard lk(mu);
    nodes.push_back(std::move(n));
  }
};

void worker(tree& t, int iters, unsigned seed) {
  std::mt19937 rng(seed);
  for (int it = 0; it < iters; it++) {
    int i = static_cast<int>(rng() % static_cast<unsigned>(t.size()));
    node p = t.get(i);
    switch (rng() % 8) {
      case 0:
      case 1: {
        auto [c, cancel] = goro::with_cancel(p.ctx);
        t.add({c, cancel, i});
        break;
      }
      case 2: {
        auto [c, cancel] = goro::with_timeout(p.ctx, std::chrono::microseconds(rng() % 2000));
        t.add({c, cancel, i});
        break;
      }
      case 3: {
        const int* d = p.ctx.value(depth_key);
        auto [c, cancel] = goro::with_cancel(goro::with_value(p.ctx, depth_key, d != nullptr ? *d + 1 : 1));
        t.add({c, cancel, i});
        break;
      }
      case 4:
        if (i != 0) p.cancel();  // the root is cancelled at the end only
        break;
      case 5: {
        t.afuncs.add(1);
        auto stop = goro::context_after_func(p.ctx, [&t, ctx = p.ctx] {
          EXPECT_TRUE(ctx.err());
          t.afuncs.done();
        });
        if (rng() % 2 == 0 && stop()) {
          t.afunc_stopped++;
          t.afuncs.done();
        } else if (i == 0) {
          t.root_afuncs++;  // registered on the root until it is cancelled
        }
        break;
      }
      case 6: {
        t.watchers.add(1);
        goro::go([&t, ctx = p.ctx] {
          ctx.done().recv();
          EXPECT_TRUE(ctx.err());  // err is set before done is closed
          t.watchers_woken++;
          t.watchers.done();
        });
        break;
      }
      case 7: {
        // A short-lived child, dropped without cancel, or cancelled.
        auto [c, cancel] = goro::with_cancel(p.ctx);
        if (rng() % 2 == 0) cancel();
        break;
      }
    }
  }
}

void run_stress(int goroutines, int threads, int iters) {
  tree t;
  auto [root, root_cancel] = goro::with_cancel(goro::background());
  t.nodes.push_back({root, root_cancel, -1});
  goro::wait_group wg;
  for (int g = 0; g < goroutines; g++) wg.go([&t, iters, g] { worker(t, iters, 1000u + static_cast<unsigned>(g)); });
  std::vector<std::thread> ths;
  for (int k = 0; k < threads; k++)
    ths.emplace_back([&t, iters, k] { worker(t, iters, 2000u + static_cast<unsigned>(k)); });
  wg.wait();
  for (auto& th : ths) th.join();

  // Cancel every node but the root: the root's list must then hold only
  // the after funcs registered on it.
  for (size_t i = 1; i < t.nodes.size(); i++) t.nodes[i].cancel();
  EXPECT_EQ(goro::detail::context_child_count(root), t.root_afuncs.load());
  EXPECT_FALSE(root.err());
  root_cancel();
  for (const node& n : t.nodes) {
    auto [v, ok] = n.ctx.done().recv_ok();  // closed: returns at once
    EXPECT_FALSE(ok);
    std::error_code e = n.ctx.err();
    EXPECT_TRUE(e == goro::errc::canceled || e == goro::errc::deadline_exceeded) << e.message();
    // A deadline error comes from this node or an ancestor with a deadline.
    if (e == goro::errc::deadline_exceeded) {
      bool found = false;
      for (int a = static_cast<int>(&n - t.nodes.data()); a >= 0; a = t.nodes[static_cast<size_t>(a)].parent)
        found = found || t.nodes[static_cast<size_t>(a)].ctx.deadline().has_value();
      EXPECT_TRUE(found);
    }
  }
  t.afuncs.wait();
  t.watchers.wait();
}

TEST(ContextStress, GoroutinesAndThreadsGrowAndCancelOneTree) {
  const int iters = goro_test::scaled(3000, 4);
  goro_test::for_procs([iters] { run_stress(goro_test::goroutines(8, 2, 2), 2, iters); });
}

// Cancelling one parent from many goroutines and threads at once, while
// children are being added: each child is cancelled once, and all of them.
TEST(ContextStress, ConcurrentCancelOfOneParent) {
  const int rounds = goro_test::scaled(300, 4);
  goro::run([rounds] {
    for (int r = 0; r < rounds; r++) {
      auto [parent, cancel] = goro::with_cancel(goro::background());
      std::vector<goro::context> kids;
      for (int i = 0; i < 20; i++) kids.push_back(goro::with_cancel(parent).first);
      goro::wait_group wg;
      std::atomic<int> late_done{0};
      for (int i = 0; i < 3; i++) wg.go([cancel = cancel] { cancel(); });
      wg.go([parent = parent, &late_done] {
        // Children added while the parent is being cancelled are done
        // once it is.
        for (int i = 0; i < 20; i++) {
          auto [c, cc] = goro::with_cancel(parent);
          if (parent.err()) {
            EXPECT_TRUE(c.err());
            late_done++;
          }
        }
      });
      std::thread th([cancel = cancel] { cancel(); });
      wg.wait();
      th.join();
      for (auto& k : kids) {
        EXPECT_EQ(k.err(), goro::errc::canceled);
        k.done().recv();
      }
      EXPECT_EQ(goro::detail::context_child_count(parent), 0);
    }
  });
}

// A deep chain: cancelling the root walks it without recursion, and
// dropping it frees it without recursion (a goroutine's stack is small).
TEST(ContextStress, DeepChain) {
  const int depth = goro_test::scaled(200'000, 10);
  goro::run([depth] {
    auto [root, cancel] = goro::with_cancel(goro::background());
    goro::context leaf = root;
    std::vector<goro::cancel_func> cancels;
    for (int i = 0; i < depth; i++) {
      auto [c, cc] = goro::with_cancel(i % 2 == 0 ? leaf : goro::with_value(leaf, depth_key, i));
      leaf = c;
    }
    cancel();
    leaf.done().recv();
    EXPECT_EQ(leaf.err(), goro::errc::canceled);
    EXPECT_EQ(*leaf.value(depth_key), depth - 1 - ((depth - 1) % 2 == 0 ? 1 : 0));
  });
}

}  // namespace
