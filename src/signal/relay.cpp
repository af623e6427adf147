// Signals relayed to channels (goro/signal.hpp: signal_notify, Go's
// signal.Notify, with signal_stop, signal_reset, signal_ignore) and to
// contexts (signal_notify_context, Go's signal.NotifyContext).
//
// How a signal gets there: while anyone is registered for a signal, the
// runtime's handler is installed for it; the handler writes the signal's
// number into a pipe (write(2) is async-signal-safe) and returns. A
// runtime thread, goro-signal, reads the pipe and, outside the handler,
// where taking locks and readying goroutines is allowed, sends the number
// on every channel registered for it (without blocking: a full channel
// misses it, as Go's) and cancels every context registered for it.
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
// SIG_DFL, SIG_IGN after signal_ignore); when the count returns to 0
// (signal_stop, signal_reset, stop() of the last context or its last
// handle dropped) the saved action is put back, so a second Ctrl-C after
// stop() ends the program, as in Go. Until then, a signal that already
// cancelled its context is taken again (and does nothing), as in Go.
//
// fork(): a child keeps the handler and the pipe (O_CLOEXEC closes it only
// at exec). A child forked to exec must get its signals as if goro had
// never taken them, as Go's does: an atfork child handler puts back the
// earlier actions and forgets the parent's registrations, pipe and
// counters, and the handler itself, finding itself in another process than
// the pipe's maker, takes the earlier action instead of writing to the
// parent's pipe (a signal between fork and that atfork handler). A child
// forked before the runtime started may then register as a fresh process
// does; one forked after may not (the fork fatal error, sched/fork.cpp).
//
// Deadlock detection: goro-signal can ready goroutines (a receiver of a
// registered channel, a goroutine waiting on a registered context's
// done()), so while a registration takes any signal it counts as a thread
// that may act: the deadlock detector must not report `main` blocked on
// such a receive as a deadlock, as Go does not. With none it is a runtime
// thread, ignored by the detector. The switch is made under the registry
// lock.
//
// Invariants (under the registry lock):
//  S1. count[s] == the number of registrations whose mask has s; the
//      handler is installed for s iff count[s] > 0, and saved[s] then holds
//      the action to put back.
//  S2. A context's registration is in `regs` iff its node's `sig` points to
//      it (its mask may be 0 after signal_reset); the node is alive while
//      it is there (the node's destruction unregisters it first). A
//      channel's registration is in `regs` iff its mask is not 0; it holds
//      a reference to the channel; there is at most one per channel.
//  S3. `active` == the number of registrations in `regs` whose mask is not
//      0; goro-signal counts as a thread that may act iff active > 0.
//
// Lock order: the registry lock has the lowest rank, `signal`: the
// dispatcher sends on the channels while it holds it, which is what makes
// signal_stop's promise hold (no send after it returns). Under it:
// channel locks (inside chan_try_send, which may ready a receiver) and
// the deadlock detector's thread registry (leaf). It is never held with a
// context node's lock: signal_unregister runs with none held, and the
// dispatcher cancels contexts after releasing it.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "base/backoff.hpp"
#include "base/check.hpp"
#include "base/futex.hpp"
#include "context/context.hpp"
#include "goro/panic.hpp"
#include "goro/signal.hpp"
#include "sched/sched.hpp"
#include "sched/test_hooks.hpp"

