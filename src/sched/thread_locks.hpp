// Thread-owned locks held across a park (issue 18): in debug builds
// (GORO_THREAD_LOCK_CHECK), goro counts the pthread mutexes and rwlocks
// each thread holds, and a goroutine that parks or yields while its worker
// holds one is reported when the lock-order check is on. See
// thread_locks.cpp.
#pragma once

#include <features.h>

#include "sched/wait_reason.hpp"

// The wrappers call glibc's __pthread_* entry points (x86-64, aarch64).
#if defined(GORO_THREAD_LOCK_CHECK) && !(defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__)))
#undef GORO_THREAD_LOCK_CHECK
#endif

namespace goro::detail {

struct g;

#if defined(GORO_THREAD_LOCK_CHECK)
// How many pthread mutex and rwlock acquisitions the calling thread has
// not released (as counted by thread_locks.cpp's wrappers).
int thread_locks_held();

// Called by park and yield on a goroutine, before it switches out, when
// thread_locks_held() != 0: reports (once per parking stack) if the
// lock-order check is on; exits with status 2 in its fatal mode.
void thread_lock_park(g* gp, wait_reason why);

inline void check_thread_locks_at_park(g* gp, wait_reason why) {
  if (thread_locks_held() != 0) [[unlikely]] thread_lock_park(gp, why);
}
#else
inline void check_thread_locks_at_park(g*, wait_reason) {}
#endif

}  // namespace goro::detail
