// Happens-before annotations for ThreadSanitizer.
//
// goro follows Go's race detector design: the runtime itself (everything
// under src/) is compiled WITHOUT TSan instrumentation (see the tsan preset
// in CMakeLists.txt), every goroutine is its own TSan fiber, and fiber
// switches carry no synchronization. TSan then sees user code exactly as Go's
// race detector sees Go code: two goroutines are ordered only by the
// happens-before edges the memory model promises, which the runtime states
// explicitly with these calls:
//   - go(f) happens before f starts             (sched/spawn)
//   - ready(g) happens before g resumes          (sched/park)
//   - a send happens before the matching receive (chan/)
//   - done() happens before the wait() it releases (sync/)
// and reuse of stacks and g's is ordered after their previous use.
//
// In other builds these compile to nothing.
#pragma once

#include <cstddef>
#include <cstring>

#include "base/check.hpp"

#if defined(__SANITIZE_THREAD__)
#define GORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define GORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_ASAN 1
#endif
#endif

#if defined(GORO_TSAN)
extern "C" {
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
}
#endif

namespace goro::detail {

// Everything the current goroutine did before race_release(addr) happens
// before everything a later race_acquire(addr) caller does afterwards.
inline void race_release([[maybe_unused]] const void* addr) {
#if defined(GORO_TSAN)
  __tsan_release(const_cast<void*>(addr));
#endif
}

inline void race_acquire([[maybe_unused]] const void* addr) {
#if defined(GORO_TSAN)
  __tsan_acquire(const_cast<void*>(addr));
#endif
}

// Moves n entries from src to dst, dst below src or the ranges apart
// (every caller shifts an array down or copies between two). For the
// runtime's per-P caches (free g records, free stacks) and its pools: under
// TSan a memmove, even one called from the uninstrumented runtime, goes
// through TSan's interceptor, which checks the bytes against earlier
// accesses; those arrays pass between workers by runtime atomics TSan does
// not see (a P handed to another M), so it would report a race that is not
// there (seen in CI: two Ms in gfput). Under TSan this copies with plain
// loads and stores, front to back; the empty asm keeps the compiler from
// turning the loop back into a call.
template <class T>
inline void move_entries(T* dst, const T* src, size_t n) {
  GORO_DCHECK(dst <= src || dst >= src + n);
#if defined(GORO_TSAN)
  for (size_t i = 0; i < n; i++) {
    dst[i] = src[i];
    asm volatile("" ::: "memory");
  }
#else
  if (n != 0) std::memmove(dst, src, n * sizeof(T));
#endif
}

}  // namespace goro::detail
