// The lock-order check: reports goro::mutex and goro::rwmutex acquisitions
// whose order contradicts an order seen before (a potential deadlock), even
// when the two orders never met in time.
//
//   goro::mutex a, b;
//   goro::go([&] { goro::mutex_lock la(a); goro::mutex_lock lb(b); });  // a -> b
//   ...later, after that goroutine finished:
//   goro::go([&] { goro::mutex_lock lb(b); goro::mutex_lock la(a); });  // b -> a: reported
//
// The report, on stderr, comes before the second goroutine waits for `a`:
//
//   WARNING: lock order inversion (potential deadlock)
//
//   goroutine 7 acquires mutex 0x7ffc... while holding mutex 0x7ffc...:
//   <its stack, file:line where debug information allows>
//
//   earlier, goroutine 6 acquired mutex 0x7ffc... while holding mutex 0x7ffc...:
//   <the stack that recorded the opposite order>
//
// On in debug builds (CMAKE_BUILD_TYPE=Debug, the `debug` preset; the
// CMake variable GORO_LOCKORDER_DEFAULT chooses the default of other
// builds), and in any build with GORO_DEBUG=lockorder=1 (report and go on)
// or GORO_DEBUG=lockorder=2 (report as "fatal error: lock order inversion
// (potential deadlock)" and exit with status 2, as Go's fatal errors do);
// GORO_DEBUG=lockorder=0 turns it off. When off, each lock operation pays
// one load and a predictable branch. When on, every acquisition and release
// takes a global spinlock, and a first-seen order captures a stack: meant
// for tests and debugging, not for production. docs/design.md ("The
// lock-order check") says what it finds and what it misses: in short, it
// sees goro::mutex and goro::rwmutex only (not std::mutex, channels or
// conds), tracks lock instances (by address; a destroyed lock is
// forgotten), and does not count try_lock as a wait.
#pragma once

#include <cstdint>

namespace goro::debug {

// What the check does; the values are GORO_DEBUG=lockorder=N's.
enum class lock_order_mode : int {
  off = 0,     // no check: each lock operation pays one load and a branch
  report = 1,  // print each inverted pair of locks once, go on
  fatal = 2,   // print the first inversion, exit(2)
};

// Switches the check. Safe at any time from any goroutine or thread: locks
// held across the switch are simply not known to the check (their release
// is ignored). Switching off forgets what the callers hold but keeps the
// recorded orders.
void set_lock_order_check(lock_order_mode mode);

// The current mode.
lock_order_mode lock_order_check();

// How many inversions have been reported since the program started.
uint64_t lock_order_reports();

}  // namespace goro::debug
