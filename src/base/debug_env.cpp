// $GORO_DEBUG parsing. See debug_env.hpp.
#include "base/debug_env.hpp"

#include <cstdlib>
#include <cstring>

namespace goro::detail {

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
