// goro::rwmutex: Go's sync.RWMutex, a reader/writer lock that parks the
// goroutine (not its worker thread) while it waits.
//
//   goro::rwmutex mu;
//   std::map<std::string, int> table GORO_GUARDED_BY(mu);
//
//   int lookup(const std::string& k) {
//     std::shared_lock lock(mu);  // many readers at once
//     auto it = table.find(k);
//     return it == table.end() ? 0 : it->second;
//   }
//   void store(const std::string& k, int v) {
//     std::lock_guard lock(mu);   // one writer, no readers
//     table[k] = v;
//   }
//
// It meets the standard Lockable, TimedLockable, SharedLockable and
// SharedTimedLockable requirements: std::lock_guard, std::unique_lock,
// std::scoped_lock and std::shared_lock work, with their timed
// constructors too (Go's RWMutex has no timed locks; C++ users expect
// them):
//
//   std::shared_lock lock(mu, std::chrono::milliseconds(5));
//   if (!lock.owns_lock()) return stale_answer();  // a writer held on
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include <goro/mutex.hpp>
#include <goro/thread_annotations.hpp>

namespace goro {

namespace detail {
// The reader slots of every rwmutex (src/sync/rwmutex.cpp, "Reader
// slots"): a line of pointers per thread.
struct alignas(64) rw_slot_line {
  std::atomic<uintptr_t> slot[8];
};
// W, a writer pending or in, in rwmutex's state word.
inline constexpr uint64_t rw_writer_bit = uint64_t{1} << 42;

// The calling thread's slot line, or null before its first read lock
// through the library (the thread-local goro_rw_thread_line,
// src/sync/rwmutex.cpp). Read as goro/detail/current_g.hpp reads the
// running goroutine: a goroutine may resume on another thread after a
// park, and a compiler may keep a thread-local's address across the
// opaque call that parked; on x86-64 a volatile asm with a memory clobber
// reads it afresh, elsewhere a function that is never inlined.
#if defined(__x86_64__)
inline rw_slot_line* rw_thread_line() noexcept {
  rw_slot_line* line;
  asm volatile(
      "movq goro_rw_thread_line@gottpoff(%%rip), %0\n\t"
      "movq %%fs:(%0), %0"
      : "=r"(line)
      :
      : "memory");
  return line;
}
#else
rw_slot_line* rw_thread_line() noexcept;
#endif
}  // namespace detail

// A reader/writer mutual exclusion lock (Go's sync.RWMutex). The zero
// state is unlocked.
//
// Writer preference, as in Go: once a writer waits in lock(), new readers
// wait too (lock_shared() blocks, try_lock_shared() fails), and the writer
// gets the lock as soon as the readers that came before it have left. So a
// stream of readers cannot starve a writer, and, as in Go, a reader must
// not take the read lock again while it holds it if a writer may be
// waiting (that deadlocks).
//
// Blocking: waiting readers park with wait reason [sync.RWMutex.RLock],
// writers with [sync.RWMutex.Lock] (or [sync.Mutex.Lock] while another
// writer holds the lock); plain threads sleep on a futex. The timed forms
// park the same way, with a runtime timer that ends the wait.
//
// Memory model: unlock() happens before every later lock() and
// lock_shared(); unlock_shared() happens before the lock() that follows it;
// the timed and try_ forms, when they succeed, as their blocking ones. A
// timed lock that fails orders nothing.
//
// Thread-safety: all members may be called concurrently from goroutines
// and plain threads; a lock may be released by another goroutine or thread
// than the one that took it. Unlocking what is not locked is a fatal error,
// as in Go: "fatal error: sync: Unlock of unlocked RWMutex" or
// "fatal error: sync: RUnlock of unlocked RWMutex", exit status 2. Not
// copyable or movable.
//
// Lock-order check (goro/lock_order.hpp): while it is on, lock(),
// lock_shared() and their try_ and timed forms tell it what the caller
// holds, and an acquisition that inverts an earlier order is reported
// before it waits; read locks count as orders too (writer preference makes
// two readers in opposite orders deadlock once writers wait).
//
// Capacity: at most 2,031,616 readers may hold or wait for one rwmutex at
// once (Go allows 2^30); one more is a fatal error, "sync: too many
// RWMutex readers". The count shares one atomic word with the state the
// timed locks need.
class GORO_CAPABILITY("rwmutex") rwmutex {
 public:
  constexpr rwmutex() noexcept = default;
  rwmutex(const rwmutex&) = delete;
  rwmutex& operator=(const rwmutex&) = delete;

