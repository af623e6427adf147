// Pitfall: a goroutine leaked on a blocked send -- its consumer stopped
// reading. Fixed with a done channel (or with a buffer big enough for
// every send: 09_first_response_wins).
//
//   // BAD: leaks if nobody reads the rest of ch
//   go func() { for _, v := range values { ch <- v } ; close(ch) }()
//
//   // GOOD: every send can be abandoned
//   go func() {
//       defer close(ch)
//       for _, v := range values {
//           select { case ch <- v: case <-done: return }
//       }
//   }()
//
// What it shows: a consumer that needs only the first 3 of 10 values.
// Against the plain producer, the producer stays blocked on its 4th send:
// goro::num_goroutine() stays one above the baseline (Go's
// runtime.NumGoroutine, the metric article 000 logs to catch leaks). Then
// the same consumer against a producer whose sends select on `done`: the
// consumer closes done when it leaves and the count returns to baseline.
//
// goro's deadlock detector does not see this: the program as a whole
// still makes progress, and only the one goroutine is stuck (Go's runtime
// does not report such partial deadlocks either). goro::debug::dump (Go's
// pprof goroutine profile) lists this goroutine as [chan send], and
// goro::debug::find_leaks (goleak) reports it: example 32.
#include <chrono>
#include <cstdio>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

static goro::recv_chan<int> leaky_producer(int n) {
  goro::chan<int> ch = goro::make_chan<int>();
  goro::go([ch, n]() mutable {
    for (int v = 1; v <= n; v++) ch.send(v);  // blocks forever once nobody reads
    ch.close();
  });
  return ch;
}

static goro::recv_chan<int> producer(int n, goro::recv_chan<goro::unit> done) {
  goro::chan<int> ch = goro::make_chan<int>();
  goro::go([ch, n, done]() mutable {
    for (int v = 1; v <= n; v++) {
      // select { case ch <- v: case <-done: (abandoned) }
      if (goro::select(goro::case_send(ch, v), goro::case_recv(done)).index() == 1) break;
    }
    ch.close();
  });
  return ch;
}

static int64_t settle(int64_t target) {
  auto give_up = std::chrono::steady_clock::now() + 2s;
  while (goro::num_goroutine() > target && std::chrono::steady_clock::now() < give_up) goro::sleep_for(2ms);
  return goro::num_goroutine();
}

int main() {
  return goro::run([] {
    int64_t baseline = goro::num_goroutine();

    goro::recv_chan<int> leaky = leaky_producer(10);
    int sum = 0;
    for (int i = 0; i < 3; i++) sum += leaky.recv();
    goro::sleep_for(20ms);
    std::printf("BAD:  took 3 values (sum %d) and left; goroutines: baseline %+lld (producer stuck in chan send)\n",
                sum, static_cast<long long>(goro::num_goroutine() - baseline));
    for (int v : leaky) sum += v;  // only so that this example ends clean
    settle(baseline);

    goro::chan<goro::unit> done = goro::make_chan<goro::unit>();
    goro::recv_chan<int> good = producer(10, done);
    sum = 0;
    for (int i = 0; i < 3; i++) sum += good.recv();
    done.close();  // "I am leaving": the producer's next select takes this case
    std::printf("GOOD: took 3 values (sum %d), closed done; goroutines: baseline %+lld\n", sum,
                static_cast<long long>(settle(baseline) - baseline));
  });
}
