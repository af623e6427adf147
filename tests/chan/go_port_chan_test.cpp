// Ports of Go's own channel and select tests that the rest of goro's suite
// does not cover (or covers more weakly): their semantics, written in
// goro's style. Sources: runtime/chan_test.go, test/chan/{fifo, nonblock,
// select2, select3, select6, select7, sendstmt, zerosize}.go,
// test/closedchan.go and test/chancap.go. Already ported elsewhere:
// tests/go/chan_go_test.cpp (sieve1, powser1, doubleselect, the daisy
// chain, TestNonblockRecvRace, TestMultiConsumer, TestSelectDuplicateChannel,
// TestSelectStress, TestPseudoRandomSend) and tests/chan/select_test.cpp
// (TestSelfSelect, TestSelectFairness).
//
// Where Go's tests sleep so that a goroutine has blocked, these wait until
// it is parked on the channel's queue (white-box: chan/hchan.hpp, as
// chan_semantics_test.cpp does); durations appear only as hang guards.
#include <gtest/gtest.h>
#include <malloc.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <vector>

#include "chan/hchan.hpp"
#include "goro/goro.hpp"
#include "goro/select.hpp"
#include "chan/throwing_move.hpp"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;
using goro::unit;
using goro_test::steady;

constexpr auto kHangGuard = 20s;  // a bound for a broken build, never a timing check

// Sets maxprocs for one test and restores the previous value.
class procs_guard {
 public:
  explicit procs_guard(int n) : old_(goro::set_maxprocs(n)) {}
  ~procs_guard() { goro::set_maxprocs(old_); }
  procs_guard(const procs_guard&) = delete;
  procs_guard& operator=(const procs_guard&) = delete;

 private:
  int old_;
};

// How many waiters are parked in ch's send (or receive) queue now.
template <class Ch>
int parked(const Ch& ch, bool senders) {
  goro::detail::hchan* c = goro::detail::chan_access::core(ch);
  c->lock_.lock();
  int n = 0;
  for (goro::detail::sudog* s = (senders ? c->sendq_ : c->recvq_).first; s != nullptr; s = s->next) n++;
  c->lock_.unlock();
  return n;
}

// Waits until at least n waiters are parked in ch's queue. Returns false
// early if `bail()` holds (the waiters did not block, as a broken channel
// would do) or after the hang guard.
template <class Ch, class Bail>
bool await_parked(const Ch& ch, int n, bool senders, Bail bail) {
  auto deadline = steady::now() + kHangGuard;
  for (int spins = 0; parked(ch, senders) < n; spins++) {
    if (bail() || steady::now() > deadline) return false;
    if (spins < 64) goro::yield();
    else goro::sleep_for(50us);
  }
  return true;
}
template <class Ch>
bool await_parked(const Ch& ch, int n, bool senders) {
  return await_parked(ch, n, senders, [] { return false; });
}

// SCOPED_TRACE for goroutines: gtest keeps its trace stack per thread, and
// a goroutine may resume on another worker thread. When the scope ends
// with new failures in the test, this adds one that names the scope.
class context_note {
 public:
  explicit context_note(std::string what) : what_(std::move(what)), before_(parts()) {}
  ~context_note() {
    if (parts() > before_) ADD_FAILURE() << "(the failures above were in: " << what_ << ")";
  }
  context_note(const context_note&) = delete;
  context_note& operator=(const context_note&) = delete;

 private:
  static int parts() { return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count(); }
  std::string what_;
  int before_;
};

using goro_test::expect_panic;

using chan_test::throwing_move;

// A large trivially copyable element.
using big_elem = std::array<int64_t, 16>;

// The value numbered i of each element type, and back.
template <class T>
T val(int i);
template <>
int val<int>(int i) {
  return i;
}
template <>
std::string val<std::string>(int i) {
  return "value " + std::to_string(i) + " long enough to live on the heap";
}
template <>
throwing_move val<throwing_move>(int i) {
  return throwing_move(i);
}
template <>
big_elem val<big_elem>(int i) {
  big_elem b{};
  b.fill(i);
  return b;
}
int key(int v) { return v; }
// std::from_chars, not std::stoi: it leaves errno alone (TSan reports a
// goroutine's touch of a worker thread's TLS; test_util.hpp says more).
int key(const std::string& s) {
  int k = -1;
  std::from_chars(s.data() + 6, s.data() + s.size(), k);
  return k;
}
int key(const throwing_move& t) { return t.v; }
int key(const big_elem& b) { return static_cast<int>(b[15]); }

// ---- runtime/chan_test.go, TestChan: every rule at every capacity.

