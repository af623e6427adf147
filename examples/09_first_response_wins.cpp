// Pattern: first response wins -- send the same query to every replica,
// use the first answer, and do not leak the slower ones.
//
//   func First(query string, replicas ...Search) Result {
//       c := make(chan Result, len(replicas))    // room for every answer
//       for _, r := range replicas {
//           go func(r Search) { c <- r(query) }(r)
//       }
//       return <-c
//   }
//
// What it shows: one goroutine per replica, all sending into one channel;
// the caller takes the first value and returns. goro::num_goroutine() (Go's
// runtime.NumGoroutine) is printed before, right after, and once the slow
// replicas have answered: it returns to the baseline.
//
// Pitfall avoided: article 000's leakySearch made `c` unbuffered. Then the
// losers block forever on `c <- ...`, since nobody will ever receive again:
// one leaked goroutine (and its stack) per loser per call. Part 2 runs that
// version and shows the count staying up; it then drains the channel, only
// so that this example ends clean. With capacity == len(replicas) every
// send completes whether or not anyone reads, and the losers exit.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

struct replica {
  std::string name;
  std::chrono::milliseconds latency;
};

static std::string search(const replica& r, const std::string& query) {
  goro::sleep_for(r.latency);
  return r.name + " answered \"" + query + "\"";
}

// Fixed: the result channel has room for every replica's answer.
static std::string first(const std::string& query, const std::vector<replica>& replicas) {
  goro::chan<std::string> c = goro::make_chan<std::string>(static_cast<int64_t>(replicas.size()));
  for (const replica& r : replicas) goro::go([c, r, query]() mutable { c.send(search(r, query)); });
  return c.recv();
}

// Waits (at most 2s) until the goroutine count is back to `target`.
static int64_t settle(int64_t target) {
  auto give_up = std::chrono::steady_clock::now() + 2s;
  while (goro::num_goroutine() > target && std::chrono::steady_clock::now() < give_up) goro::sleep_for(5ms);
  return goro::num_goroutine();
}

int main() {
  return goro::run([] {
    std::vector<replica> replicas = {{"replica-a", 40ms}, {"replica-b", 5ms}, {"replica-c", 80ms}};
    int64_t baseline = goro::num_goroutine();

    std::printf("fixed (buffer of %zu): %s\n", replicas.size(), first("goro", replicas).c_str());
    goro::sleep_for(10ms);
    std::printf("  goroutines 10ms later: baseline %+lld (the two slow replicas are still working)\n",
                static_cast<long long>(goro::num_goroutine() - baseline));
    std::printf("  goroutines once they answered: baseline %+lld -> no leak\n",
                static_cast<long long>(settle(baseline) - baseline));

    // Part 2: the leaky version, an unbuffered channel.
    goro::chan<std::string> c = goro::make_chan<std::string>();
    for (const replica& r : replicas) goro::go([c, r]() mutable { c.send(search(r, "leak")); });
    std::printf("leaky (unbuffered): %s\n", c.recv().c_str());
    goro::sleep_for(150ms);  // longer than every replica's latency
    std::printf("  goroutines 150ms later: baseline %+lld -> two senders blocked forever on \"chan send\"\n",
                static_cast<long long>(goro::num_goroutine() - baseline));
    c.recv();  // only to end the example clean: release the two stuck senders
    c.recv();
    std::printf("  drained by hand: baseline %+lld\n", static_cast<long long>(settle(baseline) - baseline));
  });
}
