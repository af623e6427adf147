// goro::signal_notify_context (Go's signal.NotifyContext; its tests in
// src/os/signal/signal_test.go: TestNotifyContextNotifications,
// TestNotifyContextStop, TestNotifyContextCancelParent,
// TestNotifyContextPrematureCancelParent). Signals are raised with raise()
// (tgkill on the calling thread: the handler has run when it returns, so
// no signal is still pending when a test stops its registration and the
// default action comes back), also on a plain thread.
// SIGUSR1/SIGUSR2 only: a test runner does not send them.
//
// What must end or must not end the process (the default action restored
// by stop, the deadlock detector's view of the signal thread) runs in a
// child (child.hpp; the child's side is child_test.cpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "goro/goro.hpp"
#include "signal/child.hpp"
#include "test_util.hpp"

namespace {

using signal_test::child_result;
using signal_test::run_child;

TEST(SignalNotifyContext, CancelledOnSignal) {
  goro_test::for_procs([] {
    auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR1, SIGUSR2});
    EXPECT_FALSE(ctx.err());
    ASSERT_EQ(raise(SIGUSR2), 0);
    ctx.done().recv();
    EXPECT_EQ(ctx.err(), goro::errc::canceled);
    // Still registered until stop: another one is taken, not fatal.
    ASSERT_EQ(raise(SIGUSR2), 0);
    stop();
    stop();
  });
}

TEST(SignalNotifyContext, SeveralContextsAndStopOfOne) {
  auto [a, stop_a] = goro::signal_notify_context(goro::background(), {SIGUSR1});
  auto [b, stop_b] = goro::signal_notify_context(goro::background(), {SIGUSR1});
  stop_a();  // b keeps the handler installed
  EXPECT_EQ(a.err(), goro::errc::canceled);  // Go's stop cancels too
  EXPECT_FALSE(b.err());
  ASSERT_EQ(raise(SIGUSR1), 0);
  b.done().recv();
  EXPECT_EQ(b.err(), goro::errc::canceled);
  stop_b();
}

TEST(SignalNotifyContext, ParentCancel) {
  auto [parent, cancel] = goro::with_cancel(goro::background());
  auto [ctx, stop] = goro::signal_notify_context(parent, {SIGUSR1});
  cancel();
  ctx.done().recv();
  EXPECT_EQ(ctx.err(), goro::errc::canceled);
  stop();
  // Parent already cancelled.
  auto [ctx2, stop2] = goro::signal_notify_context(parent, {SIGUSR1});
  EXPECT_EQ(ctx2.err(), goro::errc::canceled);
  stop2();
}

// The signal taken on a plain thread of the user's. (raise there, not
// kill: under TSan a process-directed signal the kernel gives to a thread
// sleeping in the runtime's futex waits, deferred by TSan's interceptor,
// until that thread wakes; goro's own waits are raw futex calls TSan does
// not see. Without TSan kill works from anywhere: the runtime's handler
// runs on whichever thread takes it.)
TEST(SignalNotifyContext, FromAPlainThreadsSignal) {
  auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR1});
  std::thread t([] { raise(SIGUSR1); });
  ctx.done().recv();
  t.join();
  stop();
}

// A process-directed signal (kill(2): SIGTERM from a shell or from
// `timeout`) that the kernel gives to main while main sleeps in the
// runtime's futex wait. Under TSan, which holds a signal until its thread
// makes an intercepted call, the handler never ran and the context was
// never cancelled (example 37 hung under TSan); the runtime's waits now
// wake for that every 20 ms under TSan. Any build: the context is
// cancelled by the signal. The killer waits until main sleeps in futex(2)
// (/proc's syscall file), so that the signal lands there; a fallback
// cancel ends main's wait if the signal never does (the test then fails
// instead of hanging).
TEST(SignalNotifyContext, ProcessDirectedSignalReachesMainAsleepInTheRuntime) {
  auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR1});
  auto [wait_ctx, fallback] = goro::with_cancel(ctx);
  std::atomic<bool> signalled_in_time{false};
  std::thread killer([&, ctx = ctx, fallback = fallback] {
    const std::string path = "/proc/self/task/" + std::to_string(getpid()) + "/syscall";
    for (int i = 0; i < 20000; i++) {  // until main sleeps in futex (202 on x86-64, 98 on aarch64)
      std::ifstream f(path);
      std::string nr;
      f >> nr;
      if (nr == "202" || nr == "98") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
    for (int i = 0; i < 20000 && !ctx.err(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    signalled_in_time = ctx.err() == goro::errc::canceled;
    fallback();
  });
  wait_ctx.done().recv();
  killer.join();
  EXPECT_TRUE(signalled_in_time.load()) << "the signal given to main, asleep in the runtime, was never handled";
  stop();
}

TEST(SignalNotifyContext, RejectsUntakeableSignals) {
  EXPECT_THROW(goro::signal_notify_context(goro::background(), {SIGKILL}), std::system_error);
  EXPECT_THROW(goro::signal_notify_context(goro::background(), {SIGSEGV}), std::system_error);
  EXPECT_THROW(goro::signal_notify_context(goro::background(), {0}), std::system_error);
}

// After stop, the signal's earlier action (the default: terminate) is back;
// before it, a repeated signal is taken.
TEST(SignalNotifyContext, StopRestoresDefaultAction) {
  child_result r = run_child("default_action");
  EXPECT_FALSE(r.exited) << r.out;
  EXPECT_EQ(r.status, SIGUSR1) << r.out;
  EXPECT_NE(r.out.find("stopped; raising again"), std::string::npos) << r.out;
}

// main blocked on a signal context's done() is not a deadlock: the signal
// thread may still cancel it (Go's signal.Notify keeps the program alive).
TEST(SignalNotifyContext, WaitingForASignalIsNotADeadlock) {
  child_result r = run_child("wait_for_signal");
  EXPECT_TRUE(r.exited) << r.out;
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("woken by the signal"), std::string::npos) << r.out;
}

// Once nothing is registered, the signal thread does not hide a deadlock.
TEST(SignalNotifyContext, NoRegistrationNoAlibi) {
  child_result r = run_child("deadlock_after_stop");
  EXPECT_TRUE(r.exited) << r.out;
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("all goroutines are asleep - deadlock!"), std::string::npos) << r.out;
}

}  // namespace
