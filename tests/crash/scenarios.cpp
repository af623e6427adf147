// goro_crash_scenarios: programs that must die (or must not) the way Go's
// would, one per scenario name given in argv[1]. crash_test.cpp runs each
// one as a subprocess and checks its exit status and its stderr; a crash
// can only be tested from outside the process that crashes.
//
// Go is the reference for every report:
//   deadlock        fatal error: all goroutines are asleep - deadlock!  (exit 2)
//   escaped throw   panic: <what()> / goroutine N [running]: / created by  (exit 2)
//   stack overflow  goroutine N: stack overflow / created by  (exit 2)
//   sigquit         SIGQUIT: quit / the goroutine dump  (exit 2)
//   data race       WARNING: ThreadSanitizer: data race  (TSan build, exit 66)
//   goro in a child forked after start
//                   fatal error: goro: runtime used in a child process after
//                   fork(); only exec is supported after fork  (exit 2; Go
//                   itself supports fork only through ForkExec)
//
// Progress markers go to stdout (written with write(2), so they survive
// _exit), reports come on stderr: the test can then check that stderr
// *starts* with the report and that a marker came before it.
#include <goro/goro.hpp>

#include <linux/filter.h>
#include <malloc.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sched/deadlock_stats.hpp"
#include "sync/mutex_bias.hpp"
#include "sync/starve_waiter.hpp"

using namespace std::chrono_literals;

namespace goro::detail {
[[noreturn]] void fatal(const char* fmt, ...);
namespace test_hooks {
extern std::atomic<void (*)()> g_list_locked;          // src/sched/test_hooks.hpp
extern std::atomic<void (*)()> panic_report_starting;  // src/sched/test_hooks.hpp
extern std::atomic<void (*)()> signal_dispatch_unlocked;  // src/sched/test_hooks.hpp
extern std::atomic<bool> timer_sudog_alloc_fails;         // src/sched/test_hooks.hpp
extern std::atomic<bool> stack_lists_grow_fails;          // src/sched/test_hooks.hpp
extern std::atomic<void (*)()> trace_registering_buffer;  // src/sched/test_hooks.hpp
extern std::atomic<void (*)()> thread_waiter_registering;  // src/sched/test_hooks.hpp
extern std::atomic<void (*)()> waker_pool_locked;          // src/sched/test_hooks.hpp
extern std::atomic<void (*)()> lock_order_recording;       // src/sched/test_hooks.hpp
}  // namespace test_hooks
}  // namespace goro::detail

namespace {

void say(const std::string& s) {
  std::string line = s + "\n";
  const char* p = line.data();
  size_t n = line.size();
  while (n > 0) {
    ssize_t w = ::write(1, p, n);
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Keeps the optimizer from proving the recursion below endless, and from
// turning it into a loop.
volatile bool g_stop_recursion = false;

// ---- deadlock --------------------------------------------------------------

// Main waits on a wait_group nobody will release; a second goroutine waits
// on another one. Go: both goroutines are listed as [sync.WaitGroup.Wait].
int deadlock() {
  return goro::run([] {
    goro::wait_group never;
    never.add(1);
    goro::wait_group also_never;
    also_never.add(1);
    goro::go([&also_never] {
      say("second goroutine " + std::to_string(goro::goroutine_id()) + " blocking");
      also_never.wait();
    });
    never.wait();
    say("unreachable: main was released");
  });
}

// goroutines started with every spelling of go (a named lambda, a function
// pointer with arguments, go_with, wait_group::go with an argument) all
// block; the deadlock report must name each one's creation line, which
// the scenario prints as "site <id> <line>".
void block_on(goro::wait_group* wg) { wg->wait(); }

// go as the last statement of a function, where the compiler could make
// the spawn a tail call (and the recorded site its caller's line).
constexpr int kTailGoLine = __LINE__ + 2;
[[gnu::noinline]] void start_blocked(goro::wait_group* wg) {
  goro::go(&block_on, wg);
}

int deadlock_sites() {
  return goro::run([] {
    goro::wait_group never;
    never.add(1);
    auto site = [](uint64_t id, int line) { say("site " + std::to_string(id) + " " + std::to_string(line)); };
    auto task = [&never] { never.wait(); };
    uint64_t a = goro::go(task);
    site(a, __LINE__ - 1);
    uint64_t b = goro::go(&block_on, &never);
    site(b, __LINE__ - 1);
    uint64_t c = goro::go_with({.stack_size = 64 * 1024}, block_on, &never);
    site(c, __LINE__ - 1);
    goro::wait_group wg;
    wg.go(block_on, &never);
    say("wg_site " + std::to_string(__LINE__ - 1));
    start_blocked(&never);
    say("wg_site " + std::to_string(kTailGoLine));
    never.wait();
  });
}

// Everything blocks, but only after a goroutine has slept 50 ms: while its
// timer is pending the detector must stay quiet (the sleeper will wake),
// and once it is blocked too the detector must fire.
int deadlock_after_sleep() {
  return goro::run([] {
    goro::wait_group never;
    never.add(1);
    goro::go([&never] {
      goro::sleep_for(50ms);
      say("slept");
      never.wait();
    });
    never.wait();
  });
}

// A select loop whose every round has an after(1h) case that never fires,
// then everything blocks. Each round's dropped after() channel must take
// its timer with it (Go 1.23), or the 100,000 pending timers keep the
// detector quiet for an hour. A copy handed to a goroutine that exits
// counts as dropped too.
int deadlock_after_dropped_timers() {
  return goro::run([] {
    auto ready = goro::make_chan<int>(1);
    for (int i = 0; i < 100000; i++) {
      ready.send(i);
      goro::select(goro::on_recv(ready), goro::on_recv(goro::after(1h)));
    }
    goro::wait_group passed;
    passed.add(1);
    goro::go([&passed, c = goro::after(1h)] { passed.done(); });
    passed.wait();
    say("looped");
    goro::wait_group never;
    never.add(1);
    never.wait();
  });
}

// Timers stopped but still held, then everything blocks. A lock-free Stop
// leaves the timer's heap entry behind as a zombie (time/timer.hpp):
// sysmon's reaper (or the detector's own, first) must drop them, or the
// 1-hour timers keep the detector quiet for an hour. Both kinds: timers,
// and after_func timers.
int deadlock_after_stopped_timers() {
  return goro::run([] {
    std::vector<goro::timer> held;
    for (int i = 0; i < 1000; i++) {
      held.push_back(goro::new_timer(1h));
      held.push_back(goro::after_func(1h, [] {}));
    }
    int stopped = 0;
    for (auto& t : held) stopped += t.stop() ? 1 : 0;
    say(stopped == 2000 ? "stopped" : "not all stopped");
    goro::wait_group never;
    never.add(1);
    never.wait();
  });
}

// Everything blocks while a ticker, a timer and an after() channel are
// pending, each held and never received from. They wake nobody when they
// fire (Go 1.23 keeps such timers off the heap; found by a review,
// 2026-12-06: the ticker kept the detector quiet for ever, the 1-hour
// ones for an hour).
int deadlock_beside_unread_timers() {
  return goro::run([] {
    goro::ticker tick = goro::new_ticker(20ms);
    goro::timer hour = goro::new_timer(1h);
    auto hour_chan = hour.c();  // a timer whose channel exists
    goro::timer other = goro::new_timer(1h);  // and one whose channel was never made
    auto after_hour = goro::after(1h);
    say("timers pending");
    goro::wait_group never;
    never.add(1);
    never.wait();
  });
}

// Everything blocks while a plain thread holds a live timer (a 1 h
// after_func) and lets the deadlock check look a few times; then the
// thread stops it and exits. Nothing can wake main now: a deadlock. The
// check used to keep the verdict of its last timer walk while no worker
// woke, and a thread's stop moves no worker: the report waited for the
// stopped function's hour (found by a review, 2026-12-07).
int deadlock_after_a_thread_stops_the_live_timer() {
  return goro::run([] {
    goro::timer unread = goro::new_timer(10h);  // pending, read by nobody
    std::thread([] {
      goro::timer f = goro::after_func(1h, [] {});
      const uint64_t looks = goro::detail::deadlock_stats_read().looks;
      while (goro::detail::deadlock_stats_read().looks < looks + 3) usleep(1000);
      say(f.stop() ? "after_func stopped" : "after_func ran");
    }).detach();
    goro::make_chan<int>().recv();
  });
}

// Not a deadlock: main waits on a signal_notify_context whose signal the
// relay thread has taken and is about to cancel it, when a signal_reset
// drops every registration. The relay still counts as a thread that may
// act until its dispatch is done (found by a review, 2026-12-06: the
// reset made it one that cannot, and the monitor reported a deadlock).
// The seam holds the dispatch until the monitor has looked twice at a
// main parked on the context.
std::atomic<int> g_dispatch_phase{0};

int no_deadlock_while_a_signal_dispatch_runs() {
  goro::detail::test_hooks::signal_dispatch_unlocked.store([] {
    g_dispatch_phase.store(1);
    for (int i = 0; i < 30000 && g_dispatch_phase.load() != 2; i++) usleep(1000);
    uint64_t looks = goro::detail::deadlock_stats_read().looks;
    for (int i = 0; i < 10000 && goro::detail::deadlock_stats_read().looks < looks + 2; i++) usleep(1000);
  });
  return goro::run([] {
    auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR1});
    raise(SIGUSR1);
    while (g_dispatch_phase.load() != 1) goro::sleep_for(1ms);
    goro::signal_reset({SIGUSR1});  // no registration left
    g_dispatch_phase.store(2);
    ctx.done().recv();
    say("cancelled");
  });
}

// Not a deadlock: main waits for a goroutine that selects on a channel
// nobody sends to and on after(300 ms), beside an unread ticker; the
// after() channel has a receiver, so its timer will wake one.
int no_deadlock_select_on_after() {
  return goro::run([] {
    goro::ticker tick = goro::new_ticker(20ms);
    goro::wait_group done;
    done.add(1);
    goro::go([&done] {
      auto never = goro::make_chan<int>();
      goro::select(goro::on_recv(never), goro::on_recv(goro::after(300ms)));
      say("after fired");
      done.done();
    });
    done.wait();
    // And a goroutine blocked on the ticker's own channel.
    tick.c().recv();
    say("ticked");
  });
}

// Not a deadlock: every goroutine is blocked, but a plain std::thread (not
// parked in goro) will release main after 200 ms. The detector cannot know
// what a foreign thread will do, so it must not fire.
int no_deadlock_thread() {
  std::thread releaser;
  goro::wait_group wg;
  int rc = goro::run([&] {
    wg.add(1);
    releaser = std::thread([&wg] {
      std::this_thread::sleep_for(200ms);
      say("thread releasing");
      wg.done();
    });
    wg.wait();
    say("main released");
  });
  releaser.join();
  return rc;
}

// A plain thread that is itself parked in goro (on a wait_group) can wake
// nobody, so it does not keep the process alive: deadlock. The thread
// parks first; main blocks once its 100 ms sleep is over.
int deadlock_thread_parked() {
  goro::wait_group never;
  never.add(1);
  std::thread parked([&never] {
    say("thread parking");
    never.wait();
  });
  int rc = goro::run([&never] {
    goro::sleep_for(100ms);
    never.wait();
  });
  parked.join();
  return rc;
}

// As above, but the plain thread is the last to park: its own park must
// run the check (no worker goes idle after it).
// ---- thread exhaustion ------------------------------------------------------

// 64 goroutines sit in blocking sections that never return, with a limit
// of 16 threads: as Go at its 10,000-thread limit, the runtime stops the
// program with a report instead of making more threads (or, before the
// limit existed, stalling silently at its 1,024-P cap).
int thread_exhaustion() {
  goro::set_max_threads(16);
  return goro::run([] {
    say("blocking");
    for (int i = 0; i < 64; i++)
      goro::go([] { goro::blocking([] { for (;;) std::this_thread::sleep_for(1h); }); });
    goro::blocking([] { for (;;) std::this_thread::sleep_for(1h); });
  });
}

// Eight goroutines sit in blocking sections (a thread each), then the
// limit is lowered below the threads there are: Go's setMaxThreads stops
// the program at once (before, it went on until the next new thread).
int thread_limit_lowered() {
  return goro::run([] {
    std::atomic<int> inside{0};
    for (int i = 0; i < 8; i++)
      goro::go([&inside] {
        goro::blocking([&inside] {
          inside.fetch_add(1);
          for (;;) std::this_thread::sleep_for(1h);
        });
      });
    while (inside.load() < 8) goro::yield();
    goro::set_max_threads(3);
    say("still running after set_max_threads(3)");
  });
}

int deadlock_thread_parks_last() {
  goro::wait_group never;
  never.add(1);
  std::thread parked;
  int rc = goro::run([&never, &parked] {
    parked = std::thread([&never] {
      std::this_thread::sleep_for(100ms);
      say("thread parking");
      never.wait();
    });
    never.wait();
  });
  parked.join();
  return rc;
}

// Plain threads that can never wake a goroutine, declared so
// (goro::ignore_thread_in_deadlock_check): a watchdog sleeping in
// std::this_thread::sleep_for declares itself; a thread blocked in read()
// on a pipe nobody writes is declared by its thread id. Then every
// goroutine blocks: the deadlock is reported as if the threads did not
// exist. (They say they are ready through atomics, not goro: once declared,
// a thread must not wake anyone.)
int deadlock_ignored_threads() {
  int fds[2];
  if (pipe(fds) != 0) return 70;
  std::atomic<bool> watchdog_declared{false};
  std::atomic<int> reader_tid{0};
  std::thread watchdog([&watchdog_declared] {
    goro::ignore_thread_in_deadlock_check();
    watchdog_declared.store(true);
    for (;;) std::this_thread::sleep_for(1h);
  });
  std::thread reader([&reader_tid, fd = fds[0]] {
    reader_tid.store(static_cast<int>(gettid()));
    char c;
    while (read(fd, &c, 1) != 0) {
    }
  });
  watchdog.detach();
  reader.detach();
  return goro::run([&] {
    while (!watchdog_declared.load() || reader_tid.load() == 0) goro::sleep_for(1ms);
    bool known = goro::ignore_thread_in_deadlock_check(reader_tid.load());
    // Thread ids run up to pid_max, at most 2^22.
    bool unknown = goro::ignore_thread_in_deadlock_check(1 << 23);
    say(std::string("declared reader: ") + (known ? "true" : "false") + ", unknown thread: " +
        (unknown ? "true" : "false"));
    goro::wait_group never;
    never.add(1);
    never.wait();
    say("unreachable: main was released");
  });
}

// A plain thread goro cannot see into keeps the check from concluding:
// every goroutine sleeps, no report, but after $GORO_DEADLOCK_GRACE_MS a
// warning names the thread. The thread is stderr's reader: stderr is a
// pipe to it, and it copies what it reads to the real stderr; once the
// whole warning has come, it releases main, and the program ends well.
int grace_warning_names_thread() {
  int fds[2];
  if (pipe(fds) != 0) return 70;
  int real_stderr = dup(2);
  dup2(fds[1], 2);
  close(fds[1]);
  goro::wait_group release;
  release.add(1);
  std::thread reader([&release, in = fds[0], real_stderr] {
    pthread_setname_np(pthread_self(), "stderr-reader");
    say("reader thread " + std::to_string(gettid()));
    std::string seen;
    char buf[4096];
    for (;;) {
      ssize_t n = read(in, buf, sizeof buf);
      if (n <= 0) break;
      ssize_t w = write(real_stderr, buf, static_cast<size_t>(n));
      (void)w;
      seen.append(buf, static_cast<size_t>(n));
      // The warning's last line.
      if (seen.find("this warning comes once") != std::string::npos &&
          seen.find('\n', seen.find("this warning comes once")) != std::string::npos)
        break;
    }
    release.done();
  });
  int rc = goro::run([&release] {
    release.wait();
    say("main released");
  });
  reader.join();
  dup2(real_stderr, 2);
  return rc;
}

// ---- a fatal error with a runtime lock held ---------------------------------

// Goroutines park on a channel until one spawn needs a new slab of g
// records; the seam then raises a fatal error with the lock of the list of
// every g held. Its report's goroutine dump walks that list: it must not
// wait for the lock (the failing thread holds it while it waits for the
// report).
int fatal_under_g_list_lock() {
  return goro::run([] {
    goro::chan<int> never;
    goro::go([never] { never.recv(); });
    say("spawning");
    goro::detail::test_hooks::g_list_locked.store(
        [] { goro::detail::fatal("test: fatal with the lock of the g list held"); });
    for (;;) goro::go([never] { never.recv(); });
  });
}

// ---- panic -----------------------------------------------------------------

}  // namespace