  // Takes the write lock: waits for other writers, then for the readers
  // that hold the read lock.
  void lock() GORO_ACQUIRE();
  // Takes the write lock if nobody holds either lock; never blocks.
  [[nodiscard]] bool try_lock() GORO_TRY_ACQUIRE(true);
  // Takes the write lock, waiting at most d (as lock(), parked); returns
  // whether it did. A writer that gives up leaves no trace: the readers
  // that queued behind it come in, and later writers are not delayed. One
  // whose time runs out just as the last reader leaves takes the lock and
  // returns true (as goro::mutex, a lock obtained at the deadline is kept).
  //
  //   if (!cache_mu.try_lock_for(std::chrono::milliseconds(2))) return;  // skip this refresh
  //   refresh(cache);
  //   cache_mu.unlock();
  template <class Rep, class Period>
  [[nodiscard]] bool try_lock_for(const std::chrono::duration<Rep, Period>& d) GORO_TRY_ACQUIRE(true) {
    return lock_until(detail::deadline_after(detail::steady_now_ns(), detail::saturated_ns(d)));
  }
  // try_lock_for until the time point t, of any clock (clocks other than
  // steady_clock are read once, at the call, as goro::mutex does).
  //
  //   std::unique_lock lock(mu, std::chrono::system_clock::now() + std::chrono::seconds(1));
  template <class Clock, class Duration>
  [[nodiscard]] bool try_lock_until(const std::chrono::time_point<Clock, Duration>& t) GORO_TRY_ACQUIRE(true) {
    return lock_until(detail::deadline_ns_of(t));
  }
  // Releases the write lock and lets the readers that waited in.
  void unlock() noexcept GORO_RELEASE();

  // Takes a read lock: waits while a writer holds or waits for the lock.
  // With no writer: one CAS on a cache line of the calling thread's own
  // (a reader slot, src/sync/rwmutex.cpp), so readers on different cores
  // do not contend; inline when the thread's first slot is free. Nested
  // or overflowing read locks take one atomic addition on the rwmutex
  // instead.
  void lock_shared() GORO_ACQUIRE_SHARED() {
#if !defined(GORO_MUTEX_TSAN)
    if (!detail::lock_order_on()) [[likely]] {
      detail::rw_slot_line* line = detail::rw_thread_line();
      if (line != nullptr && enter_first_slot(line->slot[0])) return;
    }
#endif
    lock_shared_slow();
  }
  // Takes a read lock if no writer holds or waits for the lock; never
  // blocks.
  [[nodiscard]] bool try_lock_shared() GORO_TRY_ACQUIRE_SHARED(true);
  // Takes a read lock, waiting at most d while a writer holds or waits for
  // the lock; returns whether it did. A reader that gives up takes nothing
  // with it: no later reader or writer waits for it. One whose time runs
  // out just as the writer lets the readers in takes the read lock and
  // returns true.
  //
  //   std::shared_lock lock(mu, std::chrono::milliseconds(5));
  //   if (lock.owns_lock()) return table.size();
  template <class Rep, class Period>
  [[nodiscard]] bool try_lock_shared_for(const std::chrono::duration<Rep, Period>& d)
      GORO_TRY_ACQUIRE_SHARED(true) {
    return lock_shared_until(detail::deadline_after(detail::steady_now_ns(), detail::saturated_ns(d)));
  }
  // try_lock_shared_for until the time point t, of any clock.
  template <class Clock, class Duration>
  [[nodiscard]] bool try_lock_shared_until(const std::chrono::time_point<Clock, Duration>& t)
      GORO_TRY_ACQUIRE_SHARED(true) {
    return lock_shared_until(detail::deadline_ns_of(t));
  }
  // Releases a read lock: one CAS on the thread's slot line (inline for
  // its first slot), or one on the rwmutex.
  void unlock_shared() noexcept GORO_RELEASE_SHARED() {
#if !defined(GORO_MUTEX_TSAN)
    if (!detail::lock_order_on()) [[likely]] {
      detail::rw_slot_line* line = detail::rw_thread_line();
      uintptr_t self = reinterpret_cast<uintptr_t>(this);
      // release: this reader's accesses happen before a writer whose scan
      // then finds the slot empty.
      if (line != nullptr &&
          line->slot[0].compare_exchange_strong(self, 0, std::memory_order_release, std::memory_order_relaxed))
        return;
    }
#endif
    unlock_shared_slow();
  }

