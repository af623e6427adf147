// Helpers shared by goro's tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "goro/runtime.hpp"

namespace goro_test {

// Multiplier for stress test sizes: $GORO_STRESS (default 1). Sanitizer
// builds divide their loops further where a test says so.
inline int stress_scale() {
  const char* v = std::getenv("GORO_STRESS");
  int n = v != nullptr ? std::atoi(v) : 1;
  return n > 0 ? n : 1;
}

inline constexpr bool kSanitized =
#if defined(GORO_ASAN) || defined(GORO_TSAN)
    true;
#else
    false;
#endif

// `n` scaled by GORO_STRESS, divided by `sanitizer_div` in sanitizer builds.
inline int scaled(int n, int sanitizer_div = 10) {
  int s = n * stress_scale();
  if (kSanitized) s /= sanitizer_div;
  return s > 0 ? s : 1;
}

using steady = std::chrono::steady_clock;

inline double ms_since(steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(steady::now() - t0).count();
}

// Runs f as a goro::run main goroutine at maxprocs 1, 2 and 4 (the
// scheduler-facing tests' rule: several worker counts).
template <class F>
void for_procs(F f) {
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run(f);
  }
}

}  // namespace goro_test
