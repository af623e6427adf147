// goro::signal_notify, signal_stop, signal_reset, signal_ignore (Go's
// signal.Notify, Stop, Reset, Ignore; their tests in
// src/os/signal/signal_test.go: TestSignal, TestStop, TestReset,
// TestIgnored...). Signals are raised with raise() (the handler has run
// when it returns) and only SIGUSR1, SIGUSR2 and SIGWINCH, which a test
// runner does not send.
//
// The relay reads its pipe in order and serves every registration of a
// signal in one step, so once a probe channel registered for the same
// signal has received the n-th raise, every other registration has been
// offered that raise too: that is how these tests know a signal was NOT
// delivered without waiting for time to pass. A signal nobody is
// registered for would end the process (its default action): a test that
// unregisters keeps a probe registered while it raises; what must end
// the process runs in a child (child_test.cpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "signal/child.hpp"
#include "test_util.hpp"

namespace {

using signal_test::child_result;
using signal_test::run_child;

TEST(SignalNotify, DeliversTheSignalsNumber) {
  goro_test::for_procs([] {
    auto c = goro::make_chan<int>(2);
    goro::signal_notify(c, {SIGUSR1, SIGUSR2});
    ASSERT_EQ(raise(SIGUSR2), 0);
    EXPECT_EQ(c.recv(), SIGUSR2);
    ASSERT_EQ(raise(SIGUSR1), 0);
    EXPECT_EQ(c.recv(), SIGUSR1);
    goro::signal_stop(c);
  });
}

// A goroutine parked on the channel is woken by a signal a plain thread
// takes.
TEST(SignalNotify, WakesAGoroutineParkedOnTheChannel) {
  goro::run([] {
    auto c = goro::make_chan<int>(1);
    goro::signal_notify(c, {SIGUSR1});
    auto got = goro::make_chan<int>();
    goro::go([&] { got.send(c.recv()); });
    std::thread t([] { raise(SIGUSR1); });
    EXPECT_EQ(got.recv(), SIGUSR1);
    t.join();
    goro::signal_stop(c);
  });
}

// Go's TestSignal with several channels: each registration gets its own
// copy, contexts included.
TEST(SignalNotify, EachRegistrationGetsItsOwnCopy) {
  auto a = goro::make_chan<int>(1);
  auto b = goro::make_chan<int>(1);
  goro::signal_notify(a, {SIGUSR1});
  goro::signal_notify(b, {SIGUSR1});
  auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR1});
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(a.recv(), SIGUSR1);
  EXPECT_EQ(b.recv(), SIGUSR1);
  ctx.done().recv();
  goro::signal_stop(a);
  goro::signal_stop(b);
  stop();
}

TEST(SignalNotify, RepeatedCallsAddSignals) {
  auto c = goro::make_chan<int>(2);
  goro::signal_notify(c, {SIGUSR1});
  goro::signal_notify(c, {SIGUSR2});
  goro::signal_notify(c, {SIGUSR1});  // already there: no second copy
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(raise(SIGUSR2), 0);
  EXPECT_EQ(c.recv(), SIGUSR1);
  EXPECT_EQ(c.recv(), SIGUSR2);
  EXPECT_EQ(c.len(), 0);
  goro::signal_stop(c);
}

// The send never blocks: a full channel misses the signal (Go's "package
// signal will not block sending to c").
TEST(SignalNotify, AFullChannelMissesTheSignal) {
  auto c = goro::make_chan<int>(1);
  auto probe = goro::make_chan<int>(8);
  goro::signal_notify(c, {SIGUSR1});
  goro::signal_notify(probe, {SIGUSR1});
  for (int i = 0; i < 3; i++) ASSERT_EQ(raise(SIGUSR1), 0);
  for (int i = 0; i < 3; i++) EXPECT_EQ(probe.recv(), SIGUSR1);  // all three relayed
  EXPECT_EQ(c.len(), 1);
  EXPECT_EQ(c.recv(), SIGUSR1);
  // Unbuffered with nobody receiving: missed too.
  auto unbuffered = goro::make_chan<int>();
  goro::signal_notify(unbuffered, {SIGUSR1});
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(probe.recv(), SIGUSR1);
  EXPECT_FALSE(unbuffered.try_recv());
  goro::signal_stop(unbuffered);
  goro::signal_stop(c);
  goro::signal_stop(probe);
}

