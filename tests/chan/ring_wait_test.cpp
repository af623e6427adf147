// Item 8 of issue 16: a ring operation that waits for another thread's
// operation in flight on the same slot (reserved, value not yet moved in
// or out) yields the CPU after a few spins, since that thread may have
// been preempted (more threads than cores). It used to spin forever.
//
// How it is observed: this test binary defines sched_yield, which counts
// the calls made by the waiting thread (and then yields as libc would);
// the library's backoff calls it through the dynamic symbol, which the
// executable's definition overrides. The in-flight operation is a send
// whose element's (noexcept) move constructor waits until the receiver
// has yielded, or 20 s: before the fix the receiver spun all that time
// and never yielded. Not under the sanitizers, which intercept the
// scheduler calls themselves.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "goro/goro.hpp"
#include "test_util.hpp"

#if !defined(GORO_ASAN) && !defined(GORO_TSAN)

namespace {
thread_local bool t_count_yields = false;
std::atomic<int> g_yields{0};
}  // namespace

extern "C" int sched_yield() noexcept {
  if (t_count_yields) g_yields.fetch_add(1);
  return static_cast<int>(syscall(SYS_sched_yield));
}

namespace {

std::atomic<bool> g_hold{false};      // the next move waits for a yield
std::atomic<bool> g_in_move{false};   // a held move has started
std::atomic<bool> g_timed_out{false};

struct held_move {
  int v = 0;
  held_move() = default;
  explicit held_move(int x) : v(x) {}
  held_move(held_move&& o) noexcept : v(o.v) {
    if (!g_hold.exchange(false)) return;
    g_in_move = true;
    auto t0 = std::chrono::steady_clock::now();
    while (g_yields.load() == 0) {
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(20)) {
        g_timed_out = true;
        break;
      }
    }
  }
  held_move& operator=(held_move&&) = default;
};
static_assert(std::is_nothrow_move_constructible_v<held_move>);

TEST(RingWait, WaitingForASlotInFlightYieldsTheCpu) {
  auto ch = goro::make_chan<held_move>(8);  // lock-free ring
  std::thread receiver;
  std::thread sender([&] {
    g_hold = true;
    ch.send(held_move(1));  // reserves the slot, then its move waits
  });
  while (!g_in_move.load()) {
  }
  // The slot is reserved and its value not yet published: the receive
  // waits for it.
  receiver = std::thread([&] {
    t_count_yields = true;
    EXPECT_EQ(ch.recv().v, 1);
    t_count_yields = false;
  });
  sender.join();
  receiver.join();
  EXPECT_FALSE(g_timed_out.load()) << "the receiver never yielded while it waited for the slot";
  EXPECT_GT(g_yields.load(), 0);
}

}  // namespace

#else

TEST(RingWait, WaitingForASlotInFlightYieldsTheCpu) { GTEST_SKIP() << "the sanitizers intercept sched_yield"; }

#endif
