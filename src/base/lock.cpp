// runtime_lock slow paths and the lock-rank checker. See lock.hpp.
#include "base/lock.hpp"

#include "base/check.hpp"
#include "base/futex.hpp"

namespace goro::detail {

const char* lock_rank_name(lock_rank r) {
  switch (r) {
    case lock_rank::signal: return "signal";
    case lock_rank::timer: return "timer";
    case lock_rank::chan: return "chan";
    case lock_rank::wait_list: return "wait_list";
    case lock_rank::context: return "context";
    case lock_rank::poll_fds: return "poll_fds";
    case lock_rank::poll_desc: return "poll_desc";
    case lock_rank::timers: return "timers";
    case lock_rank::sched: return "sched";
    case lock_rank::p_yields: return "p_yields";
    case lock_rank::scavenger: return "scavenger";
    case lock_rank::stack_pool: return "stack_pool";
    case lock_rank::allgs: return "allgs";
    case lock_rank::leaf: return "leaf";
  }
  return "?";
}

void runtime_lock::lock_slow() {
  // Spin a little first: critical sections are short, and a futex sleep
  // plus wake costs microseconds.
  for (int i = 0; i < 100; i++) {
    uint32_t c = state_.load(std::memory_order_relaxed);
    if (c == 0 && state_.compare_exchange_weak(c, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
    cpu_relax();
  }
  // In a forked child nobody else is left to release the lock: its holder
  // was a thread of the parent (base/check.hpp).
  check_not_forked_child();
  // Mark "locked with sleepers" and sleep until we take it in that state.
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2);
}

void runtime_lock::unlock_slow() { futex_wake(&state_, 1); }

// ---- rank checking (debug builds) ----------------------------------------
//
// Each OS thread keeps the locks it holds in a small stack. The thread-local
// is only touched between lock and unlock of runtime locks, which are never
// held across a goroutine switch to another thread (see lock.hpp), so it
// cannot go stale across a migration.
namespace {
constexpr int kMaxHeld = 32;
struct held_locks {
  const runtime_lock* locks[kMaxHeld];
  int n = 0;
};
thread_local held_locks t_held;
}  // namespace

void runtime_lock::rank_acquire() {
  held_locks& h = t_held;
  if (h.n > 0) {
    const runtime_lock* top = h.locks[h.n - 1];
    bool ok = top->rank_ < rank_ ||
              (top->rank_ == rank_ && rank_ == lock_rank::chan && top < this);
    if (!ok)
      fatal("lock ordering problem: acquiring %s lock %p while holding %s lock %p",
            lock_rank_name(rank_), static_cast<const void*>(this), lock_rank_name(top->rank_),
            static_cast<const void*>(top));
  }
  GORO_CHECK(h.n < kMaxHeld);
  h.locks[h.n++] = this;
}

#if defined(GORO_DEBUG_CHECKS)
bool runtime_lock::held_by_this_thread() const {
  const held_locks& h = t_held;
  for (int i = 0; i < h.n; i++)
    if (h.locks[i] == this) return true;
  return false;
}
#endif

void runtime_lock::rank_release() {
  held_locks& h = t_held;
  for (int i = h.n - 1; i >= 0; i--) {
    if (h.locks[i] == this) {
      for (int j = i; j < h.n - 1; j++) h.locks[j] = h.locks[j + 1];
      h.n--;
      return;
    }
  }
  fatal("unlock of runtime lock %p (%s) not held by this thread", static_cast<const void*>(this),
        lock_rank_name(rank_));
}

}  // namespace goro::detail
