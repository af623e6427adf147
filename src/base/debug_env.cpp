// $GORO_DEBUG parsing. See debug_env.hpp.
#include "base/debug_env.hpp"

#include <cstdlib>
#include <cstring>

#include "goro/detail/lock_order.hpp"

#if !defined(GORO_LOCKORDER_DEFAULT)
#define GORO_LOCKORDER_DEFAULT 0
#endif

namespace goro::detail {

static_assert(GORO_LOCKORDER_DEFAULT >= 0 && GORO_LOCKORDER_DEFAULT <= 2,
              "GORO_LOCKORDER_DEFAULT is 0 (off), 1 (report) or 2 (fatal)");

// The lock-order check's switch (goro/detail/lock_order.hpp), here at the
// bottom layer because sched's park reads it too (sched/thread_locks.cpp).
// Constant-initialized to the build's default; $GORO_DEBUG is applied by
// sync/lock_order.cpp before main.
std::atomic<uint8_t> lock_order_state{
    GORO_LOCKORDER_DEFAULT == 0 ? uint8_t{0}
                                : static_cast<uint8_t>(kLockOrderOn | (GORO_LOCKORDER_DEFAULT == 2 ? kLockOrderFatal : 0))};

int debug_setting(const char* key, int fallback) {
  // getenv is read each call: callers read a setting once, at start.
  const char* v = getenv("GORO_DEBUG");
  if (v == nullptr) return fallback;
  size_t klen = strlen(key);
  for (const char* item = v; *item != '\0';) {
    const char* end = strchr(item, ',');
    size_t len = end != nullptr ? static_cast<size_t>(end - item) : strlen(item);
    if (len > klen && strncmp(item, key, klen) == 0 && item[klen] == '=') {
      char* num_end = nullptr;
      long n = strtol(item + klen + 1, &num_end, 10);
      if (num_end == item + len && num_end != item + klen + 1) return static_cast<int>(n);
      return fallback;
    }
    if (end == nullptr) break;
    item = end + 1;
  }
  return fallback;
}

}  // namespace goro::detail