template <class T>
void test_chan_at(int cap) {
  context_note note(std::string(typeid(T).name()) + ", cap " + std::to_string(cap));
  {
    // A receive from an empty channel blocks, both forms; a non-blocking
    // receive does not.
    auto c = goro::make_chan<T>(cap);
    std::atomic<bool> recv1{false}, recv2{false};
    goro::wait_group wg;
    wg.go([&] {
      (void)c.recv();
      recv1 = true;
    });
    wg.go([&] {
      (void)c.recv_ok();
      recv2 = true;
    });
    bool both = await_parked(c, 2, false, [&] { return recv1.load() || recv2.load(); });
    EXPECT_TRUE(both);
    EXPECT_FALSE(recv1.load());
    EXPECT_FALSE(recv2.load());
    EXPECT_EQ(goro::select(goro::on_recv(c, [](T) { ADD_FAILURE() << "received from an empty channel"; }),
                           goro::on_default()),
              1);
    EXPECT_EQ(goro::select(goro::case_recv(c), goro::case_default()).index(), 1);
    EXPECT_TRUE(c.try_recv().would_block());
    if (both) {
      c.send(val<T>(0));
      c.send(val<T>(0));
    } else {
      c.close();  // frees whoever is still waiting
    }
    wg.wait();
    EXPECT_TRUE(recv1.load() && recv2.load());
  }
  {
    // A send to a full channel blocks; a non-blocking send does not. The
    // parked sender's value queues behind the buffered ones.
    auto c = goro::make_chan<T>(cap);
    for (int i = 0; i < cap; i++) c.send(val<T>(i));
    std::atomic<bool> sent{false};
    goro::wait_group wg;
    wg.go([&] {
      c.send(val<T>(1000));
      sent = true;
    });
    bool blocked = await_parked(c, 1, true, [&] { return sent.load(); });
    EXPECT_TRUE(blocked);
    EXPECT_FALSE(sent.load());
    EXPECT_FALSE(c.try_send(val<T>(9)));
    EXPECT_EQ(goro::select(goro::on_send(c, val<T>(9)), goro::on_default()), 1);
    EXPECT_EQ(c.len(), cap);
    std::vector<int> got;
    if (blocked || cap > 0) got.push_back(key(c.recv()));
    wg.wait();
    while (c.len() > 0) got.push_back(key(c.recv()));
    std::vector<int> want;
    for (int i = 0; i < cap; i++) want.push_back(i);
    want.push_back(1000);
    EXPECT_EQ(got, want);
  }
  {
    // A closed channel gives its buffered values, then zero values.
    auto c = goro::make_chan<T>(cap);
    for (int i = 0; i < cap; i++) c.send(val<T>(i));
    c.close();
    for (int i = 0; i < cap; i++) EXPECT_EQ(key(c.recv()), i);
    EXPECT_TRUE(c.recv() == T{});
    auto [v, ok] = c.recv_ok();
    EXPECT_TRUE(v == T{});
    EXPECT_FALSE(ok);
  }
  {
    // close wakes a blocked receiver with (zero, false).
    auto c = goro::make_chan<T>(cap);
    std::atomic<int> outcome{0};  // 1: (zero, false), 2: anything else
    goro::wait_group wg;
    wg.go([&] {
      auto [v, ok] = c.recv_ok();
      outcome = (v == T{} && !ok) ? 1 : 2;
    });
    EXPECT_TRUE(await_parked(c, 1, false, [&] { return outcome.load() != 0; }));
    c.close();
    wg.wait();
    EXPECT_EQ(outcome.load(), 1);
  }
  {
    // 100 values from one sender arrive intact and in order (recv, then
    // recv_ok); then 4 senders' values reach 4 receivers, each exactly once.
    auto c = goro::make_chan<T>(cap);
    goro::wait_group wg;
    wg.go([c] {
      for (int i = 0; i < 100; i++) c.send(val<T>(i));
    });
    for (int i = 0; i < 100; i++) EXPECT_EQ(key(c.recv()), i);
    wg.wait();
    wg.go([c] {
      for (int i = 0; i < 100; i++) c.send(val<T>(i));
    });
    for (int i = 0; i < 100; i++) {
      auto [v, ok] = c.recv_ok();
      EXPECT_TRUE(ok);
      EXPECT_EQ(key(v), i);
    }
    wg.wait();

    constexpr int P = 4, L = 1000;
    auto counts = goro::make_chan<std::vector<int>>(P);
    for (int p = 0; p < P; p++) {
      wg.go([c] {
        for (int i = 0; i < L; i++) c.send(val<T>(i));
      });
      wg.go([c, counts] {
        std::vector<int> seen(L, 0);
        for (int i = 0; i < L; i++) {
          int k = key(c.recv());
          if (k >= 0 && k < L) seen[k]++;
        }
        counts.send(std::move(seen));
      });
    }
    std::vector<int> total(L, 0);
    for (int p = 0; p < P; p++) {
      std::vector<int> seen = counts.recv();
      for (int i = 0; i < L; i++) total[i] += seen[i];
    }
    wg.wait();
    int wrong = 0;
    for (int i = 0; i < L; i++) wrong += total[i] != P;
    EXPECT_EQ(wrong, 0) << "values not received exactly " << P << " times";
  }
  {
    auto c = goro::make_chan<T>(cap);
    EXPECT_EQ(c.len(), 0);
    EXPECT_EQ(c.cap(), cap);
    for (int i = 0; i < cap; i++) c.send(val<T>(i));
    EXPECT_EQ(c.len(), cap);
    EXPECT_EQ(c.cap(), cap);
  }
}

// Go's TestChan: capacities 0 to 199 (0 to 19 in -short mode).
TEST(GoPortChan, TestChanEveryCapacity) {
  procs_guard procs(4);
  goro::run([] {
    const int n = goro_test::kTsan ? 6 : goro_test::scaled(200, 10);
    for (int cap = 0; cap < n; cap++) test_chan_at<int>(cap);
  });
}

// Go's TestChan again, with the element kinds the core treats apart:
// non-trivial nothrow-movable (lock-free ring), throwing-move (locked
// mode), and a large trivially copyable value.
TEST(GoPortChan, TestChanOtherElementTypes) {
  procs_guard procs(4);
  goro::run([] {
    std::vector<int> caps = {0, 1, 2, 3, 8};
    if (!goro_test::kSanitized) caps.push_back(65);
    for (int cap : caps) {
      test_chan_at<std::string>(cap);
      test_chan_at<throwing_move>(cap);
      test_chan_at<big_elem>(cap);
    }
  });
}

// ---- runtime/chan_test.go, TestNonblockSelectRace and
// TestNonblockSelectRace2: from the moment the goroutine exists, one of
// c1 and c2 is always ready, so its non-blocking select must never take
// the default (select acts on one instant, not a smeared window).

