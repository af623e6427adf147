// Runtime semaphores keyed by address (Go's runtime/sema.go): the parking
// lot under wait_group (and, later, mutex, rwmutex and cond).
//
// semacquire(addr) waits until *addr > 0 and decrements it; semrelease(addr)
// increments it, or hands the unit straight to the longest waiter on addr
// (FIFO, no barging, so a released unit cannot be stolen by a newcomer).
//
// Waiters live in 251 hash buckets, each a FIFO list under its own lock;
// a waiter's record is on its own stack (no allocation).
//
// Lock order: bucket locks rank `wait_list`; nothing else is taken under
// one except what ready() takes (sched, of higher rank).
#pragma once

#include <cstdint>

#include "sched/wait_reason.hpp"

namespace goro::detail {

void semacquire(uint32_t* addr, wait_reason reason);
void semrelease(uint32_t* addr);

}  // namespace goro::detail
