// Creating, starting and freeing goroutines (Go's newproc, gfget/gfput).
//
// g records are allocated in slabs of 256 and never returned to the OS, so
// the goroutine dump and the deadlock report can walk every g ever made
// without a lock on the spawn path (Go's allgs works the same way). Free
// g's sit in a per-P array (no lock) and a global array (stack_pool-ranked
// lock) that balances Ps that spawn against Ps that retire. Arrays rather
// than Go's linked lists: records retired on another core are cold here,
// and an array names the next ones, so gfget prefetches them instead of
// chasing one cold link per record.
//
// Goroutine ids come from a global counter in per-P batches of 16.
//
// TSan: go() happens before the goroutine starts (race_release in g_start,
// race_acquire in g_main, on the goroutine's race token, race.hpp). Reused
// memory is made new for TSan instead of ordered after its previous user:
// closures go to the heap, stacks get their shadow reset (stack.cpp).
#include <algorithm>
#include <atomic>
#include <memory>
#include <cstdlib>
#include <cstring>
#include <new>

#include "base/check.hpp"
#include "base/prefetch.hpp"
#include "base/ptr_stack.hpp"
#include "base/race.hpp"
#include "sched/sched.hpp"
#include "sched/stack.hpp"
#include "sched/labels.hpp"
#include "sched/test_hooks.hpp"
#include "sched/trace.hpp"

