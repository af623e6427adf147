// Kept big mappings. See big_memory.hpp.
//
// Invariants (cache.lock held): kept[0..n) are mappings nobody uses, each
// `mapped` bytes long; `idle` marks those not taken since the last
// scavenge. At most kKept mappings and kKeptBytes bytes are kept; a put
// beyond that unmaps the oldest.
#include "base/big_memory.hpp"

#include <sys/mman.h>

#include "base/lock.hpp"

namespace goro::detail {

namespace {

constexpr int kKept = 4;
constexpr uint64_t kKeptBytes = uint64_t{1} << 30;  // 1 GiB

struct kept_block {
  void* p;
  uint64_t mapped;
  bool idle;
};

struct {
  runtime_lock lock{lock_rank::leaf};
  kept_block kept[kKept];
  int n = 0;  // oldest first
  uint64_t bytes = 0;
} cache;

void remove_locked(int i) {
  cache.bytes -= cache.kept[i].mapped;
  for (int j = i; j + 1 < cache.n; j++) cache.kept[j] = cache.kept[j + 1];
  cache.n--;
}

}  // namespace

big_block big_memory_get(uint64_t bytes) {
  uint64_t page = 4096;
  bytes = (bytes + page - 1) / page * page;
#if !defined(GORO_TSAN)
  // (Under TSan a reused block would carry its last user's accesses in
  // the shadow memory: fresh mappings only, as for closures.)
  {
    lock_guard lk(cache.lock);
    for (int i = cache.n - 1; i >= 0; i--) {  // newest first: the warmest
      kept_block k = cache.kept[i];
      if (k.mapped >= bytes && k.mapped / 2 <= bytes) {
        remove_locked(i);
        return big_block{k.p, k.mapped, true};
      }
    }
  }
#endif
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return big_block{};
  return big_block{p, bytes, false};
}

void big_memory_put(void* p, uint64_t mapped) {
#if defined(GORO_TSAN)
  munmap(p, mapped);
#else
  void* drop[kKept + 1];
  uint64_t drop_bytes[kKept + 1];
  int ndrop = 0;
  if (mapped > kKeptBytes) {
    munmap(p, mapped);
    return;
  }
  {
    lock_guard lk(cache.lock);
    while (cache.n > 0 && (cache.n == kKept || cache.bytes + mapped > kKeptBytes)) {
      drop[ndrop] = cache.kept[0].p;
      drop_bytes[ndrop++] = cache.kept[0].mapped;
      remove_locked(0);
    }
    cache.kept[cache.n++] = kept_block{p, mapped, false};
    cache.bytes += mapped;
  }
  for (int i = 0; i < ndrop; i++) munmap(drop[i], drop_bytes[i]);
#endif
}

void big_memory_scavenge(bool all) {
  void* drop[kKept];
  uint64_t drop_bytes[kKept];
  int ndrop = 0;
  {
    lock_guard lk(cache.lock);
    for (int i = 0; i < cache.n;) {
      if (all || cache.kept[i].idle) {
        drop[ndrop] = cache.kept[i].p;
        drop_bytes[ndrop++] = cache.kept[i].mapped;
        remove_locked(i);
      } else {
        cache.kept[i++].idle = true;
      }
    }
  }
  for (int i = 0; i < ndrop; i++) munmap(drop[i], drop_bytes[i]);
}

}  // namespace goro::detail
