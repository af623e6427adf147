// When a goro::mutex locker may spin past its P's run queue
// (src/sync/mutex.cpp, can_spin).
//
// Go's rule: spin only while nothing waits in the P's run queue, since
// whatever waits there could use the CPU. goro makes one exception: the
// queue holds a single goroutine, in runnext, that a mutex's unlock woke
// (it parked in mutex::lock, so its wait reason still says so while it is
// runnable) less than the starvation threshold ago. That goroutine would
// only contend for a mutex too; parking for it let the unlocker's own
// wake-up stop the unlocker from spinning next time, so that four
// goroutines on two Ps parked and woke 5,000-12,500 times per 4,000,000
// lock/unlock pairs (docs/benchmarks.md, "runtime/mutex"). The threshold
// keeps Go's bound on waiting: a woken waiter passed over for a
// millisecond is not passed over again.
//
// Thread-safety: reads another goroutine's `reason` and `wait_since`
// atomically (park_waiter writes them atomically); the g may be stolen and
// run meanwhile, which makes the answer stale, never unsafe (g records are
// never freed).
#pragma once

#include <cstdint>

namespace goro::detail {

struct g;

// Whether `next` (a runnext goroutine) is a mutex waiter woken less than
// the starvation threshold before `now` (the coarse clock), so that a
// locker may spin past it.
bool runnext_only_contends(const g* next, int64_t now);

}  // namespace goro::detail
