// The running context: which M this thread is, which goroutine it runs.
//
// The thread-local `goro_tls_current_m` is read only through current_m()
// (sched.hpp), which rereads it from the thread pointer on every call: a
// goroutine may park on one OS thread and resume on another, and a
// compiler is free to keep a thread-local's address in a register across
// an opaque call (DESIGN.md section 6; silk docs/tls.md).
#include "base/check.hpp"
#include "sched/sched.hpp"

#include <sys/syscall.h>
#include <unistd.h>

// Plain C-linkage TLS (no C++ thread_local wrapper), initial-exec so that
// current_m()'s asm can name it.
extern "C" {
__attribute__((tls_model("initial-exec"))) __thread goro::detail::m* goro_tls_current_m = nullptr;
// The running goroutine's g, or null (goro/detail/current_g.hpp reads it
// inline in user code): written only by set_current_g, next to mp->curg.
__attribute__((visibility("default"), tls_model("initial-exec"))) __thread goro::detail::g* goro_tls_current_g = nullptr;
}

#if defined(GORO_TSAN)
namespace {
// Released by each worker as it starts (tsan_thread_started), acquired by
// every fiber that lands on it: TSan then sees the thread's TLS set-up
// (its imitated writes at thread start, errno's among them) happen before
// the goroutines it runs. Workers start without their creator's history
// (newm, proc.cpp), so the edge orders nothing else.
__thread char tsan_thread_start_token;
}  // namespace
#endif

namespace goro::detail {

#if defined(GORO_TSAN)
void tsan_thread_started() { race_release(&tsan_thread_start_token); }
// Not inline: the thread-local's address must be computed after the switch
// that may have moved the caller to another thread.
[[gnu::noinline]] void tsan_order_after_thread_start() { race_acquire(&tsan_thread_start_token); }
#endif

namespace {

// A plain thread's waiter record, made on its first block.
struct thread_waiter {
  g rec;
  thread_waiter() {
    rec.is_thread = true;
    rec.status.store(g_status::running, std::memory_order_relaxed);
    rec.tid = static_cast<int>(syscall(SYS_gettid));
    thread_waiter_register(&rec);
  }
  // In a forked child the registry is the parent's, and its lock may have
  // been held by a thread that is gone: a child that exits without using
  // goro must not wait for it (sched/fork.cpp).
  ~thread_waiter() {
    if (!in_forked_child()) thread_waiter_unregister(&rec);
  }
};
}  // namespace

#if !defined(__x86_64__)
__attribute__((noinline)) m* current_m() {
  asm volatile("" ::: "memory");
  return goro_tls_current_m;
}
#endif

__attribute__((noinline)) void set_current_m(m* mp) { goro_tls_current_m = mp; }

#if !defined(__x86_64__)
__attribute__((noinline)) uintptr_t current_g_token() noexcept {
  asm volatile("" ::: "memory");
  return reinterpret_cast<uintptr_t>(goro_tls_current_g);
}
#endif

__attribute__((noinline)) static g* thread_waiter_get() {
  thread_local thread_waiter w;
  return &w.rec;
}

g* current_waiter() {
  m* mp = current_m();
  if (mp != nullptr && mp->curg != nullptr) return mp->curg;
  GORO_CHECK(mp == nullptr);  // a worker's scheduler stack never blocks
  // A plain thread about to block: in a forked child nothing could wake it.
  check_not_forked_child();
  return thread_waiter_get();
}

bool in_goroutine() {
  m* mp = current_m();
  return mp != nullptr && mp->curg != nullptr;
}

// For per-P caches and counters in sync types (goro/detail/read_domain.hpp).
int32_t current_p_id() noexcept {
  p* pp = owned_p(current_m());
  return pp != nullptr ? pp->id : -1;
}

uint64_t waiter_id(const g* w) { return w->is_thread ? 0 : w->id; }

}  // namespace goro::detail
