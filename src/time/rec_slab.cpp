// Timer record slots from 2 MiB arenas. Design, bound on the memory kept,
// invariants S1-S3 and lock rank in time/rec_slab.hpp.
#include "time/rec_slab.hpp"

#include <sys/mman.h>

#include <atomic>
#include <new>

#include "base/lock.hpp"
#include "base/race.hpp"
#include "sched/sched.hpp"

namespace goro::detail {

#if defined(GORO_ASAN)

void* timer_slab_alloc() { return ::operator new(kTimerSlabSlot + kTimerSlabCompanion); }
void* timer_slab_companion(void* slot) noexcept { return static_cast<unsigned char*>(slot) + kTimerSlabSlot; }
void timer_slab_free(void* p) noexcept { ::operator delete(p); }
int64_t timer_slab_bytes() noexcept { return 0; }
void timer_slab_flush_p(p*) noexcept {}

#else

namespace {

constexpr std::size_t kArenaBytes = std::size_t{2} << 20;
// madvise(MADV_POPULATE_WRITE), Linux 5.14; older headers lack the name.
constexpr int kMadvPopulateWrite = 23;
// The arena's header takes the first 128 bytes; the slots follow, then
// their companions, slot i's at kFirstCompanion + i * kTimerSlabCompanion
// (rec_slab.hpp: why apart).
constexpr std::size_t kFirstSlot = 128;
static_assert(kFirstSlot % kTimerSlabAlign == 0 && kTimerSlabSlot % kTimerSlabAlign == 0);
constexpr std::size_t kSlotPairBytes = kTimerSlabSlot + kTimerSlabCompanion;
constexpr uint32_t kSlots = static_cast<uint32_t>((kArenaBytes - kFirstSlot - kTimerSlabAlign) / kSlotPairBytes);
constexpr std::size_t kFirstCompanion =
    (kFirstSlot + std::size_t{kSlots} * kTimerSlabSlot + kTimerSlabAlign - 1) / kTimerSlabAlign * kTimerSlabAlign;
static_assert(kFirstCompanion + std::size_t{kSlots} * kTimerSlabCompanion <= kArenaBytes);

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
  // Written under lock; read under it, or without it (relaxed) by a free
  // deciding whether its slot may stay in its P's cache (S4).
  std::atomic<arena*> cur{nullptr};
  arena* spare = nullptr;    // guarded by lock
  arena* partial = nullptr;  // guarded by lock: head of the partial list
  std::atomic<int64_t> mapped_bytes{0};  // S3; relaxed: a statistic
};

constinit slab_state slab;

arena* arena_of(void* p) {
  return reinterpret_cast<arena*>(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t{kArenaBytes} - 1));
}

}  // namespace

void* timer_slab_companion(void* slot) noexcept {
  const auto base = reinterpret_cast<uintptr_t>(arena_of(slot));
  const std::size_t i = (reinterpret_cast<uintptr_t>(slot) - base - kFirstSlot) / kTimerSlabSlot;
  return reinterpret_cast<void*>(base + kFirstCompanion + i * kTimerSlabCompanion);
}