namespace goro::detail {

namespace {

constexpr int kSlab = 256;

}  // namespace

// Every g record, in slabs. Named outside the anonymous namespace, and
// with its slab size as a field, for debuggers: src/diag/goro-gdb.py
// walks it in a live process or a core file.
//
// Readers take no lock (for_each_g, as Go's forEachGRace): a fatal error
// raised with `lock` held must still print its goroutine dump, and a
// lock here would hang it (the dump runs on a report thread while the
// failing thread waits). So the list array is never freed: a grown array
// keeps the one it replaced in its last slot (reachable, for the leak
// checker), a reader may walk an old array, and the first `nslabs`
// entries of any array published are final. Writers hold `lock`, publish
// a new array before the count that needs it, and store the count last
// (release); readers load the count, then the array (acquire).
struct g_slabs {
  runtime_lock lock{lock_rank::allgs};
  g** slabs = nullptr;  // written under lock; read with atomic_ref
  int nslabs = 0;       // written under lock; read with atomic_ref
  int cap = 0;          // guarded by lock; slabs[cap] is the previous array
  const int per_slab = kSlab;
};
g_slabs all_g_slabs;

namespace {

g_slabs& slabs = all_g_slabs;

// Free g records move between Ps in batches of kBatchG through one global
// array (base/ptr_stack.hpp), with room reserved for every g ever made.
struct g_free_global {
  runtime_lock lock{lock_rank::stack_pool};
  ptr_stack<g> free;  // guarded by lock
  size_t made = 0;    // guarded by lock: g records in all slabs
};
g_free_global gfree_global;

constexpr int kBatchG = kGCacheMax / 2;

// A P that spawns faster than it retires (its goroutines are stolen) gets
// back records another core retired last: a cache miss on each line a
// spawn writes. Prefetching a few spawns ahead overlaps those misses.
constexpr int kPrefetchAhead = 8;

// Starts loading, for writing, the two lines a spawn writes (g.hpp: the
// run line and the closure line).
inline void prefetch_for_spawn(g* gp) {
  prefetch_for_write(gp);
  prefetch_for_write(gp->inline_closure);
}

// Returns a single g to the global pool (paths without a P).
void gfput_global(g* gp) {
  lock_guard lk(gfree_global.lock);
  gfree_global.free.push(gp);
}

// Appends a new slab to the list, growing the list array if it is full;
// throws std::bad_alloc (nothing changed) if the array cannot grow.
void publish_slab(g* slab) {
  lock_guard lk(slabs.lock);
  if (auto* hook = test_hooks::g_list_locked.load(std::memory_order_relaxed)) hook();
  if (slabs.nslabs == slabs.cap) {
    int cap = slabs.cap == 0 ? 64 : slabs.cap * 2;
    g** grown = new g*[static_cast<size_t>(cap) + 1];
    std::copy(slabs.slabs, slabs.slabs + slabs.nslabs, grown);
    grown[cap] = reinterpret_cast<g*>(slabs.slabs);  // kept: readers may still walk it
    std::atomic_ref<g**>(slabs.slabs).store(grown, std::memory_order_release);
    slabs.cap = cap;
  }
  slabs.slabs[slabs.nslabs] = slab;
  std::atomic_ref<int>(slabs.nslabs).store(slabs.nslabs + 1, std::memory_order_release);
}

g* slab_alloc() {
  std::unique_ptr<g[]> slab(new g[kSlab]);
  {
    lock_guard lk(gfree_global.lock);
    size_t want = gfree_global.made + kSlab;
    if (want > gfree_global.free.cap && !gfree_global.free.reserve(std::max(want, 2 * gfree_global.free.cap)))
      throw std::bad_alloc();
    gfree_global.made = want;
  }
  try {
    publish_slab(slab.get());
  } catch (...) {
    lock_guard lk(gfree_global.lock);
    gfree_global.made -= kSlab;
    throw;
  }
  g* gs = slab.release();
  // Keep one, put the rest on the global pool.
  lock_guard lk(gfree_global.lock);
  for (int i = kSlab - 1; i >= 1; i--) gfree_global.free.push(&gs[i]);
  return &gs[0];
}

g* gfget(p* pp) {
  if (pp != nullptr) {
    g_cache& c = pp->gcache;
    if (c.nfree == 0) {
      {
        lock_guard lk(gfree_global.lock);
        auto k = std::min(static_cast<size_t>(kBatchG), gfree_global.free.n);
        gfree_global.free.pop_n(c.free, k);
        c.nfree = static_cast<int>(k);
      }
      for (int i = std::max(0, c.nfree - kPrefetchAhead); i < c.nfree - 1; i++) prefetch_for_spawn(c.free[i]);
    }
    if (c.nfree > 0) {
      g* gp = c.free[--c.nfree];
      if (c.nfree >= kPrefetchAhead) prefetch_for_spawn(c.free[c.nfree - kPrefetchAhead]);
      return gp;
    }
  } else {
    lock_guard lk(gfree_global.lock);
    if (!gfree_global.free.empty()) return gfree_global.free.pop();
  }
  return slab_alloc();
}

void gfput(p* pp, g* gp) {
  g_cache& c = pp->gcache;
  if (c.nfree == kGCacheMax) {
    // Give the oldest half away (the newest are the hottest here).
    {
      lock_guard lk(gfree_global.lock);
      gfree_global.free.push_n(c.free, kBatchG);
    }
    move_entries(c.free, c.free + kBatchG, kGCacheMax - kBatchG);  // not memmove: base/race.hpp
    c.nfree -= kBatchG;
  }
  c.free[c.nfree++] = gp;
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
  if (gp->closure != nullptr && gp->closure != gp->inline_closure) {
    if (gp->closure_align == 0)
      record_free(gp->closure, gp->closure_size);
    else
      ::operator delete(gp->closure, std::align_val_t(gp->closure_align));
  }
  gp->closure = nullptr;
}

p* current_p() {
  m* mp = current_m();
  return owned_p(mp);
}

}  // namespace

void gcache_flush(p* pp) {
  g_cache& c = pp->gcache;
  lock_guard lk(gfree_global.lock);
  gfree_global.free.push_n(c.free, static_cast<size_t>(c.nfree));  // room: every g made (slab_alloc)
  c.nfree = 0;
}

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
  bool pooled_reserved = false;  // a pooled stack is reserved (not yet bound: stack_lo stays null)
  try {
    if (stack_size_is_pooled(want)) {
      stack_reserve(pp);
      pooled_reserved = true;
    } else {
      stack_alloc_dedicated(gp, want);
    }
    gp->stack_size = want;
    gp->closure_size = static_cast<uint32_t>(size);
    // Under TSan the closure always goes to the heap: malloc and free tell
    // TSan that the memory is new, where inline storage reused by the next
    // goroutine would need an ordering that hides real races.
    // Larger closures come from the record caches (record_cache.hpp):
    // made here, freed where the goroutine ends, often the other worker
    // (plain malloc under TSan, as said). closure_align 0 marks them.
    if (size <= kInlineClosure && align <= 16 && !kRaceBuild) {
      gp->closure = gp->inline_closure;
    } else if (align <= alignof(std::max_align_t)) {
      gp->closure = record_alloc(size);
      gp->closure_align = 0;
    } else {
      gp->closure = ::operator new(size, std::align_val_t(align));
      gp->closure_align = static_cast<uint32_t>(align);
    }
  } catch (...) {
    // Give back what was taken before the throw (the closure's allocation
    // is the last step that can fail): a dedicated stack, or the pooled
    // stack's reservation, which would otherwise count against the pool
    // forever.
    if (gp->stack_lo != nullptr) {
      stack_release(pp, gp);
    } else if (pooled_reserved) {
      stack_unreserve(pp);
    }
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

uint64_t g_start(g* gp, const closure_ops* ops, const void* created_pc) {
  gp->ops = ops;
  gp->created_pc = created_pc;
  m* mp = current_m();
  p* pp = owned_p(mp);
  g* parent = mp != nullptr ? mp->curg : nullptr;
  gp->parent_id = parent != nullptr ? parent->id : 0;
  // The creator's labels (goro/labels.hpp). A record has none left from
  // its previous life (g_main dropped them); has_labels is looked at all
  // the same, on the line this spawn writes anyway.
  label_set* inherited = parent != nullptr && parent->has_labels ? labels_ref(parent->labels) : nullptr;
  if (gp->has_labels || inherited != nullptr) labels_replace(gp, inherited);
  uint64_t id = next_goid(pp);
  gp->id = id;
  race_token_new(gp);
  race_release(race_token(gp));  // go() happens before the goroutine starts
  trace(trace_ev::go_create, id, gp->parent_id);
  // go() is a safe point (the monitor's preemption request): yield
  // before queueing the new goroutine, so that it starts where it would
  // have without the request. (It resumes holding a P; were it not to,
  // the P-less path below would be right too.)
  if (pp != nullptr && pp->preempt.load(std::memory_order_relaxed)) [[unlikely]] {
    preempt_yield(mp);
    mp = current_m();
    pp = owned_p(mp);
  }
  if (pp != nullptr) {
    pp->ngoroutines.store(pp->ngoroutines.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    g_set_status(gp, g_status::idle, g_status::runnable);
    // After the status: visible to for_each_g before it is counted
    // (goroutines_created_total). Release: a reader that sees the count
    // sees the status.
    pp->stats.spawned.store(pp->stats.spawned.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    // A full ring spills half of itself to the global queue (runq_put),
    // and the caller goes on, as Go's newproc does. (Until 2026-12-07 a
    // caller that filled its ring yielded first, so that its P ran the
    // cache-hot goroutines before it made more: `runtime/spawn` 94 -> 58 ns.
    // But a yielded goroutine waits for its P's 61st time slice, and a P
    // whose goroutines hand on to each other through runnext begins few:
    // a loop starting 1,000 goroutines that compute and send took 85-275
    // ms there, and seconds when the goroutines it had started never
    // blocked; Go's, 1 ms.)
    runq_put(pp, gp, true);
    wakep();
  } else {
    sched.ngoroutines_foreign.fetch_add(1, std::memory_order_relaxed);
    g_transition(gp, g_status::idle, g_status::runnable);
    stats_global.spawned.fetch_add(1, std::memory_order_release);  // after the status, as above
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
  // Its labels go with it (a burst of labelled goroutines would otherwise
  // keep every set until its record is reused). has_labels is on the
  // line exit touches anyway; the labels' line only when set.
  if (gp->has_labels) [[unlikely]]
    labels_replace(gp, nullptr);
  race_token_free(gp);
  m* mp = current_m();  // reread: the goroutine may have moved
  // No M only in a child forked from this goroutine (sched/fork.cpp):
  // there is no scheduler to exit to.
  if (__builtin_expect(mp == nullptr, 0)) fatal_forked_child();
  mcall_on(mp, m_action::exit, nullptr, nullptr);
  __builtin_unreachable();
}

void g_free(p* pp, g* gp) {
  gp->status.store(g_status::idle, std::memory_order_relaxed);
  gp->ctx.sp = nullptr;
  gp->ops = nullptr;
  gp->is_main = false;
  gp->by_timer = false;
  gp->reason = wait_reason::none;
  gfput(pp, gp);
}

void g_list_sizes(int* nslabs, int* cap) {
  lock_guard lk(slabs.lock);
  *nslabs = slabs.nslabs;
  *cap = slabs.cap;
}

void for_each_g(void (*fn)(g*, void*), void* arg) {
  // No lock (g_slabs says why): the count first, then an array that holds
  // at least that many. Slabs appended meanwhile are not walked; fn (a
  // dump unwinding stacks, for seconds with a million goroutines) never
  // holds up a spawn.
  int n = std::atomic_ref<int>(slabs.nslabs).load(std::memory_order_acquire);
  g** list = std::atomic_ref<g**>(slabs.slabs).load(std::memory_order_acquire);
  for (int s = 0; s < n; s++)
    for (int i = 0; i < kSlab; i++) fn(&list[s][i], arg);
}

}  // namespace goro::detail