// Go's TestStop: after Stop returns, the channel gets no more signals.
TEST(SignalNotify, NoSignalAfterStopReturns) {
  auto c = goro::make_chan<int>(4);
  auto probe = goro::make_chan<int>(4);
  goro::signal_notify(c, {SIGUSR1});
  goro::signal_notify(probe, {SIGUSR1});
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(probe.recv(), SIGUSR1);
  EXPECT_EQ(c.recv(), SIGUSR1);
  goro::signal_stop(c);
  goro::signal_stop(c);                    // twice: harmless
  goro::signal_stop(goro::make_chan<int>(1));  // never registered: harmless
  goro::signal_stop(goro::chan<int>{});        // nil: harmless
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(probe.recv(), SIGUSR1);
  EXPECT_EQ(c.len(), 0);
  // Registered again, it takes signals again.
  goro::signal_notify(c, {SIGUSR1});
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(probe.recv(), SIGUSR1);
  EXPECT_EQ(c.recv(), SIGUSR1);
  goro::signal_stop(c);
  goro::signal_stop(probe);
}

// Go's TestAtomicStop: a signal the handler took before signal_stop
// reaches the channel (or, after it, the default action is taken: never
// neither). signal_stop waits for the relay to read what was written
// before it, still sending to the channel meanwhile. Before, the relay
// could read the byte after the stop and drop it: lost in 133 of 500
// rounds in a probe.
TEST(SignalNotify, ASignalTakenBeforeStopReachesTheChannel) {
  for (int round = 0; round < 300; round++) {
    auto c = goro::make_chan<int>(1);
    goro::signal_notify(c, {SIGUSR1});
    ASSERT_EQ(raise(SIGUSR1), 0);  // the handler has run when raise returns
    goro::signal_stop(c);
    ASSERT_EQ(c.len(), 1) << "round " << round << ": the signal was lost";
    EXPECT_EQ(c.recv(), SIGUSR1);
  }
}

// No signals listed: every signal that can be taken (SIGWINCH's default is
// to ignore it, so a wrong mask could not end the test process).
TEST(SignalNotify, NoSignalsListedMeansAll) {
  auto c = goro::make_chan<int>(2);
  goro::signal_notify(c);
  EXPECT_FALSE(goro::signal_ignored(SIGUSR2));
  ASSERT_EQ(raise(SIGWINCH), 0);
  EXPECT_EQ(c.recv(), SIGWINCH);
  ASSERT_EQ(raise(SIGUSR2), 0);
  EXPECT_EQ(c.recv(), SIGUSR2);
  goro::signal_stop(c);
}

TEST(SignalNotify, MisuseIsAClearError) {
  try {
    goro::signal_notify(goro::chan<int>{}, {SIGUSR1});
    ADD_FAILURE() << "no panic for a nil channel";
  } catch (const goro::panic_error& e) {
    EXPECT_STREQ(e.what(), "os/signal: Notify using nil channel");
  }
  auto c = goro::make_chan<int>(1);
  auto probe = goro::make_chan<int>(2);
  goro::signal_notify(probe, {SIGUSR1});
  for (int bad : {0, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, 32, 65})
    EXPECT_THROW(goro::signal_notify(c, {SIGUSR1, bad}), std::system_error) << bad;
  EXPECT_THROW(goro::signal_reset({SIGKILL}), std::system_error);
  EXPECT_THROW(goro::signal_ignore({SIGSTOP}), std::system_error);
  // The failed calls registered nothing.
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(probe.recv(), SIGUSR1);
  EXPECT_EQ(c.len(), 0);
  goro::signal_stop(probe);
}

