// goro::once, once_func, once_value (include/goro/once.hpp): Go's
// sync/once_test.go (TestOnce, TestOncePanic) and oncefunc_test.go
// (a panicking f panics on every call), with exceptions for panics.
#include <gtest/gtest.h>

#include <atomic>
#include <utility>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

// Every caller returns only after the one call has finished.
TEST(Once, ConcurrentCallersWaitForTheFirst) {
  goro_test::for_procs([] {
    goro::once o;
    int value = 0;  // plain: written by the one call, read by every caller
    std::atomic<int> calls{0}, bad{0};
    auto use = [&] {
      o.call([&] {
        calls++;
        for (int i = 0; i < 100; i++) goro::yield();  // others arrive meanwhile
        value = 42;
      });
      if (value != 42) bad++;
    };
    goro::wait_group wg;
    for (int i = 0; i < 10; i++) wg.go(use);
    std::thread t(use);
    wg.wait();
    t.join();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(bad.load(), 0);
  });
}

// Go's TestOncePanic: the exception reaches the first caller, and the
// once is done all the same (unlike std::call_once).
TEST(Once, ThrowingFunctionStillCountsAsDone) {
  goro::once o;
  try {
    o.call([] { throw std::runtime_error("failed"); });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "failed");
  }
  bool ran = false;
  o.call([&] { ran = true; });
  EXPECT_FALSE(ran);
}

TEST(Once, ArgumentsAreForwarded) {
  goro::once o;
  int got = 0;
  o.call([](int& out, int v) { out = v; }, std::ref(got), 7);
  o.call([](int& out, int v) { out = v; }, std::ref(got), 8);
  EXPECT_EQ(got, 7);
}

TEST(OnceFunc, CallsOnceFromManyCallers) {
  goro::run([] {
    std::atomic<int> calls{0};
    auto f = goro::once_func([&] { calls++; });
    auto copy = f;  // copies share the call
    goro::wait_group wg;
    for (int i = 0; i < 8; i++) wg.go([f] { f(); });
    wg.wait();
    copy();
    EXPECT_EQ(calls.load(), 1);
  });
}

// Go's OnceFunc: if f panics, every call panics with the same value.
TEST(OnceFunc, ExceptionRethrownOnEveryCall) {
  int calls = 0;
  auto f = goro::once_func([&] {
    calls++;
    throw std::logic_error("boom");
  });
  const void* first = nullptr;
  for (int i = 0; i < 3; i++) {
    try {
      f();
      FAIL() << "no exception on call " << i;
    } catch (const std::logic_error& e) {
      EXPECT_STREQ(e.what(), "boom");
      if (first == nullptr) first = &e;
      EXPECT_EQ(first, &e) << "not the same exception object";
    }
  }
  EXPECT_EQ(calls, 1);
}

TEST(OnceValue, ComputesOnceAndReturnsTheValue) {
  goro::run([] {
    std::atomic<int> calls{0};
    auto v = goro::once_value([&] {
      calls++;
      return std::string("computed");
    });
    std::atomic<int> bad{0};
    goro::wait_group wg;
    for (int i = 0; i < 8; i++)
      wg.go([&] {
        if (v() != "computed") bad++;
      });
    wg.wait();
    EXPECT_EQ(v(), "computed");
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(bad.load(), 0);
  });
}

TEST(OnceValue, ExceptionRethrownOnEveryCall) {
  int calls = 0;
  auto v = goro::once_value([&]() -> int {
    calls++;
    throw std::out_of_range("no value");
  });
  for (int i = 0; i < 3; i++) EXPECT_THROW(v(), std::out_of_range);
  EXPECT_EQ(calls, 1);
}

// f may destroy the last copy of the function once_func returned (a
// connection whose close-once function closes the connection and frees
// it). The state f lives in must outlive the call: it was freed inside f,
// and the call then reset f's optional in freed memory, destroying f a
// second time. drops_its_owner counts its destructions (it does not
// clear `live` when destroyed, so a second destruction counts again).
template <class R>
struct drops_its_owner {
  std::function<R()>** owner;
  int* destroyed;
  bool live = true;
  drops_its_owner(std::function<R()>** o, int* d) : owner(o), destroyed(d) {}
  drops_its_owner(drops_its_owner&& x) noexcept
      : owner(x.owner), destroyed(x.destroyed), live(std::exchange(x.live, false)) {}
  drops_its_owner(const drops_its_owner&) = delete;
  ~drops_its_owner() {
    if (live) ++*destroyed;
  }
  R operator()() {
    delete *owner;
    *owner = nullptr;
    if constexpr (!std::is_void_v<R>) return 7;
  }
};

TEST(OnceFunc, FunctionMayDestroyItsOwnLastCopy) {
  int destroyed = 0;
  auto* owner = new std::function<void()>;
  *owner = goro::once_func(drops_its_owner<void>(&owner, &destroyed));
  (*owner)();
  EXPECT_EQ(owner, nullptr);
  EXPECT_EQ(destroyed, 1) << "f was destroyed more than once (the state was freed during the call)";
}

TEST(OnceValue, FunctionMayDestroyItsOwnLastCopy) {
  int destroyed = 0;
  auto* owner = new std::function<int()>;
  *owner = goro::once_value(drops_its_owner<int>(&owner, &destroyed));
  EXPECT_EQ((*owner)(), 7);
  EXPECT_EQ(owner, nullptr);
  EXPECT_EQ(destroyed, 1) << "f was destroyed more than once (the state was freed during the call)";
}

// f is destroyed only after the call is done: its destructor (the user's)
// may wait for a goroutine that calls the same function, which must
// return at once, as Go's does (its f = nil runs no code). Before the fix
// f was destroyed under the once's lock: the goroutine blocked on it and
// the program deadlocked. (Found by a review, 2026-12-06.)
struct joins_in_destructor {
  goro::chan<int> worker_done;
  bool armed = true;
  explicit joins_in_destructor(goro::chan<int> c) : worker_done(std::move(c)) {}
  joins_in_destructor(joins_in_destructor&& o) noexcept : worker_done(o.worker_done), armed(std::exchange(o.armed, false)) {}
  ~joins_in_destructor() {
    if (armed) worker_done.recv();
  }
};

TEST(OnceFunc, FunctionIsDestroyedAfterTheCallIsDone) {
  goro::run([] {
    auto worker_done = goro::make_chan<int>(1);
    std::function<void()> fn;
    fn = goro::once_func([j = joins_in_destructor(worker_done), &fn] {
      goro::go([&fn, done = j.worker_done] {
        fn();  // the call is over by the time f is destroyed
        done.send(1);
      });
    });
    fn();
    fn();
  });
}

TEST(OnceValue, FunctionIsDestroyedAfterTheCallIsDone) {
  goro::run([] {
    auto worker_done = goro::make_chan<int>(1);
    std::function<int()> fn;
    fn = goro::once_value([j = joins_in_destructor(worker_done), &fn] {
      goro::go([&fn, done = j.worker_done] { done.send(fn()); });
      return 5;
    });
    EXPECT_EQ(fn(), 5);
    EXPECT_EQ(fn(), 5);
  });
}

}  // namespace
