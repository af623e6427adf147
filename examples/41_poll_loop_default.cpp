// Pattern: a polling loop -- select with a default case checks ctx.Done()
// between units of work (article 004).
//
//   func worker(ctx context.Context) error {
//       for {
//           select {
//           case <-ctx.Done():
//               return ctx.Err()       // cancelled: stop between two units
//           default:
//               work()                 // one short unit, then check again
//           }
//       }
//   }
//
// What it shows: three workers crunch units of work (a thousand steps of
// an LCG each) with nothing to wait for, so a blocking select would be
// wrong; the select with goro::case_default() costs a check of ctx.done()
// and never blocks. Once every worker has done 50 units, main cancels:
// each worker notices at its next check, finishing at most the unit it was
// in the middle of, and returns ctx.err(). `if (ctx.err()) return` is the
// same check written without select (article 002's
// `select { case <-ctx.Done(): return ctx.Err(); default: }`).
//
// Pitfall avoided: a unit of work must be short, since cancellation waits
// for it; and the loop must do work, not spin: with nothing to do in
// default, it burns a CPU (block in a select on the work's channel
// instead). The select is also a safe point, where goro may switch a
// goroutine that has run long (docs/guide.md, "Long computations").
#include <atomic>
#include <cstdint>
#include <cstdio>

#include "goro/goro.hpp"

static uint64_t work(uint64_t x) {  // one unit: a few microseconds
  for (int i = 0; i < 1000; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

struct worker_stats {
  std::atomic<long> units{0};
  long units_at_cancel = 0;  // read by main right after cancel()
  std::error_code why;       // set by the worker before it returns
};

static void worker(const goro::context& ctx, worker_stats& st, goro::send_chan<goro::unit> warm) {
  uint64_t x = 1;
  for (;;) {
    switch (goro::select(goro::case_recv(ctx.done()), goro::case_default()).index()) {
      case 0:  // case <-ctx.Done()
        st.why = ctx.err();
        return;
      case 1:  // default: one unit
        x = work(x);
        if (st.units.fetch_add(1) + 1 == 50) warm.send({});  // tell main, once
        break;
    }
  }
}

int main() {
  return goro::run([] {
    constexpr int kWorkers = 3;
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    worker_stats stats[kWorkers];
    goro::chan<goro::unit> warm = goro::make_chan<goro::unit>(kWorkers);
    goro::wait_group wg;
    for (int w = 0; w < kWorkers; w++) wg.go([ctx = ctx, &st = stats[w], warm] { worker(ctx, st, warm); });

    for (int w = 0; w < kWorkers; w++) warm.recv();  // every worker has done 50 units
    cancel();
    for (worker_stats& st : stats) st.units_at_cancel = st.units.load();
    wg.wait();

    int stopped = 0, at_most_one_more = 0;
    for (const worker_stats& st : stats) {
      if (st.why == goro::errc::canceled) stopped++;
      if (st.units.load() - st.units_at_cancel <= 1) at_most_one_more++;
    }
    std::printf("workers that saw ctx.done() and returned \"%s\": %d of %d\n", ctx.err().message().c_str(), stopped,
                kWorkers);
    std::printf("workers that finished at most one unit after cancel(): %d of %d (the unit in progress)\n",
                at_most_one_more, kWorkers);
  });
}
