// Corners where goro's channels differed from Go's (issue 16, "Semantics"):
// each test here failed before its fix. The item numbers are the issue's.
#include <atomic>
#include <cstring>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "chan/hchan.hpp"
#include "chan/ring.hpp"
#include "sched/test_hooks.hpp"
#include "chan/ring.hpp"
#include "chan/throwing_move.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

using chan_test::throwing_move;

// On one P, lets `started` goroutines run until they block: each sets its
// flag right before a blocking channel operation, and with a single P it
// cannot be interrupted between the flag and parking.
void yield_until(const std::atomic<bool>& started) {
  while (!started.load()) goro::yield();
}

// Yields until n senders (or receivers) are parked on ch (white-box: counts the
// channel's send queue under its lock). Needed where a test's claim
// depends on senders being parked, in order: even on one P, a preemption
// request (the monitor's, after 10 ms on a busy or sanitized machine)
// makes a sender yield at the send's entry, after its `started` flag and
// before it parks.
template <class T>
void yield_until_parked(const goro::chan<T>& ch, int n, bool senders) {
  goro::detail::hchan* c = goro::detail::chan_access::core(ch);
  for (;;) {
    c->lock_.lock();
    int queued = 0;
    for (goro::detail::sudog* s = (senders ? c->sendq_ : c->recvq_).first; s != nullptr; s = s->next) queued++;
    c->lock_.unlock();
    if (queued >= n) return;
    goro::yield();
  }
}

// Item 1: a receive that frees a slot of a full buffered channel of a
// throwing-move type moves the first parked sender's value in, as Go does
// for every type. It used to wake the sender to retry, so a close() right
// after the receive made that send panic and its value was lost.
void close_right_after_receive(int cap) {
  goro::set_maxprocs(1);  // the sender cannot retry before the close
  goro::run([cap] {
    auto ch = goro::make_chan<throwing_move>(cap);
    for (int i = 1; i <= cap; i++) ch.send(throwing_move(i));
    std::atomic<bool> started{false}, sent{false}, panicked{false};
    goro::wait_group wg;
    wg.go([&] {
      started = true;
      try {
        ch.send(throwing_move(cap + 1));  // parks: the buffer is full
        sent = true;
      } catch (const goro::panic_error&) {
        panicked = true;
      }
    });
    yield_until(started);
    yield_until_parked(ch, 1, /*senders=*/true);
    EXPECT_EQ(ch.recv().v, 1);
    ch.close();
    std::vector<int> drained;
    for (auto x : ch) drained.push_back(x.v);
    std::vector<int> want;
    for (int i = 2; i <= cap + 1; i++) want.push_back(i);
    EXPECT_EQ(drained, want) << "cap " << cap;
    wg.wait();
    EXPECT_TRUE(sent.load()) << "cap " << cap;
    EXPECT_FALSE(panicked.load()) << "cap " << cap;
  });
}

TEST(ChanSemantics, ThrowingMoveCap1ParkedSendSurvivesCloseAfterReceive) { close_right_after_receive(1); }
TEST(ChanSemantics, ThrowingMoveCap4ParkedSendSurvivesCloseAfterReceive) { close_right_after_receive(4); }

// Item 1, second half: the parked sender keeps its place. Two senders park
// on a full cap-1 channel of a throwing-move type; the values arrive in the
// order they parked.
TEST(ChanSemantics, ThrowingMoveParkedSendersKeepTheirOrder) {
  goro::set_maxprocs(1);
  goro::run([] {
    auto ch = goro::make_chan<throwing_move>(1);
    ch.send(throwing_move(0));
    goro::wait_group wg;
    for (int i = 1; i <= 3; i++) {
      std::atomic<bool> started{false};
      wg.go([&ch, &started, i] {
        started = true;
        ch.send(throwing_move(i));
      });
      yield_until(started);
      yield_until_parked(ch, i, /*senders=*/true);
    }
    for (int i = 0; i <= 3; i++) EXPECT_EQ(ch.recv().v, i);
    wg.wait();
  });
}

