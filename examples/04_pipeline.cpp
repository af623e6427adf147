// Pattern: pipeline -- stages connected by channels, each stage a goroutine
// that ranges over its input, sends to its output, and closes the output
// when its input is exhausted.
//
//   func square(in <-chan int) <-chan int {
//       out := make(chan int)
//       go func() { defer close(out); for n := range in { out <- n * n } }()
//       return out
//   }
//   even := filter(square(generate(1, ..., 10)), func(n int) bool { return n%2 == 0 })
//   for r := range even { fmt.Println(r) }   // 4 16 36 64 100
//
// What it shows: every stage has the same shape, recv_chan<int> in,
// recv_chan<int> out, so stages compose like functions. All stages run at
// once; values flow through as they are produced. Closing cascades: the
// generator closes, so square's range ends and square closes, and so on
// down to the consumer's range-for. An unbuffered channel between stages
// gives back-pressure: a slow consumer slows every stage before it; a
// small buffer (the `out` of square here) lets a stage run a few values
// ahead.
//
// Pitfall avoided: each stage closes only the channel it created (its
// output), never its input; the consumer drains to the end, so no stage is
// left blocked on a send (to stop early, add a done channel:
// 12_done_cancellation).
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <vector>

#include "goro/goro.hpp"

static goro::recv_chan<int> generate(std::vector<int> nums) {
  goro::chan<int> out = goro::make_chan<int>();
  goro::go([out, nums = std::move(nums)]() mutable {
    for (int n : nums) out.send(n);
    out.close();
  });
  return out;
}

static goro::recv_chan<int> square(goro::recv_chan<int> in) {
  goro::chan<int> out = goro::make_chan<int>(4);  // may run up to 4 values ahead
  goro::go([in, out]() mutable {
    for (int n : in) out.send(n * n);
    out.close();
  });
  return out;
}

static goro::recv_chan<int> filter(goro::recv_chan<int> in, std::function<bool(int)> keep) {
  goro::chan<int> out = goro::make_chan<int>();
  goro::go([in, out, keep = std::move(keep)]() mutable {
    for (int n : in)
      if (keep(n)) out.send(n);
    out.close();
  });
  return out;
}

int main() {
  return goro::run([] {
    int64_t before = goro::num_goroutine();
    goro::recv_chan<int> even =
        filter(square(generate({1, 2, 3, 4, 5, 6, 7, 8, 9, 10})), [](int n) { return n % 2 == 0; });
    std::printf("pipeline generate -> square -> filter(even), %lld stage goroutines:",
                static_cast<long long>(goro::num_goroutine() - before));
    for (int r : even) std::printf(" %d", r);
    std::printf("\n");

    // Stages compose: square twice is the fourth power.
    int sum = 0;
    for (int r : square(square(generate({1, 2, 3})))) sum += r;
    std::printf("sum of fourth powers of 1..3: %d\n", sum);
  });
}
