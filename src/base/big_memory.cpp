// Kept big mappings. See big_memory.hpp.
//
// Invariants (cache.lock held): kept[0..n) are mappings nobody uses, each
// `mapped` bytes long; `idle` marks those not taken since the scavenger's
// last period. At most kKept mappings and kKeptBytes bytes are kept; a put
// beyond that unmaps the oldest. dropped[0..ndropped) are what is left of
// blocks the scavenger is unmapping: nobody else sees them, and a piece is
// cut off (under the lock) before it is unmapped (outside it), so the
// scavenger thread and free_os_memory never unmap the same bytes.
#include "base/big_memory.hpp"

#include <sys/mman.h>

#include <algorithm>

#include "base/futex.hpp"
#include "base/lock.hpp"

namespace goro::detail {

namespace {

constexpr int kKept = 4;
[[maybe_unused]] constexpr uint64_t kKeptBytes = uint64_t{1} << 30;  // 1 GiB
constexpr uint64_t kUnmapPiece = uint64_t{1} << 20;  // the scavenger's unit: ~0.25 ms resident

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
  kept_block dropped[kKept];
  int ndropped = 0;
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

bool big_memory_scavenge_step(bool new_period, int64_t deadline) {
  for (;;) {
    void* p = nullptr;
    uint64_t len = 0;
    {
      lock_guard lk(cache.lock);
      if (new_period) {
        new_period = false;
        for (int i = 0; i < cache.n;) {
          if (cache.kept[i].idle && cache.ndropped < kKept) {
            cache.dropped[cache.ndropped++] = cache.kept[i];
            remove_locked(i);
          } else {
            cache.kept[i++].idle = true;
          }
        }
      }
      if (cache.ndropped == 0) return false;
      if (nanotime() >= deadline) return true;
      // The next piece, cut off the front of the first dropped block.
      kept_block& d = cache.dropped[0];
      p = d.p;
      len = std::min(d.mapped, kUnmapPiece);
      d.p = static_cast<char*>(d.p) + len;
      d.mapped -= len;
      if (d.mapped == 0) {
        for (int j = 1; j < cache.ndropped; j++) cache.dropped[j - 1] = cache.dropped[j];
        cache.ndropped--;
      }
    }
    munmap(p, len);
  }
}

uint64_t big_memory_held_bytes() {
  lock_guard lk(cache.lock);
  uint64_t n = cache.bytes;
  for (int i = 0; i < cache.ndropped; i++) n += cache.dropped[i].mapped;
  return n;
}

void big_memory_scavenge_all() {
  kept_block drop[2 * kKept];
  int ndrop = 0;
  {
    lock_guard lk(cache.lock);
    for (int i = 0; i < cache.n; i++) drop[ndrop++] = cache.kept[i];
    for (int i = 0; i < cache.ndropped; i++) drop[ndrop++] = cache.dropped[i];
    cache.n = cache.ndropped = 0;
    cache.bytes = 0;
  }
  for (int i = 0; i < ndrop; i++) munmap(drop[i].p, drop[i].mapped);
}

}  // namespace goro::detail