// Item 2: a select with a default case must not choose the default while a
// case was ready the whole time. A thread moves a token between two cap-4
// channels so that at every instant one of them holds a value (it sends to
// the other before it receives); the select takes whichever it finds and
// puts it back. Go never takes the default here; goro did, 14 times in
// 3,000,000, because lock-free ring operations went on during its locked
// pass. Six channels that stay empty sit among the cases, so that the
// select's looks at a and b are further apart: before the fix, 1 of 6
// runs of 10,000,000 selects took the default without them, 3 of 6 with
// them (1 to 119 times). This test can pass on broken code; it cannot
// fail on correct code.
TEST(ChanSemantics, SelectDefaultNotChosenWhileACaseIsAlwaysReady) {
  goro::run([] {
    auto a = goro::make_chan<int>(4), b = goro::make_chan<int>(4);
    std::vector<goro::chan<int>> e;
    for (int i = 0; i < 6; i++) e.push_back(goro::make_chan<int>(4));
    a.send(1);
    std::atomic<bool> stop{false};
    std::thread mover([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        b.send(1);
        a.recv();
        a.send(1);
        b.recv();
      }
    });
    const int rounds = goro_test::scaled(10'000'000, 100);
    int defaults = 0;
    for (int i = 0; i < rounds; i++) {
      int which = goro::select(goro::on_recv(a), goro::on_recv(e[0]), goro::on_recv(e[1]), goro::on_recv(e[2]),
                               goro::on_recv(e[3]), goro::on_recv(e[4]), goro::on_recv(e[5]), goro::on_recv(b),
                               goro::on_default());
      if (which == 0) a.send(1);
      else if (which == 7) b.send(1);
      else defaults++;
    }
    stop = true;  // every token is back: the mover's round ends without us
    mover.join();
    EXPECT_EQ(defaults, 0) << "of " << rounds << " selects";
  });
}

// An element whose move is slow (noexcept): widens the window between the
// two halves of an operation that is not atomic.
struct slow_move {
  int v = 0;
  slow_move() = default;
  explicit slow_move(int x) : v(x) {}
  slow_move(slow_move&& o) noexcept : v(o.v) {
    auto t0 = steady::now();
    while (steady::now() - t0 < 20us) {
    }
  }
  slow_move& operator=(slow_move&&) = default;
};

// Item 4: a full cap-1 or cap-2 channel with a sender parked must never
// look less than full (Go's count stays at cap while a receive takes a
// value and the parked sender's value takes its place). A receive used to
// pop the value and then refill the slot from the sender in two steps, and
// len() (what try_recv, try_send and select's first pass read without the
// lock) could land between them: a cap-1 channel looked empty to try_recv
// in 24 of 4,000 trials (Go: never).
void never_looks_less_than_full(int cap) {
  goro::set_maxprocs(1);
  goro::run([cap] {
    const int trials = goro_test::scaled(300, 10);
    int seen_empty = 0;
    for (int t = 0; t < trials; t++) {
      auto ch = goro::make_chan<slow_move>(cap);
      for (int i = 0; i < cap; i++) ch.send(slow_move(i));
      std::atomic<bool> started{false};
      goro::wait_group wg;
      wg.go([&] {
        started = true;
        ch.send(slow_move(cap));  // parks: full
      });
      yield_until(started);
      yield_until_parked(ch, 1, /*senders=*/true);
      std::atomic<bool> done{false}, watching{false};
      std::atomic<int> empties{0};
      std::thread watcher([&] {
        watching = true;
        while (!done.load()) {
          if (ch.len() != cap) empties++;
        }
      });
      while (!watching.load()) {
      }
      ch.recv();  // frees a slot; the parked sender's value fills it
      done = true;
      watcher.join();
      if (empties.load() > 0) seen_empty++;
      EXPECT_EQ(ch.len(), cap);
      for (int i = 0; i < cap; i++) ch.recv();
      wg.wait();
    }
    EXPECT_EQ(seen_empty, 0) << "trials that saw the buffer less than full, of " << trials;
  });
}

// The same moment, made deterministic (white-box): refill_head_exclusive
// has advanced tail_ and not yet head_. The ring holds cap values; len()
// read it as 1 for cap 2 (the indices wrapped) until it counted laps.
TEST(ChanSemantics, LenInTheMiddleOfARefillIsCap) {
  for (int cap : {1, 2, 3, 5}) {
    auto ch = goro::make_chan<slow_move>(cap);
    for (int i = 0; i < cap; i++) ch.send(slow_move(i));
    goro::detail::hchan_ring* c = goro::detail::chan_access::core(ch)->ring();
    ASSERT_TRUE(c->locked_mode_ || cap > 2);
    uint64_t tail = c->tail_.load();
    c->tail_.store(goro::detail::ring::next_pos(c, tail));  // the refill's first store
    EXPECT_EQ(ch.len(), cap) << "cap " << cap;
    c->tail_.store(tail);  // back to the consistent full ring
    EXPECT_EQ(ch.len(), cap) << "cap " << cap;
  }
}

