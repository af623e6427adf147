// goro::http's client against Go's Transport where a review of the client
// found them apart: an answer that comes while the request body is still
// being written (Go's persistConn reads while it writes), which requests
// are sent again after the server closed a reused connection without
// answering (Go's isReplayable), and a response that carries both
// Content-Length and Transfer-Encoding: chunked. Each test failed before
// its fix.
//
// The servers here are bare listeners that answer as the test needs.
// Loopback only; waits are on conditions (channels, a connection's end),
// with long bounds; loops are bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "goro/goro.hpp"
#include "goro/http.hpp"
#include "http_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using namespace http_test;
using goro_test::steady;

namespace {

// Reads one request (its header, then a Content-Length body) from c into
// `head` and `body`; false if the connection ended first.
bool read_request(const net::conn& c, std::string& buf, std::string& head, std::string& body) {
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos)
    if (!fill(c, buf)) return false;
  head = buf.substr(0, end + 2);
  buf.erase(0, end + 4);
  raw_response fields;  // (its header() reads a request's fields as well)
  fields.head = head;
  size_t n = std::strtoul(fields.header("Content-Length").c_str(), nullptr, 10);
  while (buf.size() < n)
    if (!fill(c, buf)) return false;
  body = buf.substr(0, n);
  buf.erase(0, n);
  return true;
}

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

// A server that reads the request's header, answers 413 at once, and then
// reads nothing more and holds the connection until `returned` is closed.
auto answers_413_early(goro::chan<goro::unit> returned) {
  return [returned](const net::conn& c) {
    std::string buf;
    while (buf.find("\r\n\r\n") == std::string::npos)
      if (!fill(c, buf)) return;
    (void)c.write(std::string_view(
        "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig"));
    returned.recv();
  };
}

