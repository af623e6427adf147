// The poller's io_uring variant ($GORO_NETPOLL=uring, src/netpoll/
// netpoll.hpp): stream receives are IORING_OP_RECV completions. These
// tests run under either backend (the default run checks epoll stays the
// default); tests/CMakeLists.txt runs this binary again with
// GORO_NETPOLL=uring, with the net suite's echo, deadline and close tests.
//
// What they hold the variant to: the backend asked for is the one that
// runs; a deadline or close that races with arriving data loses no byte
// (a cancelled receive that completed anyway returns its data); a close
// wakes every parked reader with errc::closed, and their descriptors are
// closed only after the kernel is done with their buffers; a receive the
// kernel refused to take is submitted again.
//
// Every wait is on a condition, bounded; loopback only.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "goro/net.hpp"
#include "net/net_util.hpp"
#include "netpoll/netpoll.hpp"
#include "netpoll/netpoll_stats.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;
namespace net = goro::net;
using net_test::tcp_pair;

namespace {

// Goroutines and threads parked in IO wait now.
[[maybe_unused]] int64_t io_waiting() {
  for (const auto& r : goro::debug::stats().by_reason)
    if (r.reason == "IO wait") return r.waiting;
  return 0;
}

[[maybe_unused]] bool uring_asked() {
  const char* v = std::getenv("GORO_NETPOLL");
  return v != nullptr && std::strcmp(v, "uring") == 0;
}

}  // namespace

#if GORO_TEST_WRAP_URING_SUBMIT
// Every io_uring_submit of the (static) runtime comes here: the binary is
// linked with -Wl,--wrap=io_uring_submit (tests/CMakeLists.txt). While
// g_submit_refused is set it answers as a kernel out of memory for
// requests does (-EAGAIN, nothing taken). While g_busy_until_reaps is
// above zero it answers as a kernel before 5.13 with a backlog of
// overflowed completions does (-EBUSY) until the runtime has reaped the
// completion queue that many times (io_uring_peek_batch_cqe, wrapped too).
struct io_uring;
struct io_uring_cqe;
extern "C" int __real_io_uring_submit(io_uring* ring);
extern "C" unsigned __real_io_uring_peek_batch_cqe(io_uring* ring, io_uring_cqe** cqes, unsigned count);
namespace {
std::atomic<bool> g_submit_refused{false};
std::atomic<int> g_submits_refused{0};
std::atomic<int> g_busy_until_reaps{0};
std::atomic<int> g_submits_busy{0};
}  // namespace
extern "C" int __wrap_io_uring_submit(io_uring* ring) {
  if (g_submit_refused.load()) {
    g_submits_refused++;
    return -EAGAIN;
  }
  if (g_busy_until_reaps.load() > 0) {
    g_submits_busy++;
    return -EBUSY;
  }
  return __real_io_uring_submit(ring);
}
extern "C" unsigned __wrap_io_uring_peek_batch_cqe(io_uring* ring, io_uring_cqe** cqes, unsigned count) {
  if (g_busy_until_reaps.load() > 0) g_busy_until_reaps--;
  return __real_io_uring_peek_batch_cqe(ring, cqes, count);
}
#endif

// GORO_NETPOLL=uring (in a build with liburing) runs the variant, and
// receives are its completions; otherwise epoll, and none.
TEST(NetpollUring, TheBackendAskedForRuns) {
  goro::run([] {
    auto p = tcp_pair();
    char buf[16];
    for (int i = 0; i < 100; i++) {
      ASSERT_EQ(p.first.write("ping").first, 4u);
      auto r = p.second.read_full(buf, 4);
      ASSERT_FALSE(r.second) << r.second.message();
      ASSERT_EQ(std::string(buf, 4), "ping");
    }
  });
  goro::detail::netpoll_stats s = goro::detail::netpoll_stats_read();
#if GORO_TEST_HAVE_URING
  const bool want = uring_asked();
#else
  const bool want = false;
#endif
  EXPECT_EQ(s.uring, want);
  if (want)
    EXPECT_GE(s.uring_completions, 100u);
  else
    EXPECT_EQ(s.uring_completions, 0u);
}

