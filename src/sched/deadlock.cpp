// Deadlock detection and the goroutine dump.
//
// Go's checkdead: when the last worker goes idle (or, every 100 ms, the
// monitor sees every worker idle) while a run() main
// goroutine is blocked, and nothing can ever make progress, print
//   fatal error: all goroutines are asleep - deadlock!
// with the goroutine dump, and exit with status 2.
//
// "Nothing can make progress" means, all checked under sched.lock:
//  - every M is idle (an M inside goro::blocking is not idle);
//  - no goroutine is runnable (global queue and every local queue empty);
//  - no timer is pending (a sleeper will wake; a timer may ready someone);
//  - no I/O waiter (no poller yet);
//  - no OS thread outside the runtime can act: every thread of the process
//    is a runtime thread (an M or the monitor) or a plain thread parked in
//    a goro primitive. A plain thread doing anything else might still send
//    on a channel, so its presence means "no deadlock" (we cannot know
//    better; Go has the same blind spot with cgo callbacks and skips the
//    check there). In TSan builds TSan's own helper thread is ignored: it is
//    identified before main() runs (note_tsan_helper_threads).
//
// Lock order: called with sched.lock (rank sched) held; takes the thread
// registry lock (leaf) and the slab lock (allgs) for the dump.
#include <dirent.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/check.hpp"
#include "base/symbolize.hpp"
#include "sched/sched.hpp"

