// goro::mutex: Go's sync.Mutex, a mutual exclusion lock that parks the
// goroutine (not its worker thread) while it waits.
//
//   goro::mutex mu;
//   int hits GORO_GUARDED_BY(mu) = 0;
//
//   void record() {
//     std::lock_guard lock(mu);  // or goro::mutex_lock, which clang's
//     hits++;                    // -Wthread-safety understands
//   }
//
// It meets the standard Lockable and TimedLockable requirements:
// std::lock_guard, std::unique_lock, std::scoped_lock and std::lock work,
// and so does std::condition_variable_any (goro::cond is the one that parks
// goroutines instead of threads).
//
// Use it instead of std::mutex in code that runs on goroutines: a
// std::mutex blocks the worker thread and every goroutine queued behind it,
// and one held across a park may be unlocked on another thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>

#include <goro/detail/duration.hpp>
#include <goro/detail/lock_order.hpp>
#include <goro/thread_annotations.hpp>

namespace goro {

namespace detail {
int64_t steady_now_ns();

// A deadline on the steady clock, in the runtime's nanoseconds.
template <class Clock, class Duration>
int64_t deadline_ns_of(const std::chrono::time_point<Clock, Duration>& t) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    return saturated_ns(t.time_since_epoch());
  } else {
    return deadline_after(steady_now_ns(), saturated_ns(t - Clock::now()));
  }
}
}  // namespace detail

// A mutual exclusion lock (Go's sync.Mutex). The zero state is unlocked.
//
// Blocking: lock() spins briefly while the holder runs, then parks the
// caller: a goroutine yields its worker (the goroutine dump shows it as
// [sync.Mutex.Lock]); a plain thread sleeps on a futex. Waiters are woken
// in order; a waiter that has waited over 1 ms puts the mutex in
// starvation mode, where unlock hands it straight to the first waiter and
// newcomers queue behind (Go's fairness rule), so a goroutine that keeps
// relocking cannot starve the others.
//
// Memory model: an unlock() happens before the lock() (or successful
// try_lock*) that next takes the mutex.
//
// Thread-safety: all members may be called concurrently from goroutines and
// plain threads. A mutex is not tied to a goroutine or thread: one may lock
// it and another unlock it (as in Go). Unlocking a mutex that is not locked
// is a fatal error, as in Go: "fatal error: sync: unlock of unlocked mutex"
// with the goroutine dump, exit status 2 (unlock() is noexcept: it runs in
// destructors). Not copyable or movable; destroy it only when unlocked and
// unused.
//
// Lock-order check (goro/lock_order.hpp): on in debug builds and with
// GORO_DEBUG=lockorder=1, an acquisition that inverts an order seen before
// (A then B somewhere, B then A here) is reported before it waits. Off,
// each operation pays one load and a predictable branch.
class GORO_CAPABILITY("mutex") mutex {
 public:
  constexpr mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  // Locks the mutex, waiting as long as it takes. Uncontended: one atomic
  // compare-and-swap, inline.
  //
  // With the lock-order check on (goro/lock_order.hpp), lock() first
  // checks the order against the locks the caller holds and reports an
  // inversion before it waits.
  void lock() GORO_ACQUIRE() {
    if (detail::lock_order_on()) [[unlikely]] {
      lock_checked();
      return;
    }
    lock_raw();
  }

  // Locks the mutex if that needs no waiting; never blocks. Fails while the
  // mutex is held or being handed to a waiter (starvation mode), as Go's
  // TryLock does.
  //
  //   if (mu.try_lock()) { use(); mu.unlock(); }
  [[nodiscard]] bool try_lock() GORO_TRY_ACQUIRE(true) {
    if (detail::lock_order_on()) [[unlikely]] return try_lock_checked();
    return try_lock_raw();
  }

