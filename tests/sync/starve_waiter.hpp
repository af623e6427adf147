// Driving a goro::mutex into starvation mode on purpose, for the tests of
// its hand-off (mutex_test.cpp) and the crash scenario of an unlock during
// one (crash/scenarios.cpp). Public API only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "goro/debug.hpp"
#include "goro/goro.hpp"

namespace goro_test {

// Parks in goro::mutex since the runtime started (cheap, unlike a dump:
// a loop may call it often, also under TSan).
inline uint64_t mutex_parks() {
  for (const auto& w : goro::debug::stats().by_reason)
    if (w.reason == "sync.Mutex.Lock") return w.waits;
  return 0;
}

// Call with one P (the waiter runs only when the caller yields). Makes a
// goroutine (counted in wg) that waits for `mu` starve, and returns with
// the caller holding `mu`, the mutex in starvation mode, and the waiter
// parked again at the head of the queue: the next unlock hands the mutex
// to it. The waiter sets waiter_got_it once it holds the mutex. Returns
// false, still holding `mu`, if the waiter took the mutex on the way: on
// a busy machine this thread may be descheduled long enough for sysmon to
// hand its waiting work to another worker (GORO_DEBUG=detachoff=1 rules
// that out).
inline bool starve_a_waiter(goro::mutex& mu, goro::wait_group& wg, std::atomic<bool>& waiter_got_it) {
  mu.lock();
  const uint64_t parks = mutex_parks();
  wg.go([&] {
    mu.lock();
    waiter_got_it = true;
    mu.unlock();
  });
  while (mutex_parks() == parks) goro::yield();  // it parked, its wait clock running
  // A lower bound, not a guess that something finished: at least 2 ms
  // pass, so the waiter has waited over 1 ms however busy the machine.
  goro::sleep_for(std::chrono::milliseconds(2));
  mu.unlock();  // wakes it (runnable, not running: one P)
  mu.lock();    // and retakes the mutex first
  // The waiter runs, finds the mutex held, turns on starvation mode and
  // parks again.
  while (mutex_parks() == parks + 1 && !waiter_got_it.load()) goro::yield();
  return !waiter_got_it.load();
}

}  // namespace goro_test
