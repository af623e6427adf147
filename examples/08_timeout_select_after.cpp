// Pattern: timeout -- select between a result and goro::after(d), Go's
// time.After.
//
//   resultCh := make(chan Result, 1)         // 1: the worker never blocks
//   go func() { resultCh <- query() }()
//   select {
//   case res := <-resultCh: use(res)
//   case <-time.After(800 * time.Millisecond): log.Println("timed out")
//   }
//
// What it shows: goro::after(d) returns a receive-only channel that
// delivers the time once, d from now; as a select case it bounds how long
// the caller waits. Part 2 takes one after() *before* a loop: a deadline
// for the whole loop rather than for each receive.
//
// Pitfall avoided: the result channel has a buffer of 1. When the caller
// times out and leaves, the worker's later send still succeeds and the
// worker exits; with an unbuffered channel it would block forever (a leak:
// 09_first_response_wins measures one). Each after() call makes a new
// timer, but it does not outlive its channel: once the last handle is
// dropped (here, when the select returns) the pending timer is cancelled
// and freed, as Go 1.23 collects an unreferenced time.After timer. A
// stoppable, reusable timer (time.Timer's Stop/Reset) is goro::new_timer
// (27_debounce_after_func uses one).
#include <chrono>
#include <cstdio>
#include <string>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

// Runs a pretend query taking `work` and waits at most `timeout` for it.
static std::string query_with_timeout(std::chrono::milliseconds work, std::chrono::milliseconds timeout) {
  goro::chan<std::string> result = goro::make_chan<std::string>(1);
  goro::go([result, work]() mutable {
    goro::sleep_for(work);
    result.send("rows after " + std::to_string(work.count()) + "ms");  // never blocks: buffer of 1
  });
  std::string out;
  goro::select(goro::on_recv(result, [&](std::string r) { out = "got " + r; }),
               goro::on_recv(goro::after(timeout), [&] { out = "timed out"; }));
  return out;
}

int main() {
  return goro::run([] {
    int64_t baseline = goro::num_goroutine();
    std::printf("query  5ms, timeout 300ms: %s\n", query_with_timeout(5ms, 300ms).c_str());
    std::printf("query 150ms, timeout  20ms: %s\n", query_with_timeout(150ms, 20ms).c_str());
    std::printf("goroutines right after the timeout: baseline %+lld (the slow query is still running)\n",
                static_cast<long long>(goro::num_goroutine() - baseline));
    // The abandoned worker sends into its buffer and exits on its own.
    auto give_up = std::chrono::steady_clock::now() + 2s;
    while (goro::num_goroutine() > baseline && std::chrono::steady_clock::now() < give_up) goro::sleep_for(5ms);
    std::printf("goroutines once it finished: baseline %+lld (it did not leak)\n",
                static_cast<long long>(goro::num_goroutine() - baseline));

    // Part 2: one deadline for a whole loop of receives.
    goro::chan<int> ticks = goro::make_chan<int>();
    goro::chan<goro::unit> stop = goro::make_chan<goro::unit>();
    goro::wait_group wg;
    wg.go([ticks, stop]() mutable {
      for (int i = 0;; i++) {
        switch (goro::select(goro::case_send(ticks, i), goro::case_recv(stop)).index()) {
          case 0: break;   // case ticks <- i
          case 1: return;  // case <-stop
        }
        goro::sleep_for(10ms);
      }
    });
    auto deadline = goro::after(55ms);  // once, outside the loop
    int received = 0;
    // Receive while the tick case wins; the deadline case ends the loop.
    while (goro::select(goro::case_recv(ticks), goro::case_recv(deadline)).index() == 0) received++;
    stop.close();  // tell the producer we left...
    wg.wait();     // ...and wait until it has
    std::printf("deadline loop: %d values received before the 55ms deadline (one sent every 10ms)\n", received);
  });
}