TEST(ChanSemantics, FullCap1WithParkedSenderNeverLooksLessThanFull) { never_looks_less_than_full(1); }
TEST(ChanSemantics, FullCap2WithParkedSenderNeverLooksLessThanFull) { never_looks_less_than_full(2); }
// Lock-free rings (capacity 3 or more, a move that cannot throw): a
// receive popped the value without the lock and the parked sender's value
// filled the slot after, under it; len() read cap - 1 in between (a
// review's probe: 100 of 100 trials at capacities 3 and 4). Invariant I6.
TEST(ChanSemantics, FullLockFreeCap3WithParkedSenderNeverLooksLessThanFull) { never_looks_less_than_full(3); }
TEST(ChanSemantics, FullLockFreeCap8WithParkedSenderNeverLooksLessThanFull) { never_looks_less_than_full(8); }

// The same gap let a close() in: the parked sender's push then found the
// closed mark and its send panicked, though the receive had made room for
// it (Go moves its value in the receive's step, so the send succeeds).
// A plain thread closes the channel as soon as it sees the buffer less
// than full, or once the receive has returned.
TEST(ChanSemantics, LockFreeParkedSendSurvivesCloseAfterReceive) {
  goro::set_maxprocs(1);
  goro::run([] {
    const int cap = 4;
    const int trials = goro_test::scaled(100, 10);
    int panics = 0;
    for (int t = 0; t < trials; t++) {
      auto ch = goro::make_chan<slow_move>(cap);
      ASSERT_TRUE(goro::detail::chan_access::core(ch)->lock_free());
      for (int i = 1; i <= cap; i++) ch.send(slow_move(i));
      std::atomic<bool> started{false}, panicked{false}, received{false}, watching{false};
      goro::wait_group wg;
      wg.go([&] {
        started = true;
        try {
          ch.send(slow_move(cap + 1));  // parks: full
        } catch (const goro::panic_error&) {
          panicked = true;
        }
      });
      yield_until(started);
      yield_until_parked(ch, 1, /*senders=*/true);
      std::thread closer([&] {
        watching = true;
        while (ch.len() == cap && !received.load()) {
        }
        ch.close();
      });
      while (!watching.load()) {
      }
      EXPECT_EQ(ch.recv().v, 1);
      received = true;
      closer.join();
      wg.wait();
      std::vector<int> drained;
      for (auto x : ch) drained.push_back(x.v);
      if (panicked.load()) {
        panics++;
      } else {
        EXPECT_EQ(drained, (std::vector<int>{2, 3, 4, 5}));
      }
    }
    EXPECT_EQ(panics, 0) << "trials where the parked send panicked, of " << trials;
  });
}

// Mirror: a send that meets a parked receiver hands the value over; the
// buffer never holds it. It was pushed without the lock and popped into
// the receiver under it after, and len() read 1 in between (Go: 0).
TEST(ChanSemantics, EmptyLockFreeRingWithParkedReceiverNeverLooksNonEmpty) {
  goro::set_maxprocs(1);
  goro::run([] {
    const int trials = goro_test::scaled(100, 10);
    int seen_value = 0;
    for (int t = 0; t < trials; t++) {
      auto ch = goro::make_chan<slow_move>(4);
      ASSERT_TRUE(goro::detail::chan_access::core(ch)->lock_free());
      std::atomic<bool> started{false}, done{false}, watching{false};
      std::atomic<int> got{-1}, nonempty{0};
      goro::wait_group wg;
      wg.go([&] {
        started = true;
        got = ch.recv().v;  // parks: empty
      });
      yield_until(started);
      yield_until_parked(ch, 1, /*senders=*/false);
      std::thread watcher([&] {
        watching = true;
        while (!done.load()) {
          if (ch.len() != 0) nonempty++;
        }
      });
      while (!watching.load()) {
      }
      ch.send(slow_move(7));
      wg.wait();
      done = true;
      watcher.join();
      EXPECT_EQ(got.load(), 7);
      if (nonempty.load() > 0) seen_value++;
    }
    EXPECT_EQ(seen_value, 0) << "trials where the buffer held the value handed to a parked receiver, of " << trials;
  });
}

