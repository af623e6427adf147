// netpoll_break(), the interrupt of a blocking netpoll() (src/netpoll/
// netpoll.cpp): a break is meant for the M blocked in epoll_wait, and only
// a blocking poll may drain it. A non-blocking poll (a busy worker's, or
// the monitor's) that drained the eventfd would leave the blocked M asleep:
// the write woke it, but the level it was woken for is gone, and epoll
// puts it back to sleep. That M holds the P that startm handed it, so the
// goroutine startm was for never ran (seen as a fresh goro::run's main
// goroutine [runnable] for ever, under GORO_NETPOLL=uring).
//
// The poller is driven directly from plain threads, with no goroutine
// waiting for an fd, so no worker polls beside the test. Each wait is on a
// condition; the bound only turns a hang into a failure.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "goro/io.hpp"
#include "netpoll/netpoll.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

// A blocked poller, a break, then a non-blocking poll at once (before the
// blocked thread, which the kernel has only just woken, can look): the
// blocked poll returns every time.
TEST(NetpollBreak, ANonBlockingPollDoesNotTakeTheBreakMeantForABlockedOne) {
  // Bring the poller up: register a pipe's write end (ready at once).
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_FALSE(goro::wait_fd(p[1], goro::io::write));
  ASSERT_EQ(goro::detail::netpoll_waiters(), 0);

  const int rounds = goro_test::scaled(300, 3);
  int lost = 0;
  for (int i = 0; i < rounds && lost == 0; i++) {
    std::atomic<bool> returned{false};
    std::thread blocked([&] {
      int32_t n = 0;
      goro::detail::netpoll(INT64_MAX, &n);
      returned.store(true);
    });
    // (It may also return at once, on a break a round before left unread
    // for it: such a round shows nothing.)
    bool set_up = goro_test::spin_until([&] { return goro::detail::netpoll_blocked() || returned.load(); }, 30s);
    EXPECT_TRUE(set_up) << "the thread never blocked in netpoll";
    if (set_up) {
      goro::detail::netpoll_break();
      int32_t n = 0;
      goro::detail::netpoll(0, &n);  // what a busy worker or the monitor does
      if (!goro_test::spin_until([&] { return returned.load(); }, 20s)) lost++;
    }
    // Free the thread if it is stuck: a drained break lets a new one through.
    while (!returned.load()) {
      goro::detail::netpoll_break();
      std::this_thread::sleep_for(1ms);
    }
    blocked.join();
    if (!set_up) break;
  }
  EXPECT_EQ(lost, 0) << "a non-blocking poll took the break meant for the blocked one";
  goro::unwatch_fd(p[1]);
  close(p[0]);
  close(p[1]);
}