// Go's TestReset, in-process half: reset takes a signal from every
// channel and context, and leaves the others' other signals alone.
TEST(SignalNotify, ResetUndoesEveryRegistrationOfTheSignal) {
  auto c = goro::make_chan<int>(2);
  goro::signal_notify(c, {SIGUSR1, SIGUSR2});
  auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGUSR2});
  goro::signal_reset({SIGUSR2});
  auto probe = goro::make_chan<int>(2);
  goro::signal_notify(probe, {SIGUSR2});
  ASSERT_EQ(raise(SIGUSR2), 0);
  EXPECT_EQ(probe.recv(), SIGUSR2);
  EXPECT_EQ(c.len(), 0);
  EXPECT_FALSE(ctx.err());  // no longer cancelled by SIGUSR2
  ASSERT_EQ(raise(SIGUSR1), 0);  // c still takes SIGUSR1
  EXPECT_EQ(c.recv(), SIGUSR1);
  goro::signal_stop(c);
  goro::signal_stop(probe);
  stop();
}

// signal_reset() with no signals listed undoes every registration, one
// made for SIGPROF by name too (Go's Reset()): SIGPROF gets its earlier
// action back. Before, an empty list meant every signal but SIGPROF and
// SIGTRAP, as for signal_notify, and goro's handler stayed (found by a
// review of the docs, 2026-12-06).
TEST(SignalNotify, ResetWithNoSignalsListedUndoesSigprofToo) {
  struct sigaction before{};
  ASSERT_EQ(sigaction(SIGPROF, nullptr, &before), 0);
  auto c = goro::make_chan<int>(1);
  goro::signal_notify(c, {SIGPROF});
  struct sigaction during{};
  ASSERT_EQ(sigaction(SIGPROF, nullptr, &during), 0);
  ASSERT_NE(during.sa_handler, before.sa_handler) << "goro's handler was not installed";
  goro::signal_reset();
  struct sigaction after{};
  ASSERT_EQ(sigaction(SIGPROF, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler) << "goro's handler stayed for SIGPROF";
  EXPECT_EQ(after.sa_flags & SA_SIGINFO, before.sa_flags & SA_SIGINFO);
}

// Registrations come and go from goroutines while a thread keeps raising:
// every registration sees a signal, nothing crashes, and a probe keeps the
// signal taken throughout.
TEST(SignalNotify, RegistrationsChurnWhileSignalsArrive) {
  auto probe = goro::make_chan<int>(1);
  goro::signal_notify(probe, {SIGUSR1});
  std::atomic<bool> done{false};
  std::thread raiser([&] {
    while (!done.load()) {
      raise(SIGUSR1);
      std::this_thread::yield();
    }
  });
  goro::run([] {
    goro::wait_group wg;
    const int per = goro_test::scaled(50, 5);
    for (int g = 0; g < 8; g++) {
      wg.go([per] {
        for (int i = 0; i < per; i++) {
          auto c = goro::make_chan<int>(1);
          goro::signal_notify(c, {SIGUSR1});
          EXPECT_EQ(c.recv(), SIGUSR1);
          goro::signal_stop(c);
        }
      });
    }
    wg.wait();
  });
  done = true;
  raiser.join();
  goro::signal_stop(probe);
}

// A child forked before the runtime started, with registrations made in
// the parent, starts as a fresh process would: its own registrations get
// their signals, and stopping the parent's does nothing to the parent. The
// child used to inherit the parent's pipe and registry: its own SIGUSR1
// took the default action (no relay of its own), and its signal_stop wrote
// a stop marker that the parent's relay read, so it waited for good while
// the parent's next signal_stop returned too early.
TEST(SignalNotify, ChildForkedBeforeTheRuntimeStartsHasSignalsOfItsOwn) {
  // The parent already has the relay thread: TSan ends a child of a
  // multi-threaded process that starts threads ("not supported").
  if (goro_test::kTsan) GTEST_SKIP() << "TSan does not let a child of a multi-threaded process start threads";
  child_result r = run_child("fork_before_the_runtime_starts");
  EXPECT_TRUE(r.exited && r.status == 0) << r.out;
  EXPECT_NE(r.out.find("child: its own registrations worked, and its stops returned"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("child: exit status 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parent: SIGUSR1 received"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parent: 0 of 20 signals taken before signal_stop missing"), std::string::npos) << r.out;
}

TEST(SignalNotify, StopPutsTheDefaultActionBack) {
  child_result r = run_child("notify_stop");
  EXPECT_FALSE(r.exited) << r.out;
  EXPECT_EQ(r.status, SIGUSR1) << r.out;
  EXPECT_NE(r.out.find("stopped; raising again"), std::string::npos) << r.out;
}

TEST(SignalNotify, ResetPutsTheDefaultActionBack) {
  child_result r = run_child("reset");
  EXPECT_FALSE(r.exited) << r.out;
  EXPECT_EQ(r.status, SIGUSR2) << r.out;
  EXPECT_NE(r.out.find("reset; raising"), std::string::npos) << r.out;
}

// Go's TestIgnored and TestIgnore: ignored, taken again by a registration,
// ignored again once it stops.
TEST(SignalNotify, IgnoreAndIgnored) {
  child_result r = run_child("ignore");
  EXPECT_TRUE(r.exited) << r.out;
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("ignored throughout"), std::string::npos) << r.out;
}

void profiler_tick(int) {}

// Go's Ignore leaves SIGPROF (a profiler's) and SIGTRAP (a debugger's)
// as they are: a setitimer profiler keeps its samples. goro set SIG_IGN
// for both before.
TEST(SignalNotify, IgnoreLeavesTheProfilersAndTheDebuggersSignalsAlone) {
  struct sigaction mine {}, prof_before{}, trap_before{}, prof_after{}, trap_after{};
  mine.sa_handler = profiler_tick;
  sigemptyset(&mine.sa_mask);
  ASSERT_EQ(sigaction(SIGPROF, &mine, &prof_before), 0);
  ASSERT_EQ(sigaction(SIGTRAP, nullptr, &trap_before), 0);
  goro::signal_ignore({SIGPROF, SIGTRAP});
  sigaction(SIGPROF, &prof_before, &prof_after);
  sigaction(SIGTRAP, &trap_before, &trap_after);
  EXPECT_EQ(prof_after.sa_handler, profiler_tick);
  EXPECT_NE(trap_after.sa_handler, SIG_IGN);
  EXPECT_FALSE(goro::signal_ignored(SIGTRAP));
}

// main parked on a registered channel is not a deadlock, and waiting for a
// signal brings no warning about threads to declare (as Go prints none).
TEST(SignalNotify, WaitingOnTheChannelIsNotADeadlock) {
  child_result r = run_child("notify_wait");
  EXPECT_TRUE(r.exited) << r.out;
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("woken by the signal"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("could still wake one"), std::string::npos) << r.out;
}

// Closing a registered channel ends the program with a message naming the
// mistake (Go's send on a closed channel panics in its signal goroutine).
TEST(SignalNotify, AClosedRegisteredChannelIsFatal) {
  child_result r = run_child("closed_channel");
  EXPECT_TRUE(r.exited) << r.out;
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("closed before signal_stop"), std::string::npos) << r.out;
}

// A child forked while a signal is registered (to exec, or to run plain
// code and _exit) takes the signal's earlier action, as if goro had never
// taken it (Go's child clears its handlers): here SIGUSR1's default ends
// it. It used to inherit goro's handler and write the signal into the
// parent's pipe: the child went on (exit status 0) and the parent's
// channel received the child's SIGUSR1.
TEST(SignalNotify, ForkedChildTakesTheEarlierActionNotTheParentsRelay) {
  goro::run([] {
    auto c = goro::make_chan<int>(2);
    goro::signal_notify(c, {SIGUSR1, SIGUSR2});
    pid_t pid = fork();
    if (pid == 0) {
      raise(SIGUSR1);
      _exit(0);
    }
    ASSERT_GT(pid, 0);
    int st = 0;
    goro::blocking([&] { ASSERT_EQ(waitpid(pid, &st, 0), pid); });
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1)
        << (WIFEXITED(st) ? "the child exited with status " + std::to_string(WEXITSTATUS(st)) : std::string("?"));
    // The pipe is read in order: had the child's SIGUSR1 reached it, it
    // would come before this one.
    ASSERT_EQ(raise(SIGUSR2), 0);
    EXPECT_EQ(c.recv(), SIGUSR2);
    goro::signal_stop(c);
  });
}

// A registration for SIGQUIT made before the runtime started: once it is
// stopped, SIGQUIT gets the runtime's handler (the goroutine dump), as
// when the runtime starts with nothing registered. The relay had saved
// SIG_DFL, and the runtime, finding the relay's handler, installed none:
// after the stop, SIGQUIT dumped core without the goroutine dump.
TEST(SignalNotify, SigquitRegisteredBeforeTheRuntimeStartsGetsTheDumpHandlerAfterStop) {
  struct sigaction at_start {};
  ASSERT_EQ(sigaction(SIGQUIT, nullptr, &at_start), 0);
  if (at_start.sa_handler != SIG_DFL || (at_start.sa_flags & SA_SIGINFO) != 0)
    GTEST_SKIP() << "needs a fresh process (ctest runs each test in one): the runtime's handler is in already";
  auto c = goro::make_chan<int>(1);
  goro::signal_notify(c, {SIGQUIT});
  goro::run([] {});  // starts the runtime
  goro::signal_stop(c);
  struct sigaction now {};
  ASSERT_EQ(sigaction(SIGQUIT, nullptr, &now), 0);
  EXPECT_TRUE((now.sa_flags & SA_SIGINFO) != 0 || (now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN))
      << "SIGQUIT has its default action: no goroutine dump";
}

// SIGQUIT in a child forked after the runtime started takes its default
// action. The runtime's handler (a flag for the monitor, which dumps the
// goroutines) was left in the child, with no monitor: the signal did
// nothing, and the child went on to exit 0.
TEST(SignalNotify, ForkedChildTakesSigquitsDefaultAction) {
  // Under TSan the child exits 0 with or without the fix: TSan's own
  // signal handling in the forked child keeps SIGQUIT from taking its
  // default action (not investigated further; the other builds run it).
  if (goro_test::kTsan) GTEST_SKIP() << "TSan's signal interception in a forked child";
  goro::run([] {
    struct sigaction now {};
    ASSERT_EQ(sigaction(SIGQUIT, nullptr, &now), 0);
    if (now.sa_handler == SIG_DFL || now.sa_handler == SIG_IGN)
      GTEST_SKIP() << "the runtime's SIGQUIT handler is not installed (SIGQUIT had an action of its own)";
    pid_t pid = fork();
    if (pid == 0) {
      struct rlimit no_core {};
      setrlimit(RLIMIT_CORE, &no_core);
      raise(SIGQUIT);
      _exit(0);
    }
    ASSERT_GT(pid, 0);
    int st = 0;
    goro::blocking([&] { ASSERT_EQ(waitpid(pid, &st, 0), pid); });
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGQUIT)
        << (WIFEXITED(st) ? "the child exited with status " + std::to_string(WEXITSTATUS(st)) : std::string("?"));
  });
}

}  // namespace
