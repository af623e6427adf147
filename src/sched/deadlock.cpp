// Deadlock detection and the goroutine dump.
//
// Go's checkdead: when every goroutine is asleep while a run() main
// goroutine is blocked, and nothing can ever wake one, print
//   fatal error: all goroutines are asleep - deadlock!
// with the goroutine dump, and exit with status 2.
//
// "Nothing can wake one" means:
//  (a) every M is idle (an M inside goro::blocking is not idle);
//  (b) no goroutine is runnable (global queue and every local queue empty);
//  (c) no timer is pending that may wake a goroutine (a sleeper will wake;
//      a timer's function may ready someone; a channel timer only if a
//      goroutine or thread is blocked receiving on its channel: Go 1.23,
//      where an unread timer or ticker is not even on a heap, so that an
//      unread ticker beside a deadlock does not hide it);
//      no goroutine waits in IO wait (netpoll_waiters(): it waits on the
//      world outside, as Go's checkdead does not count a goroutine whose M
//      polls; the idle M polls for it, netpoll/netpoll.hpp);
//  (d) no OS thread outside the runtime can act: every thread of the process
//      is a runtime thread (an M or the monitor), a plain thread parked in a
//      goro primitive, a thread declared unable to wake anyone
//      (goro::ignore_thread_in_deadlock_check), or TSan's helper thread
//      (noted before main: note_tsan_helper_threads). Any other plain thread
//      might still send on a channel, so its presence means "no deadlock"
//      (we cannot know better; Go has the same blind spot with cgo callbacks
//      and skips the check there).
//
// (a)-(c) are cheap reads of what sched.lock guards. (d) lists
// /proc/self/task, 10-70 us: done under sched.lock, it held up every sender
// and wakep() meanwhile, and done at every idle transition it cost a
// listing per message when a std::thread fed a goroutine (issue 15: 1,955
// listings for 2,000 messages). So the check is split (protocol):
//
//  1. An M going idle (stop_m, sched.lock held) evaluates (a)-(c); if they
//     hold it raises sched.dead_check_wanted for the monitor. Nothing else.
//  2. The monitor (sysmon.cpp: it naps 20 us to 10 ms) runs the check when
//     it is wanted, and every 100 ms while a run() waits (a plain thread
//     that parks last makes no idle transition); but it lists threads at
//     most once per kDeadlockScanIntervalNs (100 ms):
//       T0, under sched.lock: (a)-(c) hold, except that pending timers
//           are only noted; gen0 = sched.mwake_gen.
//       T1, no lock held: list the threads and check (d); if it holds
//           and timers were pending, walk them: do any wake someone?
//       T2, under sched.lock: (a)-(c) hold (timers pending at T0 as the
//           walk found them), mwake_gen == gen0 and no thread was readied
//           since the listing began (g_thread_readies): report and exit,
//           still holding the lock.
//  3. Why (d), seen at T1, still holds at T2. mwake_gen is bumped under
//     sched.lock whenever an M leaves the idle list or a new M is made, so
//     an unchanged gen means no goroutine ran at any time in [T0, T2]; a
//     goroutine readied meanwhile would have left a queue non-empty or
//     woken an M (wakep), either seen at T2. At T1 every plain thread was
//     parked in goro, declared, or the runtime's; a parked one is woken
//     only by a goroutine (none ran), a timer (none that wakes anyone is
//     pending at T2, and only a running thread could have set one) or a
//     plain thread that is neither parked nor declared (there was none).
//     The walk comes after the listing: a thread running during a walk
//     made first could add a timer and park on its channel before the
//     listing read it, and the walk would not have seen that timer. A thread made after T1
//     was made by a thread that could act: an M (a new M bumps the gen) or
//     a declared thread, which promises to start none that could wake
//     anyone (runtime.hpp).
//     T1 is a span, not an instant: the statuses are read one at a time,
//     and a plain thread seen parked could be readied by one not yet seen,
//     which then parks before it is seen, touching no runtime state (found
//     by a review, 2026-12-06). So T1 reads g_thread_readies (bumped by
//     every ready() of a thread) before and after the statuses: unchanged,
//     no thread was woken while they were read, so every thread seen
//     parked was still parked at the end of the span. And it lists the
//     threads again: one not listed at first was started during the span
//     by a thread that could act then.
//
// So the report comes within the monitor's nap (at most 10 ms) of the last
// goroutine blocking, or within 100 ms if threads were listed just before
// or a plain thread parked last. A std::thread feeding a goroutine costs
// one listing per 100 ms, made with no runtime lock held
// (tests/sched/deadlock_test.cpp counts them: sched/deadlock_stats.hpp).
//
// Grace warning: when (a)-(c) have held with mwake_gen unchanged (every
// goroutine asleep) for $GORO_DEADLOCK_GRACE_MS (10 s; 0 turns it off) and
// only plain threads kept (d) from holding, the monitor prints once which
// threads they are (id and name) and how to declare them; no exit. A
// runtime thread that may act (goro-signal while a signal is registered:
// runtime_thread_may_act) keeps (d) from holding too, but is not named and
// alone brings no warning: waiting for a signal is what such a program
// means to do.
//
// Who touches what: the thread registry (its own lock, rank leaf) is written
// by threads registering (Ms, the monitor, thread waiters) or declaring
// themselves, and read by the listing; monitor_state is the monitor's
// alone; the stats are relaxed counters, read by tests after the fact.
//
// Lock order: sched.lock (sched) is never held while listing threads; the
// registry lock (leaf) is taken alone; the report is written under
// sched.lock; the dump walks the g list without a lock. The dump itself
// (sched/traceback.cpp) is shared with fatal errors, SIGQUIT and
// goro::debug::dump.
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/check.hpp"
#include "base/symbolize.hpp"
#include "goro/runtime.hpp"
#include "netpoll/netpoll.hpp"
#include "sched/deadlock_stats.hpp"
#include "sched/sched.hpp"
#include "sched/test_hooks.hpp"
#include "sched/traceback.hpp"