namespace {

// A fresh arena, 2 MiB-aligned (arena_of masks a slot's address): map
// twice the size and trim. Under the lock (rare: once per kSlots allocations,
// and mmap takes no lock of ours).
arena* map_arena() {
  void* mem = mmap(nullptr, 2 * kArenaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  auto lo = reinterpret_cast<uintptr_t>(mem);
  uintptr_t aligned = (lo + kArenaBytes - 1) & ~(uintptr_t{kArenaBytes} - 1);
  if (aligned > lo) munmap(mem, aligned - lo);
  uintptr_t tail = lo + 2 * kArenaBytes - (aligned + kArenaBytes);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + kArenaBytes), tail);
  // Small pages always (rec_slab.hpp: huge ones cost more here than they
  // save). The first arena (none mapped) is faulted in a page at a time as
  // its slots are used: a program with few timers (a server's per-request
  // deadlines: 10,484 fit in one arena) pays a fault of microseconds for
  // its first timer. A program that needs a second arena makes timers in
  // bulk, and each later arena is populated at once, in one call rather
  // than 512 faults (best effort: before Linux 5.14 it faults as the
  // first). Under the lock, as the huge page's fault was.
  const bool first = slab.mapped_bytes.load(std::memory_order_relaxed) == 0;
  madvise(reinterpret_cast<void*>(aligned), kArenaBytes, MADV_NOHUGEPAGE);
  if (!first) madvise(reinterpret_cast<void*>(aligned), kArenaBytes, kMadvPopulateWrite);
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

// Slots a P takes from the slab, or gives back to it, at once (S4).
constexpr int kSlotBatch = 16;

// The slab proper, under its lock: one slot (S1, S2), or std::bad_alloc.
void* alloc_locked() {
  arena* a = slab.cur.load(std::memory_order_relaxed);
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
    slab.cur.store(a, std::memory_order_relaxed);
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

// Gives a slot back under the lock; returns an arena to unmap once the
// lock is released, or null.
arena* free_locked(void* p) {
  arena* a = arena_of(p);
  arena* unmap = nullptr;
  {
    auto* s = static_cast<free_slot*>(p);
    s->next = a->free;
    a->free = s;
    a->live--;
    if (a->live == 0) {
      reset_empty(a);
      if (a != slab.cur.load(std::memory_order_relaxed)) {
        if (a->in_partial) partial_remove(a);
        if (slab.spare == nullptr) {
          slab.spare = a;
        } else {
          unmap = a;
        }
      }
    } else if (a != slab.cur.load(std::memory_order_relaxed) && !a->in_partial) {
      partial_push(a);  // it was full
    }
  }
  return unmap;
}

// The P whose slot cache the caller may use (S4), or null. Not under TSan:
// a slot passed between goroutines through a P's cache would carry no
// order TSan can see (the runtime's hand-offs of a P are not annotated),
// so there every slot goes through the lock, which TSan sees.
p* slot_cache_owner() {
#if defined(GORO_TSAN)
  return nullptr;
#else
  return owned_p(current_m());
#endif
}

constexpr int kSlotCacheMax = static_cast<int>(sizeof(p::timer_slots) / sizeof(p::timer_slots[0]));

// The oldest n slots of pp's cache back to the arenas, under one lock
// hold; arenas left empty are unmapped after it.
void give_back(p* pp, int n) noexcept {
  arena* unmap[kSlotCacheMax];
  int nunmap = 0;
  {
    lock_guard lk(slab.lock);
    for (int i = 0; i < n; i++)
      if (arena* a = free_locked(pp->timer_slots[i])) unmap[nunmap++] = a;
  }
  move_entries(pp->timer_slots, pp->timer_slots + n, static_cast<size_t>(pp->ntimer_slots - n));
  pp->ntimer_slots -= n;
  for (int i = 0; i < nunmap; i++) unmap_arena(unmap[i]);
}

}  // namespace

void* timer_slab_alloc() {
  p* pp = slot_cache_owner();
  if (pp == nullptr) {
    lock_guard lk(slab.lock);
    return alloc_locked();
  }
  if (pp->ntimer_slots == 0) {
    // A batch under one lock hold; a failure to map stops the batch, and
    // is the caller's only if it got no slot at all.
    void* batch[kSlotBatch];
    int n = 0;
    {
      lock_guard lk(slab.lock);
      try {
        while (n < kSlotBatch) batch[n++] = alloc_locked();
      } catch (const std::bad_alloc&) {
        if (n == 0) throw;
      }
    }
    // Stacked so that they are handed out in the order the arena gave them
    // (its bump order, ascending addresses): timers made in a row then sit
    // in a row, and a loop over them reads memory forwards, which the
    // hardware prefetches. Handed out in reverse, batch by batch, the
    // timer_stop row's loop took 16.6-17.3 ns per timer against 6.4-7.0.
    for (int i = 0; i < n; i++) pp->timer_slots[i] = batch[n - 1 - i];
    pp->ntimer_slots = n;
  }
  return pp->timer_slots[--pp->ntimer_slots];
}

void timer_slab_free(void* slot) noexcept {
  p* pp = slot_cache_owner();
  // Only slots of the arena being filled stay in a P's cache: that arena
  // stays mapped anyway, so a cache pins no other (rec_slab.hpp, "Giving
  // memory back"), and a mass free still empties and unmaps the others.
  // (A stale read costs only the choice of path.)
  if (pp == nullptr || arena_of(slot) != slab.cur.load(std::memory_order_relaxed)) {
    arena* unmap;
    {
      lock_guard lk(slab.lock);
      unmap = free_locked(slot);
    }
    if (unmap != nullptr) unmap_arena(unmap);
    return;
  }
  if (pp->ntimer_slots == kSlotCacheMax) give_back(pp, kSlotBatch);  // full: the older half
  pp->timer_slots[pp->ntimer_slots++] = slot;
}

void timer_slab_flush_p(p* pp) noexcept {
  if (pp->ntimer_slots > 0) give_back(pp, pp->ntimer_slots);
}

int64_t timer_slab_bytes() noexcept { return slab.mapped_bytes.load(std::memory_order_relaxed); }

#endif

}  // namespace goro::detail