TEST(GoPortChan, TestNonblockSelectRace) {
  procs_guard procs(2);
  goro::run([] {
    const int n = goro_test::kTsan ? 200 : goro_test::scaled(100000, 20);
    auto done = goro::make_chan<bool>(1);
    int defaults = 0;
    for (int i = 0; i < n; i++) {
      auto c1 = goro::make_chan<int>(1), c2 = goro::make_chan<int>(1);
      c1.send(1);
      goro::go([=] { done.send(goro::select(goro::on_recv(c1), goro::on_recv(c2), goro::on_default()) != 2); });
      c2.send(1);
      goro::select(goro::on_recv(c1), goro::on_default());
      if (!done.recv()) defaults++;
    }
    EXPECT_EQ(defaults, 0) << "of " << n << " selects took the default with a case ready";
  });
}

TEST(GoPortChan, TestNonblockSelectRace2) {
  procs_guard procs(2);
  goro::run([] {
    const int n = goro_test::kTsan ? 200 : goro_test::scaled(100000, 20);
    auto done = goro::make_chan<bool>(1);
    int defaults = 0;
    for (int i = 0; i < n; i++) {
      auto c1 = goro::make_chan<int>(1), c2 = goro::make_chan<int>();
      c1.send(1);
      goro::go([=] { done.send(goro::select(goro::on_recv(c1), goro::on_recv(c2), goro::on_default()) != 2); });
      c2.close();
      goro::select(goro::on_recv(c1), goro::on_default());
      if (!done.recv()) defaults++;
    }
    EXPECT_EQ(defaults, 0) << "of " << n << " selects took the default with a case ready";
  });
}

// ---- test/closedchan.go: a closed channel, seen through every way of
// sending and receiving (operations, one-case selects, selects with an
// extra never-ready case, in each of goro's select forms).

struct chan_ops {
  std::string impl;
  std::function<void(const goro::chan<int>&, int)> send;
  std::function<bool(const goro::chan<int>&, int)> nbsend;  // sent?
  std::function<int(const goro::chan<int>&)> recv;
  std::function<std::pair<int, bool>(const goro::chan<int>&)> nbrecv;  // value, selected
  std::function<goro::recv_result<int>(const goro::chan<int>&)> recv2;
  std::function<std::tuple<int, bool, bool>(const goro::chan<int>&)> nbrecv2;  // value, ok, selected
};

std::vector<chan_ops> all_chan_ops(goro::chan<bool> dummy) {
  std::vector<chan_ops> v;
  v.push_back({
      "operations",
      [](const goro::chan<int>& c, int x) { c.send(x); },
      [](const goro::chan<int>& c, int x) { return c.try_send(x); },
      [](const goro::chan<int>& c) { return c.recv(); },
      [](const goro::chan<int>& c) {
        auto r = c.try_recv();
        return std::pair<int, bool>{r ? *r : 0, !r.would_block()};
      },
      [](const goro::chan<int>& c) { return c.recv_ok(); },
      [](const goro::chan<int>& c) {
        auto r = c.try_recv();
        return std::tuple<int, bool, bool>{r ? *r : 0, r.received(), !r.would_block()};
      },
  });
  v.push_back({
      "one-case select, handler form",
      [](const goro::chan<int>& c, int x) { goro::select(goro::on_send(c, x)); },
      [](const goro::chan<int>& c, int x) { return goro::select(goro::on_default(), goro::on_send(c, x)) == 1; },
      [](const goro::chan<int>& c) {
        int x = -1;
        goro::select(goro::on_recv(c, [&](int v) { x = v; }));
        return x;
      },
      [](const goro::chan<int>& c) {
        int x = -1;
        bool sel = goro::select(goro::on_default(), goro::on_recv(c, [&](int v) { x = v; })) == 1;
        return std::pair<int, bool>{sel ? x : 0, sel};
      },
      [](const goro::chan<int>& c) {
        goro::recv_result<int> r{-1, true};
        goro::select(goro::on_recv(c, [&](int v, bool ok) { r = {v, ok}; }));
        return r;
      },
      [](const goro::chan<int>& c) {
        int x = -1;
        bool ok = true;
        bool sel = goro::select(goro::on_default(), goro::on_recv(c, [&](int v, bool k) { x = v, ok = k; })) == 1;
        return sel ? std::tuple<int, bool, bool>{x, ok, true} : std::tuple<int, bool, bool>{0, false, false};
      },
  });
  v.push_back({
      "select with a never-ready case, result form",
      [dummy](const goro::chan<int>& c, int x) {
        EXPECT_EQ(goro::select(goro::case_send(c, x), goro::case_recv(dummy)).index(), 0);
      },
      [dummy](const goro::chan<int>& c, int x) {
        auto s = goro::select(goro::case_recv(dummy), goro::case_default(), goro::case_send(c, x));
        EXPECT_NE(s.index(), 0);
        return s.index() == 2;
      },
      [dummy](const goro::chan<int>& c) {
        auto s = goro::select(goro::case_recv(dummy), goro::case_recv(c));
        return s.index() == 1 ? s.get<1>() : -1;
      },
      [dummy](const goro::chan<int>& c) {
        auto s = goro::select(goro::case_recv(dummy), goro::case_default(), goro::case_recv(c));
        EXPECT_NE(s.index(), 0);
        return s.index() == 2 ? std::pair<int, bool>{s.get<2>(), true} : std::pair<int, bool>{0, false};
      },
      [dummy](const goro::chan<int>& c) {
        auto s = goro::select(goro::case_recv(dummy), goro::case_recv(c));
        return s.index() == 1 ? goro::recv_result<int>{s.get<1>(), s.ok()} : goro::recv_result<int>{-1, true};
      },
      [dummy](const goro::chan<int>& c) {
        auto s = goro::select(goro::case_recv(dummy), goro::case_default(), goro::case_recv(c));
        EXPECT_NE(s.index(), 0);
        return s.index() == 2 ? std::tuple<int, bool, bool>{s.get<2>(), s.ok(), true}
                              : std::tuple<int, bool, bool>{0, false, false};
      },
  });
  v.push_back({
      "select with a never-ready case, runtime-sized list",
      [dummy](const goro::chan<int>& c, int x) {
        std::vector<goro::select_case> cs;
        cs.push_back(goro::on_send(c, x));
        cs.push_back(goro::on_recv(dummy));
        EXPECT_EQ(goro::select(cs), 0);
      },
      [dummy](const goro::chan<int>& c, int x) {
        std::vector<goro::select_case> cs;
        cs.push_back(goro::on_recv(dummy));
        cs.push_back(goro::on_default());
        cs.push_back(goro::on_send(c, x));
        int i = goro::select(cs);
        EXPECT_NE(i, 0);
        return i == 2;
      },
      [dummy](const goro::chan<int>& c) {
        int x = -1;
        std::vector<goro::select_case> cs;
        cs.push_back(goro::on_recv(dummy));
        cs.push_back(goro::on_recv(c, [&](int v) { x = v; }));
        EXPECT_EQ(goro::select(cs), 1);
        return x;
      },
      [dummy](const goro::chan<int>& c) {
        int x = -1;
        std::vector<goro::select_case> cs;
        cs.push_back(goro::on_recv(dummy));
        cs.push_back(goro::on_default());
        cs.push_back(goro::on_recv(c, [&](int v) { x = v; }));
        int i = goro::select(cs);
        EXPECT_NE(i, 0);
        return i == 2 ? std::pair<int, bool>{x, true} : std::pair<int, bool>{0, false};
      },
      [dummy](const goro::chan<int>& c) {
        goro::recv_result<int> r{-1, true};
        std::vector<goro::select_case> cs;
        cs.push_back(goro::on_recv(dummy));
        cs.push_back(goro::on_recv(c, [&](int v, bool ok) { r = {v, ok}; }));
        EXPECT_EQ(goro::select(cs), 1);
        return r;
      },
      [dummy](const goro::chan<int>& c) {
        int x = -1;
        bool ok = true;
        std::vector<goro::select_case> cs;
        cs.push_back(goro::on_recv(dummy));
        cs.push_back(goro::on_default());
        cs.push_back(goro::on_recv(c, [&](int v, bool k) { x = v, ok = k; }));
        int i = goro::select(cs);
        EXPECT_NE(i, 0);
        return i == 2 ? std::tuple<int, bool, bool>{x, ok, true} : std::tuple<int, bool, bool>{0, false, false};
      },
  });
  return v;
}

