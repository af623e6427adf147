// How a goroutine dies loudly: Go's panic report for an escaped exception,
// and the stack overflow report.
//
// Escaped exception: g_main has no handler and goro_fiber_start ends the
// unwind (.cfi_undefined), so the C++ runtime finds no handler in its
// search phase and calls std::terminate on the throwing stack, unwound not
// one frame. Our terminate handler then prints
//
//   panic: <what()>
//
//   goroutine 7 [running]:
//     <frames, innermost first, from the throw site>
//   created by goroutine 1 at file.cpp:42 in worker()
//
// and exits with status 2, as an unrecovered Go panic does. Off a
// goroutine it defers to the previous terminate handler. $GORO_TRACEBACK
// (Go's GOTRACEBACK) trims it to the message (none) or adds every other
// goroutine (all).
//
// Stack overflow: each worker runs with an alternate signal stack; the
// SIGSEGV handler compares the fault address with the running goroutine's
// guard page and, if it is hit, prints "goroutine N: stack overflow". It
// does not symbolize where the goroutine was created there: libdw
// allocates, which is not async-signal-safe (TSan reports every such call,
// thousands, each with the whole overflowed stack, until the run times
// out). Instead the handler maps a fresh report stack and rewrites the
// interrupted context so that returning from the handler enters
// overflow_report() on that stack, out of signal context, as Go's handler
// injects a call to sigpanic. overflow_report() symbolizes the site,
// prints the rest and exits with status 2. Faults the handler does not
// recognize go to the previous handler, called from this one (Go's
// sigfwd), which stays installed: a program's handler that deals with
// faults of its own (a garbage collector's, a JIT's) and returns must not
// take the overflow check away for the rest of the run. Where the
// previous action is the default (or ignore), it is put back for the
// fault to happen again and end the process.
//
// Invariant: at most one overflow report runs (g_overflow_reporting); a
// second fault during it, on any thread, ends the process at once.
//
// SIGQUIT (Go's kill -QUIT): the handler only raises g_sigquit; the
// monitor, at its next round (it naps 10 ms at most), prints
// "SIGQUIT: quit" and the goroutine dump to stderr, limited by
// $GORO_TRACEBACK (none, single: the main goroutines, all: the default),
// and exits with status 2. The handler is installed only where SIGQUIT
// has its default action: a program's own handler, or an ignored
// SIGQUIT, is left alone.
#include <cxxabi.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <typeinfo>

#include "base/check.hpp"
#include "base/symbolize.hpp"
#include "sched/sched.hpp"
#include "sched/stack.hpp"
#include "sched/test_hooks.hpp"
#include "sched/traceback.hpp"

