// goro-echo-server: goro's side of the network anchors' echo benchmark
// (../shared/bench/net/README.md, "Contract for goro's servers"), written
// as a Go programmer writes go/echo/main.go: a goroutine per connection,
// a read/write loop over one 4 KiB buffer, nothing tuned.
//
//   goro-echo-server 127.0.0.1:0      # prints "ready PORT", runs until SIGTERM
//   GORO_ECHO=build/bench/goro-echo-server ../shared/bench/net/run-net go epoll goro
//
// Worker threads: goro's default maxprocs, the CPUs of the affinity mask
// (run-net pins the server to one CPU), as GOMAXPROCS is.
#include <csignal>
#include <cstdio>
#include <cstring>

#include "goro/goro.hpp"
#include "goro/net.hpp"
#include "server_setup.hpp"

namespace {

// Each connection's goroutine: echo until the peer closes or resets.
void echo(goro::net::conn c) {
  char buf[4096];
  for (;;) {
    auto [n, err] = c.read(buf, sizeof buf);
    if (n > 0 && c.write(buf, n).second) break;
    if (err) break;
  }
  c.close();
}


}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s HOST:PORT\n", argv[0]);
    return 2;
  }
  goro_bench_net::raise_fd_limit();
  const char* addr = argv[1];
  return goro::run([addr]() -> int {
    std::optional<goro::net::listener> listened = goro_bench_net::listen_ready("goro-echo-server", addr);
    if (!listened) return 1;
    goro::net::listener ln = *listened;
    // SIGTERM closes the listener; the accept loop then ends and so does
    // the program (connections still open end with it, as in Go).
    auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGTERM});
    goro::go([ctx = ctx, ln = ln] {
      ctx.done().recv();
      ln.close();
    });
    for (;;) {
      auto [c, e] = ln.accept();
      if (e == goro::errc::closed) break;
      if (e) {
        // Out of descriptors (or another transient error): back off, as
        // Go's http.Server does, and retry.
        goro::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      goro::go(echo, std::move(c));
    }
    stop();
    return 0;
  });
}
