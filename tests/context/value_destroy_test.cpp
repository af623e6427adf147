// Where a with_value value is destroyed when a deadline's timer held the
// last reference to its context: the timer's callback runs on a worker's
// scheduler stack, where a destructor that blocks on a goro primitive
// cannot (it aborted). The release is handed to a goroutine of its own
// now. (A review of time and context found it, 2026-12-06.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>

#include "goro/goro.hpp"
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

}  // namespace
