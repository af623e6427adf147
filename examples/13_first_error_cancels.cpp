// Pattern: errgroup-like "first error cancels the rest" -- built from a
// context (goro::with_cancel_cause), a buffered error channel and a
// wait_group.
//
//   g, ctx := errgroup.WithContext(ctx)
//   for _, t := range tasks {
//       g.Go(func() error { return t.run(ctx) })   // run checks ctx.Done()
//   }
//   if err := g.Wait(); err != nil { return err }   // first error; ctx cancelled
//
// What it shows: four tasks start together with one context; each reports
// an error string ("" for success) on a channel with room for all of them.
// The coordinator waits for outcomes; at the first error it cancels the
// context with that error as the cause; every task watches ctx.done()
// between steps (a select against goro::after(step), a cancellable sleep).
// The slow tasks stop at their next step instead of running to the end,
// report goro::cause(ctx), and the coordinator returns the first error.
//
// Pitfall avoided: the errors channel has room for every task, so no task
// blocks on its report after the coordinator has its answer; a cancel
// function may be called again (by a second failure) harmlessly: only the
// first cause sticks. goro::errgroup (Go's x/sync/errgroup) is not in goro
// yet: this is the same mechanism, written out.
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

// The error a failing task reports (and the cause it cancels with).
static const std::error_code kReset = std::make_error_code(std::errc::connection_reset);

// Runs t step by step; returns "" on success, an error, or why it was
// cancelled.
static std::string run_task(const task& t, const goro::context& ctx) {
  for (int s = 0; s < t.steps; s++) {
    if (s == t.fail_at) return "step " + std::to_string(s) + " failed: " + kReset.message();
    switch (goro::select(goro::case_recv(ctx.done()), goro::case_recv(goro::after(5ms))).index()) {
      case 0: return "cancelled: " + goro::cause(ctx).message();  // case <-ctx.Done()
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

    auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
    goro::chan<outcome> outcomes = goro::make_chan<outcome>(static_cast<int64_t>(tasks.size()));
    goro::wait_group wg;
    for (const task& t : tasks)
      wg.go([t, ctx = ctx, outcomes]() mutable { outcomes.send({t.name, run_task(t, ctx)}); });

    // The coordinator: the first error cancels the rest.
    std::string first_error;
    std::vector<outcome> all;
    for (size_t i = 0; i < tasks.size(); i++) {
      outcome o = outcomes.recv();
      if (!o.err.empty() && first_error.empty() && o.err.rfind("cancelled", 0) != 0) {
        first_error = o.name + ": " + o.err;
        cancel(kReset);  // cancel the rest, saying why
      }
      all.push_back(std::move(o));
    }
    wg.wait();
    cancel({});  // Go's defer cancel(): no effect once cancelled
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);

    std::sort(all.begin(), all.end(), [](const outcome& a, const outcome& b) { return a.name < b.name; });
    for (const outcome& o : all) std::printf("  %-15s %s\n", o.name.c_str(), o.err.empty() ? "ok" : o.err.c_str());
    std::printf("group error: %s\n", first_error.c_str());
    std::printf("finished %s the slowest task's 500ms: the rest were cancelled\n", ms < 400ms ? "well before" : "NOT before");
  });
}