// Where the goroutines of deadlock_stacks block: external linkage and
// noinline, so that each frame is in the dump under its name. The asm
// keeps the calls from becoming tail calls (whose frames would be gone).
[[gnu::noinline]] void goro_scenario_blocked_receiving(goro::chan<int> ch) {
  say("receiver " + std::to_string(goro::goroutine_id()) + " blocking");
  ch.recv();
  asm volatile("" ::: "memory");
}

[[gnu::noinline]] void goro_scenario_main_waits(goro::wait_group& wg) {
  wg.wait();
  asm volatile("" ::: "memory");
}

[[gnu::noinline]] void goro_scenario_main_sleeps() {
  goro::sleep_for(std::chrono::milliseconds(1));
  asm volatile("" ::: "memory");
}

// External linkage and noinline, so that the frame is in the report's stack
// under this name.
[[gnu::noinline]] void goro_scenario_throw_boom() {
  say("throwing");
  throw std::runtime_error("boom");
}

namespace {

// Deadlock with the goroutines parked in named functions: the report
// shows each one's stack, as Go's does.
int deadlock_stacks() {
  return goro::run([] {
    goro::wait_group never;
    never.add(1);
    auto ch = goro::make_chan<int>();
    goro::go([ch] { goro_scenario_blocked_receiving(ch); });
    goro_scenario_main_waits(never);
  });
}

// SIGQUIT while a goroutine is parked on a channel and main sleeps in a
// loop: Go's kill -QUIT, a dump of every goroutine on stderr and status 2
// (as far as GORO_TRACEBACK allows).
int sigquit() {
  return goro::run([] {
    auto ch = goro::make_chan<int>();
    goro::go([ch] { goro_scenario_blocked_receiving(ch); });
    // Until the receiver is parked (a condition, read through the dump).
    for (bool parked = false; !parked; goro_scenario_main_sleeps())
      for (const goro::debug::goroutine_info& g : goro::debug::goroutines())
        if (g.wait_reason == "chan receive") parked = true;
    say("quitting");
#if defined(GORO_TSAN)
    // TSan runs a handler only when the thread that took the signal next
    // enters an intercepted call; a worker asleep in a raw futex never
    // does. Aim at the monitor, which naps in nanosleep (intercepted).
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      if (std::getline(comm, name) && name == "goro-sysmon")
        syscall(SYS_tgkill, getpid(), std::stoi(task.path().filename()), SIGQUIT);
    }
#else
    kill(getpid(), SIGQUIT);
#endif
    for (;;) goro_scenario_main_sleeps();  // the monitor ends the process
  });
}

