// goro::mutex slow paths: Go's sync.Mutex algorithm (sync/mutex.go) on the
// runtime's address-keyed semaphore (sync/sema.hpp), plus timed waits.
//
// state_ (include/goro/mutex.hpp): kLocked | kWoken | kStarving | kHandoff |
// waiters<<4.
//
// Two modes, as in Go. Normal: unlock wakes the first waiter, which then
// competes with newcomers (who have the CPU and usually win: good
// throughput); a waiter that loses goes back to the FRONT of the queue.
// A waiter that has waited over 1 ms switches the mutex to starvation
// mode: unlock hands the mutex straight to the first waiter (marking
// kHandoff; the locked bit stays set, so the inline lock's fetch_or, which
// takes the mutex whenever it finds kLocked clear, cannot take it on the
// way; the waiter clears kHandoff), newcomers neither spin nor take it,
// they queue at the tail. The waiter that receives it leaves
// starvation mode if it is the last waiter or waited under 1 ms.
//
// Spinning: a locker spins (up to 4 rounds of 30 pauses) only while the
// mutex is held in normal mode, there are other cores, and (on a
// goroutine) nothing else waits in its P's run queue (Go's rule); it sets
// kWoken so that unlock does not wake a sleeper it would only race. (From
// 097595e to ca2fa59 a mutex waiter an unlock woke into runnext did not
// stop the spin, for its first millisecond there: that cut the parks of
// four goroutines on two Ps from 5,000-12,500 to under 200 per 4,000,000
// pairs. Once lock became one fetch_or it no longer measured: design.md
// section 10.)
//
// Wake tokens. Call an unlock's semrelease a token: normal mode (the
// unlocker took one from the waiter count and set kWoken) or starvation
// mode (the count untouched; the token carries ownership). Invariants:
//  M1. At most one token is in flight (released or about to be, not yet
//      taken by a waiter): a normal token is issued only while kWoken is
//      clear and sets it, and its taker clears it in the same CAS that
//      may set kStarving; a starvation token is issued only by the owner.
//  M2. waiters == (lockers that registered and have not left) - (1 if a
//      normal token is in flight). A locker leaves by taking the mutex or,
//      timed, by giving up.
// Timed waits (try_lock_for/until) keep M2 when the deadline passes while
// parked: the sema time-out unlinked the waiter and gave it no token. If
// waiters > 0 it removes itself from the count. If waiters == 0, M2 says
// a normal token is in flight and it is the one counted out for it: it
// takes that token (semtryacquire, waiting the few instructions until the
// unlocker's semrelease stores it) and goes on as a woken waiter, which,
// past its deadline, takes the mutex if it is free and otherwise clears
// kWoken and returns false. A waiter handed the mutex in starvation mode
// owns it whatever the time: a timed-out racer never loses or duplicates
// the mutex. So when it is the only waiter counted, with kHandoff set
// (the owner's hand-off is in flight and nobody else is counted to take
// it), it takes that token as a handed-over waiter; a last waiter that
// leaves clears kStarving in the same CAS (M3).
//  M3. kStarving is set only while waiters > 0 (Go keeps this by leaving
//      starvation mode when the last waiter takes the mutex; timed waiters
//      also leave it when the last of them gives up). Left set with no
//      waiter, the mutex would refuse try_lock and queue every newcomer
//      though nobody holds it.
//  M4. kStarving implies kLocked, and kHandoff implies kStarving: the
//      mutex is never free in starvation mode, so a locker that finds
//      kLocked clear owns it (the inline lock and try_lock are one
//      fetch_or). kStarving is set only with kLocked (a waiter's CAS),
//      the hand-off keeps kLocked, and its taker clears kHandoff (and
//      kStarving, when it leaves the mode) in one step.
//
// TSan: the runtime is not instrumented; the inline fast paths are (in
// the user's code) and synchronize through state_. The slow lock acquires
// on &state_ after it takes the mutex, and the slow unlock (which makes
// the releasing CAS itself when waiters are counted) releases on &state_
// first, so TSan orders every critical section after the last one,
// however the mutex passed between them.
//
// Lock-order check (sync/lock_order.hpp): the inline lock, try_lock,
// timed lock and unlock go to the *_checked functions below while it is
// on; they call the detector around the raw operations.
//
// Lock order: none held here; the semaphore takes its bucket lock (the
// lock-order detector's spinlock is taken and released before, never
// across, a wait).
#include "goro/mutex.hpp"

