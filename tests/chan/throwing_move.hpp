// An element whose move constructor may throw (not noexcept): buffered
// channels of it run in the locked mode (chan.cpp), not on the lock-free
// ring. Shared by the channel tests.
#pragma once

#include <type_traits>

namespace chan_test {

struct throwing_move {
  int v = 0;
  throwing_move() = default;
  explicit throwing_move(int x) : v(x) {}
  throwing_move(const throwing_move&) = default;
  throwing_move(throwing_move&& o) : v(o.v) {}  // NOLINT: deliberately not noexcept
  throwing_move& operator=(const throwing_move&) = default;
  throwing_move& operator=(throwing_move&&) = default;
  ~throwing_move() {}
  friend bool operator==(const throwing_move& a, const throwing_move& b) { return a.v == b.v; }
};
static_assert(!std::is_nothrow_move_constructible_v<throwing_move>);

}  // namespace chan_test
