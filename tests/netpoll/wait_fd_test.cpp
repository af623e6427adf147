// goro::wait_fd and the poller inside the scheduler (goro/io.hpp,
// src/netpoll/, docs/design.md section 13).
//
// Every wait here is on a condition (a goroutine seen parked in "IO wait",
// a counter reached), never on elapsed time; each loop is bounded in count
// and gives up after seconds with a failure. Loopback only: socketpairs
// and pipes.
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "goro/debug.hpp"
#include "goro/goro.hpp"
#include "netpoll/netpoll_stats.hpp"
#include "sched/deadlock_stats.hpp"
#include "sched/detach_off.hpp"
#include "sched/sysmon.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

struct sockpair {
  int fd[2] = {-1, -1};
  sockpair() {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) {
      ADD_FAILURE() << "socketpair: " << strerror(errno);
      return;
    }
  }
  ~sockpair() {
    for (int f : fd)
      if (f >= 0) goro::close_fd(f);
  }
  sockpair(const sockpair&) = delete;
  sockpair& operator=(const sockpair&) = delete;
};

void write_byte(int fd) {
  char c = 'x';
  ASSERT_EQ(write(fd, &c, 1), 1) << strerror(errno);
}

// Reads one byte, waiting in wait_fd while there is none. Returns the
// first wait_fd error, or {} with the byte read.
//
// It reads no errno: errno is thread-local, a goroutine may resume on
// another thread after wait_fd, and glibc declares errno's accessor
// const, so a loop around wait_fd may read another thread's errno (see
// goro/io.hpp for the pattern that avoids it); and under TSan a goroutine
// that reads the TLS of a worker started after it is reported (the
// runtime's fiber switches do not synchronize, on purpose; design.md
// section 13). poll(2) with no timeout says whether read() would block.
std::error_code read_byte(int fd) {
  for (;;) {
    struct pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) == 1) {
      char c;
      ssize_t n = read(fd, &c, 1);
      if (n == 1) return {};
      if (n == 0) return std::make_error_code(std::errc::connection_reset);
      return std::make_error_code(std::errc::io_error);
    }
    if (std::error_code e = goro::wait_fd(fd, goro::io::read)) return e;
  }
}

// The goroutine's wait reason, "" if it is not waiting or not found.
std::string wait_reason_of(uint64_t id) {
  for (const auto& g : goro::debug::goroutines())
    if (g.id == id && g.state == goro::debug::goroutine_state::waiting) return g.wait_reason;
  return "";
}

// Waits (from a goroutine or a thread) until goroutine `id` is parked in
// IO wait; false after 20 s.
bool await_io_wait(const std::atomic<uint64_t>& id) {
  auto t0 = steady::now();
  while (steady::now() - t0 < 20s) {
    uint64_t v = id.load();
    if (v != 0 && wait_reason_of(v) == "IO wait") return true;
    if (goro::goroutine_id() != 0)
      goro::sleep_for(200us);
    else
      std::this_thread::sleep_for(200us);
  }
  return false;
}

void raise_fd_limit(rlim_t want) {
  ASSERT_GE(goro_test::raise_fd_limit(want), want) << "the hard limit on open files is too low for this test";
}

// A reader parked in wait_fd, woken by a write made by `writer`.
void reader_woken_by(int procs, bool writer_is_thread) {
  goro::set_maxprocs(procs);
  goro::run([writer_is_thread] {
    for (int trial = 0; trial < 20; trial++) {
      sockpair sp;
      std::atomic<uint64_t> id{0};
      std::error_code got = std::make_error_code(std::errc::interrupted);
      goro::wait_group wg;
      wg.add(1);
      goro::go([&] {
        id = goro::goroutine_id();
        got = read_byte(sp.fd[0]);
        wg.done();
      });
      ASSERT_TRUE(await_io_wait(id)) << "the reader never parked in IO wait";
      if (writer_is_thread) {
        std::thread t([&] { write_byte(sp.fd[1]); });
        t.join();
      } else {
        write_byte(sp.fd[1]);
      }
      wg.wait();
      EXPECT_FALSE(got) << got.message();
    }
  });
}

TEST(WaitFd, ReaderWokenByGoroutineWrite1) { reader_woken_by(1, false); }
TEST(WaitFd, ReaderWokenByGoroutineWrite2) { reader_woken_by(2, false); }
TEST(WaitFd, ReaderWokenByThreadWrite1) { reader_woken_by(1, true); }
TEST(WaitFd, ReaderWokenByThreadWrite2) { reader_woken_by(2, true); }

