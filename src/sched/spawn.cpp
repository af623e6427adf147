// Creating, starting and freeing goroutines (Go's newproc, gfget/gfput).
//
// g records are allocated in slabs of 256 and never returned to the OS, so
// the goroutine dump and the deadlock report can walk every g ever made
// without a lock on the spawn path (Go's allgs works the same way). Free
// g's sit on a per-P list (no lock) and a global list (stack_pool-ranked
// lock) that balances Ps that spawn against Ps that retire.
//
// Goroutine ids come from a global counter in per-P batches of 16.
//
// TSan: go() happens before the goroutine starts (race_release in g_start,
// race_acquire in g_main, on the goroutine's race token, race.hpp). Reused
// memory is made new for TSan instead of ordered after its previous user:
// closures go to the heap, stacks get their shadow reset (stack.cpp).
#include <algorithm>
#include <cstdlib>
#include <new>

#include "base/check.hpp"
#include "base/race.hpp"
#include "sched/sched.hpp"
#include "sched/stack.hpp"

namespace goro::detail {

namespace {

constexpr int kSlab = 256;
constexpr int kLocalFreeMax = 64;

struct g_slabs {
  runtime_lock lock{lock_rank::allgs};
  g** slabs = nullptr;  // guarded by lock
  int nslabs = 0, cap = 0;
};
g_slabs slabs;

// Free g records move between Ps in batches: a batch is a schedlink chain
// whose head holds its length (batch_n) and the next batch (batchlink).
// Handing over a whole batch is O(1) under the lock; walking a chain of
// records last written by another core would take a cache miss per record
// while holding it.
struct g_free_global {
  runtime_lock lock{lock_rank::stack_pool};
  g* batches = nullptr;  // guarded by lock
};
g_free_global gfree_global;

constexpr int kBatchG = kLocalFreeMax / 2;

void push_batch_locked(g* head, int n) {
  head->batch_n = n;
  head->batchlink = gfree_global.batches;
  gfree_global.batches = head;
}

g* pop_batch_locked(int* n) {
  g* head = gfree_global.batches;
  if (head != nullptr) {
    gfree_global.batches = head->batchlink;
    head->batchlink = nullptr;
    *n = head->batch_n;
  }
  return head;
}

// Returns a single g to the global pool (paths without a P).
void gfput_global(g* gp) {
  gp->schedlink = nullptr;
  lock_guard lk(gfree_global.lock);
  push_batch_locked(gp, 1);
}

g* slab_alloc() {
  g* slab = new g[kSlab];
  {
    lock_guard lk(slabs.lock);
    if (slabs.nslabs == slabs.cap) {
      int cap = slabs.cap == 0 ? 64 : slabs.cap * 2;
      auto** grown = static_cast<g**>(realloc(slabs.slabs, sizeof(g*) * static_cast<size_t>(cap)));
      GORO_CHECK(grown != nullptr);
      slabs.slabs = grown;
      slabs.cap = cap;
    }
    slabs.slabs[slabs.nslabs++] = slab;
  }
  // Keep one, put the rest on the global pool in batches.
  for (int i = 1; i < kSlab; i++) slab[i].schedlink = (i + 1 < kSlab) ? &slab[i + 1] : nullptr;
  lock_guard lk(gfree_global.lock);
  for (int start = 1; start < kSlab; start += kBatchG) {
    int n = std::min(kBatchG, kSlab - start);
    slab[start + n - 1].schedlink = nullptr;
    push_batch_locked(&slab[start], n);
  }
  return &slab[0];
}

g* gfget(p* pp) {
  if (pp != nullptr) {
    if (pp->gcache.free == nullptr) {
      int n = 0;
      g* batch;
      {
        lock_guard lk(gfree_global.lock);
        batch = pop_batch_locked(&n);
      }
      pp->gcache.free = batch;
      pp->gcache.nfree = batch != nullptr ? n : 0;
    }
    if (g* gp = pp->gcache.free) {
      pp->gcache.free = gp->schedlink;
      pp->gcache.nfree--;
      return gp;
    }
  } else {
    lock_guard lk(gfree_global.lock);
    int n = 0;
    if (g* gp = pop_batch_locked(&n)) {
      if (g* rest = gp->schedlink) push_batch_locked(rest, n - 1);
      return gp;
    }
  }
  return slab_alloc();
}

void gfput(p* pp, g* gp) {
  gp->schedlink = pp->gcache.free;
  pp->gcache.free = gp;
  if (++pp->gcache.nfree > kLocalFreeMax) {
    // Keep the most recently freed (hottest here), give the oldest kBatchG
    // away as one batch.
    g* last_kept = pp->gcache.free;
    for (int i = 1; i < pp->gcache.nfree - kBatchG; i++) last_kept = last_kept->schedlink;
    g* batch = last_kept->schedlink;
    last_kept->schedlink = nullptr;
    pp->gcache.nfree -= kBatchG;
    lock_guard lk(gfree_global.lock);
    push_batch_locked(batch, kBatchG);
  }
}

uint64_t next_goid(p* pp) {
  if (pp == nullptr) return sched.goid_gen.fetch_add(1, std::memory_order_relaxed) + 1;
  if (pp->gcache.next_id == pp->gcache.end_id) {
    constexpr uint64_t kBatch = 16;
    uint64_t start = sched.goid_gen.fetch_add(kBatch, std::memory_order_relaxed) + 1;
    pp->gcache.next_id = start;
    pp->gcache.end_id = start + kBatch;
  }
  return pp->gcache.next_id++;
}

void free_closure(g* gp) {
  if (gp->closure != nullptr && gp->closure != gp->inline_closure)
    ::operator delete(gp->closure, std::align_val_t(gp->closure_align));
  gp->closure = nullptr;
}

p* current_p() {
  m* mp = current_m();
  return mp != nullptr ? mp->pp : nullptr;
}

}  // namespace

void race_token_new([[maybe_unused]] g* gp) {
#if defined(GORO_TSAN)
  gp->race_token = ::malloc(1);
#endif
}

void race_token_free([[maybe_unused]] g* gp) {
#if defined(GORO_TSAN)
  ::free(gp->race_token);  // free() also drops TSan's sync state for it
  gp->race_token = nullptr;
#endif
}

g* g_reserve(std::size_t size, std::size_t align, std::size_t stack_size, void** storage) {
  ensure_runtime();
  p* pp = current_p();
  g* gp = gfget(pp);
  GORO_DCHECK(gp->status.load(std::memory_order_relaxed) == g_status::idle);
  size_t want = stack_size != 0 ? stack_round(stack_size) : stack_default_size();
  try {
    if (stack_size_is_pooled(want)) {
      stack_reserve(pp);
    } else {
      stack_alloc_dedicated(gp, want);
    }
    gp->stack_size = want;
    // Under TSan the closure always goes to the heap: malloc and free tell
    // TSan that the memory is new, where inline storage reused by the next
    // goroutine would need an ordering that hides real races.
    if (size <= kInlineClosure && align <= 16 && !kRaceBuild) {
      gp->closure = gp->inline_closure;
    } else {
      gp->closure = ::operator new(size, std::align_val_t(align));
      gp->closure_align = align;
    }
  } catch (...) {
    if (gp->stack_lo != nullptr) stack_release(pp, gp);
    pp = current_p();
    if (pp != nullptr)
      gfput(pp, gp);
    else
      gfput_global(gp);
    throw;
  }
  *storage = gp->closure;
  return gp;
}

void g_unreserve(g* gp) noexcept {
  p* pp = current_p();
  free_closure(gp);
  if (gp->stack_lo != nullptr) {
    // A dedicated stack (pooled ones are bound only at first run).
    stack_release(pp, gp);
  } else {
    stack_unreserve(pp);
  }
  if (pp != nullptr)
    gfput(pp, gp);
  else
    gfput_global(gp);
}

uint64_t g_start(g* gp, const closure_ops* ops, const goro::source_location& loc) {
  gp->ops = ops;
  gp->created = loc;
  m* mp = current_m();
  p* pp = mp != nullptr ? mp->pp : nullptr;
  gp->parent_id = (mp != nullptr && mp->curg != nullptr) ? mp->curg->id : 0;
  if (gp->id == 0) gp->id = next_goid(pp);
  uint64_t id = gp->id;
  race_token_new(gp);
  race_release(race_token(gp));  // go() happens before the goroutine starts
  if (pp != nullptr) {
    pp->ngoroutines.store(pp->ngoroutines.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    g_set_status(gp, g_status::idle, g_status::runnable);
    runq_put(pp, gp, true);
    wakep();
    // Backpressure: a goroutine that has filled its P's run queue lets the
    // queued goroutines run before it makes more. Without it a spawning
    // loop outruns the other workers, spills batches to the global queue
    // and leaves a backlog of cold g records; with it the P runs its own
    // (cache-hot) goroutines while the others steal.
    if (mp->curg != nullptr && runq_len(pp) >= kRunqSize - 1) mcall_on(mp, m_action::yield, nullptr, nullptr);
  } else {
    sched.ngoroutines_foreign.fetch_add(1, std::memory_order_relaxed);
    g_transition(gp, g_status::idle, g_status::runnable);
    globrunq_put(gp);
  }
  return id;
}

void g_main(void* arg) {
  g* gp = static_cast<g*>(arg);
  fiber_entered();
  finish_switch(gp->cur_m);  // the goroutine that switched here directly, if any
  race_acquire(race_token(gp));  // go() happens before this goroutine starts
  // No try/catch here, on purpose: an exception escaping the goroutine's
  // function finds no handler (goro_fiber_start ends the unwind), so
  // std::terminate runs on the intact stack and crash.cpp prints Go's
  // panic report with the frames of the throw.
  gp->ops->invoke(gp->closure);
  gp->ops->destroy(gp->closure);
  free_closure(gp);
  race_token_free(gp);
  mcall(m_action::exit, nullptr, nullptr);
  __builtin_unreachable();
}

void g_free(p* pp, g* gp) {
  gp->status.store(g_status::idle, std::memory_order_relaxed);
  gp->ctx.sp = nullptr;
  gp->ops = nullptr;
  gp->id = 0;
  gp->parent_id = 0;
  gp->is_main = false;
  gp->reason = wait_reason::none;
  gfput(pp, gp);
}

void for_each_g(void (*fn)(g*, void*), void* arg) {
  lock_guard lk(slabs.lock);
  for (int s = 0; s < slabs.nslabs; s++)
    for (int i = 0; i < kSlab; i++) fn(&slabs.slabs[s][i], arg);
}

}  // namespace goro::detail
