// goro::select's result form (case_recv, case_send, case_default and
// select_result): the chosen case and the received value come back to the
// caller, so a select loop uses break, continue and return directly. Same
// semantics as the handler form: uniform choice among ready cases, default,
// nil channels never chosen, send on a closed channel throws.
#include <gtest/gtest.h>

#include <goro/goro.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;
using goro_test::for_procs;

// Counts copies; moves are free. The channel and select must never copy.
struct counted {
  int v = 0;
  int copies = 0;
  counted() = default;
  explicit counted(int x) : v(x) {}
  counted(const counted& o) : v(o.v), copies(o.copies + 1) {}
  counted(counted&&) noexcept = default;
  counted& operator=(const counted&) = default;
  counted& operator=(counted&&) noexcept = default;
};

TEST(SelectResult, RecvCaseGivesTheValue) {
  for_procs([] {
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<std::string>(1);
    b.send("hello");
    auto s = goro::select(goro::case_recv(a), goro::case_recv(b));
    EXPECT_EQ(s.index(), 1);
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(s.get<1>(), "hello");
    EXPECT_THROW((void)s.get<0>(), std::logic_error);  // case 0 was not chosen
    std::string taken = std::move(s.get<1>());
    EXPECT_EQ(taken, "hello");
  });
}

TEST(SelectResult, ValueIsMovedNotCopied) {
  for_procs([] {
    for (int cap : {0, 1}) {
      auto c = goro::make_chan<counted>(cap);
      goro::go([c] { c.send(counted(7)); });
      auto s = goro::select(goro::case_recv(c));
      ASSERT_EQ(s.index(), 0);
      EXPECT_EQ(s.get<0>().v, 7);
      EXPECT_EQ(s.get<0>().copies, 0);
      // Moving the result moves the value along, still without a copy.
      auto moved = std::move(s);
      EXPECT_EQ(moved.get<0>().copies, 0);
      EXPECT_EQ(moved.get<0>().v, 7);
    }
  });
}

TEST(SelectResult, MoveOnlyValue) {
  for_procs([] {
    auto c = goro::make_chan<std::unique_ptr<int>>(1);
    c.send(std::make_unique<int>(42));
    auto s = goro::select(goro::case_recv(c), goro::case_default());
    ASSERT_EQ(s.index(), 0);
    std::unique_ptr<int> p = std::move(s).get<0>();
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 42);
  });
}

TEST(SelectResult, SendCase) {
  for_procs([] {
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<std::unique_ptr<int>>(1);
    auto p = std::make_unique<int>(5);
    // b has room: case 0 is chosen and p moved from.
    auto s = goro::select(goro::case_send(b, std::move(p)), goro::case_recv(a));
    EXPECT_EQ(s.index(), 0);
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(p, nullptr);  // chosen: moved from
    auto q = std::make_unique<int>(6);
    auto t = goro::select(goro::case_send(b, std::move(q)), goro::case_default());
    EXPECT_EQ(t.index(), 1);
    EXPECT_FALSE(t.ok());
    ASSERT_TRUE(q);  // not chosen: untouched
    EXPECT_EQ(*b.recv(), 5);
    // An lvalue is copied in when the case is made.
    auto c = goro::make_chan<std::string>(1);
    std::string v = "copy";
    EXPECT_EQ(goro::select(goro::case_send(c, v)).index(), 0);
    EXPECT_EQ(v, "copy");
    EXPECT_EQ(c.recv(), "copy");
  });
}

TEST(SelectResult, DefaultOnlyWhenNothingReady) {
  for_procs([] {
    auto a = goro::make_chan<int>(), b = goro::make_chan<int>(1);
    auto s = goro::select(goro::case_recv(a), goro::case_recv(b), goro::case_default());
    EXPECT_EQ(s.index(), 2);
    EXPECT_FALSE(s.ok());
    b.send(3);
    auto t = goro::select(goro::case_recv(a), goro::case_default(), goro::case_recv(b));
    EXPECT_EQ(t.index(), 2);
    EXPECT_EQ(t.get<2>(), 3);
  });
}