// I6 with a select's dead entry: a select parked sending on a full
// lock-free ring, and another of its cases won. Its entry stays queued
// until its goroutine runs again (one P: not before the checks), and so
// does head_'s park bit; a receive then must take an ordinary pop under
// the lock (nobody's value refills the slot) and clear the bit, so that
// lock-free receives go on.
TEST(ChanSemantics, ReceiveAfterASelectSenderLostLeavesTheRingAsAPop) {
  goro::set_maxprocs(1);
  goro::run([] {
    auto full = goro::make_chan<int>(4);
    auto won = goro::make_chan<int>();
    for (int i = 1; i <= 4; i++) full.send(i);
    goro::detail::hchan_ring* r = goro::detail::chan_access::core(full)->ring();
    ASSERT_TRUE(r->lock_free());
    auto done = goro::make_chan<int>(1);
    goro::go([=] {
      goro::select(goro::on_send(full, 5), goro::on_recv(won));
      done.send(1);
    });
    yield_until_parked(full, 1, /*senders=*/true);
    EXPECT_NE(r->head_.load() & r->park_bit_, 0u) << "a sender is parked";
    won.send(1);  // the select's receive wins; its send entry is dead
    EXPECT_EQ(full.recv(), 1);
    EXPECT_EQ(r->head_.load() & r->park_bit_, 0u) << "the park bit outlived the queue";
    EXPECT_EQ(full.len(), 3);
    for (int want : {2, 3, 4}) EXPECT_EQ(full.recv(), want);
    done.recv();
    EXPECT_TRUE(full.try_recv().would_block());
  });
}

// Item 5: after() and sleep_for with durations too long for int64
// nanoseconds never come (Go clamps time.After(math.MaxInt64)); they used
// to overflow and fire at once.
TEST(ChanSemantics, AfterWithAHugeDurationNeverFires) {
  goro::run([] {
    using years = std::chrono::duration<int64_t, std::ratio<31'556'952>>;
    auto a = goro::after(std::chrono::nanoseconds::max());
    auto b = goro::after(years(1000));
    auto c = goro::after(std::chrono::duration<double>(1e30));
    auto d = goro::after(std::chrono::hours::max());
    // Timers fire in deadline order: once this 1 ms one has, any of the
    // above whose deadline wrapped into the past has fired too.
    goro::after(1ms).recv();
    EXPECT_TRUE(a.try_recv().would_block());
    EXPECT_TRUE(b.try_recv().would_block());
    EXPECT_TRUE(c.try_recv().would_block());
    EXPECT_TRUE(d.try_recv().would_block());
  });
}

TEST(ChanSemantics, SleepForAHugeDurationDoesNotReturn) {
  goro::run([] {
    using years = std::chrono::duration<int64_t, std::ratio<31'556'952>>;
    // Each sleeper counts itself started just before its sleep; a sleep
    // that wrongly returns counts itself returned right after, with no
    // park between. main waits until all three have started, then for a
    // 1 ms timer of its own (a park, so the sleepers are run, and a timer
    // behind any wrapped deadline), and then for any sleeper still
    // runnable to have run: they only need a CPU, never a timer.
    std::atomic<int> started{0}, returned{0};
    goro::go([&] {
      started++;
      goro::sleep_for(years(1000));
      returned++;
    });
    goro::go([&] {
      started++;
      goro::sleep_for(std::chrono::hours::max());
      returned++;
    });
    goro::go([&] {
      started++;
      goro::sleep_until(steady::time_point::max());
      returned++;
    });
    while (started.load() < 3) goro::yield();
    goro::after(1ms).recv();
    for (int i = 0; i < 100; i++) goro::yield();  // lets runnable sleepers run (nothing to wait for when correct)
    EXPECT_EQ(returned.load(), 0);
  });
}

