// Pattern: singleflight in front of a slow lookup (article 004).
//
//   var g singleflight.Group
//   func user(id string) (User, error) {
//       v, err, shared := g.Do(id, func() (any, error) { return db.Load(id) })
//       ...
//   }
//
// What it shows: twenty requests for the same user arrive while the first
// lookup is still running; goro::singleflight runs the lookup once and
// hands its result to all twenty (`shared` tells them it was shared). A
// request for another key runs its own lookup. Once a lookup has finished,
// the next request for that key starts a fresh one (singleflight
// deduplicates calls in flight; it is not a cache).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "goro/goro.hpp"

namespace {

std::atomic<int> g_lookups{0};

// The slow backend: 20 ms per lookup.
std::string load_user(const std::string& id) {
  g_lookups++;
  goro::sleep_for(std::chrono::milliseconds(20));
  return "user " + id;
}

}  // namespace

int main() {
  return goro::run([] {
    goro::singleflight<std::string, std::string> users;
    goro::wait_group wg;
    std::atomic<int> shared{0};
    for (int i = 0; i < 20; i++) {
      wg.go([&] {
        auto [u, was_shared] = users.do_call("42", [] { return load_user("42"); });
        if (u != "user 42") std::printf("wrong answer: %s\n", u.c_str());
        if (was_shared) shared++;
      });
    }
    wg.go([&] { users.do_call("7", [] { return load_user("7"); }); });
    wg.wait();
    std::printf("21 requests, %d lookups (one per key in flight), %d answers shared\n", g_lookups.load(),
                shared.load());
    // Finished lookups are not cached: a later request looks up again.
    users.do_call("42", [] { return load_user("42"); });
    std::printf("a later request for 42: %d lookups in all\n", g_lookups.load());
  });
}
