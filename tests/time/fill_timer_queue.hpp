// Filling a P's timer queue until it must grow, for the tests that make
// its growth fail (the seam test_hooks::timer_grow_fails, set by the
// caller): the new timer whose push needs the growth throws std::bad_alloc.
#pragma once

#include <chrono>
#include <new>
#include <vector>

#include "goro/timer.hpp"

namespace goro_test {

// Makes timers of duration d into `made` until one throws std::bad_alloc;
// returns whether one did within 2^20 timers.
template <class Rep, class Period>
bool make_timers_until_bad_alloc(std::vector<goro::timer>& made, std::chrono::duration<Rep, Period> d) {
  made.reserve(made.size() + (1 << 20));
  for (int i = 0; i < (1 << 20); i++) {
    try {
      made.push_back(goro::new_timer(d));
    } catch (const std::bad_alloc&) {
      return true;
    }
  }
  return false;
}

}  // namespace goro_test
