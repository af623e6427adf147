// goro::net under load: many goroutines each with a connection of its
// own, exchanging random amounts (seeded, the seed printed on failure),
// and 10,000 connections open at once, each served by a goroutine, all
// echoing (1,000 under sanitizers).
//
// The 10,000 connections need 20,000 descriptors in one process, more
// than many machines' hard limit allows (20,000 here, with the runtime's
// own fds on top); then the clients run in a child process (this binary,
// filtered to the helper test), so each process holds 10,000. Loopback
// only; every loop is bounded; waits are on counts, never on time.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "goro/goro.hpp"
#include "goro/net.hpp"
#include "net_util.hpp"
#include "test_util.hpp"

extern char** environ;

using namespace std::chrono_literals;
using namespace net_test;
namespace net = goro::net;

namespace {

uint64_t test_seed() {
  if (const char* s = std::getenv("GORO_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// Many goroutines, each dialing its own connection to an echo server and
// sending a random number of random-sized messages, checking each echo.
TEST(NetStress, ManyGoroutinesEachWithItsOwnConn) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("GORO_TEST_SEED=" + std::to_string(seed));
  goro_test::for_procs([seed] {
    auto lr = net::listen("tcp4", "127.0.0.1:0");
    ASSERT_FALSE(lr.second);
    net::listener ln = lr.first;
    const int n = goro_test::goroutines(300, 6, 20);
    std::atomic<long> bytes_echoed{0}, bytes_sent{0}, served{0};
    goro::wait_group srv;
    srv.go([&] {
      for (;;) {
        auto r = ln.accept();
        if (r.second) break;
        served++;
        srv.go([c = r.first, &bytes_echoed] {
          char buf[4096];
          for (;;) {
            auto rr = c.read(buf, sizeof buf);
            if (rr.first > 0) {
              bytes_echoed += static_cast<long>(rr.first);
              if (c.write(buf, rr.first).second) break;
            }
            if (rr.second) break;
          }
        });
      }
    });
    goro::wait_group clients;
    const std::string addr = ln.addr().to_string();
    for (int i = 0; i < n; i++) {
      clients.go([&, i] {
        std::mt19937_64 rng(seed + static_cast<uint64_t>(i));
        auto d = net::dial("tcp", addr);
        ASSERT_FALSE(d.second) << d.second.message();
        net::conn c = d.first;
        int msgs = 1 + static_cast<int>(rng() % 20);
        std::vector<char> out, in;
        for (int m = 0; m < msgs; m++) {
          size_t len = 1 + rng() % 20000;
          out.resize(len);
          for (auto& ch : out) ch = static_cast<char>(rng());
          in.assign(len, 0);
          ASSERT_FALSE(c.write(out.data(), len).second);
          auto r = c.read_full(in.data(), len);
          ASSERT_FALSE(r.second) << r.second.message();
          ASSERT_EQ(in, out);
          bytes_sent += static_cast<long>(len);
          if (rng() % 8 == 0) goro::yield();
        }
        c.close();
      });
    }
    clients.wait();
    ln.close();
    srv.wait();
    EXPECT_EQ(served.load(), n);
    EXPECT_EQ(bytes_echoed.load(), bytes_sent.load());
  });
}

constexpr const char* kAddrEnv = "GORO_NET_TENK_ADDR";
constexpr const char* kCountEnv = "GORO_NET_TENK_N";

// n clients: each dials (at most 256 connecting at a time, so the
// listen backlog is not flooded), sends its index, reads the echo, and
// holds its connection until all n have their echo: then all n are open
// at once. Returns how many echoed correctly.
int run_clients(const std::string& addr, int n) {
  std::atomic<int> ok{0}, echoed{0};
  auto all_echoed = goro::make_chan<goro::unit>();
  auto connecting = goro::make_chan<goro::unit>(256);
  goro::wait_group wg;
  for (int i = 0; i < n; i++) {
    wg.go([&, i] {
      connecting.send(goro::unit{});
      auto d = net::dial("tcp", addr);
      connecting.recv();
      bool good = false;
      if (!d.second) {
        std::string msg = "client " + std::to_string(i) + "\n";
        std::string back(msg.size(), '\0');
        good = !d.first.write(msg).second && !d.first.read_full(back.data(), back.size()).second && back == msg;
      } else if (i % 1000 == 0 || d.second != std::errc::connection_refused) {
        ADD_FAILURE() << "dial " << i << ": " << d.second.message();
      }
      if (good) ok++;
      if (++echoed == n) all_echoed.close();
      all_echoed.recv();  // hold the connection until every client is done
      d.first.close();
    });
  }
  wg.wait();
  return ok.load();
}

// The child process's half of TenThousandConnections (skipped when run
// on its own).
TEST(NetStress, TenThousandClientsHelper) {
  const char* addr = std::getenv(kAddrEnv);
  const char* count = std::getenv(kCountEnv);
  if (addr == nullptr || count == nullptr) GTEST_SKIP() << "the client half of TenThousandConnections";
  const int n = std::atoi(count);
  ASSERT_GE(raise_fd_limit(static_cast<rlim_t>(n) + 256), static_cast<rlim_t>(n) + 256);
  goro::set_maxprocs(2);
  int ok = goro::run([&] { return run_clients(addr, n); });
  EXPECT_EQ(ok, n);
}

TEST(NetStress, TenThousandConnections) {
  const int n = goro_test::kSanitized ? 1000 : 10000 * goro_test::stress_scale();
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  const rlim_t margin = 256;
  const bool in_process = rl.rlim_max >= 2 * static_cast<rlim_t>(n) + margin;
  if (!in_process && rl.rlim_max < static_cast<rlim_t>(n) + margin)
    GTEST_SKIP() << "the hard limit on open files (" << rl.rlim_max << ") is below the " << n + margin
                 << " this test needs per process (ulimit -Hn)";
  raise_fd_limit(in_process ? 2 * static_cast<rlim_t>(n) + margin : static_cast<rlim_t>(n) + margin);
  goro::set_maxprocs(2);
  goro::run([&] {
    auto lr = net::listen("tcp4", "127.0.0.1:0");
    ASSERT_FALSE(lr.second);
    net::listener ln = lr.first;
    std::atomic<int> served{0}, open{0}, max_open{0}, echoed{0};
    goro::wait_group srv;
    srv.go([&] {
      for (;;) {
        auto r = ln.accept();
        if (r.second == goro::errc::closed) break;
        if (r.second) {
          ADD_FAILURE() << "accept: " << r.second.message();
          break;
        }
        served++;
        int now = ++open;
        for (int m = max_open.load(); now > m && !max_open.compare_exchange_weak(m, now);) {
        }
        srv.go([c = r.first, &open, &echoed] {
          char buf[256];
          for (;;) {
            auto rr = c.read(buf, sizeof buf);
            if (rr.first > 0) {
              echoed++;
              if (c.write(buf, rr.first).second) break;
            }
            if (rr.second) break;
          }
          open--;
          c.close();
        });
      }
    });
    const std::string addr = ln.addr().to_string();
    if (in_process) {
      EXPECT_EQ(run_clients(addr, n), n);
    } else {
      std::string filter = "--gtest_filter=NetStress.TenThousandClientsHelper";
      std::string exe = "/proc/self/exe";
      std::vector<std::string> env_store;
      for (char** e = environ; *e != nullptr; e++) env_store.emplace_back(*e);
      // Appended in place: g++ 12's -Warray-bounds misreads the moves of
      // `std::string(x) + "=" + y` (a libstdc++ false positive).
      auto assignment = [](const char* name, const std::string& value) {
        std::string s = name;
        s += '=';
        s += value;
        return s;
      };
      env_store.push_back(assignment(kAddrEnv, addr));
      env_store.push_back(assignment(kCountEnv, std::to_string(n)));
      std::vector<char*> envp;
      for (auto& s : env_store) envp.push_back(s.data());
      envp.push_back(nullptr);
      char* argv[] = {exe.data(), filter.data(), nullptr};
      pid_t pid = -1;
      ASSERT_EQ(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()), 0);
      int status = 0;
      pid_t w = goro::blocking([&] { return waitpid(pid, &status, 0); });
      ASSERT_EQ(w, pid);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the client process failed, status " << status;
    }
    ln.close();
    srv.wait();
    EXPECT_EQ(served.load(), n);
    EXPECT_EQ(echoed.load(), n);
    EXPECT_EQ(max_open.load(), n) << "not all connections were open at once";
  });
}

}  // namespace
