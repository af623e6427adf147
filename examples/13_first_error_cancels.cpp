// Pattern: errgroup-like "first error cancels the rest" -- built from a
// done channel, a buffered error channel and a wait_group.
//
//   g, ctx := errgroup.WithContext(ctx)
//   for _, t := range tasks {
//       g.Go(func() error { return t.run(ctx) })   // run checks ctx.Done()
//   }
//   if err := g.Wait(); err != nil { return err }   // first error; ctx cancelled
//
// What it shows: four tasks start together; each reports an error string
// ("" for success) on a channel with room for all of them. The coordinator
// waits for outcomes; at the first error it closes `done`, which every task
// polls between steps (select on done against goro::after(step), a
// cancellable sleep). The slow tasks stop at their next step instead of
// running to the end, and the coordinator returns the first error.
//
// Pitfall avoided: only the coordinator closes `done`, and only once (a
// second close would throw "close of closed channel"): several tasks may
// fail, but they report, they do not close. The errors channel has room
// for every task, so no task blocks on its report after the coordinator
// has its answer. goro has no errgroup or context yet: this is the same
// mechanism, written out (docs/guide.md, "coming with the sync/context
// issues").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

struct task {
  std::string name;
  int steps;       // 5ms each
  int fail_at;     // step that fails, or -1
};
struct outcome {
  std::string name;
  std::string err;  // "" = success
};

// Runs t step by step; returns "" on success, an error, or "cancelled".
static std::string run_task(const task& t, goro::recv_chan<goro::unit> done) {
  for (int s = 0; s < t.steps; s++) {
    if (s == t.fail_at) return "step " + std::to_string(s) + " failed: connection reset";
    switch (goro::select(goro::case_recv(done), goro::case_recv(goro::after(5ms))).index()) {
      case 0: return "cancelled";  // case <-done
      case 1: break;               // case <-time.After(5ms): next step
    }
  }
  return "";
}

int main() {
  return goro::run([] {
    std::vector<task> tasks = {
        {"fetch-users", 2, -1}, {"fetch-orders", 20, 4}, {"fetch-invoices", 60, -1}, {"fetch-reports", 100, -1}};
    auto start = std::chrono::steady_clock::now();

    goro::chan<goro::unit> done = goro::make_chan<goro::unit>();
    goro::chan<outcome> outcomes = goro::make_chan<outcome>(static_cast<int64_t>(tasks.size()));
    goro::wait_group wg;
    for (const task& t : tasks)
      wg.go([t, done, outcomes]() mutable { outcomes.send({t.name, run_task(t, done)}); });

    // The coordinator: the first error closes done (once).
    std::string first_error;
    std::vector<outcome> all;
    for (size_t i = 0; i < tasks.size(); i++) {
      outcome o = outcomes.recv();
      if (!o.err.empty() && first_error.empty() && o.err != "cancelled") {
        first_error = o.name + ": " + o.err;
        done.close();  // cancel the rest
      }
      all.push_back(std::move(o));
    }
    wg.wait();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);

    std::sort(all.begin(), all.end(), [](const outcome& a, const outcome& b) { return a.name < b.name; });
    for (const outcome& o : all) std::printf("  %-15s %s\n", o.name.c_str(), o.err.empty() ? "ok" : o.err.c_str());
    std::printf("group error: %s\n", first_error.c_str());
    std::printf("finished %s the slowest task's 500ms: the rest were cancelled\n", ms < 400ms ? "well before" : "NOT before");
  });
}
