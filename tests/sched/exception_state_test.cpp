// The C++ exception being handled belongs to the goroutine, not to the
// thread it runs on (sched/eh_state.hpp). Each test failed before the
// switch carried it: the C++ runtime keeps the caught-exception stack per
// OS thread, so goroutines interleaving in catch blocks saw and freed each
// other's exceptions.
#include <atomic>
#include <exception>
#include <stdexcept>
#include <string>

#include "goro/goro.hpp"
#include "test_util.hpp"

namespace {

std::string what_is_being_handled() {
  try {
    throw;  // rethrows the exception being handled
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Goroutine A parks inside its catch block; main, on the same thread (one
// P), throws and catches its own exception and lets A run inside that
// catch block. A must still be handling "A" (it saw "B"), and each catch
// block's end must free its own exception (the wrong one was freed: a
// use-after-free under ASan).
TEST(ExceptionState, ParkingInsideACatchBlockKeepsTheGoroutinesException) {
  goro::set_maxprocs(1);
  goro::run([] {
    auto wake = goro::make_chan<int>();
    std::atomic<bool> parked{false};
    std::string seen_by_a, rethrown_by_a;
    goro::wait_group wg;
    wg.go([&] {
      try {
        throw std::runtime_error("A");
      } catch (const std::exception& e) {
        parked = true;
        wake.recv();  // parks inside the catch block
        seen_by_a = what_is_being_handled();
        rethrown_by_a = e.what();
      }
    });
    while (!parked.load()) goro::yield();
    std::string seen_by_main;
    try {
      throw std::runtime_error("B");
    } catch (const std::exception&) {
      wake.send(1);  // A is ready; it runs on this thread when we yield
      wg.wait();     // A finishes its catch block meanwhile
      seen_by_main = what_is_being_handled();
    }
    EXPECT_EQ(seen_by_a, "A");
    EXPECT_EQ(rethrown_by_a, "A");
    EXPECT_EQ(seen_by_main, "B");
    EXPECT_EQ(std::uncaught_exceptions(), 0);
  });
}

// The same across threads: many goroutines each park inside a catch block
// and resume, likely on another worker, where other goroutines are in
// their own catch blocks.
TEST(ExceptionState, ManyGoroutinesParkInsideCatchBlocks) {
  goro::set_maxprocs(2);
  goro::run([] {
    const int n = goro_test::scaled(2000, 10);
    auto gate = goro::make_chan<int>();
    std::atomic<int> wrong{0};
    goro::wait_group wg;
    for (int i = 0; i < n; i++) {
      wg.go([&, i] {
        try {
          throw std::runtime_error(std::to_string(i));
        } catch (const std::exception&) {
          goro::yield();
          gate.recv();
          goro::yield();
          if (what_is_being_handled() != std::to_string(i)) wrong++;
        }
      });
    }
    for (int i = 0; i < n; i++) gate.send(i);
    wg.wait();
    EXPECT_EQ(wrong.load(), 0);
  });
}

}  // namespace