namespace goro::detail {

struct signal_reg {
  cancel_node* n;  // a context's registration, or null
  hchan* c;        // a channel's (a reference of its own), or null
  uint64_t mask;   // bit s-1 for signal s
};

namespace {

constexpr int kMaxSig = 64;

uint64_t bit(int sig) { return uint64_t{1} << (sig - 1); }

struct registry {
  runtime_lock lock{lock_rank::signal};
  std::vector<signal_reg*> regs;       // guarded by lock
  int count[kMaxSig + 1] = {};         // guarded by lock
  struct sigaction saved[kMaxSig + 1];  // guarded by lock; valid while count > 0
  int active = 0;                      // S3; guarded by lock
  int tid = 0;                         // goro-signal's thread id, 0 before it starts; guarded by lock
  // goro-signal is cancelling contexts it took from regs (dispatch), with
  // the lock released: it may still wake goroutines, whatever `active`
  // says meanwhile (a signal_reset may have dropped every registration).
  bool dispatching = false;  // guarded by lock
  // Channels signal_stop took out of regs, with the signals they had,
  // still sent to until the relay has read every byte written before
  // their stop (Go's handlers.stopping): a signal the handler took before
  // the stop reaches the channel (Go's TestAtomicStop).
  std::vector<std::pair<signal_reg*, uint64_t>> stopping;  // guarded by lock
};

// Never freed: the handler may outlive statics. A forked child swaps in a
// fresh one (forget_the_relay_in_forked_child), by its only thread.
registry* g_registry = nullptr;

registry& reg() {
  static registry* first = g_registry = new registry;
  (void)first;
  return *g_registry;
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

// The process that made the pipe: a child forked from it inherits the
// handler and the pipe's write end, and a byte it wrote would reach the
// parent's relay (cancelling the parent's context, and the child surviving
// its SIGTERM). Read by the handler, so an atomic (lock-free).
std::atomic<pid_t> g_relay_pid{0};

// In a forked child: the action the signal had before goro's handler,
// now and for later signals; a signal that came in the child before that
// takes the action (raised again: it is blocked while its handler runs,
// so it is delivered as the handler returns). Reads the registry without
// its lock: the child has one thread, and a holder of the lock in the
// parent is not in the child.
void take_the_earlier_action(int sig) {
  sigaction(sig, &reg().saved[sig], nullptr);
  raise(sig);
}

// Handlers running now (Go's sig.delivering): signal_stop waits for 0
// after putting the earlier action back, so that no handler that began
// under goro's action writes its byte after the stop's marker.
std::atomic<int> g_handlers_running{0};

// The stop markers (byte 0, never a signal number): the number written and
// the number the relay has read. Written under g_marker_lock, so markers
// go into the pipe in the order of their numbers.
std::atomic<uint32_t> g_markers_written{0};
std::atomic<uint32_t> g_markers_read{0};
runtime_lock g_marker_lock{lock_rank::leaf};

void on_signal(int sig) {
  if (sig < 0 || sig > kMaxSig) return;
  int saved = errno;
  if (getpid() != g_relay_pid.load(std::memory_order_relaxed)) [[unlikely]] {
    take_the_earlier_action(sig);
    errno = saved;
    return;
  }
  g_handlers_running.fetch_add(1, std::memory_order_seq_cst);
  [[maybe_unused]] ssize_t w = write(g_pipe[1], &kSignalBytes[static_cast<size_t>(sig)], 1);
  g_handlers_running.fetch_sub(1, std::memory_order_seq_cst);
  errno = saved;
}
static_assert(std::atomic<int>::is_always_lock_free, "the handler's counter must be async-signal-safe");

// signal_stop's wait (Go's signalWaitUntilIdle): returns once the relay
// has dispatched every byte written to the pipe before this call, the
// channels on `stopping` included. Called with no lock held.
void wait_until_relay_idle() {
  // A handler that began before the caller put the earlier action back
  // may not have written yet: its byte must come before the marker.
  for (backoff b; g_handlers_running.load(std::memory_order_seq_cst) != 0;) b.snooze();
  uint32_t ticket;
  {
    lock_guard lk(g_marker_lock);
    ticket = g_markers_written.load(std::memory_order_relaxed) + 1;
    for (backoff b;;) {
      ssize_t w = write(g_pipe[1], &kSignalBytes[0], 1);
      if (w == 1) break;
      if (w < 0 && errno != EINTR && errno != EAGAIN) fatal("runtime: signal_stop: write: %s", strerror(errno));
      if (w < 0 && errno == EAGAIN) b.snooze();  // full: the relay is draining it
    }
    g_markers_written.store(ticket, std::memory_order_relaxed);
  }
  for (uint32_t seen; static_cast<int32_t>((seen = g_markers_read.load(std::memory_order_acquire)) - ticket) < 0;)
    futex_wait(&g_markers_read, seen);
}

// Whether sig may be registered: not SIGKILL or SIGSTOP (they cannot be
// caught), not the synchronous ones (the crash reporter's), not the
// real-time signals glibc keeps (its sigaction refuses them).
bool takeable(int sig) {
  if (sig < 1 || sig > kMaxSig) return false;
  switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: return false;
    default: return sig < 32 || sig >= SIGRTMIN;
  }
}

// What an empty list of signals means: for signal_notify and
// signal_notify_context, every takeable signal but SIGTRAP and SIGPROF (a
// debugger's and a profiler's); for signal_reset and signal_ignore, every
// takeable one, as Go's Reset() and Ignore() with no arguments (a
// registration made for SIGPROF by name is undone too).
enum class empty_list { all_but_debug_and_profile, all };

// The mask of `signals`, or of what `empty` says when the list is empty.
// Throws std::system_error(EINVAL) naming `who` for a signal that cannot
// be taken.
uint64_t mask_of(std::initializer_list<int> signals, empty_list empty, const char* who) {
  uint64_t mask = 0;
  for (int sig : signals) {
    if (!takeable(sig))
      throw std::system_error(EINVAL, std::generic_category(),
                              std::string(who) + ": signal " + std::to_string(sig) + " cannot be taken");
    mask |= bit(sig);
  }
  if (signals.size() == 0) {
    const bool all = empty == empty_list::all;
    for (int sig = 1; sig <= kMaxSig; sig++)
      if (takeable(sig) && (all || (sig != SIGTRAP && sig != SIGPROF))) mask |= bit(sig);
  }
  return mask;
}

// Called with r.lock held, after `active` or `dispatching` changed. A
// dispatch under way keeps the thread one that may act.
void set_thread_may_act(registry& r, bool may_act) {
  if (r.tid != 0) runtime_thread_may_act(r.tid, may_act || r.dispatching);
}

// Adds `bits` to s's mask (s is in r.regs, or is put there by the caller
// in the same critical section): S1 and S3 kept, handlers installed for
// signals nobody took before.
void add_bits(registry& r, signal_reg* s, uint64_t bits) {
  bits &= ~s->mask;
  if (bits == 0) return;
  if (s->mask == 0 && r.active++ == 0) set_thread_may_act(r, true);
  s->mask |= bits;
  for (int sig = 1; sig <= kMaxSig; sig++) {
    if ((bits & bit(sig)) == 0 || r.count[sig]++ > 0) continue;
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    // takeable() ruled out every signal the kernel or glibc refuses.
    if (sigaction(sig, &sa, &r.saved[sig]) != 0) fatal("runtime: sigaction(%d): %s", sig, strerror(errno));
  }
}

// Takes `bits` out of s's mask, putting back the earlier action of each
// signal nobody takes any more (S1, S3).
void drop_bits(registry& r, signal_reg* s, uint64_t bits) {
  bits &= s->mask;
  if (bits == 0) return;
  s->mask &= ~bits;
  for (int sig = 1; sig <= kMaxSig; sig++) {
    if ((bits & bit(sig)) == 0 || --r.count[sig] != 0) continue;
    sigaction(sig, &r.saved[sig], nullptr);
    // A default saved before the runtime started, whose start then found
    // this handler and installed none: SIGQUIT gets the goroutine dump now.
    if (sig == SIGQUIT && sched.started.load(std::memory_order_acquire)) crash_sigquit_install_if_default();
  }
  if (s->mask == 0 && --r.active == 0) set_thread_may_act(r, false);
}

// False when s is not in r.regs: a forked child's context registered in
// the parent, whose registry the child forgot.
bool remove_reg(registry& r, signal_reg* s) {
  for (size_t i = 0; i < r.regs.size(); i++) {
    if (r.regs[i] == s) {
      r.regs[i] = r.regs.back();
      r.regs.pop_back();
      return true;
    }
  }
  return false;
}

// Takes `bits` from every registration; channels left with none are taken
// out of `regs` and returned, for the caller to release their channels
// and free them once the lock is released (S2).
std::vector<signal_reg*> drop_bits_everywhere(registry& r, uint64_t bits) {
  std::vector<signal_reg*> gone;
  gone.reserve(r.regs.size());  // before any change: push_back cannot throw below
  for (size_t i = 0; i < r.regs.size();) {
    signal_reg* s = r.regs[i];
    drop_bits(r, s, bits);
    if (s->c != nullptr && s->mask == 0) {
      r.regs[i] = r.regs.back();
      r.regs.pop_back();
      gone.push_back(s);
    } else {
      i++;
    }
  }
  return gone;
}

void free_channel_regs(const std::vector<signal_reg*>& gone) noexcept {
  for (signal_reg* s : gone) {
    chan_release(s->c);
    delete s;
  }
}

// Sends sig on c without blocking (a full channel misses it, as in Go).
void send_signal(hchan* c, int sig) {
  int v = sig;
  try {
    chan_try_send(c, &v);
  } catch (const panic_error& e) {
    fatal_exit(2, "goro: a channel registered with goro::signal_notify was closed before signal_stop (%s)",
               e.what());
  }
}

void dispatch(int sig) {
  std::vector<cancel_node*> hit;
  {
    registry& r = reg();
    lock_guard lk(r.lock);
    for (auto& [s, mask] : r.stopping) {
      if ((mask & bit(sig)) != 0) send_signal(s->c, sig);
    }
    hit.reserve(r.regs.size());  // before any retain: push_back cannot throw below
    for (signal_reg* s : r.regs) {
      if ((s->mask & bit(sig)) == 0) continue;
      if (s->c != nullptr) {
        send_signal(s->c, sig);
      } else if (ctx_try_retain(s->n)) {
        hit.push_back(s->n);
      }
    }
    if (hit.empty()) return;
    r.dispatching = true;  // (the thread may act already: `active` > 0)
  }
  if (auto* hook = test_hooks::signal_dispatch_unlocked.load(std::memory_order_relaxed)) hook();
  for (cancel_node* n : hit) {
    ctx_cancel_tree(n, static_cast<int>(errc::canceled), make_error_code(errc::canceled), true);
    ctx_release(n);
  }
  registry& r = reg();
  lock_guard lk(r.lock);
  r.dispatching = false;
  set_thread_may_act(r, r.active > 0);
}

void* signal_main(void* started) {
  prctl(PR_SET_NAME, "goro-signal", 0, 0, 0);
  {
    registry& r = reg();
    lock_guard lk(r.lock);
    r.tid = static_cast<int>(syscall(SYS_gettid));
    // A runtime thread, able to wake goroutines while anyone is registered
    // (until now it counted as a plain thread that may act).
    runtime_thread_register(r.tid);
    set_thread_may_act(r, r.active > 0);
  }
  static_cast<note*>(started)->wake();
  for (;;) {
    unsigned char b;
    ssize_t got = read(g_pipe[0], &b, 1);
    if (got == 1 && b == 0) {
      // A stop's marker: every byte before it is dispatched.
      g_markers_read.fetch_add(1, std::memory_order_release);
      futex_wake(&g_markers_read, INT32_MAX);
    } else if (got == 1) {
      try {
        dispatch(b);
      } catch (const std::bad_alloc&) {
        // Out of memory before anything was sent or retained: this
        // signal is lost, as one the pipe had no room for.
      }
    } else if (got < 0 && errno != EINTR) {
      fatal("runtime: goro-signal: read: %s", strerror(errno));
    }
  }
  return nullptr;
}

// pthread_atfork's child handler: every signal goro's handler is installed
// for gets back its earlier action (take_the_earlier_action says why, and
// why without the lock). Then the child forgets the parent's relay, as if
// goro had never taken a signal: the registrations are the parent's (their
// channels and contexts live on in the parent), the relay thread stayed
// there, the pipe is the parent's (a stop marker written into it was read
// by the parent's relay, so the child's signal_stop waited for good and
// the parent's next one stopped waiting too early), and a parent thread may
// have held the registry's or the marker's lock. A child forked before the
// runtime started runs a runtime of its own (sched/fork.cpp), and its
// first registration makes a pipe and a relay of its own; the old
// registry is left as it is (its lock may be held), a few bytes.
void forget_the_relay_in_forked_child() {
  registry& r = reg();
  // By what the kernel has installed, not by the counts: a parent thread
  // may have forked between a count's change and its sigaction. (A count
  // raised whose action was not yet saved: the default.)
  for (int sig = 1; sig <= kMaxSig; sig++) {
    struct sigaction now{};
    if (sigaction(sig, nullptr, &now) != 0 || (now.sa_flags & SA_SIGINFO) != 0 || now.sa_handler != on_signal) continue;
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, r.count[sig] > 0 ? &r.saved[sig] : &dfl, nullptr);
  }
  // No handler of goro's is installed now; a signal from here on takes
  // whatever action the child has.
  close(g_pipe[0]);
  close(g_pipe[1]);
  g_pipe[0] = g_pipe[1] = -1;
  g_relay_pid.store(0, std::memory_order_relaxed);
  g_handlers_running.store(0, std::memory_order_relaxed);
  g_markers_written.store(0, std::memory_order_relaxed);
  g_markers_read.store(0, std::memory_order_relaxed);
  std::destroy_at(&g_marker_lock);
  std::construct_at(&g_marker_lock, lock_rank::leaf);
  // glibc's fork leaves malloc usable in the child's atfork handlers.
  g_registry = new (std::nothrow) registry();  // value-initialized: saved[] is SIG_DFL
  if (g_registry == nullptr) fatal("runtime: out of memory in a forked child's signal state");
}

// Makes the pipe on first use, and room for one more registration, with
// r.lock held, before anything is registered (so that a throw leaves
// nothing half done). Returns true when the caller must start goro-signal
// (after releasing the lock: the thread takes it to publish its id; it
// starts as a thread that may act, which is right, as the caller registers
// something). Throws std::system_error, std::bad_alloc.
bool prepare_locked(registry& r, const char* who) {
  r.regs.reserve(r.regs.size() + 1);
  if (g_pipe[0] >= 0) return false;
  if (pipe2(g_pipe, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), std::string(who) + ": pipe2");
  fcntl(g_pipe[1], F_SETFL, fcntl(g_pipe[1], F_GETFL) | O_NONBLOCK);
  g_relay_pid.store(getpid(), std::memory_order_relaxed);
  // A forked child puts back the earlier actions, as Go's child does
  // before exec (clearSignalHandlers), and forgets the relay. Registered
  // once: a child inherits the registration, and its own first
  // registration comes here again (its pipe was forgotten).
  static bool atfork_registered = false;
  if (!atfork_registered) {
    GORO_CHECK(pthread_atfork(nullptr, nullptr, forget_the_relay_in_forked_child) == 0);
    atfork_registered = true;
  }
  return true;
}

void start_relay() { start_runtime_thread(signal_main, 256 << 10, "signal"); }

// signal_reset and signal_ignore: takes the signals of `mask` from every
// registration (channels and contexts), which puts back each one's earlier
// action; with `ignore`, then sets SIG_IGN, until the next registration
// (which saves SIG_IGN as the action to put back after it).
void undo_registrations(uint64_t mask, bool ignore) {
  registry& r = reg();
  std::vector<signal_reg*> gone;
  {
    lock_guard lk(r.lock);
    gone = drop_bits_everywhere(r, mask);
    if (ignore) {
      struct sigaction sa{};
      sa.sa_handler = SIG_IGN;
      sigemptyset(&sa.sa_mask);
      // Not SIGPROF (a profiler's) or SIGTRAP (a debugger's): Go's
      // sigignore leaves both as they are, asked by name or not.
      for (int sig = 1; sig <= kMaxSig; sig++) {
        if ((mask & bit(sig)) != 0 && sig != SIGPROF && sig != SIGTRAP) sigaction(sig, &sa, nullptr);
      }
    }
  }
  free_channel_regs(gone);
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
  if (remove_reg(r, s)) drop_bits(r, s, s->mask);  // S1, S3: only the counts it added
  delete s;
}

}  // namespace goro::detail

