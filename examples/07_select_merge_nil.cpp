// Pattern: merge two channels with select; a closed input is set to the nil
// channel so select stops choosing it.
//
//   func merge(ch1, ch2 <-chan int) <-chan int {
//       out := make(chan int)
//       go func() {
//           defer close(out)
//           for ch1 != nil || ch2 != nil {
//               select {
//               case v, ok := <-ch1: if !ok { ch1 = nil; continue }; out <- v
//               case v, ok := <-ch2: if !ok { ch2 = nil; continue }; out <- v
//               }
//           }
//       }()
//       return out
//   }
//
// What it shows: goro::select with two on_recv cases whose handlers take
// (value, ok); when a channel reports ok == false the handler assigns
// `ch = {}`, the nil channel, which select never chooses; the loop ends
// when both are nil. The merger owns `out` and closes it when done.
//
// Pitfall avoided: a closed channel is *always* ready (it yields T{},
// false at once), so a merge loop that keeps selecting on it spins,
// receiving zero values, instead of waiting for the other input. The last
// part shows that spin, bounded, and how nil channels end it.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "goro/goro.hpp"

static goro::recv_chan<int> produce(std::vector<int> values, int delay_ms) {
  goro::chan<int> out = goro::make_chan<int>();
  goro::go([out, values = std::move(values), delay_ms]() mutable {
    for (int v : values) {
      goro::sleep_for(std::chrono::milliseconds(delay_ms));
      out.send(v);
    }
    out.close();
  });
  return out;
}

static goro::recv_chan<int> merge(goro::recv_chan<int> ch1, goro::recv_chan<int> ch2) {
  goro::chan<int> out = goro::make_chan<int>();
  goro::go([ch1, ch2, out]() mutable {
    while (!ch1.is_nil() || !ch2.is_nil()) {
      goro::select(goro::on_recv(ch1,
                                 [&](int v, bool ok) {
                                   if (!ok) ch1 = {};  // disable this case
                                   else out.send(v);
                                 }),
                   goro::on_recv(ch2, [&](int v, bool ok) {
                     if (!ok) ch2 = {};
                     else out.send(v);
                   }));
    }
    out.close();
  });
  return out;
}

int main() {
  return goro::run([] {
    std::vector<int> got;
    for (int v : merge(produce({1, 3, 5, 7, 9}, 1), produce({2, 4, 6, 8}, 3))) got.push_back(v);
    std::sort(got.begin(), got.end());
    std::printf("merged %zu values:", got.size());
    for (int v : got) std::printf(" %d", v);
    std::printf("\n");

    // Why `ch = {}`: a closed channel is always ready.
    goro::chan<int> a = goro::make_chan<int>();
    goro::chan<int> b = goro::make_chan<int>();
    a.close();
    b.close();
    int zero_values = 0;
    for (int i = 0; i < 1000; i++)
      goro::select(goro::on_recv(a, [&](int, bool ok) { zero_values += !ok; }),
                   goro::on_recv(b, [&](int, bool ok) { zero_values += !ok; }));
    std::printf("select over two closed channels: %d of 1000 selects returned at once with ok=false (a spin)\n",
                zero_values);
    a = {};
    b = {};
    bool idle = false;
    goro::select(goro::on_recv(a), goro::on_recv(b), goro::on_default([&] { idle = true; }));
    std::printf("after a = {} and b = {}: select %s\n", idle ? "never chooses them (default ran)" : "chose a nil channel?!");
  });
}