// What every form must see on a closed, drained channel.
void closed_and_drained(const chan_ops& o, const goro::chan<int>& c) {
  context_note note(o.impl);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(o.recv(c), 0);
    auto r = o.recv2(c);
    EXPECT_EQ(r.value, 0);
    EXPECT_FALSE(r.ok);
    // A closed channel is ready: the non-blocking forms select it.
    auto [x, selected] = o.nbrecv(c);
    EXPECT_EQ(x, 0);
    EXPECT_TRUE(selected);
    auto [y, ok, selected2] = o.nbrecv2(c);
    EXPECT_EQ(y, 0);
    EXPECT_FALSE(ok);
    EXPECT_TRUE(selected2);
  }
  // Sends panic, non-blocking ones too, and leave nothing behind.
  expect_panic([&] { o.nbsend(c, 1); }, "send on closed channel");
  EXPECT_EQ(o.recv(c), 0);
  expect_panic([&] { o.send(c, 2); }, "send on closed channel");
  EXPECT_EQ(o.recv(c), 0);
}

TEST(GoPortChan, ClosedChanEveryForm) {
  goro::run([] {
    auto dummy = goro::make_chan<bool>();
    auto ops = all_chan_ops(dummy);
    auto closed_unbuffered = [] {
      auto c = goro::make_chan<int>();
      c.close();
      return c;
    };
    auto closed_with_one_value = [] {
      auto c = goro::make_chan<int>(2);
      c.send(1);
      c.close();
      return c;
    };
    for (auto& o : ops) closed_and_drained(o, closed_unbuffered());
    // The last value is still received, by each receive form, then the
    // channel reads as closed (Go's testasync1 to testasync4).
    for (auto& o : ops) {
      context_note note(o.impl);
      auto c = closed_with_one_value();
      EXPECT_EQ(o.recv(c), 1);
      closed_and_drained(o, c);
      c = closed_with_one_value();
      auto r = o.recv2(c);
      EXPECT_EQ(r.value, 1);
      EXPECT_TRUE(r.ok);
      closed_and_drained(o, c);
      c = closed_with_one_value();
      EXPECT_EQ(o.nbrecv(c), (std::pair<int, bool>{1, true}));
      closed_and_drained(o, c);
      c = closed_with_one_value();
      EXPECT_EQ(o.nbrecv2(c), (std::tuple<int, bool, bool>{1, true, true}));
      closed_and_drained(o, c);
    }
    expect_panic([] { goro::chan<int>{}.close(); }, "close of nil channel");
    auto c = goro::make_chan<int>();
    c.close();
    expect_panic([&] { c.close(); }, "close of closed channel");
    EXPECT_EQ(parked(dummy, false) + parked(dummy, true), 0) << "a select left a waiter on its other case";
  });
}

// ---- test/chancap.go: len and cap, and the sizes make refuses.