#include <thread>

#include "base/backoff.hpp"
#include "base/check.hpp"
#include "base/futex.hpp"
#include "base/race.hpp"
#include "sched/park.hpp"
#include "sched/sched.hpp"
#include "sync/lock_order.hpp"
#include "sync/sema.hpp"

namespace goro {

namespace {

// kLocked, kWoken, kStarving, kHandoff: mutex's own (goro/mutex.hpp).
constexpr int kWaiterShift = 4;
constexpr int32_t kWaiter = 1 << kWaiterShift;
constexpr int64_t kStarvationNs = 1'000'000;  // Go's starvationThresholdNs

int32_t waiters(int32_t s) { return s >> kWaiterShift; }

// Go's sync_runtime_canSpin: a few rounds only, only with another core to
// run the holder, and not while goroutines queue on this P.
bool can_spin(int iter) {
  static const unsigned ncpu = std::thread::hardware_concurrency();
  if (iter >= 4 || ncpu <= 1) return false;
  detail::m* mp = detail::current_m();
  if (mp == nullptr || mp->curg == nullptr) return true;  // a plain thread
  detail::p* pp = detail::owned_p(mp);
  if (pp == nullptr) return true;
  if (detail::sched.maxprocs.load(std::memory_order_relaxed) <= 1) return false;
  return detail::runq_empty_ring(pp) && pp->q.runnext.load(std::memory_order_relaxed) == nullptr;
}

void spin_pause() {
  for (int i = 0; i < 30; i++) detail::cpu_relax();  // Go's procyield(30)
}

}  // namespace

void mutex::lock_slow() { (void)lock_slow_until(kNoDeadline); }

// The checked paths run the raw fast paths here, in the uninstrumented
// runtime, where TSan does not see the state word's atomics: they state
// the unlock -> lock edge themselves (on &state_, where the instrumented
// inline paths synchronize).

// noinline: the detector's stack starts at its caller, which is this frame.
__attribute__((noinline)) void mutex::lock_checked() {
  detail::lock_order_before_wait(this, detail::lock_kind::mutex);
  lock_raw();
  detail::race_acquire(&state_);
  detail::lock_order_acquired(this, detail::lock_kind::mutex, false);
}

bool mutex::try_lock_checked() {
  if (!try_lock_raw()) return false;
  detail::race_acquire(&state_);
  detail::lock_order_acquired(this, detail::lock_kind::mutex, false);
  return true;
}

__attribute__((noinline)) bool mutex::lock_until_checked(int64_t deadline) {
  detail::lock_order_before_wait(this, detail::lock_kind::mutex);
  if (!try_lock_raw() && !lock_slow_until(deadline)) return false;
  detail::race_acquire(&state_);
  detail::lock_order_acquired(this, detail::lock_kind::mutex, false);
  return true;
}

void mutex::unlock_checked() noexcept {
  // Before the release: the next holder's entry comes after ours is gone.
  detail::lock_order_released(this, false);
  detail::race_release(&state_);
  unlock_raw();
}

bool mutex::lock_slow_until(int64_t deadline) {
  const bool timed = deadline != kNoDeadline;
  int64_t wait_start = 0;
  bool starving = false;  // this waiter has waited over kStarvationNs
  bool awoke = false;     // this locker owns kWoken (set it spinning, or was woken)
  int iter = 0;
  int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while it is held in normal mode (in starvation mode the mutex
    // goes to a waiter, so spinning cannot get it).
    if ((old & (kLocked | kStarving)) == kLocked && can_spin(iter)) {
      if (!awoke && (old & kWoken) == 0 && waiters(old) != 0 &&
          state_.compare_exchange_weak(old, old | kWoken, std::memory_order_relaxed)) {
        awoke = true;
      }
      spin_pause();
      iter++;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    const bool must_wait = (old & (kLocked | kStarving)) != 0;
    if (must_wait && timed && detail::nanotime() >= deadline) {
      // Out of time: leave without registering, handing kWoken back.
      if (awoke) {
        if (!state_.compare_exchange_weak(old, old & ~kWoken, std::memory_order_relaxed)) continue;
      }
      return false;
    }
    int32_t want = old;
    if ((old & kStarving) == 0) want |= kLocked;  // newcomers do not take a starving mutex
    if (must_wait) want += kWaiter;
    if (starving && (old & kLocked) != 0) want |= kStarving;
    if (awoke) {
      if ((want & kWoken) == 0) detail::fatal("sync: inconsistent mutex state");
      want &= ~kWoken;
    }
    // acquire: when this takes the mutex, see the last holder's writes.
    if (!state_.compare_exchange_weak(old, want, std::memory_order_acquire, std::memory_order_relaxed)) continue;
    if (!must_wait) break;  // locked it

    // Registered: wait for a token. A waiter woken before goes first.
    const bool lifo = wait_start != 0;
    if (wait_start == 0) wait_start = detail::nanotime();
    if (!timed) {
      detail::semacquire(&sema_, detail::wait_reason::sync_mutex_lock, lifo);
    } else if (!detail::semacquire_until(&sema_, detail::wait_reason::sync_mutex_lock, deadline, lifo)) {
      // Timed out with no token (see "Timed waits" above).
      bool took_token = false;
      detail::backoff bo;
      old = state_.load(std::memory_order_relaxed);
      for (;;) {
        const bool token_for_us = waiters(old) == 0 ||
                                  // the owner's starvation hand-off, and nobody else to take it
                                  (waiters(old) == 1 && (old & kHandoff) != 0);
        if (token_for_us) {
          if (detail::semtryacquire(&sema_)) {
            took_token = true;
            break;
          }
          bo.snooze();
          old = state_.load(std::memory_order_relaxed);
          continue;
        }
        int32_t want = old - kWaiter;
        // The last waiter leaves: starvation mode leaves with it.
        if (waiters(old) == 1) want &= ~kStarving;
        if (state_.compare_exchange_weak(old, want, std::memory_order_relaxed)) break;
      }
      if (!took_token) return false;
    }
    starving = starving || detail::nanotime() - wait_start > kStarvationNs;
    old = state_.load(std::memory_order_relaxed);
    if ((old & kHandoff) != 0) {
      // Handed over: the locked bit is already ours (M4), the hand-off
      // mark and our waiter unit ours to remove.
      if ((old & (kLocked | kStarving | kWoken)) != (kLocked | kStarving) || waiters(old) == 0)
        detail::fatal("sync: inconsistent mutex state");
      int32_t delta = -kHandoff - kWaiter;
      // Leave starvation mode if this waiter did not starve or is the last.
      if (!starving || waiters(old) == 1) delta -= kStarving;
      state_.fetch_add(delta, std::memory_order_acquire);
      break;
    }
    awoke = true;
    iter = 0;
  }
  if (bias_.load(std::memory_order_relaxed) >= kBiasRevoking && !bias_settle(deadline)) return false;
  detail::race_acquire(&state_);
  return true;
}

// The unlock that found waiters, kWoken or starvation mode (or a mutex
// not locked). One CAS releases the mutex and, if a waiter is to be woken,
// takes its unit and sets kWoken; in starvation mode it keeps kLocked and
// marks the hand-off instead (M4). Waiters change the count meanwhile, so
// it loops.
void mutex::unlock_slow(int32_t old) noexcept {
  detail::race_release(&state_);  // the release below is invisible to TSan
  for (;;) {
    // A hand-off in flight: the last unlock already gave the mutex away.
    if ((old & (kLocked | kHandoff)) != kLocked) detail::fatal_exit(2, "sync: unlock of unlocked mutex");
    if ((old & kStarving) != 0) {
      // release: the waiter's acquire of the hand-off sees our critical section.
      if (!state_.compare_exchange_weak(old, old | kHandoff, std::memory_order_release, std::memory_order_relaxed))
        continue;
      // Hand the mutex to the first waiter. (Go also yields to it here; the
      // waiter goes to runnext, so it runs at this worker's next switch.)
      detail::semrelease(&sema_);
      return;
    }
    // Wake a waiter unless there is none or one is already awake.
    const bool wake = waiters(old) != 0 && (old & kWoken) == 0;
    const int32_t want = wake ? (old - kLocked - kWaiter) | kWoken : old - kLocked;
    // release: pairs with the acquire of the next lock.
    if (!state_.compare_exchange_weak(old, want, std::memory_order_release, std::memory_order_relaxed)) continue;
    if (wake) detail::semrelease(&sema_);
    return;
  }
}

}  // namespace goro
