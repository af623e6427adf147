// goro::wait_group: Go's sync.WaitGroup.
//
// A wait_group waits for a collection of goroutines (or threads) to finish:
// add(n) before starting them, each calls done() when it finishes, wait()
// blocks until the counter is back to zero.
//
//   goro::wait_group wg;
//   for (auto& job : jobs) {
//     wg.add(1);
//     goro::go([&wg, &job] { process(job); wg.done(); });
//   }
//   wg.wait();
//
// Memory model: each done() happens before the wait() it releases returns.
// Thread-safety: all members may be called concurrently from goroutines and
// plain threads, except that add() with a positive delta while the counter
// is zero must happen before wait() (Go's rule). Not copyable or movable.
//
// Misuse throws goro::panic_error with Go's message:
//   "sync: negative WaitGroup counter"             (done() once too often)
//   "sync: WaitGroup misuse: Add called concurrently with Wait"
//   "sync: WaitGroup is reused before previous Wait has returned"
//   "sync: WaitGroup has too many waiters"         (wait() while 16777215,
//                                                   2^24 - 1, are waiting)
#pragma once

#include <atomic>
#include <cstdint>

namespace goro {

namespace detail {
struct p;
}

// Go's sync.WaitGroup: a counter that wait() waits on to reach zero (see
// the top of this file).
class wait_group {
 public:
  wait_group() = default;
  ~wait_group();
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  // Adds delta (which may be negative) to the counter. When it reaches
  // zero, every wait() blocked on it returns.
  void add(int64_t delta);

  // add(-1). When the counter is large (many goroutines finishing on
  // several workers), most calls touch only a per-worker share of it
  // instead of one cache line shared by every core.
  void done();

  // Blocks until the counter is zero. In a goroutine it parks (wait reason
  // "sync.WaitGroup.Wait"); on a plain thread it sleeps the thread.
  void wait();

  // Go's WaitGroup.Go (Go 1.25): add(1), run f(args...) in a new goroutine
  // (arguments decay-copied as by goro::go), done() when it returns. (An
  // exception escaping f ends the process, as from any goroutine.) If the
  // goroutine cannot be started, undoes the add(1) and throws as goro::go
  // does. Never blocks.
  //
  //   goro::wait_group wg;
  //   for (int i = 0; i < n; i++) wg.go(fetch, urls[i], std::ref(results[i]));
  //   wg.wait();
  template <class F, class... Args>
  [[gnu::always_inline]] inline void go(F&& f, Args&&... args);

 private:
  struct shard_block;  // src/sync/wait_group.cpp

  void done_central();
  std::atomic<uint32_t>* find_shard(detail::p* pp);
  void count_down(std::atomic<uint32_t>& units);
  bool take_unit(std::atomic<uint32_t>& units);
  bool take_from_shards();
  bool drain_shards();
  void after_update(uint64_t state, int64_t delta);

  // Bits 32-63: the counter (signed). Bits 24-31: how many shards hold a
  // share of it. Bits 0-23: the number of waiters.
  std::atomic<uint64_t> state_{0};
  // Semaphore the waiters sleep on (runtime's sema table, keyed by address).
  uint32_t sema_ = 0;
  // Per-worker shares of a large counter, made on first need (null until
  // then, and for wait_groups that never count high).
  std::atomic<shard_block*> shards_{nullptr};
};

}  // namespace goro

#include <functional>
#include <type_traits>
#include <utility>

#include <goro/runtime.hpp>

namespace goro::detail {
// The goroutine of wait_group::go: f(args...), then wg->done().
template <class F, class... Args>
void wait_group_run(wait_group* wg, F f, Args... args) {
  struct done_guard {
    wait_group* wg;
    ~done_guard() { wg->done(); }
  } guard{wg};
  std::invoke(std::move(f), std::move(args)...);
}
}  // namespace goro::detail

template <class F, class... Args>
[[gnu::always_inline]] inline void goro::wait_group::go(F&& f, Args&&... args) {
  static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                "goro::wait_group::go: the function cannot be called with these arguments");
  add(1);
  try {
    // The creation site is this call's return address, in go's caller
    // (go is inlined): see goro::go.
    detail::spawn_here(0, &detail::wait_group_run<std::decay_t<F>, std::decay_t<Args>...>, this,
                       std::forward<F>(f), std::forward<Args>(args)...);
  } catch (...) {
    done();
    throw;
  }
  asm volatile("");  // as in goro::go
}