namespace goro::detail {

extern void (*g_fatal_dump_hook)(int fd);

namespace {

struct thread_registry {
  runtime_lock lock{lock_rank::leaf};
  std::vector<g*> waiters;        // thread waiter records
  std::vector<int> runtime_tids;  // Ms and the monitor
  std::vector<int> ignored_tids;  // sanitizer helpers seen at start
};
thread_registry& registry() {
  static thread_registry* r = new thread_registry();  // never destroyed: used at exit
  return *r;
}

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

bool contains(const std::vector<int>& v, int x) {
  for (int y : v)
    if (y == x) return true;
  return false;
}

// True if every thread of the process is a runtime thread, an ignored
// sanitizer thread, or a plain thread parked in goro.
bool no_foreign_thread_can_act() {
  std::vector<int> tids = list_tids();
  if (tids.empty()) return false;  // cannot tell: be conservative
  thread_registry& r = registry();
  lock_guard lk(r.lock);
  for (int tid : tids) {
    if (contains(r.runtime_tids, tid) || contains(r.ignored_tids, tid)) continue;
    bool parked = false;
    for (g* w : r.waiters) {
      if (w->tid == tid) {
        parked = w->status.load(std::memory_order_acquire) == g_status::waiting;
        break;
      }
    }
    if (!parked) {
      if (getenv("GORO_DEBUG_DEADLOCK") != nullptr) {
        char path[64], comm[32] = "?";
        snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
        if (FILE* f = fopen(path, "r")) {
          if (fgets(comm, sizeof comm, f) == nullptr) comm[0] = 0;
          fclose(f);
        }
        print_stderr("deadlock check: thread %d (%s) may act; runtime threads:", tid, comm);
        for (int t : r.runtime_tids) print_stderr(" %d", t);
        print_stderr("\n");
      }
      return false;
    }
  }
  return true;
}

void format_created(char* buf, size_t n, const g* gp) {
  const char* fn = gp->created.function_name();
  const char* file = gp->created.file_name();
  if (gp->is_main) {
    snprintf(buf, n, "created by goro::run at %s:%u in %s", file ? file : "?", gp->created.line(),
             fn ? fn : "?");
  } else if (gp->parent_id != 0) {
    snprintf(buf, n, "created by goroutine %llu at %s:%u in %s",
             static_cast<unsigned long long>(gp->parent_id), file ? file : "?", gp->created.line(), fn ? fn : "?");
  } else {
    snprintf(buf, n, "created by a plain thread at %s:%u in %s", file ? file : "?", gp->created.line(),
             fn ? fn : "?");
  }
}

void write_some(int fd, const char* s, int len, size_t cap) {
  if (len <= 0) return;
  ssize_t w = write(fd, s, std::min(static_cast<size_t>(len), cap - 1));
  (void)w;
}

struct dump_ctx {
  int fd;
  int64_t now;
};

void dump_one(g* gp, void* arg) {
  auto* ctx = static_cast<dump_ctx*>(arg);
  g_status st = gp->status.load(std::memory_order_acquire);
  if (st == g_status::idle || st == g_status::dead) return;
  char state[96];
  if (st == g_status::waiting) {
    int64_t mins = (ctx->now - gp->wait_since) / 60'000'000'000LL;
    if (mins >= 1)
      snprintf(state, sizeof state, "%s, %lld minutes", wait_reason_string(gp->reason), static_cast<long long>(mins));
    else
      snprintf(state, sizeof state, "%s", wait_reason_string(gp->reason));
  } else {
    snprintf(state, sizeof state, "%s", g_status_string(st));
  }
  char created[512];
  format_created(created, sizeof created, gp);
  char line[768];
  int len = snprintf(line, sizeof line, "goroutine %llu [%s]:\n", static_cast<unsigned long long>(gp->id), state);
  write_some(ctx->fd, line, len, sizeof line);
  // Where a suspended goroutine stands: its stack, unwound from the
  // registers its last switch saved (symbolize.hpp). A goroutine running
  // on another worker has no saved registers to start from.
  if (st != g_status::running && gp->ctx.sp != nullptr && gp->stack_lo != nullptr) {
    void* pcs[48];
    int n = fiber_stack_pcs(gp->ctx.sp, gp->stack_lo, gp->stack_hi, pcs, 48);
    if (n > 0) print_frames(ctx->fd, pcs, n);
  }
  len = snprintf(line, sizeof line, "\t%s\n\n", created);
  write_some(ctx->fd, line, len, sizeof line);
}

void dump_hook(int fd) { dump_goroutines(fd); }

}  // namespace

void dump_goroutines(int fd) {
  dump_ctx ctx{fd, sched.coarse_now.load(std::memory_order_relaxed)};
  for_each_g(dump_one, &ctx);
}

void thread_waiter_register(g* gp) {
  thread_registry& r = registry();
  lock_guard lk(r.lock);
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

void deadlock_init_ignored_threads() { g_fatal_dump_hook = dump_hook; }

#if defined(GORO_TSAN)
// TSan starts a helper thread of its own at the process's first
// pthread_create. Make that happen here, before main() and so before any
// user thread can exist, and remember every thread but this one: those are
// TSan's, never able to wake a goroutine.
__attribute__((constructor)) static void note_tsan_helper_threads() {
  pthread_t t;
  if (pthread_create(&t, nullptr, [](void*) -> void* { return nullptr; }, nullptr) != 0) return;
  pthread_join(t, nullptr);
  int self = static_cast<int>(syscall(SYS_gettid));
  std::vector<int> tids = list_tids();
  thread_registry& r = registry();
  lock_guard lk(r.lock);
  for (int tid : tids)
    if (tid != self) r.ignored_tids.push_back(tid);
}
#endif

void check_dead_locked() {
  static const bool dbg = getenv("GORO_DEBUG_DEADLOCK") != nullptr;
#define DL_FAIL(why) do { if (dbg) print_stderr("deadlock check: no (%s) nmidle=%d mcount=%d\n", why, sched.nmidle, sched.mcount); return; } while (0)
  if (sched.nrun_waiting.load(std::memory_order_acquire) == 0) DL_FAIL("no run");
  if (sched.nmidle != sched.mcount) DL_FAIL("m running");
  if (sched.runq_size.load(std::memory_order_relaxed) > 0) DL_FAIL("global runq");
  int32_t n = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++)
    if (!runq_empty(p_for_index(i))) DL_FAIL("local runq");
  if (timers_next_when() != INT64_MAX) DL_FAIL("timers");
  if (!no_foreign_thread_can_act()) DL_FAIL("foreign thread");
#undef DL_FAIL
  write_stderr("fatal error: all goroutines are asleep - deadlock!\n\n");
  dump_goroutines(2);
  _exit(2);
}

}  // namespace goro::detail
