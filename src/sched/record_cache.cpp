// Per-P caches of small runtime records over a global pool over malloc.
// Why, the size classes, where blocks go, and invariants R1-R3 with the
// lock rank: sched/record_cache.hpp.
#include "sched/record_cache.hpp"

#include <malloc.h>

#include <cstdlib>
#include <new>

#include "base/check.hpp"
#include "base/lock.hpp"
#include "base/ptr_stack.hpp"
#include "sched/sched.hpp"

#if defined(GORO_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace goro::detail {

namespace {

// Class k (1-based) holds blocks of class_bytes(k) = 16k+8 bytes; 0: too big.
constexpr int class_of(std::size_t bytes) {
  std::size_t k = (bytes + 7) / 16;
  if (k == 0) k = 1;
  return k <= static_cast<std::size_t>(kRecordClasses) ? static_cast<int>(k) : 0;
}
constexpr std::size_t class_bytes(int k) { return 16 * static_cast<std::size_t>(k) + 8; }
static_assert(class_of(1) == 1 && class_bytes(1) == 24);
static_assert(class_of(24) == 1 && class_of(25) == 2);
static_assert(class_of(104) == 6 && class_bytes(6) == 104);
static_assert(class_of(152) == 9 && class_bytes(9) == 152);
static_assert(class_of(264) == kRecordClasses && class_of(265) == 0);

void* malloc_block(int k) {
  void* p = std::malloc(class_bytes(k));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

#if !defined(GORO_TSAN)

// A cached block may not be used: under ASan a use is reported (use after
// poison); elsewhere these do nothing.
#if defined(GORO_ASAN)
void poison(void* p, int k) { ASAN_POISON_MEMORY_REGION(p, class_bytes(k)); }
void unpoison(void* p, int k) { ASAN_UNPOISON_MEMORY_REGION(p, class_bytes(k)); }
#else
void poison(void*, int) {}
void unpoison(void*, int) {}
#endif

struct global_pool {
  runtime_lock lock{lock_rank::leaf};
  ptr_stack<void> free[kRecordClasses];  // guarded by lock (R3)
};

constinit global_pool pool;

// Up to kRecordBatch blocks of class k from the pool into c (which has
// room for them); how many came.
int pool_take(record_cache& c, int k) {
  lock_guard lk(pool.lock);
  ptr_stack<void>& s = pool.free[k - 1];
  auto take = static_cast<int>(s.n < static_cast<size_t>(kRecordBatch) ? s.n : kRecordBatch);
  s.pop_n(c.free[k - 1] + c.n[k - 1], static_cast<size_t>(take));
  c.n[k - 1] = static_cast<uint8_t>(c.n[k - 1] + take);
  return take;
}

// The older kRecordBatch blocks of c's full class k to the pool, or to
// free() for those the pool has no room for.
void pool_give(record_cache& c, int k) {
  void** oldest = c.free[k - 1];
  int to_free = 0;
  {
    lock_guard lk(pool.lock);
    ptr_stack<void>& s = pool.free[k - 1];
    size_t room = s.n < static_cast<size_t>(kRecordGlobalMax) ? kRecordGlobalMax - s.n : 0;
    auto keep = static_cast<int>(room < static_cast<size_t>(kRecordBatch) ? room : kRecordBatch);
    if (keep > 0 && s.reserve(s.n + static_cast<size_t>(keep))) {
      s.push_n(oldest, static_cast<size_t>(keep));
    } else {
      keep = 0;
    }
    to_free = kRecordBatch - keep;
    // Blocks [keep, kRecordBatch) go to free() below, outside the lock.
    oldest += keep;
  }
  for (int i = 0; i < to_free; i++) {
    unpoison(oldest[i], k);
    std::free(oldest[i]);
  }
  // The newer half moves down over the batch given away.
  int left = c.n[k - 1] - kRecordBatch;
  move_entries(c.free[k - 1], c.free[k - 1] + kRecordBatch, static_cast<size_t>(left));
  c.n[k - 1] = static_cast<uint8_t>(left);
}

#endif  // !GORO_TSAN

}  // namespace

void* record_alloc(std::size_t bytes) {
  int k = class_of(bytes);
  if (k == 0) return ::operator new(bytes);
#if defined(GORO_TSAN)
  return malloc_block(k);
#else
  p* pp = owned_p(current_m());
  if (pp == nullptr) return malloc_block(k);
  record_cache& c = pp->records;
  if (c.n[k - 1] == 0 && pool_take(c, k) == 0) return malloc_block(k);
  void* blk = c.free[k - 1][--c.n[k - 1]];
  unpoison(blk, k);
  return blk;
#endif
}

void record_free(void* blk, std::size_t bytes) noexcept {
  if (blk == nullptr) return;
  int k = class_of(bytes);
  if (k == 0) {
    ::operator delete(blk);
    return;
  }
  // A block given back with a larger size than it was made with would
  // join a class it is too small for (every record is deleted through its
  // own type: record_cache.hpp's callers).
  GORO_DCHECK(malloc_usable_size(blk) >= class_bytes(k));
#if defined(GORO_TSAN)
  std::free(blk);
#else
  p* pp = owned_p(current_m());
  if (pp == nullptr) {
    std::free(blk);
    return;
  }
  record_cache& c = pp->records;
  if (c.n[k - 1] == kRecordCacheMax) pool_give(c, k);
  poison(blk, k);
  c.free[k - 1][c.n[k - 1]++] = blk;
#endif
}

void record_pool_release_all() noexcept {
#if !defined(GORO_TSAN)
  for (int k = 1; k <= kRecordClasses; k++) {
    // A batch at a time, freed outside the lock (R3).
    for (;;) {
      void* batch[256];
      size_t n;
      {
        lock_guard lk(pool.lock);
        ptr_stack<void>& s = pool.free[k - 1];
        n = s.n < 256 ? s.n : 256;
        s.pop_n(batch, n);
      }
      if (n == 0) break;
      for (size_t i = 0; i < n; i++) {
        unpoison(batch[i], k);
        std::free(batch[i]);
      }
    }
  }
#endif
}

int64_t record_pool_count(std::size_t bytes) {
  int k = class_of(bytes);
#if defined(GORO_TSAN)
  (void)k;
  return 0;
#else
  if (k == 0) return 0;
  lock_guard lk(pool.lock);
  return static_cast<int64_t>(pool.free[k - 1].n);
#endif
}

}  // namespace goro::detail