namespace goro::detail {

namespace {

std::terminate_handler g_prev_terminate = nullptr;
struct sigaction g_prev_segv;
struct sigaction g_prev_bus;

void write_fd(int fd, const char* s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Symbolizes the creation site (symbolize.hpp). This allocates: never call
// it from a signal handler (the overflow report calls it after leaving
// the handler, see on_fault).
void print_created(const g* gp) {
  // The running goroutine's own fields (it is stopped in this report).
  g_record r;
  r.id = gp->id;
  r.parent_id = gp->parent_id;
  r.is_main = gp->is_main;
  r.by_timer = gp->by_timer;
  r.created_pc = gp->created_pc;
  g_inspector ins;
  char buf[512];
  ins.created_by(r, buf, sizeof buf - 1);
  strcat(buf, "\n");
  write_fd(2, buf);
}

struct panic_report {
  const char* what = nullptr;  // the panic's value, whole (Go prints all of it)
  char head[128];   // "\ngoroutine N [running]:\n"
  void* pcs[64];
  int n = 0;
  const g* gp = nullptr;
  traceback_level level = traceback_level::single;
};

// As Go's GOTRACEBACK for a panic: none, the message alone; single (the
// default), the panicking goroutine; all, every other goroutine after it.
void print_panic_report(void* arg) {
  const auto* rep = static_cast<const panic_report*>(arg);
  write_fd(2, "panic: ");
  write_fd(2, rep->what);
  write_fd(2, "\n");
  if (rep->level == traceback_level::none) return;
  write_fd(2, rep->head);
  print_frames(2, rep->pcs, rep->n);
  print_created(rep->gp);
  if (rep->level == traceback_level::all) {
    write_fd(2, "\n");
    dump_goroutines(2, traceback_level::all, rep->gp->id);
  }
}

void on_terminate() {
  m* mp = current_m();
  g* gp = mp != nullptr ? mp->curg : nullptr;
  if (gp == nullptr) {
    if (g_prev_terminate != nullptr) g_prev_terminate();
    abort();
  }
  claim_dying_report();  // one report at a time; main returning meanwhile waits for it (check.hpp)
  if (auto* hook = test_hooks::panic_report_starting.load(std::memory_order_relaxed)) hook();
  char msg[1024] = "unknown exception";
  const char* what = msg;
  // Kept to the end: it keeps the exception, and so what() of it, alive.
  std::exception_ptr ep = std::current_exception();
  if (ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      const std::type_info* t = abi::__cxa_current_exception_type();
      int status = 0;
      char* dem = t != nullptr ? abi::__cxa_demangle(t->name(), nullptr, nullptr, &status) : nullptr;
      snprintf(msg, sizeof msg, "exception of type %s", dem != nullptr ? dem : (t != nullptr ? t->name() : "?"));
      free(dem);
    }
  } else {
    snprintf(msg, sizeof msg, "std::terminate called");
  }
  panic_report rep;
  rep.gp = gp;
  rep.level = traceback_setting(traceback_level::single);
  rep.what = what;
  snprintf(rep.head, sizeof rep.head, "\ngoroutine %llu [running]:\n", static_cast<unsigned long long>(gp->id));
  rep.n = stack_pcs(rep.pcs, 64, 3);  // skip on_terminate and the C++ runtime's terminate frames
  // Symbolizing takes tens of KiB of stack, more than a small goroutine
  // stack may have left at the throw site.
  run_on_report_thread(print_panic_report, &rep);
  _exit(2);
}

constexpr const char* kOverflowHint =
    "(raise the goroutine's stack with goro::go_with({.stack_size = ...}) or GORO_STACK_SIZE)\n";

// Sizes: the handler itself only formats one line; the report stack holds
// libdw's symbolization (64 KiB was too little for it).
constexpr size_t kAltStack = 64 * 1024;
constexpr size_t kReportStack = 512 * 1024;

std::atomic<bool> g_overflow_reporting{false};
const g* g_overflowed = nullptr;  // written by the handler before it redirects

// Entered by returning from on_fault, on the report stack, on the thread
// whose goroutine overflowed; never returns (there is no frame to return to).
[[noreturn]] void overflow_report() {
  print_created(g_overflowed);
  write_fd(2, kOverflowHint);
  _exit(2);
}

// Points the interrupted context at overflow_report on [stack, stack+size),
// as if it had been called there with no return address. False where the
// architecture is not known, and the caller reports without symbolizing.
bool redirect_to_report(void* uctx, char* stack, size_t size) {
  auto* uc = static_cast<ucontext_t*>(uctx);
  auto top = (reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t{15};
#if defined(__x86_64__)
  // At a function's entry rsp+8 is 16-byte aligned: the return address slot
  // (zero, which also ends unwinders) sits at rsp.
  top -= 8;
  *reinterpret_cast<uintptr_t*>(top) = 0;
  uc->uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(top);
  uc->uc_mcontext.gregs[REG_RBP] = 0;
  uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(reinterpret_cast<uintptr_t>(&overflow_report));
  return true;
#elif defined(__aarch64__)
  uc->uc_mcontext.sp = top;
  uc->uc_mcontext.regs[29] = 0;  // frame pointer
  uc->uc_mcontext.regs[30] = 0;  // link register
  uc->uc_mcontext.pc = reinterpret_cast<uintptr_t>(&overflow_report);
  return true;
#else
  (void)uc;
  (void)top;
  return false;
#endif
}

void on_fault(int sig, siginfo_t* si, void* uctx) {
  m* mp = current_m();
  g* gp = mp != nullptr ? mp->curg : nullptr;
  if (gp != nullptr && stack_is_guard_hit(gp, si->si_addr)) {
    claim_dying_report();
    if (g_overflow_reporting.exchange(true)) {
      // Another overflow is being reported, or the report itself faulted.
      write_fd(2, "fatal error: fault during the stack overflow report\n");
      _exit(2);
    }
    char buf[256];
    snprintf(buf, sizeof buf,
             "fatal error: stack overflow\n\ngoroutine %llu: stack overflow (stack of %zu bytes, fault at %p)\n",
             static_cast<unsigned long long>(gp->id), static_cast<size_t>(gp->stack_hi - gp->stack_lo),
             si->si_addr);
    write_fd(2, buf);
    void* stack = mmap(nullptr, kReportStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack != MAP_FAILED) {
      g_overflowed = gp;
      if (redirect_to_report(uctx, static_cast<char*>(stack), kReportStack)) return;  // into overflow_report
    }
    // No report stack: name the site by address only, which is safe here.
    char who[64];
    g_inspector::creator(gp->is_main, gp->parent_id, gp->by_timer, who, sizeof who);
    snprintf(buf, sizeof buf, "%s at pc %p\n", who, gp->created_pc);
    write_fd(2, buf);
    write_fd(2, kOverflowHint);
    _exit(2);
  }
  // Not ours: the previous handler's.
  const struct sigaction& prev = sig == SIGSEGV ? g_prev_segv : g_prev_bus;
  if ((prev.sa_flags & SA_RESETHAND) != 0) {
    // A one-shot handler counts on the kernel's reset to the default after
    // it runs: installed again, it gets the fault the kernel's way.
    sigaction(sig, &prev, nullptr);
  } else if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, si, uctx);
  } else if ((prev.sa_flags & SA_SIGINFO) == 0 && prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
  } else {
    sigaction(sig, &prev, nullptr);  // the fault happens again, with the default action
  }
}

std::atomic<bool> g_sigquit{false};  // raised by the handler, read by the monitor

void on_sigquit(int sig) {
  // A forked child has no monitor to see the flag: the default action
  // (end with a core), as Go's child, which resets handled signals. The
  // signal is blocked while this runs, so it lands as the handler returns.
  if (in_forked_child()) {
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  g_sigquit.store(true, std::memory_order_relaxed);
}

}  // namespace

void sigquit_poll() {
  // Relaxed: the flag carries no data; a round late costs 10 ms.
  if (!g_sigquit.load(std::memory_order_relaxed)) return;
  claim_dying_report();
  write_fd(2, "SIGQUIT: quit\n\n");
  // The monitor has a 1 MiB stack, enough for libdw.
  dump_goroutines(2, traceback_setting(traceback_level::all));
  _exit(2);
}

void crash_handlers_install() {
  g_prev_terminate = std::set_terminate(on_terminate);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_prev_segv);
  sigaction(SIGBUS, &sa, &g_prev_bus);
  crash_sigquit_install_if_default();
}

void crash_sigquit_install_if_default() {
  struct sigaction old;
  if (sigaction(SIGQUIT, nullptr, &old) == 0 && (old.sa_flags & SA_SIGINFO) == 0 && old.sa_handler == SIG_DFL) {
    struct sigaction q;
    memset(&q, 0, sizeof q);
    q.sa_handler = on_sigquit;
    q.sa_flags = SA_RESTART;
    sigemptyset(&q.sa_mask);
    sigaction(SIGQUIT, &q, nullptr);
  }
}

void m_signal_stack_init(m* mp) {
  void* mem = mmap(nullptr, kAltStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;  // no overflow report on this worker, nothing worse
  stack_t ss;
  ss.ss_sp = mem;
  ss.ss_size = kAltStack;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(mem, kAltStack);
    return;
  }
  mp->altstack = mem;
}

void m_signal_stack_free(m* mp) {
  if (mp->altstack == nullptr) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(mp->altstack, kAltStack);
  mp->altstack = nullptr;
}

}  // namespace goro::detail
