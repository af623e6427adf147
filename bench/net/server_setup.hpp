// What goro's network benchmark servers share (the anchors' contract,
// ../shared/bench/net/README.md): the descriptor limit raised to the hard
// limit, as Go does (the loads open up to 50,000 connections), and the
// listener made and announced with "ready PORT".
#pragma once

#include <sys/resource.h>

#include <cstdio>
#include <optional>

#include "goro/net.hpp"

namespace goro_bench_net {

inline void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Listens on addr and prints "ready PORT" (flushed); on failure prints
// the error as `name: listen ADDR: ...` and returns nothing.
inline std::optional<goro::net::listener> listen_ready(const char* name, const char* addr) {
  auto [ln, err] = goro::net::listen("tcp", addr);
  if (err) {
    std::fprintf(stderr, "%s: listen %s: %s\n", name, addr, err.message().c_str());
    return std::nullopt;
  }
  std::printf("ready %u\n", static_cast<unsigned>(ln.addr().port()));
  std::fflush(stdout);
  return ln;
}

}  // namespace goro_bench_net