TEST(GoPortChan, ChanCapAndSizeOutOfRange) {
  auto c = goro::make_chan<int64_t>(10);
  EXPECT_EQ(c.len(), 0);
  EXPECT_EQ(c.cap(), 10);
  for (int i = 0; i < 3; i++) c.send(i);
  EXPECT_EQ(c.len(), 3);
  EXPECT_EQ(c.cap(), 10);
  c = goro::make_chan<int64_t>();
  EXPECT_EQ(c.len(), 0);
  EXPECT_EQ(c.cap(), 0);
  expect_panic([] { goro::make_chan<int64_t>(-1); }, "makechan: size out of range");
  expect_panic([] { goro::make_chan<int64_t>(std::numeric_limits<int64_t>::min()); }, "makechan: size out of range");
  // More bytes than an allocation may have (Go: mem > maxAlloc).
  expect_panic([] { goro::make_chan<int64_t>(int64_t{1} << 59); }, "makechan: size out of range");
  // elem size * cap overflows.
  expect_panic([] { goro::make_chan<int64_t>(std::numeric_limits<int64_t>::max()); }, "makechan: size out of range");
}

// Go's makechan panics "makechan: size out of range" whenever elem size *
// cap exceeds maxAlloc (2^48 bytes on linux/amd64), whatever the cap; goro
// checked only cap <= 2^40, then tried to map the buffer and threw
// std::bad_alloc for these (2^50 and 2^49 bytes).
TEST(GoPortChan, MakeChanBeyondMaxAllocPanicsAsGo) {
  expect_panic([] { goro::make_chan<std::array<char, 1024>>(int64_t{1} << 40); }, "makechan: size out of range");
  expect_panic([] { goro::make_chan<std::array<char, 65535>>(int64_t{1} << 33); }, "makechan: size out of range");
}

// ---- test/chan/select3.go: which operations and selects block.

// Runs op(release) in a goroutine; op must block until it receives from
// `release` (an unbuffered channel) and return the index of the case it
// ran. Returns op's index if op was still blocked when main offered the
// release, or -100 - index if op returned first (it did not block).
template <class Op>
int index_after_release(Op op) {
  auto release = goro::make_chan<unit>();
  auto result = goro::make_chan<int>(1);
  goro::wait_group wg;
  wg.go([=] { result.send(op(release)); });
  auto s = goro::select(goro::case_send(release, unit{}), goro::case_recv(result));
  int r = s.index() == 0 ? result.recv() : -100 - s.get<1>();
  wg.wait();
  return r;
}

// Runs f in a goroutine and waits for it to return (true), or gives up
// after the hang guard (false: f blocked).
template <class F>
bool returns(F f) {
  auto done = goro::make_chan<unit>(1);
  goro::go([=]() mutable {
    f();
    done.send({});
  });
  return goro::select(goro::case_recv(done), goro::case_recv(goro::after(kHangGuard))).index() == 0;
}

TEST(GoPortChan, Select3WhatBlocks) {
  goro::run([] {
    goro::chan<int> nilch;
    auto closedch = goro::make_chan<int>();
    closedch.close();

    // Blocks: nil channels inside a select (never chosen), a receive from
    // a channel nobody sends on, a select on a channel nobody uses, and a
    // select that offers to both send and receive on one unbuffered
    // channel (it must not meet itself).
    EXPECT_EQ(index_after_release([=](goro::chan<unit> release) {
                return goro::select(goro::on_recv(nilch), goro::on_recv(release));
              }),
              1);
    EXPECT_EQ(index_after_release([=](goro::chan<unit> release) {
                return goro::select(goro::on_send(nilch, 7), goro::on_recv(release));
              }),
              1);
    EXPECT_EQ(index_after_release([=](goro::chan<unit> release) {
                return goro::select(goro::on_recv(nilch), goro::on_send(nilch, 7), goro::on_recv(release));
              }),
              2);
    EXPECT_EQ(index_after_release([](goro::chan<unit> release) { return release.recv_ok().ok ? 0 : -1; }), 0);
    EXPECT_EQ(index_after_release([](goro::chan<unit> release) {
                auto ch = goro::make_chan<int>();
                return goro::select(goro::case_recv(ch), goro::case_recv(release)).index();
              }),
              1);
    EXPECT_EQ(index_after_release([](goro::chan<unit> release) {
                auto c = goro::make_chan<int>();
                return goro::select(goro::on_send(c, 1), goro::on_recv(c), goro::on_recv(release));
              }),
              2);

    // Never blocks: a nil case beside a default, a send with room in the
    // buffer, receives from a closed channel, a lone default, ready
    // channels in a select, selects on a closed channel.
    EXPECT_TRUE(returns([=] {
      EXPECT_EQ(goro::select(goro::on_send(nilch, 7, [] { ADD_FAILURE(); }), goro::on_default()), 1);
      EXPECT_EQ(goro::select(goro::on_recv(nilch, [] { ADD_FAILURE(); }), goro::on_default()), 1);
      auto ch = goro::make_chan<int>(1);
      ch.send(7);
      for (int i = 0; i < 10; i++) {
        EXPECT_EQ(closedch.recv(), 0);
        auto [x, ok] = closedch.recv_ok();
        EXPECT_EQ(x, 0);
        EXPECT_FALSE(ok);
      }
      EXPECT_EQ(goro::select(goro::on_default()), 0);
      EXPECT_EQ(goro::select(goro::case_default()).index(), 0);
      auto a = goro::make_chan<int>(1);
      EXPECT_EQ(goro::select(goro::on_send(a, 7), goro::on_default([] { ADD_FAILURE(); })), 0);
      EXPECT_EQ(goro::select(goro::on_recv(a), goro::on_default([] { ADD_FAILURE(); })), 0);
      EXPECT_EQ(goro::select(goro::on_recv(closedch)), 0);
      EXPECT_EQ(goro::select(goro::on_recv(closedch, [](int x) { EXPECT_EQ(x, 0); })), 0);
      EXPECT_EQ(goro::select(goro::on_recv(closedch, [](int x, bool ok) {
                  EXPECT_EQ(x, 0);
                  EXPECT_FALSE(ok);
                })),
                0);
    }));

    // Panics: a send on a closed channel, plain or as a lone select case.
    expect_panic([=] { closedch.send(7); }, "send on closed channel");
    expect_panic([=] { goro::select(goro::on_send(closedch, 7)); }, "send on closed channel");
    expect_panic([=] { (void)goro::select(goro::case_send(closedch, 7)); }, "send on closed channel");
  });
}

