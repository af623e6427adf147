// Pattern: a TCP server with one goroutine per connection -- the shape of
// every Go server -- and clients with deadlines and a graceful stop.
//
//   ln, _ := net.Listen("tcp", "127.0.0.1:0")
//   go func() {
//     for {
//       c, err := ln.Accept()
//       if errors.Is(err, net.ErrClosed) { return }
//       go func() { defer c.Close(); io.Copy(c, c) }()   // echo
//     }
//   }()
//   c, _ := net.Dial("tcp", ln.Addr().String())
//   c.SetReadDeadline(time.Now().Add(time.Second))
//   c.Write([]byte("hello")); io.ReadFull(c, buf)
//
// What it shows: goro::net::listen on port 0 (the system picks one;
// ln.addr() tells it), an accept loop that starts a goroutine per
// connection and ends when the listener is closed (errc::closed), and
// backs off on running out of descriptors; 100 clients in goroutines,
// each dialing, writing a line and reading it back with read_full; a read
// deadline that ends a read nobody answers (errc::deadline_exceeded) and
// stays until cleared (no_deadline), as Go's does;
// close_write, which the server sees as the end of the stream
// (io_errc::eof). Every read and accept parks its goroutine in "IO wait",
// not a thread: 100 connections run on the workers goro already has.
//
// Pitfall avoided: a server goroutine blocked in accept or read forever
// at shutdown -- closing the listener (or conn) from another goroutine
// wakes it with errc::closed.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

// Echoes until the client closes its side, then closes.
static void serve(goro::net::conn c, std::atomic<int>& bytes) {
  char buf[4096];
  for (;;) {
    auto [n, err] = c.read(buf, sizeof buf);
    if (n > 0) {
      bytes += static_cast<int>(n);
      if (c.write(buf, n).second) break;
    }
    if (err) break;  // io_errc::eof: the client is done
  }
  c.close();
}

int main() {
  return goro::run([] {
    auto [ln, err] = goro::net::listen("tcp", "127.0.0.1:0");
    if (err) {
      std::printf("listen: %s\n", err.message().c_str());
      return 1;
    }
    std::printf("listening on %s\n", ln.addr().to_string().c_str());

    std::atomic<int> bytes{0};
    goro::wait_group server;
    server.go([ln = ln, &server, &bytes] {  // the accept loop
      auto backoff = 5ms;
      for (;;) {
        auto [c, e] = ln.accept();
        if (e == goro::errc::closed) return;  // shutting down
        if (e == std::errc::too_many_files_open || e == std::errc::too_many_files_open_in_system) {
          goro::sleep_for(backoff);  // out of fds: wait for some to close
          backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
          continue;
        }
        if (e) return;
        backoff = 5ms;
        server.go([c = c, &bytes] { serve(c, bytes); });
      }
    });

    const std::string addr = ln.addr().to_string();
    std::atomic<int> ok{0};
    goro::wait_group clients;
    for (int i = 0; i < 100; i++) {
      clients.go([&addr, &ok, i] {
        auto [c, e] = goro::net::dial("tcp", addr);
        if (e) return;
        c.set_deadline(std::chrono::steady_clock::now() + 5s);  // never hang on a stuck server
        std::string line = "hello from client " + std::to_string(i) + "\n";
        std::string back(line.size(), '\0');
        if (!c.write(line).second && !c.read_full(back.data(), back.size()).second && back == line) ok++;
        c.close();
      });
    }
    clients.wait();
    std::printf("%d of 100 clients got their line back\n", ok.load());

    // A read nobody answers ends at its deadline.
    auto [c, e] = goro::net::dial("tcp", addr);
    if (e) return 1;
    c.set_read_deadline(std::chrono::steady_clock::now() + 20ms);
    char b;
    auto timed_out = c.read(&b, 1).second;
    std::printf("read with nothing to read: %s\n", timed_out.message().c_str());
    // The deadline stays until changed (Go's rule): clear it to read again.
    c.set_read_deadline(goro::net::no_deadline);
    // Half-close: the server reads EOF, echoes nothing more, closes; we read EOF.
    c.close_write();
    auto eof = c.read(&b, 1).second;
    std::printf("after close_write: %s\n", eof.message().c_str());
    c.close();

    ln.close();  // wakes the accept loop with errc::closed
    server.wait();
    std::printf("server stopped; echoed %d bytes\n", bytes.load());
    bool good = ok == 100 && timed_out == goro::errc::deadline_exceeded && eof == goro::io_errc::eof;
    return good ? 0 : 1;
  });
}
