// The timed sleeper: the one idle worker that sleeps until the earliest
// timer (sched/proc.cpp stop_m), and wake_for_timer (time/timers.cpp),
// which kicks it when a timer earlier than its published deadline is
// added. A timer added while the sleeper rereads the heaps must be either
// in what it reads or kick it; otherwise it sleeps past the timer until
// the monitor's rescue (a millisecond after the timer is due, or never
// when the sleeper takes no deadline at all, as here until the monitor's
// round).
//
// The seams of sched/test_hooks.hpp stop the sleeper between its steps,
// so the race happens on every run. The timers are due in 20-30 s and the
// test waits for conditions only (bounded well before the monitor could
// step in): nothing here depends on how fast the machine is.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "goro/goro.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
namespace hooks = goro::detail::test_hooks;

namespace {

// Steps of the race, advanced by the sleeper's seams and the test thread.
enum step : int {
  kIdle,
  kArmed,          // test: hooks set, a timer added to kick the sleeper
  kSleeperBefore,  // sleeper: about to read the heaps
  kKickerStopped,  // test: the kicking timer stopped (the heaps hold none)
  kSleeperRead,    // sleeper: read the heaps; test: add the late timer now
  kLateAdded,      // test: the late timer's add has returned
  kSleeperDone,    // sleeper: on its way to publish what it read
};

std::atomic<int> g_step{kIdle};

bool wait_step(int s) {
  return goro_test::spin_until([s] { return g_step.load(std::memory_order_acquire) >= s; });
}

void before_read() {
  int expected = kArmed;
  if (!g_step.compare_exchange_strong(expected, kSleeperBefore, std::memory_order_acq_rel)) return;
  wait_step(kKickerStopped);
}

void after_read(int64_t) {
  if (g_step.load(std::memory_order_acquire) != kKickerStopped) return;
  g_step.store(kSleeperRead, std::memory_order_release);
  // Wait until the late timer is on its P's heap: this read missed it.
  goro_test::spin_until([] { return hooks::earliest_timer() != INT64_MAX; });
  // Its adder now reads the published deadline. If that deadline is
  // "none", the adder kicks us, under sched.lock, which we hold: do not
  // wait for it. Otherwise it decides without the lock: let it finish.
  if (hooks::timed_sleep_until() != INT64_MAX) wait_step(kLateAdded);
  g_step.store(kSleeperDone, std::memory_order_release);
}

TEST(TimedSleeper, TimerAddedWhileTheSleeperRereadsTheHeapsIsNotSleptPast) {
  goro::set_maxprocs(1);
  goro::run([] {
    auto finished = goro::make_chan<bool>();
    std::thread test_thread([&] {
      bool ok = true;
      // The main goroutine parks below; its worker becomes the timed
      // sleeper for b (20 s).
      goro::timer b = goro::new_timer(20s);
      ok = ok && goro_test::spin_until([] { return hooks::timed_sleep_until() != INT64_MAX; });
      // The sleeper keeps b's deadline published; the heaps hold nothing.
      b.stop();
      hooks::stop_m_before_timer_read.store(before_read);
      hooks::stop_m_after_timer_read.store(after_read);
      g_step.store(kArmed, std::memory_order_release);
      // Earlier than b's deadline: kicks the sleeper to reread the heaps.
      goro::timer kicker = goro::new_timer(10s);
      ok = ok && wait_step(kSleeperBefore);
      kicker.stop();
      g_step.store(kKickerStopped, std::memory_order_release);
      ok = ok && wait_step(kSleeperRead);
      // Later than b's deadline, which is still published.
      goro::timer late = goro::new_timer(30s);
      // (With the fix the add returns only after the sleeper's step.)
      int read = kSleeperRead;
      g_step.compare_exchange_strong(read, kLateAdded, std::memory_order_acq_rel);
      ok = ok && wait_step(kSleeperDone);
      hooks::stop_m_before_timer_read.store(nullptr);
      hooks::stop_m_after_timer_read.store(nullptr);
      // The sleeper must come to sleep until `late`, not past it (before
      // the fix it slept with no deadline: the monitor would have woken a
      // worker 30 s from now).
      bool woken_for_late = goro_test::spin_until(
          [] {
            int64_t until = hooks::timed_sleep_until();
            return until != INT64_MAX && until <= hooks::earliest_timer();
          },
          15s);
      EXPECT_TRUE(ok) << "the race's steps did not happen in order";
      EXPECT_TRUE(woken_for_late) << "the timed sleeper sleeps past a timer added while it reread the heaps";
      late.stop();
      finished.send(true);
    });
    finished.recv();
    goro::blocking([&] { test_thread.join(); });
  });
}

}  // namespace