// A receive the kernel would not take (io_uring_submit: -EAGAIN, no
// memory for requests) stays queued; the only worker then blocks in
// epoll_wait, where nothing else submits it (no other poll runs while one
// M blocks). Once the kernel takes requests again the worker must come
// back for it: it blocks a millisecond at most while requests wait. It
// used to block without a deadline, and the byte waiting on the socket
// was never read.
TEST(NetpollUring, AReceiveTheKernelRefusedIsSubmittedAgain) {
#if !GORO_TEST_WRAP_URING_SUBMIT
  GTEST_SKIP() << "needs liburing and a static libgoro (io_uring_submit wrapped at link time)";
#else
  if (!uring_asked()) GTEST_SKIP() << "the io_uring poller runs only with GORO_NETPOLL=uring";
  goro::set_maxprocs(1);
  goro::run([] {
    auto p = tcp_pair();
    ASSERT_EQ(p.first.write("x").first, 1u);  // waiting on the socket: a submitted receive completes at once
    std::thread kernel_recovers([] {
      // After a refused submit the only worker blocks in epoll_wait (the
      // main goroutine below waits on a channel, the reader on its
      // receive): then requests are taken again.
      (void)goro_test::spin_until(
          [] { return goro::detail::netpoll_blocked() && g_submits_refused.load() > 0; }, 30s);
      g_submit_refused.store(false);
    });
    g_submit_refused.store(true);
    auto got = goro::make_chan<int>(1);
    net::conn r = p.second;
    goro::go([r, got] {
      char c = 0;
      auto res = r.read(&c, 1);
      got.send(res.second ? -1 : c);
    });
    int v = 0;
    int which = goro::select(goro::on_recv(got, [&](int x, bool) { v = x; }), goro::on_recv(goro::after(30s)));
    g_submit_refused.store(false);
    kernel_recovers.join();
    EXPECT_GT(g_submits_refused.load(), 0) << "no submit was refused: the test did not make its case";
    ASSERT_EQ(which, 0) << "the refused receive was never submitted again";
    EXPECT_EQ(v, 'x');
  });
#endif
}

// More receives than the submission queue holds (4,096) while the kernel
// answers every submit -EBUSY until its completions have been reaped 20
// times (a kernel before 5.13 with overflowed completions does). The
// receive that finds the queue full must not wait holding the queue's
// lock: every poller takes that lock before it reaps, so nobody could
// reap, and the program hung (found by a review, 2026-12-06).
TEST(NetpollUring, FullQueueWhileTheKernelWantsCompletionsReapedDoesNotHang) {
#if !GORO_TEST_WRAP_URING_SUBMIT
  GTEST_SKIP() << "needs liburing and a static libgoro (io_uring_submit wrapped at link time)";
#else
  if (!uring_asked()) GTEST_SKIP() << "the io_uring poller runs only with GORO_NETPOLL=uring";
#if defined(GORO_TSAN)
  GTEST_SKIP() << "4,300 goroutines take minutes under TSan (each is a TSan fiber); the path is the same";
#endif
  static constexpr int kReaders = 4300;
  if (goro_test::raise_fd_limit(2 * kReaders + 256) < 2 * kReaders + 256)
    GTEST_SKIP() << "the hard limit on open files is below " << 2 * kReaders + 256;
  goro::set_maxprocs(1);
  goro::run([] {
    auto lr = net::listen("tcp4", "127.0.0.1:0");
    ASSERT_FALSE(lr.second);
    std::vector<net::conn> clients, servers;
    for (int i = 0; i < kReaders; i++) {
      auto d = net::dial("tcp", lr.first.addr().to_string());
      ASSERT_FALSE(d.second) << d.second.message();
      auto a = lr.first.accept();
      ASSERT_FALSE(a.second) << a.second.message();
      clients.push_back(d.first);
      servers.push_back(a.first);
    }
    lr.first.close();
    const int64_t io_waiting_before = io_waiting();
    g_busy_until_reaps.store(20);
    std::atomic<int> got{0};
    goro::wait_group wg;
    for (net::conn& s : servers) {
      wg.go([s, &got] {
        char c = 0;
        auto r = s.read(&c, 1);
        if (!r.second && c == 'x') got++;
      });
    }
    // Every reader parks on its receive (past 4,096 through the full
    // queue); only then does the data go.
    auto t0 = steady::now();
    while (io_waiting() - io_waiting_before < kReaders && steady::now() - t0 < 60s) goro::sleep_for(1ms);
    ASSERT_EQ(io_waiting() - io_waiting_before, kReaders) << "the readers did not all park";
    EXPECT_GT(g_submits_busy.load(), 0) << "no submit was answered busy: the test did not make its case";
    for (net::conn& c : clients) ASSERT_EQ(c.write("x").first, 1u);
    auto done = goro::make_chan<int>(1);
    goro::go([&wg, done] {
      wg.wait();
      done.send(1);
    });
    ASSERT_EQ(goro::select(goro::on_recv(done), goro::on_recv(goro::after(60s))), 0);
    EXPECT_EQ(got.load(), kReaders);
    g_busy_until_reaps.store(0);
    for (auto& c : clients) c.close();
    for (auto& s : servers) s.close();
  });
#endif
}

