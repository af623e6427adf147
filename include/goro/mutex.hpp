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

#include <goro/detail/current_g.hpp>
#include <goro/detail/duration.hpp>
#include <goro/detail/lock_order.hpp>
#include <goro/thread_annotations.hpp>

// TSan: the inline paths below are emitted out of line (weak, one copy
// kept by the linker) both by instrumented TUs (programs, goro::http,
// xsync) and by the uninstrumented runtime (net, rwmutex, ...). Whichever
// copy the linker keeps, they state their unlock -> lock edge themselves.
#if defined(GORO_TSAN) || defined(__SANITIZE_THREAD__)
#define GORO_MUTEX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_MUTEX_TSAN 1
#endif
#endif
#if defined(GORO_MUTEX_TSAN)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace goro {

namespace detail {
// How many lockers wait for a holder through a mutex's bias to leave, in
// the whole process (src/sync/mutex_bias.cpp, B5). Read by every unlock
// through the bias, after its store, instead of the mutex: on a line of
// its own, written only by revocations.
struct alignas(64) mutex_bias_revoker_count {
  std::atomic<uint32_t> n{0};
};
extern mutex_bias_revoker_count mutex_bias_revokers;
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
// Biased to one goroutine: a mutex that one goroutine locked twice in a row
// with nobody else between becomes that goroutine's: its later lock and
// unlock are a few plain loads and stores, no atomic read-modify-write (Go's
// take one compare-and-swap and one atomic add, ~6 ns each here). The first
// other goroutine or thread that locks it ends the bias for good, which
// costs that caller one membarrier(2) system call (measured on a 2-vCPU
// VM: 2-5 us with the other CPU idle, 22-31 us with it running one of the
// process's threads) and is then as Go's. When such revocations
// would cost more than half a percent of one CPU, new mutexes stop being
// biased for a second (src/sync/mutex_bias.cpp). Biasing starts once the
// runtime has registered the process for membarrier: when the runtime
// starts, or shortly after on its scavenger thread if the process already
// had other threads then. GORO_DEBUG=mutexbias=0 turns biasing off. Plain
// threads never own the bias.
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
  // A mutex that is never biased (see "Biased to one goroutine" above), for
  // one that goroutines share by design, where a bias would only end in a
  // revocation: a server's route table, a pool, rwmutex's writer mutex.
  //
  //   goro::mutex routes_mu{goro::mutex::never_biased_t{}};
  struct never_biased_t {};
  constexpr explicit mutex(never_biased_t) noexcept : bias_(kBiasOff) {}
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  // Locks the mutex, waiting as long as it takes. Uncontended, and also
  // whenever it finds the mutex free while others wait: one atomic
  // fetch_or, inline; by the goroutine that owns the bias (above),
  // plain loads and stores.
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
  // atomic subtraction, inline; through the bias, a plain store. Fatal if the mutex is not locked (above).
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

  static void tsan_acquire([[maybe_unused]] const void* a) noexcept {
#if defined(GORO_MUTEX_TSAN)
    __tsan_acquire(const_cast<void*>(a));
#endif
  }
  static void tsan_release([[maybe_unused]] const void* a) noexcept {
#if defined(GORO_MUTEX_TSAN)
    __tsan_release(const_cast<void*>(a));
#endif
  }
  void lock_raw() {
    if (bias_lock()) return;
    // One atomic whatever the other bits say: a free mutex is never in
    // starvation mode (kStarving implies kLocked: a hand-off keeps the
    // bit), so finding kLocked clear means this locker took it. A held
    // mutex is left as it was. (A compare-and-swap from 0 failed whenever
    // a waiter was counted, and the slow path then took a second atomic.)
    // acquire: the critical section sees what the previous holder wrote.
    if ((state_.fetch_or(kLocked, std::memory_order_acquire) & kLocked) != 0) [[unlikely]] {
      lock_slow();  // settles the bias itself
      return;
    }
    tsan_acquire(&state_);
    if (bias_.load(std::memory_order_relaxed) >= kBiasRevoking) [[unlikely]] (void)bias_settle(kNoDeadline);
  }
  bool try_lock_raw() {
    if (bias_lock()) return true;
    // As lock_raw: kLocked clear means free and not being handed over.
    if ((state_.fetch_or(kLocked, std::memory_order_acquire) & kLocked) != 0) return false;
    tsan_acquire(&state_);
    if (bias_.load(std::memory_order_relaxed) >= kBiasRevoking) [[unlikely]] return bias_settle(0);
    return true;
  }
  void unlock_raw() noexcept {
    const uintptr_t b = bias_.load(std::memory_order_relaxed);
    if (b != kBiasOff) {
      if (b == kBiasRevoking || (b >= kBiasTokenMin && (b & kBiasCandidate) == 0)) {
        bias_unlock();
        return;
      }
      bias_note_unlock(b);  // unclaimed or a candidate: the bias may start here
    }
    unlock_state();
  }
  void unlock_state() noexcept {
    // Not a fetch_sub: in starvation mode the locked bit must stay set for
    // the waiter it is handed to (see lock_raw), so unlock looks first.
    // The holder has the line (it just locked), so the load is a cache hit.
    int32_t old = state_.load(std::memory_order_relaxed);
    tsan_release(&state_);
    // release: pairs with the acquire of the next lock.
    if (old == kLocked && state_.compare_exchange_strong(old, 0, std::memory_order_release, std::memory_order_relaxed))
      [[likely]]
      return;
    unlock_slow(old);
  }