// A writer whose socket buffer is full parks until the reader drains it.
TEST(WaitFd, WriterWokenWhenBufferDrains) {
  goro::set_maxprocs(2);
  goro::run([] {
    sockpair sp;
    char buf[4096] = {};
    size_t sent = 0;
    while (write(sp.fd[1], buf, sizeof buf) > 0) sent += sizeof buf;
    ASSERT_EQ(errno, EAGAIN);
    std::atomic<uint64_t> id{0};
    std::error_code got = std::make_error_code(std::errc::interrupted);
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      id = goro::goroutine_id();
      got = goro::wait_fd(sp.fd[1], goro::io::write);
      wg.done();
    });
    ASSERT_TRUE(await_io_wait(id));
    // Drain everything: the writer is woken once there is room.
    size_t drained = 0;
    while (drained < sent) {
      ssize_t n = read(sp.fd[0], buf, sizeof buf);
      ASSERT_GT(n, 0);
      drained += static_cast<size_t>(n);
    }
    wg.wait();
    EXPECT_FALSE(got) << got.message();
  });
}

// A deadline ends the wait with deadline_exceeded, not before it.
TEST(WaitFd, DeadlineExceeded) {
  goro::set_maxprocs(2);
  goro::run([] {
    sockpair sp;
    for (auto d : {1ms, 5ms, 20ms}) {
      auto t0 = steady::now();
      std::error_code e = goro::wait_fd(sp.fd[0], goro::io::read, d);
      EXPECT_EQ(e, goro::errc::deadline_exceeded);
      EXPECT_GE(steady::now() - t0, d);
    }
    // A deadline already past: at once, even with data ready (as Go).
    write_byte(sp.fd[1]);
    EXPECT_EQ(goro::wait_fd(sp.fd[0], goro::io::read, steady::now() - 1s), goro::errc::deadline_exceeded);
    // The expired deadline does not stick: data is reported ready.
    EXPECT_FALSE(goro::wait_fd(sp.fd[0], goro::io::read, 10s));
    EXPECT_FALSE(read_byte(sp.fd[0]));
    // A deadline in system_clock terms works too.
    EXPECT_EQ(goro::wait_fd(sp.fd[0], goro::io::read, std::chrono::system_clock::now() + 2ms),
              goro::errc::deadline_exceeded);
  });
}

// Many goroutines with deadlines at once, some met by data first.
TEST(WaitFd, DeadlinesAndDataRace) {
  goro::set_maxprocs(2);
  goro::run([] {
    const int n = 100;
    std::vector<std::unique_ptr<sockpair>> sps;
    for (int i = 0; i < n; i++) sps.push_back(std::make_unique<sockpair>());
    std::atomic<int> timeouts{0}, readies{0};
    goro::wait_group wg;
    for (int i = 0; i < n; i++) {
      wg.add(1);
      goro::go([&, i] {
        std::error_code e = goro::wait_fd(sps[i]->fd[0], goro::io::read, std::chrono::microseconds(50 * (i % 20)));
        if (e == goro::errc::deadline_exceeded)
          timeouts++;
        else if (!e)
          readies++;
        else
          ADD_FAILURE() << e.message();
        wg.done();
      });
      if (i % 2 == 0) write_byte(sps[i]->fd[1]);
    }
    wg.wait();
    EXPECT_EQ(timeouts + readies, n);
  });
}

// unwatch_fd wakes a parked reader and a parked writer with closed; close_fd
// too; and a goroutine that starts waiting after it registers afresh.
// The body of UnwatchWakesWaiters (also run by the regression test below).
void unwatch_wakes_waiters() {
  for (bool use_close : {false, true}) {
    int fd[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0);
    char buf[4096] = {};
    while (write(fd[0], buf, sizeof buf) > 0) {
    }
    std::atomic<uint64_t> rid{0}, wid{0};
    std::error_code re, we;
    goro::wait_group wg;
    wg.add(2);
    goro::go([&] {
      rid = goro::goroutine_id();
      re = goro::wait_fd(fd[0], goro::io::read, 60s);  // fd[1] sends nothing
      wg.done();
    });
    goro::go([&] {
      wid = goro::goroutine_id();
      we = goro::wait_fd(fd[0], goro::io::write, 60s);  // full
      wg.done();
    });
    ASSERT_TRUE(await_io_wait(rid));
    ASSERT_TRUE(await_io_wait(wid));
    if (use_close)
      EXPECT_FALSE(goro::close_fd(fd[0]));
    else
      goro::unwatch_fd(fd[0]);
    wg.wait();
    EXPECT_EQ(re, goro::errc::closed);
    EXPECT_EQ(we, goro::errc::closed);
    if (!use_close) {
      // Waited on again: a new registration, which sees the full buffer.
      EXPECT_EQ(goro::wait_fd(fd[0], goro::io::read, 1ms), goro::errc::deadline_exceeded);
      goro::close_fd(fd[0]);
    }
    goro::close_fd(fd[1]);
  }
}

