// signal_notify_context (Go's signal.NotifyContext): contexts cancelled by
// the arrival of a signal.
//
// How a signal gets to the contexts: while any context is registered for
// a signal, the runtime's handler is installed for it; the handler writes
// the signal's number into a pipe (write(2) is async-signal-safe) and
// returns. A runtime thread, goro-signal, reads the pipe and cancels every
// context registered for that signal, outside the handler, where taking
// locks and readying goroutines is allowed.
//
// Rejected design: blocking the signals and taking them with sigwait (or a
// signalfd) in one thread. That needs the signals blocked in every thread
// of the process, and goro does not start them all: main and the user's
// std::threads would still take the default action. A handler catches the
// signal whichever thread the kernel picks. (goro's own threads need no
// change: the handler is short and runs on whatever stack it lands on,
// or the alternate stack, as Go's does with SA_ONSTACK.)
//
// Default action: the registry counts registrations per signal. The first
// installs the handler and saves the action that was there (usually
// SIG_DFL); when the count returns to 0 (stop() of the last context, or its
// last handle dropped) the saved action is put back, so a second Ctrl-C
// after stop() ends the program, as in Go. Until stop(), a signal that
// already cancelled its context is taken again (and does nothing), as in
// Go, where the registration lasts until stop.
//
// Deadlock detection: goro-signal can ready goroutines (a signal cancels a
// context whose done() they wait on), so while a registration exists it
// counts as a thread that may act: the deadlock detector must not report
// `main` blocked on ctx.done() as a deadlock, as Go does not. With no
// registration it is a runtime thread, ignored by the detector. The switch
// is made under the registry lock.
//
// Invariants:
//  S1. count[s] == the number of registrations whose mask has s; the
//      handler is installed for s iff count[s] > 0.
//  S2. A registration is in `regs` iff its node's `sig` points to it; the
//      node is alive while it is there (the node's destruction unregisters
//      it first).
//
// Lock order: the registry lock ranks `context`; it is never held with a
// context node's lock (signal_unregister runs with none held, the
// dispatcher cancels after releasing it); under it only the deadlock
// detector's thread registry (leaf) is taken.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "base/check.hpp"
#include "base/futex.hpp"
#include "context/context.hpp"
#include "sched/sched.hpp"

