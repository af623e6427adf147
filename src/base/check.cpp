// fatal() and friends. See check.hpp.
//
// base/ sits below the scheduler, so the goroutine dump that fatal()
// prints is reached through a hook the scheduler installs.
#include "base/check.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace goro::detail {

void (*g_fatal_dump_hook)(int fd) = nullptr;
void (*g_fatal_capture_hook)() = nullptr;

void write_stderr(const char* s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void print_stderr(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  write_stderr(buf);
}

namespace {

struct report_call {
  void (*fn)(void*);
  void* arg;
};

// The thread running the claimed report's symbolizing (claim_dying_report).
std::atomic<pid_t> g_report_thread{0};

void* report_thread_main(void* p) {
  auto* c = static_cast<report_call*>(p);
  g_report_thread.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_seq_cst);
  c->fn(c->arg);
  return nullptr;
}

void dump_to_stderr(void*) { g_fatal_dump_hook(2); }

}  // namespace

void run_on_report_thread(void (*fn)(void*), void* arg) {
  report_call c{fn, arg};
  pthread_t t;
  if (pthread_create(&t, nullptr, report_thread_main, &c) == 0)
    pthread_join(t, nullptr);
  else
    fn(arg);
}

namespace {
std::atomic<bool> g_process_dying{false};
}  // namespace

void mark_process_dying() noexcept { g_process_dying.store(true, std::memory_order_seq_cst); }
bool process_dying() noexcept { return g_process_dying.load(std::memory_order_seq_cst); }

std::atomic<bool> g_process_exiting{false};

void note_process_exiting_at_exit() noexcept {
  (void)std::atexit([] { g_process_exiting.store(true, std::memory_order_seq_cst); });
}
bool process_exiting() noexcept { return g_process_exiting.load(std::memory_order_seq_cst); }
[[noreturn]] void wait_for_dying_report() noexcept {
  for (;;) pause();
}

namespace {
std::atomic<pid_t> g_dying_reporter{0};  // the thread that claimed the report
}  // namespace

void claim_dying_report() noexcept {
  mark_process_dying();
  auto me = static_cast<pid_t>(syscall(SYS_gettid));
  pid_t first = 0;
  if (g_dying_reporter.compare_exchange_strong(first, me, std::memory_order_seq_cst)) return;
  if (first == me || g_report_thread.load(std::memory_order_seq_cst) == me) return;
  // sleep() is async-signal-safe, and a signal (SIGPROF) only shortens
  // one round.
  for (int i = 0; i < 30; i++) sleep(1);
}

namespace {
// noinline: the dump's capture skips exactly this frame (deadlock.cpp).
[[noreturn, gnu::noinline]] void fatal_v(bool abort_process, int status, const char* fmt, va_list ap) {
  claim_dying_report();
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  write_stderr("fatal error: ");
  write_stderr(buf);
  write_stderr("\n\n");
  // The calling goroutine's stack can only be read here, on its thread.
  if (g_fatal_capture_hook != nullptr) g_fatal_capture_hook();
  if (g_fatal_dump_hook != nullptr) run_on_report_thread(dump_to_stderr, nullptr);
  if (abort_process) abort();
  _exit(status);
}
}  // namespace

void fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fatal_v(true, 0, fmt, ap);
}

void fatal_exit(int status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fatal_v(false, status, fmt, ap);
}

std::atomic<bool> g_forked_child{false};

void fatal_forked_child() {
  write_stderr(
      "fatal error: goro: runtime used in a child process after fork(); only exec is supported after fork\n"
      "\n"
      "(the child has none of the runtime's threads; call exec (or _exit) in the child, or fork before\n"
      "the runtime starts)\n");
  _exit(2);
}

}  // namespace goro::detail
