// A leaf test-and-test-and-set lock for the runtime's diagnostics (the
// lock-order detector, the thread-lock report): code that must not take a
// goro::mutex (it would be checked by the very detector it serves) nor a
// ranked runtime_lock (it may run under any of them). It yields while the
// holder is slow (the holder may be preempted on a 2-CPU machine).
//
// Nothing may be taken under it; never hold it across a park.
#pragma once

#include <atomic>

#include "base/backoff.hpp"

namespace goro::detail {

struct spinlock {
  std::atomic<bool> locked{false};
  void lock() {
    backoff bo;
    // acquire: the critical section sees the previous holder's writes.
    while (locked.exchange(true, std::memory_order_acquire))
      while (locked.load(std::memory_order_relaxed)) bo.snooze();
  }
  // release: pairs with the acquire above.
  void unlock() { locked.store(false, std::memory_order_release); }
};

}  // namespace goro::detail
