// The scheduler's shared state: P (processor), M (worker thread) and the
// global scheduler record (Go's proc.go, runtime2.go).
//
//  - An M runs goroutines only while it holds a P. There are maxprocs Ps
//    in use at most, plus one extra per P that the monitor "detached"
//    (its M is stuck in a goroutine that runs long or sits in
//    goro::blocking, so another M gets a fresh P meanwhile).
//  - Each M's own OS stack is its scheduler stack (Go's g0): the scheduling
//    loop, park's unlock functions and timer callbacks run there.
//
// Spinning and waking (Go's protocol, proc.go "Worker thread parking/
// unparking"): an M with nothing to do becomes "spinning" (looks for work
// to steal) only while fewer than half of the busy Ps have a spinning M.
// Whoever makes work runnable calls wakep(), which starts (or wakes) one
// spinning M if there is an idle P and nobody is spinning yet. A spinning M
// that finds work stops spinning and, if it was the last spinner, calls
// wakep() again: so Ms are woken one at a time as long as there is work,
// and never in a herd. An M that stops spinning re-checks every run queue
// after it has dropped its P and its spinning count, so a wakep() that saw
// it spinning cannot be lost. Unlike Go, a spinning M takes a short queue
// only from a P that is not getting through it (worth_stealing in
// proc.cpp), and, finding only such queues, naps and looks again while
// still counted as spinning.
//
// Lock order: sched.lock ranks `sched` (base/lock.hpp): it may be taken
// while holding a channel or timer lock, and nothing of lower rank may be
// taken under it.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "base/futex.hpp"
#include "base/lock.hpp"
#include "base/prefetch.hpp"
#include "fiber/fiber.hpp"
#include "sched/g.hpp"
#include "sched/park.hpp"
#include "sched/record_cache.hpp"
#include "sched/runq.hpp"
#include "sched/stats.hpp"
#include "time/timer.hpp"

namespace goro::detail {

inline constexpr int kMaxP = 1024;

enum class p_status : uint32_t { idle = 0, running = 1 };

// Free g records a P keeps for its own spawns (sched/spawn.cpp).
inline constexpr int kGCacheMax = 64;
// Free default-size stacks a P keeps (sched/stack.cpp).
inline constexpr int kStackCacheMax = 64;

// Per-P cache of free g records and stack reservations (sched/spawn.cpp).
struct g_cache {
  g* free[kGCacheMax] = {};  // free[0, nfree), newest last
  int nfree = 0;
  int64_t stack_credits = 0;  // stacks reserved for this P's spawns
  uint64_t next_id = 0, end_id = 0;  // batch of goroutine ids
};

struct p {
  int32_t id = 0;
  std::atomic<p_status> status{p_status::idle};
  m* owner = nullptr;        // guarded by sched.lock for idle Ps; else the owner
  p* link = nullptr;         // idle list, guarded by sched.lock

  runq q;

  // Incremented by the owner at every goroutine switch / blocking section;
  // sysmon samples them to see a goroutine that runs or blocks for long.
  // (Own cache line: written per switch by the owner, so it must not share
  // a line with what other workers read on their hot paths.)
  alignas(64) std::atomic<uint64_t> schedtick{0};  // 64 bits: also stats()'s switch count, which must not wrap
  std::atomic<uint32_t> syscalltick{0};
  // Time slices begun on this P (Go's schedtick): a goroutine taken from
  // runnext continues the slice of the one that readied it (Go's
  // inheritTime), so a ping-pong pair shares one slice, which the monitor
  // ends after 10 ms when others wait, as it ends a computing goroutine's.
  std::atomic<uint32_t> slicetick{0};
  // Owner only: slices begun since this P last took a goroutine that
  // yielded (its yield list or the global yield queue, sched_t::yieldq);
  // at 61 it takes one before its own work.
  uint32_t slices_since_yieldq = 0;
  // Set by the monitor when the running slice has held the P for 10 ms
  // while others wait (Go's preempt flag); the goroutine yields at its next
  // safe point (preempt_check). The next slice clears it (a goroutine
  // taken from runnext inherits the request with the slice). Relaxed both
  // ways: a late look only delays the yield.
  std::atomic<bool> preempt{false};
  // The owner M while its goroutine sits in goro::blocking, else null.
  // The monitor takes the P from that M by a compare-and-swap to null (Go's
  // retake of a P in _Psyscall); the M reclaims it at the section's end by
  // the same CAS, and if that fails its P is gone (blocking.cpp). The
  // value names the M, not just a flag, so a P retaken and later held in a
  // blocking section by another M cannot be reclaimed by the first.
  std::atomic<m*> blocking_m{nullptr};
  std::atomic<bool> detached{false};     // sysmon granted a replacement P (computing goroutine)

