// goro_crash_scenarios: programs that must die (or must not) the way Go's
// would, one per scenario name given in argv[1]. crash_test.cpp runs each
// one as a subprocess and checks its exit status and its stderr; a crash
// can only be tested from outside the process that crashes.
//
// Go is the reference for every report:
//   deadlock        fatal error: all goroutines are asleep - deadlock!  (exit 2)
//   escaped throw   panic: <what()> / goroutine N [running]: / created by  (exit 2)
//   stack overflow  goroutine N: stack overflow / created by  (exit 2)
//   data race       WARNING: ThreadSanitizer: data race  (TSan build, exit 66)
//
// Progress markers go to stdout (written with write(2), so they survive
// _exit), reports come on stderr: the test can then check that stderr
// *starts* with the report and that a marker came before it.
#include <goro/goro.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

using namespace std::chrono_literals;

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

// An exception escapes a goroutine: Go's unrecovered panic.
int panic_escape() {
  return goro::run([] {
    goro::wait_group never;
    never.add(1);
    goro::go([] {
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

int overflow(size_t stack_size) {
  return goro::run([stack_size] {
    goro::wait_group never;
    never.add(1);
    goro::go_with({.stack_size = stack_size}, [] {
      say("overflowing goroutine " + std::to_string(goro::goroutine_id()));
      int r = recurse_forever(0);
      say("unreachable: recursion returned " + std::to_string(r));
    });
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
    constexpr int kBurst = 2000;
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
      say("overflowing goroutine " + std::to_string(goro::goroutine_id()));
      int r = recurse_forever(0);
      say("unreachable: recursion returned " + std::to_string(r));
    });
    never.wait();
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

struct scenario {
  const char* name;
  int (*fn)();
};

const scenario kScenarios[] = {
    {"deadlock", deadlock},
    {"deadlock_after_sleep", deadlock_after_sleep},
    {"deadlock_after_dropped_timers", deadlock_after_dropped_timers},
    {"deadlock_stacks", deadlock_stacks},
    {"no_deadlock_thread", no_deadlock_thread},
    {"deadlock_thread_parked", deadlock_thread_parked},
    {"deadlock_thread_parks_last", deadlock_thread_parks_last},
    {"panic", panic_escape},
    {"panic_misuse", panic_misuse},
    {"panic_main", panic_main},
    {"stack_overflow_small", [] { return overflow(64 * 1024); }},
    {"stack_overflow_default", [] { return overflow(0); }},
    {"stack_overflow_released", overflow_after_release},
    {"custom_stack_runs", custom_stack_runs},
    {"race", race},
    {"race_sequential", race_sequential},
    {"race_atomic", race_atomic},
    {"race_ordered", race_ordered},
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
