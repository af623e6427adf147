// The running goroutine's identity, read inline in user code (goro::mutex's
// biased fast path, src/sync/mutex_bias.cpp).
//
// The runtime keeps the running goroutine's record address in the
// thread-local `goro_tls_current_g` (src/sched/current.cpp): set before
// every switch into a goroutine, cleared when its worker goes back to the
// scheduler; null on plain threads and on a worker's scheduler stack.
//
// Why not a C++ thread_local: a goroutine may park on one OS thread and
// resume on another, and a compiler may keep a thread-local's address in a
// register across an opaque call (such as a channel receive in the
// caller). A stale address would name the old thread's goroutine, and two
// goroutines could then both pass as a mutex's bias owner. On x86-64 the
// variable is read by a volatile asm statement with a memory clobber, which
// the compiler can neither hoist nor merge (two instructions); elsewhere by
// a function that is never inlined. The variable is initial-exec TLS, so
// this works from a shared libgoro loaded at program start.
#pragma once

#include <cstdint>

namespace goro::detail {

#if defined(__x86_64__)
inline uintptr_t current_g_token() noexcept {
  uintptr_t gp;
  asm volatile(
      "movq goro_tls_current_g@gottpoff(%%rip), %0\n\t"
      "movq %%fs:(%0), %0"
      : "=r"(gp)
      :
      : "memory");
  return gp;
}
#else
// The running goroutine's record address, or 0 (src/sched/current.cpp).
uintptr_t current_g_token() noexcept;
#endif

}  // namespace goro::detail
