// goro::mutex's bias: a mutex that one goroutine keeps taking becomes that
// goroutine's, and it then locks and unlocks with plain loads and stores.
//
// Why. Go's uncontended Lock and Unlock are an atomic compare-and-swap and
// an atomic add, about 6 ns each on this project's machines (a locked
// instruction drains the store buffer). A mutex that only one goroutine
// takes pays both for nothing. HotSpot's biased locking made that case
// nearly free in the same way (2005-2020); what it cost there, a
// stop-the-world revocation, is here one membarrier(2) system call made by
// the first other locker, which then makes the mutex an ordinary one for
// good.
//
// Fields (include/goro/mutex.hpp): bias_ (who owns the bias, or where the
// bias is in its life), held_ (1 while the mutex is held through the bias).
// And one process-wide list of the revokers waiting for such a holder to
// leave (B5), with its count, mutex_bias_revokers.
//
// Life of bias_:
//   kBiasUnclaimed --first unlock on a goroutine--> candidate(G) | kBiasOff
//   candidate(G) --G unlocks again, nobody waiting--> G (the owner)
//   candidate(G) --another locks, or waiters--> kBiasOff
//   G --another locker (holding state_)--> kBiasRevoking
//   kBiasRevoking --a holder of state_ sees held_ == 0--> kBiasOff
// A mutex is biased at most once. Plain threads never own the bias.
//
// Invariants.
//  B1. bias_ is written only by the holder of state_'s lock bit. The
//      owner only reads it.
//  B2. held_ is written only by the owner (0 -> 1 when it read held_ == 0
//      and bias_ == itself; 1 -> 0 to step back) and by whoever holds the
//      mutex through the bias (1 -> 0, unlock; Go lets another goroutine
//      unlock a mutex). A g record is reused only after its goroutine
//      exited, so two live goroutines never share an owner identity; an
//      owner that finds held_ == 1 (the hold it handed to another
//      goroutine, or its own: a self-deadlock) takes the slow path.
//  B3. Exclusion: a locker that takes state_ while bias_ names an owner
//      stores kBiasRevoking, then calls membarrier(PRIVATE_EXPEDITED),
//      then reads held_. The owner stores held_ = 1, then reads bias_,
//      with only a compiler fence between. membarrier makes every running
//      thread of the process pass a full barrier before it returns, so
//      this is Dekker's pair with the costly fence on the rare side only:
//      either the owner sees kBiasRevoking and steps back, or the revoker
//      sees held_ == 1 and waits. An owner descheduled between its first
//      read of bias_ and its store may store 1 at any later time, even
//      after the revocation finished: it then reads bias_ and steps back,
//      so a tentative 1 never means a holder to anyone who already saw
//      the bias end.
//  B4. A lock or try_lock returns holding state_ only with bias_ at
//      kBiasOff, kBiasUnclaimed or a candidate (bias_settle). So unlock
//      tells the two holds apart by bias_ alone: an owner or kBiasRevoking
//      means the holder came through held_.
//  B5. The revoker's wait. A holder through the bias touches nothing of
//      the mutex after its store of held_ = 0: from then on a revoker may
//      take the mutex, and its last user destroy it (C++ and POSIX allow
//      that once it is unlocked; an unlock that read bias_ after its store
//      read freed memory, test UnlockThroughTheBiasLeavesTheMutexAlone-
//      OnceItIsFree). So a revoker that must wait enlists in a
//      process-wide list (the mutex stays alive while it does: it holds
//      state_), and the count of that list, mutex_bias_revokers, is what
//      the leaving holder reads after its store. The same Dekker pair as
//      B3: the revoker enlists, then membarrier, then reads held_; the
//      holder stores held_ = 0, then (compiler fence) reads the count.
//      Either the revoker reads 0, or the holder reads a count above 0 and
//      wakes, under the list's lock, each enlisted revoker whose held_
//      reads 0 (bias_wake_revokers): it claims the entry there and posts
//      its semaphore after the lock. A claimed entry owes exactly one
//      post, so a revoker leaving the list with its entry claimed takes
//      that post first (the entry lives on its stack). A revoker that
//      finds kBiasRevoking left by another (B6) and held_ == 1 enlists and
//      makes a membarrier of its own before it reads held_ again: that
//      holder's read of the count may otherwise have been served before
//      its store left the store buffer.
//  B6. A try_lock, or a timed lock out of time, that finds the holder
//      inside gives state_ back and leaves kBiasRevoking to the next holder
//      of state_, which finishes the revocation: the first membarrier
//      already returned, so every later read of bias_ by the owner sees
//      kBiasRevoking or after. It finds held_ == 0 and needs no barrier,
//      or waits as B5 says (one more membarrier, not counted as a
//      revocation).
//
// Cost control. A revocation costs the revoker one membarrier, which
// interrupts each other CPU that runs a thread of the process. Measured on
// this project's 2-vCPU VMs (goro-bench `toolkit mutex_revoke`): 2-5 us
// with the other CPU idle, 22-31 us with a goroutine computing there (the
// IPI is a VM exit); 27-51 us in a C++ probe with two busy threads. Promotion needs two consecutive holds by
// one goroutine with nobody waiting, so mutexes that goroutines trade do
// not get biased at all. Mutexes that are each used by one goroutine for a
// while and then shared (a per-connection object handed to a second
// goroutine) would still pay one each, so revocations are accounted: once
// their membarriers take more than 5 ms in a second, new bias is refused
// for the next second (existing owners keep theirs).
//
// Deciding. Bias needs the process registered for private expedited
// membarrier, and the kernel makes that registration a synchronize_rcu
// once the process has a second thread: 11-43 ms on this project's VMs,
// against 3 us for a process that is still one thread. Made by the first
// mutex that could be biased, it stopped that goroutine's worker, P and
// all, that long (the first contended lock of `runtime/mutex` in a fresh
// process took 10-15 ms, with the other goroutines parked behind it). So
// the runtime decides before it starts its threads when the process is
// still one thread (mutex_bias_decide_if_alone), and otherwise its
// scavenger thread decides as it starts, off every goroutine's way
// (mutex_bias_decide); until then no mutex is biased. A mutex used before
// the runtime starts (plain threads only) decides inline, as it did.
//
// TSan: the fast paths are inline in user code, where TSan sees held_'s
// release store and acquire load, the edges between the holds. This file
// is not instrumented, so a revoker that waited out the bias holder states
// the edge from that holder's release of held_ itself (race_acquire). The
// Dekker exclusion of B3 needs no edge of its own.
//
// Lock order: called holding the mutex's state_ bit (a waiter-visible
// hold, never a runtime lock); takes the semaphore's bucket lock in
// semacquire/semrelease, and the leaf spinlocks of the throttle and of the
// revokers' list, one at a time. bias_wake_revokers runs in any unlock
// through the bias and takes the list's spinlock, then (after it) the
// bucket lock.
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "base/backoff.hpp"
#include "base/check.hpp"
#include "base/debug_env.hpp"
#include "base/race.hpp"
#include "base/futex.hpp"
#include "base/spinlock.hpp"
#include "goro/mutex.hpp"
#include "sched/g.hpp"
#include "sched/sched.hpp"
#include "sync/mutex_bias.hpp"
#include "sync/sema.hpp"