TEST(WaitFd, UnwatchWakesWaiters) {
  goro::set_maxprocs(2);
  goro::run([] { unwatch_wakes_waiters(); });
}

// The public API's edges.
TEST(WaitFd, BadFdRegularFileAndPlainThread) {
  goro::set_maxprocs(1);
  goro::run([] {
    EXPECT_EQ(goro::wait_fd(-1, goro::io::read), std::errc::bad_file_descriptor);
    int closed = 900;  // not open (a freed low number would be taken by the poller's own epoll fd)
    ASSERT_EQ(fcntl(closed, F_GETFD), -1);
    EXPECT_EQ(goro::wait_fd(closed, goro::io::read), std::errc::bad_file_descriptor);
    char path[] = "/tmp/goro-wait-fd-XXXXXX";
    int f = mkstemp(path);
    ASSERT_GE(f, 0);
    unlink(path);
    EXPECT_FALSE(goro::wait_fd(f, goro::io::read));  // a regular file is always ready
    EXPECT_FALSE(goro::wait_fd(f, goro::io::write));
    close(f);
  });
  // From a plain thread: poll(2), with the same results.
  sockpair sp;
  EXPECT_EQ(goro::wait_fd(sp.fd[0], goro::io::read, 2ms), goro::errc::deadline_exceeded);
  EXPECT_FALSE(goro::wait_fd(sp.fd[0], goro::io::write, 2ms));
  std::thread t([&] {
    std::this_thread::sleep_for(1ms);
    write_byte(sp.fd[1]);
  });
  EXPECT_FALSE(goro::wait_fd(sp.fd[0], goro::io::read));
  t.join();
}

// Plain threads waiting on an fd (any number of them, both directions)
// sleep without a time-out and are woken by unwatch_fd. (A thread's wait
// used to be a bare poll(2) that unwatch_fd could not end.)
TEST(WaitFd, PlainThreadsWokenByUnwatch) {
  sockpair sp;
  // Fill the send buffer, so that a wait to write blocks too.
  char chunk[4096] = {};
  while (write(sp.fd[0], chunk, sizeof chunk) > 0) {
  }
  std::atomic<pid_t> tids[3] = {};
  std::error_code got[3];
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; i++)
    ts.emplace_back([&, i] {
      tids[i] = gettid();
      got[i] = goro::wait_fd(sp.fd[0], i == 2 ? goro::io::write : goro::io::read);
    });
  for (auto& tid : tids) {
    while (tid.load() == 0) std::this_thread::yield();
    EXPECT_EQ(goro_test::await_ppoll(tid)[2], 0u) << "a waiting thread polls with a time-out";
  }
  goro::unwatch_fd(sp.fd[0]);
  for (auto& t : ts) t.join();
  for (const auto& e : got) EXPECT_EQ(e, goro::errc::closed);
  // Waiting again registers the fd again.
  EXPECT_EQ(goro::wait_fd(sp.fd[0], goro::io::read, 1ms), goro::errc::deadline_exceeded);
}

// Two goroutines waiting to read one fd at once is a misuse (Go's "double
// wait"): the second throws, the first is not disturbed.
TEST(WaitFd, SecondWaiterInOneDirectionThrows) {
  goro::set_maxprocs(2);
  goro::run([] {
    sockpair sp;
    std::atomic<uint64_t> id{0};
    std::error_code got = std::make_error_code(std::errc::interrupted);
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      id = goro::goroutine_id();
      got = read_byte(sp.fd[0]);
      wg.done();
    });
    ASSERT_TRUE(await_io_wait(id));
    EXPECT_THROW(goro::wait_fd(sp.fd[0], goro::io::read), goro::panic_error);
    write_byte(sp.fd[1]);
    wg.wait();
    EXPECT_FALSE(got);
  });
}

