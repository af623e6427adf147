// Durations and deadlines as the runtime keeps them: int64 nanoseconds on
// the steady clock, saturating instead of overflowing. Not part of the
// public API.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace goro::detail {

// The latest deadline the runtime arms, about 292 years after boot: later
// ones (after(1000 years), sleep_for(nanoseconds::max())) are clamped to
// it and never come, as Go clamps time.After(math.MaxInt64). INT64_MAX
// itself means "no timer" inside the runtime.
inline constexpr int64_t kFarFutureNs = INT64_MAX - 1;

// d in nanoseconds, rounded up; 0 for zero or negative d, at most
// kFarFutureNs. The comparison is made in long double, so no Rep or Period
// overflows (ceil<nanoseconds>(years(1000)) would).
template <class Rep, class Period>
constexpr int64_t saturated_ns(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) return 0;
  if (std::chrono::duration<long double, std::nano>(d).count() >= static_cast<long double>(kFarFutureNs))
    return kFarFutureNs;
  return static_cast<int64_t>(std::chrono::ceil<std::chrono::nanoseconds>(d).count());
}

// now + ns, at most kFarFutureNs (ns >= 0).
constexpr int64_t deadline_after(int64_t now, int64_t ns) {
  return ns >= kFarFutureNs - now ? kFarFutureNs : now + ns;
}

int64_t steady_now_ns();  // the runtime's clock: steady_clock, in nanoseconds

// t - Clock::now() in nanoseconds, rounded up: 0 if t has passed, at most
// kFarFutureNs. Never overflows, even for the clock's min() or max(): the
// two are compared as long double nanoseconds, which hold every int64
// exactly (x86-64's 64-bit mantissa, aarch64's 113).
template <class Clock, class Duration>
int64_t ns_until(std::chrono::time_point<Clock, Duration> t) {
  using ns_ld = std::chrono::duration<long double, std::nano>;
  long double left = ns_ld(t.time_since_epoch()).count() - ns_ld(Clock::now().time_since_epoch()).count();
  if (!(left > 0)) return 0;
  if (left >= static_cast<long double>(kFarFutureNs)) return kFarFutureNs;
  return static_cast<int64_t>(std::ceil(left));
}

// A deadline on the steady clock, in the runtime's nanoseconds (0: the
// epoch or before, long past). A time point of another clock is taken
// as the same distance from now, once, at the call (as Go's monotonic
// reading); a past one (its clock's min() included) is now.
template <class Clock, class Duration>
int64_t deadline_ns_of(const std::chrono::time_point<Clock, Duration>& t) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    return saturated_ns(t.time_since_epoch());
  } else {
    return deadline_after(steady_now_ns(), ns_until(t));
  }
}

}  // namespace goro::detail
