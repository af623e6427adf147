// Ping-pong pairs that keep Ps busy for the timer tests, and count their
// round trips: the tests measure lateness in round trips, not in time, so
// that a busy machine, which slows the pairs as much as the clock, does not
// change their verdicts.
#pragma once

#include <atomic>
#include <cstdint>

#include "goro/chan.hpp"
#include "goro/wait_group.hpp"

namespace goro_test {

// Starts `pairs` pairs in wg. In each, one goroutine sends on an unbuffered
// channel and waits for the echo on a second, adding one to round_trips
// per echo, until `stop` is set; then it closes its channel, which ends
// the echoing goroutine.
inline void go_ping_pong_pairs(goro::wait_group& wg, int pairs, std::atomic<bool>& stop,
                               std::atomic<int64_t>& round_trips) {
  for (int i = 0; i < pairs; i++) {
    auto ping = goro::make_chan<int>(), pong = goro::make_chan<int>();
    wg.go([&stop, &round_trips, ping, pong] {
      while (!stop.load()) {
        ping.send(1);
        pong.recv();
        round_trips.fetch_add(1, std::memory_order_relaxed);
      }
      ping.close();
    });
    wg.go([ping, pong] {
      for (int v : ping) pong.send(v);
    });
  }
}

}  // namespace goro_test
