// The monitor's internal counters, for tests and diagnostics (the monitor
// itself is in sysmon.cpp; sched.hpp starts it). Declarations only, so
// that tests may include this header without the runtime's structures.
#pragma once

#include <atomic>
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

// Set by the monitor while an idle P that no worker may take holds timers
// overdue by a millisecond (maxprocs was lowered); every busy P's next
// scheduling round then runs other Ps' overdue timers (find_runnable), not
// only every 61st. Relaxed: a hint, written only when it changes.
extern std::atomic<bool> g_idle_p_timers_overdue;

}  // namespace goro::detail
