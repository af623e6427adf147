// Timer record slots from 2 MiB arenas. Design, bound on the memory kept,
// invariants S1-S3 and lock rank in time/rec_slab.hpp.
#include "time/rec_slab.hpp"

#include <sys/mman.h>

#include <atomic>
#include <new>

#include "base/lock.hpp"

namespace goro::detail {

#if defined(GORO_ASAN)

void* timer_slab_alloc() { return ::operator new(kTimerSlabSlot); }
void timer_slab_free(void* p) noexcept { ::operator delete(p); }
int64_t timer_slab_bytes() noexcept { return 0; }

#else

namespace {

constexpr std::size_t kArenaBytes = std::size_t{2} << 20;  // one huge page on x86-64 and arm64 (4 KiB pages)
// The arena's header takes the first 128 bytes; slots follow, 32-aligned.
constexpr std::size_t kFirstSlot = 128;
constexpr uint32_t kSlots = static_cast<uint32_t>((kArenaBytes - kFirstSlot) / kTimerSlabSlot);

struct free_slot {
  free_slot* next;
};

struct arena {
  arena* prev = nullptr;  // in the partial list (S1)
  arena* next = nullptr;
  free_slot* free = nullptr;  // S2
  uint32_t live = 0;          // S2
  uint32_t bump = 0;          // slots [bump, kSlots) never handed out since the arena was (re)set
  bool in_partial = false;

  unsigned char* slot(uint32_t i) { return reinterpret_cast<unsigned char*>(this) + kFirstSlot + std::size_t{i} * kTimerSlabSlot; }
};
static_assert(sizeof(arena) <= kFirstSlot);

struct slab_state {
  runtime_lock lock{lock_rank::leaf};
  arena* cur = nullptr;      // guarded by lock
  arena* spare = nullptr;    // guarded by lock
  arena* partial = nullptr;  // guarded by lock: head of the partial list
  std::atomic<int64_t> mapped_bytes{0};  // S3; relaxed: a statistic
};

constinit slab_state slab;

arena* arena_of(void* p) {
  return reinterpret_cast<arena*>(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t{kArenaBytes} - 1));
}

// A fresh arena, 2 MiB-aligned so that it can be one huge page: map twice
// the size and trim. Under the lock (rare: once per kSlots allocations,
// and mmap takes no lock of ours).
arena* map_arena() {
  void* mem = mmap(nullptr, 2 * kArenaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  auto lo = reinterpret_cast<uintptr_t>(mem);
  uintptr_t aligned = (lo + kArenaBytes - 1) & ~(uintptr_t{kArenaBytes} - 1);
  if (aligned > lo) munmap(mem, aligned - lo);
  uintptr_t tail = lo + 2 * kArenaBytes - (aligned + kArenaBytes);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + kArenaBytes), tail);
  // Best effort: without THP (or with it `never`) the arena is faulted in a
  // page at a time, as glibc's heap was.
  madvise(reinterpret_cast<void*>(aligned), kArenaBytes, MADV_HUGEPAGE);
  slab.mapped_bytes.fetch_add(static_cast<int64_t>(kArenaBytes), std::memory_order_relaxed);
  return ::new (reinterpret_cast<void*>(aligned)) arena;
}

void unmap_arena(arena* a) {
  a->~arena();
  munmap(a, kArenaBytes);
  slab.mapped_bytes.fetch_sub(static_cast<int64_t>(kArenaBytes), std::memory_order_relaxed);
}

void partial_push(arena* a) {
  a->prev = nullptr;
  a->next = slab.partial;
  if (slab.partial != nullptr) slab.partial->prev = a;
  slab.partial = a;
  a->in_partial = true;
}

void partial_remove(arena* a) {
  if (a->prev != nullptr) a->prev->next = a->next; else slab.partial = a->next;
  if (a->next != nullptr) a->next->prev = a->prev;
  a->prev = a->next = nullptr;
  a->in_partial = false;
}

// Forgets an empty arena's free list: its slots are all bumped again, in
// address order (S2 holds: nothing is handed out).
void reset_empty(arena* a) {
  a->free = nullptr;
  a->bump = 0;
}

}  // namespace

void* timer_slab_alloc() {
  lock_guard lk(slab.lock);
  arena* a = slab.cur;
  if (a == nullptr || (a->free == nullptr && a->bump == kSlots)) {
    // cur is full (it joins the partial list when a slot of it is freed).
    if (slab.partial != nullptr) {
      a = slab.partial;
      partial_remove(a);
    } else if (slab.spare != nullptr) {
      a = slab.spare;
      slab.spare = nullptr;
    } else {
      a = map_arena();
    }
    slab.cur = a;
  }
  void* p;
  if (a->free != nullptr) {
    free_slot* s = a->free;
    a->free = s->next;
    p = s;
  } else {
    p = a->slot(a->bump++);
  }
  a->live++;
  return p;
}

void timer_slab_free(void* p) noexcept {
  arena* a = arena_of(p);
  arena* unmap = nullptr;
  {
    lock_guard lk(slab.lock);
    auto* s = static_cast<free_slot*>(p);
    s->next = a->free;
    a->free = s;
    a->live--;
    if (a->live == 0) {
      reset_empty(a);
      if (a != slab.cur) {
        if (a->in_partial) partial_remove(a);
        if (slab.spare == nullptr) {
          slab.spare = a;
        } else {
          unmap = a;
        }
      }
    } else if (a != slab.cur && !a->in_partial) {
      partial_push(a);  // it was full
    }
  }
  if (unmap != nullptr) unmap_arena(unmap);
}

int64_t timer_slab_bytes() noexcept { return slab.mapped_bytes.load(std::memory_order_relaxed); }

#endif

}  // namespace goro::detail