// Item 6: a parked sender's value is the next one received after the
// buffer's: Go serves it as soon as there is room, before any later send.
// A try_send poller used to take the room a receive made for it (59 of 500
// trials; once the parked value came 4,434th).
TEST(ChanSemantics, ParkedSenderIsNotOvertakenByTrySend) {
  goro::set_maxprocs(1);
  goro::run([] {
    const int trials = goro_test::scaled(300, 10);
    int overtaken = 0;
    for (int t = 0; t < trials; t++) {
      auto ch = goro::make_chan<int>(4);
      for (int i = 1; i <= 4; i++) ch.send(i);
      std::atomic<bool> started{false};
      goro::wait_group wg;
      wg.go([&] {
        started = true;
        ch.send(5);  // parks: full
      });
      yield_until(started);
      yield_until_parked(ch, 1, /*senders=*/true);
      std::atomic<bool> stop{false}, polling{false};
      std::thread poller([&] {
        polling = true;
        for (int v = 100; !stop.load(std::memory_order_relaxed);) {
          if (ch.try_send(v)) v++;
        }
      });
      while (!polling.load()) {
      }
      int position = 0;
      for (int k = 1; k <= 1000; k++) {
        if (ch.recv() == 5) {
          position = k;
          break;
        }
      }
      stop = true;
      poller.join();
      if (position != 5) overtaken++;
      while (position == 0) position = ch.recv() == 5 ? -1 : 0;  // let the sender finish
      wg.wait();
    }
    EXPECT_EQ(overtaken, 0) << "trials where the parked value was not 5th, of " << trials;
  });
}

// Item 6, mirror: a value sent while a receiver is parked goes to that
// receiver, not to a try_recv poller that came later.
TEST(ChanSemantics, ParkedReceiverIsNotOvertakenByTryRecv) {
  goro::set_maxprocs(1);
  goro::run([] {
    const int trials = goro_test::scaled(300, 10);
    int overtaken = 0;
    for (int t = 0; t < trials; t++) {
      auto ch = goro::make_chan<int>(4);
      std::atomic<bool> started{false};
      std::atomic<int> got{-1};
      goro::wait_group wg;
      wg.go([&] {
        started = true;
        got = ch.recv();  // parks: empty
      });
      yield_until(started);
      yield_until_parked(ch, 1, /*senders=*/false);
      std::atomic<bool> stop{false}, polling{false};
      std::atomic<int> polled{0};
      std::thread poller([&] {
        polling = true;
        while (!stop.load(std::memory_order_relaxed)) {
          if (ch.try_recv()) polled++;
        }
      });
      while (!polling.load()) {
      }
      ch.send(1);
      ch.send(2);
      // Until the receiver has a value, or the poller took both (then the
      // receiver waits for a third, sent below).
      while (got.load() == -1 && polled.load() < 2) goro::yield();
      stop = true;
      poller.join();
      if (got.load() == -1) ch.send(3);
      wg.wait();
      if (got.load() != 1) overtaken++;
    }
    EXPECT_EQ(overtaken, 0) << "trials where the parked receiver did not get the first value, of " << trials;
  });
}

// Item 7: after the channel operation, a received value is moved exactly
// once more, into what the receive returns (the core's move out of the
// buffer is the first). recv() and try_recv() moved it twice more, the
// range-for's first value too: each extra move is one more chance to lose
// a value whose send has already returned.
struct counted {
  static inline int moves = 0;
  int v = 0;
  counted() = default;
  explicit counted(int x) : v(x) {}
  counted(counted&& o) noexcept : v(o.v) { moves++; }
  counted& operator=(counted&&) = default;
  ~counted() {}
};

TEST(ChanSemantics, ReceiveMovesTheValueOnceAfterTheOperation) {
  goro::run([] {
    auto ch = goro::make_chan<counted>(8);
    auto moves_of = [&](auto receive) {
      ch.send(counted(7));
      counted::moves = 0;
      receive();
      return counted::moves;
    };
    // 2: out of the buffer (inside the operation), then into the result.
    EXPECT_EQ(moves_of([&] { EXPECT_EQ(ch.recv().v, 7); }), 2) << "recv";
    EXPECT_EQ(moves_of([&] { EXPECT_EQ(ch.recv_ok().value.v, 7); }), 2) << "recv_ok";
    EXPECT_EQ(moves_of([&] { EXPECT_EQ(ch.recv_opt()->v, 7); }), 2) << "recv_opt";
    EXPECT_EQ(moves_of([&] { EXPECT_EQ(ch.try_recv()->v, 7); }), 2) << "try_recv";
    EXPECT_EQ(moves_of([&] {
                auto it = ch.begin();
                counted v = *it;  // as `for (auto v : ch)` does
                EXPECT_EQ(v.v, 7);
              }),
              2)
        << "range-for's first value";
  });
}