  // Locks the mutex, waiting at most d (as lock(), parked). Returns whether
  // it did. A waiter whose time-out races an unlock that hands it the
  // mutex takes it and returns true: a handed-over mutex is never lost.
  //
  //   std::unique_lock lock(mu, std::chrono::milliseconds(10));
  //   if (!lock.owns_lock()) return busy();
  template <class Rep, class Period>
  [[nodiscard]] bool try_lock_for(const std::chrono::duration<Rep, Period>& d) GORO_TRY_ACQUIRE(true) {
    if (detail::lock_order_on()) [[unlikely]]
      return lock_until_checked(detail::deadline_after(detail::steady_now_ns(), detail::saturated_ns(d)));
    if (try_lock_raw()) return true;
    return lock_slow_until(detail::deadline_after(detail::steady_now_ns(), detail::saturated_ns(d)));
  }

  // try_lock_for until the time point t (clocks other than steady_clock are
  // read once, at the call).
  template <class Clock, class Duration>
  [[nodiscard]] bool try_lock_until(const std::chrono::time_point<Clock, Duration>& t) GORO_TRY_ACQUIRE(true) {
    if (detail::lock_order_on()) [[unlikely]] return lock_until_checked(detail::deadline_ns_of(t));
    if (try_lock_raw()) return true;
    return lock_slow_until(detail::deadline_ns_of(t));
  }

  // Unlocks the mutex and wakes a waiter if there is one. Uncontended: one
  // atomic subtraction, inline. Fatal if the mutex is not locked (above).
  void unlock() noexcept GORO_RELEASE() {
    if (detail::lock_order_on()) [[unlikely]] {
      unlock_checked();
      return;
    }
    unlock_raw();
  }

  // Destroying a mutex is free unless the lock-order check has ever kept
  // a record of a lock: then its record goes too (the address may be
  // reused by another lock).
  ~mutex() {
    if ((detail::lock_order_state.load(std::memory_order_relaxed) & detail::kLockOrderNodes) != 0) [[unlikely]]
      detail::lock_order_forget(this);
  }

 private:
  friend class rwmutex;  // takes its writer mutex unchecked (the rwmutex itself is checked)

  void lock_raw() {
    int32_t unlocked = 0;
    // acquire: the critical section sees what the previous holder wrote.
    if (!state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire, std::memory_order_relaxed))
      [[unlikely]] lock_slow();
  }
  bool try_lock_raw() {
    int32_t old = 0;
    if (state_.compare_exchange_strong(old, kLocked, std::memory_order_acquire, std::memory_order_relaxed)) return true;
    if ((old & (kLocked | kStarving)) != 0) return false;
    return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock_raw() noexcept {
    // release: pairs with the acquire of the next lock.
    int32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (now != 0) [[unlikely]] unlock_slow(now);
  }
  // The same through the lock-order detector (src/sync/lock_order.hpp).
  void lock_checked();
  bool try_lock_checked();
  bool lock_until_checked(int64_t deadline_ns);
  void unlock_checked() noexcept;

  // state_ bits, as Go's: locked, a waiter is awake (so unlock need not
  // wake another), starvation mode; the waiter count above them.
  static constexpr int32_t kLocked = 1;
  static constexpr int32_t kWoken = 2;
  static constexpr int32_t kStarving = 4;

  void lock_slow();
  bool lock_slow_until(int64_t deadline_ns);
  void unlock_slow(int32_t now) noexcept;

  // First member: TSan's happens-before edges are attached to its address.
  std::atomic<int32_t> state_{0};
  // The semaphore waiters park on (the runtime's table, keyed by address).
  uint32_t sema_ = 0;
};

// Holds a goro::mutex for its scope (Abseil's MutexLock): std::lock_guard's
// job, annotated so that clang's -Wthread-safety sees the lock held.
//
//   { goro::mutex_lock lock(mu); hits++; }
class GORO_SCOPED_CAPABILITY mutex_lock {
 public:
  explicit mutex_lock(mutex& mu) GORO_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~mutex_lock() GORO_RELEASE() { mu_.unlock(); }
  mutex_lock(const mutex_lock&) = delete;
  mutex_lock& operator=(const mutex_lock&) = delete;

 private:
  mutex& mu_;
};

}  // namespace goro