namespace goro {

std::pair<context, cancel_func> signal_notify_context(const context& parent, std::initializer_list<int> signals) {
  using namespace detail;
  check_not_forked_child();  // only exec after fork (sched/fork.cpp): its relay would wake nobody
  uint64_t mask = mask_of(signals, empty_list::all_but_debug_and_profile, "goro::signal_notify_context");
  auto [ctx, cancel] = ctx_access::pair(ctx_with_cancel_extended(ctx_access::node(parent)));
  auto* n = static_cast<cancel_node*>(ctx_access::node(ctx));
  auto s = std::make_unique<signal_reg>(signal_reg{n, nullptr, 0});
  registry& r = detail::reg();
  bool start;
  {
    lock_guard lk(r.lock);
    start = prepare_locked(r, "goro::signal_notify_context");  // may throw: nothing registered yet
    r.regs.push_back(s.get());
    add_bits(r, s.get(), mask);
    extras(n)->sig.store(s.release(), std::memory_order_release);
  }
  if (start) start_relay();
  return {ctx, cancel};
}

void signal_notify(const send_chan<int>& c, std::initializer_list<int> signals) {
  using namespace detail;
  if (c.is_nil()) throw panic_error("os/signal: Notify using nil channel");
  check_not_forked_child();  // as signal_notify_context
  uint64_t mask = mask_of(signals, empty_list::all_but_debug_and_profile, "goro::signal_notify");
  hchan* hc = chan_access::core(c);
  auto fresh = std::make_unique<signal_reg>(signal_reg{nullptr, hc, 0});
  registry& r = detail::reg();
  bool start;
  {
    lock_guard lk(r.lock);
    start = prepare_locked(r, "goro::signal_notify");  // may throw: nothing registered yet
    signal_reg* s = nullptr;
    for (signal_reg* x : r.regs) {
      if (x->c == hc) s = x;
    }
    if (s == nullptr) {
      s = fresh.release();
      chan_retain(hc);
      r.regs.push_back(s);
    }
    add_bits(r, s, mask);
  }
  if (start) start_relay();
}

void signal_stop(const send_chan<int>& c) {
  using namespace detail;
  hchan* hc = chan_access::core(c);
  if (hc == nullptr) return;
  registry& r = detail::reg();
  std::vector<signal_reg*> gone;
  {
    lock_guard lk(r.lock);
    for (signal_reg* s : r.regs) {
      if (s->c == hc) {
        gone.push_back(s);
        break;
      }
    }
    if (gone.empty()) return;
    signal_reg* s = gone[0];
    r.stopping.reserve(r.stopping.size() + 1);  // may throw: nothing changed yet
    const uint64_t mask = s->mask;
    remove_reg(r, s);
    drop_bits(r, s, mask);
    // Until the relay has read what the handler took before this stop,
    // the channel still gets those signals (Go's Stop, TestAtomicStop).
    // (A forked child found nothing above: it forgot the parent's
    // registrations, and makes none once the runtime had started.)
    r.stopping.emplace_back(s, mask);
  }
  wait_until_relay_idle();
  {
    lock_guard lk(r.lock);
    for (size_t i = 0; i < r.stopping.size(); i++) {
      if (r.stopping[i].first == gone[0]) {
        r.stopping[i] = r.stopping.back();
        r.stopping.pop_back();
        break;
      }
    }
  }
  free_channel_regs(gone);
}

void signal_reset(std::initializer_list<int> signals) {
  detail::undo_registrations(detail::mask_of(signals, detail::empty_list::all, "goro::signal_reset"), false);
}

void signal_ignore(std::initializer_list<int> signals) {
  detail::undo_registrations(detail::mask_of(signals, detail::empty_list::all, "goro::signal_ignore"), true);
}

bool signal_ignored(int sig) {
  struct sigaction old{};
  if (sig < 1 || sig > detail::kMaxSig || sigaction(sig, nullptr, &old) != 0) return false;
  return (old.sa_flags & SA_SIGINFO) == 0 && old.sa_handler == SIG_IGN;
}

}  // namespace goro