// Invariant I1 (chan/hchan.hpp): recv_waiting_ and send_waiting_ say
// whether the queues hold waiters. An operation that found only the entry
// of a select another case had won (dequeue drops it) left the flag set
// over an empty queue, until that select's goroutine ran again: meanwhile
// an unbuffered try_send or try_recv took the lock instead of the
// lock-free "would block" answer. (A review of the channels, 2026-12-06.)
// One P: the select's goroutine does not run between the winning
// operation and the check.
template <class T>
std::pair<bool, uint32_t> queue_and_flag(const goro::chan<T>& ch, bool senders) {
  goro::detail::hchan* c = goro::detail::chan_access::core(ch);
  c->lock_.lock();
  bool empty = (senders ? c->sendq_ : c->recvq_).empty();
  uint32_t flag = (senders ? c->send_waiting_ : c->recv_waiting_).load();
  c->lock_.unlock();
  return {empty, flag};
}

TEST(ChanSemantics, WaitingFlagsFollowTheQueuesWhenOnlyDeadSelectEntriesAreDropped) {
  goro::set_maxprocs(1);
  goro::run([] {
    for (bool senders : {false, true}) {
      SCOPED_TRACE(senders ? "a select parked sending" : "a select parked receiving");
      auto won = goro::make_chan<int>();
      auto other = goro::make_chan<int>();
      auto done = goro::make_chan<int>(1);
      goro::go([=] {
        if (senders)
          goro::select(goro::on_send(won, 1), goro::on_send(other, 2));
        else
          goro::select(goro::on_recv(won), goro::on_recv(other));
        done.send(1);
      });
      yield_until_parked(other, 1, senders);
      // Its case on `won` wins; its entry on `other` is dead but queued.
      if (senders)
        EXPECT_EQ(won.recv(), 1);
      else
        won.send(1);
      if (senders) {
        EXPECT_TRUE(other.try_recv().would_block());
      } else {
        EXPECT_FALSE(other.try_send(3));
      }
      auto [empty, flag] = queue_and_flag(other, senders);
      EXPECT_TRUE(empty);
      EXPECT_EQ(flag, 0u) << "the waiting flag stays set over an empty queue";
      done.recv();
    }
  });
}

// A select with a default case decides "nothing is ready" when the ring
// positions its cases depend on did not move during its locked pass. It
// summed both positions of every lock-free ring, so its own work looked
// like a move: here pass 2 fills the slot a lock-free receive has just
// freed (head_ moved, the parked sender not yet served) with the parked
// sender's value (tail_), and went round again every time. Only the
// position that can make a case ready counts now (head_ for a send).
// The seam does the receive's pop between pass 1 and pass 2.
std::atomic<int> g_pass2_rounds{0};
goro::detail::hchan_ring* g_pop_from = nullptr;

void pop_one_on_first_round() {
  if (g_pass2_rounds.fetch_add(1) != 0) return;
  goro::detail::ring::token t;
  // under_lock: since I6 (chan/hchan.hpp) no lock-free pop starts while
  // a sender is parked, so the seam plays a pop whose CAS came just before
  // the sender's park bit (serve then finds the room) in slow motion.
  ASSERT_EQ(goro::detail::ring::start_pop<goro::detail::ring::mode::under_lock>(g_pop_from, t),
            goro::detail::ring::status::ok);
  alignas(16) unsigned char slot[64] = {};  // the ring may move whole words
  goro::detail::ring::finish_pop(g_pop_from, t, slot);
  int v = 0;
  std::memcpy(&v, slot, sizeof v);
  EXPECT_EQ(v, 1);
}

TEST(ChanSemantics, SelectDefaultDoesNotCountItsOwnServeAsAMove) {
  goro::set_maxprocs(1);
  goro::run([] {
    auto b = goro::make_chan<int>(4);
    for (int i = 1; i <= 4; i++) b.send(i);
    goro::wait_group wg;
    wg.go([b] { b.send(5); });  // parks: the buffer is full
    yield_until_parked(b, 1, true);
    g_pop_from = goro::detail::chan_access::core(b)->ring();
    ASSERT_TRUE(g_pop_from->lock_free());
    g_pass2_rounds = 0;
    goro::detail::test_hooks::select_pass2_round.store(pop_one_on_first_round);
    int i = goro::select(goro::on_send(b, 6), goro::on_default());
    goro::detail::test_hooks::select_pass2_round.store(nullptr);
    EXPECT_EQ(i, 1) << "the buffer is full again (the parked sender's value): default";
    EXPECT_EQ(g_pass2_rounds.load(), 1) << "pass 2 went round again after its own serve";
    wg.wait();
    for (int want : {2, 3, 4, 5}) EXPECT_EQ(b.recv(), want);
  });
}

}  // namespace
