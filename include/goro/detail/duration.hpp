// Durations and deadlines as the runtime keeps them: int64 nanoseconds on
// the steady clock, saturating instead of overflowing. Not part of the
// public API.
#pragma once

#include <chrono>
#include <cstdint>

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

}  // namespace goro::detail