// ---- test/chan/select6.go (Go issue 2075): a select that loses on a
// channel where it waits last, behind another receiver, must leave that
// channel's queue intact: both later sends on it find their receivers.

TEST(GoPortChan, Select6LosingCaseLeavesQueueIntact) {
  goro::run([] {
    const int rounds = goro_test::goroutines(100, 10);
    for (int r = 0; r < rounds; r++) {
      auto c1 = goro::make_chan<bool>(), c2 = goro::make_chan<bool>(), c3 = goro::make_chan<bool>();
      goro::wait_group wg;
      wg.go([=] { c1.recv(); });
      EXPECT_TRUE(await_parked(c1, 1, false));
      wg.go([=] {
        EXPECT_EQ(goro::select(goro::on_recv(c1), goro::on_recv(c2)), 1) << "c1 was never sent on yet";
        c3.send(true);
        c1.recv();
      });
      EXPECT_TRUE(await_parked(c1, 2, false));  // the select is last in c1's queue
      wg.go([=] { c2.send(true); });
      c3.recv();
      c1.send(true);
      c1.send(true);
      wg.wait();
      EXPECT_EQ(parked(c1, false), 0);
      EXPECT_EQ(parked(c2, false), 0);
    }
  });
}

// ---- test/chan/select7.go: every pairing of a receive (plain, one-case
// select, two-case select, value discarded or not) with a send (plain,
// one-case select, two-case select, runtime-sized select), the receiver
// parked first or the sender parked first.

using recv_form = std::function<int(const goro::chan<int>&)>;
using send_form = std::function<void(const goro::chan<int>&)>;

TEST(GoPortChan, Select7EveryPairingOfSendAndReceive) {
  std::vector<std::pair<const char*, recv_form>> recvs = {
      {"recv", [](const goro::chan<int>& c) { return c.recv(); }},
      {"one-case select",
       [](const goro::chan<int>& c) {
         int v = -1;
         goro::select(goro::on_recv(c, [&](int x) { v = x; }));
         return v;
       }},
      {"two-case select, result form",
       [](const goro::chan<int>& c) {
         auto c2 = goro::make_chan<int>();
         auto s = goro::select(goro::case_recv(c), goro::case_recv(c2));
         return s.index() == 0 ? s.get<0>() : -1;
       }},
      {"two-case select, value discarded",
       [](const goro::chan<int>& c) {
         auto c2 = goro::make_chan<int>();
         return goro::select(goro::on_recv(c2), goro::on_recv(c)) == 1 ? 1 : -1;
       }},
  };
  std::vector<std::pair<const char*, send_form>> sends = {
      {"send", [](const goro::chan<int>& c) { c.send(1); }},
      {"one-case select", [](const goro::chan<int>& c) { goro::select(goro::on_send(c, 1)); }},
      {"two-case select, result form",
       [](const goro::chan<int>& c) {
         auto c2 = goro::make_chan<int>();
         EXPECT_EQ(goro::select(goro::case_send(c2, 1), goro::case_send(c, 1)).index(), 1);
       }},
      {"two-case select, runtime-sized",
       [](const goro::chan<int>& c) {
         auto c2 = goro::make_chan<int>();
         std::vector<goro::select_case> cs;
         cs.push_back(goro::on_send(c, 1));
         cs.push_back(goro::on_send(c2, 1));
         EXPECT_EQ(goro::select(cs), 0);
       }},
  };
  goro::run([&] {
    for (auto& recv_entry : recvs) {
      for (auto& send_entry : sends) {
        const char* rname = recv_entry.first;
        const char* sname = send_entry.first;
        const recv_form& rf = recv_entry.second;
        const send_form& sf = send_entry.second;
        for (bool receiver_first : {true, false}) {
          context_note note(std::string(rname) + " / " + sname +
                            (receiver_first ? ", receiver first" : ", sender first"));
          auto c = goro::make_chan<int>();
          int got = -1;
          goro::wait_group wg;
          if (receiver_first) {
            wg.go([&, c] { got = rf(c); });
            EXPECT_TRUE(await_parked(c, 1, false));
            sf(c);
          } else {
            wg.go([&, c] { sf(c); });
            EXPECT_TRUE(await_parked(c, 1, true));
            got = rf(c);
          }
          wg.wait();
          EXPECT_EQ(got, 1);
          EXPECT_EQ(parked(c, false) + parked(c, true), 0);
        }
      }
    }
  });
}

// ---- test/chan/fifo.go: a buffered channel is a FIFO; an unbuffered one
// hands values over in send order to receivers that take turns (a daisy
// chain: each receives only after the previous one did).

