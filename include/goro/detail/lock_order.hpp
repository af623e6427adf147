// The lock-order detector's switch, read inline by goro::mutex and
// goro::rwmutex (the detector itself is src/sync/lock_order.cpp; the public
// controls are goro/lock_order.hpp).
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

// Bit kLockOrderOn: acquisitions and releases go through the detector
// (GORO_DEBUG=lockorder=1 or 2, debug builds by default, or
// goro::debug::set_lock_order_check). Bit kLockOrderNodes: the detector's
// graph has held a node at some time, so a destroyed lock must be
// forgotten (its address may be reused by an unrelated lock). Sticky.
//
// Relaxed loads: a lock operation that misses a concurrent switch-on is
// simply not checked (the detector tolerates releases of locks it never
// saw acquired); the graph is guarded by the detector's own lock.
// Bit kLockOrderFatal: an inversion ends the process (lockorder=2).
// Defined in src/base/debug_env.cpp, set by src/sync/lock_order.cpp.
inline constexpr uint8_t kLockOrderOn = 1;
inline constexpr uint8_t kLockOrderNodes = 2;
inline constexpr uint8_t kLockOrderFatal = 4;
extern std::atomic<uint8_t> lock_order_state;

inline bool lock_order_on() {
  return (lock_order_state.load(std::memory_order_relaxed) & kLockOrderOn) != 0;
}

// Called by the destructors of goro::mutex and goro::rwmutex when
// kLockOrderNodes is set: drops the lock's node and its edges.
void lock_order_forget(const void* lock) noexcept;

}  // namespace goro::detail
