// Pattern: channel basics -- unbuffered hand-off, buffered queue, close,
// comma-ok, range, try_recv, and directional channel types.
//
//   ch := make(chan string)
//   go func() { ch <- "hello from goroutine" }()
//   msg := <-ch
//
//   jobs := make(chan int)
//   go func() { defer close(jobs); for i := 0; i < 5; i++ { jobs <- i } }()
//   for j := range jobs { fmt.Println("got", j) }
//   v, ok := <-jobs                       // 0, false: closed and drained
//
// What it shows: an unbuffered channel is a rendezvous (the send completes
// only when a receiver takes the value); a buffered one is a bounded queue
// (len/cap); close() means "no more values", range stops there and a
// comma-ok receive reports it; try_recv() never blocks and tells
// "received", "would block" and "closed" apart. produce() takes a
// send_chan (Go's chan<- int) and consume() a recv_chan (<-chan int): a
// consumer calling send() or close() does not compile.
//
// Pitfall avoided: only the sender closes. The producer owns `jobs`, so it
// is the one that closes it, when it has nothing more to send.
#include <cstdio>
#include <string>

#include "goro/goro.hpp"

// The producer owns the channel: it sends, then closes (Go's defer close).
static void produce(goro::send_chan<int> out, int n) {
  for (int i = 0; i < n; i++) out.send(i);
  out.close();
}

// The consumer can only receive: range until the producer closes.
static int consume(goro::recv_chan<int> in) {
  int sum = 0;
  for (int v : in) {
    std::printf("  got %d\n", v);
    sum += v;
  }
  return sum;
}

int main() {
  return goro::run([] {
    // 1. Unbuffered: a rendezvous between two goroutines.
    goro::chan<std::string> ch = goro::make_chan<std::string>();
    goro::go([ch]() mutable { ch.send("hello from goroutine"); });
    std::printf("unbuffered: %s (len %lld, cap %lld)\n", ch.recv().c_str(), (long long)ch.len(),
                (long long)ch.cap());

    // 2. Buffered: sends do not block until the buffer is full.
    goro::chan<int> buf = goro::make_chan<int>(3);
    buf.send(1);
    buf.send(2);
    std::printf("buffered: len %lld, cap %lld after two sends with no receiver\n", (long long)buf.len(),
                (long long)buf.cap());

    // 3. close + comma-ok: buffered values are still delivered after close.
    buf.close();
    for (int i = 0; i < 3; i++) {
      auto [v, ok] = buf.recv_ok();
      std::printf("comma-ok: v=%d ok=%s\n", v, ok ? "true" : "false");
    }

    // 4. range over a channel the producer closes; directional types.
    goro::chan<int> jobs = goro::make_chan<int>();
    goro::go(produce, jobs, 4);
    std::printf("range: sum %d\n", consume(jobs));

    // 5. try_recv: the three outcomes of a non-blocking receive.
    goro::chan<int> q = goro::make_chan<int>(1);
    auto show = [](const char* when, goro::try_recv_result<int> r) {
      if (r) std::printf("try_recv %s: received %d\n", when, *r);
      else if (r.would_block()) std::printf("try_recv %s: would block\n", when);
      else std::printf("try_recv %s: closed\n", when);
    };
    show("on empty", q.try_recv());
    q.send(42);
    show("with a value", q.try_recv());
    q.close();
    show("after close", q.try_recv());
    goro::chan<int> nil_ch;  // the nil channel: never ready
    show("on nil", nil_ch.try_recv());
  });
}
