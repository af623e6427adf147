// Finding a goroutine leak: the first article's leakySearch, caught by
// goro::debug::find_leaks (uber-go/goleak's Find), then fixed.
//
//   func leakySearch(query string) string {
//       ch := make(chan string)
//       go func() { ch <- searchDatabaseA(query) }()
//       go func() { ch <- searchDatabaseB(query) }()
//       return <-ch   // the slower goroutine blocks forever on its send
//   }
//
// What it shows: after leakySearch returns, find_leaks waits a short grace
// period for goroutines to finish, then reports the one that cannot: its
// id, [chan send], its stack, and the line of the go() that started it.
// The fix (a buffer of 2, so both sends complete) leaves nothing behind,
// and find_leaks returns at once. In a GoogleTest suite the same check
// runs after every test with one line
// (goro/testing/leak_check.hpp):
//
//   static const bool leak_checked = goro::testing::install_leak_check();
//
// This program reports the leak it was written to have and exits 0.
#include <chrono>
#include <cstdio>
#include <string>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

static std::string search_database_a(const std::string& q) { return "A(" + q + ")"; }
static std::string search_database_b(const std::string& q) {
  goro::sleep_for(5ms);  // the slower database
  return "B(" + q + ")";
}

// Returns the channel only so that main can let the stuck sender go at
// the end; Go's version has no way to, which is the leak.
static goro::chan<std::string> leaky_search(const std::string& query, std::string* result) {
  goro::chan<std::string> ch = goro::make_chan<std::string>();
  goro::go([ch, query] { ch.send(search_database_a(query)); });
  goro::go([ch, query] { ch.send(search_database_b(query)); });
  *result = ch.recv();
  return ch;
}

static std::string fixed_search(const std::string& query) {
  goro::chan<std::string> ch = goro::make_chan<std::string>(2);  // room for both answers
  goro::go([ch, query] { ch.send(search_database_a(query)); });
  goro::go([ch, query] { ch.send(search_database_b(query)); });
  return ch.recv();
}

int main() {
  return goro::run([] {
    goro::debug::leak_options options;
    options.grace = 200ms;  // the slower search takes 5 ms: anything left after 200 ms is stuck
    options.ignore_ids = goro::debug::goroutine_ids();  // what ran before is not ours to judge

    std::string result;
    goro::chan<std::string> ch = leaky_search("gopher", &result);
    std::printf("leakySearch returned %s\n", result.c_str());
    std::vector<goro::debug::goroutine_info> leaks = goro::debug::find_leaks(options);
    std::printf("%s", goro::debug::describe_leaks(leaks).c_str());
    for (const goro::debug::goroutine_info& g : leaks)
      std::printf("=> goroutine %llu is stuck on [%s], started at %s\n", static_cast<unsigned long long>(g.id),
                  g.wait_reason.c_str(), g.created_by.c_str());
    (void)ch.recv();  // let it go, so the fixed version starts clean

    auto t0 = std::chrono::steady_clock::now();
    result = fixed_search("gopher");
    std::printf("fixed search returned %s\n", result.c_str());
    options.grace = 10s;  // returns as soon as the slower goroutine has sent
    leaks = goro::debug::find_leaks(options);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::printf("after the fix: %zu leaked goroutines (checked in %lld ms, not the 10 s grace)\n", leaks.size(),
                static_cast<long long>(ms));
  });
}
