// Pattern: fan-out / fan-in -- several goroutines read from one channel
// (fan-out); their results are merged into one channel (fan-in) that a
// closer goroutine closes once every worker is done.
//
//   in, out := make(chan Task), make(chan Result)
//   var wg sync.WaitGroup
//   wg.Add(4)
//   for i := 0; i < 4; i++ { go func() { defer wg.Done(); for t := range in { out <- do(t) } }() }
//   go func() { wg.Wait(); close(out) }()        // the closer
//   go func() { defer close(in); for _, t := range tasks { in <- t } }()
//   for r := range out { use(r) }
//
// What it shows: part 1 is article 001's fanOut, one goroutine per URL
// writing into a results channel sized len(urls); part 2 is article 002's
// fixed set of 4 workers between an unbuffered `in` and `out`. In both,
// the closer goroutine (wg.wait() then close) is the single owner that
// closes the shared results channel, so the caller can simply range over
// it.
//
// Pitfall avoided: with several senders, no sender may close the channel
// (the others would panic with "send on closed channel"), and the receiver
// must not either: the wait_group decides when the last sender is done.
// Results arrive in completion order; they are sorted before printing.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "goro/goro.hpp"

struct fetch_result {
  std::string url;
  int status = 0;
};

// A pretend HTTP GET: latency and status depend on the URL.
static fetch_result fetch(const std::string& url) {
  goro::sleep_for(std::chrono::milliseconds(static_cast<int>(url.size() % 7) * 2));
  return {url, url.find("missing") != std::string::npos ? 404 : 200};
}

// Article 001: one goroutine per URL; the closer closes results.
static goro::recv_chan<fetch_result> fan_out(const std::vector<std::string>& urls) {
  goro::chan<fetch_result> results = goro::make_chan<fetch_result>(static_cast<int64_t>(urls.size()));
  auto wg = std::make_shared<goro::wait_group>();  // outlives this function
  for (const std::string& u : urls) {
    wg->add(1);
    goro::go([wg, results, u]() mutable {
      results.send(fetch(u));
      wg->done();
    });
  }
  goro::go([wg, results]() mutable {
    wg->wait();
    results.close();
  });
  return results;
}

int main() {
  return goro::run([] {
    std::vector<std::string> urls = {"https://go.dev", "https://go.dev/missing", "https://isocpp.org",
                                     "https://example.com", "https://cppreference.com"};
    std::vector<fetch_result> got;
    for (fetch_result r : fan_out(urls)) got.push_back(std::move(r));
    std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.url < b.url; });
    std::printf("fan-out: %zu goroutines, fan-in: one channel closed by the closer\n", urls.size());
    for (const fetch_result& r : got) std::printf("  %d %s\n", r.status, r.url.c_str());

    // Part 2: 4 workers, unbuffered channels, a feeder that closes `in`.
    goro::chan<int> in = goro::make_chan<int>();
    goro::chan<int> out = goro::make_chan<int>();
    goro::wait_group wg;
    wg.add(4);
    for (int i = 0; i < 4; i++)
      goro::go([&wg, in, out]() mutable {
        for (int t : in) out.send(t * t);
        wg.done();
      });
    goro::go([&wg, out]() mutable {
      wg.wait();
      out.close();
    });
    goro::go([in]() mutable {
      for (int t = 1; t <= 100; t++) in.send(t);
      in.close();
    });
    long sum = 0;
    int n = 0;
    for (int r : out) {
      sum += r;
      n++;
    }
    std::printf("4 workers squared %d numbers; sum %ld (expected %d)\n", n, sum, 100 * 101 * 201 / 6);
  });
}
