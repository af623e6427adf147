// Every way a Go programmer would spell `go f(x)` compiles and runs:
// goro::go and wait_group::go are functions, so `goro::go(task);` is a call,
// not the declaration of a variable named `task` (as it was when go was a
// class template with deduction guides). Arguments are decay-copied, as by
// std::thread. Where each goroutine was created is checked by the crash
// tests (Deadlock.ReportNamesTheLineOfEachGoCall).
#include <gtest/gtest.h>

#include <goro/goro.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "test_util.hpp"

namespace {

using goro_test::for_procs;

std::atomic<int> g_ran{0};

void worker() { g_ran.fetch_add(1); }
void add_to(std::atomic<int>* counter, int n) { counter->fetch_add(n); }

struct server {
  std::atomic<int> served{0};
  void serve(int n) { served.fetch_add(n); }
};

// go returns the new goroutine's id; every spelling below must be a call.
static_assert(std::is_same_v<decltype(goro::go(worker)), uint64_t>);

TEST(GoSpelling, NamedCallables) {
  for_procs([] {
    g_ran = 0;
    goro::wait_group wg;
    auto done = [&wg] { wg.done(); };
    wg.add(1);
    goro::go(done);  // a named lambda (was: conflicting declaration of `done`)
    wg.add(1);
    goro::go([&wg] { wg.done(); });  // a lambda prvalue
    wg.wait();

    auto ran = goro::make_chan<goro::unit>(4);
    auto signal = [ran] { ran.send({}); };
    std::function<void()> fn = signal;
    goro::go(fn);  // a std::function variable
    void (*fp)() = worker;
    goro::go(fp);        // a function pointer variable
    goro::go(&worker);   // the address of a function
    goro::go(worker);    // a function name
    const auto csignal = signal;
    goro::go(csignal);   // a const lvalue
    ran.recv();
    ran.recv();
    while (g_ran.load() < 3) goro::yield();
    EXPECT_EQ(g_ran.load(), 3);
  });
}

TEST(GoSpelling, ArgumentsAreCopiedOrMovedIn) {
  for_procs([] {
    std::atomic<int> counter{0};
    auto out = goro::make_chan<std::string>(3);
    goro::wait_group wg;
    wg.add(1);
    goro::go([&wg](std::atomic<int>* c, int n) { c->fetch_add(n); wg.done(); }, &counter, 5);
    wg.wait();
    EXPECT_EQ(counter.load(), 5);

    // An lvalue argument is copied: changing it afterwards changes nothing.
    std::string s = "copied";
    goro::go([](goro::chan<std::string> ch, std::string v) { ch.send(std::move(v)); }, out, s);
    s = "changed";
    EXPECT_EQ(out.recv(), "copied");

    // A move-only argument is moved in.
    auto p = std::make_unique<std::string>("moved");
    goro::go([](goro::chan<std::string> ch, std::unique_ptr<std::string> v) { ch.send(*v); }, out, std::move(p));
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(out.recv(), "moved");

    // std::ref shares instead.
    int shared = 0;
    wg.add(1);
    goro::go([&wg](int& x) { x = 42; wg.done(); }, std::ref(shared));
    wg.wait();
    EXPECT_EQ(shared, 42);

    // A function pointer with arguments: Go's `go add_to(&counter, 2)`.
    counter = 0;
    goro::go(add_to, &counter, 2);
    goro::go(&add_to, &counter, 3);
    while (counter.load() < 5) goro::yield();
    EXPECT_EQ(counter.load(), 5);
  });
}

TEST(GoSpelling, MemberFunctionWithObject) {
  for_procs([] {
    server srv;
    goro::go(&server::serve, &srv, 2);         // srv.serve(2), as std::invoke
    goro::go(&server::serve, std::ref(srv), 3);
    while (srv.served.load() < 5) goro::yield();
    EXPECT_EQ(srv.served.load(), 5);
  });
}

TEST(GoSpelling, GoWith) {
  for_procs([] {
    std::atomic<int> counter{0};
    auto task = [&counter](int n) { counter.fetch_add(n); };
    goro::go_with({.stack_size = 64 * 1024}, task, 1);
    goro::go_with({}, &add_to, &counter, 2);
    goro::go_with({.stack_size = 1 << 20}, [&counter] { counter.fetch_add(4); });
    while (counter.load() < 7) goro::yield();
    EXPECT_EQ(counter.load(), 7);
  });
}

TEST(GoSpelling, WaitGroupGoWithArguments) {
  for_procs([] {
    std::atomic<int> counter{0};
    goro::wait_group wg;
    auto task = [&counter] { counter.fetch_add(1); };
    wg.go(task);                         // a named lambda
    wg.go(add_to, &counter, 10);         // Go's wg.Go(func() { add_to(&counter, 10) })
    wg.go(&add_to, &counter, 100);
    server srv;
    wg.go(&server::serve, &srv, 7);
    auto p = std::make_unique<int>(1000);
    wg.go([&counter](std::unique_ptr<int> v) { counter.fetch_add(*v); }, std::move(p));
    wg.wait();
    EXPECT_EQ(counter.load(), 1111);
    EXPECT_EQ(srv.served.load(), 7);
  });
}

// From a plain thread too (no goroutine running the caller).
TEST(GoSpelling, FromAPlainThread) {
  std::atomic<int> counter{0};
  goro::wait_group wg;
  wg.go(add_to, &counter, 1);
  auto task = [&counter, &wg] {
    counter.fetch_add(2);
    wg.done();
  };
  wg.add(1);
  goro::go(task);
  wg.wait();
  EXPECT_EQ(counter.load(), 3);
}

}  // namespace
