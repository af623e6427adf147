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
// child: this binary again, with GORO_CTX_SIGNAL_CHILD naming the scenario
// and a filter selecting SignalChild.Run.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "goro/goro.hpp"
#include "test_util.hpp"

extern char** environ;

namespace {

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

TEST(SignalNotifyContext, RejectsUntakeableSignals) {
  EXPECT_THROW(goro::signal_notify_context(goro::background(), {SIGKILL}), std::system_error);
  EXPECT_THROW(goro::signal_notify_context(goro::background(), {SIGSEGV}), std::system_error);
  EXPECT_THROW(goro::signal_notify_context(goro::background(), {0}), std::system_error);
}

struct child_result {
  bool exited = false;
  int status = -1;  // exit code or signal
  std::string out;
};

child_result run_child(const char* scenario) {
  std::string filter = "--gtest_filter=SignalChild.Run";
  std::string env = std::string("GORO_CTX_SIGNAL_CHILD=") + scenario;
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; e++) envs.emplace_back(*e);
  envs.push_back(env);
  std::vector<char*> envp;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, filter.data(), nullptr};
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv, envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  child_result r;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int st = 0;
  EXPECT_EQ(waitpid(pid, &st, 0), pid);
  if (WIFEXITED(st)) {
    r.exited = true;
    r.status = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    r.status = WTERMSIG(st);
  }
  return r;
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

// The child side (does nothing unless run by run_child).
TEST(SignalChild, Run) {
  const char* s = std::getenv("GORO_CTX_SIGNAL_CHILD");
  if (s == nullptr) return;
  std::string scenario = s;
  if (scenario == "default_action") {
    goro::run([] {
      auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR1});
      raise(SIGUSR1);
      ctx.done().recv();
      raise(SIGUSR1);  // taken: the registration lasts until stop
      // The pipe is read in order: once a later registration sees its own
      // signal, the one above was handled (and did not end the process).
      auto [ctx2, stop2] = goro::signal_notify_context(goro::background(), {SIGUSR1});
      raise(SIGUSR1);
      ctx2.done().recv();
      stop();
      stop2();
      std::printf("stopped; raising again\n");
      std::fflush(stdout);
      raise(SIGUSR1);  // default action: the process ends here, in raise
      std::printf("still alive after the signal\n");
      std::fflush(stdout);
      std::_Exit(3);
    });
  } else if (scenario == "wait_for_signal") {
    goro::run([] {
      auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR1});
      std::thread t([] {
        goro::ignore_thread_in_deadlock_check();  // only the signal thread may wake main
        // Long enough for the detector (it reports within ~100 ms) to have
        // looked; the test can only pass wrongly if the machine is slower.
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
        raise(SIGUSR1);
      });
      t.detach();
      ctx.done().recv();
      std::printf("woken by the signal\n");
      std::fflush(stdout);
      stop();
    });
    std::_Exit(0);
  } else if (scenario == "deadlock_after_stop") {
    goro::run([] {
      auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR1});
      stop();
      goro::chan<int>{}.recv();  // blocks forever: a deadlock
    });
  }
  std::_Exit(1);
}

}  // namespace
