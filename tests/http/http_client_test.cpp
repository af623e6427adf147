// goro::http's client against Go's Transport where a review of the client
// found them apart: an answer that comes while the request body is still
// being written (Go's persistConn reads while it writes). Each test failed
// before its fix.
//
// The servers here are bare listeners that answer as the test needs.
// Loopback only; waits are on conditions (channels, a connection's end),
// with long bounds; loops are bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "goro/goro.hpp"
#include "goro/http.hpp"
#include "http_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using namespace http_test;
using goro_test::steady;

namespace {

// A bare server: accepts connections until stopped, each served by
// serve(conn) in a goroutine of its own. stop() closes the listener and
// waits for the accept loop and every connection's goroutine.
struct bare_server {
  template <class F>
  explicit bare_server(F serve) {
    auto lr = net::listen("tcp4", "127.0.0.1:0");
    EXPECT_FALSE(lr.second) << lr.second.message();
    ln = lr.first;
    url = "http://" + ln.addr().to_string();
    wg->add(1);
    goro::go([ln = ln, wg = wg, accepts = accepts, serve] {
      for (;;) {
        auto a = ln.accept();
        if (a.second) break;
        (*accepts)++;
        net::conn c = a.first;
        (void)c.set_deadline(steady::now() + 20s);
        wg->go([c, serve] {
          serve(c);
          (void)c.close();
        });
      }
      wg->done();
    });
  }
  ~bare_server() { stop(); }
  void stop() {
    (void)ln.close();
    wg->wait();
  }
  net::listener ln;
  std::string url;
  std::shared_ptr<goro::wait_group> wg = std::make_shared<goro::wait_group>();
  std::shared_ptr<std::atomic<int>> accepts = std::make_shared<std::atomic<int>>(0);
};

}  // namespace

// A server that answers before it has read the body (413 for a body too
// large) and then neither reads nor closes: the client returns that answer
// at once and does not pool the connection, as Go's does (its readLoop
// reads while writeLoop writes). The server holds the connection until the
// client's call has returned, so a client that first writes the whole body
// waits for its deadline. Before: "context deadline exceeded" after 5 s.
TEST(HttpClient, AnAnswerThatComesWhileTheBodyIsStuckIsReturnedAtOnce) {
  goro::run([] {
    auto returned = goro::make_chan<goro::unit>();  // closed once the client's call has returned
    bare_server s([returned](const net::conn& c) {
      std::string buf;
      while (buf.find("\r\n\r\n") == std::string::npos)
        if (!fill(c, buf)) return;
      (void)c.write(std::string_view(
          "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig"));
      returned.recv();
    });
    http::client cl;
    goro::cancel_func cancel;
    const auto t0 = steady::now();
    auto r = cl.post(timeout_ctx(5000ms, cancel), s.url + "/", "application/octet-stream",
                     std::string(32 << 20, 'x'));
    const double ms = goro_test::ms_since(t0);
    cancel();
    returned.close();
    ASSERT_FALSE(r.second) << r.second.message() << " after " << ms << " ms";
    EXPECT_EQ(r.first.status, 413);
    EXPECT_EQ(r.first.body, "big");
    EXPECT_EQ(cl.idle_connections(), 0u);
  });
}

// The same request against a server that reads the header and then
// nothing, and never answers: a cancel still ends the call with the
// context's error, and the body's writer (a goroutine of the call) is gone
// when it returns (the binary's leak check would list it).
TEST(HttpClient, ACancelEndsARequestWhoseBodyIsStuck) {
  goro::run([] {
    auto returned = goro::make_chan<goro::unit>();
    goro::cancel_func cancel;
    auto ctx = timeout_ctx(30000ms, cancel);
    bare_server s([returned, cancel](const net::conn& c) {
      std::string buf;
      while (buf.find("\r\n\r\n") == std::string::npos)
        if (!fill(c, buf)) return;
      cancel();  // the request is under way: cancel it
      returned.recv();
    });
    http::client cl;
    auto r = cl.post(ctx, s.url + "/", "application/octet-stream", std::string(32 << 20, 'x'));
    returned.close();
    cancel();
    EXPECT_EQ(r.second, goro::errc::canceled) << r.second.message();
    EXPECT_EQ(cl.idle_connections(), 0u);
  });
}
