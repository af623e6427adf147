// Every test of this binary must leave no goroutine behind: the leak
// check (goro/testing/leak_check.hpp) runs after each one and fails it,
// listing each goroutine that outlived it with its stack and the line
// that started it. The one exception is the test whose point is three
// goroutines asleep for ever.
#include "goro/testing/leak_check.hpp"

static const bool leak_checked = [] {
  goro::debug::leak_options o;
  o.ignore_functions.push_back("SleepForAHugeDurationDoesNotReturn");
  return goro::testing::install_leak_check(o);
}();