// A second waiter's misuse leaves the first one's deadline alone. Before
// the fix the second moved the record's deadline to its own, then cleared
// it on its way out with the panic: the first waited for ever.
TEST(WaitFd, SecondWaiterLeavesTheFirstsDeadline) {
  goro::set_maxprocs(2);
  goro::run([] {
    sockpair sp;
    std::atomic<uint64_t> id{0};
    auto got = goro::make_chan<std::error_code>(1);
    goro::go([&] {
      id = goro::goroutine_id();
      got.send(goro::wait_fd(sp.fd[0], goro::io::read, 300ms));
    });
    ASSERT_TRUE(await_io_wait(id));
    EXPECT_THROW(goro::wait_fd(sp.fd[0], goro::io::read, 10s), goro::panic_error);
    // The first's 300 ms end its wait; the bound only turns a hang into a
    // failure.
    auto s = goro::select(goro::case_recv(got), goro::case_recv(goro::after(60s)));
    ASSERT_EQ(s.index(), 0u) << "the first waiter lost its deadline";
    EXPECT_EQ(s.get<0>(), goro::errc::deadline_exceeded);
  });
}

// unwatch_fd racing wait_fd on an fd that stays open: each wait ends
// closed, past its deadline, or ready, never with epoll's EEXIST (the
// wait registered the fd anew while the old registration was still in
// epoll; 5.3 million of 5.5 million waits in the review's run).
TEST(WaitFd, UnwatchRacingWaitsNeverAnswersEexist) {
  sockpair sp;
  std::atomic<bool> stop{false};
  std::thread unwatcher([&] {
    while (!stop.load()) goro::unwatch_fd(sp.fd[0]);
  });
  int other = 0;
  std::error_code last;
  for (int i = 0; i < 20000; i++) {
    std::error_code e = goro::wait_fd(sp.fd[0], goro::io::read, 100us);
    if (e && e != goro::errc::closed && e != goro::errc::deadline_exceeded) {
      other++;
      last = e;
    }
  }
  stop.store(true);
  unwatcher.join();
  EXPECT_EQ(other, 0) << "last: " << last.message();
}

// close_fd while a plain thread is between its check for closing and its
// ppoll: the ppoll sees the fd closed (POLLNVAL), and the wait answers
// goro::errc::closed as close_fd promises, not EBADF as before the fix.
// The seam closes it at that very moment, from the waiting thread.
int g_closing_fd = -1;

void close_the_fd_before_ppoll() {
  goro::detail::test_hooks::thread_wait_before_ppoll.store(nullptr);
  goro::close_fd(g_closing_fd);
}

TEST(WaitFd, ThreadWaitingWhenCloseFdClosesTheFdAnswersClosed) {
  int fd[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0);
  g_closing_fd = fd[0];
  goro::detail::test_hooks::thread_wait_before_ppoll.store(close_the_fd_before_ppoll);
  std::error_code e = goro::wait_fd(fd[0], goro::io::read);
  goro::detail::test_hooks::thread_wait_before_ppoll.store(nullptr);
  EXPECT_EQ(e, goro::errc::closed) << e.message();
  close(fd[1]);
}

// The whole program waits for an fd: its only goroutine (main) is parked
// in IO wait, every worker is idle. That is no deadlock (the fd waits on
// the world outside), and the idle worker, blocked in epoll_wait, runs
// the goroutine when the fd becomes ready: the monitor plays no part.
// The writer is a plain thread declared unable to wake goroutines, so
// that the deadlock check would conclude if it ignored IO waits; it
// writes once the monitor has looked twice with main parked.
TEST(WaitFd, IdleProgramWaitingOnAnFdIsNoDeadlockAndTheIdleWorkerPolls) {
  goro::set_maxprocs(1);
  sockpair sp;
  std::atomic<uint64_t> id{0};
  std::atomic<bool> ok{true};
  goro::detail::netpoll_stats before{};
  std::thread writer([&] {
    goro::ignore_thread_in_deadlock_check();
    if (!await_io_wait(id)) {
      ok = false;
      write_byte(sp.fd[1]);
      return;
    }
    uint64_t looks0 = goro::detail::deadlock_stats_read().looks;
    auto t0 = steady::now();
    while (goro::detail::deadlock_stats_read().looks < looks0 + 2 && steady::now() - t0 < 20s)
      std::this_thread::sleep_for(1ms);
    before = goro::detail::netpoll_stats_read();
    write_byte(sp.fd[1]);
  });
  std::error_code got = std::make_error_code(std::errc::interrupted);
  goro::run([&] {
    id = goro::goroutine_id();
    got = read_byte(sp.fd[0]);
  });
  writer.join();
  EXPECT_TRUE(ok);
  EXPECT_FALSE(got) << got.message();
  goro::detail::netpoll_stats after = goro::detail::netpoll_stats_read();
  EXPECT_EQ(after.readied_blocking, before.readied_blocking + 1);
  EXPECT_EQ(after.readied_by_monitor, before.readied_by_monitor);
}

