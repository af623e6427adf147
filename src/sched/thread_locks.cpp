// A goroutine that parks while its thread holds a thread-owned lock (a
// std::mutex, std::shared_mutex, a pthread mutex or rwlock), reported in
// debug builds (GORO_THREAD_LOCK_CHECK) while the lock-order check is on.
//
// Why it matters: such a lock belongs to the worker thread, not to the
// goroutine. Parked, the goroutine may resume on another worker and unlock
// from there (undefined for a pthread mutex); meanwhile every goroutine
// that wants the lock blocks its own worker thread, and if the holder
// needs one of those workers to run again, the process hangs.
//
// How goro sees those locks: it cannot enumerate them (a pthread mutex
// records its owner's thread id, but goro does not know the mutexes'
// addresses). Instead, debug builds define pthread_mutex_lock,
// pthread_mutex_trylock, pthread_mutex_unlock and the pthread_rwlock
// rdlock/wrlock/tryrdlock/trywrlock/unlock functions: the program's own
// definitions take precedence over libc's for every call made through the
// dynamic symbol (libstdc++'s std::mutex, std::shared_mutex and
// std::recursive_mutex, and C code), and each one calls glibc's exported
// __pthread_* implementation and counts, per thread, acquisitions minus
// releases. A goroutine that parks (park_waiter) or yields with a non-zero
// count on its thread is reported with its stack.
//
// What it sees and misses: locks taken through those symbols; not the
// timed and clock variants (pthread_mutex_timedlock, std::timed_mutex's
// try_lock_for; glibc exports no __pthread_ entry for them; their release
// is counted, and the count never goes below zero, so at worst a lock is
// missed), not spinlocks or locks glibc takes internally (stdio, malloc),
// not locks in a library linked with -Bsymbolic. A lock released by
// another thread than its locker leaves the locker's count high: after a
// report the thread's count restarts from zero, so one broken lock is
// reported once rather than blamed on every later park of that worker.
// Only in debug builds without sanitizers: TSan (and MSan) intercept the
// same functions, and a definition in the program would bypass their
// interceptors.
//
// Invariant: t_thread_locks is the calling thread's count; it is touched
// only by that thread. Lock order: the report takes report_mu, a leaf
// spinlock, only to deduplicate and print.
#include "sched/thread_locks.hpp"

#if defined(GORO_THREAD_LOCK_CHECK)  // (thread_locks.hpp may have turned it off)

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdint>

#include "base/check.hpp"
#include "base/spinlock.hpp"
#include "base/symbolize.hpp"
#include "goro/detail/lock_order.hpp"
#include "sched/g.hpp"

// glibc exports the implementations as __pthread_* compatibility symbols
// (the version of the architecture's first glibc), which a link binds to
// only when asked by version.
#if defined(__x86_64__)
#define GORO_GLIBC_BASE "GLIBC_2.2.5"
#else
#define GORO_GLIBC_BASE "GLIBC_2.17"
#endif
#define GORO_BIND_OLD(sym) __asm__(".symver " #sym "," #sym "@" GORO_GLIBC_BASE)
GORO_BIND_OLD(__pthread_mutex_lock);
GORO_BIND_OLD(__pthread_mutex_trylock);
GORO_BIND_OLD(__pthread_mutex_unlock);
GORO_BIND_OLD(__pthread_rwlock_rdlock);
GORO_BIND_OLD(__pthread_rwlock_wrlock);
GORO_BIND_OLD(__pthread_rwlock_tryrdlock);
GORO_BIND_OLD(__pthread_rwlock_trywrlock);
GORO_BIND_OLD(__pthread_rwlock_unlock);

extern "C" {
int __pthread_mutex_lock(pthread_mutex_t* m);
int __pthread_mutex_trylock(pthread_mutex_t* m);
int __pthread_mutex_unlock(pthread_mutex_t* m);
int __pthread_rwlock_rdlock(pthread_rwlock_t* l);
int __pthread_rwlock_wrlock(pthread_rwlock_t* l);
int __pthread_rwlock_tryrdlock(pthread_rwlock_t* l);
int __pthread_rwlock_trywrlock(pthread_rwlock_t* l);
int __pthread_rwlock_unlock(pthread_rwlock_t* l);
}

