// Pattern: done-channel cancellation -- cancelling a context closes its
// done() channel, which broadcasts "stop" to every goroutine selecting on
// it.
//
//   func worker(ctx context.Context, jobs <-chan Job, out chan<- Result) {
//       for {
//           select {
//           case <-ctx.Done(): return                // cancelled
//           case j, ok := <-jobs:
//               if !ok { return }                    // no more work
//               select { case out <- do(j): case <-ctx.Done(): return }
//           }
//       }
//   }
//   ...
//   ctx, cancel := context.WithCancel(context.Background())
//   cancel()                                         // stop everyone
//
// What it shows: an endless generator and 3 workers, every blocking
// operation paired with `case <-ctx.done()` in a select. The consumer
// takes the 10 results it needs and calls cancel: the done channel's close
// is seen by *every* receiver (a send would wake only one), so all four
// goroutines return, and ctx.err() tells them why (goro::errc::canceled,
// "context canceled"). A hand-made done channel closed by its owner is the
// same mechanism; a context adds the reason, deadlines, values, and
// cancellation of every context derived from it.
//
// Pitfall avoided: a consumer that stops early would otherwise leave the
// generator blocked on `out <- n` and the workers blocked on their sends:
// leaked goroutines. Every goroutine has two exits (ctx done, or its input
// closed). cancel may be called any number of times, from anywhere: only
// the first has an effect (closing a channel twice would throw).
#include <atomic>
#include <cstdio>

#include "goro/goro.hpp"

static std::atomic<int> g_stopped{0};

// Endless generator: 1, 2, 3, ... until ctx is done.
static void count_up(const goro::context& ctx, goro::send_chan<int> out) {
  for (int n = 1;; n++) {
    if (goro::select(goro::case_send(out, n), goro::case_recv(ctx.done())).index() == 1) break;  // case <-done
  }
  g_stopped.fetch_add(1);
}

// Squares jobs until jobs is closed or ctx is done: select's result form runs
// each case's code here, in the loop, so it can leave with return (as Go's
// select statement does; no flag variables).
static void square(const goro::context& ctx, goro::recv_chan<int> jobs, goro::send_chan<int> out) {
  for (;;) {
    switch (auto s = goro::select(goro::case_recv(ctx.done()), goro::case_recv(jobs)); s.index()) {
      case 0:  // case <-ctx.Done()
        return;
      case 1: {  // case j, ok := <-jobs
        if (!s.ok()) return;  // input closed: normal completion
        int j = s.get<1>();
        if (goro::select(goro::case_send(out, j * j), goro::case_recv(ctx.done())).index() == 1) return;
        break;
      }
    }
  }
}

static void worker(const goro::context& ctx, goro::recv_chan<int> jobs, goro::send_chan<int> out) {
  square(ctx, jobs, out);
  g_stopped.fetch_add(1);
}

int main() {
  return goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::chan<int> jobs = goro::make_chan<int>();
    goro::chan<int> results = goro::make_chan<int>();
    goro::wait_group wg;
    wg.go([=, ctx = ctx] { count_up(ctx, jobs); });
    for (int i = 0; i < 3; i++) wg.go([=, ctx = ctx] { worker(ctx, jobs, results); });

    int received = 0;
    for (; received < 10; received++) results.recv();
    std::printf("consumer: got the %d results it needed; cancelling\n", received);
    cancel();  // broadcast: every select with `case <-ctx.done()` can now proceed
    wg.wait();
    std::printf("goroutines that saw ctx done and returned: %d of 4 (generator + 3 workers)\n", g_stopped.load());

    // A done context stays done: late checks see it too, and say why.
    bool seen = goro::select(goro::case_recv(ctx.done()), goro::case_default()).index() == 0;
    std::printf("a later select on ctx.done(): %s; ctx.err(): %s\n",
                seen ? "ready at once (closed channels stay ready)" : "not ready", ctx.err().message().c_str());
  });
}