  // Goroutines started minus ended on this P (any P may end a goroutine
  // another started, so one P's value may be negative; the sum is right).
  std::atomic<int64_t> ngoroutines{0};
  // Event counters: written by the owner, read by goro::debug::stats()
  // (stats.hpp). Their own lines: nothing else reads them on a hot path.
  alignas(64) p_stats stats;

  timer_heap timers;
  // Earliest deadline (timer.hpp); read by every worker that looks for
  // work, so on its own line.
  alignas(64) std::atomic<int64_t> timer0_when{INT64_MAX};


  // Owner only from here on; the stack and g caches are also emptied
  // under sched.lock as the P goes idle over the budget (p_caches_flush).
  alignas(64) g_cache gcache;
  record_cache records{};      // small runtime records (record_cache.hpp), owner only
  // Free timer record slots (time/rec_slab.cpp), newest last; owner only.
  void* timer_slots[32] = {};
  int ntimer_slots = 0;
  void* stack_cache[kStackCacheMax] = {};  // free default-size stack tops, newest last (stack.cpp)
  int nstack_cache = 0;

  uint64_t rand_state = 0;  // per-P PRNG (steal order)

  // wait_group::done()'s memo (sync/wait_group.cpp): the wait_group this P
  // last counted down in a shard, and that shard, so that done() does not
  // read the wait_group's own cache line, which often shares a line with
  // its owner's busy stack frame. Written by the owner; a destroyed
  // wait_group clears its key here (CAS, from any thread).
  std::atomic<const void*> wg_memo_key{nullptr};
  void* wg_memo_shard = nullptr;

  // sysmon's private bookkeeping.
  uint32_t sysmon_tick = 0;
  uint32_t sysmon_head = 0;
  g* sysmon_next = nullptr;
  int64_t sysmon_when = 0;
  uint32_t sysmon_syscalltick = 0;
  int64_t sysmon_syscallwhen = 0;
  // A blocking section the monitor is watching with its shortest rounds
  // (sysmon.cpp, retake), how many watched sections in a row ended before
  // the next round, and when that count last started over.
  bool sysmon_watching = false;
  uint8_t sysmon_short_sections = 0;
  int64_t sysmon_short_since = 0;
  uint32_t sysmon_slicetick = 0;
  int64_t sysmon_slicewhen = 0;
};

// What a goroutine asks its M's scheduler stack to do after switching to it
// (Go's mcall): park it, requeue it, or free it.
// yield: goro::yield(), to its P's yield list (runq.hpp); preempted: a
// goroutine the monitor asked to give its P up (a slice held 10 ms while
// others waited, a detached or over-budget P), to the global yield queue,
// where any P takes it; requeue: to the global queue as any readied
// goroutine (back from a blocking section with no P free).
enum class m_action : uint8_t { none, park, yield, preempted, requeue, exit };

struct eh_globals_view;

struct m {
  int32_t id = 0;
  pthread_t thread{};
  int tid = 0;
  fiber_context g0;           // the M's own stack, where the scheduler runs
  g* curg = nullptr;          // goroutine running on this M, if any
  p* pp = nullptr;            // P held, if any
  p* nextp = nullptr;         // P handed over by startm (guarded by sched.lock)
  bool spinning = false;
  bool idle = false;          // on sched.midle (guarded by sched.lock)
  m* link = nullptr;          // idle list, guarded by sched.lock
  note park_note;             // sleeps here when idle
  // Idle in netpoll() (epoll_wait) instead of on park_note, as the timed
  // sleeper while goroutines wait for fds (stop_m). Guarded by
  // sched.lock: whoever wakes this M reads it there and, if set, also
  // calls netpoll_break().
  bool polling = false;

