// The runtime's internal lock and its rank table.
//
// `runtime_lock` is a futex mutex (Drepper's three-state design, "Futexes
// are tricky", 2011) that spins briefly before sleeping. It is what guards
// the scheduler's global queue, channel state, timer heaps and wait lists.
// It never parks a goroutine: it blocks the OS thread, and is only held for
// short, non-blocking critical sections. A lock taken on a goroutine may be
// released right after the goroutine is switched out (park's unlock
// function), on the scheduler stack or on the stack of the goroutine it
// switched to directly: all run on the same OS thread, so thread-affinity
// (and the per-thread rank stack below) holds.
//
// TSan: the runtime is not instrumented (base/race.hpp), but the libc calls
// it makes (memmove, malloc) are intercepted; so each lock tells TSan that
// unlock happens before the next lock, which orders the runtime's own data.
//
// Lock ranks (Go's lockrank.go): every lock has a rank; a thread may only
// acquire a lock whose rank is higher than every lock it holds, except
// that locks of the same `chan` rank may nest when taken in address order
// (select locks several channels that way). Debug and sanitizer builds
// (GORO_DEBUG_CHECKS) check this on every acquire and abort naming both
// locks; release builds compile the check away.
//
// Rank table, lowest first (acquire in this order):
//   signal        the signal registry (signal/relay.cpp): its dispatcher
//                 sends on the registered channels while holding it
//   timer         one goro::timer / ticker record (time/gotimer.hpp): taken
//                 before its channel's lock and the P timer heaps
//   chan          channel state (several at once in select, by address)
//   wait_list     wait_group / semaphore-style waiter lists
//   context       a cancellable context's state (context/context.hpp); a
//                 deadline's timer is added and deleted under it
//   poll_fds      goro::wait_fd's table of watched fds (netpoll/wait_fd.cpp)
//   poll_desc     one fd's deadlines and closing flag (netpoll/netpoll.hpp);
//                 its deadline timers are added and deleted under it
//   timers        a P's timer heap
//   sched         the global run queue, idle P and M lists
//   p_yields      one P's list of goroutines that called goro::yield()
//                 (sched/runq.hpp): moved to the global yield queue under
//                 sched when the P gives its work up
//   scavenger     the stack scavenger's batch (sched/stack.cpp): held across
//                 madvise calls, by goro::free_os_memory for as long as its
//                 release takes; the scavenger thread only try_locks it
//   stack_pool    global stack and g free lists
//   allgs         the slab list of all g's, taken by spawns that add a
//                 slab (readers walk it without a lock)
#pragma once

#include <atomic>
#include <cstdint>

#include "base/race.hpp"

namespace goro::detail {

enum class lock_rank : uint8_t {
  signal = 1,
  timer,
  chan,
  wait_list,
  context,
  poll_fds,
  poll_desc,
  timers,
  sched,
  p_yields,
  scavenger,
  stack_pool,
  allgs,
  leaf,  // takes no other lock while held
};

const char* lock_rank_name(lock_rank r);

class runtime_lock {
 public:
  explicit constexpr runtime_lock(lock_rank rank) : rank_(rank) {}
  runtime_lock(const runtime_lock&) = delete;
  runtime_lock& operator=(const runtime_lock&) = delete;

  void lock() {
#if defined(GORO_DEBUG_CHECKS)
    rank_acquire();
#endif
    uint32_t c = 0;
    // acquire: the critical section sees everything the previous holder
    // wrote before unlock.
    if (!state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed))
      lock_slow();
    race_acquire(this);
  }

  bool try_lock() {
    uint32_t c = 0;
    bool ok = state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed);
#if defined(GORO_DEBUG_CHECKS)
    if (ok) rank_acquire();
#endif
    if (ok) race_acquire(this);
    return ok;
  }

  void unlock() {
#if defined(GORO_DEBUG_CHECKS)
    rank_release();
#endif
    race_release(this);
    // release: pairs with the acquire in lock().
    if (state_.exchange(0, std::memory_order_release) == 2) unlock_slow();
  }

  lock_rank rank() const { return rank_; }

#if defined(GORO_DEBUG_CHECKS)
  // Whether the calling thread holds this lock (from the rank checker's
  // record of held locks; debug and sanitizer builds only).
  bool held_by_this_thread() const;
#endif

 private:
  void lock_slow();
  void unlock_slow();
  void rank_acquire();
  void rank_release();

  std::atomic<uint32_t> state_{0};  // 0 free, 1 locked, 2 locked with sleepers
  lock_rank rank_;
};

// RAII guard for runtime_lock (std::lock_guard would do, but this one is
// explicit about the type and keeps <mutex> out of the runtime).
class lock_guard {
 public:
  explicit lock_guard(runtime_lock& l) : l_(l) { l_.lock(); }
  ~lock_guard() { l_.unlock(); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  runtime_lock& l_;
};

// One spin-loop iteration hint.
inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace goro::detail
