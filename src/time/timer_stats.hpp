// Counters of time/gotimer.cpp for white-box tests (declarations only, so
// tests can include this header alone).
#pragma once

#include <cstdint>

namespace goro::detail {

// timer_rec records allocated and not yet freed (timers, tickers,
// after_func timers, in this process).
int64_t timer_recs_live() noexcept;

}  // namespace goro::detail
