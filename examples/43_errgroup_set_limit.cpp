// Pattern: bounded concurrency with errgroup's SetLimit (article 000's
// processAllUsers).
//
//   g, ctx := errgroup.WithContext(ctx)
//   g.SetLimit(3)                       // at most 3 goroutines at once
//   for _, id := range userIDs {
//       g.Go(func() error { return processUser(ctx, id) })   // waits for a free slot
//   }
//   return g.Wait()                     // the first error; ctx is cancelled
//
// What it shows: 20 tasks through a group limited to 3. go() blocks the
// loop while 3 tasks are running (try_go, Go's TryGo, returns false
// instead), so the goroutines never outnumber the limit: each task counts
// itself in and out, and the peak is checked against it (the first three
// wait at a gate until main has seen try_go refused, so the peak reaches
// the limit on any machine). Task 9 fails; the group cancels ctx, and
// the tasks that start afterwards (or are waiting between steps) return
// ctx.err() at once. wait() returns the first error, task 9's, however the
// tasks interleave.
//
// Pitfall avoided: a goroutine per item with no bound (a million users, a
// million goroutines each holding a connection); a semaphore channel by
// hand (11_semaphore) is what set_limit does for you, plus the error and
// the cancellation.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <system_error>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

struct gauge {
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  void in() {
    int now = ++running;
    for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
    }
  }
  void out() { --running; }
};

// Processes one user in two 5ms steps, watching ctx between them.
static std::error_code process_user(const goro::context& ctx, int id) {
  for (int step = 0; step < 2; step++) {
    if (goro::select(goro::case_recv(ctx.done()), goro::case_recv(goro::after(5ms))).index() == 0)
      return ctx.err();  // case <-ctx.Done(): cancelled by another task's failure
  }
  if (id == 9) return std::make_error_code(std::errc::permission_denied);  // user 9 fails
  return {};
}

int main() {
  return goro::run([] {
    constexpr int kLimit = 3, kTasks = 20;
    auto [g, ctx] = goro::errgroup_with_context(goro::background());
    g.set_limit(kLimit);

    gauge running;
    std::atomic<int> ok{0}, failed{0}, cancelled{0};
    // The first 3 tasks check in and wait at the gate, so that main sees
    // every slot taken (and the peak reaches the limit on any machine).
    goro::chan<goro::unit> arrived = goro::make_chan<goro::unit>(kLimit);
    goro::chan<goro::unit> gate = goro::make_chan<goro::unit>();
    bool fourth_started = true;
    for (int id = 0; id < kTasks; id++) {
      if (id == kLimit) {
        for (int i = 0; i < kLimit; i++) arrived.recv();
        fourth_started = g.try_go([] {});  // no free slot: refused, never waits
        gate.close();
      }
      g.go([&, id, ctx = ctx]() -> std::error_code {  // blocks here while 3 are running
        running.in();
        if (id < kLimit) {
          arrived.send({});
          gate.recv();
        }
        std::error_code e = process_user(ctx, id);
        running.out();
        if (!e) ok++;
        else if (e == goro::errc::canceled) cancelled++;
        else failed++;
        return e;
      });
    }
    std::error_code first = g.wait();

    std::printf("%d tasks, limit %d: try_go with every slot taken: %s; peak running at once: %d (<= %d: %s)\n", kTasks,
                kLimit, fourth_started ? "started" : "refused", running.peak.load(), kLimit,
                running.peak <= kLimit ? "yes" : "NO");
    std::printf("ok + failed + cancelled = %d; failed: %d\n", ok + failed + cancelled, failed.load());
    std::printf("wait() returned the first error, user 9's: \"%s\"; ctx: %s (cause: %s)\n", first.message().c_str(),
                ctx.err().message().c_str(), goro::cause(ctx).message().c_str());
  });
}
