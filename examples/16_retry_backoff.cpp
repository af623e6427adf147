// Pattern: retries with exponential backoff -- sleep between attempts,
// doubling the wait up to a cap, and let the caller's context cut a wait
// short.
//
//   backoff := 100 * time.Millisecond
//   for attempt := 1; attempt <= 5; attempt++ {
//       if err := do(); err == nil { break }
//       if backoff > time.Second { backoff = time.Second }
//       timer := time.NewTimer(backoff)
//       <-timer.C                          // or: select { case <-timer.C: case <-ctx.Done(): return }
//       timer.Stop()
//       backoff *= 2
//   }
//
// What it shows: retry() calls an operation until it succeeds or runs out
// of attempts. Between attempts it waits with a select on `ctx.done()` and
// goro::after(backoff): an uncancellable wait would be goro::sleep_for
// (Go's time.Sleep, the goroutine parks, its worker runs other
// goroutines). Three runs: a flaky call that succeeds on its 4th attempt;
// one that never succeeds and gives up after 5, the backoff capped at
// 20ms; and one whose caller gives it 30ms in all (goro::with_timeout):
// the context's deadline ends the retry loop during a wait, at once
// instead of after the full backoff, and ctx.err() says why ("context
// deadline exceeded").
//
// Pitfall avoided: retrying in a tight loop (a livelock that hammers the
// failing service), and a backoff that cannot be interrupted, so shutdown
// waits for the longest sleep. (Each after() is a fresh one-shot timer;
// goro::new_timer is the reusable one with stop/reset, as Go's
// time.Timer.)
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "goro/goro.hpp"

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

struct retry_result {
  bool ok = false;
  int attempts = 0;
  std::string waits;  // the backoffs waited, for printing
  bool cancelled = false;
  std::error_code why;  // ctx.err() when cancelled
};

static retry_result retry(const std::function<bool()>& op, int max_attempts, ms first, ms cap,
                          const goro::context& ctx = goro::background()) {
  retry_result r;
  ms backoff = first;
  for (r.attempts = 1; r.attempts <= max_attempts; r.attempts++) {
    if (op()) {
      r.ok = true;
      return r;
    }
    if (r.attempts == max_attempts) break;
    if (backoff > cap) backoff = cap;
    r.waits += " " + std::to_string(backoff.count()) + "ms";
    switch (goro::select(goro::case_recv(goro::after(backoff)), goro::case_recv(ctx.done())).index()) {
      case 0: break;  // waited out the backoff
      case 1:         // ctx done; background()'s done() is nil, never chosen
        r.cancelled = true;
        r.why = ctx.err();
        return r;
    }
    backoff *= 2;
  }
  return r;
}

int main() {
  return goro::run([] {
    int calls = 0;
    auto flaky = [&] { return ++calls >= 4; };  // fails 3 times, then works
    auto t0 = std::chrono::steady_clock::now();
    retry_result a = retry(flaky, 5, 5ms, 20ms);
    auto took = std::chrono::steady_clock::now() - t0;
    std::printf("flaky:   ok=%s after %d attempts, waited%s (%s 35ms in all)\n", a.ok ? "true" : "false",
                a.attempts, a.waits.c_str(), took >= 35ms ? "at least" : "LESS than");

    retry_result b = retry([] { return false; }, 5, 5ms, 20ms);
    std::printf("down:    ok=%s after %d attempts, waited%s (capped at 20ms)\n", b.ok ? "true" : "false",
                b.attempts, b.waits.c_str());

    // The caller gives the whole retry 30ms: the 100ms backoff is cut short.
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 30ms);
    t0 = std::chrono::steady_clock::now();
    retry_result c = retry([] { return false; }, 5, 100ms, 1000ms, ctx);
    took = std::chrono::steady_clock::now() - t0;
    cancel();  // Go's defer cancel(): frees the timer if the deadline had not come
    std::printf("stopped: cancelled=%s (%s) after %d attempt(s), in %s than the 100ms backoff\n",
                c.cancelled ? "true" : "false", c.why.message().c_str(), c.attempts, took < 90ms ? "less" : "NOT less");
  });
}
