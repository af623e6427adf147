// When a goro::mutex locker may spin past its P's run queue
// (src/sync/mutex.cpp, can_spin).
//
// Go's rule: spin only while nothing waits in the P's run queue, since
// whatever waits there could use the CPU. goro makes one exception: the
// queue holds a single goroutine, in runnext, that a mutex's unlock woke
// (it parked in mutex::lock, so its wait reason still says so while it is
// runnable). An unlock readies its waiter into the unlocker's own runnext,
// and under Go's rule that waiter then stopped the unlocker's next spin:
// four goroutines on two Ps took turns parking 5,000-12,500 times per
// 4,000,000 lock/unlock pairs (docs/benchmarks.md, "runtime/mutex"). The
// waiter would only contend for a mutex too, so spinning past it costs
// nothing else; but for at most the starvation threshold (1 ms) from the
// first spin past it, measured per P and per stay in runnext (the g and
// its run_gen), so that its wait grows by at most Go's bound.
//
// Thread-safety: called by the P's owner only (the memo lives in the P);
// reads the other goroutine's `reason` and `run_gen` atomically
// (park_waiter writes the reason atomically). That goroutine may be
// stolen and run meanwhile, which makes the answer stale, never unsafe
// (g records are never freed).
#pragma once

#include <cstdint>

namespace goro::detail {

struct g;
struct p;

// Whether a locker on pp (owned by the caller) may spin past `next`, pp's
// runnext goroutine, at `now` (nanotime()): next is a goroutine woken from
// a mutex wait, and pp's lockers began spinning past this stay of it in
// runnext less than the starvation threshold ago (the first call for a
// stay starts the clock).
bool spin_past_runnext(p* pp, const g* next, int64_t now);

}  // namespace goro::detail