static_assert(alignof(goro::detail::g) >= 8, "a g address must leave bias_'s low three bits free");

namespace goro {

namespace {

constexpr int64_t kThrottleWindowNs = 1'000'000'000;
std::atomic<int64_t> g_budget_ns{5'000'000};  // membarrier time per window before bias pauses
std::atomic<int64_t> g_pause_ns{kThrottleWindowNs};  // how long new bias then pauses

// 0: not decided yet; 1: on; 2: off for good (GORO_DEBUG=mutexbias=0, or no
// usable membarrier).
std::atomic<int> g_bias_mode{0};
std::atomic<int64_t> g_paused_until{0};
std::atomic<int> g_decider_tid{0};  // the thread whose decision stood (tests)
std::atomic<uint64_t> g_revocations{0};
std::atomic<uint64_t> g_pauses{0};

detail::spinlock g_throttle_lock;
int64_t g_window_start = 0;  // under g_throttle_lock
int64_t g_window_spent = 0;  // under g_throttle_lock

long membarrier_call(int cmd) { return syscall(__NR_membarrier, cmd, 0, 0); }

int decide_mode() {
  int mode = 2;
  if (detail::debug_setting("mutexbias", 1) != 0) {
    long cmds = membarrier_call(MEMBARRIER_CMD_QUERY);
    if (cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
        membarrier_call(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0)
      mode = 1;
  }
  int expected = 0;
  // Registration, if any, happens before any mutex is biased: the mode is
  // published after it (release), and claims read it (acquire).
  if (!g_bias_mode.compare_exchange_strong(expected, mode, std::memory_order_acq_rel))
    mode = expected;
  else
    g_decider_tid.store(static_cast<int>(syscall(SYS_gettid)), std::memory_order_relaxed);
  return mode;
}

bool bias_allowed() {
  int mode = g_bias_mode.load(std::memory_order_acquire);
  if (mode == 0) {
    // The runtime's scavenger is deciding (above, "Deciding").
    if (detail::sched.started.load(std::memory_order_acquire)) return false;
    mode = decide_mode();
  }
  if (mode != 1) return false;
  int64_t until = g_paused_until.load(std::memory_order_relaxed);
  if (until == 0) return true;
  if (detail::nanotime() < until) return false;
  g_paused_until.store(0, std::memory_order_relaxed);
  return true;
}

// The revoker's half of B3 and B5, with its cost accounted; counted: it
// ends a bias (a locker that finishes another's revocation makes one
// more, B6).
void revoke_barrier(bool counted) {
  const int64_t start = detail::nanotime();
  if (membarrier_call(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
    detail::fatal("sync: membarrier failed after it was registered (errno %d)", errno);
  const int64_t now = detail::nanotime();
  if (counted) g_revocations.fetch_add(1, std::memory_order_relaxed);
  g_throttle_lock.lock();
  if (now - g_window_start >= kThrottleWindowNs) {
    g_window_start = now;
    g_window_spent = 0;
  }
  g_window_spent += now - start;
  if (g_window_spent > g_budget_ns.load(std::memory_order_relaxed)) {
    g_paused_until.store(now + g_pause_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
    g_pauses.fetch_add(1, std::memory_order_relaxed);
    g_window_start = now;
    g_window_spent = 0;
  }
  g_throttle_lock.unlock();
}

// A locker of a biased mutex waiting for the holder through the bias to
// leave (B5), on that locker's stack, in g_revokers while enlisted. The
// mutex is alive meanwhile: the locker holds its state_.
struct revoker {
  const std::atomic<uint32_t>* held;  // the mutex's held_
  uint32_t sema = 0;  // posted once per claim
  bool claimed = false;  // under g_revokers_lock: a leaving holder owes sema a post
  revoker* prev = nullptr;  // under g_revokers_lock
  revoker* next = nullptr;  // under g_revokers_lock
};

detail::spinlock g_revokers_lock;
revoker* g_revokers = nullptr;  // under g_revokers_lock

void enlist(revoker& r) {
  g_revokers_lock.lock();
  r.next = g_revokers;
  if (g_revokers != nullptr) g_revokers->prev = &r;
  g_revokers = &r;
  detail::mutex_bias_revokers.n.fetch_add(1, std::memory_order_relaxed);
  g_revokers_lock.unlock();
}

// After a post was taken: later holders may post again.
void unclaim(revoker& r) {
  g_revokers_lock.lock();
  r.claimed = false;
  g_revokers_lock.unlock();
}

void delist(revoker& r) {
  g_revokers_lock.lock();
  if (r.prev != nullptr) r.prev->next = r.next; else g_revokers = r.next;
  if (r.next != nullptr) r.next->prev = r.prev;
  detail::mutex_bias_revokers.n.fetch_sub(1, std::memory_order_relaxed);
  const bool owed = r.claimed;
  g_revokers_lock.unlock();
  // A waker claimed the entry and posts right after its lock (B5): the
  // entry must outlive that post.
  if (owed) detail::semacquire(&r.sema, detail::wait_reason::sync_mutex_lock);
}

}  // namespace

namespace detail {
mutex_bias_revoker_count mutex_bias_revokers;
uint64_t mutex_bias_revocations() { return g_revocations.load(std::memory_order_relaxed); }
uint64_t mutex_bias_pauses() { return g_pauses.load(std::memory_order_relaxed); }
bool mutex_bias_enabled() {
  mutex_bias_decide();  // the tests ask before the scavenger may have
  return bias_allowed();
}
int mutex_bias_decider_tid() { return g_decider_tid.load(std::memory_order_relaxed); }
void mutex_bias_decide() {
  if (g_bias_mode.load(std::memory_order_acquire) == 0) decide_mode();
}
void mutex_bias_decide_if_alone() {
  if (g_bias_mode.load(std::memory_order_acquire) != 0) return;
  // Field 20 of /proc/self/stat is the thread count; the command name
  // (field 2) may hold spaces and parentheses, so count from its last ')'.
  char buf[1024];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  const char* p = strrchr(buf, ')');
  if (p == nullptr) return;
  long threads = 0;
  // After ")": field 3 (state) is the first; the thread count is the 18th.
  if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld", &threads) != 1) return;
  if (threads == 1) decide_mode();
}
int64_t mutex_bias_set_budget(int64_t ns_per_second, int64_t pause_ns) {
  g_pause_ns.store(pause_ns, std::memory_order_relaxed);
  g_paused_until.store(0, std::memory_order_relaxed);
  return g_budget_ns.exchange(ns_per_second, std::memory_order_relaxed);
}
}  // namespace detail

// Holding state_ (B1). Returns true holding it with bias_ settled (B4);
// false if the deadline passed while a bias holder is inside, state_ given
// back (B6). deadline 0: do not wait at all (try_lock).
bool mutex::bias_settle(int64_t deadline) {
  uintptr_t b = bias_.load(std::memory_order_acquire);
  if (b >= kBiasTokenMin && (b & kBiasCandidate) != 0) {
    // A candidate stays one only while its goroutine is the one locking.
    if ((b & ~kBiasCandidate) != detail::current_g_token()) bias_.store(kBiasOff, std::memory_order_relaxed);
    return true;
  }
  revoker self{&held_};
  bool enlisted = false;
  if (b >= kBiasTokenMin) {
    // An owner (this goroutine too, if it came here because held_ was 1).
    bias_.store(kBiasRevoking, std::memory_order_seq_cst);
    enlist(self);  // before the barrier: a holder leaving after it reads the count (B5)
    enlisted = true;
    revoke_barrier(true);
    b = kBiasRevoking;
  }
  if (b != kBiasRevoking) return true;  // kBiasOff or kBiasUnclaimed
  // acquire: a holder that has left wrote its critical section before its
  // release store of 0.
  bool left = held_.load(std::memory_order_acquire) == 0;
  if (!left && deadline != 0) {
    if (!enlisted) {
      // Left kBiasRevoking by a locker that gave up (B6).
      enlist(self);
      enlisted = true;
      revoke_barrier(false);
      left = held_.load(std::memory_order_acquire) == 0;
    }
    // (held_ may read 1 from an owner that read bias_ before the first
    // membarrier and stores its tentative 1 only now; it reads bias_ next,
    // steps back and wakes us, B3.)
    while (!left) {
      if (deadline == kNoDeadline) {
        detail::semacquire(&self.sema, detail::wait_reason::sync_mutex_lock);
      } else if (!detail::semacquire_until(&self.sema, detail::wait_reason::sync_mutex_lock, deadline)) {
        break;
      }
      unclaim(self);
      left = held_.load(std::memory_order_acquire) == 0;
    }
  }
  if (enlisted) {
    delist(self);
    if (!left) left = held_.load(std::memory_order_acquire) == 0;
  }
  if (!left) {
    unlock_state();
    return false;
  }
  // The holder's critical section comes before ours: its release store of
  // held_, which TSan does not see this file read.
  detail::race_acquire(&held_);
  bias_.store(kBiasOff, std::memory_order_relaxed);
  return true;
}

// A leaving holder through the bias found revokers enlisted (B5): wakes
// each whose holder has left, one at a time (the post comes after the
// list's lock, which no other lock may nest in).
void mutex::bias_wake_revokers() noexcept {
  // In a forked child the list is the parent's: its revokers' threads are
  // gone, and its lock may be held for good by one of them.
  if (detail::in_forked_child()) return;
  for (;;) {
    revoker* woken = nullptr;
    g_revokers_lock.lock();
    for (revoker* r = g_revokers; r != nullptr; r = r->next) {
      if (!r->claimed && r->held->load(std::memory_order_relaxed) == 0) {
        r->claimed = true;
        woken = r;
        break;
      }
    }
    g_revokers_lock.unlock();
    if (woken == nullptr) return;
    // The entry stays until its revoker has taken this post (delist).
    detail::semrelease(&woken->sema);
  }
}

// The holder of state_ unlocks a mutex whose bias is unclaimed or a
// candidate: two holds in a row by one goroutine, nobody waiting, make it
// the owner.
void mutex::bias_note_unlock(uintptr_t b) noexcept {
  const uintptr_t self = detail::current_g_token();
  const bool mine = b == kBiasUnclaimed || (b & ~kBiasCandidate) == self;
  const bool quiet = state_.load(std::memory_order_relaxed) == kLocked;  // no waiters, nobody woken
  uintptr_t next = kBiasOff;
  if (self != 0 && mine && quiet && bias_allowed()) next = b == kBiasUnclaimed ? (self | kBiasCandidate) : self;
  bias_.store(next, std::memory_order_relaxed);
}

void mutex::bias_unlock_of_unlocked() noexcept { detail::fatal_exit(2, "sync: unlock of unlocked mutex"); }

}  // namespace goro
