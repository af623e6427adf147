// goro::singleflight: the semantics of x/sync/singleflight's tests (Do,
// DoErr, DoDupSuppress, Forget, DoChan), from goroutines and threads.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

TEST(Singleflight, DoReturnsTheValue) {
  goro::run([] {
    goro::singleflight<std::string, std::string> g;
    auto [v, shared] = g.do_call("key", [] { return std::string("bar"); });
    EXPECT_EQ(v, "bar");
    EXPECT_FALSE(shared);
  });
}

TEST(Singleflight, DoRethrowsTheException) {
  goro::run([] {
    goro::singleflight<int, int> g;
    EXPECT_THROW(g.do_call(1, []() -> int { throw std::runtime_error("some error"); }), std::runtime_error);
    // The failed call is forgotten: the next one runs.
    EXPECT_EQ(g.do_call(1, [] { return 7; }).value, 7);
  });
}

// Many callers arrive while the first execution is held open: fn runs
// once (again only for a caller that arrives after it ended), and all
// get its value.
TEST(Singleflight, DuplicatesWaitForOneExecution) {
  goro::run([] {
    goro::singleflight<std::string, int> g;
    constexpr int n = 10;
    std::atomic<int> calls{0}, joined{0};
    auto release = goro::make_chan<goro::unit>();
    goro::wait_group wg;
    std::atomic<int> shared_count{0};
    for (int i = 0; i < n; i++) {
      wg.go([&] {
        joined++;
        auto r = g.do_call("key", [&] {
          calls++;
          release.recv();  // held until every caller is in
          return 42;
        });
        EXPECT_EQ(r.value, 42);
        if (r.shared) shared_count++;
      });
    }
    // Every goroutine has called do_call once joined == n and fn is
    // running; yield so that the last ones reach the wait.
    while (joined.load() < n || calls.load() == 0) goro::yield();
    for (int i = 0; i < 100; i++) goro::yield();
    release.close();
    wg.wait();
    // A caller that reached do_call only after the execution ended runs
    // its own (Go's test allows it too); without deduplication all n would.
    EXPECT_GE(calls.load(), 1);
    EXPECT_LT(calls.load(), n);
    EXPECT_GE(shared_count.load(), n - calls.load());
  });
}

// An exception reaches every caller of the execution, plain threads too.
TEST(Singleflight, ExceptionReachesEveryWaiter) {
  goro::singleflight<int, int> g;
  auto release = goro::make_chan<goro::unit>();
  std::atomic<int> started{0}, threw{0};
  auto caller = [&] {
    try {
      g.do_call(1, [&]() -> int {
        release.recv();
        throw std::logic_error("boom");
      });
    } catch (const std::logic_error&) {
      threw++;
    }
  };
  goro::run([&] {
    goro::wait_group wg;
    wg.go([&] {
      started++;
      caller();
    });
    std::thread t([&] {
      while (started.load() == 0) std::this_thread::yield();
      caller();
    });
    goro::sleep_for(2ms);
    release.close();
    wg.wait();
    t.join();
  });
  EXPECT_EQ(threw.load(), 2);
}

TEST(Singleflight, ForgetStartsAFreshExecution) {
  goro::run([] {
    goro::singleflight<std::string, int> g;
    auto first_running = goro::make_chan<goro::unit>(1);
    auto unblock_first = goro::make_chan<goro::unit>();
    goro::wait_group wg;
    int first_value = 0;
    wg.go([&] {
      first_value = g.do_call("key", [&] {
                       first_running.send({});
                       unblock_first.recv();
                       return 1;
                     }).value;
    });
    first_running.recv();
    g.forget("key");
    auto [second, shared] = g.do_call("key", [] { return 2; });
    EXPECT_EQ(second, 2);  // did not wait for the first
    EXPECT_FALSE(shared);
    unblock_first.close();
    wg.wait();
    EXPECT_EQ(first_value, 1);
    EXPECT_EQ(g.do_call("key", [] { return 3; }).value, 3);
  });
}