TEST(SelectResult, ClosedChannelGivesZeroAndNotOk) {
  for_procs([] {
    auto c = goro::make_chan<std::string>(2);
    c.send("last");
    c.close();
    auto s = goro::select(goro::case_recv(c));
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(s.get<0>(), "last");
    auto t = goro::select(goro::case_recv(c), goro::case_default());
    EXPECT_EQ(t.index(), 0);  // a closed channel is always ready
    EXPECT_FALSE(t.ok());
    EXPECT_EQ(t.get<0>(), "");  // Go's zero value
  });
}

TEST(SelectResult, NilChannelsNeverChosen) {
  for_procs([] {
    goro::chan<int> nil;
    auto c = goro::make_chan<int>(1);
    for (int k = 0; k < 100; k++) {
      c.send(k);
      auto s = goro::select(goro::case_recv(nil), goro::case_send(nil, 1), goro::case_recv(c));
      ASSERT_EQ(s.index(), 2);
      EXPECT_EQ(s.get<2>(), k);
    }
    EXPECT_EQ(goro::select(goro::case_recv(nil), goro::case_default()).index(), 1);
  });
}

TEST(SelectResult, SendOnClosedPanics) {
  for_procs([] {
    auto c = goro::make_chan<int>(1);
    c.close();
    try {
      (void)goro::select(goro::case_send(c, 1), goro::case_default());
      ADD_FAILURE() << "no panic";
    } catch (const goro::panic_error& e) {
      EXPECT_STREQ(e.what(), "send on closed channel");
    }
  });
}

TEST(SelectResult, UniformAmongReadyCases) {
  goro::run([] {
    constexpr int kCases = 3, kRounds = 6000;
    std::array<goro::chan<int>, kCases> cs;
    for (auto& c : cs) {
      c = goro::make_chan<int>(1);
      c.send(0);
    }
    std::array<int, kCases> wins{};
    for (int r = 0; r < kRounds; r++) {
      auto s = goro::select(goro::case_recv(cs[0]), goro::case_recv(cs[1]), goro::case_recv(cs[2]));
      wins[s.index()]++;
      cs[s.index()].send(0);  // ready again
    }
    for (int w : wins) {
      EXPECT_GT(w, kRounds / kCases * 8 / 10);
      EXPECT_LT(w, kRounds / kCases * 12 / 10);
    }
  });
}

// The point of the form: a select loop that leaves with return, and goes on
// with continue, with no flag variable.
int sum_until_closed_or_quit(goro::recv_chan<int> in, goro::recv_chan<goro::unit> quit) {
  int sum = 0;
  for (;;) {
    switch (auto s = goro::select(goro::case_recv(in), goro::case_recv(quit)); s.index()) {
      case 0:
        if (!s.ok()) return sum;  // in closed
        sum += s.get<0>();
        continue;
      case 1:
        return -sum;
    }
  }
}

TEST(SelectResult, LoopWithReturnAndContinue) {
  for_procs([] {
    auto in = goro::make_chan<int>(), done = goro::make_chan<int>(1);
    auto quit = goro::make_chan<goro::unit>();
    goro::go([=] { done.send(sum_until_closed_or_quit(in, quit)); });
    for (int i = 1; i <= 10; i++) in.send(i);
    in.close();
    EXPECT_EQ(done.recv(), 55);

    auto in2 = goro::make_chan<int>();
    goro::go([=] { done.send(sum_until_closed_or_quit(in2, quit)); });
    in2.send(4);
    quit.send({});
    EXPECT_EQ(done.recv(), -4);
  });
}

TEST(SelectResult, LoopWithBreak) {
  for_procs([] {
    auto ticks = goro::make_chan<int>(8);
    for (int i = 0; i < 5; i++) ticks.send(i);
    int seen = 0;
    for (bool more = true; more;) {
      switch (auto s = goro::select(goro::case_recv(ticks), goro::case_default()); s.index()) {
        case 0: seen++; break;  // leaves the switch, as in Go's select
        case 1: more = false; break;
      }
    }
    EXPECT_EQ(seen, 5);
    // And a labelled-break equivalent: leave the loop from inside the case.
    ticks.send(1);
    ticks.close();
    int got = 0;
    while (true) {
      auto s = goro::select(goro::case_recv(ticks));
      if (!s.ok()) break;
      got += s.get<0>();
    }
    EXPECT_EQ(got, 1);
  });
}