// A goroutine that names itself and runs `thrower`, whose exception
// escapes it: Go's unrecovered panic. Main waits for good meanwhile.
int panic_in_a_goroutine(void (*thrower)()) {
  return goro::run([thrower] {
    goro::wait_group never;
    never.add(1);
    goro::go([thrower] {
      say("panicking goroutine " + std::to_string(goro::goroutine_id()));
      thrower();
    });
    never.wait();
  });
}

// An exception escapes a goroutine: Go's unrecovered panic.
int panic_escape() { return panic_in_a_goroutine(goro_scenario_throw_boom); }

// A panic whose message is long: Go prints the whole value.
int panic_long_message() {
  return panic_in_a_goroutine([] { throw std::runtime_error(std::string(3000, 'x') + "END"); });
}

// Four goroutines throw at once (a barrier, then each throws): one
// report, as Go's paniclk gives; the others wait for it to end the
// process. Before, each wrote its own, into each other.
int panics_at_once() {
  return goro::run([] {
    std::atomic<int> ready{0};
    goro::wait_group never;
    never.add(1);
    for (int i = 0; i < 4; i++) {
      goro::go([&ready] {
        ready.fetch_add(1);
        while (ready.load() < 4) goro::yield();
        goro_scenario_throw_boom();
      });
    }
    never.wait();
  });
}

// main returns while another goroutine's panic report is being written:
// the report must end the process (status 2, whole), as Go's main parks
// when it finds a panic in progress. Before, run() returned and main's
// exit(0) cut the report short (status 0; once, a crash in static
// destructors). The seam tells main when the panic has begun, then holds
// the report back a moment so that main's return comes first.
std::atomic<bool> g_panic_begun{false};

int main_returns_during_a_panic() {
  goro::detail::test_hooks::panic_report_starting.store([] {
    g_panic_begun.store(true);
    usleep(200 * 1000);
  });
  int status = goro::run([] {
    goro::go([] {
      say("panicking goroutine " + std::to_string(goro::goroutine_id()));
      goro_scenario_throw_boom();
    });
    while (!g_panic_begun.load()) goro::yield();
  });
  say("run returned");
  return status;
}

// The same on the smallest stack go_with allows: the report needs tens of
// KiB to symbolize, more than the throw site has left, so it must not be
// printed on the goroutine's stack (it used to overflow there and report
// a stack overflow instead of the panic).
int panic_small_stack() {
  return goro::run([] {
    goro::wait_group never;
    never.add(1);
    goro::go_with({.stack_size = 16 * 1024}, [] {
      say("panicking goroutine " + std::to_string(goro::goroutine_id()));
      goro_scenario_throw_boom();
    });
    never.wait();
  });
}

// Runtime misuse inside a goroutine: done() on a zero wait_group throws
// goro::panic_error("sync: negative WaitGroup counter"), which escapes.
int panic_misuse() {
  return goro::run([] {
    goro::wait_group never;
    never.add(1);
    goro::go([] {
      say("panicking goroutine " + std::to_string(goro::goroutine_id()));
      goro::wait_group wg;
      wg.done();
    });
    never.wait();
  });
}

// An exception escapes the main goroutine of run(): Go reports a panic in
// main as goroutine 1.
int panic_main() {
  return goro::run([] {
    say("panicking goroutine " + std::to_string(goro::goroutine_id()));
    goro_scenario_throw_boom();
  });
}

// ---- stack overflow ---------------------------------------------------------

// Unbounded recursion: a volatile array per frame keeps each frame real,
// noinline and the use of the array after the call rule out inlining and
// tail calls.
[[gnu::noinline]] int recurse_forever(int depth) {
  volatile char frame[256];
  frame[depth % 256] = static_cast<char>(depth);
  if (g_stop_recursion) return depth;
  int r = recurse_forever(depth + 1);
  return r + frame[(depth + 1) % 256];
}

// The body of every overflow scenario: names the goroutine, then runs
// `before` (nothing, or a setting that must come after the marker), then
// recurses until the stack overflows.
template <class F = void (*)()>
void overflow_here(F before = [] {}) {
  say("overflowing goroutine " + std::to_string(goro::goroutine_id()));
  before();
  int r = recurse_forever(0);
  say("unreachable: recursion returned " + std::to_string(r));
}

int overflow(size_t stack_size) {
  return goro::run([stack_size] {
    goro::wait_group never;
    never.add(1);
    goro::go_with({.stack_size = stack_size}, [] {
      overflow_here();
    });
    never.wait();
  });
}

// A program's own SIGSEGV handler, installed before the runtime: it deals
// with faults in its page (makes it writable) and gives any other fault
// the default action.
char* g_users_page = nullptr;

void users_fault_handler(int sig, siginfo_t* si, void*) {
  auto* at = static_cast<char*>(si->si_addr);
  if (g_users_page != nullptr && at >= g_users_page && at < g_users_page + 4096) {
    mprotect(g_users_page, 4096, PROT_READ | PROT_WRITE);
    return;
  }
  signal(sig, SIG_DFL);  // the fault happens again and ends the process
}

// After the program's handler has dealt with a fault of its own, an
// overflow is still reported as one: goro's handler forwards the faults it
// does not know and stays. It used to put the program's handler back in
// its place for good, and the overflow then ended the process with a bare
// SIGSEGV.
int overflow_after_a_fault_the_programs_handler_took() {
  g_users_page = static_cast<char*>(mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  struct sigaction sa{};
  sa.sa_sigaction = users_fault_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  return goro::run([] {
    *static_cast<volatile char*>(g_users_page) = 1;  // the program's handler makes the page writable
    say("the program's handler took its fault");
    goro::wait_group never;
    never.add(1);
    goro::go_with({.stack_size = 64 * 1024}, [] {
      overflow_here();
    });
    never.wait();
  });
}

// A program's one-shot SIGSEGV handler (SA_RESETHAND), installed before
// the runtime: it notes the fault and returns, counting on the kernel's
// reset to the default action for the fault to end the process when it
// happens again. Forwarded to it by a direct call, nothing was reset: the
// fault came back to goro's handler, which called it again, for good.
void one_shot_handler(int) { write(1, "the one-shot handler ran\n", 25); }

int foreign_fault_with_a_one_shot_handler() {
  struct sigaction sa{};
  sa.sa_handler = one_shot_handler;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  return goro::run([] {
    auto* page = static_cast<char*>(mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    *static_cast<volatile char*>(page) = 1;
    say("unreachable: the fault was survived");
  });
}

// Caps the address space just above what is mapped now, so that the
// overflow handler's mmap of its report stack fails and it takes its
// fallback, which prints the creation site by address only.
void leave_no_room_for_a_report_stack() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmSize:", 0) != 0) continue;
    rlim_t bytes = std::strtoull(line.c_str() + 7, nullptr, 10) * 1024 + 64 * 1024;
    rlimit lim{bytes, bytes};
    if (setrlimit(RLIMIT_AS, &lim) != 0) say("setrlimit failed");
    return;
  }
}

// An overflow in a goroutine that a plain thread (or a timer, for an
// after_func) started: the report names that creator, as the dump does,
// with and without the report stack.
int overflow_started_by(const std::string& by, bool fallback) {
  return goro::run([by, fallback] {
    goro::wait_group never;
    never.add(1);
    auto body = [fallback] {
      overflow_here([fallback] { if (fallback) leave_no_room_for_a_report_stack(); });
    };
    if (by == "thread") {
      std::thread([body] { goro::go_with({.stack_size = 64 * 1024}, body); }).detach();
    } else {
      (void)goro::after_func(std::chrono::milliseconds(1), body);
    }
    never.wait();
  });
}

// An overflow on a stack the scavenger gave back. free_os_memory releases
// neighbouring stacks with one madvise whose range holds the guard pages
// between them; the guards must survive it. A burst takes consecutive
// slots; after the release, goroutines parked for good use up the P's
// cache of stacks that were never released, so the overflowing goroutine
// gets a released stack (from the middle of a run, but for the first of
// each run).
int overflow_after_release() {
  goro::set_maxprocs(1);
  return goro::run([] {
    // Under TSan every goroutine life is a TSan fiber, whose creation
    // faults in a large thread context (~8 ms each on these VMs): a
    // smaller burst, still many times a P's cache of stacks (64).
#if defined(GORO_TSAN)
    constexpr int kBurst = 500;
#else
    constexpr int kBurst = 2000;
#endif
    {
      auto gate = goro::make_chan<int>();
      goro::wait_group parked, done;
      parked.add(kBurst);
      done.add(kBurst);
      for (int i = 0; i < kBurst; i++) {
        goro::go([&] {
          parked.done();
          gate.recv();
          done.done();
        });
      }
      parked.wait();
      gate.close();
      done.wait();
    }
    goro::free_os_memory();
    goro::wait_group never, started;
    never.add(1);
    started.add(200);  // more than a P caches (64)
    for (int i = 0; i < 200; i++) {
      goro::go([&] {
        started.done();
        never.wait();
      });
    }
    started.wait();
    goro::go([] {
      overflow_here();
    });
    never.wait();
  });
}

// Guard pages on a kernel without MADV_GUARD_INSTALL (before Linux 6.13):
// a seccomp filter makes madvise(..., MADV_GUARD_INSTALL) and
// process_madvise(..., MADV_GUARD_INSTALL, ...) (the batched install) fail
// with EINVAL, as such a kernel does, so goro falls back to mprotect,
// whose guards are counted against a budget of the kernel's maps.
// Installed before the runtime's first thread, so every thread inherits
// it.
constexpr int kMadvGuardInstall = 102;

