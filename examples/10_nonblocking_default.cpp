// Pattern: non-blocking send and receive -- select with a default case;
// drop messages when the buffer is full instead of blocking.
//
//   select {
//   case events <- e:        // room in the buffer: queued
//   default:
//       dropped++            // full: drop rather than stall the hot path
//   }
//
//   select {
//   case v := <-in: use(v)
//   default:                 // nothing now: do something else
//   }
//
// What it shows: three spellings of the same idea. ch.try_send(v) and
// ch.try_recv() are the one-case forms; goro::select(..., on_default(...))
// is the general one (several channels, one default). A producer that must
// never block (a request handler emitting metrics, say) offers each event
// to a bounded buffer and counts what it had to drop; a consumer polls with
// default and does other work when nothing is ready.
//
// Pitfall avoided: an unbounded queue hides back-pressure until memory runs
// out, and a blocking send stalls the producer behind a slow consumer. The
// bounded buffer plus default makes the choice explicit: keep what fits
// in cap(), drop and count the rest.
#include <cstdio>
#include <string>

#include "goro/goro.hpp"

int main() {
  return goro::run([] {
    // 1. try_send: 10 events into a buffer of 3 with nobody receiving yet.
    goro::chan<int> events = goro::make_chan<int>(3);
    int dropped = 0;
    for (int e = 1; e <= 10; e++)
      if (!events.try_send(e)) dropped++;
    std::printf("try_send: buffered %lld of 10 events, dropped %d\n", static_cast<long long>(events.len()), dropped);

    // 2. The same with select + default (as one would write it in Go).
    int queued = 0;
    dropped = 0;
    goro::chan<int> logs = goro::make_chan<int>(4);
    for (int e = 1; e <= 10; e++)
      goro::select(goro::on_send(logs, e, [&] { queued++; }), goro::on_default([&] { dropped++; }));
    std::printf("select+default send: queued %d, dropped %d\n", queued, dropped);

    // 3. Non-blocking receive: drain what is there, then do other work.
    std::string seen;
    for (bool empty = false; !empty;)
      goro::select(goro::on_recv(events, [&](int v) { seen += " " + std::to_string(v); }),
                   goro::on_default([&] { empty = true; }));
    std::printf("select+default recv: drained%s, then default ran (nothing more to receive)\n", seen.c_str());

    // 4. try_recv distinguishes "nothing yet" from "closed for good".
    goro::chan<int> in = goro::make_chan<int>(1);
    goro::wait_group wg;
    wg.go([in]() mutable {
      goro::sleep_for(std::chrono::milliseconds(20));
      in.send(7);
      in.close();
    });
    int polls = 0, got = 0;
    for (;;) {
      auto r = in.try_recv();
      if (r) {
        got = *r;
      } else if (r.closed()) {
        break;
      } else {
        polls++;  // nothing yet: "do something else", then look again
        goro::sleep_for(std::chrono::milliseconds(2));
      }
    }
    wg.wait();
    std::printf("try_recv polling: got %d, then saw closed (%s polls found nothing yet)\n", got,
                polls > 0 ? "several" : "no");
  });
}
