// Channels as standard ranges and values: the iterator is a
// std::input_iterator and the channel a std::ranges::input_range (so
// algorithms and views work), range-for moves move-only elements out,
// std::hash and == agree across handles of one channel, and == nullptr is
// Go's nil test.
#include <gtest/gtest.h>

#include <goro/goro.hpp>

#include <algorithm>
#include <iterator>
#include <memory>
#include <ranges>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "test_util.hpp"

namespace {

using goro_test::for_procs;

using it_int = decltype(goro::chan<int>{}.begin());
using it_ptr = decltype(goro::chan<std::unique_ptr<int>>{}.begin());
static_assert(std::input_iterator<it_int>);
static_assert(std::input_iterator<it_ptr>);
static_assert(std::sentinel_for<std::default_sentinel_t, it_int>);
static_assert(std::is_same_v<std::iter_value_t<it_int>, int>);
static_assert(std::ranges::input_range<goro::chan<int>>);
static_assert(std::ranges::input_range<const goro::chan<int>>);
static_assert(std::ranges::input_range<goro::recv_chan<std::string>>);
static_assert(std::ranges::input_range<goro::chan<std::unique_ptr<int>>>);
static_assert(std::ranges::viewable_range<goro::chan<int>&>);
static_assert(std::ranges::viewable_range<goro::chan<int>>);  // a prvalue channel: owning_view
// A send-only view is not a range (Go cannot range over chan<- T).
static_assert(!std::ranges::range<goro::send_chan<int>>);

goro::chan<int> counting(int n, int cap = 0) {
  auto c = goro::make_chan<int>(cap);
  goro::go([c, n] {
    for (int i = 0; i < n; i++) c.send(i);
    c.close();
  });
  return c;
}

TEST(ChanRange, ForEachAlgorithm) {
  for_procs([] {
    int sum = 0;
    std::ranges::for_each(counting(100), [&sum](int v) { sum += v; });
    EXPECT_EQ(sum, 4950);
    // Iterator-pair algorithms too.
    auto c = counting(10);
    EXPECT_EQ(std::ranges::count_if(c.begin(), c.end(), [](int v) { return v % 2 == 0; }), 5);
  });
}

// clang 14 cannot compile libstdc++ 12's views (for any range, not only
// channels); the concepts and algorithms above it does.
#if !defined(__clang__) || __clang_major__ >= 15
TEST(ChanRange, ViewsTakeReceivesExactlyN) {
  for_procs([] {
    // A buffered channel holding 10 values: take(3) must receive exactly 3,
    // leaving 7 (an iterator that received ahead would leave 6, and on an
    // unbuffered channel block).
    auto c = goro::make_chan<int>(10);
    for (int i = 0; i < 10; i++) c.send(i);
    std::vector<int> got;
    for (int v : c | std::views::take(3)) got.push_back(v);
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(c.len(), 7);
    // Unbuffered, from a sender that sends only 2: take(2) must not block
    // waiting for a third.
    auto u = goro::make_chan<int>();
    goro::go([u] {
      u.send(10);
      u.send(20);
    });
    int sum = 0;
    for (int v : std::views::take(u, 2)) sum += v;
    EXPECT_EQ(sum, 30);
  });
}

TEST(ChanRange, ViewsCompose) {
  for_procs([] {
    std::vector<int> got;
    for (int v : counting(10) | std::views::filter([](int x) { return x % 3 == 0; }) |
                     std::views::transform([](int x) { return x * 10; }))
      got.push_back(v);
    EXPECT_EQ(got, (std::vector<int>{0, 30, 60, 90}));
  });
}
#endif

TEST(ChanRange, RangeForOverMoveOnly) {
  for_procs([] {
    auto c = goro::make_chan<std::unique_ptr<int>>(2);
    goro::go([c] {
      for (int i = 0; i < 50; i++) c.send(std::make_unique<int>(i));
      c.close();
    });
    int i = 0;
    std::vector<std::unique_ptr<int>> kept;
    for (auto p : c) {  // Go's for p := range c: p owns the value
      ASSERT_TRUE(p);
      EXPECT_EQ(*p, i++);
      kept.push_back(std::move(p));
    }
    EXPECT_EQ(i, 50);
    EXPECT_EQ(kept.size(), 50u);
    // auto&& and const auto& bind too.
    auto d = goro::make_chan<std::unique_ptr<int>>(2);
    d.send(std::make_unique<int>(7));
    d.close();
    for (auto&& p : d) EXPECT_EQ(*p, 7);
    auto e = goro::make_chan<std::unique_ptr<int>>(2);
    e.send(std::make_unique<int>(8));
    e.close();
    for (const auto& p : goro::recv_chan<std::unique_ptr<int>>(e)) EXPECT_EQ(*p, 8);
  });
}

TEST(ChanRange, RangeForMovesRatherThanCopies) {
  struct counted {
    int copies = 0;
    counted() = default;
    counted(const counted& o) : copies(o.copies + 1) {}
    counted(counted&&) noexcept = default;
    counted& operator=(const counted&) = default;
    counted& operator=(counted&&) noexcept = default;
  };
  auto c = goro::make_chan<counted>(1);
  c.send(counted{});
  c.close();
  for (counted v : c) EXPECT_EQ(v.copies, 0);
}

TEST(ChanValue, HashAndEqualityAcrossHandles) {
  auto a = goro::make_chan<int>();
  auto b = goro::make_chan<int>();
  goro::chan<int> a2 = a;
  goro::recv_chan<int> ar = a;
  goro::send_chan<int> as = a;
  EXPECT_TRUE(a == a2);
  EXPECT_TRUE(a == ar);
  EXPECT_FALSE(a == b);
  EXPECT_EQ(std::hash<goro::chan<int>>{}(a), std::hash<goro::chan<int>>{}(a2));
  EXPECT_EQ(std::hash<goro::chan<int>>{}(a), std::hash<goro::recv_chan<int>>{}(ar));
  EXPECT_EQ(std::hash<goro::chan<int>>{}(a), std::hash<goro::send_chan<int>>{}(as));
  EXPECT_EQ(std::hash<goro::chan<int>>{}(goro::chan<int>{}), std::hash<goro::chan<int>>{}(goro::chan<int>{}));

  // Go programmers key maps by channel.
  std::unordered_map<goro::chan<int>, std::string> names;
  names[a] = "a";
  names[b] = "b";
  names[a2] = "a again";
  EXPECT_EQ(names.size(), 2u);
  EXPECT_EQ(names[a], "a again");
  std::unordered_set<goro::recv_chan<int>> live{ar, b};
  EXPECT_EQ(live.count(a), 1u);
  live.erase(a);
  EXPECT_EQ(live.size(), 1u);
  std::unordered_set<goro::send_chan<int>> outs{as, a};
  EXPECT_EQ(outs.size(), 1u);
}

TEST(ChanValue, NilTest) {
  goro::chan<int> nil;
  auto c = goro::make_chan<int>();
  EXPECT_TRUE(nil == nullptr);
  EXPECT_FALSE(nil != nullptr);
  EXPECT_TRUE(nullptr == nil);
  EXPECT_TRUE(c != nullptr);
  EXPECT_FALSE(c == nullptr);
  goro::recv_chan<int> r = c;
  goro::send_chan<int> s;
  EXPECT_TRUE(r != nullptr);
  EXPECT_TRUE(s == nullptr);
  c = {};  // Go's c = nil
  EXPECT_TRUE(c == nullptr);
}

}  // namespace

// The loop goes on over the channel it began with, as Go's range
// evaluates its channel once: dropping the last handle in the body leaves
// the loop its own reference. The iterator held a bare pointer before,
// and the next receive read the freed channel (SIGSEGV; ASan: a
// heap-use-after-free).
TEST(ChanRange, TheLoopKeepsItsChannelWhenTheHandleIsDropped) {
  for_procs([] {
    auto ch = goro::make_chan<int>(8);
    for (int i = 0; i < 5; i++) ch.send(i);
    ch.close();
    std::vector<int> got;
    for (int v : ch) {
      got.push_back(v);
      ch = goro::chan<int>();  // the last handle
    }
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  });
}
