// goro::cond: Go's sync.Cond, a condition variable whose waiters park (a
// goroutine yields its worker; a plain thread sleeps on a futex).
//
//   goro::mutex mu;
//   goro::cond ready;
//   std::deque<job> queue;  // guarded by mu
//
//   job take() {
//     std::unique_lock lock(mu);
//     ready.wait(lock, [&] { return !queue.empty(); });
//     job j = std::move(queue.front());
//     queue.pop_front();
//     return j;
//   }
//   void put(job j) {
//     { std::lock_guard lock(mu); queue.push_back(std::move(j)); }
//     ready.signal();
//   }
//
// Like std::condition_variable_any, the lock is given to wait() rather than
// bound at construction (Go's Cond.L): any BasicLockable works
// (goro::mutex, std::unique_lock<goro::rwmutex>, a std::mutex on plain
// threads). Waiters are woken in the order they began waiting (Go's ticket
// order); a signal() or broadcast() wakes only waiters that began waiting
// before it, and no wake-up is spurious, though the condition may have
// changed again by the time the waiter relocks: wait in a loop (or with a
// predicate).
#pragma once

#include <atomic>
#include <cstdint>

#include <goro/thread_annotations.hpp>

namespace goro {

// A condition variable (Go's sync.Cond).
//
// Blocking: wait() parks with wait reason [sync.Cond.Wait]. signal() and
// broadcast() never block.
// Memory model: a signal() or broadcast() happens before the wait() it
// wakes returns.
// Thread-safety: all members may be called concurrently from goroutines
// and plain threads; signal() and broadcast() need not hold the lock (as in
// Go). Destroy a cond only when nobody waits on it. Not copyable or
// movable.
class cond {
 public:
  constexpr cond() noexcept = default;
  cond(const cond&) = delete;
  cond& operator=(const cond&) = delete;

  // Unlocks `lock`, waits until signal() or broadcast() wakes this waiter,
  // then locks `lock` again before returning. `lock` must be held; if its
  // unlock() throws (a std::unique_lock that owns nothing), so does wait,
  // without waiting.
  template <class Lock>
  void wait(Lock& lock) GORO_NO_THREAD_SAFETY_ANALYSIS {
    uint32_t ticket = add_waiter();
    try {
      lock.unlock();
    } catch (...) {
      // The ticket is taken and will never wait: a signal() would be
      // spent on it while a real waiter sleeps on. Wake everyone up to it
      // instead (waiters recheck their condition, as they must anyway).
      broadcast();
      throw;
    }
    struct relock {
      Lock& l;
      ~relock() { l.lock(); }
    } relock_after{lock};
    wait_ticket(ticket);
  }

  // Waits until pred() holds: while (!pred()) wait(lock).
  template <class Lock, class Pred>
  void wait(Lock& lock, Pred pred) {
    while (!pred()) wait(lock);
  }

  // Wakes the longest waiting waiter, if any.
  void signal() noexcept;
  // Wakes every waiter.
  void broadcast() noexcept;

  // The std::condition_variable spellings of signal() and broadcast().
  void notify_one() noexcept { signal(); }
  void notify_all() noexcept { broadcast(); }

 private:
  uint32_t add_waiter() noexcept;
  void wait_ticket(uint32_t ticket) noexcept;

  // Go's notifyList: tickets handed to waiters, and the next one to wake.
  std::atomic<uint32_t> wait_{0};
  std::atomic<uint32_t> notify_{0};
  // Waiters parked with a ticket >= notify_, in ticket order (src/sync/cond.cpp).
  void* head_ = nullptr;
  void* tail_ = nullptr;
};

}  // namespace goro
