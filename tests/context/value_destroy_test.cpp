// Where a with_value value is destroyed when a deadline's timer held the
// last reference to its context: the timer's callback runs on a worker's
// scheduler stack, where a destructor that blocks on a goro primitive
// cannot (it aborted). The release is handed to a goroutine of its own
// now. (A review of time and context found it, 2026-12-06.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include "goro/goro.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

// Notes the goroutine its destructor runs on (0: not a goroutine), then
// blocks on a channel, as user code may; a moved-from one does nothing.
struct destroy_probe {
  std::atomic<uint64_t>* where;
  goro::chan<int> done;
  destroy_probe(std::atomic<uint64_t>* w, goro::chan<int> d) : where(w), done(std::move(d)) {}
  destroy_probe(destroy_probe&& o) noexcept : where(std::exchange(o.where, nullptr)), done(o.done) {}
  destroy_probe(const destroy_probe&) = delete;
  ~destroy_probe() {
    if (where == nullptr) return;
    uint64_t id = goro::goroutine_id();
    where->store(id);
    if (id != 0) goro::sleep_for(1ms);  // blocks: fine on a goroutine
    done.send(1);
  }
};

inline constexpr goro::context_key<destroy_probe> probe_key;

TEST(ContextValue, DestroyedOnAGoroutineWhenADeadlineHeldTheLastReference) {
  goro_test::for_procs([] {
    // On a busy machine the deadline may pass before the handles go; the
    // test's own drop is the last then, and the value is destroyed here,
    // which is right too. Try until the timer held the last reference.
    bool timer_was_last = false;
    for (int attempt = 0; attempt < 200 && !timer_was_last; ++attempt) {
      std::atomic<uint64_t> where{UINT64_MAX};
      auto done = goro::make_chan<int>(1);
      {
        auto vctx = goro::with_value(goro::background(), probe_key, destroy_probe(&where, done));
        auto [ctx, cancel] = goro::with_timeout(vctx, 5ms);
        // Every handle and the cancel function go, uncalled: the pending
        // timer holds the last reference.
      }
      done.recv();
      ASSERT_NE(where.load(), 0u) << "destroyed on a scheduler stack";
      timer_was_last = where.load() != goro::goroutine_id();
    }
    EXPECT_TRUE(timer_was_last) << "the deadline passed before the handles went, every time";
  });
}

// The same for a child the deadline's cancel detached: the canceller holds
// a reference to each child until its cancel is done, and if the child's
// handles go meanwhile, that reference is the last. Freeing the child
// frees its with_value parent, on the timer's scheduler stack before the
// fix (found by a review of context, 2026-12-06). The seam drops the
// child's handles at that moment.
goro::context* g_child = nullptr;
goro::cancel_func* g_child_cancel = nullptr;
std::atomic<bool> g_drop_armed{false};

void drop_child_handles() {
  if (!g_drop_armed.exchange(false)) return;
  *g_child = goro::context();
  *g_child_cancel = goro::cancel_func();
}

TEST(ContextValue, DestroyedOnAGoroutineWhenADeadlinesCancelHeldAChildsLastReference) {
  goro_test::for_procs([] {
    // On a busy machine the 1 ms deadline may pass before the seam is
    // armed; then the test takes the arming back, drops the handles itself
    // (the value goes here, which is right too) and tries again, until the
    // seam ran inside the deadline's cancel once.
    bool seam_ran = false;
    for (int attempt = 0; attempt < 200 && !seam_ran; ++attempt) {
      std::atomic<uint64_t> where{UINT64_MAX};
      auto done = goro::make_chan<int>(1);
      auto [deadline_ctx, cancel_deadline] = goro::with_timeout(goro::background(), 1ms);
      goro::context child;
      goro::cancel_func child_cancel;
      {
        auto vctx = goro::with_value(deadline_ctx, probe_key, destroy_probe(&where, done));
        std::tie(child, child_cancel) = goro::with_cancel(vctx);
      }
      g_child = &child;
      g_child_cancel = &child_cancel;
      goro::detail::test_hooks::ctx_cancel_before_release.store(drop_child_handles);
      g_drop_armed.store(true);
      deadline_ctx.done().recv();
      // The cancel closes done before it cancels the children, so the seam
      // may still be ahead: whoever clears the flag owns the drop.
      seam_ran = !g_drop_armed.exchange(false);
      if (!seam_ran) {
        child = goro::context();
        child_cancel = goro::cancel_func();
      }
      done.recv();  // the value went
      goro::detail::test_hooks::ctx_cancel_before_release.store(nullptr);
      ASSERT_NE(where.load(), 0u) << "destroyed on a scheduler stack";
      cancel_deadline();
    }
    EXPECT_TRUE(seam_ran) << "the deadline passed before the seam was armed, every time";
  });
}

// A with_timeout whose timer cannot be scheduled (its P's timer queue
// cannot grow) throws std::bad_alloc and leaves nothing behind. Before the
// fix the new node stayed on its parent's list with a reference to it, so
// the parent (here a with_value node) was never freed.
TEST(ContextValue, WithTimeoutThatCannotScheduleItsTimerLeavesNothingBehind) {
  goro::run([] {
    std::atomic<uint64_t> where{UINT64_MAX};
    auto done = goro::make_chan<int>(1);
    bool threw = false;
    {
      auto vctx = goro::with_value(goro::background(), probe_key, destroy_probe(&where, done));
      std::vector<std::pair<goro::context, goro::cancel_func>> made;
      made.reserve(1 << 20);
      goro::detail::test_hooks::timer_grow_fails.store(true);
      for (int i = 0; i < (1 << 20) && !threw; i++) {
        try {
          made.push_back(goro::with_timeout(vctx, 1h));
        } catch (const std::bad_alloc&) {
          threw = true;
        }
      }
      goro::detail::test_hooks::timer_grow_fails.store(false);
      for (auto& m : made) m.second();
    }
    ASSERT_TRUE(threw);
    // Every handle is gone: the value goes now (a bound only to report a
    // leak instead of hanging).
    int i = goro::select(goro::on_recv(done), goro::on_recv(goro::after(20s)));
    EXPECT_EQ(i, 0) << "the parent was kept alive by the node whose timer failed";
  });
}

}  // namespace
