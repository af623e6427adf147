// goro::weighted_semaphore (goro/semaphore.hpp), after x/sync/semaphore.
//
// Invariants, all under mu_: 0 <= cur_ <= size_; waiters_ is in arrival
// order and its front does not fit (notify_waiters_locked runs after every
// change that frees units or removes the front), so a waiter is never
// passed over by a later, smaller one. A waiter's ready channel is closed
// exactly once, by whoever hands it its units, under mu_, and the waiter is
// taken off the list then; a waiter that gives up (its context done)
// learns under mu_ whether it was handed its units after all, and gives
// them back if so.
//
// Lifetime: a waiter handed its units takes mu_ once before it returns.
// The one who handed them over still holds mu_ then, and unlocking is its
// last touch of the semaphore, so a waiter that destroys the semaphore as
// soon as acquire returns (waiting for all units before it goes out of
// scope, as the header's example does) frees nothing still in use.
//
// Lock order: mu_ (a goro::mutex) is the only lock; under it channels are
// only closed or polled, which never park.
#include "goro/semaphore.hpp"

#include <goro/panic.hpp>
#include <goro/select.hpp>

#include <mutex>

#include "sched/test_hooks.hpp"

namespace goro {

std::error_code weighted_semaphore::acquire(const context& ctx, int64_t n) {
  // Done before the call: fail even if the units are free (x/sync since
  // v0.5.0, go.dev/issue/63615). Looked at before the lock, not under it:
  // err() may wait for a cancellation under way, and nothing waits under
  // mu_. A cancel that comes after this look is concurrent with the call.
  if (std::error_code err = ctx.err()) return err;
  std::unique_lock lk(mu_);
  if (size_ - cur_ >= n && waiters_.empty()) {
    cur_ += n;
    return {};
  }
  if (n > size_) {
    // Never satisfiable: do not queue (it would hold up everyone behind it).
    lk.unlock();
    ctx.done().recv();
    return ctx.err();
  }
  chan<unit> ready = make_chan<unit>();
  auto it = waiters_.insert(waiters_.end(), waiter{n, ready});
  lk.unlock();

  bool handed = false;
  select(on_recv(ready, [&] { handed = true; }), on_recv(ctx.done()));
  if (handed) {
    // Wait for the one who handed the units over to let go of mu_: it
    // closed `ready` under it (Lifetime, above).
    lk.lock();
    lk.unlock();
    // Handed the units; a context already done wins all the same (Go).
    if (ctx.err()) {
      release(n);
      return ctx.err();
    }
    return {};
  }
  lk.lock();
  if (ready.try_recv().closed()) {
    // Handed the units just after the context was done: give them back.
    cur_ -= n;
    notify_waiters_locked();
  } else {
    bool front = waiters_.begin() == it;
    waiters_.erase(it);
    // Leaving the front may let the ones behind in.
    if (front && size_ > cur_) notify_waiters_locked();
  }
  return ctx.err();
}

bool weighted_semaphore::try_acquire(int64_t n) {
  mutex_lock lk(mu_);
  bool ok = size_ - cur_ >= n && waiters_.empty();
  if (ok) cur_ += n;
  return ok;
}

void weighted_semaphore::release(int64_t n) {
  mutex_lock lk(mu_);
  if (cur_ - n < 0) throw panic_error("semaphore: released more than held");
  cur_ -= n;
  notify_waiters_locked();
}

void weighted_semaphore::notify_waiters_locked() {
  while (!waiters_.empty()) {
    waiter& w = waiters_.front();
    // Not enough for the front one: stop, even if a later one would fit,
    // so that a large request is not starved by small ones.
    if (size_ - cur_ < w.n) break;
    cur_ += w.n;
    w.ready.close();
    waiters_.pop_front();
    if (auto* hook = detail::test_hooks::semaphore_handed_over.load(std::memory_order_relaxed)) hook();
  }
}

}  // namespace goro
