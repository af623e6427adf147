// $GORO_DEBUG: runtime debugging settings, Go's GODEBUG spelled for goro.
// A comma-separated list of key=value pairs, read once, e.g.
//   GORO_DEBUG=detachoff=1
// Keys (README lists them):
//   detachoff=1  the monitor never hands off the P of a goroutine that
//                computes without a scheduling point (as Go's
//                asyncpreemptoff=1); goroutines queued behind it wait for
//                another worker to steal them. For tests and measurements.
//   pollwindow=1 a goroutine about to park on an fd (netpoll/netpoll.cpp)
//                spins 0-20 us between publishing that it waits and
//                parking, at random, so that readiness often lands in that
//                window: the tests of the poller's lost-wake-up race use it.
//   lockorder=N  the lock-order check of goro::mutex and goro::rwmutex
//                (sync/lock_order.cpp): 0 off, 1 report each inversion and
//                go on, 2 report and exit(2). Default: the build's
//                GORO_LOCKORDER_DEFAULT (1 in Debug builds, else 0).
//   stackpopulate=0  do not commit the tops of fresh and scavenged stacks
//                ahead of their first run (sched/stack.cpp populate_tops):
//                each goroutine's first write faults its page in instead.
//   mutexbias=0  goro::mutex never biases itself to a goroutine
//                (sync/mutex_bias.cpp): every lock and unlock is Go's
//                atomic pair. For measurements.
//   chanleak=1   channel handle tracking (chan/handles.cpp), for the
//                partial-deadlock report: as goro::debug::
//                track_channel_handles() before main.
#pragma once

namespace goro::detail {

// The integer value of `key` in $GORO_DEBUG, or `fallback` if absent or not
// an integer. Thread-safe; parses the variable on first use.
int debug_setting(const char* key, int fallback);

}  // namespace goro::detail
