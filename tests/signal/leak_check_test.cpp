// Every test of this binary must leave no goroutine behind: the leak
// check (goro/testing/leak_check.hpp) runs after each one and fails it,
// listing each goroutine that outlived it with its stack and the line
// that started it.
#include "goro/testing/leak_check.hpp"

static const bool leak_checked = goro::testing::install_leak_check();
