// Pattern: a TCP server that shuts down gracefully on SIGTERM -- stop
// accepting, let the connections in progress finish within a deadline,
// then close the rest -- the shape of every Go service under a process
// manager (systemd, Kubernetes).
//
//   ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
//   defer stop()
//   go func() { <-ctx.Done(); ln.Close() }()        // stop accepting
//   for {
//       c, err := ln.Accept()
//       if errors.Is(err, net.ErrClosed) { break }
//       wg.Add(1)
//       go func() { defer wg.Done(); serve(c) }()
//   }
//   // drain: wait for the handlers, at most 2 s, then close what is left
//
// What it shows: goro::signal_notify_context turns SIGTERM into a
// context's cancellation; a goroutine closes the listener when it ends,
// which ends the accept loop (errc::closed); each connection's goroutine
// is counted in a wait_group, and a second goroutine closes every
// connection still open once the drain deadline passes, which wakes its
// blocked read with errc::closed. Three clients: one finishes before the
// signal, one is mid-conversation when it comes and finishes during the
// drain, one stays idle and is cut off at the deadline. The program sends
// itself the SIGTERM (as `kill PID` would).
//
// Pitfall avoided: exiting on the signal at once (in-flight work lost),
// or waiting for idle keep-alive connections for ever (shutdown hangs).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "goro/goro.hpp"
#include "goro/net.hpp"

using namespace std::chrono_literals;
namespace net = goro::net;

// Connections open now, so that the drain can close those left at its
// deadline. Guarded by a goro::mutex (goroutines park on it).
struct open_conns {
  goro::mutex mu;
  std::map<int, net::conn> by_id;
  int next = 0;

  int add(const net::conn& c) {
    std::lock_guard lk(mu);
    by_id[next] = c;
    return next++;
  }
  void remove(int id) {
    std::lock_guard lk(mu);
    by_id.erase(id);
  }
  int close_all() {
    std::lock_guard lk(mu);
    for (auto& [id, c] : by_id) (void)c.close();
    return static_cast<int>(by_id.size());
  }
};

// Echoes lines until the client closes, or the connection is closed.
void serve(net::conn c) {
  char buf[256];
  for (;;) {
    auto [n, err] = c.read(buf, sizeof buf);
    if (n > 0 && c.write(buf, n).second) break;
    if (err) break;
  }
  (void)c.close();
}

// A client: sends `lines` lines, pausing `pause` between them, reading
// each echo; then closes, or with `stay` keeps the connection open and
// idle until the server closes it. Reports how it ended.
std::string client(const std::string& addr, int lines, std::chrono::milliseconds pause, bool stay = false) {
  auto [c, err] = net::dial("tcp", addr);
  if (err) return "dial: " + err.message();
  char buf[16];
  for (int i = 0; i < lines; i++) {
    if (i > 0) goro::sleep_for(pause);
    if (auto e = c.write("ping\n", 5).second) return "write: " + e.message();
    if (auto e = c.read_full(buf, 5).second) return "after " + std::to_string(i) + " echoes: " + e.message();
  }
  if (stay) {
    auto e = c.read(buf, 1).second;  // idle until the server hangs up
    return std::to_string(lines) + " echo, then idle until the server closed it (" + e.message() + ")";
  }
  (void)c.close();
  return std::to_string(lines) + " echoes, then closed by the client";
}

int main() {
  goro::run([] {
    auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
    if (err) {
      std::printf("listen: %s\n", err.message().c_str());
      return;
    }
    const std::string addr = ln.addr().to_string();
    auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGTERM});
    goro::go([ctx = ctx, ln = ln] {
      ctx.done().recv();
      std::printf("server: %s, no new connections\n", ctx.err() ? "SIGTERM" : "?");
      (void)ln.close();
    });

    open_conns conns;
    std::atomic<int> accepted{0};
    goro::wait_group handlers;
    goro::wait_group accepting;
    accepting.go([&, ln = ln] {
      for (;;) {
        auto [c, e] = ln.accept();
        if (e == goro::errc::closed) return;
        if (e) {
          goro::sleep_for(5ms);  // out of descriptors: back off
          continue;
        }
        int id = conns.add(c);
        accepted++;
        handlers.go([&conns, c = c, id] {
          serve(c);
          conns.remove(id);
        });
      }
    });

    // Three clients.
    auto done = goro::make_chan<std::string>(3);
    goro::wait_group clients;
    clients.go([&] { done.send("quick client:  " + client(addr, 2, 1ms)); });
    clients.go([&] { done.send("busy client:   " + client(addr, 6, 40ms)); });
    clients.go([&] { done.send("idle client:   " + client(addr, 1, 0ms, true)); });
    std::printf("%s\n", done.recv().c_str());  // the quick one is done
    while (accepted.load() < 3) goro::sleep_for(1ms);  // and the other two are connected

    kill(getpid(), SIGTERM);  // as the process manager would
    accepting.wait();         // the accept loop has ended

    // Drain: wait for the handlers, at most 500 ms, then close the rest.
    auto drained = goro::make_chan<goro::unit>();
    goro::go([&handlers, drained] {
      handlers.wait();
      drained.close();
    });
    if (goro::select(goro::case_recv(drained), goro::case_recv(goro::after(500ms))).index() == 1) {
      std::printf("server: drain deadline passed, closing %d connection(s)\n", conns.close_all());
      drained.recv();
    }
    std::printf("server: every handler has returned\n");
    clients.wait();
    for (int i = 0; i < 2; i++) std::printf("%s\n", done.recv().c_str());
    stop();
  });
}
