// goro::pool's core (include/goro/pool.hpp): per-P caches of void*
// objects, stealable by other Ps, plus a locked shared list.
//
// Layout. Each P has a `local`: one cache line of kPerProc slots, each an
// atomic pointer (null: empty). The locals live in chunks of kChunkPs,
// made on a P's first put() and freed with the pool; chunks_[i] is never
// changed once set, so a local's address is stable. The shared list (at
// most kShared objects) is under `lock`.
//
// Invariants:
//  P1. An object is in at most one place (one slot, or the shared list)
//      and only there between its put() and the get() that takes it: every
//      move into a slot is a compare-and-swap from null, every move out an
//      exchange to null, so exactly one taker gets each object and no
//      object is handed to two getters.
//  P2. Because every slot operation is atomic, any thread may touch any
//      P's local: the P only decides where a caller looks first (its own
//      line, no sharing while each worker keeps its objects), not who may
//      look. So a goroutine needs no pinning to its P (Go's pool pins,
//      because its private slot is plain memory; here a goroutine cannot
//      switch inside get/put anyway, and it would not matter if it did),
//      and the monitor taking a P away is harmless.
//  P3. Count kept <= kPerProc * (Ps with a chunk) + kShared: put() drops
//      (destroys) an object only when both its P's line and the shared
//      list are full.
//
// Order of looks: get(): own P's slots (newest first, LIFO for warm
// caches), the shared list, then every other P's slots (oldest first,
// from the next P on, as Go's getSlow steals from other Ps); put(): own
// P's slots, then the shared list, else destroy. A caller with no P (a
// plain thread, a goroutine in goro::blocking: owned_p is null) starts
// at the shared list.
//
// Rejected: Go's design (a plain private slot plus a lock-free deque per
// P, emptied by the garbage collector with the world stopped). goro has no
// stop-the-world to clear a private slot safely, and the deque's
// owner-only end needs the goroutine pinned; a line of atomic slots gives
// the same no-lock fast path (one exchange or compare-and-swap on a line
// the P owns) with a one-line argument for P1.
//
// Orderings: a put's compare-and-swap is release, a get's exchange is
// acquire: the getter sees the object as the putter left it. The runtime
// is not instrumented, so for TSan put() releases on the object's address
// and get() acquires on it (base/race.hpp), as Go's race build does.
//
// Lock order: `lock` is a leaf runtime lock; nothing else is taken under
// it, and no user code (new function, destructor) runs under it.
#include "goro/pool.hpp"

#include <new>

#include "base/lock.hpp"
#include "base/race.hpp"
#include "sched/sched.hpp"

namespace goro::detail {

namespace {

constexpr int kChunkPs = 16;
constexpr int kChunks = kMaxP / kChunkPs;
static_assert(kMaxP % kChunkPs == 0, "every P id must fall in a chunk");

struct alignas(64) local {
  std::atomic<void*> slot[pool_core::kPerProc] = {};
};
static_assert(sizeof(local) == 64, "one P's slots fill one cache line");

struct chunk {
  local l[kChunkPs];
};

}  // namespace

struct pool_core::state {
  explicit state(destroy_fn d) : destroy(d) {}
  const destroy_fn destroy;
  // chunks[i] covers P ids [i * kChunkPs, (i + 1) * kChunkPs); set once
  // (compare-and-swap from null), freed by ~pool_core.
  std::atomic<chunk*> chunks[kChunks] = {};
  runtime_lock lock{lock_rank::leaf};
  void* shared[kShared] = {};    // guarded by lock; [0, nshared) used
  std::atomic<int> nshared{0};   // written under lock; read without it as a hint

