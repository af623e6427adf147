// G: a goroutine (or, for the parking primitive, a plain thread's waiter).
//
// Life cycle and the one state word (Go's casgstatus):
//
//   idle ──g_start──▶ runnable ──execute──▶ running ──park──▶ waiting
//                        ▲                   │  │                │
//                        └──────yield────────┘  └─exit─▶ dead     │
//                        ▲                                       │
//                        └───────────────ready───────────────────┘
//
// Every transition goes through g_transition(from, to), which aborts on an
// unexpected `from`: a goroutine readied twice or run twice is caught at
// once, not later as memory corruption. `waiting -> runnable` is the only
// transition made by a thread other than the one running the goroutine (the
// waker), which is why it is a compare-and-swap.
//
// A plain OS thread that blocks in a goro primitive uses a thread-local g
// (`is_thread`); its `status` doubles as the futex word it sleeps on.
//
// Ownership of fields:
//  - ctx, stack_*, closure: the M running the goroutine (or g0 between runs).
//  - schedlink: whoever holds the g in a queue (run queue, free list).
//  - status: atomic, see above.
//  - reason, wait_since: written by the goroutine itself before it parks,
//    read by diagnostics (racy reads are fine there, they are bytes).
//  - run_gen: bumped by the M that switches the goroutine in; read by the
//    live dump to validate its copy of the stack (sched/traceback.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "fiber/fiber.hpp"
#include "goro/detail/spawn.hpp"
#include "sched/wait_reason.hpp"

namespace goro::detail {

enum class g_status : uint32_t {
  idle = 0,      // reserved by g_reserve, not yet started, or on a free list
  runnable = 1,  // in a run queue
  running = 2,   // on an M
  waiting = 3,   // parked
  dead = 4,      // finished; about to be freed
};

const char* g_status_string(g_status s);

struct p;
struct m;
struct label_set;

// Bytes of closure storage inside the g; larger closures go to the heap.
inline constexpr size_t kInlineClosure = 48;

// How many links ahead g::schedlink_ahead points.
inline constexpr uint32_t kSchedAhead = 8;

// Layout: the spawning P writes a new goroutine and another P often runs
// it (work stealing), and the g record then goes back to a spawner through
// the free lists: each line touched on both sides is a cache miss on both
// (150-200 ns between the two cores here). So the record is line-aligned,
// everything that start, run and exit touch sits in line 0 (plus the
// closure's line 1), and the fields only the spawner writes (id, parent,
// creation site) sit in a later line that the runner reads only for
// diagnostics. (Fields that only the TSan/ASan builds add make line 0
// spill over; those builds are not tuned.)
struct alignas(64) g {
  // ---- line 0: the run path (spawn, switch in, exit, free) ----
  fiber_context ctx;
  std::atomic<g_status> status{g_status::idle};
  bool is_thread = false;         // a plain thread's waiter record
  bool is_main = false;           // the main goroutine of a run()
  wait_reason reason = wait_reason::none;
  bool stack_pooled = false;      // true: stack from the default-size pool
  union {
    // While it runs: the M running this goroutine, set by prepare_run
    // before every switch into it and read only by the goroutine itself:
    // where it resumes after a park it is the current M, without a
    // thread-local read (those must go through the non-inlined
    // current_m(), see current.cpp).
    struct m* cur_m = nullptr;
    // While it waits in the global run queue: the g kSchedAhead links
    // further on, written when a full ring spilled it there in a batch
    // (runq_put_slow), so that taking a batch back can prefetch ahead
    // instead of missing the cache at every link. Only ever prefetched:
    // a g queued another way leaves its last M here, and a useless
    // prefetch is all that costs. (Read through the union, which g++ and
    // clang define.)
    g* schedlink_ahead;
  };
  g* schedlink = nullptr;         // next in a run queue or free list
  // Stack: [stack_lo, stack_hi), guard page below stack_lo. stack_lo is null
  // until the goroutine first runs (stacks are bound lazily, see stack.hpp).
  char* stack_lo = nullptr;
  char* stack_hi = nullptr;
  // Written when it parks, read by diagnostics (the goroutine dump); here
  // rather than beside `created` so that parking, often on another core
  // than the spawn, touches no line the spawner writes.
  int64_t wait_since = 0;         // coarse nanotime() at the last park
  // Nesting depth of goro::blocking sections the goroutine is in (read at
  // every park and exit). 16 bits, for room on this line: deeper nesting
  // is a fatal error (enter_blocking).
  int16_t blocking_depth = 0;
  // Whether `labels` (line 2) is set: read at exit from this line, so that
  // a goroutine without labels (nearly all) never reads line 2 there.
  // Written by labels_replace only (the goroutine itself, or its spawner
  // before it starts).
  bool has_labels = false;
  // Started by a timer's fire (an after_func's function), not by a
  // goroutine or plain thread: the dump's "created by goro::after_func".
  // Set by the starter before g_start, cleared by g_free.
  bool by_timer = false;
  // Bumped by prepare_run each time the goroutine is switched in, before
  // it runs: the live dump's proof that a stack it copied did not run
  // meanwhile (sched/traceback.cpp, protocol there). Written only by the M
  // about to run the goroutine; relaxed, ordered by the fence beside it.
  std::atomic<uint32_t> run_gen{0};

