// Pattern: a resettable timer (Go's time.NewTimer, Stop, Reset) as an idle
// timeout that activity pushes back.
//
//   idle := time.NewTimer(100 * time.Millisecond)
//   defer idle.Stop()
//   for {
//       select {
//       case m := <-msgs:
//           handle(m)
//           if !idle.Stop() { <-idle.C }   // before Go 1.23: drain if already fired
//           idle.Reset(100 * time.Millisecond)
//       case <-idle.C:
//           return                         // idle too long: close the session
//       }
//   }
//
// Why article 002 drains: before Go 1.23 t.C had a buffer of 1. A timer
// that fired while handle(m) ran left its value in the buffer; Stop then
// returned false, and without `<-t.C` that stale value would end the next
// select at once. And the drain is only right if nobody received the value
// yet: after `case <-idle.C` it blocks forever.
//
// What it shows: goro has Go 1.23's semantics. The timer channel behaves as
// unbuffered: stop() (and reset(), which stops first) withdraws a value
// not yet received and returns true, so no receive after it sees a stale
// value, and the drain is not needed: `idle.reset(d)` alone is right.
// Part 1 checks that on a timer that has fired unreceived; part 2 is the
// session above: eight messages 5ms apart each push the 100ms idle
// timeout back, and it fires once, 100ms after the last one.
//
// Pitfall avoided: a time.After(d) per select round would work too (each
// round a new timer), but a reused timer is one record, and the idiom above
// is how long-lived loops write it.
#include <chrono>
#include <cstdio>

#include "goro/goro.hpp"

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

int main() {
  return goro::run([] {
    // Part 1: a timer that fired, its value not received.
    goro::timer t = goro::new_timer(1ms);
    goro::sleep_for(5ms);  // past the deadline: the value is due
    bool stopped = t.stop();
    bool stale = static_cast<bool>(t.c().try_recv());
    std::printf("fired, not received: stop() = %s; a value left to drain: %s\n", stopped ? "true" : "false",
                stale ? "yes" : "no (withdrawn)");
    t.reset(1ms);
    t.c().recv();  // this time it is received
    std::printf("received, then stop() = %s (Go's `if !t.Stop() { <-t.C }` would now block forever)\n",
                t.stop() ? "true" : "false");

    // Part 2: the idle timeout.
    constexpr auto kIdle = 100ms;
    goro::chan<int> msgs = goro::make_chan<int>();
    goro::go([msgs] {
      for (int i = 1; i <= 8; i++) {
        msgs.send(i);
        goro::sleep_for(5ms);  // active: far less than kIdle apart
      }
      // then silence; the session hangs up on its own
    });

    goro::timer idle = goro::new_timer(kIdle);
    int handled = 0;
    clk::time_point last = clk::now();
    for (bool open = true; open;) {
      switch (goro::select(goro::case_recv(msgs), goro::case_recv(idle.c())).index()) {
        case 0:  // case m := <-msgs
          handled++;
          last = clk::now();
          idle.reset(kIdle);  // no Stop-and-drain: reset withdraws a stale value
          break;
        case 1:  // case <-idle.C
          open = false;
          break;
      }
    }
    idle.stop();  // defer idle.Stop(): a no-op here, it fired and was received
    bool late_enough = clk::now() - last >= kIdle;  // a deadline is never early
    std::printf("session: %d messages handled, then closed as idle (%s 100ms after the last)\n", handled,
                late_enough ? "at least" : "LESS than");
  });
}