  // The local of P `id`; with `make`, made if missing (null if memory is
  // short: the caller falls back to the shared list).
  local* local_of(int32_t id, bool make) noexcept {
    std::atomic<chunk*>& c = chunks[id / kChunkPs];
    // acquire: pairs with the release CAS below; the chunk's slots are
    // seen initialized.
    chunk* ch = c.load(std::memory_order_acquire);
    if (ch == nullptr) {
      if (!make) return nullptr;
      chunk* fresh = new (std::nothrow) chunk();
      if (fresh == nullptr) return nullptr;
      if (c.compare_exchange_strong(ch, fresh, std::memory_order_acq_rel, std::memory_order_acquire)) {
        ch = fresh;
      } else {
        delete fresh;  // another P of the chunk made it first
      }
    }
    return &ch->l[id % kChunkPs];
  }
};

namespace {

// The object in one of l's slots, taken, or null; newest first for the
// owner, oldest first for a thief.
void* take_from(local* l, bool newest_first) noexcept {
  for (size_t k = 0; k < pool_core::kPerProc; k++) {
    size_t i = newest_first ? pool_core::kPerProc - 1 - k : k;
    // relaxed: only a hint that the exchange is worth its cost.
    if (l->slot[i].load(std::memory_order_relaxed) == nullptr) continue;
    // acquire: pairs with the put's release; the object is as left.
    if (void* obj = l->slot[i].exchange(nullptr, std::memory_order_acquire)) return obj;
  }
  return nullptr;
}

p* caller_p() noexcept { return owned_p(current_m()); }

}  // namespace

pool_core::pool_core(destroy_fn destroy) : s_(new state(destroy)) {}

// Runs alone (the pool's precondition); acquire anyway, so that objects
// and chunks are seen as their last users left them whatever ordered the
// destruction after them.
pool_core::~pool_core() {
  // Goroutines may still get and put during exit (a pool at namespace
  // scope): its state goes with the process (it used to be freed under
  // them, a crash at exit in 2 to 9 runs of 10 in a review's repro).
  if (process_exiting()) return;
  for (auto& c : s_->chunks) {
    chunk* ch = c.load(std::memory_order_acquire);
    if (ch == nullptr) continue;
    for (local& l : ch->l) {
      for (auto& slot : l.slot) {
        if (void* obj = slot.exchange(nullptr, std::memory_order_acquire)) {
          race_acquire(obj);
          s_->destroy(obj);
        }
      }
    }
    delete ch;
  }
  // relaxed: written under the lock, by callers that are done.
  for (int i = 0; i < s_->nshared.load(std::memory_order_relaxed); i++) {
    race_acquire(s_->shared[i]);
    s_->destroy(s_->shared[i]);
  }
  delete s_;
}

bool pool_core::process_exiting() noexcept { return detail::process_exiting(); }

void* pool_core::get() noexcept {
  p* pp = caller_p();
  void* obj = nullptr;
  if (pp != nullptr) {
    if (local* l = s_->local_of(pp->id, false)) obj = take_from(l, true);
  }
  // relaxed hint: a put racing with this look may be missed, as if it
  // came after the get (the caller then makes a new object).
  if (obj == nullptr && s_->nshared.load(std::memory_order_relaxed) > 0) {
    lock_guard g(s_->lock);
    int n = s_->nshared.load(std::memory_order_relaxed);  // the lock orders it; atomic for the hint only
    if (n > 0) {
      obj = s_->shared[n - 1];
      s_->nshared.store(n - 1, std::memory_order_relaxed);
    }
  }
  if (obj == nullptr) {
    // Steal from the other Ps, starting after our own.
    int32_t n = sched.nallp.load(std::memory_order_acquire);  // as the scheduler reads it: Ps [0, n) exist
    int32_t start = pp != nullptr ? pp->id + 1 : 0;
    for (int32_t k = 0; k < n && obj == nullptr; k++) {
      int32_t id = (start + k) % n;
      if (pp != nullptr && id == pp->id) continue;
      if (local* l = s_->local_of(id, false)) obj = take_from(l, false);
    }
  }
  if (obj != nullptr) race_acquire(obj);
  return obj;
}

void pool_core::put(void* obj) noexcept {
  race_release(obj);  // everything the putter did to obj happens before its next get
  if (p* pp = caller_p()) {
    if (local* l = s_->local_of(pp->id, true)) {
      for (auto& slot : l->slot) {
        void* empty = nullptr;
        // relaxed load: a hint; release CAS: publishes the object's state.
        if (slot.load(std::memory_order_relaxed) == nullptr &&
            slot.compare_exchange_strong(empty, obj, std::memory_order_release, std::memory_order_relaxed))
          return;
      }
    }
  }
  {
    lock_guard g(s_->lock);
    int n = s_->nshared.load(std::memory_order_relaxed);  // the lock orders it
    if (n < static_cast<int>(kShared)) {
      s_->shared[n] = obj;
      s_->nshared.store(n + 1, std::memory_order_relaxed);
      return;
    }
  }
  s_->destroy(obj);  // full (P3): dropped, in the caller, with no lock held
}

}  // namespace goro::detail
