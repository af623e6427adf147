// The monitor's internal counters, for tests and diagnostics (the monitor
// itself is in sysmon.cpp; sched.hpp starts it). Declarations only, so
// that tests may include this header without the runtime's structures.
#pragma once

#include <cstdint>

namespace goro::detail {

// Rounds the monitor has completed since the runtime started: each round
// looks for Ps to retake, overdue timers and deadlocks. A count that stops moving means the monitor is held up.
uint64_t sysmon_rounds();

// Turns the monitor's hand-off of a computing goroutine's P off or on, as
// $GORO_DEBUG=detachoff=1 does at start (for tests of what happens
// without that rescue).
void sysmon_set_detach_off(bool off);

// Times the monitor woke a worker for a timer overdue by a millisecond
// with nobody looking (a wake-up the scheduler should have made itself).
uint64_t sysmon_timer_rescues();

}  // namespace goro::detail