// The only idle worker polls; a goroutine started from a plain thread
// must still get it (startm interrupts epoll_wait), and run. The
// monitor's rescue of a P that does not move (a detach, after 20 ms) is
// turned off, so that without the interruption the test hangs and fails.
TEST(WaitFd, GoroutineStartedWhileTheOnlyIdleWorkerPollsRuns) {
  goro_test::detach_off no_rescue;
  goro::set_maxprocs(1);
  goro::run([] {
    for (int trial = 0; trial < 20; trial++) {
      sockpair sp;
      std::atomic<uint64_t> id{0};
      std::error_code got = std::make_error_code(std::errc::interrupted);
      goro::wait_group wg;
      wg.add(1);
      goro::go([&] {
        id = goro::goroutine_id();
        got = read_byte(sp.fd[0]);
        wg.done();
      });
      std::thread t([&] {
        if (!await_io_wait(id)) return;
        // Wait for the main goroutine to park too, so the worker idles.
        goro::go([&] { write_byte(sp.fd[1]); });
      });
      wg.wait();
      t.join();
      EXPECT_FALSE(got);
    }
  });
}

// A timer added from a plain thread while the idle worker polls with no
// timeout: the timer's wake-up interrupts epoll_wait. Without that, each
// timer fires only when the monitor finds it overdue and wakes a worker
// (sysmon_timer_rescues counts those); a loaded machine may delay a
// wake-up past that point now and then, hence "at most half".
TEST(WaitFd, TimerAddedWhileTheIdleWorkerPollsFires) {
  goro::set_maxprocs(1);
  const uint64_t rescues0 = goro::detail::sysmon_timer_rescues();
  constexpr int kTrials = 10;
  goro::run([] {
    for (int trial = 0; trial < kTrials; trial++) {
      sockpair sp;
      std::atomic<uint64_t> id{0};
      goro::wait_group wg;
      wg.add(1);
      goro::go([&] {
        id = goro::goroutine_id();
        EXPECT_FALSE(read_byte(sp.fd[0]));
        wg.done();
      });
      std::thread t([&] {
        if (!await_io_wait(id)) return;
        goro::after_func(100us, [&] { write_byte(sp.fd[1]); });
      });
      wg.wait();
      t.join();
    }
  });
  EXPECT_LE(goro::detail::sysmon_timer_rescues() - rescues0, uint64_t{kTrials / 2});
}