namespace goro::detail {

extern void (*g_fatal_dump_hook)(int fd);
extern void (*g_fatal_capture_hook)();

std::atomic<uint64_t> g_thread_readies{0};

namespace test_hooks {
std::atomic<void (*)(int, bool)> deadlock_scan_saw_thread{nullptr};
}

namespace {

// A thread declared unable to wake anyone. `self`: declared by itself, and
// undeclared by its own exit (self_declaration). Else declared by id, and
// counted only while the thread with that id is the one that was declared:
// same start time (field 22 of its stat file, in clock ticks since boot).
struct declared_thread {
  int tid;
  bool self;
  uint64_t start_time;
};

struct thread_registry {
  runtime_lock lock{lock_rank::leaf};
  std::vector<g*> waiters;                // thread waiter records
  std::vector<int> runtime_tids;          // Ms and the monitor
  std::vector<int> acting_tids;           // runtime threads that may act now (runtime_thread_may_act)
  std::vector<int> ignored_tids;          // sanitizer helpers seen at start
  std::vector<declared_thread> declared;  // ignore_thread_in_deadlock_check
};
thread_registry& registry() {
  static thread_registry* r = new thread_registry();  // never destroyed: used at exit
  return *r;
}

std::atomic<uint64_t> g_scans{0};         // relaxed: counters read after the fact
std::atomic<uint64_t> g_scans_locked{0};  // relaxed: as g_scans
std::atomic<uint64_t> g_looks{0};         // relaxed: as g_scans

std::vector<int> list_tids() {
  std::vector<int> tids;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return tids;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    tids.push_back(atoi(e->d_name));
  }
  closedir(d);
  return tids;
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Reads /proc/self/task/<tid>/<file> into buf (NUL-terminated); the length,
// or 0 if this process has no such thread.
size_t read_task_file(int tid, const char* file, char* buf, size_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/%s", tid, file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return static_cast<size_t>(n);
}

// When the thread started (field 22 of its stat file); 0 if there is no
// such thread in this process.
uint64_t thread_start_time(int tid) {
  char buf[1024];
  if (read_task_file(tid, "stat", buf, sizeof buf) == 0) return 0;
  // The name (field 2) may hold spaces and parentheses: fields 3 on follow
  // its last ')'.
  const char* p = strrchr(buf, ')');
  if (p == nullptr) return 0;
  for (int field = 3; field <= 22; field++) {  // then p is the space before `field`
    p = strchr(p + 1, ' ');
    if (p == nullptr) return 0;
  }
  return strtoull(p + 1, nullptr, 10);
}

// The thread's name (its comm), or "?".
void thread_name(int tid, char* buf, size_t cap) {
  size_t n = read_task_file(tid, "comm", buf, cap);
  if (n == 0) {
    snprintf(buf, cap, "?");
    return;
  }
  if (buf[n - 1] == '\n') buf[n - 1] = '\0';
}

constexpr int kMaxNamed = 16;

// What a listing found: the plain threads that may still act, neither
// parked in goro nor declared.
struct scan_result {
  bool quiet = false;  // (d) holds
  uint64_t readies_before = 0;  // g_thread_readies when the listing began
  bool runtime_may_act = false;  // a runtime thread may act (not named in the warning)
  int nactive = 0;
  int active[kMaxNamed] = {};  // the first ones