  // ---- line 1: the goroutine's function (set by g_start, run by g_main) ----
  alignas(64) unsigned char inline_closure[kInlineClosure];
  const closure_ops* ops = nullptr;
  void* closure = nullptr;        // inline_closure or a heap block

  // ---- lines 2 and 3: written by the spawner or by diagnostics ----
  // id, parent_id and created_pc are kept across lives (g_free leaves them):
  // the next g_start overwrites them, and resetting them would pull this
  // line to the exiting core.
  uint64_t id = 0;
  uint64_t parent_id = 0;
  // Where go() (or run()) was called: a return address in the caller,
  // symbolized only by the reports that show it (describe_call_site).
  const void* created_pc = nullptr;
  size_t stack_size = 0;          // requested size (0 = default pool)
  uint32_t closure_align = 0;     // heap closure: its alignment (operator delete), or 0: from record_alloc
  // Bytes of the closure (inline or heap), for the partial-deadlock report,
  // which counts channel handles inside it as the goroutine's.
  uint32_t closure_size = 0;
  union {
    // A goroutine's labels (goro/labels.hpp, sched/labels.hpp: one
    // reference), or null; read by the dump under labels.hpp's rule, so
    // written with __atomic stores. Dropped when the goroutine exits
    // (g_main, which looks at has_labels first).
    label_set* labels = nullptr;
    // The thread-waiter's thread id (is_thread only: those have no
    // labels) for the deadlock check.
    int tid;
  };
  // The lock-order check's list of the goro locks this goroutine holds
  // (sync/lock_order.cpp; made on first use, kept by the record across
  // lives, read and written only under the detector's lock).
  void* held_locks = nullptr;
  // TSan only: a heap byte whose address is this goroutine life's
  // happens-before sync object (race.hpp). A fresh one per life, because
  // TSan accumulates every release ever made on an address and a reused g
  // would inherit its previous life's edges.
  void* race_token = nullptr;
};
#if !defined(GORO_ASAN) && !defined(GORO_TSAN)
static_assert(sizeof(g) == 192, "g changed size: check the line layout above");
#endif

#if defined(GORO_TSAN)
inline constexpr bool kRaceBuild = true;
#else
inline constexpr bool kRaceBuild = false;
#endif

// The address to use with race_release/race_acquire for "ready(gp)
// happens before gp resumes" and "go() happens before gp starts".
inline const void* race_token(const g* gp) { return gp->race_token != nullptr ? gp->race_token : gp; }
void race_token_new(g* gp);   // at go(); no-op outside TSan builds
void race_token_free(g* gp);  // at exit

// Moves gp->status from `from` to `to`, or aborts naming both. A
// compare-and-swap: for transitions another thread may race (ready).
void g_transition(g* gp, g_status from, g_status to);
[[noreturn]] void fatal_bad_wake(const g* gp, g_status cur);

// waiting -> runnable for a goroutine (not a thread) by its one waker.
// Inline, as is g_set_status: both run on every channel handoff.
inline void g_wake_transition(g* gp) {
#if defined(GORO_DEBUG_CHECKS)
  g_transition(gp, g_status::waiting, g_status::runnable);
#else
  // The park protocol (park.hpp) gives a parked goroutine exactly one
  // waker, which found it under the lock its park released: no one else
  // writes its status until it runs again, so a checked plain store does
  // what the compare-and-swap does, without a locked instruction on the
  // hot path of every channel handoff. Debug builds keep the CAS, which
  // also catches two wakers racing.
  g_status cur = gp->status.load(std::memory_order_acquire);
  if (cur != g_status::waiting) [[unlikely]] fatal_bad_wake(gp, cur);
  // release: the waker's writes happen before the goroutine runs again.
  gp->status.store(g_status::runnable, std::memory_order_release);
#endif
}

// The same for transitions only the g's owner makes (its M, or the
// spawner before g_start publishes it): a plain store, checked in debug
// builds.
inline void g_set_status(g* gp, [[maybe_unused]] g_status from, g_status to) {
#if defined(GORO_DEBUG_CHECKS)
  g_transition(gp, from, to);
#else
  // release: pairs with the acquire in a waker's compare-and-swap
  // (waiting -> runnable), which must see every write before this one.
  gp->status.store(to, std::memory_order_release);
#endif
}

}  // namespace goro::detail
