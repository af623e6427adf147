// The toolkit suite's context rows (../shared/bench/README.md), the Go
// anchor's ctxCancel workload for workload (../shared/bench/go/main.go):
//   toolkit ctx_tree   - 100,000 with_cancel children of one parent, each
//                        watched by a goroutine blocked on done(); timed
//                        from the first child to every watcher started.
//   toolkit ctx_cancel - then the parent is cancelled; each watcher checks
//                        err() == canceled and cancels its child; timed
//                        from the cancel to every watcher woken.
#include <atomic>
#include <cstdint>

#include "goro/context.hpp"
#include "goro/wait_group.hpp"
#include "harness.hpp"

namespace goro_bench {

namespace {

constexpr int64_t kCtxChildren = 100'000;

void ctx_cancel_rows() {
  auto [parent, cancel] = goro::with_cancel(goro::background());
  goro::wait_group ready, woke;
  ready.add(kCtxChildren);
  woke.add(kCtxChildren);
  std::atomic<int64_t> errs{0};
  stopwatch build;
  for (int64_t i = 0; i < kCtxChildren; i++) {
    auto [child, child_cancel] = goro::with_cancel(parent);
    goro::go([child = std::move(child), child_cancel = std::move(child_cancel), &ready, &woke, &errs] {
      ready.done();
      child.done().recv();
      if (child.err() != goro::errc::canceled) errs.fetch_add(1, std::memory_order_relaxed);
      woke.done();
      child_cancel();  // Go's defer childCancel(): after woke.Done()
    });
  }
  ready.wait();
  double built = build.seconds();
  steal_count steals;
  stopwatch sw;
  cancel();
  woke.wait();
  double d = sw.seconds();
  if (errs.load() != 0) fail("ctx_cancel: %lld children saw the wrong error", static_cast<long long>(errs.load()));
  if (goro::detail::context_child_count(parent) != 0) fail("ctx_cancel: children left on the parent");
  emit("toolkit", "ctx_tree", "-", built, kCtxChildren);
  emit("toolkit", "ctx_cancel", "-", d, kCtxChildren, steals.extra());
}

}  // namespace

void toolkit_context_suite() {
  if (selected("toolkit", "ctx_tree", "-") || selected("toolkit", "ctx_cancel", "-")) ctx_cancel_rows();
}

}  // namespace goro_bench