  void note_active(int tid) {
    if (nactive < kMaxNamed) active[nactive] = tid;
    nactive++;
  }
};

bool parked_in_goro_locked(const thread_registry& r, int tid) {
  for (g* w : r.waiters)
    if (w->tid == tid) return w->status.load(std::memory_order_seq_cst) == g_status::waiting;
  return false;
}

// Lists the process's threads and checks (d). Never called holding
// sched.lock (protocol, step 2).
scan_result scan_threads() {
  scan_result res;
  g_scans.fetch_add(1, std::memory_order_relaxed);
#if defined(GORO_DEBUG_CHECKS)
  if (sched.lock.held_by_this_thread()) g_scans_locked.fetch_add(1, std::memory_order_relaxed);
#endif
  std::vector<int> tids = list_tids();
  if (tids.empty()) return res;  // cannot tell: be conservative
  std::vector<declared_thread> by_id;  // declared by id: is each still that thread?
  std::vector<declared_thread> unlisted;  // declared by id, not listed: gone?
  thread_registry& r = registry();
  auto* saw_thread = test_hooks::deadlock_scan_saw_thread.load(std::memory_order_relaxed);
  // The statuses below are read one at a time, not at one instant: a plain
  // thread seen parked may be readied by one not yet seen, which then
  // parks before it is seen; neither touches runtime state (step 3's
  // proof). Such a wake-up moves g_thread_readies, read around the loop.
  const uint64_t readies0 = g_thread_readies.load(std::memory_order_seq_cst);
  res.readies_before = readies0;
  {
    lock_guard lk(r.lock);
    for (const declared_thread& d : r.declared)
      if (!d.self && !contains(tids, d.tid)) unlisted.push_back(d);
    for (int tid : tids) {
      if (contains(r.acting_tids, tid)) {
        res.runtime_may_act = true;
        continue;
      }
      if (contains(r.runtime_tids, tid) || contains(r.ignored_tids, tid)) continue;
      auto d = std::find_if(r.declared.begin(), r.declared.end(),
                            [tid](const declared_thread& x) { return x.tid == tid; });
      if (d != r.declared.end()) {
        if (!d->self) by_id.push_back(*d);
        continue;
      }
      bool parked = parked_in_goro_locked(r, tid);
      if (saw_thread != nullptr) saw_thread(tid, parked);
      if (!parked) res.note_active(tid);
    }
  }
  bool thread_woken = g_thread_readies.load(std::memory_order_seq_cst) != readies0;
  // A thread started while the statuses were read, by a thread then seen
  // parked: not in the listing, it may act.
  bool thread_started = false;
  if (!thread_woken && res.nactive == 0) {
    for (int tid : list_tids())
      if (!contains(tids, tid)) thread_started = true;
  }
  // Drops the declaration d of a thread that has exited.
  auto forget = [&r](const declared_thread& d) {
    lock_guard lk(r.lock);
    std::erase_if(r.declared, [&d](const declared_thread& x) {
      return x.tid == d.tid && !x.self && x.start_time == d.start_time;
    });
  };
  // Outside the registry lock, which threads take to register.
  for (const declared_thread& d : by_id) {
    if (thread_start_time(d.tid) == d.start_time) continue;
    // That thread has exited; the id may be another's now.
    res.note_active(d.tid);
    forget(d);
  }
  // Declarations of threads that have exited (and whose id nobody took):
  // dropped, so that declaring threads that come and go keeps nothing.
  // (One started after the listing has its start time: kept.)
  for (const declared_thread& d : unlisted)
    if (thread_start_time(d.tid) != d.start_time) forget(d);
  res.quiet = res.nactive == 0 && !res.runtime_may_act && !thread_woken && !thread_started;
  return res;
}

// A fatal error's caller: captured on its thread by capture_hook, dumped
// on the report thread by dump_hook. One report per process (the report's
// claim, base/check.hpp), so one static record.
dump_caller g_fatal_caller;

// Skips capture_hook and fatal_v: the innermost frame shown is fatal() or
// fatal_exit(), then the code that called it (Go's starts at its throw).
// noinline, and no tail call: its frame is one of the two skipped.
[[gnu::noinline]] void capture_hook() {
  capture_dump_caller(&g_fatal_caller, 2);
  asm volatile("");
}

void dump_hook(int fd) { dump_goroutines(fd, traceback_level::all, 0, &g_fatal_caller); }

bool debug_deadlock() {
  static const bool dbg = getenv("GORO_DEBUG_DEADLOCK") != nullptr;
  return dbg;
}

// Why (a)-(c) do not hold, or nullptr if they do. sched.lock held. With
// timers_asleep, pending timers were found unable to wake anyone
// (timers_may_wake, at T1) and do not count.
const char* why_not_dead_locked(bool timers_asleep = false) {
  if (sched.nrun_waiting.load(std::memory_order_acquire) == 0) return "no run";
  if (sched.nmidle != sched.mcount) return "m running";
  if (sched.runq_size.load(std::memory_order_relaxed) > 0) return "global runq";
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++)
    if (!runq_empty(p_for_index(i))) return "local runq";
  if (netpoll_waiters() > 0) return "io wait";
  if (!timers_asleep && timers_next_when() != INT64_MAX) return "timers";
  return nullptr;
}

[[noreturn]] void report_deadlock_locked() {
  write_stderr("fatal error: all goroutines are asleep - deadlock!\n\n");
  dump_goroutines(2);
  _exit(2);
}

// $GORO_DEADLOCK_GRACE_MS in ns (default 10 s); -1 for "0", no warning.
int64_t grace_ns() {
  const char* v = getenv("GORO_DEADLOCK_GRACE_MS");
  if (v != nullptr && strcmp(v, "0") == 0) return -1;
  return int64_t{env_int("GORO_DEADLOCK_GRACE_MS", 10'000, 86'400'000)} * 1'000'000;
}

// The grace warning, written with one write(2): the threads that kept the
// check from concluding, and how to declare them.
void warn_undeclared_threads(const scan_result& res, int64_t asleep_ns) {
  char buf[4096];
  size_t len = 0;
  auto add = [&](const char* fmt, auto... args) {
    if (len >= sizeof buf) return;
    int n = snprintf(buf + len, sizeof buf - len, fmt, args...);
    if (n > 0) len = std::min(sizeof buf - 1, len + static_cast<size_t>(n));
  };
  add("goro: all goroutines have been asleep for %.1f s, but these threads could still wake one, so no "
      "deadlock is reported:\n",
      static_cast<double>(asleep_ns) / 1e9);
  for (int i = 0; i < std::min(res.nactive, kMaxNamed); i++) {
    char name[64];
    thread_name(res.active[i], name, sizeof name);
    add("\tthread %d (%s)\n", res.active[i], name);
  }
  if (res.nactive > kMaxNamed) add("\tand %d more\n", res.nactive - kMaxNamed);
  add("%s",
      "If a thread never wakes goroutines, declare it: goro::ignore_thread_in_deadlock_check() in it, or "
      "with its id from another thread (goro/runtime.hpp); a deadlock is then reported.\n"
      "GORO_DEADLOCK_GRACE_MS sets this delay in milliseconds (0: no warning); this warning comes once.\n");
  ssize_t w = write(2, buf, len);
  (void)w;
}

// The monitor's own bookkeeping (monitor thread only).
struct monitor_state {
  int64_t last_look = INT64_MIN / 2;  // last check of (a)-(c) by the monitor
  int64_t last_scan = INT64_MIN / 2;  // last listing
  // Since when (a)-(c) have held with this gen, and only plain threads
  // kept (d) from holding; -1: not so at the last look.
  int64_t asleep_since = -1;
  uint64_t asleep_gen = 0;
  bool warned = false;
  // The gen and g_thread_readies at the quiet listing after which
  // timers_may_wake last found a live timer (gen ~0: none).
  uint64_t timers_live_gen = ~uint64_t{0};
  uint64_t timers_live_readies = 0;
};

// A thread's declaration of itself, dropped when it exits.
struct self_declaration {
  int tid = 0;
  ~self_declaration() {
    // In a forked child the registry is the parent's, and its lock may be
    // held for good by a thread fork() left behind: the runtime's locks end
    // a forked child that takes them, so a child's exit() did (test
    // Fork.ChildOfADeclaredThreadExitsWhileTheRegistryIsHeld).
    if (tid == 0 || in_forked_child()) return;
    thread_registry& r = registry();
    lock_guard lk(r.lock);
    std::erase_if(r.declared, [this](const declared_thread& x) { return x.self && x.tid == tid; });
  }
};
thread_local self_declaration t_self_declaration;

int current_tid() { return static_cast<int>(syscall(SYS_gettid)); }

}  // namespace

void thread_waiter_register(g* gp) {
  thread_registry& r = registry();
  lock_guard lk(r.lock);
  if (auto hook = test_hooks::thread_waiter_registering.load(std::memory_order_relaxed)) hook();
  r.waiters.push_back(gp);
}

void thread_waiter_unregister(g* gp) {
  thread_registry& r = registry();
  lock_guard lk(r.lock);
  for (size_t i = 0; i < r.waiters.size(); i++) {
    if (r.waiters[i] == gp) {
      r.waiters[i] = r.waiters.back();
      r.waiters.pop_back();
      return;
    }
  }
}

void runtime_thread_register(int tid) {
  thread_registry& r = registry();
  lock_guard lk(r.lock);
  r.runtime_tids.push_back(tid);
}

void runtime_thread_may_act(int tid, bool may_act) {
  thread_registry& r = registry();
  lock_guard lk(r.lock);
  std::erase(r.acting_tids, tid);
  if (may_act) r.acting_tids.push_back(tid);
}

void runtime_thread_unregister(int tid) {
  // A retired M's tid may be reused by a user thread, which must not pass
  // for a runtime thread.
  thread_registry& r = registry();
  lock_guard lk(r.lock);
  for (size_t i = 0; i < r.runtime_tids.size(); i++) {
    if (r.runtime_tids[i] == tid) {
      r.runtime_tids[i] = r.runtime_tids.back();
      r.runtime_tids.pop_back();
      return;
    }
  }
}

void deadlock_init_ignored_threads() {
  g_fatal_capture_hook = capture_hook;
  g_fatal_dump_hook = dump_hook;
}

#if defined(GORO_TSAN)
// TSan starts a helper thread of its own at the process's first
// pthread_create. Make that happen here, before main() and so before any
// user thread can exist, and remember every thread but this one: those are
// TSan's, never able to wake a goroutine.
__attribute__((constructor)) static void note_tsan_helper_threads() {
  pthread_t t;
  if (pthread_create(&t, nullptr, [](void*) -> void* { return nullptr; }, nullptr) != 0) return;
  pthread_join(t, nullptr);
  int self = current_tid();
  std::vector<int> tids = list_tids();
  thread_registry& r = registry();
  lock_guard lk(r.lock);
  for (int tid : tids)
    if (tid != self) r.ignored_tids.push_back(tid);
}
#endif

// Protocol step 1. Only a hint for the monitor, which checks everything
// again under sched.lock: relaxed.
void check_dead_locked() {
  if (why_not_dead_locked() == nullptr) sched.dead_check_wanted.store(true, std::memory_order_relaxed);
}

// Protocol step 2, and the grace warning.
void deadlock_monitor_check(int64_t now) {
  static monitor_state st;
  static const int64_t grace = grace_ns();
  if (sched.nrun_waiting.load(std::memory_order_relaxed) == 0) {
    st.asleep_since = -1;
    return;
  }
  bool wanted = sched.dead_check_wanted.load(std::memory_order_relaxed);
  if (!wanted && now - st.last_look < kDeadlockScanIntervalNs) return;
  if (now - st.last_scan < kDeadlockScanIntervalNs) return;  // stays wanted
  st.last_look = now;
  g_looks.fetch_add(1, std::memory_order_relaxed);
  // A stopped timer may still have its (zombie) entry on a heap
  // (time/timer.hpp): drop them all first, or they would count as pending
  // timers below until their deadlines.
  timers_reap_all(true);
  uint64_t gen0;
  bool timers_pending;
  {
    lock_guard lk(sched.lock);
    sched.dead_check_wanted.store(false, std::memory_order_relaxed);
    // (Pending timers are looked at below, with no lock held.)
    if (const char* why = why_not_dead_locked(true)) {
      if (debug_deadlock()) print_stderr("deadlock check: no (%s)\n", why);
      st.asleep_since = -1;
      return;
    }
    gen0 = sched.mwake_gen;
    timers_pending = timers_next_when() != INT64_MAX;
  }
  // (c), the timers: pending ones may all be channel timers nobody
  // receives from, which wake nobody (Go 1.23). Walking the heaps takes
  // their locks, so it is done with no lock held, and only after a quiet
  // listing: a plain thread that runs while the timers are walked can add
  // a timer and park on its channel before the listing reads it, parked
  // (found by a review: a thread looping on goro::after(1ms).recv() was
  // reported deadlocked in 4 of 6 runs). A walk that found a live timer
  // stands while nothing could act since the quiet listing before it: no
  // M woke (the gen: no goroutine ran, no timer fired) and no plain thread
  // was readied (g_thread_readies: every thread parked then is parked
  // still, so none added or deleted a timer). A walk made while some
  // thread could act is never reused: that thread may stop the live timer
  // (a thread's stop of a 1 h after_func left the cached verdict standing
  // over a real deadlock for the hour).
  if (timers_pending && st.timers_live_gen == gen0 &&
      st.timers_live_readies == g_thread_readies.load(std::memory_order_seq_cst)) {
    if (debug_deadlock()) print_stderr("deadlock check: no (timers)\n");
    st.asleep_since = -1;
    return;
  }
  st.last_scan = now;
  scan_result res = scan_threads();
  if (res.quiet) {
    if (timers_pending && timers_may_wake()) {
      st.timers_live_gen = gen0;
      st.timers_live_readies = res.readies_before;
      if (debug_deadlock()) print_stderr("deadlock check: no (timers)\n");
      st.asleep_since = -1;
      return;
    }
    sched.lock.lock();
    // A timer pending now that was not at T0 was added by a goroutine (it
    // ran: the gen) or a thread (it ran: it was readied, or was not parked
    // at the listing); the ones seen pending after the listing wake nobody.
    if (why_not_dead_locked(timers_pending) == nullptr && sched.mwake_gen == gen0 &&
        g_thread_readies.load(std::memory_order_seq_cst) == res.readies_before)
      report_deadlock_locked();
    sched.lock.unlock();
    if (debug_deadlock()) print_stderr("deadlock check: no (a worker or a thread woke while threads were listed)\n");
    st.asleep_since = -1;
    return;
  }
  if (debug_deadlock()) {
    for (int i = 0; i < std::min(res.nactive, kMaxNamed); i++) {
      char name[64];
      thread_name(res.active[i], name, sizeof name);
      print_stderr("deadlock check: no (thread %d (%s) may act)\n", res.active[i], name);
    }
  }
  if (st.asleep_since < 0 || st.asleep_gen != gen0) {
    st.asleep_since = now;
    st.asleep_gen = gen0;
  } else if (!st.warned && grace >= 0 && now - st.asleep_since >= grace && res.nactive > 0) {
    // Every goroutine asleep for the grace period, and only plain threads
    // can wake them: unless a timer will (walked only now, once per grace
    // period, since threads that may act keep the walk from standing).
    if (timers_pending && timers_may_wake()) {
      st.asleep_since = -1;
      return;
    }
    st.warned = true;
    warn_undeclared_threads(res, now - st.asleep_since);
  }
}

deadlock_stats deadlock_stats_read() {
  deadlock_stats s;
  s.scans = g_scans.load(std::memory_order_relaxed);
  s.scans_holding_sched_lock = g_scans_locked.load(std::memory_order_relaxed);
  s.looks = g_looks.load(std::memory_order_relaxed);
  s.runs_waiting = sched.nrun_waiting.load(std::memory_order_relaxed);
  {
    thread_registry& r = registry();
    lock_guard lk(r.lock);
    s.declared_threads = r.declared.size();
  }
#if defined(GORO_DEBUG_CHECKS)
  s.lock_tracked = true;
#endif
  return s;
}

}  // namespace goro::detail

namespace goro {

void ignore_thread_in_deadlock_check() {
  if (detail::in_goroutine()) return;  // its thread is a worker: the runtime's own
  detail::self_declaration& me = detail::t_self_declaration;
  if (me.tid != 0) return;
  me.tid = detail::current_tid();
  detail::thread_registry& r = detail::registry();
  detail::lock_guard lk(r.lock);
  r.declared.push_back({me.tid, true, 0});
}

bool ignore_thread_in_deadlock_check(int tid) {
  if (tid <= 0) return false;
  if (tid == detail::current_tid() && !detail::in_goroutine()) {
    ignore_thread_in_deadlock_check();
    return true;
  }
  uint64_t start = detail::thread_start_time(tid);
  if (start == 0) return false;
  detail::thread_registry& r = detail::registry();
  detail::lock_guard lk(r.lock);
  // One entry per id: declaring the same thread again adds nothing, and a
  // newer thread with a dead one's id replaces its entry.
  for (detail::declared_thread& d : r.declared) {
    if (d.tid == tid && !d.self) {
      d.start_time = start;
      return true;
    }
  }
  r.declared.push_back({tid, false, start});
  return true;
}

}  // namespace goro
