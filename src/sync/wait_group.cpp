// goro::wait_group: Go's sync.WaitGroup algorithm (sync/waitgroup.go).
//
// state_ packs the counter (high 32 bits) and the number of waiters (low 32
// bits) so that "counter reached zero" and "who is waiting" are read in one
// atomic step. When the counter drops to zero with waiters present, the
// state is reset to 0 and each waiter gets one semaphore unit.
//
// Happens-before (stated for TSan, since the runtime is not instrumented):
// every done() releases on the wait_group; wait() acquires on it before it
// returns.
#include "goro/wait_group.hpp"

#include "base/race.hpp"
#include "goro/panic.hpp"
#include "sync/sema.hpp"

namespace goro {

void wait_group::add(int64_t delta) {
  if (delta < 0) detail::race_release(this);
  uint64_t state = state_.fetch_add(static_cast<uint64_t>(delta) << 32, std::memory_order_acq_rel) +
                   (static_cast<uint64_t>(delta) << 32);
  auto v = static_cast<int32_t>(state >> 32);
  auto w = static_cast<uint32_t>(state);
  if (v < 0) throw panic_error("sync: negative WaitGroup counter");
  if (w != 0 && delta > 0 && v == static_cast<int32_t>(delta))
    throw panic_error("sync: WaitGroup misuse: Add called concurrently with Wait");
  if (v > 0 || w == 0) return;
  // Counter is zero and there are waiters: no add() may race with this.
  if (state_.load(std::memory_order_relaxed) != state)
    throw panic_error("sync: WaitGroup misuse: Add called concurrently with Wait");
  state_.store(0, std::memory_order_relaxed);
  for (; w > 0; w--) detail::semrelease(&sema_);
}

void wait_group::wait() {
  uint64_t state = state_.load(std::memory_order_acquire);
  for (;;) {
    if ((state >> 32) == 0) {
      detail::race_acquire(this);
      return;
    }
    if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) {
      detail::semacquire(&sema_, detail::wait_reason::sync_wait_group_wait);
      if (state_.load(std::memory_order_acquire) != 0)
        throw panic_error("sync: WaitGroup is reused before previous Wait has returned");
      detail::race_acquire(this);
      return;
    }
  }
}

}  // namespace goro
