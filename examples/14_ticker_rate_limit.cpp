// Pattern: ticking and rate limiting -- a goroutine that sleeps and sends on
// a channel stands in for Go's time.Ticker (goro has no ticker type yet).
//
//   lim := time.NewTicker(20 * time.Millisecond)  // ~50/sec
//   defer lim.Stop()
//   for j := range jobs {
//       <-lim.C                                   // wait for the next tick
//       process(j)
//   }
//
// What it shows: ticker() starts a goroutine that sleeps until each tick
// (sleep_until on a fixed schedule, so ticks do not drift) and offers the
// tick with try_send on a 1-slot channel: like Go's Ticker.C, a consumer
// that falls behind finds at most one tick waiting, and late ticks are
// dropped rather than queued. Closing `stop` ends the goroutine (Go's
// Stop()), which then closes its channel. Part 1 paces requests one per tick; part 2 is the bursty
// limiter of "Go by Example": a buffered channel of 3 tokens allows a burst
// of 3, then one request per tick.
//
// Pitfall avoided: a ticker must be stopped, or its goroutine (Go: its
// timer) lives forever; every ticker here is stopped and waited for. And a
// busy consumer does not get a backlog of stale ticks to burn through.
#include <chrono>
#include <cstdio>

#include "goro/goro.hpp"

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

// A tick every `every` until `stop` is closed; wg tracks the goroutine.
static goro::recv_chan<clk::time_point> ticker(clk::duration every, goro::recv_chan<goro::unit> stop,
                                               goro::wait_group& wg, int* dropped = nullptr) {
  goro::chan<clk::time_point> c = goro::make_chan<clk::time_point>(1);
  wg.go([c, every, stop, dropped]() mutable {
    for (clk::time_point next = clk::now() + every;; next += every) {
      goro::sleep_until(next);
      if (!stop.try_recv().would_block()) break;  // stop was closed
      if (!c.try_send(clk::now()) && dropped) (*dropped)++;  // consumer busy: drop
    }
    c.close();  // unlike Go's Stop(), so that a range over the ticks ends
  });
  return c;
}

static long ms_since(clk::time_point t0) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t0).count());
}

int main() {
  return goro::run([] {
    goro::wait_group wg;
    goro::chan<goro::unit> stop = goro::make_chan<goro::unit>();

    // Part 1: one request per 20ms tick.
    auto t0 = clk::now();
    auto lim = ticker(20ms, stop, wg);
    for (int req = 1; req <= 5; req++) lim.recv();  // <-lim.C, then "process"
    long took = ms_since(t0);
    std::printf("paced: 5 requests at one per 20ms tick took %s 100ms\n", took >= 100 ? "at least" : "LESS than");

    // Part 2: bursts of up to 3, refilled one token per tick.
    t0 = clk::now();
    goro::chan<clk::time_point> burst = goro::make_chan<clk::time_point>(3);
    for (int i = 0; i < 3; i++) burst.send(clk::now());
    goro::wait_group refill;
    refill.go([burst, stop, tick = ticker(20ms, stop, wg)]() mutable {
      for (auto t : tick)  // a token per tick, while fewer than 3 are unused
        goro::select(goro::on_send(burst, t), goro::on_recv(stop));
    });
    int immediate = 0;
    for (int req = 1; req <= 6; req++) {
      burst.recv();
      if (ms_since(t0) < 15) immediate++;
    }
    std::printf("bursty: %d of 6 requests went at once, the other %d waited for ticks (%s 60ms in all)\n",
                immediate, 6 - immediate, ms_since(t0) >= 60 ? "at least" : "LESS than");

    // Part 3: a consumer slower than the ticker sees dropped, not queued, ticks.
    int dropped = 0;
    goro::chan<goro::unit> stop_fast = goro::make_chan<goro::unit>();
    goro::wait_group fast_wg;
    auto fast = ticker(2ms, stop_fast, fast_wg, &dropped);
    for (int i = 0; i < 3; i++) {
      fast.recv();
      goro::sleep_for(15ms);  // busy for several tick periods
    }
    stop_fast.close();
    fast_wg.wait();
    std::printf("slow consumer: ticks waiting for it: %lld (cap 1); late ticks dropped: %s\n",
                static_cast<long long>(fast.len()), dropped > 0 ? "yes" : "no");

    stop.close();  // Go's Stop(): the tickers return at their next tick
    wg.wait();
    refill.wait();  // the refiller's range ends when its ticker closes
  });
}