  // Free unless the lock-order check has kept a record of a lock (see
  // ~mutex).
  ~rwmutex() {
    if ((detail::lock_order_state.load(std::memory_order_relaxed) & detail::kLockOrderNodes) != 0) [[unlikely]]
      detail::lock_order_forget(this);
  }

 private:
  // The timed locks, deadline in the runtime's steady nanoseconds, through
  // the lock-order check when it is on.
  bool lock_until(int64_t deadline_ns) GORO_TRY_ACQUIRE(true);
  bool lock_shared_until(int64_t deadline_ns) GORO_TRY_ACQUIRE_SHARED(true);

  // The inline way in through the thread's first slot: enter_slot's first
  // step (S2, S3 in src/sync/rwmutex.cpp). True: the caller holds the read
  // lock. False: no entry is left behind, and the caller takes the
  // library's way.
  bool enter_first_slot(std::atomic<uintptr_t>& slot) noexcept {
    const uintptr_t self = reinterpret_cast<uintptr_t>(this);
    uintptr_t empty = 0;
    if (!slot.compare_exchange_strong(empty, self, std::memory_order_seq_cst, std::memory_order_relaxed)) return false;
    // seq_cst: S2's Dekker pairing with a writer's announcement; the load
    // also acquires the last writer's release of the readers.
    if ((state_.load(std::memory_order_seq_cst) & detail::rw_writer_bit) == 0) return true;
    // A writer is pending: take the entry back and go the library's way
    // (false); if it is gone, the writer converted it and the caller holds
    // the lock (S3).
    uintptr_t mine = self;
    return !slot.compare_exchange_strong(mine, 0, std::memory_order_relaxed);
  }

  // lock_shared and unlock_shared beyond their inline paths: the
  // lock-order check, the other slots, the counted way, TSan builds.
  void lock_shared_slow() GORO_ACQUIRE_SHARED();
  void unlock_shared_slow() noexcept GORO_RELEASE_SHARED();

  // The algorithm (src/sync/rwmutex.cpp), without the lock-order check.
  bool lock_until_raw(int64_t deadline_ns);
  bool try_lock_raw();
  void unlock_raw() noexcept;
  bool lock_shared_until_raw(int64_t deadline_ns);
  bool try_lock_shared_raw();
  void unlock_shared_raw() noexcept;
  bool wait_grant(int64_t deadline_ns);
  bool enter_slot();
  bool leave_slot();
  int leave_any_slot();
  uint32_t convert_slots(uint64_t announced);
  bool has_slot_entries() const;
  bool withdraw_writer();
  uint32_t restore(uint64_t old);

  mutex w_{mutex::never_biased_t{}};  // held by a writer, pending or active
  std::atomic<uint64_t> state_{0};  // readers, grants, writer bit, waits (rwmutex.cpp)
  uint32_t writer_sem_ = 0;         // the writer waits here for departing readers
  uint32_t reader_sem_ = 0;         // queued readers wait here for grants
};

// Holds a goro::rwmutex's read lock for its scope, annotated for clang's
// -Wthread-safety (std::shared_lock does the same job, unannotated).
//
//   { goro::read_lock lock(mu); return table.size(); }
class GORO_SCOPED_CAPABILITY read_lock {
 public:
  explicit read_lock(rwmutex& mu) GORO_ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~read_lock() GORO_RELEASE() { mu_.unlock_shared(); }
  read_lock(const read_lock&) = delete;
  read_lock& operator=(const read_lock&) = delete;

 private:
  rwmutex& mu_;
};

// Holds a goro::rwmutex's write lock for its scope, annotated for clang's
// -Wthread-safety.
//
//   { goro::write_lock lock(mu); table.clear(); }
class GORO_SCOPED_CAPABILITY write_lock {
 public:
  explicit write_lock(rwmutex& mu) GORO_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~write_lock() GORO_RELEASE() { mu_.unlock(); }
  write_lock(const write_lock&) = delete;
  write_lock& operator=(const write_lock&) = delete;

 private:
  rwmutex& mu_;
};

}  // namespace goro
