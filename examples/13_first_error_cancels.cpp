// Pattern: "first error cancels the rest" -- goro::errgroup with a
// context (Go's golang.org/x/sync/errgroup).
//
//   g, ctx := errgroup.WithContext(ctx)
//   for _, t := range tasks {
//       g.Go(func() error { return t.run(ctx) })   // run checks ctx.Done()
//   }
//   if err := g.Wait(); err != nil { return err }   // first error; ctx cancelled
//
// What it shows: four tasks start together in one group. Each is a
// function returning a std::error_code (empty for success); the group
// cancels its context at the first failure, with that error as the cause.
// Every task watches ctx.done() between steps (a select against
// goro::after(step), a cancellable sleep), so the slow tasks stop at their
// next step instead of running to the end, returning ctx.err(); the
// context's cause (goro::cause) is the failure that cancelled it.
// wait() returns the first failure; a task that throws fails the group the
// same way, and wait() rethrows its exception.
//
// Pitfall avoided: writing this by hand takes a done channel closed exactly
// once, an error channel with room for every task (or a task blocks on its
// report after the coordinator has its answer) and a wait_group; errgroup
// is those, already right. set_limit(n) would also bound how many run at
// once (go() then waits for a free slot).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

struct task {
  std::string name;
  int steps;    // 5ms each
  int fail_at;  // step that fails, or -1
};

// Runs t step by step: an empty error_code on success, the failure, or
// why it was cancelled.
static std::error_code run_task(const task& t, const goro::context& ctx) {
  for (int s = 0; s < t.steps; s++) {
    if (s == t.fail_at) return std::make_error_code(std::errc::connection_reset);
    switch (goro::select(goro::case_recv(ctx.done()), goro::case_recv(goro::after(5ms))).index()) {
      case 0: return ctx.err();  // case <-ctx.Done(): return ctx.Err()
      case 1: break;                    // case <-time.After(5ms): next step
    }
  }
  return {};
}

int main() {
  return goro::run([] {
    std::vector<task> tasks = {
        {"fetch-users", 2, -1}, {"fetch-orders", 20, 4}, {"fetch-invoices", 60, -1}, {"fetch-reports", 100, -1}};
    auto start = std::chrono::steady_clock::now();

    auto [g, ctx] = goro::errgroup_with_context(goro::background());
    std::mutex mu;  // guards `lines` (held for a push_back only)
    std::vector<std::string> lines;
    for (const task& t : tasks) {
      g.go([t, ctx = ctx, &mu, &lines]() -> std::error_code {
        std::error_code e = run_task(t, ctx);
        std::lock_guard lk(mu);
        lines.push_back(t.name + ": " + (e ? e.message() : "ok"));
        return e;
      });
    }
    std::error_code first = g.wait();  // every task has returned
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);

    std::sort(lines.begin(), lines.end());
    for (const std::string& l : lines) std::printf("  %s\n", l.c_str());
    std::printf("group error: %s; ctx: %s (cause: %s)\n", first.message().c_str(), ctx.err().message().c_str(),
                goro::cause(ctx).message().c_str());
    std::printf("finished %s the slowest task's 500ms: the rest were cancelled\n",
                ms < 400ms ? "well before" : "NOT before");
  });
}
