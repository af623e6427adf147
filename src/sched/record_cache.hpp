// Small runtime records (context nodes, unbuffered channel records,
// goroutine closures too big for the g record): free blocks kept per P,
// over a global pool, over malloc (Go's mcache over its mcentral, for a
// few fixed-size records).
//
// Why: a record is often made on one worker and freed on another (a
// context's children are made by one goroutine and dropped by the
// goroutines that watch them; a request's channel is made by the server
// and dropped by the handler; a closure is made by go() and freed where
// the goroutine ends). glibc's malloc gives each thread its own
// arena, but a block goes back to the arena it came from, under that
// arena's lock, once the freeing thread's tcache (7 blocks a size) is full:
// two workers freeing one arena's blocks at once fight over its lock.
// Measured on toolkit/ctx_cancel: 7,700 futex calls in glibc's lock wait
// and wake in a 30 ms cancel of 100,000 children, and 297 against 255-260
// ns per child with jemalloc or tcmalloc preloaded (docs/benchmarks.md,
// "ctx_cancel and malloc's arena lock"). goro is a library, so it cannot
// choose the program's malloc; it keeps its own records instead.
//
// Size classes: class k (1..kRecordClasses) holds blocks of 16k+8 bytes,
// the sizes whose malloc chunks have no padding (a chunk is the size plus
// 8, rounded up to 16), so a record costs what a plain `new` of it did.
// Larger records go to malloc directly. Every block of a class is a
// malloc'd block of the class size, whichever path made it: a block made by
// a plain thread (malloc) may end in a P's cache, and a cached block may be
// given back to malloc.
//
// Where a block goes:
//  - record_alloc on a goroutine that owns its P: the P's cache of that
//    class, else kRecordBatch blocks from the global pool, else malloc;
//  - record_free there: the P's cache; when full, its older half goes to
//    the global pool; when the pool holds kRecordGlobalMax blocks of the
//    class, to free() instead (so at most that many stay kept per class);
//  - on a plain thread, or inside goro::blocking (owned_p is null: the
//    monitor may take that P at any moment): malloc and free directly.
// goro::free_os_memory gives the global pools back to malloc. The P caches
// stay (at most kRecordCacheMax blocks a class a P).
//
// Sanitizers: under TSan the cache is off (every record is a malloc of its
// own): blocks passing between threads through the runtime's uninstrumented
// pool would hide the order between a record's last use and its next
// life. Under ASan cached blocks are poisoned, so a use after free of a
// record is still reported.
//
// Invariants:
//  R1. A block is in at most one place: handed out, one P's cache, the
//      global pool, or back with malloc.
//  R2. A P's cache is touched only by the M that owns the P, outside
//      goro::blocking (owned_p); goroutines are not preempted inside
//      record_alloc/record_free (no scheduling point there).
//  R3. The global pool is guarded by its lock, rank `leaf`: taken with any
//      other runtime lock held or none, and nothing is taken under it
//      (malloc and free run outside it).
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::detail {

inline constexpr int kRecordClasses = 16;     // up to 16 * 16 + 8 = 264 bytes
inline constexpr int kRecordCacheMax = 32;    // blocks a class a P
inline constexpr int kRecordBatch = 16;       // moved between a P and the pool at once
inline constexpr int kRecordGlobalMax = 8192; // blocks a class kept in the pool

// A P's free blocks (sched.hpp's p holds one).
struct record_cache {
  void* free[kRecordClasses][kRecordCacheMax];
  uint8_t n[kRecordClasses];
};

// A block of at least `bytes` bytes, aligned as malloc aligns (16). Throws
// std::bad_alloc.
void* record_alloc(std::size_t bytes);

// Gives back a block from record_alloc(bytes), with the same `bytes`.
void record_free(void* p, std::size_t bytes) noexcept;

// goro::free_os_memory: every global pool back to malloc.
void record_pool_release_all() noexcept;

// Blocks in the global pool of the class that holds `bytes` (tests).
int64_t record_pool_count(std::size_t bytes);

}  // namespace goro::detail
