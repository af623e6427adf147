// Sleeping: goro::sleep_for and goro::sleep_until (Go's time.Sleep).
//
// In a goroutine these park it on its worker's timer heap, so the worker
// runs other goroutines meanwhile; on a plain OS thread they sleep the
// thread. A sleep never ends early. On an idle machine it ends within about
// a millisecond of its deadline (the kernel's timer slack plus one wake-up).
//
//   goro::sleep_for(std::chrono::milliseconds(10));
//
// goro::after(d), Go's time.After (a channel that receives once after d,
// for select timeouts), is declared in goro/chan.hpp beside the channels
// it returns.
#pragma once

#include <chrono>
#include <cstdint>

#include <goro/detail/duration.hpp>

namespace goro {

namespace detail {
// Sleeps until `deadline_ns` on the steady clock (CLOCK_MONOTONIC).
void sleep_until_ns(int64_t deadline_ns);
// Sleeps for ns > 0 nanoseconds from now (one clock read).
void sleep_for_ns(int64_t ns);
int64_t steady_now_ns();
}  // namespace detail

// Blocks the caller for at least d. Zero or negative d returns at once.
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) return;
  detail::sleep_for_ns(detail::saturated_ns(d));  // clamped: a huge d never comes, it does not wrap
}

// Blocks the caller until t (at least). Clocks other than steady_clock are
// converted once, at the call.
template <class Clock, class Duration>
void sleep_until(std::chrono::time_point<Clock, Duration> t) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    detail::sleep_until_ns(detail::saturated_ns(t.time_since_epoch()));
  } else {
    if (int64_t ns = detail::ns_until(t); ns > 0) detail::sleep_for_ns(ns);
  }
}

}  // namespace goro