TEST(GoPortChan, FifoBufferedAndChainOfReceivers) {
  goro::run([] {
    const int n = 100;
    auto a = goro::make_chan<int>(n);
    for (int i = 0; i < n; i++) a.send(i);
    for (int i = 0; i < n; i++) EXPECT_EQ(a.recv(), i);

    auto ch = goro::make_chan<int>();
    auto start = goro::make_chan<int>();
    goro::chan<int> in = start;
    std::atomic<int> misordered{0};
    goro::wait_group wg;
    for (int i = 0; i < n; i++) {
      auto out = goro::make_chan<int>();
      wg.go([=, &misordered] {
        in.recv();
        if (ch.recv() != i) misordered++;
        out.send(1);
      });
      in = out;
    }
    start.send(0);
    for (int i = 0; i < n; i++) ch.send(i);
    in.recv();
    wg.wait();
    EXPECT_EQ(misordered.load(), 0);
  });
}

// ---- test/chan/nonblock.go: non-blocking operations on element types of
// several sizes and kinds, at capacity 0 and 1, in each non-blocking form
// (try_send/try_recv, select with default in both forms). With a receiver
// parked, a non-blocking send succeeds at once; with a sender parked (or
// its value buffered), a non-blocking receive does.

template <class T>
bool nb_send(const goro::chan<T>& c, T v, int form) {
  switch (form) {
    case 0: return c.try_send(std::move(v));
    case 1: return goro::select(goro::on_send(c, std::move(v)), goro::on_default()) == 0;
    default: return goro::select(goro::case_send(c, std::move(v)), goro::case_default()).index() == 0;
  }
}

template <class T>
std::optional<T> nb_recv(const goro::chan<T>& c, int form) {
  std::optional<T> r;
  switch (form) {
    case 0:
      if (auto t = c.try_recv()) r = std::move(*t);
      break;
    case 1:
      goro::select(goro::on_recv(c,
                                 [&](T x, bool ok) {
                                   if (ok) r = std::move(x);
                                 }),
                   goro::on_default());
      break;
    default:
      if (auto s = goro::select(goro::case_recv(c), goro::case_default()); s.index() == 0 && s.ok())
        r = std::move(s.template get<0>());
  }
  return r;
}

template <class T>
void nonblock_for(const T& to_receiver, const T& from_sender) {
  for (int buffer : {0, 1}) {
    for (int form : {0, 1, 2}) {
      // Appended in place: g++ 12 warns (-Warray-bounds, a false positive)
      // on std::string(x) + "literal" chains here.
      std::string what = typeid(T).name();
      what.append(", buffer ").append(std::to_string(buffer)).append(", form ").append(std::to_string(form));
      context_note note(what);
      auto c = goro::make_chan<T>(buffer);
      auto strobe = goro::make_chan<bool>();
      EXPECT_FALSE(nb_recv(c, form).has_value()) << "received from an empty channel";

      goro::wait_group wg;
      wg.go([=] {
        EXPECT_TRUE(c.recv() == to_receiver);
        strobe.send(true);
      });
      if (buffer == 0) {
        EXPECT_TRUE(await_parked(c, 1, false));
      }
      bool sent = nb_send(c, T(to_receiver), form);
      EXPECT_TRUE(sent) << "non-blocking send to a waiting receiver";
      if (!sent) c.send(T(to_receiver));  // the receiver is waiting
      strobe.recv();
      wg.wait();

      wg.go([=] {
        c.send(T(from_sender));
        strobe.send(true);
      });
      if (buffer > 0) {
        strobe.recv();
      } else {
        EXPECT_TRUE(await_parked(c, 1, true));
      }
      std::optional<T> got = nb_recv(c, form);
      EXPECT_TRUE(got.has_value()) << "non-blocking receive from a waiting sender";
      if (!got) got = c.recv();
      EXPECT_TRUE(*got == from_sender);
      if (buffer == 0) strobe.recv();
      wg.wait();
    }
  }
}

TEST(GoPortChan, NonblockEveryElementKind) {
  goro::run([] {
    nonblock_for<int32_t>(123, 234);
    nonblock_for<int64_t>(123456, 234567);
    nonblock_for<bool>(true, true);
    nonblock_for<std::string>("hello", "hello again");
    nonblock_for<throwing_move>(throwing_move(5), throwing_move(6));
    nonblock_for<big_elem>(val<big_elem>(7), val<big_elem>(8));
  });
}

// ---- test/chan/sendstmt.go: a select case that sends on a channel just
// received from a channel of channels.

TEST(GoPortChan, SendStmtOnChannelFromChannel) {
  goro::run([] {
    auto cc = goro::make_chan<goro::chan<int>>(1);
    auto c = goro::make_chan<int>(1);
    cc.send(c);
    EXPECT_EQ(goro::select(goro::on_send(cc.recv(), 2), goro::on_default()), 0);
    EXPECT_EQ(c.recv(), 2);
    cc.send(c);
    EXPECT_EQ(goro::select(goro::case_send(cc.recv(), 3), goro::case_default()).index(), 0);
    EXPECT_EQ(c.recv(), 3);
    // The channel that arrives is the one that was sent: replies come back.
    auto requests = goro::make_chan<goro::chan<int>>();
    goro::wait_group wg;
    wg.go([=] {
      int n = 0;
      for (auto reply : requests) reply.send(++n);
    });
    for (int i = 1; i <= 10; i++) {
      auto reply = goro::make_chan<int>();
      requests.send(reply);
      EXPECT_EQ(reply.recv(), i);
    }
    requests.close();
    wg.wait();
  });
}

// ---- test/chan/zerosize.go: channels of empty element types.

struct empty_elem {
  friend bool operator==(empty_elem, empty_elem) { return true; }
};

