// Pattern: heartbeat -- a worker signals "still alive" on a side channel
// while it works; a monitor that hears nothing for too long declares it
// stalled and cancels it.
//
//   sendPulse := func() {
//       select { case heartbeat <- struct{}{}: default: }   // never block on it
//   }
//   for {                                                   // the monitor
//       select {
//       case <-heartbeat:             // alive: wait again
//       case r := <-results: use(r)
//       case <-time.After(timeout):   // silence: stalled
//           close(done); return
//       }
//   }
//
// What it shows: the worker pulses with try_send on a 1-slot channel, so a
// pulse never holds up work and pulses nobody has read yet collapse into
// one. The monitor's select makes a fresh goro::after(timeout) on every
// iteration: the timeout is "this long since the last sign of life". The
// worker completes two jobs, then hangs (stuck I/O, say) and stops
// pulsing; the monitor notices within the timeout, closes `done`, and the
// worker, which waits on done even while stuck, returns.
//
// Pitfall avoided: a blocking heartbeat send would make the worker depend
// on the monitor's speed (or stall it for good if the monitor quits); and
// a monitor waiting only on results would wait forever for a hung worker.
#include <chrono>
#include <cstdio>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

static void worker(goro::recv_chan<goro::unit> done, goro::send_chan<goro::unit> heartbeat,
                   goro::send_chan<int> results) {
  for (int job = 1;; job++) {
    if (job == 3) {  // hangs: no more pulses, but still honours done
      goro::select(goro::on_recv(done));
      return;
    }
    for (int step = 0; step < 5; step++) {  // 10ms of work, pulsing every 2ms
      goro::sleep_for(2ms);
      heartbeat.try_send({});
    }
    // The send honours done too: if the monitor gave up meanwhile, nobody
    // will receive it.
    if (goro::select(goro::on_send(results, job * 100), goro::on_recv(done)) == 1) return;
  }
}

int main() {
  return goro::run([] {
    goro::chan<goro::unit> done = goro::make_chan<goro::unit>();
    goro::chan<goro::unit> heartbeat = goro::make_chan<goro::unit>(1);
    goro::chan<int> results = goro::make_chan<int>();
    goro::wait_group wg;
    wg.go([=] { worker(done, heartbeat, results); });

    int beats = 0;
    auto start = std::chrono::steady_clock::now();
    auto last_sign = start;
    for (bool stalled = false; !stalled;) {
      goro::select(goro::on_recv(heartbeat,
                                 [&] {
                                   beats++;
                                   last_sign = std::chrono::steady_clock::now();
                                 }),
                   goro::on_recv(results,
                                 [&](int r) {
                                   last_sign = std::chrono::steady_clock::now();
                                   std::printf("monitor: result %d\n", r);
                                 }),
                   goro::on_recv(goro::after(40ms), [&] { stalled = true; }));
    }
    auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - last_sign);
    std::printf("monitor: heartbeats received during work: %s\n", beats > 0 ? "yes" : "no");
    std::printf("monitor: no sign of life for %s 40ms: worker stalled, closing done\n",
                silent >= 40ms ? "at least" : "LESS than");
    done.close();
    wg.wait();
    std::printf("worker returned after cancellation\n");
  });
}