namespace goro::detail {

struct signal_reg {
  cancel_node* n;
  uint64_t mask;  // bit s-1 for signal s
};

namespace {

constexpr int kMaxSig = 64;

struct registry {
  runtime_lock lock{lock_rank::context};
  std::vector<signal_reg*> regs;       // guarded by lock
  int count[kMaxSig + 1] = {};         // guarded by lock
  struct sigaction saved[kMaxSig + 1];  // guarded by lock; valid while count > 0
  int tid = 0;                         // goro-signal's thread id, 0 before it starts; guarded by lock
};

registry& reg() {
  static registry* r = new registry;  // never freed: the handler may outlive statics
  return *r;
}

// The pipe: [0] read by goro-signal, [1] written by the handler
// (non-blocking: a full pipe drops the signal, as a pending signal that
// arrives again is merged by the kernel too). Set once, before any handler
// is installed.
int g_pipe[2] = {-1, -1};

// One byte per signal number, for the handler to write: constant data, not
// a byte on the handler's stack. That stack is the worker's alternate signal
// stack, mapped by the worker thread, while the handler may run on a
// goroutine's TSan fiber, which TSan does not order after that mapping: it
// reported write(2)'s read of a stack byte as a race.
constexpr auto kSignalBytes = [] {
  std::array<unsigned char, kMaxSig + 1> b{};
  for (int i = 0; i <= kMaxSig; i++) b[static_cast<size_t>(i)] = static_cast<unsigned char>(i);
  return b;
}();

void on_signal(int sig) {
  if (sig < 0 || sig > kMaxSig) return;
  int saved = errno;
  [[maybe_unused]] ssize_t w = write(g_pipe[1], &kSignalBytes[static_cast<size_t>(sig)], 1);
  errno = saved;
}

// Called with r.lock held, after `regs` changed size from or to 0.
void set_thread_may_act(registry& r, bool may_act) {
  if (r.tid == 0) return;
  if (may_act) {
    runtime_thread_unregister(r.tid);
  } else {
    runtime_thread_register(r.tid);
  }
}

void dispatch(int sig) {
  std::vector<cancel_node*> hit;
  {
    registry& r = reg();
    lock_guard lk(r.lock);
    for (signal_reg* s : r.regs) {
      if ((s->mask >> (sig - 1) & 1) != 0 && ctx_try_retain(s->n)) hit.push_back(s->n);
    }
  }
  for (cancel_node* n : hit) {
    ctx_cancel_tree(n, static_cast<int>(errc::canceled), make_error_code(errc::canceled), true);
    ctx_release(n);
  }
}

void* signal_main(void* started) {
  prctl(PR_SET_NAME, "goro-signal", 0, 0, 0);
  {
    registry& r = reg();
    lock_guard lk(r.lock);
    r.tid = static_cast<int>(syscall(SYS_gettid));
    if (r.regs.empty()) set_thread_may_act(r, false);  // all stopped before it started
  }
  static_cast<note*>(started)->wake();
  for (;;) {
    unsigned char b;
    ssize_t got = read(g_pipe[0], &b, 1);
    if (got == 1) {
      dispatch(b);
    } else if (got < 0 && errno != EINTR) {
      fatal("runtime: goro-signal: read: %s", strerror(errno));
    }
  }
  return nullptr;
}

}  // namespace

void signal_unregister(cancel_node* n) noexcept {
  registry& r = reg();
  lock_guard lk(r.lock);
  // Under the lock: exchange, so that two callers do not both free it.
  cancel_extras* x = extras(n);
  if (x == nullptr) return;
  signal_reg* s = x->sig.exchange(nullptr, std::memory_order_acq_rel);
  if (s == nullptr) return;
  for (size_t i = 0; i < r.regs.size(); i++) {
    if (r.regs[i] == s) {
      r.regs[i] = r.regs.back();
      r.regs.pop_back();
      break;
    }
  }
  for (int sig = 1; sig <= kMaxSig; sig++) {
    if ((s->mask >> (sig - 1) & 1) == 0) continue;
    if (--r.count[sig] == 0) sigaction(sig, &r.saved[sig], nullptr);
  }
  if (r.regs.empty()) set_thread_may_act(r, false);
  delete s;
}

}  // namespace goro::detail

namespace goro {

std::pair<context, cancel_func> signal_notify_context(const context& parent, std::initializer_list<int> signals) {
  using namespace detail;
  uint64_t mask = 0;
  for (int sig : signals) {
    if (sig < 1 || sig > kMaxSig || sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS ||
        sig == SIGFPE || sig == SIGILL)
      throw std::system_error(EINVAL, std::generic_category(), "goro::signal_notify_context: signal " +
                                                                  std::to_string(sig) + " cannot be taken");
    mask |= uint64_t{1} << (sig - 1);
  }
  auto [ctx, cancel] = ctx_access::pair(ctx_with_cancel_extended(ctx_access::node(parent)));
  auto* n = static_cast<cancel_node*>(ctx_access::node(ctx));
  auto* s = new signal_reg{n, mask};
  registry& r = detail::reg();
  bool start = false;
  {
    lock_guard lk(r.lock);
    if (g_pipe[0] < 0) {
      if (pipe2(g_pipe, O_CLOEXEC) != 0) {
        int e = errno;
        delete s;
        throw std::system_error(e, std::generic_category(), "goro::signal_notify_context: pipe2");
      }
      fcntl(g_pipe[1], F_SETFL, fcntl(g_pipe[1], F_GETFL) | O_NONBLOCK);
      start = true;
    }
    for (int sig = 1; sig <= kMaxSig; sig++) {
      if ((mask >> (sig - 1) & 1) == 0 || r.count[sig]++ > 0) continue;
      struct sigaction sa{};
      sa.sa_handler = on_signal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART | SA_ONSTACK;
      if (sigaction(sig, &sa, &r.saved[sig]) != 0) fatal("runtime: sigaction(%d): %s", sig, strerror(errno));
    }
    r.regs.push_back(s);
    extras(n)->sig.store(s, std::memory_order_release);
    if (r.regs.size() == 1) set_thread_may_act(r, true);
  }
  // Started outside the lock (the thread takes it to publish its id); it
  // starts as a thread that may act, which is right: a registration exists.
  if (start) start_runtime_thread(signal_main, 256 << 10, "signal");
  return {ctx, cancel};
}

}  // namespace goro
