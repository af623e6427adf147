// Pitfall: closing a channel from the receiver side -- the sender owns the
// channel and closes it; a receiver that wants to stop says so on a
// channel of its own.
//
//   // BAD: the receiver closes while senders may still send -> panic
//   for v := range data { if enough(v) { close(data); break } }
//
//   // GOOD: with several senders, a closer closes after all of them;
//   // the receiver owns `quit` and closes that one instead.
//   go func() { wg.Wait(); close(data) }()
//   ...; close(quit)
//
// Go's rules, which goro enforces with the same panics (thrown as
// goro::panic_error, caught here in the goroutine that misbehaved; escaping
// a goroutine, each would end the process with Go's panic report):
//   send on a closed channel      "send on closed channel"
//   close of a closed channel     "close of closed channel"
//   close of the nil channel      "close of nil channel"
//
// What it shows: part 1 triggers each panic on purpose, single-threaded,
// and catches it. Part 2 is the correct ownership: three senders, a closer
// goroutine (wg.wait() then close(data)) as the only one who closes
// `data`, and a receiver that stops early by closing `quit`, the channel it
// owns; senders select on `quit` and return, the closer then closes `data`.
// Nobody has to drain `data`: once the receiver stops receiving, a
// sender's send case is never ready and its quit case is.
#include <cstdio>

#include "goro/goro.hpp"

template <class F>
static void expect_panic(const char* what, F f) {
  try {
    f();
    std::printf("  %-28s no panic?!\n", what);
  } catch (const goro::panic_error& e) {
    std::printf("  %-28s panic: %s\n", what, e.what());
  }
}

int main() {
  return goro::run([] {
    std::printf("the panics Go has for channel misuse:\n");
    goro::chan<int> c = goro::make_chan<int>(1);
    c.close();
    expect_panic("send after close:", [&] { c.send(1); });
    expect_panic("close twice:", [&] { c.close(); });
    expect_panic("close the nil channel:", [] { goro::chan<int>{}.close(); });

    // Part 2: three senders; they never close `data`, the closer does.
    goro::chan<int> data = goro::make_chan<int>();
    goro::chan<goro::unit> quit = goro::make_chan<goro::unit>();  // owned by the receiver
    goro::wait_group senders;
    for (int s = 0; s < 3; s++)
      senders.go([data, quit, s]() mutable {
        for (int i = 0;; i++) {
          switch (goro::select(goro::case_send(data, s * 1000 + i), goro::case_recv(quit)).index()) {
            case 0: break;   // case data <- v
            case 1: return;  // case <-quit
          }
        }
      });
    goro::wait_group closer;
    closer.go([&senders, data]() mutable {
      senders.wait();
      data.close();  // the only close of data: after the last sender is done
    });

    int received = 0;
    for ([[maybe_unused]] int v : data) {
      if (++received == 20) break;  // enough: do NOT close(data) here
    }
    quit.close();  // the receiver closes what it owns: senders stop
    closer.wait();  // ...and once all three have returned, data is closed
    bool open = data.recv_ok().ok;
    std::printf("receiver took %d values and closed quit; 3 senders returned; the closer closed data "
                "(a receive now reports ok=%s)\n",
                received, open ? "true" : "false");
  });
}