// 1,000 goroutines, each parked on its own socketpair, woken again and
// again by writers that are goroutines and plain threads, each write
// timed at random around the reader's check-then-park (widened by
// GORO_DEBUG=pollwindow=1). A lost wake-up
// leaves a reader parked with a byte in its socket: the main goroutine
// sees no progress for 20 s and fails. Maxprocs 1 and 2.
void thousand_readers(int procs) {
  int n = goro_test::kTsan ? 200 : 1000;  // (not const: clang would call the capture needless)
  const int rounds = goro_test::scaled(20, 4);
  raise_fd_limit(2 * n + 64);
  // Readers spin at random between publishing that they wait and parking
  // (base/debug_env.hpp), so that many writes land in that window.
  setenv("GORO_DEBUG", "pollwindow=1", 1);  // before the runtime starts
  goro::set_maxprocs(procs);
  goro::run([n, rounds] {
    std::vector<std::unique_ptr<sockpair>> sps;
    for (int i = 0; i < n; i++) sps.push_back(std::make_unique<sockpair>());
    auto consumed = std::make_unique<std::atomic<int>[]>(n);
    auto sent = std::make_unique<std::atomic<int>[]>(n);
    std::atomic<int> done{0}, errors{0};
    for (int i = 0; i < n; i++) {
      goro::go([&, i] {
        for (int r = 0; r < rounds; r++) {
          if (read_byte(sps[i]->fd[0])) errors++;
          consumed[i].store(r + 1, std::memory_order_release);
        }
        done++;
      });
    }
    // Writer k owns pairs i with i % kWriters == k; it writes pair i's
    // next byte once the reader has consumed the last, after a random
    // pause, so that writes land while readers check, park, or sleep.
    constexpr int kWriters = 6;  // 4 goroutines, 2 plain threads
    std::atomic<int> writers_done{0};
    auto writer = [&](int k, bool thread) {
      std::mt19937 rng(static_cast<unsigned>(k * 7919 + 1));
      int left = 0;
      for (int i = k; i < n; i += kWriters) left += rounds;
      auto t0 = steady::now();
      while (left > 0 && steady::now() - t0 < 60s) {
        bool wrote = false;
        for (int i = k; i < n; i += kWriters) {
          int s = sent[i].load(std::memory_order_relaxed);
          if (s == rounds || consumed[i].load(std::memory_order_acquire) != s) continue;
          for (unsigned spin = rng() % 512; spin > 0; spin--) asm volatile("" ::: "memory");
          write_byte(sps[i]->fd[1]);
          sent[i].store(s + 1, std::memory_order_relaxed);
          left--;
          wrote = true;
        }
        if (!wrote || rng() % 4 == 0) {
          if (thread)
            std::this_thread::yield();
          else if (rng() % 2)
            goro::yield();
          else
            goro::sleep_for(std::chrono::microseconds(rng() % 20));
        }
      }
      writers_done++;
    };
    std::vector<std::thread> threads;
    for (int k = 0; k < 2; k++) threads.emplace_back(writer, k, true);
    for (int k = 2; k < kWriters; k++) goro::go([&writer, k] { writer(k, false); });
    // Wait for progress, failing after 20 s without any.
    int last = -1;
    auto progress_at = steady::now();
    for (;;) {
      int total = 0;
      for (int i = 0; i < n; i++) total += consumed[i].load(std::memory_order_relaxed);
      if (done.load() == n) break;
      if (total != last) {
        last = total;
        progress_at = steady::now();
      } else if (steady::now() - progress_at > 20s) {
        int stuck = 0;
        for (int i = 0; i < n; i++)
          if (consumed[i].load() != sent[i].load()) stuck++;
        ADD_FAILURE() << "no progress for 20 s: " << stuck << " readers hold an unread byte (lost wake-ups); "
                      << total << " of " << n * rounds << " bytes read";
        for (auto& sp : sps) goro::unwatch_fd(sp->fd[0]);  // release them
        auto t1 = steady::now();
        while (done.load() < n && steady::now() - t1 < 10s) goro::sleep_for(1ms);
        break;
      }
      goro::sleep_for(1ms);
    }
    for (auto& t : threads) t.join();
    while (writers_done.load() < kWriters) goro::sleep_for(1ms);
    EXPECT_EQ(errors.load(), 0);
  });
}

TEST(WaitFd, ThousandReadersNoLostWakeup1) { thousand_readers(1); }
TEST(WaitFd, ThousandReadersNoLostWakeup2) { thousand_readers(2); }

}  // namespace

// Regression: goroutines waited on fds with far deadlines at maxprocs 2,
// then maxprocs went to 1 and a new goro::run started. Two Ms could then
// block in epoll_wait at once (one handed a P by startm, still blocked,
// and the next timed sleeper), and the break meant for the first was
// taken by the second: the new main goroutine waited in the global queue
// with every worker asleep, for good. With stop_m letting a second M poll
// this test hung in 3 runs of 3 (ctest's timeout is the failure).
TEST(WaitFd, NewRunStartsAfterMaxprocsDropsWhileAnMPolls) {
  for (int round = 0; round < 10; round++) {
    goro::set_maxprocs(2);
    goro::run([] { unwatch_wakes_waiters(); });
    // What the leak check does between two tests: a look at the
    // goroutines, while the workers settle into their idle states (the
    // pause only widens the window; nothing waits on it).
    (void)goro::debug::find_leaks();
    std::this_thread::sleep_for(5ms);
    goro::set_maxprocs(1);
    // On this thread, as a test's goro::run is: a hang here is the
    // failure (ctest's timeout).
    bool started = false;
    goro::run([&] { started = true; });
    EXPECT_TRUE(started);
  }
}