  m_action action = m_action::none;
  unlock_fn unlock = nullptr;
  void* unlock_arg = nullptr;
  // The goroutine that last switched away on this M, whose `action` the
  // next code to run on this M (g0 in execute(), or the goroutine it
  // switched to directly, in mcall() or g_main()) must complete.
  g* switched_out = nullptr;

  void* altstack = nullptr;   // sigaltstack for the overflow handler
  // This thread's C++ exception state (sched/eh_state.hpp), set at start.
  eh_globals_view* eh = nullptr;
  // find_runnable's linger (proc.cpp): when this M's nap-and-look beside
  // switching Ps ends (0: not lingering), and the other Ps' switch counts
  // at its last look.
  int64_t linger_until = 0;
  uint64_t others_ticks = 0;
};

struct sched_t {
  runtime_lock lock{lock_rank::sched};

  // Global run queue (guarded by lock; size readable without it). runq_size
  // counts the yield queue's goroutines too, so that "any global work" is
  // one load.
  g* runq_head = nullptr;
  g* runq_tail = nullptr;
  std::atomic<int32_t> runq_size{0};
  // The yield queue: goroutines that were preempted, that yielded with no
  // P (inside goro::blocking), or that a P's yield list held when the P
  // gave its work up (Go puts them on its global queue, which a busy P
  // looks at every 61st slice; goro::yield() on a P goes to the P's own
  // yield list, runq.hpp).
  // Here the global queue is looked at every 61st switch, which would give
  // a computing goroutine its P back after 61 switches of a ping-pong pair,
  // for another 10 ms (a review measured the pair at 2,069 round trips a
  // second beside one, Go's at 2.4 million): so yielded goroutines wait
  // here, taken when a P has nothing else, at every 61st slice, or after
  // the monitor ends a slice that held the P for 10 ms while they wait.
  g* yieldq_head = nullptr;
  g* yieldq_tail = nullptr;
  std::atomic<int32_t> yieldq_size{0};

  // Ps. allp[0..nallp) are every P ever made; they are never freed.
  std::atomic<p*> allp[kMaxP] = {};
  std::atomic<int32_t> nallp{0};
  p* pidle = nullptr;                  // guarded by lock
  std::atomic<int32_t> npidle{0};
  int32_t npactive = 0;                // Ps held by Ms; guarded by lock
  std::atomic<int32_t> maxprocs{1};
  std::atomic<int32_t> ndetached{0};

  // Ms.
  m* midle = nullptr;                  // guarded by lock
  int32_t nmidle = 0;                  // guarded by lock
  int32_t mcount = 0;                  // Ms alive; guarded by lock
  int32_t mnext = 0;                   // next M id; guarded by lock
  m* mfree = nullptr;                  // records of retired Ms, for reuse; guarded by lock
  std::atomic<int32_t> max_threads{10000};  // Ms allowed (goro::set_max_threads)
  // Bumped whenever an M leaves the idle list or a new M is made: the
  // deadlock check's proof that no goroutine ran between two looks
  // (sched/deadlock.cpp). Guarded by lock.
  uint64_t mwake_gen = 0;
  // Set by an M going idle when every M is idle and nothing is runnable:
  // asks the monitor to finish the deadlock check (sched/deadlock.cpp).
  std::atomic<bool> dead_check_wanted{false};
  std::atomic<int32_t> nmspinning{0};
  // Ms that went idle (stop_m) and idle Ms handed a P, for stats();
  // guarded by lock.
  uint64_t m_parks = 0;
  uint64_t m_wakes = 0;
  m* timed_sleeper = nullptr;          // idle M sleeping until the next timer
  std::atomic<int64_t> timed_sleep_until{INT64_MAX};

  // Goroutines started from plain threads minus those ended there.
  std::atomic<int64_t> ngoroutines_foreign{0};
  std::atomic<uint64_t> goid_gen{0};
  std::atomic<int32_t> nrun_waiting{0};  // run() calls whose main goroutine has not returned