  // ---- the bias (src/sync/mutex_bias.cpp has the protocol) ----
  // bias_: kBiasUnclaimed; kBiasOff (never again); a goroutine's g address
  // with kBiasCandidate set (it locked and unlocked once); a goroutine's g
  // address (the owner: it may lock through held_); kBiasRevoking (a
  // locker is ending the bias).
  static constexpr uintptr_t kBiasUnclaimed = 0;
  static constexpr uintptr_t kBiasOff = 1;
  static constexpr uintptr_t kBiasRevoking = 2;
  static constexpr uintptr_t kBiasCandidate = 4;
  static constexpr uintptr_t kBiasTokenMin = 8;  // g records are 64-byte aligned
  static constexpr int64_t kNoDeadline = INT64_MAX;  // lock_slow_until, bias_settle: wait as long as it takes

  // The owner's lock: held_ 0 -> 1, then (after a compiler-only fence; a
  // revoker's membarrier supplies the processor's) bias_ still names it.
  bool bias_lock() {
    const uintptr_t b = bias_.load(std::memory_order_relaxed);
    if (b < kBiasTokenMin || b != detail::current_g_token()) return false;
    // acquire: a holder that was handed the bias hold and unlocked it
    // (another goroutine) wrote before its release store of 0.
    if (held_.load(std::memory_order_acquire) != 0) return false;
    held_.store(1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (bias_.load(std::memory_order_relaxed) == b) [[likely]] {
      tsan_acquire(&held_);
      return true;
    }
    bias_unlock();  // a revoker came: step back (it may be waiting for us)
    return false;
  }
  // Once held_ is 0, a revoker may take the mutex, and its last user may
  // destroy it: the store is the last touch of *this. Whether a revoker
  // waits is read from the process-wide count instead (after a
  // compiler-only fence: the revoker's membarrier supplies the
  // processor's, B5).
  void bias_unlock() noexcept {
    if (held_.load(std::memory_order_relaxed) == 0) [[unlikely]] bias_unlock_of_unlocked();
    tsan_release(&held_);
    held_.store(0, std::memory_order_release);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (detail::mutex_bias_revokers.n.load(std::memory_order_relaxed) != 0) [[unlikely]] bias_wake_revokers();
  }
  // Out of line (mutex_bias.cpp).
  bool bias_settle(int64_t deadline_ns);  // the state_ holder ends or keeps the bias; false: gave the mutex up
  void bias_note_unlock(uintptr_t b) noexcept;
  static void bias_wake_revokers() noexcept;  // wakes the revokers whose holder has left
  [[noreturn]] static void bias_unlock_of_unlocked() noexcept;
  // The same through the lock-order detector (src/sync/lock_order.hpp).
  void lock_checked();
  bool try_lock_checked();
  bool lock_until_checked(int64_t deadline_ns);
  void unlock_checked() noexcept;

  // state_ bits, as Go's: locked, a waiter is awake (so unlock need not
  // wake another), starvation mode; and goro's: the mutex is being handed
  // to a waiter in starvation mode (kLocked stays set meanwhile); the
  // waiter count above them.
  static constexpr int32_t kLocked = 1;
  static constexpr int32_t kWoken = 2;
  static constexpr int32_t kStarving = 4;
  static constexpr int32_t kHandoff = 8;

  void lock_slow();
  bool lock_slow_until(int64_t deadline_ns);
  void unlock_slow(int32_t old) noexcept;  // old: state_ as the unlocker read it

  // First member: TSan's happens-before edges are attached to its address.
  std::atomic<int32_t> state_{0};
  // The semaphore waiters park on (the runtime's table, keyed by address).
  uint32_t sema_ = 0;
  // The bias: who owns it (above), and whether the mutex is held through
  // it.
  std::atomic<uintptr_t> bias_{kBiasUnclaimed};
  std::atomic<uint32_t> held_{0};
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
