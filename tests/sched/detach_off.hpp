// For the tests of what happens without the monitor's rescue of a
// computing goroutine's queue (the hand-off of its P, sysmon.cpp): turns
// that rescue off for one test and back on after it, also when a whole
// test binary runs in one process (ctest runs each test alone, a developer
// often runs the binary whole).
#pragma once

#include "sched/sysmon.hpp"

namespace goro_test {

class detach_off {
 public:
  detach_off() { goro::detail::sysmon_set_detach_off(true); }
  ~detach_off() { goro::detail::sysmon_set_detach_off(false); }
  detach_off(const detach_off&) = delete;
  detach_off& operator=(const detach_off&) = delete;
};

}  // namespace goro_test