  // Coarse clock updated by sysmon, for cheap wait-since stamps, and read
  // at goroutine switches on Ps with timers (direct_successor): a line of
  // its own, away from goid_gen, which every go() writes.
  alignas(64) std::atomic<int64_t> coarse_now{0};
  char coarse_now_pad_[64 - sizeof(std::atomic<int64_t>)] = {};  // initialized: sched stays constant-initialized
  // Set once runtime_init() is done; cleared again in a forked child
  // (sched/fork.cpp), so that the child's entries take the slow path.
  std::atomic<bool> started{false};
};

extern sched_t sched;

// Appends the chain first..last, linked through schedlink, to the list
// head..tail (the global queues, a P's yield list).
inline void append_chain(g*& head, g*& tail, g* first, g* last) {
  last->schedlink = nullptr;
  if (tail != nullptr)
    tail->schedlink = first;
  else
    head = first;
  tail = last;
}

// The ring alone (not runnext) is empty. Owner only.
inline bool runq_empty_ring(const p* pp) {
  return pp->q.head.load(std::memory_order_acquire) == pp->q.tail.load(std::memory_order_relaxed);
}

// ---- the running context (sched/current.cpp) --------------------------
// (owned_p, below, after current_m.)
// current_m() rereads the thread pointer on every call, so code that
// resumes on another thread after a switch sees the new M. Never cache its
// result across a park, yield or goroutine switch.
//
// A compiler may keep a thread-local's address in a register across an
// opaque call (DESIGN.md section 6), so the M is never read through a C++
// thread_local: on x86-64 it is read by an asm statement the compiler
// cannot merge or hoist (volatile, with a memory clobber that also keeps it
// in order with the switch's calls), two instructions inline instead of a
// call; elsewhere by a function that is never inlined. The variable is
// initial-exec TLS, so this also works from a shared library loaded at
// startup.
#if defined(__x86_64__)
inline m* current_m() {
  m* mp;
  asm volatile(
      "movq goro_tls_current_m@gottpoff(%%rip), %0\n\t"
      "movq %%fs:(%0), %0"
      : "=r"(mp)
      :
      : "memory");
  return mp;
}
#else
m* current_m();
#endif
void set_current_m(m* mp);
}  // namespace goro::detail

extern "C" {
extern __attribute__((tls_model("initial-exec"))) __thread goro::detail::g* goro_tls_current_g;
}