TEST(Singleflight, DoChanDeliversToEveryChannel) {
  goro::run([] {
    goro::singleflight<int, std::string> g;
    auto release = goro::make_chan<goro::unit>();
    std::atomic<int> calls{0};
    auto fn = [&] {
      calls++;
      release.recv();
      return std::string("v");
    };
    auto a = g.do_chan(5, fn);
    auto b = g.do_chan(5, fn);
    release.close();
    auto ra = a.recv(), rb = b.recv();
    EXPECT_EQ(ra.get(), "v");
    EXPECT_EQ(rb.get(), "v");
    EXPECT_TRUE(ra.shared);
    EXPECT_TRUE(rb.shared);
    EXPECT_EQ(calls.load(), 1);
    auto c = g.do_chan(6, []() -> std::string { throw std::runtime_error("x"); });
    auto rc = c.recv();
    EXPECT_THROW(rc.get(), std::runtime_error);
  });
}

}  // namespace

namespace {

// A functor whose copy throws once armed: do_chan copies an lvalue fn
// into its goroutine after the call is registered.
struct throws_on_copy {
  bool armed = false;
  throws_on_copy() = default;
  throws_on_copy(const throws_on_copy& o) : armed(o.armed) {
    if (armed) throw std::runtime_error("copy");
  }
  int operator()() const { return 7; }
};

}  // namespace

// A do_chan that throws before its goroutine starts leaves nothing
// registered: the next call for the key runs (it waited for ever).
TEST(Singleflight, DoChanThatThrowsLeavesTheKeyFree) {
  goro::run([] {
    goro::singleflight<int, int> g;
    throws_on_copy fn;
    fn.armed = true;
    EXPECT_THROW(g.do_chan(1, fn), std::runtime_error);
    auto done = goro::make_chan<int>(1);
    goro::go([&] { done.send(g.do_call(1, [] { return 8; }).value); });
    bool got = false;
    goro::select(goro::on_recv(done, [&](int v) {
                   got = true;
                   EXPECT_EQ(v, 8);
                 }),
                 goro::on_recv(goro::after(std::chrono::seconds(20))));
    EXPECT_TRUE(got) << "do_call waits for an execution that never started";
  });
}

namespace {

// The group's hash, which run() calls when it removes the call from the
// map: it records whether the joined do_call had already returned then
// (its caller may have destroyed the group by that time). Armed only on
// the goroutine that runs the call (do_chan's), once the joiner waits.
std::atomic<bool> g_armed{false};
std::atomic<bool> g_joiner_returned{false};
std::atomic<bool> g_hashed_after_return{false};
std::atomic<bool> g_joiner_looked_up{false};
thread_local bool t_is_joiner = false;

struct watching_hash {
  size_t operator()(int k) const {
    if (t_is_joiner) {
      g_joiner_looked_up.store(true);
    } else if (g_armed.load()) {
      // Give a released joiner time to return (it cannot while we hold
      // the call unfinished: then this bound passes, and nothing is wrong).
      goro_test::spin_until([] { return g_joiner_returned.load(); }, std::chrono::milliseconds(500));
      if (g_joiner_returned.load()) g_hashed_after_return.store(true);
    }
    return std::hash<int>{}(k);
  }
};

}  // namespace

// run() is done with the group (map and mutex) before it wakes the callers
// that joined it: a joined do_call may return and its caller destroy the
// group at once. It woke them first, then looked the key up.
TEST(Singleflight, RunIsDoneWithTheGroupBeforeJoinersReturn) {
  goro::set_maxprocs(2);
  g_armed = g_joiner_returned = g_hashed_after_return = g_joiner_looked_up = false;  // (--gtest_repeat)
  goro::run([] {
    auto* g = new goro::singleflight<int, int, watching_hash>;
    auto ch = g->do_chan(1, [] {
      // Returns once the joiner has looked the key up (it joins under the
      // group's lock, which run() takes next).
      goro_test::spin_until([] { return g_joiner_looked_up.load(); });
      g_armed.store(true);
      return 5;
    });
    auto joined = goro::make_chan<int>(1);
    std::thread joiner([&] {
      t_is_joiner = true;
      auto r = g->do_call(1, [] { return 6; });
      g_joiner_returned.store(true);
      joined.send(r.value);
    });
    EXPECT_EQ(joined.recv(), 5);
    EXPECT_EQ(ch.recv().get(), 5);
    goro::blocking([&] { joiner.join(); });
    EXPECT_FALSE(g_hashed_after_return.load()) << "run() used the group after a joined do_call returned";
    delete g;
  });
}