// A server that answers before it has read the body (413 for a body too
// large) and then neither reads nor closes: the client returns that answer
// at once and does not pool the connection, as Go's does (its readLoop
// reads while writeLoop writes). The server holds the connection until the
// client's call has returned, so a client that first writes the whole body
// waits for its deadline. Before: "context deadline exceeded" after 5 s.
TEST(HttpClient, AnAnswerThatComesWhileTheBodyIsStuckIsReturnedAtOnce) {
  goro::run([] {
    auto returned = goro::make_chan<goro::unit>();  // closed once the client's call has returned
    bare_server s(answers_413_early(returned));
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

// The body's writer is a goroutine also when the caller is a plain
// thread (which waits for it in poll and on its channel): the early answer
// reaches a thread the same way.
TEST(HttpClient, AnAnswerThatComesWhileTheBodyIsStuckReachesAPlainThread) {
  goro::run([] {
    auto returned = goro::make_chan<goro::unit>();
    bare_server s(answers_413_early(returned));
    http::client cl;
    auto result = goro::make_chan<std::pair<http::response, std::error_code>>(1);
    std::thread t([&] {
      goro::cancel_func cancel;
      auto r = cl.post(timeout_ctx(5000ms, cancel), s.url + "/", "application/octet-stream",
                       std::string(32 << 20, 'x'));
      cancel();
      result.send(std::move(r));
    });
    auto r = result.recv();
    t.join();  // it has sent: it is returning
    returned.close();
    ASSERT_FALSE(r.second) << r.second.message();
    EXPECT_EQ(r.first.status, 413);
    EXPECT_EQ(r.first.body, "big");
    EXPECT_EQ(cl.idle_connections(), 0u);
  });
}

// A request the server read on a reused connection and closed without
// answering is sent again only if Go would replay it (isReplayable): GET,
// HEAD, OPTIONS, TRACE, or any request with an Idempotency-Key or
// X-Idempotency-Key header. A PUT or a DELETE fails with EOF, as in Go,
// and the server sees it once. Before: PUT and DELETE were sent twice, and
// a POST with a key was not sent again.
TEST(HttpClient, OnlyReplayableRequestsAreSentAgainAfterAnUnansweredClose) {
  goro::run([] {
    // Each connection answers its first request and closes on reading its
    // second; every request's method and target is reported on `seen`.
    auto seen = goro::make_chan<std::string>(64);
    bare_server s([seen](const net::conn& c) {
      std::string buf, head, body;
      for (int n = 0; read_request(c, buf, head, body); n++) {
        seen.send(head.substr(0, head.find(" HTTP/")));
        if (n > 0) return;
        if (c.write(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")).second) return;
      }
    });
    struct tcase {
      std::string method, key_header;
      bool replayed;
    };
    for (const tcase& tc : {tcase{"PUT", "", false}, tcase{"DELETE", "", false}, tcase{"GET", "", true},
                            tcase{"PUT", "Idempotency-Key", true}, tcase{"POST", "X-Idempotency-Key", true}}) {
      // (No SCOPED_TRACE: gtest keeps traces per thread, and a goroutine
      // may move between threads.)
      const std::string name = tc.method + " " + tc.key_header;
      http::client cl;
      auto warm = cl.get(goro::background(), s.url + "/warm");
      ASSERT_FALSE(warm.second) << name << ": " << warm.second.message();
      ASSERT_EQ(cl.idle_connections(), 1u) << name;
      http::client_request req = request_to(tc.method, s.url + "/x");
      if (tc.method != "GET" && tc.method != "DELETE") req.body = "data";
      if (!tc.key_header.empty()) req.headers.set(tc.key_header, "k1");
      auto r = cl.do_request(goro::background(), req);
      if (tc.replayed) {
        ASSERT_FALSE(r.second) << name << ": " << r.second.message();
        EXPECT_EQ(r.first.body, "ok") << name;
      } else {
        EXPECT_EQ(r.second, goro::io_errc::eof) << name << ": " << r.second.message();
      }
      // The server reported each request before answering or closing.
      std::vector<std::string> got;
      while (auto line = seen.try_recv()) got.push_back(*line);
      std::vector<std::string> want = {"GET /warm", tc.method + " /x"};
      if (tc.replayed) want.push_back(tc.method + " /x");
      EXPECT_EQ(got, want) << name;
    }
  });
}

// A response with both Content-Length and Transfer-Encoding: chunked (in
// either order) is read as chunked, its Content-Length dropped (Go's
// readTransfer), and its connection is not reused: such a response may be
// a response-splitting attempt (RFC 9112 6.3), and what follows it on the
// connection is not to be trusted. Before: "malformed HTTP response".
TEST(HttpClient, ChunkedWinsOverContentLengthAndTheConnectionIsNotReused) {
  goro::run([] {
    bare_server s([](const net::conn& c) {
      std::string buf, head, body;
      while (read_request(c, buf, head, body)) {
        std::string_view answer;
        if (head.starts_with("GET /cl-first "))
          answer = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        else if (head.starts_with("GET /te-first "))
          answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\ncontent-length: 30\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        else if (head.starts_with("GET /two-lengths "))
          answer =
              "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        else
          answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        if (c.write(answer).second) return;
      }
    });
    http::client cl;
    for (const std::string path : {"/cl-first", "/te-first"}) {
      auto r = cl.get(goro::background(), s.url + path);
      ASSERT_FALSE(r.second) << path << ": " << r.second.message();
      EXPECT_EQ(r.first.status, 200) << path;
      EXPECT_EQ(r.first.body, "hello") << path;
      EXPECT_FALSE(r.first.headers.has("Content-Length")) << path;
      EXPECT_EQ(cl.idle_connections(), 0u) << path;
    }
    EXPECT_EQ(s.accepts->load(), 2);
    // Two Content-Length fields that differ are an error, chunked or not
    // (Go's fixLength checks them first).
    EXPECT_TRUE(cl.get(goro::background(), s.url + "/two-lengths").second);
    // A chunked response without a Content-Length keeps its connection.
    auto plain = cl.get(goro::background(), s.url + "/plain");
    ASSERT_FALSE(plain.second) << plain.second.message();
    EXPECT_EQ(plain.first.body, "hello");
    EXPECT_EQ(cl.idle_connections(), 1u);
  });
}