namespace goro::detail {
// What goro/detail/current_g.hpp reads: kept next to m::curg by
// prepare_run and execute (proc.cpp), the only writers of curg. Inline:
// it runs on every switch.
inline void set_current_g(g* gp) { goro_tls_current_g = gp; }

// The P that code running on mp may use as its own (push to its run
// queue, its caches, its timers): null on a plain thread, and inside a
// goro::blocking section, whose P the monitor may take away at any moment
// (the goroutine then uses the P-less paths: the global run queue, P 0's
// timers).
inline p* owned_p(m* mp) {
  if (mp == nullptr) return nullptr;
  g* gp = mp->curg;
  if (gp != nullptr && gp->blocking_depth > 0) return nullptr;
  return mp->pp;
}

// owned_p(current_m())'s id, or -1 (current.cpp; declared for users in
// goro/detail/read_domain.hpp).
int32_t current_p_id() noexcept;

// Cooperative preemption: called where a goroutine holds no lock and may
// switch (the end of channel operations, go(), goro::preempt_point()).
// Yields if the monitor asked the running goroutine to (p::preempt).
void preempt_yield(m* mp);
inline void preempt_check() {
  m* mp = current_m();
  if (mp == nullptr) return;
  p* pp = mp->pp;
  if (pp != nullptr && pp->preempt.load(std::memory_order_relaxed)) [[unlikely]]
    preempt_yield(mp);
}

// ---- runtime start (sched/proc.cpp, sched/fork.cpp) ---------------------
void runtime_init();  // idempotent; starts sysmon
// ensure_runtime()'s slow path (sched/fork.cpp): fails in a child forked
// after the runtime started (whose fork handler clears sched.started, so
// every entry through ensure_runtime() comes here), registers that
// handler, then runtime_init().
void runtime_start();
// Called by every entry that may need the runtime's threads (go, run,
// timers, maxprocs): one acquire load once the runtime is up.
inline void ensure_runtime() {
  if (!sched.started.load(std::memory_order_acquire)) runtime_start();
}

// ---- scheduling (sched/proc.cpp) ---------------------------------------
void wakep();
// Whether wakep() may find a P to start (a relaxed read: a hint, to skip
// wakep()'s store-load barrier when every P is held, as when a thief naps
// beside a ping-pong pair). A P freed at the same instant can be missed;
// the monitor's retake then hands the work off (sysmon.cpp).
bool wakep_may_help();
// Puts gp on the global run queue (lock held by caller).
void globrunq_put_locked(g* gp);
void globrunq_put_batch_locked(g* head, g* tail, int32_t n);
// Appends n goroutines linked through schedlink to the global yield queue
// (lock held by caller).
void yieldq_put_batch_locked(g* head, g* tail, int32_t n);
// Puts gp on the global queue and wakes a worker for it.
void globrunq_put(g* gp);
// Queues n runnable goroutines linked through schedlink (the poller's
// list): on the caller's P if it owns one, else on the global queue; then
// wakes a worker (Go's injectglist).
void inject_glist(g* head, int32_t n);
// Switches away from the running goroutine and has `action` performed on
// it once its context is saved: by the M's scheduler stack (Go's mcall),
// or, when the P's own run queue says who runs next, by that goroutine,
// switched to directly. Returns when the goroutine runs again (maybe on
// another M).
void mcall(m_action action, unlock_fn unlock, void* arg);
// The same, for a caller that has just read current_m() (mp must be it).
void mcall_on(m* mp, m_action action, unlock_fn unlock, void* arg);
// Completes the action of the goroutine that switched to the caller (see
// m::switched_out). First thing a goroutine does when it resumes; mp is
// the current M (the resumed goroutine's g::cur_m).
void finish_switch(m* mp);
// The integer in environment variable `name`, if it is one from 1 to max;
// else `fallback` (a bad value is reported on stderr once read).
int env_int(const char* name, int fallback, int max);
// Grant an extra P for the queued work of a P whose goroutine computes
// without a scheduling point (sysmon.cpp).
void handoff_detached(p* pp);
// The monitor took pp from an M inside goro::blocking (blocking_m CAS):
// give it to an M if there is work, else make it idle.
void handoff_taken(p* pp);
// An M whose P was taken while its goroutine sat in goro::blocking gets a
// P back: an idle one if the budget allows, else the goroutine waits in
// the global queue and the M sleeps until handed one (Go's exitsyscall).
void reacquire_p(m* mp);
// Inside mcall_on for a goroutine that parks, yields or exits inside a
// blocking section: reclaim the P (blocking_m CAS) or, if the monitor took
// it, drop it (mp->pp = null).
void blocking_pause(m* mp);
void blocking_resume(m* mp);
p* p_for_index(int32_t i);
int32_t p_active_count();  // Ps held by Ms (sched.npactive), without the lock
// Whether an idle worker should take goroutines from victim's short run
// queue rather than leave them to its P (a look of up to 5 us: proc.cpp).
// Any thread; exposed for the tests.
bool worth_stealing(p* victim);
int32_t allowed_p();       // Ps that may be held: maxprocs plus the monitor's grants (detached Ps)
// Whether a worker could take an idle P now: one is idle and the budget
// has room. Ps beyond a lowered maxprocs, or left by an ended grant, sit
// idle but may not be taken, so an idle count alone says nothing.
inline bool idle_p_takeable() {
  return sched.npidle.load(std::memory_order_relaxed) > 0 && p_active_count() < allowed_p();
}
// Empties pp's caches of free g records (to the global pool; spawn.cpp)
// and of stacks and stack credits (stack.cpp stack_cache_flush): a P
// over the maxprocs budget, which may stay idle for good. Under
// sched.lock: as pp goes idle over the budget (pidleput_locked), or while
// it is idle (set_maxprocs lowering the budget).
void gcache_flush(p* pp);
void p_caches_flush(p* pp);
// For tests: the stacks and g records cached by idle Ps (under sched.lock).
struct idle_p_caches {
  int64_t stacks = 0;
  int64_t gs = 0;
};
idle_p_caches idle_p_cached();
uint64_t fastrand(uint64_t* state);

// ---- goroutine records and stacks (sched/spawn.cpp, sched/stack.cpp) ----
void g_free(p* pp, g* gp);                // after exit, on g0
void g_main(void* arg);                   // first frame of every goroutine

// ---- monitor and deadlock (sched/sysmon.cpp, sched/deadlock.cpp) -------
// Starts a background thread of the runtime (monitor, scavenger): detached,
// with the given stack; returns once thread_main has registered itself as
// a runtime thread and woken the note it gets as its argument. `what`
// names it in the fatal error if it cannot be started.
void start_runtime_thread(void* (*thread_main)(void* started_note), size_t stack_bytes, const char* what);
void sysmon_start();
// Starts the stack scavenger's thread (scavenger.cpp).
void scavenger_start();
// Called under sched.lock when an M goes idle: if every M is idle and
// nothing is runnable, asks the monitor to run the deadlock check.
void check_dead_locked();
// The deadlock check's expensive part, run by the monitor with no lock
// held (sched/deadlock.cpp). May end the process with the deadlock report.
void deadlock_monitor_check(int64_t now);
// Plain threads readied (ready() of a thread waiter), bumped before the
// futex wake, seq_cst: the deadlock check's thread listing reads each
// thread's status one at a time, and a thread woken by another plain
// thread between two of those reads changes no runtime state; an
// unchanged count across the listing proves that none was.
extern std::atomic<uint64_t> g_thread_readies;
// (The goroutine dump itself: sched/traceback.hpp.)
// Every g ever allocated, for the dump: calls fn on each (spawn.cpp),
// holding no lock while fn runs (the records are never freed).
void for_each_g(void (*fn)(g*, void*), void* arg);
// How many slabs of g records exist and how many the list has room for
// (tests: spawn_test.cpp makes the list's growth fail).
void g_list_sizes(int* nslabs, int* cap);
void thread_waiter_register(g* gp);   // thread waiters, for the deadlock check
void thread_waiter_unregister(g* gp);
void runtime_thread_register(int tid);  // Ms and the monitor
void runtime_thread_unregister(int tid);  // an M that retires
// A runtime thread that may wake goroutines for now (goro-signal while a
// signal is registered): the deadlock check counts it as able to act, but
// the grace warning does not name it (it is not the user's to declare).
void runtime_thread_may_act(int tid, bool may_act);
void deadlock_init_ignored_threads();   // at start: sanitizer helper threads

// ---- panics and signals (sched/crash.cpp) -------------------------------
void crash_handlers_install();
// The monitor's check for a SIGQUIT received: prints the dump and exits
// with status 2 if one was (crash.cpp).
void sigquit_poll();
// Installs the runtime's SIGQUIT handler (the goroutine dump) if SIGQUIT
// has its default action: at the runtime's start, and when the signal
// relay puts back a default it saved before the runtime started.
void crash_sigquit_install_if_default();
void m_signal_stack_init(m* mp);
void m_signal_stack_free(m* mp);  // on the M's own thread, before it exits

// A goroutine that slept long has a cold stack: the switch into it pops its
// saved registers and it returns through the frames of its park, a TLB miss
// and a cache miss or more each. Start loading them when it is readied,
// while it waits in the run queue. Four lines cover a sleep's frames (216
// bytes) and most of a channel receive's (360). 100,000 goroutines sleeping
// 10 ms, alternating runs, 3 x 3 repetitions each: one line 88-119 ms on
// one worker and 56-77 on two; four lines 47-74 and 38-62; six or eight
// lines no better than four. The g record's line 1 (the closure, read and
// cleared when the goroutine exits, often right after such a wake-up) too:
// 4 x 3 more alternating runs on two workers, last repetition 37-42 ->
// 35-39 ms. `lines`: the stack lines from the saved sp (see runq.cpp for
// where eight pay).
inline void prefetch_resume_frames(const g* gp, int lines = 4) {
  // An atomic read: a thief may be switching gp in or out meanwhile (a
  // prefetch of the wrong lines is harmless).
  auto sp = reinterpret_cast<uintptr_t>(__atomic_load_n(&gp->ctx.sp, __ATOMIC_RELAXED));
  // Null until the goroutine first switches out (g_free): one that never
  // ran has no frames, and its closure line is the spawner's, still warm.
  if (sp == 0) return;
  for (int i = 0; i < lines; i++) prefetch_for_write(reinterpret_cast<const void*>(sp + 64 * static_cast<uintptr_t>(i)));
  prefetch_for_write(reinterpret_cast<const char*>(gp) + 64);
}

}  // namespace goro::detail
