// A goro::mutex with a critical section that checks it is alone in it: the
// mutex tests' (mutex_test.cpp, mutex_bias_test.cpp) measure of mutual
// exclusion. The count and flag are plain, not atomic: a lost update shows
// as a wrong total, two holders at once as an overlap.
#pragma once

#include <atomic>
#include <cstdint>

#include "goro/mutex.hpp"

namespace goro_test {

struct guarded {
  goro::mutex mu;
  int64_t count = 0;
  bool inside = false;
  std::atomic<int> overlaps{0};

  // Call holding mu.
  void enter() {
    if (inside) overlaps.fetch_add(1);
    inside = true;
    count++;
    inside = false;
  }
};

}  // namespace goro_test
