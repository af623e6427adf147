// Pattern: generator -- a function that starts a goroutine and returns the
// receive side of the channel it fills.
//
//   func fib(limit int) <-chan int {
//       out := make(chan int)
//       go func() {
//           defer close(out)
//           for a, b := 0, 1; a <= limit; a, b = b, a+b { out <- a }
//       }()
//       return out
//   }
//   for v := range fib(100) { fmt.Println(v) }
//
// What it shows: the generator returns a goro::recv_chan<int>, so callers
// can only receive from it; the goroutine inside owns the channel and closes
// it when done, which ends the caller's range-for. Values are produced
// lazily: the unbuffered channel makes the producer wait for each receive.
//
// Pitfall avoided: the caller ranges to the end, so the producer always
// finishes. A caller that stops early must tell the producer to stop (a done
// channel, 12_done_cancellation and 19_pitfall_leaked_sender), or the
// producer blocks on its next send forever: a goroutine leak.
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "goro/goro.hpp"

// Fibonacci numbers up to limit, one per receive.
static goro::recv_chan<int64_t> fib(int64_t limit) {
  goro::chan<int64_t> out = goro::make_chan<int64_t>();
  goro::go([out, limit]() mutable {
    for (int64_t a = 0, b = 1; a <= limit; a = std::exchange(b, a + b)) out.send(a);
    out.close();  // the producer owns the channel: it closes it
  });
  return out;
}

// A generic generator over the words of a sentence.
static goro::recv_chan<std::string> words(std::string text) {
  goro::chan<std::string> out = goro::make_chan<std::string>();
  goro::go([out, text = std::move(text)]() mutable {
    size_t at = 0;
    while (at < text.size()) {
      size_t end = text.find(' ', at);
      if (end == std::string::npos) end = text.size();
      if (end > at) out.send(text.substr(at, end - at));
      at = end + 1;
    }
    out.close();
  });
  return out;
}

int main() {
  return goro::run([] {
    std::printf("fib up to 100:");
    for (int64_t v : fib(100)) std::printf(" %lld", static_cast<long long>(v));
    std::printf("\n");

    int n = 0;
    for (const std::string& w : words("share memory by communicating")) std::printf("word %d: %s\n", ++n, w.c_str());

    // A generator can also be consumed with comma-ok receives.
    goro::recv_chan<int64_t> g = fib(10);
    int64_t sum = 0;
    for (;;) {
      auto [v, ok] = g.recv_ok();
      if (!ok) break;
      sum += v;
    }
    std::printf("sum of fib up to 10: %lld\n", static_cast<long long>(sum));
  });
}
