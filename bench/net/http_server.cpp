// goro-http-server: the network anchors' HTTP server contract
// (../shared/bench/net/README.md, "Contract for goro's servers"), written
// as the Go reference (`go-echo http`) is: goro::http::server with a mux
// whose "/" handler writes "hello\n"; keep-alive, default options.
//
//   goro-http-server 127.0.0.1:0     # prints "ready PORT", runs until SIGTERM
//   GORO_HTTP=build/bench/goro-http-server ../shared/bench/net/run-net goro
#include <csignal>
#include <cstdio>

#include "goro/goro.hpp"
#include "goro/http.hpp"
#include "goro/net.hpp"
#include "server_setup.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s HOST:PORT\n", argv[0]);
    return 2;
  }
  goro_bench_net::raise_fd_limit();
  const char* addr = argv[1];
  return goro::run([addr]() -> int {
    std::optional<goro::net::listener> ln = goro_bench_net::listen_ready("goro-http-server", addr);
    if (!ln) return 1;
    goro::http::serve_mux mux;
    mux.handle("/", [](goro::http::response_writer& w, const goro::http::request&) { (void)w.write("hello\n"); });
    goro::http::server srv(std::move(mux));
    // SIGTERM: a graceful shutdown of up to a second, then the program ends.
    auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGTERM});
    goro::wait_group stopper;
    stopper.go([ctx = ctx, srv] {
      ctx.done().recv();
      auto [sctx, cancel] = goro::with_timeout(goro::background(), std::chrono::seconds(1));
      (void)srv.shutdown(sctx);
      cancel();
    });
    std::error_code e = srv.serve(*ln);
    stopper.wait();
    stop();
    if (e != goro::http::error::server_closed) {
      std::fprintf(stderr, "goro-http-server: serve: %s\n", e.message().c_str());
      return 1;
    }
    return 0;
  });
}