void refuse_madvise_guards() {
  struct sock_filter filter[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 0, 2),  // else to 4
      /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kMadvGuardInstall, 3, 4),  // to 7, else 8
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_madvise, 0, 3),  // else to 8
      /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
      /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kMadvGuardInstall, 0, 1),  // else to 8
      /* 7 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
      /* 8 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    std::perror("seccomp");
    _exit(3);
  }
}

int count_maps() {
  std::ifstream f("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(f, line)) n++;
  return n;
}

// Many goroutines with stacks of their own, one after another, each
// guarded by mprotect: their guards go with their stacks, so the budget
// is never spent, and a pooled stack's overflow still hits its guard.
// (Before the fix each spent the budget for good: after some 16,000, no
// new stack had a guard, and this overflow ran over its neighbour.)
int stack_overflow_after_dedicated_churn() {
  refuse_madvise_guards();
  long maps = 65530;
  if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    if (std::fscanf(f, "%ld", &maps) != 1) maps = 65530;
    std::fclose(f);
  }
  return goro::run([maps] {
    // More than the budget (a quarter of the maps) could pay for.
    const long rounds = maps / 4 + 1000;
    for (long i = 0; i < rounds; i++) {
      goro::wait_group wg;
      wg.add(1);
      goro::go_with({.stack_size = 64 * 1024}, [&wg] { wg.done(); });
      wg.wait();
    }
    say("ran " + std::to_string(rounds) + " goroutines with stacks of their own");
    goro::wait_group never;
    never.add(1);
    goro::go([] {
      overflow_here();
    });
    never.wait();
  });
}

// Parks more pooled goroutines than the guard budget covers and prints how
// many of the kernel's maps that took: an mprotect'ed guard splits its
// chunk, two maps each, and the budget is a quarter of the maps.
int stack_guard_maps() {
  refuse_madvise_guards();
  goro::set_maxprocs(1);
  return goro::run([] {
    long maps = 65530;
    if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
      if (std::fscanf(f, "%ld", &maps) != 1) maps = 65530;
      std::fclose(f);
    }
    const int before = count_maps();
    const long n = maps / 4 + 1000;
    goro::wait_group parked, release;
    release.add(1);
    parked.add(static_cast<int>(n));
    for (long i = 0; i < n; i++) {
      goro::go([&] {
        parked.done();
        release.wait();
      });
    }
    parked.wait();
    const int after = count_maps();
    say("max_map_count " + std::to_string(maps) + ", maps added by " + std::to_string(n) +
        " parked goroutines: " + std::to_string(after - before));
    // They stay parked until the process exits: released here, they
    // would still be inside release.wait() when run() returns and the
    // wait group goes.
  });
}

// Not a crash: a pool at namespace scope (Go's `var bufPool =
// sync.Pool{...}`) used by goroutines that are still running when main
// returns from run(): exit() destroys the pool under them. It used to
// free its state then (a crash at exit in 2 to 9 runs of 10).
goro::pool<std::string> g_exit_pool([] { return std::make_unique<std::string>(64, 'x'); });

std::atomic<int> g_exit_pool_users{0};

int pool_in_use_at_exit() {
  return goro::run([] {
    for (int i = 0; i < 4; i++) {
      goro::go([] {
        bool counted = false;
        for (;;) {
          auto s = g_exit_pool.get();
          s->back() = 'y';
          g_exit_pool.put(std::move(s));
          if (!counted) g_exit_pool_users.fetch_add(1);
          counted = true;
          goro::yield();
        }
      });
    }
    // Main returns once every goroutine is using the pool.
    while (g_exit_pool_users.load() < 4) goro::yield();
    say("main returns");
  });
}

// Not a crash: a goroutine with a non-default stack (go_with) just runs.
// The control for the small-stack overflow scenario, so a failure there can
// be told apart from go_with itself failing.
int custom_stack_runs() {
  return goro::run([] {
    goro::wait_group wg;
    wg.add(1);
    goro::go_with({.stack_size = 64 * 1024}, [&wg] {
      say("ran on a custom stack in goroutine " + std::to_string(goro::goroutine_id()));
      wg.done();
    });
    wg.wait();
  });
}

// ---- data races (ThreadSanitizer) ------------------------------------------

constexpr int kIncrements = 100000;

// Two goroutines on two Ps increment one plain int with no synchronization.
// TSan must report it (goroutines are TSan fibers; only the memory model's
// edges order them). Without TSan it must simply run to the end.
int race() {
  goro::set_maxprocs(2);
  int counter = 0;
  int rc = goro::run([&counter] {
    goro::wait_group wg;
    for (int i = 0; i < 2; i++) {
      wg.add(1);
      goro::go([&counter, &wg] {
        for (int k = 0; k < kIncrements; k++) counter++;
        wg.done();
      });
    }
    wg.wait();
  });
  say("counter=" + std::to_string(counter));
  return rc;
}

// The same race where the two goroutines cannot overlap: one P, and
// neither blocks, so the first runs to its end before the second starts.
// Still a race in Go's memory model (nothing orders the two), and Go's
// race detector reports it: go() orders each goroutine after main only.
int race_sequential() {
  goro::set_maxprocs(1);
  int counter = 0;
  int rc = goro::run([&counter] {
    goro::wait_group wg;
    for (int i = 0; i < 2; i++) {
      wg.add(1);
      goro::go([&counter, &wg] {
        for (int k = 0; k < kIncrements; k++) counter++;
        wg.done();
      });
    }
    wg.wait();
  });
  say("counter=" + std::to_string(counter));
  return rc;
}

// A close wakes two parked receivers: it orders each after the close, not
// one after the other. The first writes before it parks, the second reads
// after it wakes: a race (Go's closechan only releases). The close used to
// acquire each waiter's past and hand it to the next it woke; a review's
// probe, 100 rounds in one process, saw 0-1 reports before that was fixed
// and 89-100 after. This scenario, one round in a fresh process, is
// reported either way: it guards the report, not the fix.
int race_close_orders_no_waiter_after_another() {
  int counter = 0;
  int rc = goro::run([&counter] {
    auto c = goro::make_chan<int>();
    auto done = goro::make_chan<int>(2);
    goro::go([c, done, &counter] {
      counter = 1;
      (void)c.recv_ok();
      done.send(0);
    });
    goro::go([c, done, &counter] {
      (void)c.recv_ok();
      say("read " + std::to_string(counter));
      done.send(0);
    });
    // Both parked first (the race would be there either way: a late
    // receiver sees the close without parking).
    while (goro::debug::stats().waiting_on("chan receive") < 2) goro::yield();
    c.close();
    done.recv();
    done.recv();
  });
  say("counter=" + std::to_string(counter));
  return rc;
}

// A race between a goroutine that wrote before it slept and one that
// reads after its own, longer sleep: nothing orders the two (Go's timers
// wake a sleeper with no race edge), so each of the rounds is a report.
// The timers used to ready sleepers with a release from the scheduler
// stack, which handed the sleeper whatever that stack had acquired: a
// review's probe saw 65-82 of 100 rounds reported. The two sleeps only
// shape the interleaving: in any order the write and the read race. Each
// round's counter is a fresh allocation, so each round is a report of its
// own (the test turns off TSan's suppression of equal stacks).
int race_after_sleep() {
  constexpr int kRounds = 40;
  std::vector<std::unique_ptr<int>> counters;
  std::atomic<int> seen{0};
  int rc = goro::run([&counters, &seen] {
    for (int round = 0; round < kRounds; round++) {
      int* counter = counters.emplace_back(std::make_unique<int>(0)).get();
      auto done = goro::make_chan<int>(2);
      goro::go([counter, done] {
        *counter = 1;
        goro::sleep_for(std::chrono::milliseconds(1));
        done.send(0);
      });
      goro::go([counter, done, &seen] {
        goro::sleep_for(std::chrono::milliseconds(3));
        seen.fetch_add(*counter, std::memory_order_relaxed);
        done.send(0);
      });
      done.recv();
      done.recv();
    }
  });
  say("counter=" + std::to_string(seen.load()) + " rounds=" + std::to_string(kRounds));
  return rc;
}

// A race that a handle drop used to hide from TSan (issue 16, item 9): a
// thread writes `counter` and then drops its copy of a channel handle;
// main, which only sees the thread's progress through a relaxed atomic
// (no edge), closes the channel, receives the close and reads `counter`.
// Nothing orders the write before the read. Every handle drop is a release
// on the channel (chan_release), and a receive that saw the close used to
// acquire that same address, so TSan saw an edge Go has not.
int race_hidden_by_handle_drop() {
  int counter = 0;
  std::atomic<int> dropped{0};
  auto ch = goro::make_chan<int>(4);
  std::thread writer([&counter, &dropped, h = ch]() mutable {
    counter = 1;
    { auto drop = std::move(h); }
    dropped.store(1, std::memory_order_relaxed);
  });
  while (dropped.load(std::memory_order_relaxed) == 0) {
  }
  ch.close();
  auto r = ch.recv_opt();  // closed: returns at once
  int seen = counter;
  writer.join();
  say("counter=" + std::to_string(seen) + (r ? " received?" : ""));
  return 0;
}

// Control: the same with an atomic counter. No report.
int race_atomic() {
  goro::set_maxprocs(2);
  std::atomic<int> counter{0};
  int rc = goro::run([&counter] {
    goro::wait_group wg;
    for (int i = 0; i < 2; i++) {
      wg.add(1);
      goro::go([&counter, &wg] {
        for (int k = 0; k < kIncrements; k++) counter.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
  });
  say("counter=" + std::to_string(counter.load()));
  return rc;
}

// Control: a plain int, but the second goroutine's increments are ordered
// after the first's by a wait_group (done happens before the wait it
// releases). No report.
int race_ordered() {
  goro::set_maxprocs(2);
  int counter = 0;
  int rc = goro::run([&counter] {
    goro::wait_group first;
    goro::wait_group all;
    first.add(1);
    all.add(2);
    goro::go([&] {
      first.wait();
      for (int k = 0; k < kIncrements; k++) counter++;
      all.done();
    });
    goro::go([&] {
      for (int k = 0; k < kIncrements; k++) counter++;
      first.done();
      all.done();
    });
    all.wait();
  });
  say("counter=" + std::to_string(counter));
  return rc;
}

// The thread ids of the process now (/proc/self/task).
std::vector<int> thread_ids() {
  std::vector<int> ids;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task"))
    ids.push_back(std::stoi(task.path().filename().string()));
  return ids;
}

// A goroutine reads errno on a worker thread started after its first run:
// its TSan fiber was made (on its first worker) before that thread's TLS
// was set up, which TSan counts as the new thread's writes. goro's fiber
// switches do not synchronize (docs/design.md section 8), so unless the
// runtime orders each worker's start before the goroutines it runs, TSan
// reports the read as a race with the thread's creation. Maxprocs 1: the
// goroutine parks; main readies it and then blocks in a declared blocking
// section, whose P goes to a worker started then. Prints where it ran.
int errno_on_a_later_worker() {
  goro::set_maxprocs(1);
  return goro::run([] {
    auto go_on = goro::make_chan<int>();
    std::atomic<bool> first_ran{false};
    std::atomic<bool> done{false};
    std::vector<int> threads_at_first_run;
    int later_tid = 0;
    goro::go([&] {
      threads_at_first_run = thread_ids();
      first_ran.store(true);
      go_on.recv();
      later_tid = static_cast<int>(syscall(SYS_gettid));
      errno = 0;
      const bool ebadf = close(-1) == -1 && errno == EBADF;
      if (!ebadf) say("close(-1) did not fail with EBADF");
      done.store(true);
    });
    while (!first_ran.load()) goro::yield();
    go_on.send(1);
    goro::blocking([&] {
      while (!done.load()) std::this_thread::yield();
    });
    bool started_after = true;
    for (int tid : threads_at_first_run) started_after = started_after && tid != later_tid;
    say(started_after ? "read errno on a worker started after its first run"
                      : "read errno on a worker that was there before");
  });
}

// A planted race that a worker's start must not hide. At maxprocs 1 a
// goroutine parks; a plain thread readies it (the thread saw nothing of
// main's write: no edge), so it waits in the run queue while main holds
// the only P. Main writes `counter`, then raises maxprocs to 2, which
// starts a worker for the new P from main's own context, and computes
// until the goroutine has incremented `counter` on that worker. Nothing
// orders the two writes. Goroutines acquire the start of the worker they
// land on (for its TLS, above): that start must not carry its creator's
// history. Prints whether the goroutine ran on a worker started by main.
int race_across_a_new_worker() {
  goro::set_maxprocs(1);
  int counter = 0;
  int rc = goro::run([&counter] {
    auto go_on = goro::make_chan<int>(1);
    auto finished = goro::make_chan<int>();
    std::atomic<bool> parked{false};
    std::atomic<bool> sent{false};
    std::atomic<bool> done{false};
    std::atomic<int> ran_on{0};
    goro::go([&] {
      parked.store(true, std::memory_order_relaxed);
      go_on.recv();
      counter++;
      ran_on.store(static_cast<int>(syscall(SYS_gettid)), std::memory_order_relaxed);
      finished.close();  // orders this write before main's last read
      done.store(true, std::memory_order_relaxed);
    });
    while (!parked.load(std::memory_order_relaxed)) goro::yield();
    std::thread readier([&] {
      go_on.send(1);
      sent.store(true, std::memory_order_relaxed);
    });
    while (!sent.load(std::memory_order_relaxed)) std::this_thread::yield();  // holding the P
    const std::vector<int> before = thread_ids();
    counter++;
    goro::set_maxprocs(2);
    while (!done.load(std::memory_order_relaxed)) std::this_thread::yield();  // holding the P
    finished.recv();
    readier.join();
    bool new_worker = true;
    for (int tid : before) new_worker = new_worker && tid != ran_on.load();
    say(new_worker ? "ran on a worker started after main's write" : "ran on an older worker");
  });
  say("counter=" + std::to_string(counter));
  return rc;
}

// A timer fires while nobody receives, and its value's sudog cannot be
// had (the seam stands for memory that has run out): the fatal report,
// naming it, not a crash or a lost value.
int timer_sudog_out_of_memory() {
  goro::detail::test_hooks::timer_sudog_alloc_fails.store(true);
  return goro::run([] {
    auto t = goro::new_timer(std::chrono::milliseconds(1));
    auto c = t.c();
    say("timer armed");
    // Sleeps until the fire ends the program. (Parked on a channel
    // instead, it could be reported deadlocked first: a timer channel
    // nobody waits on wakes nobody.)
    for (;;) goro::sleep_for(std::chrono::milliseconds(1));
  });
}

// ---- stacks out of reach ------------------------------------------------------

// Starts goroutines parked on `never` until go() refuses one
// (goro::resource_error) or `limit` have started; returns how many
// started, and sets *refused.
template <class Chan>
int park_until_go_refuses(const Chan& never, int limit, bool* refused) {
  *refused = false;
  int parked = 0;
  while (parked < limit) {
    try {
      goro::go([never] { never.recv(); });
      parked++;
    } catch (const goro::resource_error&) {
      *refused = true;
      break;
    }
  }
  return parked;
}

// Run with GORO_STACK_SIZE=32m: a pool chunk then holds 7 stacks, and the
// main goroutine's first run carves all 7 into its P's cache. No chunk can
// be mapped from then on (the seam). A goroutine whose first run is on
// the other P finds nothing it may take: the free stacks sit in a cache
// only their P touches. It used to end the program there ("cannot map
// goroutine stacks ... while starting goroutine N"); go() must instead
// make sure of a stack the new goroutine can reach, and throw
// goro::resource_error to its caller when it cannot.
int stacks_in_another_ps_cache() {
  goro::set_maxprocs(2);
  return goro::run([] {
    goro::detail::test_hooks::stack_lists_grow_fails.store(true);
    int started = 0;
    int refused = 0;
    std::atomic<int> running{0};
    std::atomic<bool> stop{false};
    // Spinners: each holds a P until told to stop, so the next one starts
    // on whichever P is free; a few, so that some start on the P whose
    // cache is empty. Three at most: goroutines that never reach a
    // scheduling point run on the two Ps and two grants for detached
    // goroutines (sysmon.cpp), main among them, and a fourth spinner
    // would never start (the test's GORO_MAXPROCS=2 fixes the count of Ps
    // made at start, which the reservations' room counts).
    for (int i = 0; i < 3; i++) {
      try {
        goro::go([&] {
          running.fetch_add(1);
          while (!stop.load()) std::this_thread::yield();
          running.fetch_sub(1);
        });
        started++;
      } catch (const goro::resource_error&) {
        refused++;
        continue;
      }
      while (running.load() != started) std::this_thread::yield();
    }
    // And parked goroutines until go() refuses one.
    auto never = goro::make_chan<int>();
    bool parked_refused = false;
    int parked = park_until_go_refuses(never, 1000, &parked_refused);
    refused += parked_refused ? 1 : 0;
    say("started " + std::to_string(started) + ", parked " + std::to_string(parked) + ", refused " +
        std::to_string(refused));
    stop.store(true);
    while (running.load() != 0) std::this_thread::yield();
    never.close();
    goro::detail::test_hooks::stack_lists_grow_fails.store(false);
    say("done");
  });
}

// context_after_func on a context already done starts f's goroutine at
// once. When go() cannot (the stack pool is used up and no chunk can be
// mapped: the seam), the call throws goro::resource_error and must keep
// nothing: the registration's record used to stay behind, one per call.
// Prints how many calls threw and how much the heap grew (mallinfo2; the
// sanitizers' heaps are their own, so it reads 0 there).
int after_func_without_a_goroutine() {
  return goro::run([] {
    goro::detail::test_hooks::stack_lists_grow_fails.store(true);
    auto never = goro::make_chan<int>();
    bool refused = false;
    int parked = park_until_go_refuses(never, 100000, &refused);
    if (!refused) say("go() never refused");
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel();
    constexpr int kCalls = 10000;
    int threw = 0;
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < kCalls; i++) {
      try {
        (void)goro::context_after_func(ctx, [] {});
      } catch (const goro::resource_error&) {
        threw++;
      }
    }
    size_t after = mallinfo2().uordblks;
    long grew = after > before ? static_cast<long>(after - before) : 0;
    say("parked " + std::to_string(parked) + ", threw " + std::to_string(threw) + " of " + std::to_string(kCalls) +
        ", heap grew " + std::to_string(grew));
    never.close();
    goro::detail::test_hooks::stack_lists_grow_fails.store(false);
  });
}

// ---- races and the sync toolkit (TSan) ----------------------------------------

// A plain int incremented under a goro::mutex by goroutines and a plain
// thread, contended (so the slow paths, parking and starvation hand-offs
// all order the increments). No report in any build, and the exact count.
int race_mutex_ordered() {
  goro::set_maxprocs(2);
  int counter = 0;
  goro::mutex mu;
  const int per = 20000;
  int rc = goro::run([&] {
    goro::wait_group wg;
    for (int i = 0; i < 3; i++)
      wg.go([&] {
        for (int k = 0; k < per; k++) {
          std::lock_guard lock(mu);
          counter++;
          if (k % 100 == 0) goro::yield();  // held across a switch: others park
        }
      });
    std::thread t([&] {
      for (int k = 0; k < per; k++) {
        if (k % 2 == 0) {
          std::lock_guard lock(mu);
          counter++;
        } else {
          while (!mu.try_lock_for(std::chrono::microseconds(50))) {
          }
          counter++;
          mu.unlock();
        }
      }
    });
    wg.wait();
    t.join();
  });
  say("counter=" + std::to_string(counter));
  return rc;
}

// Two readers both write a plain int while holding the READ lock of a
// goro::rwmutex: a race (readers are not ordered with each other), which
// TSan must report, as Go's race detector does; the rwmutex must not hide
// it.
//
// The second reader starts its rounds only after the first has finished
// its own, told by a relaxed flag, which orders nothing for TSan. So the
// outcome does not depend on timing either way: readers that the rwmutex
// orders (an unlock_shared that releases what lock_shared acquires) are
// never reported, where overlapping readers would still be, now and then;
// and a few rounds keep each reader's whole TSan history within what TSan
// keeps of it (two trace parts, about 64K events, per goroutine in LLVM
// 14). With 100,000 overlapping rounds, a reader descheduled between
// seeing the race and restoring the other's stack found that stack gone:
// TSan then drops the report and marks the counter so that it never
// reports on it again (12 of 500 runs beside two CPU hogs, and once in CI).
int race_rwmutex_readers() {
  goro::set_maxprocs(2);
  constexpr int kRounds = 1000;
  int counter = 0;
  goro::rwmutex mu;
  std::atomic<bool> first_done{false};
  int rc = goro::run([&] {
    goro::wait_group wg;
    wg.go([&] {
      for (int k = 0; k < kRounds; k++) {
        std::shared_lock lock(mu);
        counter++;
      }
      first_done.store(true, std::memory_order_relaxed);
    });
    wg.go([&] {
      while (!first_done.load(std::memory_order_relaxed)) goro::yield();
      for (int k = 0; k < kRounds; k++) {
        std::shared_lock lock(mu);
        counter++;
      }
    });
    wg.wait();
  });
  say("counter=" + std::to_string(counter));
  return rc;
}

// ---- sync misuse and mutex deadlock ------------------------------------------

// Go: "fatal error: sync: unlock of unlocked mutex" (exit 2; not a panic,
// recover cannot stop it).
int unlock_unlocked_mutex() {
  return goro::run([] {
    goro::mutex mu;
    mu.lock();
    mu.unlock();
    say("unlocking goroutine " + std::to_string(goro::goroutine_id()));
    mu.unlock();
    say("unreachable: survived the second unlock");
  });
}

// The same on a mutex biased to the goroutine (src/sync/mutex_bias.cpp):
// its holds are plain stores, and the second unlock must still be caught.
int unlock_unlocked_biased_mutex() {
  return goro::run([] {
    goro::mutex mu;
    for (int i = 0; i < 3; i++) {  // the third hold goes through the bias
      mu.lock();
      mu.unlock();
    }
    say("unlocking goroutine " + std::to_string(goro::goroutine_id()));
    mu.unlock();
    say("unreachable: survived the extra unlock");
  });
}

// A second unlock while the first one's starvation-mode hand-off is in
// flight (the waiter it went to has not run yet): the mutex is the
// waiter's, and the locked bit stays set for it, so the check must look
// at the hand-off mark (src/sync/mutex.cpp, M4). One P, so the waiter runs
// only when this goroutine lets it.
int unlock_mutex_being_handed_over() {
  goro::set_maxprocs(1);
  return goro::run([] {
    goro::mutex mu;
    goro::wait_group wg;
    std::atomic<bool> waiter_got_it{false};
    // crash_test runs this with detachoff, so the waiter cannot run early.
    if (!goro_test::starve_a_waiter(mu, wg, waiter_got_it)) say("unreachable: the waiter ran early");
    mu.unlock();  // handed to it
    say("unlocking goroutine " + std::to_string(goro::goroutine_id()));
    mu.unlock();
    say("unreachable: survived the second unlock");
  });
}

// Go: a goroutine that locks a mutex it holds waits forever; alone, that
// is the "all goroutines are asleep" deadlock. Here the hold came through
// the bias, so the second lock must end the bias and wait for itself.
int deadlock_biased_mutex_relock() {
  return goro::run([] {
    goro::mutex mu;
    for (int i = 0; i < 2; i++) {
      mu.lock();
      mu.unlock();
    }
    mu.lock();
    say("relocking goroutine " + std::to_string(goro::goroutine_id()));
    mu.lock();
    say("unreachable: locked it twice");
  });
}

// The same from a plain thread, with no goroutine running at all.
int unlock_unlocked_mutex_thread() {
  goro::mutex mu;
  say("unlocking from a thread");
  mu.unlock();
  say("unreachable: survived the unlock");
  return 0;
}

int unlock_unlocked_rwmutex() {
  return goro::run([] {
    goro::rwmutex mu;
    mu.lock();
    mu.unlock();
    say("unlocking");
    mu.unlock();
    say("unreachable: survived the second unlock");
  });
}

int runlock_unlocked_rwmutex() {
  return goro::run([] {
    goro::rwmutex mu;
    mu.lock_shared();
    mu.unlock_shared();
    say("unlocking");
    mu.unlock_shared();
    say("unreachable: survived the second unlock_shared");
  });
}

// Two goroutines take two mutexes in opposite orders and meet in the
// middle; main waits for them. Go: both listed as [sync.Mutex.Lock].
int deadlock_mutex_order() {
  return goro::run([] {
    goro::mutex a, b;
    goro::wait_group both_hold, done;
    both_hold.add(2);
    done.add(2);
    auto take = [&](goro::mutex& first, goro::mutex& second, const char* name) {
      first.lock();
      say(std::string(name) + " " + std::to_string(goro::goroutine_id()) + " holds its first mutex");
      both_hold.done();
      both_hold.wait();
      second.lock();
      say("unreachable: got the second mutex");
      done.done();
    };
    goro::go([&] { take(a, b, "ab"); });
    goro::go([&] { take(b, a, "ba"); });
    done.wait();
  });
}

// ---- lock order (run with GORO_DEBUG=lockorder=1 or 2) ----------------------

// Two goroutines, one after the other, take a and b in opposite orders:
// never a deadlock, but the second order inverts the first. Each says the
// line of its inner lock ("site ab N", "site ba N"); the report must come
// before the second goroutine's inner lock returns ("ba inner returned").
int lock_order_inversion() {
  return goro::run([] {
    goro::mutex a, b;
    goro::wait_group wg;
    wg.go([&] {
      std::lock_guard la(a);
      say("site ab " + std::to_string(__LINE__ + 1));
      std::lock_guard lb(b);
    });
    wg.wait();
    wg.go([&] {
      std::lock_guard lb(b);
      say("site ba " + std::to_string(__LINE__ + 1));
      std::lock_guard la(a);
      say("ba inner returned");
    });
    wg.wait();
    say("done");
  });
}

// The same with a rwmutex read lock held while a mutex is taken, then the
// write lock taken under the mutex.
int lock_order_rwmutex() {
  return goro::run([] {
    goro::rwmutex r;
    goro::mutex m;
    goro::wait_group wg;
    wg.go([&] {
      std::shared_lock lr(r);
      std::lock_guard lm(m);
    });
    wg.wait();
    wg.go([&] {
      std::lock_guard lm(m);
      std::lock_guard lr(r);
    });
    wg.wait();
    say("done");
  });
}

// A goroutine parks (sleep) while holding a std::mutex: reported in debug
// builds with the lock-order check on. Before that, three things that are
// fine and must not be reported: a std::mutex locked and unlocked between
// parks, a std::shared_mutex read-locked the same way, and a plain thread
// that blocks in goro (a channel receive) while holding a std::mutex (the
// lock stays with its thread).
int thread_lock_across_park() {
  return goro::run([] {
    std::mutex mu;
    std::shared_mutex smu;
    for (int i = 0; i < 3; i++) {
      { std::lock_guard l(mu); }
      { std::shared_lock l(smu); }
      goro::sleep_for(1ms);
    }
    auto ch = goro::make_chan<int>();
    std::thread t([&mu, ch] {
      std::lock_guard l(mu);
      (void)ch.recv();
    });
    ch.send(1);
    t.join();
    say("fine so far");
    {
      std::lock_guard l(mu);
      say("site park " + std::to_string(__LINE__ + 1));
      goro::sleep_for(1ms);
    }
    say("done");
  });
}

// The same through a preemption: main holds a std::mutex while it
// computes, and the monitor's preemption makes it yield at a
// preempt_point (the other goroutine, on the only P, runs then). It may
// resume on another thread, so the report names it there, at its yield,
// not the next goroutine to park on this thread (found by a review,
// 2026-12-06: preemption yields were not checked).
int thread_lock_across_preempt() {
  goro::set_maxprocs(1);
  return goro::run([] {
    std::atomic<bool> other_ran{false};
    goro::go([&other_ran] { other_ran.store(true); });
    {
      std::mutex mu;
      std::lock_guard l(mu);
      while (!other_ran.load()) goro::preempt_point();
    }
    say("done");
  });
}

// ---- GORO_TRACE ------------------------------------------------------------

// A few goroutines hand a value around and the program ends normally: with
// GORO_TRACE set, the trace is written at exit.
int trace_at_exit() {
  return goro::run([] {
    auto ch = goro::make_chan<int>();
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      for (int i = 0; i < 10; i++) ch.send(i);
      wg.done();
    });
    for (int i = 0; i < 10; i++) ch.recv();
    wg.wait();
    say("done");
  });
}

// GORO_TRACE set, and a child forked (from a goroutine) that calls exit()
// rather than _exit: its exit handlers run in the child. The trace is the
// parent's to write, once, at its own exit.
int trace_fork_child_exit() {
  return goro::run([] {
    auto ch = goro::make_chan<int>();
    goro::go([ch] {
      for (int i = 0; i < 10; i++) ch.send(i);
    });
    for (int i = 0; i < 10; i++) ch.recv();
    pid_t pid = fork();
    if (pid == 0) std::exit(0);
    int st = 0;
    goro::blocking([&] { waitpid(pid, &st, 0); });
    say(WIFEXITED(st) ? "child exited " + std::to_string(WEXITSTATUS(st)) : std::string("child killed"));
  });
}

// A trace started and stopped after every static destructor has run (a
// destructor function runs after them, from exit()), with goroutines on
// the workers registering their buffers meanwhile: the runtime's threads
// outlive static destruction, so the tracer's state must too. The trace
// goes to $GORO_TRACE_AFTER_EXIT; the scenario only runs when it is set.
const char* g_trace_after_exit_path = nullptr;

[[gnu::destructor]] void trace_after_static_destructors() {
  if (g_trace_after_exit_path == nullptr) return;
  if (!goro::trace::start(g_trace_after_exit_path)) _exit(3);
  goro::wait_group wg;
  for (int i = 0; i < 8; i++) {
    wg.add(1);
    goro::go([&wg] {
      goro::yield();
      wg.done();
    });
  }
  wg.wait();
  if (!goro::trace::stop()) _exit(4);
  say("traced after static destructors");
}

int trace_after_exit() {
  g_trace_after_exit_path = std::getenv("GORO_TRACE_AFTER_EXIT");
  if (g_trace_after_exit_path == nullptr) return 64;
  // Start the runtime's workers before exit, as a program that used goro.
  goro::run([] { goro::go([] {}); });
  return 0;
}

// Threads of this process (/proc/self/task entries).
int thread_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) n++;
  return n;
}

// Asking for the goroutine ids before anything started the runtime finds
// none and starts nothing: a leak-check listener takes that snapshot
// before each test, and must not start the runtime before the test sets
// the environment it reads (GORO_SCAVENGE_MS, GORO_MAXPROCS, ...).
int ids_before_start() {
  const int before = thread_count();
  const size_t ids = goro::debug::goroutine_ids().size();
  const int after = thread_count();
  say("ids " + std::to_string(ids) + ", threads " + std::to_string(before) + " -> " + std::to_string(after));
  return ids == 0 && after == before ? 0 : 1;
}

// ---- fork ------------------------------------------------------------------

// Waits for the child `pid` for 4 s at most; see fork_and_wait.
int wait_child(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + 4s;
  int st = 0;
  while (waitpid(pid, &st, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      say("child hung");
      return 3;
    }
    std::this_thread::sleep_for(1ms);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// A forked child that calls exit() runs the forking thread's thread_local
// destructors, and some take a runtime lock, which in the child is the
// parent's: a thread that fork() left behind may hold it for good. This
// forks from a plain thread that first ran `prepare` (which leaves such a
// destructor behind) while another plain thread runs `take` and stops
// inside that lock (the seam `hook`). The child runs `in_child` (if any),
// then exit(). Prints how the child ended.
std::atomic<int> g_seam_holds{0};
std::atomic<bool> g_seam_release{false};
goro::chan<int>* g_closed_after_release = nullptr;  // for a `take` that must block

void hold_in_seam() {
  g_seam_holds.fetch_add(1);
  while (!g_seam_release.load()) std::this_thread::yield();
}

int fork_while_a_lock_is_held(std::atomic<void (*)()>& hook, void (*prepare)(), void (*take)(),
                              void (*in_child)() = nullptr) {
  return goro::run([&] {
    int rc = -1;
    auto closed_after_release = goro::make_chan<int>();
    g_closed_after_release = &closed_after_release;
    std::thread forker([&] {
      prepare();
      hook.store(hold_in_seam);
      std::thread holder(take);
      while (g_seam_holds.load() == 0) std::this_thread::yield();
      pid_t pid = fork();
      if (pid == 0) {
        if (in_child != nullptr) in_child();
        std::exit(0);
      }
      rc = wait_child(pid);
      hook.store(nullptr);
      g_seam_release.store(true);
      closed_after_release.close();
      holder.join();
    });
    goro::blocking([&] { forker.join(); });
    say("child exited " + std::to_string(rc));
  });
}

// The trace's buffer registry (run with GORO_TRACE set): a thread's first
// event (here its go()) registers its buffer, and the buffer's owner
// unregisters it at the thread's exit (trace_fork_child_exit hung about 1
// run in 40 under ASan: a worker was registering its buffer).
int fork_while_a_trace_buffer_registers() {
  return fork_while_a_lock_is_held(
      goro::detail::test_hooks::trace_registering_buffer, [] { goro::go([] {}); }, [] { goro::go([] {}); });
}

// The deadlock check's thread registry: a thread that declared itself
// (ignore_thread_in_deadlock_check) is taken off it at its exit; a plain
// thread's first block (here on a channel closed only after the fork)
// registers its waiter record.
int fork_while_the_thread_registry_is_held() {
  return fork_while_a_lock_is_held(
      goro::detail::test_hooks::thread_waiter_registering, [] { goro::ignore_thread_in_deadlock_check(); },
      [] { g_closed_after_release->recv(); });
}

// The pool of plain threads' fd wakers: a thread that waited for an fd
// gives its waker back at its exit; a thread's first wait takes one.
void wait_for_a_readable_pipe() {
  int fds[2];
  if (pipe(fds) != 0 || write(fds[1], "x", 1) != 1) std::abort();
  if (goro::wait_fd(fds[0], goro::io::read)) std::abort();
  close(fds[0]);
  close(fds[1]);
}

// The lock-order check (run with GORO_DEBUG=lockorder=1): every goro
// mutex's lock and unlock takes its detector's spinlock. The child locks
// and unlocks a mutex, as the pthread_atfork idiom does.
goro::mutex g_child_mutex{goro::mutex::never_biased_t{}};

int fork_while_the_lock_order_check_is_held() {
  return fork_while_a_lock_is_held(
      goro::detail::test_hooks::lock_order_recording,
      [] {
        g_child_mutex.lock();
        g_child_mutex.unlock();
      },
      [] {
        goro::mutex mu;
        mu.lock();
        mu.unlock();
      },
      [] {
        g_child_mutex.lock();
        g_child_mutex.unlock();
      });
}

int fork_while_the_waker_pool_is_held() {
  return fork_while_a_lock_is_held(goro::detail::test_hooks::waker_pool_locked, wait_for_a_readable_pipe,
                                   wait_for_a_readable_pipe);
}

// A child forked from a goroutine that holds a mutex through its bias,
// while a plain thread waits to lock it (a revoker, enlisted in the
// process-wide list of src/sync/mutex_bias.cpp), unlocks the mutex: the
// pthread_atfork idiom (lock before fork, unlock in both). The unlock
// sees a waiting revoker in the list, which in the child is the parent's:
// waking it used the runtime there (the fatal fork report). Prints how
// the child ended.
int fork_child_unlocks_a_biased_mutex() {
  return goro::run([] {
    if (!goro::detail::mutex_bias_enabled()) {
      say("no bias here (no membarrier, or GORO_DEBUG=mutexbias=0)");
      return;
    }
    goro::mutex mu;
    for (int i = 0; i < 2; i++) {  // two holds in a row: biased to main
      mu.lock();
      mu.unlock();
    }
    mu.lock();  // through the bias
    std::thread revoker([&] {
      mu.lock();
      mu.unlock();
    });
    while (goro::detail::mutex_bias_revokers.n.load() == 0) goro::yield();
    pid_t pid = fork();
    if (pid == 0) {
      mu.unlock();
      _exit(0);
    }
    const int rc = goro::blocking([&] { return wait_child(pid); });
    mu.unlock();
    goro::blocking([&] { revoker.join(); });
    say("child exited " + std::to_string(rc));
  });
}

// Runs child() in a child process forked from the calling thread (a
// goroutine's worker or a plain thread) and waits for it, 4 s at most: a
// child still alive then is hung, is killed, and the scenario says so and
// exits 3 (a runtime that hangs in the child must fail the test, not leave
// a stray process behind the crash test's watchdog). Returns the child's
// exit status (128 + the signal if one killed it); the child's stderr is
// the scenario's. child() returning means goro let it carry on.
int fork_and_wait(void (*child)()) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    say("fork failed");
    return 4;
  }
  if (pid == 0) {
    child();
    say("child carried on");
    _exit(0);
  }
  return wait_child(pid);
}

// The child runs the misuse in a goroutine forked from: fork() in the main
// goroutine of a running goro::run, with another goroutine parked on a
// channel (so the runtime has goroutines the child cannot run).
int fork_in_goroutine(void (*child)()) {
  int status = 0;
  goro::run([&status, child] {
    auto never = goro::make_chan<int>();
    goro::wait_group started;
    started.add(1);
    goro::go([never, &started] {
      started.done();
      never.recv();
    });
    started.wait();
    status = fork_and_wait(child);
    never.close();
  });
  return status;
}

// The same from a plain thread (main) after run() returned: the runtime's
// threads are still up in the parent.
int fork_in_thread(void (*child)()) {
  goro::run([] {});
  return fork_and_wait(child);
}

// An unbuffered channel with a goroutine of the parent blocked receiving
// on it, for the child to send on (a send that must wake that goroutine).
goro::chan<int>* g_receiving_chan = nullptr;

int fork_child_wakes() {
  int status = 0;
  goro::run([&status] {
    auto ch = goro::make_chan<int>();
    g_receiving_chan = &ch;
    goro::wait_group got;
    got.add(1);
    goro::go([ch, &got] {
      ch.recv();
      got.done();
    });
    // Wait until the receiver is parked on the channel.
    while (goro::num_goroutine() < 2) goro::yield();
    goro::sleep_for(20ms);
    status = fork_and_wait([] {
      say("child sending");
      g_receiving_chan->send(1);
    });
    ch.send(1);
    got.wait();
  });
  return status;
}

// The forking goroutine returns in the child: its exit has no scheduler to
// go back to.
int fork_child_goroutine_returns() {
  int status = 0;
  goro::run([&status] {
    goro::wait_group done;
    done.add(1);
    goro::go([&status, &done] {
      std::fflush(nullptr);
      pid_t pid = fork();
      if (pid == 0) {
        say("child returning from its goroutine");
        return;
      }
      status = wait_child(pid);
      done.done();
    });
    done.wait();
  });
  return status;
}

#if defined(GORO_ASAN)
// LeakSanitizer's at-exit check, turned off in a child that exits through
// exit(): the parent's threads are gone there, so everything they
// reference looks leaked.
volatile int g_lsan_off = 0;
}  // namespace
extern "C" int __lsan_is_turned_off() { return g_lsan_off; }
namespace {
void exit_quietly_from_child() { g_lsan_off = 1; }
#else
void exit_quietly_from_child() {}
#endif

// fork + exec, the supported use, from a goroutine and from a plain thread;
// and a child that exits without calling goro. Exits 0 if all three
// children exited 0 and the runtime still works in the parent.
int fork_exec() {
  auto exec_true = [] {
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    _exit(127);
  };
  int rc = goro::run([&] {
    int st = fork_and_wait(exec_true);
    say("exec from a goroutine: " + std::to_string(st));
    if (st != 0) return 1;
    st = fork_and_wait([] {
      exit_quietly_from_child();
      std::exit(0);
    });
    say("plain exit from a goroutine's child: " + std::to_string(st));
    if (st != 0) return 1;
    st = goro::blocking([] { return std::system("exit 0"); });
    say("system from a goroutine: " + std::to_string(st));
    return st == 0 ? 0 : 1;
  });
  if (rc != 0) return rc;
  int st = fork_and_wait(exec_true);
  say("exec from a plain thread: " + std::to_string(st));
  if (st != 0) return 1;
  // The parent's runtime is unaffected.
  return goro::run([] {
    auto ch = goro::make_chan<int>();
    goro::go([ch] { ch.send(7); });
    int v = ch.recv();
    say("parent still runs goroutines: " + std::to_string(v));
    return v == 7 ? 0 : 1;
  });
}

// A child forked before the runtime started may start its own.
int fork_before_start() {
  return fork_and_wait([] {
    int v = goro::run([] {
      auto ch = goro::make_chan<int>();
      goro::go([ch] { ch.send(5); });
      return ch.recv();
    });
    say("child's own runtime ran: " + std::to_string(v));
    _exit(v == 5 ? 0 : 1);
  });
}

struct scenario {
  const char* name;
  int (*fn)();
};

const scenario kScenarios[] = {
    {"unlock_unlocked_mutex", unlock_unlocked_mutex},
    {"unlock_unlocked_mutex_thread", unlock_unlocked_mutex_thread},
    {"unlock_unlocked_biased_mutex", unlock_unlocked_biased_mutex},
    {"unlock_mutex_being_handed_over", unlock_mutex_being_handed_over},
    {"deadlock_biased_mutex_relock", deadlock_biased_mutex_relock},
    {"unlock_unlocked_rwmutex", unlock_unlocked_rwmutex},
    {"runlock_unlocked_rwmutex", runlock_unlocked_rwmutex},
    {"deadlock_mutex_order", deadlock_mutex_order},
    {"lock_order_inversion", lock_order_inversion},
    {"lock_order_rwmutex", lock_order_rwmutex},
    {"thread_lock_across_park", thread_lock_across_park},
    {"race_mutex_ordered", race_mutex_ordered},
    {"errno_on_a_later_worker", errno_on_a_later_worker},
    {"race_across_a_new_worker", race_across_a_new_worker},
    {"race_rwmutex_readers", race_rwmutex_readers},
    {"deadlock", deadlock},
    {"trace_at_exit", trace_at_exit},
    {"trace_fork_child_exit", trace_fork_child_exit},
    {"fork_while_a_trace_buffer_registers", fork_while_a_trace_buffer_registers},
    {"fork_while_the_thread_registry_is_held", fork_while_the_thread_registry_is_held},
    {"fork_while_the_waker_pool_is_held", fork_while_the_waker_pool_is_held},
    {"fork_while_the_lock_order_check_is_held", fork_while_the_lock_order_check_is_held},
    {"fork_child_unlocks_a_biased_mutex", fork_child_unlocks_a_biased_mutex},
    {"trace_after_exit", trace_after_exit},
    {"ids_before_start", ids_before_start},
    {"deadlock_after_sleep", deadlock_after_sleep},
    {"deadlock_after_dropped_timers", deadlock_after_dropped_timers},
    {"deadlock_after_stopped_timers", deadlock_after_stopped_timers},
    {"deadlock_stacks", deadlock_stacks},
    {"sigquit", sigquit},
    {"deadlock_sites", deadlock_sites},
    {"no_deadlock_thread", no_deadlock_thread},
    {"deadlock_thread_parked", deadlock_thread_parked},
    {"deadlock_thread_parks_last", deadlock_thread_parks_last},
    {"thread_exhaustion", thread_exhaustion},
    {"fatal_under_g_list_lock", fatal_under_g_list_lock},
    {"deadlock_ignored_threads", deadlock_ignored_threads},
    {"grace_warning_names_thread", grace_warning_names_thread},
    {"deadlock_beside_unread_timers", deadlock_beside_unread_timers},
    {"no_deadlock_select_on_after", no_deadlock_select_on_after},
    {"thread_lock_across_preempt", thread_lock_across_preempt},
    {"no_deadlock_while_a_signal_dispatch_runs", no_deadlock_while_a_signal_dispatch_runs},
    {"panic", panic_escape},
    {"panic_long_message", panic_long_message},
    {"main_returns_during_a_panic", main_returns_during_a_panic},
    {"thread_limit_lowered", thread_limit_lowered},
    {"panics_at_once", panics_at_once},
    {"panic_misuse", panic_misuse},
    {"panic_small_stack", panic_small_stack},
    {"panic_main", panic_main},
    {"stack_overflow_small", [] { return overflow(64 * 1024); }},
    {"stack_overflow_default", [] { return overflow(0); }},
    {"stack_overflow_released", overflow_after_release},
    {"stack_overflow_after_a_fault_the_programs_handler_took", overflow_after_a_fault_the_programs_handler_took},
    {"foreign_fault_with_a_one_shot_handler", foreign_fault_with_a_one_shot_handler},
    {"stack_overflow_started_by_a_thread", [] { return overflow_started_by("thread", false); }},
    {"stack_overflow_started_by_after_func", [] { return overflow_started_by("after_func", false); }},
    {"stack_overflow_started_by_a_thread_no_report_stack", [] { return overflow_started_by("thread", true); }},
    {"stack_overflow_after_dedicated_churn", stack_overflow_after_dedicated_churn},
    {"stack_guard_maps", stack_guard_maps},
    {"pool_in_use_at_exit", pool_in_use_at_exit},
    {"custom_stack_runs", custom_stack_runs},
    {"race", race},
    {"race_sequential", race_sequential},
    {"race_close_orders_no_waiter_after_another", race_close_orders_no_waiter_after_another},
    {"race_hidden_by_handle_drop", race_hidden_by_handle_drop},
    {"race_after_sleep", race_after_sleep},
    {"deadlock_after_a_thread_stops_the_live_timer", deadlock_after_a_thread_stops_the_live_timer},
    {"race_atomic", race_atomic},
    {"race_ordered", race_ordered},
    {"timer_sudog_out_of_memory", timer_sudog_out_of_memory},
    {"stacks_in_another_ps_cache", stacks_in_another_ps_cache},
    {"after_func_without_a_goroutine", after_func_without_a_goroutine},
    // goro in a child forked after the runtime started: each must die
    // with the fork report, not hang or carry on.
    {"fork_child_go", [] { return fork_in_goroutine([] { goro::go([] {}); }); }},
    {"fork_child_run", [] { return fork_in_thread([] { goro::run([] {}); }); }},
    {"fork_child_recv", [] { return fork_in_goroutine([] { goro::make_chan<int>().recv(); }); }},
    {"fork_child_thread_recv", [] { return fork_in_thread([] { goro::make_chan<int>().recv(); }); }},
    {"fork_child_select",
     [] {
       return fork_in_goroutine([] {
         auto a = goro::make_chan<int>();
         auto b = goro::make_chan<int>();
         goro::select(goro::on_recv(a), goro::on_recv(b));
       });
     }},
    {"fork_child_wait_group",
     [] {
       return fork_in_thread([] {
         goro::wait_group wg;
         wg.add(1);
         wg.wait();
       });
     }},
    {"fork_child_after", [] { return fork_in_goroutine([] { (void)goro::after(1ms); }); }},
    {"fork_child_wakes", fork_child_wakes},
    // The forking goroutine itself returns in the child.
    {"fork_child_goroutine_returns", fork_child_goroutine_returns},
    {"fork_exec", fork_exec},
    {"fork_before_start", fork_before_start},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2) {
    for (const scenario& s : kScenarios)
      if (std::strcmp(argv[1], s.name) == 0) return s.fn();
  }
  std::fprintf(stderr, "usage: %s SCENARIO\nscenarios:", argc > 0 ? argv[0] : "goro_crash_scenarios");
  for (const scenario& s : kScenarios) std::fprintf(stderr, " %s", s.name);
  std::fprintf(stderr, "\n");
  return 64;
}
