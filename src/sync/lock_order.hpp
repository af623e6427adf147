// The lock-order detector's entry points, for goro::mutex and goro::rwmutex
// (sync/mutex.cpp, sync/rwmutex.cpp). They are called only while
// detail::lock_order_on() (goro/detail/lock_order.hpp) holds; lock_order.cpp
// explains the graph.
#pragma once

#include <cstdint>

namespace goro::detail {

enum class lock_kind : uint8_t { mutex, rwmutex };

// Before an acquisition that may wait (lock, a timed lock, rlock): records
// "each lock the caller holds -> lock" in the order graph and, if one of
// those edges would close a cycle, reports the inversion (and, in fatal
// mode, ends the process) before the caller waits. An edge that closes a
// cycle is not added. Called from the goroutine or thread that acquires.
void lock_order_before_wait(const void* lock, lock_kind kind);

// After an acquisition succeeded (try_lock included): the caller holds
// `lock` (shared: a read lock).
void lock_order_acquired(const void* lock, lock_kind kind, bool shared);

// Before a release: the lock leaves the caller's held list, or, if another
// goroutine or thread took it (goro's locks may be released by anyone),
// that one's list. A release of a lock the detector never saw taken (the
// check was switched on while it was held) is ignored.
void lock_order_released(const void* lock, bool shared) noexcept;

}  // namespace goro::detail
