// Runtime semaphores keyed by address (Go's runtime/sema.go): the parking
// lot under wait_group, mutex and rwmutex.
//
// semacquire(addr) waits until *addr > 0 and decrements it; semrelease(addr)
// increments it, or hands the unit straight to the first waiter on addr
// (no barging, so a released unit cannot be stolen by a newcomer). Waiters
// queue FIFO, except that a `lifo` waiter goes to the front: Go's mutex
// requeues a waiter that was woken and lost the race that way, so it is
// the next one woken.
//
// semacquire_until adds a deadline: a runtime timer (time/timer.hpp)
// unlinks the waiter if it is still queued when the deadline passes.
// Whoever unlinks a waiter decides its outcome, and both semrelease and
// the timer unlink only under the bucket lock: a waiter is either handed a
// unit (returns true) or timed out holding none (returns false), never
// both, never neither. A unit released while nobody is queued stays in
// *addr for the next acquirer.
//
// Waiters live in 251 hash buckets, each a list under its own lock; a
// waiter's record (and a timed waiter's timer) is on its own stack (no
// allocation). The waiter does not return while the timer callback may
// still touch that record (see semacquire_until).
//
// Lock order: bucket locks rank `wait_list`; under one, only timer_add's
// `timers` lock and what ready() takes (sched), both of higher rank.
#pragma once

#include <cstdint>

#include "sched/wait_reason.hpp"

namespace goro::detail {

void semacquire(uint32_t* addr, wait_reason reason, bool lifo = false);
// As semacquire, but gives up at deadline_ns (steady clock): true if a
// unit was taken, false on time-out (no unit taken).
bool semacquire_until(uint32_t* addr, wait_reason reason, int64_t deadline_ns, bool lifo = false);
// Takes a unit if one is stored in *addr; never blocks.
bool semtryacquire(uint32_t* addr);
void semrelease(uint32_t* addr);

}  // namespace goro::detail
