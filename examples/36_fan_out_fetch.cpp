// Pattern: a fan-out fetcher -- one goroutine per URL, each request with
// a timeout of its own, results gathered on a channel -- against a local
// server, and the debug endpoints a running Go service exposes.
//
//   func fetchAll(urls []string) []result {
//       results := make(chan result, len(urls))
//       for _, u := range urls {
//           go func(u string) {
//               ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
//               defer cancel()
//               req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
//               resp, err := http.DefaultClient.Do(req)
//               ...
//               results <- result{u, status, err}
//           }(u)
//       }
//       ... collect len(urls) results
//   }
//   go http.ListenAndServe("localhost:6060", nil)   // with net/http/pprof
//
// What it shows: eight fetches started at once on one goro::http::client
// (which keeps and reuses keep-alive connections), each bounded by its
// own with_timeout context, so the slow ones fail with "context deadline
// exceeded" while the quick ones succeed, and the whole fan-out takes as
// long as the slowest allowed request, not the sum. The results come back
// on a buffered channel in completion order; nothing leaks: the buffer
// has room for every sender, so a fetcher never blocks after the
// collector stops (the first article's leak, avoided).
// Then goro::debug::serve mounts the debug pages on loopback, and the
// program reads its own /debug/goroutines?debug=1 (goroutines grouped by
// stack, as pprof's goroutine?debug=1) and a line of /metrics, as an
// operator would with curl.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "goro/goro.hpp"
#include "goro/http.hpp"

using namespace std::chrono_literals;
namespace http = goro::http;

struct result {
  int ms = 0;
  std::string path;
  int status = 0;
  std::string error;
  std::chrono::milliseconds took{0};
};

// A query parameter's milliseconds (0 if absent or not a number).
static int query_ms(const http::request& r, const char* key) {
  std::string v = r.query_value(key);
  int ms = 0;
  std::from_chars(v.data(), v.data() + v.size(), ms);
  return ms;
}

int main() {
  goro::run([] {
    // The "remote" service: /item?ms=N answers after N ms (or gives up
    // when the client goes away and the request's context ends).
    http::serve_mux mux;
    mux.handle("/item", [](http::response_writer& w, const http::request& r) {
      // std::from_chars, not std::stoi: stoi clears and reads errno, which the
      // goroutines that run on one worker thread share; under TSan that reads as
      // a race (docs/guide.md, "errno").
      auto cost = std::chrono::milliseconds(query_ms(r, "ms"));
      if (goro::select(goro::case_recv(r.ctx().done()), goro::case_recv(goro::after(cost))).index() == 0) return;
      (void)w.write("item after " + std::to_string(cost.count()) + " ms\n");
    });
    http::server srv(mux);
    auto [ln, err] = goro::net::listen("tcp", "127.0.0.1:0");
    if (err) {
      std::printf("listen: %s\n", err.message().c_str());
      return;
    }
    const std::string base = "http://" + ln.addr().to_string();
    goro::wait_group serving;
    serving.go([srv, ln = ln] { (void)srv.serve(ln); });

    // The fan-out.
    const std::vector<int> costs = {5, 300, 10, 20, 400, 15, 30, 250};
    const auto per_request = 100ms;
    http::client client;
    auto results = goro::make_chan<result>(costs.size());  // room for every sender
    auto start = std::chrono::steady_clock::now();
    for (int ms : costs) {
      goro::go([&client, base, ms, per_request, results] {
        result r;
        r.ms = ms;
        r.path = "/item?ms=" + std::to_string(ms);
        auto t0 = std::chrono::steady_clock::now();
        auto [ctx, cancel] = goro::with_timeout(goro::background(), per_request);
        auto [resp, e] = client.get(ctx, base + r.path);
        cancel();
        r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        if (e)
          r.error = e.message();
        else
          r.status = resp.status;
        results.send(r);
      });
    }
    std::vector<result> got;
    for (size_t i = 0; i < costs.size(); i++) got.push_back(results.recv());
    auto total = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::sort(got.begin(), got.end(), [](const result& a, const result& b) { return a.ms < b.ms; });
    // The point of the pattern: each quick request is answered, each slow one
    // is cut off at its own deadline, and the slow ones hold up nobody.
    int quick = 0, quick_ok = 0, slow = 0, slow_cut = 0;
    for (const result& r : got) {
      const bool is_quick = std::chrono::milliseconds(r.ms) < per_request;
      if (r.error.empty())
        std::printf("%-14s -> %d\n", r.path.c_str(), r.status);
      else
        std::printf("%-14s -> %s\n", r.path.c_str(), r.error.c_str());
      (is_quick ? quick : slow)++;
      if (is_quick && r.error.empty() && r.status == 200) quick_ok++;
      if (!is_quick && !r.error.empty()) slow_cut++;
    }
    std::printf("%d of %d quick requests answered, %d of %d slow ones cut off at %lld ms; the fan-out took %s the "
                "slowest allowed request\n",
                quick_ok, quick, slow_cut, slow, static_cast<long long>(per_request.count()),
                total < 3 * per_request ? "about" : "much more than");

    // The debug endpoints, on loopback (goro::debug::serve() with no
    // argument listens on 127.0.0.1:6060; here on a port the system picks).
    auto [dln, dlerr] = goro::net::listen("tcp", "127.0.0.1:0");
    if (!dlerr) {
      http::server debug_srv = goro::debug::serve(dln);
      const std::string dbase = "http://" + dln.addr().to_string();
      auto [page, e1] = client.get(goro::background(), dbase + "/debug/goroutines?debug=1");
      if (!e1) {
        std::istringstream lines(page.body);
        std::string first;
        std::getline(lines, first);
        std::printf("/debug/goroutines?debug=1 -> %d, first line: %s\n", page.status, first.c_str());
      }
      auto [metrics, e2] = client.get(goro::background(), dbase + "/metrics");
      if (!e2) {
        std::istringstream lines(metrics.body);
        for (std::string line; std::getline(lines, line);)
          if (line.rfind("goro_goroutines ", 0) == 0) std::printf("/metrics -> %s\n", line.c_str());
      }
      (void)debug_srv.close();
    }

    auto [sctx, scancel] = goro::with_timeout(goro::background(), 5s);
    (void)srv.shutdown(sctx);
    scancel();
    serving.wait();
  });
}
