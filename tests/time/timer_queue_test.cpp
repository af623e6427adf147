// The in-order queues beside each P's timer heap (time/timer.hpp,
// timer_heap): a timer whose deadline is not before a queue's last one is
// appended there instead of sifted into the heap, and is deleted in place,
// found again by its queue and sequence number through the queue's growth
// and compaction. White-box: entry counts from time/timer_stats.hpp.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"
#include "time/timer_stats.hpp"

using namespace std::chrono_literals;
using goro_test::steady;
using goro_test::wait_for;

namespace {

// Timers of one duration, made one after another, arrive in deadline
// order: they go on a queue, not the heap. Timers of falling durations
// start other queues, four in all; once no queue's last deadline is before
// a new one, that one goes on the heap. (With one P every timer here is on
// P 0's. Counts are deltas, and bounds where timers an earlier test of the
// same process left pending may hold queues.)
TEST(TimerQueue, TimersOfOneDurationAreQueuedNotSifted) {
  goro::set_maxprocs(1);
  goro::run([] {
    ASSERT_TRUE(wait_for([] { return goro::detail::timer_zombies_counted() == 0; }));
    const int64_t base_entries = goro::detail::timer_heap_entries();
    const int64_t base_queued = goro::detail::timer_queue_entries();
    std::vector<goro::timer> ts;
    for (int i = 0; i < 10'000; i++) ts.push_back(goro::new_timer(1h));
    EXPECT_EQ(goro::detail::timer_queue_entries() - base_queued, 10'000);
    for (int m = 59; m >= 50; m--) ts.push_back(goro::new_timer(std::chrono::minutes(m)));
    const int64_t queued = goro::detail::timer_queue_entries() - base_queued;
    const int64_t on_heap = goro::detail::timer_heap_entries() - base_entries - queued;
    EXPECT_LE(queued, 10'000 + 3) << "more queues than four";
    EXPECT_GE(on_heap, 10 - 3);
    EXPECT_EQ(queued + on_heap, 10'010);
    for (auto& t : ts) EXPECT_TRUE(t.stop());
    EXPECT_TRUE(wait_for([&] { return goro::detail::timer_heap_entries() == base_entries; }));
  });
  goro::set_maxprocs(2);
}

// Deletions under the lock (reset deletes the old entry, then re-arms)
// must find each queued entry in its slot after the queue has grown with
// its head moved along (so entries wrap around the ring) and after a
// compaction moved the live entries up; a wrong slot fails the runtime's
// check that the entry names the timer. Stopped (lock-free) timers sit in
// the queue as zombies meanwhile. Nothing fires that should not, every
// short re-armed timer fires, and everything is dropped at the end.
TEST(TimerQueue, DeletesFindQueuedEntriesThroughGrowthAndCompaction) {
  goro::set_maxprocs(1);
  goro::run([] {
    ASSERT_TRUE(wait_for([] { return goro::detail::timer_zombies_counted() == 0; }));
    const int64_t base_entries = goro::detail::timer_heap_entries();
    // Move the queue's head: 100 short timers queued and fired.
    {
      std::vector<goro::timer> warm;
      for (int i = 0; i < 100; i++) warm.push_back(goro::new_timer(1ms));
      for (auto& t : warm) t.c().recv();
    }
    constexpr int kTimers = 6'000;
    std::vector<goro::timer> ts;
    for (int i = 0; i < kTimers; i++) ts.push_back(goro::new_timer(1h));
    // A third re-armed later (a locked delete, then a queued entry again),
    // a third stopped (zombies), a third re-armed short (into a second
    // queue: their deadlines are before the first one's last): then half
    // the first queue's 8,000 entries are dead.
    for (int i = 0; i < kTimers; i += 3) ASSERT_TRUE(ts[i].reset(2h));
    for (int i = 1; i < kTimers; i += 3) ASSERT_TRUE(ts[i].stop());
    auto before_short = steady::now();
    for (int i = 2; i < kTimers; i += 3) ASSERT_TRUE(ts[i].reset(1ms));
    for (int i = 2; i < kTimers; i += 3) EXPECT_GE(ts[i].c().recv(), before_short + 1ms);
    // The first of these deletions makes dead entries more than half: the
    // queue is compacted, and the 1,999 after it find entries it moved.
    for (int i = 0; i < kTimers; i += 3) ASSERT_TRUE(ts[i].reset(3h));
    for (int i = 0; i < kTimers; i += 3) EXPECT_TRUE(ts[i].c().try_recv().would_block());
    for (int i = 0; i < kTimers; i += 3) ASSERT_TRUE(ts[i].stop());
    for (int i = 1; i < kTimers; i += 3) EXPECT_FALSE(ts[i].stop());
    EXPECT_TRUE(wait_for([&] { return goro::detail::timer_heap_entries() == base_entries; }));
  });
  goro::set_maxprocs(2);
}

// Timers queued in order and timers sifted into the heap, interleaved,
// fire not before their deadlines and all of them fire: the next due
// entry is the earlier of the queue's head and the heap's top.
TEST(TimerQueue, QueuedAndHeapTimersAllFireOnTime) {
  goro_test::for_procs([] {
    constexpr int kTimers = 2'000;
    std::vector<goro::timer> ts;
    std::vector<steady::time_point> due;
    for (int i = 0; i < kTimers; i++) {
      // Alternately a rising deadline (queued) and a shorter one (heap).
      auto d = std::chrono::microseconds(i % 2 == 0 ? 2'000 + i * 5 : 1'000 + (i * 7919) % 5'000);
      due.push_back(steady::now() + d);
      ts.push_back(goro::new_timer(d));
    }
    for (int i = 0; i < kTimers; i++) EXPECT_GE(ts[i].c().recv(), due[i]) << i;
  });
}

}  // namespace