template <class T>
void zero_size_for() {
  for (int cap : {0, 1, 1000}) {
    auto c = goro::make_chan<T>(cap);
    EXPECT_EQ(c.cap(), cap);
    goro::wait_group wg;
    wg.go([c] {
      for (int i = 0; i < 2000; i++) c.send(T{});
      c.close();
    });
    int n = 0;
    for (auto v : c) {
      EXPECT_TRUE(v == T{});
      n++;
    }
    wg.wait();
    EXPECT_EQ(n, 2000);
    EXPECT_EQ(c.len(), 0);
  }
  auto full = goro::make_chan<T>(500);
  for (int i = 0; i < 500; i++) EXPECT_TRUE(full.try_send(T{}));
  EXPECT_EQ(full.len(), 500);
  EXPECT_FALSE(full.try_send(T{}));
}

TEST(GoPortChan, ZeroSizeElements) {
  goro::run([] {
    zero_size_for<unit>();
    zero_size_for<empty_elem>();
    zero_size_for<std::array<int, 0>>();
  });
}

// ---- test/chan/select2.go: selects do not consume memory. A second run
// of the same selects must not grow the heap (Go: under 110 KB for 100,000
// selects; a select that kept one small record would add megabytes).

[[maybe_unused]] size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

TEST(GoPortChan, Select2SelectsDoNotGrowTheHeap) {
#if defined(GORO_ASAN) || defined(GORO_TSAN)
  GTEST_SKIP() << "the sanitizers replace malloc: mallinfo2 does not see their heap";
#else
  goro::run([] {
    const int n = goro_test::scaled(100000);
    auto c = goro::make_chan<int>(), dummy = goro::make_chan<int>();
    auto round = [&] {
      goro::wait_group wg;
      wg.go([=] {
        for (int i = 0; i < n; i++) c.send(1);
      });
      int stray = 0;
      for (int i = 0; i < n; i++) stray += goro::select(goro::on_recv(c), goro::on_recv(dummy)) != 0;
      wg.wait();
      EXPECT_EQ(stray, 0);
    };
    round();  // warm up
    size_t before = heap_in_use();
    round();
    size_t after = heap_in_use();
    EXPECT_LT(static_cast<long>(after) - static_cast<long>(before), 256 * 1024)
        << "heap grew by " << (static_cast<long>(after) - static_cast<long>(before)) << " bytes over " << n
        << " selects";
  });
#endif
}

// ---- runtime/chan_test.go, TestSelectStackAdjust: two selects blocked on
// c and d (one of them with each channel twice) are woken by close(d).
// Each runs a case on d, with (zero, false); the case on c, whose
// destination is the select's own local, is untouched; and neither
// channel keeps a waiter.

TEST(GoPortChan, CloseWakesSelectsWaitingTwiceOnAChannel) {
  goro::run([] {
    const int rounds = goro_test::goroutines(100, 10);
    for (int r = 0; r < rounds; r++) {
      auto c = goro::make_chan<int*>(), d = goro::make_chan<int*>();
      auto results = goro::make_chan<std::pair<int, bool>>(2);
      auto f = [=](bool dup) {
        int val = 42;
        int* cx = &val;
        goro::chan<int*> c2, d2;  // nil unless dup
        if (dup) {
          c2 = c;
          d2 = d;
        }
        bool ok = true;
        int i = goro::select(goro::on_recv(c, [&](int* p) { cx = p; }), goro::on_recv(c2),
                             goro::on_recv(d, [&](int* p, bool k) { ok = k || p != nullptr; }),
                             goro::on_recv(d2, [&](int* p, bool k) { ok = k || p != nullptr; }));
        bool intact = cx == &val && val == 42;
        *cx = 43;
        intact = intact && val == 43;
        results.send({i, intact && !ok});
      };
      goro::wait_group wg;
      wg.go(f, false);
      wg.go(f, true);
      EXPECT_TRUE(await_parked(d, 3, false));
      EXPECT_TRUE(await_parked(c, 3, false));
      d.close();
      for (int k = 0; k < 2; k++) {
        auto [i, fine] = results.recv();
        EXPECT_TRUE(i == 2 || i == 3) << "case " << i;
        EXPECT_TRUE(fine);
      }
      wg.wait();
      EXPECT_EQ(parked(c, false), 0);
      EXPECT_EQ(parked(d, false), 0);
    }
  });
}

// ---- runtime/chan_test.go, BenchmarkSelectProdCons as a test: producers
// and consumers select on a shared buffered channel beside an hour-long
// timer and a close channel that never fire. Every value arrives, and no
// select takes the timer or the close case.

TEST(GoPortChan, SelectProdConsIdleCasesNeverFire) {
  goro::run([] {
    const int procs = 4, per = goro_test::scaled(20000);
    auto myc = goro::make_chan<int>(128);
    auto myclose = goro::make_chan<bool>();
    std::atomic<long> ones{0};
    std::atomic<int> stray{0};
    goro::wait_group wg;
    for (int p = 0; p < procs; p++) {
      wg.go([&, myc, myclose] {
        auto timer = goro::after(1h);
        for (int g = 0; g < per; g++) {
          if (goro::select(goro::case_send(myc, 1), goro::case_recv(timer), goro::case_recv(myclose)).index() != 0)
            stray++;
        }
        myc.send(0);
      });
      wg.go([&, myc, myclose] {
        auto timer = goro::after(1h);
        for (;;) {
          auto s = goro::select(goro::case_recv(myc), goro::case_recv(timer), goro::case_recv(myclose));
          if (s.index() != 0) {
            stray++;
            continue;
          }
          if (s.get<0>() == 0) break;
          ones++;
        }
      });
    }
    wg.wait();
    EXPECT_EQ(ones.load(), long(procs) * per);
    EXPECT_EQ(stray.load(), 0);
  });
}

}  // namespace
