// The child side of tests/signal's scenarios (child.hpp runs them): does
// nothing unless GORO_SIGNAL_CHILD names a scenario.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "goro/goro.hpp"

namespace {

TEST(SignalChild, Run) {
  const char* s = std::getenv("GORO_SIGNAL_CHILD");
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
  } else if (scenario == "notify_stop") {
    goro::run([] {
      auto c = goro::make_chan<int>(1);
      goro::signal_notify(c, {SIGUSR1});
      raise(SIGUSR1);
      if (c.recv() != SIGUSR1) std::_Exit(4);
      goro::signal_stop(c);
      std::printf("stopped; raising again\n");
      std::fflush(stdout);
      raise(SIGUSR1);  // default action: the process ends here, in raise
      std::printf("still alive after the signal\n");
      std::fflush(stdout);
      std::_Exit(3);
    });
  } else if (scenario == "reset") {
    goro::run([] {
      auto c = goro::make_chan<int>(1);
      goro::signal_notify(c, {SIGUSR2});
      auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR2});
      goro::signal_reset({SIGUSR2});  // both registrations, so the default is back
      std::printf("reset; raising\n");
      std::fflush(stdout);
      raise(SIGUSR2);
      std::printf("still alive after the signal\n");
      std::fflush(stdout);
      std::_Exit(3);
    });
  } else if (scenario == "ignore") {
    goro::run([] {
      if (goro::signal_ignored(SIGUSR1)) std::_Exit(4);
      goro::signal_ignore({SIGUSR1});
      if (!goro::signal_ignored(SIGUSR1)) std::_Exit(5);
      raise(SIGUSR1);  // ignored: nothing happens
      auto c = goro::make_chan<int>(1);
      goro::signal_notify(c, {SIGUSR1});  // taken again
      if (goro::signal_ignored(SIGUSR1)) std::_Exit(6);
      raise(SIGUSR1);
      if (c.recv() != SIGUSR1) std::_Exit(7);
      goro::signal_stop(c);  // back to ignored, the action before notify
      if (!goro::signal_ignored(SIGUSR1)) std::_Exit(8);
      raise(SIGUSR1);
      std::printf("ignored throughout\n");
      std::fflush(stdout);
    });
    std::_Exit(0);
  } else if (scenario == "notify_wait") {
    // The grace warning would come after 50 ms: waiting for a signal must
    // not bring one (goro-signal is the runtime's, not the user's to declare).
    setenv("GORO_DEADLOCK_GRACE_MS", "50", 1);
    goro::run([] {
      auto c = goro::make_chan<int>(1);
      goro::signal_notify(c, {SIGUSR1});
      std::atomic<bool> declared{false};
      std::thread t([&declared] {
        goro::ignore_thread_in_deadlock_check();  // only the signal thread may wake main
        declared = true;
        // As in wait_for_signal: the test can only pass wrongly if the
        // detector takes longer than this to look.
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
        raise(SIGUSR1);
      });
      t.detach();
      // Declared before main parks: else the grace warning could name
      // this thread, which is the user's to declare (and is, here).
      while (!declared.load()) goro::yield();
      if (c.recv() != SIGUSR1) std::_Exit(4);
      std::printf("woken by the signal\n");
      std::fflush(stdout);
      goro::signal_stop(c);
    });
    std::_Exit(0);
  } else if (scenario == "closed_channel") {
    goro::run([] {
      auto c = goro::make_chan<int>(1);
      goro::signal_notify(c, {SIGUSR1});
      c.close();
      raise(SIGUSR1);
      goro::sleep_for(std::chrono::seconds(60));  // the relay ends the process first
      std::printf("not ended by the closed channel\n");
      std::fflush(stdout);
      std::_Exit(3);
    });
  } else if (scenario == "fork_before_the_runtime_starts") {
    // Registrations made before the runtime starts, then a fork: the child
    // starts a runtime of its own (sched/fork.cpp) and must find the signal
    // state of a fresh process, the parent's left alone.
    auto c = goro::make_chan<int>(4);
    goro::signal_notify(c, {SIGUSR1});
    auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR2});
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(60);  // a hang ends the child by SIGALRM instead of hanging the test
      goro::run([c, stop = stop] {
        goro::signal_stop(c);  // the parent's registration: nothing to stop here
        stop();                // the parent's context: likewise
        auto mine = goro::make_chan<int>(1);
        goro::signal_notify(mine, {SIGUSR1});
        raise(SIGUSR1);
        if (mine.recv() != SIGUSR1) std::_Exit(4);
        goro::signal_stop(mine);
        auto [ctx2, stop2] = goro::signal_notify_context(goro::background(), {SIGUSR2});
        raise(SIGUSR2);
        ctx2.done().recv();
        stop2();
      });
      std::printf("child: its own registrations worked, and its stops returned\n");
      std::fflush(stdout);
      std::_Exit(0);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) std::_Exit(5);
    if (WIFSIGNALED(st)) std::printf("child: ended by signal %d\n", WTERMSIG(st));
    if (WIFEXITED(st)) std::printf("child: exit status %d\n", WEXITSTATUS(st));
    goro::run([c, ctx = ctx] {
      // The parent's relay still serves it, and its signal_stop still waits
      // for the signals taken before it (Go's TestAtomicStop).
      raise(SIGUSR1);
      std::printf("parent: SIGUSR1 %s\n", c.recv() == SIGUSR1 ? "received" : "wrong");
      raise(SIGUSR2);
      ctx.done().recv();
      int missing = 0;
      for (int i = 0; i < 20; i++) {
        auto c2 = goro::make_chan<int>(1);
        goro::signal_notify(c2, {SIGHUP});
        raise(SIGHUP);
        goro::signal_stop(c2);
        if (!c2.try_recv()) missing++;
      }
      std::printf("parent: %d of 20 signals taken before signal_stop missing\n", missing);
      goro::signal_stop(c);
    });
    stop();
    std::fflush(stdout);
    std::_Exit(0);
  }
  std::_Exit(1);
}

}  // namespace
