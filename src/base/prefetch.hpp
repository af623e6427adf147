// Cache prefetch hints.
//
// prefetch_for_write asks for a line in exclusive state, ready for a store.
// GCC and clang turn __builtin_prefetch(p, 1) into a plain read prefetch
// unless the target is told about PREFETCHW, and a read prefetch of a line
// another core last wrote brings it in shared: the store then waits for a
// second trip between the cores to invalidate the other copy. That second
// trip is what the runtime's prefetches of records retired on another core
// are there to hide. Every x86-64 CPU runs PREFETCHW: the AMD ones since
// 3DNow!, Intel ones since Broadwell, and earlier Intel ones as a NOP (its
// opcode lies in the hint-NOP space).
#pragma once

namespace goro::detail {

inline void prefetch_for_write(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1);
#endif
}

}  // namespace goro::detail