namespace {

// Throws for the key -1, as a user's hash may.
struct throwing_hash {
  std::size_t operator()(int k) const {
    if (k == -1) throw std::runtime_error("no hash for -1");
    return std::hash<int>{}(k);
  }
};

// A hash that throws inside do_call leaves the group usable: do_call
// locked the group's mutex by hand and left it locked when the map's
// emplace threw, so every later call waited for ever.
TEST(Singleflight, ThrowingHashLeavesTheGroupUsable) {
  goro::run([] {
    goro::singleflight<int, int, throwing_hash> g;
    EXPECT_THROW(g.do_call(-1, [] { return 1; }), std::runtime_error);
    auto done = goro::make_chan<int>(1);
    goro::go([&g, done] { done.send(g.do_call(2, [] { return 8; }).value); });
    int got = 0;
    goro::select(goro::on_recv(done, [&](int v) { got = v; }), goro::on_recv(goro::after(20s)));
    ASSERT_EQ(got, 8) << "the group's lock was left held";
  });
}

// A do_chan caller may give up on the result and destroy the group while
// the execution runs (Go's closure keeps the group; here the execution
// keeps the group's state). The execution used to lock the destroyed
// group's mutex: here its memory is filled with garbage, on which that
// lock never returned.
TEST(Singleflight, GroupMayBeDestroyedWhileADoChanExecutionRuns) {
  goro::run([] {
    using group = goro::singleflight<int, int>;
    alignas(group) static unsigned char storage[sizeof(group)];
    auto* g = new (storage) group;
    auto gate = goro::make_chan<int>();
    auto ch = g->do_chan(1, [gate] { return gate.recv(); });
    g->~group();
    std::memset(storage, 0xab, sizeof storage);
    gate.send(5);
    int got = 0;
    goro::select(goro::on_recv(ch, [&](const auto& r) { got = r.get(); }), goro::on_recv(goro::after(20s)));
    ASSERT_EQ(got, 5) << "the execution used the destroyed group";
  });
}

}  // namespace

namespace {

// A hash that throws once armed (then disarms itself): a hash that
// allocates, under memory pressure, say.
struct throwing_once_hash {
  static inline std::atomic<bool> armed{false};
  std::size_t operator()(int k) const {
    if (armed.exchange(false)) throw std::bad_alloc();
    return std::hash<int>{}(k);
  }
};

// An execution whose run cannot erase its call (the hash threw) leaves
// the call in the map, finished; the next caller of the key starts a new
// execution. Before, every later do_call got the old result, shared,
// without running fn, and a do_chan's channel was never sent to.
TEST(Singleflight, ACallItsRunCouldNotEraseIsNotJoined) {
  goro::run([] {
    goro::singleflight<int, int, throwing_once_hash> g;
    int calls = 0;
    auto first = g.do_call(1, [&] {
      calls++;
      throwing_once_hash::armed = true;  // the run's erase looks the key up next
      return 10;
    });
    EXPECT_EQ(first.value, 10);
    auto second = g.do_call(1, [&] { return 10 + ++calls; });
    ASSERT_EQ(calls, 2);  // else the do_chan below would wait for ever
    EXPECT_EQ(second.value, 12);
    EXPECT_FALSE(second.shared);
    auto ch = g.do_chan(1, [&] { return 10 + ++calls; });
    auto [r, ok] = ch.recv_ok();
    ASSERT_TRUE(ok);
    EXPECT_EQ(r.get(), 13);
    EXPECT_EQ(calls, 3);
  });
}

}  // namespace
