// goro::weighted_semaphore: Go's golang.org/x/sync/semaphore.Weighted.
//
// A semaphore with `size` units; acquire(ctx, n) takes n of them, waiting
// (the goroutine parks; a plain thread sleeps) until they are free or ctx
// is done. Waiters are served in arrival order, and a waiter blocks those
// behind it even if they would fit, so a large request is never starved by
// a stream of small ones (Go's rule).
//
//   goro::weighted_semaphore sem(4);          // at most 4 jobs at once
//   for (auto& job : jobs) {
//     if (sem.acquire(ctx, 1)) break;         // ctx done: start no more
//     goro::go([&sem, &job] { run(job); sem.release(1); });
//   }
//   sem.acquire(goro::background(), 4);       // wait for those started
//
// Thread-safety: every member may be called from any number of goroutines
// and plain threads at once. Not copyable or movable. It may be destroyed
// as soon as no call is in it, even right after an acquire that waited
// returns while the release that woke it is still unwinding (as above).
//
// Misuse throws goro::panic_error with Go's message:
//   "semaphore: released more than held"
#pragma once

#include <cstdint>
#include <list>
#include <system_error>

#include <goro/chan.hpp>
#include <goro/context.hpp>
#include <goro/mutex.hpp>

namespace goro {

// A semaphore of `size` units taken and given back n at a time, waiters
// served in order (Go's semaphore.Weighted; see the top of this file).
class weighted_semaphore {
 public:
  // A semaphore with `size` units, all free.
  explicit weighted_semaphore(int64_t size) : size_(size) {}
  weighted_semaphore(const weighted_semaphore&) = delete;
  weighted_semaphore& operator=(const weighted_semaphore&) = delete;

  // Takes n units, waiting until they are free (behind earlier waiters) or
  // ctx is done. Returns {} with the units taken, or ctx.err() with none
  // taken. n larger than the size can never be had: it waits for ctx
  // (Go's behaviour). If ctx is already done it fails, even when the units
  // are free (as x/sync's Acquire since v0.5.0).
  std::error_code acquire(const context& ctx, int64_t n = 1);

  // Takes n units if they are free and nobody waits; never waits for units
  // (it takes the semaphore's internal goro::mutex, held only briefly by
  // acquire and release).
  bool try_acquire(int64_t n = 1);

  // Gives back n units, waking the waiters they satisfy, in order. Throws
  // panic_error("semaphore: released more than held") if more units would
  // be free than the size.
  void release(int64_t n = 1);

 private:
  struct waiter {
    int64_t n;
    chan<unit> ready;  // closed when the units are handed over
  };
  void notify_waiters_locked();

  mutex mu_{mutex::never_biased_t{}};  // shared by design: never worth a revocation
  const int64_t size_;
  int64_t cur_ = 0;           // units held; guarded by mu_
  std::list<waiter> waiters_;  // FIFO; guarded by mu_
};

}  // namespace goro