// A read deadline that passes as the byte arrives: whichever wins, the
// byte is read exactly once, by this read or the next (a receive
// cancelled too late has completed with the data, which it returns).
TEST(NetpollUring, DeadlineRacingDataLosesNoByte) {
  goro_test::for_procs([] {
    auto p = tcp_pair();
    net::conn r = p.first, w = p.second;
    constexpr int kRounds = 300;
    goro::wait_group wg;
    wg.go([w] {
      std::minstd_rand rng(7);
      for (int i = 0; i < kRounds; i++) {
        goro::sleep_for(std::chrono::microseconds(rng() % 100));
        char c = static_cast<char>(i);
        ASSERT_EQ(w.write(&c, 1).first, 1u);
      }
    });
    std::minstd_rand rng(11);
    int timeouts = 0;
    for (int i = 0; i < kRounds; i++) {
      char c = 0;
      r.set_read_deadline(steady::now() + std::chrono::microseconds(rng() % 100));
      auto got = r.read(&c, 1);
      if (got.second == goro::errc::deadline_exceeded) {
        timeouts++;
        r.set_read_deadline(net::no_deadline);
        got = r.read(&c, 1);
      }
      ASSERT_FALSE(got.second) << got.second.message();
      ASSERT_EQ(got.first, 1u);
      ASSERT_EQ(c, static_cast<char>(i)) << "a byte was lost or read twice at round " << i;
    }
    wg.wait();
    r.set_read_deadline(steady::now() + 20ms);
    char c;
    EXPECT_EQ(r.read(&c, 1).second, goro::errc::deadline_exceeded);  // nothing left over
    (void)timeouts;
  });
}

// Closing conns with readers parked in them wakes every reader with
// errc::closed; the descriptors go after (the next conns reuse them).
TEST(NetpollUring, CloseWakesEveryParkedReader) {
  goro_test::for_procs([] {
    constexpr int kConns = 200;
    std::vector<std::pair<net::conn, net::conn>> pairs;
    for (int i = 0; i < kConns; i++) pairs.push_back(tcp_pair());
    std::atomic<int> closed{0};
    std::atomic<int> started{0};
    goro::wait_group wg;
    for (auto& pr : pairs) {
      net::conn c = pr.first;
      wg.go([c, &closed, &started] {
        started++;
        char buf[64];
        auto r = c.read(buf, sizeof buf);
        if (r.second == goro::errc::closed) closed++;
      });
    }
    auto t0 = steady::now();
    while (started.load() < kConns && steady::now() - t0 < 20s) goro::sleep_for(100us);
    goro::sleep_for(5ms);  // most readers parked (not required: a read after close fails the same way)
    for (auto& pr : pairs) pr.first.close();
    wg.wait();
    EXPECT_EQ(closed.load(), kConns);
    // The numbers are reused at once; the new conns work.
    auto p = tcp_pair();
    ASSERT_EQ(p.first.write("ok").first, 2u);
    char buf[2];
    EXPECT_FALSE(p.second.read_full(buf, 2).second);
  });
}
