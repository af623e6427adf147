// Slowloris: 1,000 connections (200 under sanitizers) each send part of
// a request header and then trickle, holding a connection goroutine each;
// ordinary requests meanwhile are served at once, on new connections and
// kept-alive ones; read_header_timeout then closes every slow one.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "goro/goro.hpp"
#include "goro/http.hpp"
#include "http_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using namespace http_test;
using goro_test::steady;

namespace {

using goro_test::raise_fd_limit;

TEST(HttpSlowloris, SlowHeadersDoNotStarveOthersAndTimeOut) {
  const int slow = goro_test::kSanitized ? 200 : 1000;
  if (raise_fd_limit(2 * slow + 512) < static_cast<rlim_t>(2 * slow + 256)) GTEST_SKIP() << "too few fds allowed";
  goro::run([slow] {
    http::server_options o;
    // Long enough that the ordinary requests below finish well inside
    // it on a loaded machine (they take milliseconds), so the slow
    // connections are certainly open meanwhile; checked below.
    o.read_header_timeout = goro_test::kSanitized ? 8s : 4s;
    auto served = std::make_shared<std::atomic<int>>(0);
    test_server ts(
        [served](http::response_writer& w, const http::request&) {
          (*served)++;
          (void)w.write("ok");
        },
        o);

    // The slow clients: connect, send part of a header, wait for the
    // go-ahead, send one more byte, and wait to be closed.
    std::atomic<int> connected{0}, closed{0};
    auto trickle = goro::make_chan<goro::unit>();
    goro::wait_group wg;
    const std::string addr = ts.addr;
    for (int i = 0; i < slow; i++) {
      wg.go([&, i] {
        auto d = net::dial("tcp", addr);
        if (d.second) {
          ADD_FAILURE() << "dial " << i << ": " << d.second.message();
          trickle.recv();
          return;
        }
        net::conn c = d.first;
        (void)c.write(std::string_view("GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: "));
        connected++;
        trickle.recv();
        (void)c.write(std::string_view("a"));
        if (closed_by_peer(c)) closed++;
        c.close();
      });
    }
    for (int i = 0; i < 40000 && ts.srv.open_connections() < static_cast<size_t>(slow); i++) goro::sleep_for(1ms);
    ASSERT_GE(ts.srv.open_connections(), static_cast<size_t>(slow));

    // Ordinary requests while they are held: on new connections, and on
    // one kept alive.
    const int normal = 100;
    double worst_ms = 0;
    http::client keep;
    for (int i = 0; i < normal; i++) {
      auto t0 = steady::now();
      http::client fresh({.max_idle_per_host = 0});
      auto r = (i % 2 == 0 ? fresh : keep).get(goro::background(), ts.url + "/fast");
      worst_ms = std::max(worst_ms, goro_test::ms_since(t0));
      ASSERT_FALSE(r.second) << r.second.message();
      EXPECT_EQ(r.first.body, "ok");
    }
    EXPECT_EQ(served->load(), normal);
    // Every slow connection was still open all along: none has been
    // closed yet (their header deadline is seconds away).
    EXPECT_GE(ts.srv.open_connections(), static_cast<size_t>(slow));
    std::printf("[slowloris] %d slow connections held; %d requests served beside them, worst %.1f ms\n", slow,
                normal, worst_ms);

    trickle.close();
    wg.wait();
    EXPECT_EQ(connected.load(), slow);
    EXPECT_EQ(closed.load(), slow);  // by read_header_timeout
    EXPECT_EQ(served->load(), normal);  // no slow request reached the handler
    keep.close_idle_connections();
    for (int i = 0; i < 20000 && ts.srv.open_connections() > 0; i++) goro::sleep_for(1ms);
    EXPECT_EQ(ts.srv.open_connections(), 0u);
  });
}

}  // namespace
