// Helpers for goro::net's tests (and the poller's io_uring tests): a
// connected TCP pair, waiting for a goroutine to park in IO wait,
// temporary Unix socket paths, descriptor counts.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "goro/debug.hpp"
#include "goro/goro.hpp"
#include "goro/net.hpp"
#include "test_util.hpp"

namespace net_test {

using namespace std::chrono_literals;
using goro_test::steady;

// The goroutine's wait reason, "" if it is not waiting or not found.
inline std::string wait_reason_of(uint64_t id) {
  for (const auto& g : goro::debug::goroutines())
    if (g.id == id && g.state == goro::debug::goroutine_state::waiting) return g.wait_reason;
  return "";
}

// Waits until goroutine `id` is parked with `reason`; false after 20 s.
inline bool await_parked(const std::atomic<uint64_t>& id, const std::string& reason = "IO wait") {
  auto t0 = steady::now();
  while (steady::now() - t0 < 20s) {
    uint64_t v = id.load();
    if (v != 0 && wait_reason_of(v) == reason) return true;
    if (goro::goroutine_id() != 0)
      goro::sleep_for(200us);
    else
      std::this_thread::sleep_for(200us);
  }
  return false;
}

// A connected pair over TCP loopback: (the dialer's end, the accepted one).
inline std::pair<goro::net::conn, goro::net::conn> tcp_pair() {
  auto lr = goro::net::listen("tcp4", "127.0.0.1:0");
  EXPECT_FALSE(lr.second);
  auto dr = goro::net::dial("tcp", lr.first.addr().to_string());
  EXPECT_FALSE(dr.second);
  auto ar = lr.first.accept();
  EXPECT_FALSE(ar.second);
  lr.first.close();
  return {dr.first, ar.first};
}

// Open descriptors of this process (entries of /proc/self/fd, less the
// directory's own).
inline int open_fds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') n++;
    closedir(d);
    n--;  // the DIR's own fd
  }
  return n;
}

// A fresh directory under $TMPDIR (or /tmp), removed with its sockets.
class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/goro-net-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
    EXPECT_FALSE(path_.empty()) << "mkdtemp failed";
  }
  ~temp_dir() {
    if (path_.empty()) return;
    if (DIR* d = opendir(path_.c_str())) {
      while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') unlink((path_ + "/" + e->d_name).c_str());
      closedir(d);
    }
    rmdir(path_.c_str());
  }
  std::string path(const std::string& name) const { return path_ + "/" + name; }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

 private:
  std::string path_;
};

using goro_test::raise_fd_limit;

// FNV-1a over bytes, for transfer checksums.
inline uint64_t fnv(uint64_t h, const void* p, size_t n) {
  auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  return h;
}
inline constexpr uint64_t kFnvInit = 0xcbf29ce484222325ULL;

}  // namespace net_test
