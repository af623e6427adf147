// Pattern: ticking and rate limiting, with goro::ticker and
// goro::rate_limiter (Go's time.Ticker and golang.org/x/time/rate).
//
//   lim := time.NewTicker(20 * time.Millisecond)  // ~50/sec
//   defer lim.Stop()
//   for j := range jobs {
//       <-lim.C                                   // wait for the next tick
//       process(j)
//   }
//
// What it shows: part 1 paces requests one per tick of a ticker. Part 2 is
// the bursty limiter of "Go by Example": a buffered channel of 3 tokens,
// refilled by a ticker, allows a burst of 3, then one request per tick.
// Part 3 shows the ticker's Go 1.23 contract: a consumer slower than the
// ticker finds at most one tick waiting (late ticks are dropped, not
// queued), and the channel reports cap() 0. Part 4 does part 2's job with
// goro::rate_limiter, a token bucket: wait() parks until a token is due,
// allow() drops instead of waiting.
//
// Pitfall avoided: a ticker must be stopped (or all its handles dropped),
// or it ticks forever; and a busy consumer gets no backlog of stale ticks.
#include <chrono>
#include <cstdio>

#include "goro/goro.hpp"

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

static long ms_since(clk::time_point t0) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t0).count());
}

int main() {
  return goro::run([] {
    // Part 1: one request per 20ms tick.
    auto t0 = clk::now();
    goro::ticker lim = goro::new_ticker(20ms);
    for (int req = 1; req <= 5; req++) lim.c().recv();  // <-lim.C, then "process"
    lim.stop();
    long took = ms_since(t0);
    std::printf("paced: 5 requests at one per 20ms tick took %s 100ms\n", took >= 100 ? "at least" : "LESS than");

    // Part 2: bursts of up to 3, refilled one token per tick.
    t0 = clk::now();
    goro::chan<clk::time_point> burst = goro::make_chan<clk::time_point>(3);
    for (int i = 0; i < 3; i++) burst.send(clk::now());
    goro::chan<goro::unit> stop = goro::make_chan<goro::unit>();
    goro::wait_group refill;
    refill.go([burst, stop] {
      goro::ticker tick = goro::new_ticker(20ms);
      for (bool running = true; running;)  // a token per tick, while fewer than 3 are unused
        goro::select(goro::on_recv(tick.c(), [&](clk::time_point t) {
                       goro::select(goro::on_send(burst, t), goro::on_default());
                     }),
                     goro::on_recv(stop, [&] { running = false; }));
      tick.stop();
    });
    int immediate = 0;
    for (int req = 1; req <= 6; req++) {
      burst.recv();
      if (ms_since(t0) < 15) immediate++;
    }
    std::printf("bursty: %d of 6 requests went at once, the other %d waited for ticks (%s 60ms in all)\n",
                immediate, 6 - immediate, ms_since(t0) >= 60 ? "at least" : "LESS than");
    stop.close();
    refill.wait();

    // Part 3: a consumer slower than the ticker sees dropped, not queued, ticks.
    goro::ticker fast = goro::new_ticker(2ms);
    auto ticks = fast.c();
    for (int i = 0; i < 3; i++) {
      ticks.recv();
      goro::sleep_for(15ms);  // busy for several tick periods
    }
    int waiting = 0;
    while (ticks.try_recv()) waiting++;
    fast.stop();
    std::printf("slow consumer: cap %lld, ticks waiting after 15ms busy: %d (late ticks dropped)\n",
                static_cast<long long>(ticks.cap()), waiting);

    // Part 4: the token bucket: 50 events/s, bursts of 3.
    goro::rate_limiter limiter(50, 3);
    t0 = clk::now();
    for (int req = 1; req <= 6; req++) limiter.wait();  // 3 at once, then one per 20ms
    std::printf("rate_limiter: 6 waits with burst 3 at 50/s took %s 60ms\n", ms_since(t0) >= 55 ? "about" : "LESS than");
    int allowed = 0;
    for (int req = 0; req < 10; req++)
      if (limiter.allow()) allowed++;  // no waiting: drop what exceeds the rate
    std::printf("rate_limiter: %d of 10 back-to-back requests allowed, the rest dropped\n", allowed);
  });
}