namespace {
// Initial-exec: a plain TLS slot, usable from the first pthread call on.
__attribute__((tls_model("initial-exec"))) __thread int t_thread_locks = 0;

inline int counted(int rc) {
  if (rc == 0) t_thread_locks++;
  return rc;
}
inline int released(int rc) {
  if (rc == 0 && t_thread_locks > 0) t_thread_locks--;
  return rc;
}
}  // namespace

extern "C" {
int pthread_mutex_lock(pthread_mutex_t* m) { return counted(__pthread_mutex_lock(m)); }
int pthread_mutex_trylock(pthread_mutex_t* m) { return counted(__pthread_mutex_trylock(m)); }
int pthread_mutex_unlock(pthread_mutex_t* m) { return released(__pthread_mutex_unlock(m)); }
int pthread_rwlock_rdlock(pthread_rwlock_t* l) { return counted(__pthread_rwlock_rdlock(l)); }
int pthread_rwlock_wrlock(pthread_rwlock_t* l) { return counted(__pthread_rwlock_wrlock(l)); }
int pthread_rwlock_tryrdlock(pthread_rwlock_t* l) { return counted(__pthread_rwlock_tryrdlock(l)); }
int pthread_rwlock_trywrlock(pthread_rwlock_t* l) { return counted(__pthread_rwlock_trywrlock(l)); }
int pthread_rwlock_unlock(pthread_rwlock_t* l) { return released(__pthread_rwlock_unlock(l)); }
}

namespace goro::detail {

namespace {

spinlock report_mu;  // the seen-stack table below is read and written only by its holder

constexpr int kFrames = 32;
constexpr int kSeen = 64;
uint64_t seen[kSeen];  // hashes of the parking stacks reported (guarded by report_mu)
int nseen = 0;

struct park_report {
  void* pcs[kFrames];
  int n;
  uint64_t goid;
  int held;
  wait_reason why;
};

void print_park_report(void* arg) {
  auto* r = static_cast<park_report*>(arg);
  bool fatal_mode = (lock_order_state.load(std::memory_order_relaxed) & kLockOrderFatal) != 0;
  if (r->why == wait_reason::none)
    print_stderr("%s: goroutine %" PRIu64 " yields while its thread holds %d thread-owned lock%s\n",
                 fatal_mode ? "fatal error" : "WARNING", r->goid, r->held, r->held == 1 ? "" : "s");
  else
    print_stderr("%s: goroutine %" PRIu64 " parks [%s] while its thread holds %d thread-owned lock%s\n",
                 fatal_mode ? "fatal error" : "WARNING", r->goid, wait_reason_string(r->why), r->held,
                 r->held == 1 ? "" : "s");
  write_stderr(
      "(a std::mutex, std::shared_mutex or pthread lock belongs to the worker thread: the goroutine may resume\n"
      "on another thread, and goroutines waiting for the lock block their workers; use goro::mutex)\n\n");
  print_return_frames(2, r->pcs, r->n);
  write_stderr("\n");
}

}  // namespace

int thread_locks_held() { return t_thread_locks; }

__attribute__((noinline)) void thread_lock_park(g* gp, wait_reason why) {
  uint8_t st = lock_order_state.load(std::memory_order_relaxed);
  if ((st & kLockOrderOn) == 0) return;
  park_report r;
  r.n = stack_pcs(r.pcs, kFrames, 1);  // from the caller (park_waiter, yield)
  r.goid = gp->id;
  r.held = t_thread_locks;
  r.why = why;
  t_thread_locks = 0;  // reported: see "A lock released by another thread" above
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the frames
  for (int i = 0; i < r.n; i++) {
    h ^= reinterpret_cast<uintptr_t>(r.pcs[i]);
    h *= 1099511628211ull;
  }
  report_mu.lock();
  bool fresh = true;
  for (int i = 0; i < nseen; i++) fresh = fresh && seen[i] != h;
  if (fresh) {
    if (nseen < kSeen) seen[nseen++] = h;
    if ((st & kLockOrderFatal) != 0) mark_process_dying();
    run_on_report_thread(print_park_report, &r);
  }
  report_mu.unlock();
  if (fresh && (st & kLockOrderFatal) != 0) _exit(2);
}

}  // namespace goro::detail

#endif  // GORO_THREAD_LOCK_CHECK
