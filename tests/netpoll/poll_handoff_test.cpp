// The idle worker that polls (sched/proc.cpp stop_m) is handed a P by
// startm, and before it is back from epoll_wait another worker goes idle:
// that one takes the timed sleeper's role but sleeps on its futex, as one
// M still polls. When the first leaves with its P, nobody polls: a ready
// fd waited for the monitor's round, 10 ms on (Go has this window). The
// leaving M now kicks the sleeper, which polls in its place.
//
// The seams of sched/test_hooks.hpp hold each M at its step, so the race
// happens on every run, and the monitor's poll is switched off, so the
// window shows as a goroutine that is never woken instead of a late one.
// Every wait is on a condition, with long bounds.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "goro/goro.hpp"
#include "goro/io.hpp"
#include "netpoll/netpoll.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
namespace hooks = goro::detail::test_hooks;

namespace {

// Steps of the race: set by the test thread and by the seams.
enum step : int {
  kIdle,
  kEnterArmed,    // test: the next M to go idle stops at stop_m's top
  kIdlerHeld,     // that M (the idler) is held there, its P given back
  kPollArmed,     // test: the polling M stops when it is back from the poll
  kPollerHeld,    // it is back (startm handed it a P: the break)
  kIdlerGo,       // test: the idler may go on
  kIdlerSleeps,   // the idler took the sleeper's role (and sleeps on its futex)
  kPollerGo,      // test: the poller may go on, with its P
};

std::atomic<int> g_step{kIdle};

bool reached(int s) { return g_step.load(std::memory_order_acquire) >= s; }
bool wait_step(int s) { return goro_test::spin_until([s] { return reached(s); }); }

bool advance(int from, int to) { return g_step.compare_exchange_strong(from, to, std::memory_order_acq_rel); }

void on_stop_m_enter() {
  if (advance(kEnterArmed, kIdlerHeld)) wait_step(kIdlerGo);
}

void on_after_poll() {
  if (advance(kPollArmed, kPollerHeld)) wait_step(kPollerGo);
}

void on_after_timer_read(int64_t) {
  // Only the idler reads the timers meanwhile (the poller is held), under
  // sched.lock: it is taking the role, and sleeps once it drops the lock.
  advance(kIdlerGo, kIdlerSleeps);
}

void disarm() {
  hooks::stop_m_enter.store(nullptr);
  hooks::stop_m_after_poll.store(nullptr);
  hooks::stop_m_after_timer_read.store(nullptr);
}

TEST(PollHandoff, AnMThatWentIdleWhileThePollerWasHandedAPPollsInItsPlace) {
  g_step.store(kIdle);  // (--gtest_repeat)
  const int procs = goro::set_maxprocs(2);
  goro::run([] {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0) << strerror(errno);
    hooks::monitor_poll_off.store(true);
    std::atomic<bool> reader_parked{false}, reader_woke{false};
    std::atomic<bool> spinner_running{false}, spinner_stop{false};
    std::atomic<bool> computer_running{false}, computer_saw_reader{false};
    auto finished = goro::make_chan<int>(3);
    {
      // Two workers at least: one to poll, one to run the spinner below
      // (a fresh run may have made one so far). The main goroutine holds
      // its worker until the other has started a goroutine.
      std::atomic<bool> other_running{false};
      auto other_done = goro::make_chan<int>(1);
      goro::go([&] {
        other_running = true;
        other_done.send(0);
      });
      ASSERT_TRUE(goro_test::spin_until([&] { return other_running.load(); }));
      other_done.recv();
    }
    // One P from here on: the M handed it below finds no idle P to wake a
    // spinning M for when it stops spinning (which would rescue the race:
    // that M goes idle after and polls).
    goro::set_maxprocs(1);
    goro::go([&] {
      reader_parked = true;
      EXPECT_FALSE(goro::wait_fd(sv[0], goro::io::read));
      reader_woke = true;
      finished.send(0);
    });
    std::thread test_thread([&] {
      bool ok = goro_test::spin_until([&] { return reader_parked.load(); });
      // Every worker idle, one of them blocked in epoll_wait for the reader.
      ok = ok && goro_test::spin_until([] { return goro::detail::netpoll_blocked(); });
      // A goroutine on another worker, which goes idle below (the idler).
      goro::go([&] {
        spinner_running = true;
        while (!spinner_stop.load()) {
        }
        finished.send(1);
      });
      ok = ok && goro_test::spin_until([&] { return spinner_running.load(); });
      // (The worker that took it may have woken the polling one to spin
      // too, briefly.)
      ok = ok && goro_test::spin_until([] { return goro::detail::netpoll_blocked(); });
      hooks::stop_m_enter.store(on_stop_m_enter);
      hooks::stop_m_after_poll.store(on_after_poll);
      hooks::stop_m_after_timer_read.store(on_after_timer_read);
      g_step.store(kEnterArmed, std::memory_order_release);
      spinner_stop = true;
      ok = ok && wait_step(kIdlerHeld);
      // The idler gave its P back and is not on the idle list yet: the
      // only idle worker startm can hand a P to is the polling one.
      g_step.store(kPollArmed, std::memory_order_release);
      goro::go([&] {
        // Holds the only P until the reader woke, yielding: the worker
        // then runs what is queued, but never polls (it finds itself
        // queued first), as a busy worker.
        computer_running = true;
        auto until = std::chrono::steady_clock::now() + 20s;
        while (!reader_woke.load() && std::chrono::steady_clock::now() < until) goro::yield();
        computer_saw_reader = reader_woke.load();
        finished.send(2);
      });
      ok = ok && wait_step(kPollerHeld);
      g_step.store(kIdlerGo, std::memory_order_release);
      ok = ok && wait_step(kIdlerSleeps);
      g_step.store(kPollerGo, std::memory_order_release);
      disarm();
      ok = ok && goro_test::spin_until([&] { return computer_running.load(); });
      // The reader's fd becomes ready while the computer holds the P and
      // the other worker is idle. Before the fix nobody polled.
      EXPECT_EQ(write(sv[1], "x", 1), 1);
      EXPECT_TRUE(ok) << "the race's steps did not happen in order (step " << g_step.load() << ")";
    });
    for (int i = 0; i < 3; i++) finished.recv();
    goro::blocking([&] { test_thread.join(); });
    disarm();
    hooks::monitor_poll_off.store(false);
    EXPECT_TRUE(computer_saw_reader.load())
        << "the reader's fd was ready for 20 s while a worker was idle and nobody polled";
    goro::close_fd(sv[0]);  // registered with the poller by wait_fd
    close(sv[1]);
  });
  goro::set_maxprocs(procs);
}

}  // namespace
