// goro::mutex's bias (mutex_bias.cpp): counters for goro::debug::stats
// and the tests.
#pragma once

#include <cstdint>

namespace goro::detail {

// Biases ended by another locker (each one membarrier call) since start.
uint64_t mutex_bias_revocations();
// Times new bias was refused for a second because revocations cost too
// much (mutex_bias.cpp, "Cost control").
uint64_t mutex_bias_pauses();
// Whether a mutex may become biased now (not paused, not turned off);
// decides first if nobody has (mutex_bias_decide).
bool mutex_bias_enabled();
// Decides whether mutexes may be biased (registers for membarrier), if
// not decided yet: the scavenger thread, as it starts. Can take tens of
// milliseconds in a process with several threads (mutex_bias.cpp,
// "Deciding").
void mutex_bias_decide();
// Decides now if the process has one thread, where it costs microseconds:
// runtime_init, before it starts the runtime's threads.
void mutex_bias_decide_if_alone();
// The thread id of the thread whose decision stood; 0 before. For tests.
int mutex_bias_decider_tid();
// Sets how much membarrier time per second revocations may take before new
// bias pauses (default 5 ms), and for how long it then pauses (default 1
// s); ends a pause in progress; returns the old budget. For tests.
int64_t mutex_bias_set_budget(int64_t ns_per_second, int64_t pause_ns = 1'000'000'000);

}  // namespace goro::detail
