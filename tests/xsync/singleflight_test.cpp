// goro::singleflight: the semantics of x/sync/singleflight's tests (Do,
// DoErr, DoDupSuppress, Forget, DoChan), from goroutines and threads.
#include <gtest/gtest.h>

#include <atomic>
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