TEST(SelectResult, BlocksUntilACaseIsReady) {
  for_procs([] {
    auto a = goro::make_chan<int>(), b = goro::make_chan<int>();
    goro::go([b] {
      goro::sleep_for(5ms);
      b.send(9);
    });
    auto s = goro::select(goro::case_recv(a), goro::case_recv(b));
    EXPECT_EQ(s.index(), 1);
    EXPECT_EQ(s.get<1>(), 9);
    // A blocked send case, taken by a receiver that comes later.
    goro::go([a] {
      goro::sleep_for(5ms);
      EXPECT_EQ(a.recv(), 11);
    });
    EXPECT_EQ(goro::select(goro::case_send(a, 11), goro::case_recv(b)).index(), 0);
  });
}

// Temporaries in the argument list (goro::after) live as long as the call.
TEST(SelectResult, InlineTemporaryChannelCases) {
  for_procs([] {
    auto never = goro::make_chan<int>();
    auto s = goro::select(goro::case_recv(never), goro::case_recv(goro::after(2ms)));
    EXPECT_EQ(s.index(), 1);
    EXPECT_TRUE(s.ok());
    bool timed_out = false;
    goro::select(goro::on_recv(never), goro::on_recv(goro::after(2ms), [&] { timed_out = true; }));
    EXPECT_TRUE(timed_out);
    std::vector<goro::select_case> cases;
    cases.push_back(goro::on_recv(never));
    cases.push_back(goro::on_recv(goro::after(2ms)));  // select_case keeps it alive
    EXPECT_EQ(goro::select(cases), 1);
  });
}

TEST(SelectResult, FromPlainThreads) {
  auto a = goro::make_chan<int>(), b = goro::make_chan<int>();
  std::thread t([a, b] {
    auto s = goro::select(goro::case_recv(a), goro::case_send(b, 2));
    EXPECT_EQ(s.index(), 0);
    EXPECT_EQ(s.get<0>(), 1);
  });
  a.send(1);
  t.join();
  std::thread u([b] { EXPECT_EQ(b.recv(), 3); });
  EXPECT_EQ(goro::select(goro::case_send(b, 3), goro::case_recv(a)).index(), 0);
  u.join();
}

}  // namespace

// A value whose move throws once armed.
struct fragile_move {
  static inline bool armed = false;
  int v = 0;
  fragile_move() = default;
  explicit fragile_move(int x) : v(x) {}
  fragile_move(const fragile_move&) = default;
  fragile_move(fragile_move&& o) : v(o.v) {  // NOLINT: deliberately not noexcept
    if (armed) throw std::runtime_error("move failed");
  }
  fragile_move& operator=(const fragile_move&) = default;
  ~fragile_move() {}
};

// Moving a result moves its value, so it is noexcept only when the value's
// move is, and a throwing move reaches the caller. It claimed noexcept for
// every value type before (its storage's trait, raw bytes), and a move
// that threw ended the program in std::terminate.
TEST(SelectResult, MovingTheResultThrowsWhatTheValueMoveThrows) {
  using result_of_fragile = decltype(goro::select(goro::case_recv(std::declval<goro::chan<fragile_move>&>())));
  using result_of_int = decltype(goro::select(goro::case_recv(std::declval<goro::chan<int>&>())));
  EXPECT_FALSE(std::is_nothrow_move_constructible_v<result_of_fragile>);
  EXPECT_TRUE(std::is_nothrow_move_constructible_v<result_of_int>);
  goro::run([] {
    auto c = goro::make_chan<fragile_move>(1);
    c.send(fragile_move(7));
    auto s = goro::select(goro::case_recv(c));
    ASSERT_EQ(s.index(), 0);
    fragile_move::armed = true;
    EXPECT_THROW({ auto moved = std::move(s); }, std::runtime_error);
    fragile_move::armed = false;
    EXPECT_EQ(s.get<0>().v, 7);  // still in the result the move came from
  });
}
