// goro::http against hostile or careless input, from a review of the HTTP
// layer (2026-12-06): framing a request smuggler could use, lines that
// never end, CR LF injected into a request or a response, and the
// framing of responses a handler cuts short or a HEAD flushes. Each test
// failed before its fix.
//
// Loopback only; waits are on conditions, with long bounds; loops are
// bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "goro/goro.hpp"
#include "goro/http.hpp"
#include "http_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using namespace http_test;

namespace {

goro::context bg() { return goro::background(); }

std::chrono::steady_clock::time_point steady_clock_after(std::chrono::seconds d) {
  return std::chrono::steady_clock::now() + d;
}

// Sends `req` on a fresh connection and reads one response (20 s bound).
raw_response send_raw(const test_server& ts, const std::string& req, bool* closed_after = nullptr) {
  auto d = net::dial("tcp", ts.addr);
  EXPECT_FALSE(d.second);
  net::conn c = d.first;
  (void)c.set_deadline(steady_clock_after(20s));
  EXPECT_FALSE(c.write(req).second);
  std::string buf;
  raw_response r = read_response(c, buf);
  if (closed_after != nullptr) *closed_after = closed_by_peer(c);
  c.close();
  return r;
}

// A Transfer-Encoding other than one "chunked" is refused, and what
// follows the header is never parsed as a request of its own (Beast
// takes such a request as bodiless).
TEST(HttpHardening, TransferEncodingOtherThanChunkedIsRefused) {
  goro::run([] {
    std::atomic<int> smuggled{0};
    test_server ts([&](http::response_writer& w, const http::request& r) {
      if (r.path == "/smuggled") smuggled++;
      (void)w.write("ok");
    });
    const std::string inner = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    struct kase {
      std::string te;
      int want;
    };
    for (const kase& k : {kase{"Transfer-Encoding: chunked, identity\r\n", 501},
                          kase{"Transfer-Encoding: gzip\r\n", 501},
                          kase{"Transfer-Encoding: gzip\r\nContent-Length: 0\r\n", 501},
                          kase{"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400}}) {
      bool closed = false;
      raw_response r = send_raw(ts, "POST / HTTP/1.1\r\nHost: x\r\n" + k.te + "\r\n" + inner, &closed);
      ASSERT_TRUE(r.ok) << k.te;
      EXPECT_EQ(r.status, k.want) << k.te;
      EXPECT_TRUE(closed) << k.te;
    }
    // One "chunked", any case, is the framing it should be.
    raw_response r =
        send_raw(ts, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(smuggled.load(), 0);
  });
}

// A chunk-size line (or a trailer) that never ends is refused once it
// passes the limit, instead of growing the server's buffer without end.
TEST(HttpHardening, ChunkLineThatNeverEndsIsRefused) {
  goro::run([] {
    http::server_options o;
    o.max_header_bytes = 4096;
    o.max_body_bytes = 64 << 10;
    test_server ts([](http::response_writer& w, const http::request&) { (void)w.write("ok"); }, o);
    for (const char* start : {"1;", "0\r\nX-Trailer: "}) {
      auto d = net::dial("tcp", ts.addr);
      ASSERT_FALSE(d.second);
      net::conn c = d.first;
      (void)c.set_deadline(steady_clock_after(20s));
      ASSERT_FALSE(c.write("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(start)).second);
      // At most 1 MiB of a line that never ends, from a goroutine, while
      // this one waits for the answer (the server stops reading at some
      // point: the writer then fails or runs out).
      goro::wait_group wg;
      wg.go([c] {
        std::string chunk(16 << 10, 'a');
        for (int i = 0; i < 64; i++)
          if (c.write(chunk).second) return;
      });
      std::string buf;
      raw_response r = read_response(c, buf);
      EXPECT_TRUE(r.ok) << start << ": no answer";
      EXPECT_EQ(r.status, 400) << start;
      c.close();
      wg.wait();
    }
  });
}

// The client refuses a URL, method or header that would put CR LF (or
// another control character) into the request, instead of sending it.
TEST(HttpHardening, ClientRefusesControlCharactersInTheRequest) {
  goro::run([] {
    std::atomic<int> injected{0};
    test_server ts([&](http::response_writer& w, const http::request& r) {
      if (r.headers.has("X-Injected")) injected++;
      (void)w.write("ok");
    });
    http::client c;
    auto r1 = c.get(bg(), ts.url + "/a HTTP/1.1\r\nX-Injected: 1\r\nY:");
    EXPECT_EQ(r1.second, http::error::invalid_url);
    auto r2 = c.get(bg(), ts.url + "/a\nX-Injected: 1");
    EXPECT_EQ(r2.second, http::error::invalid_url);
    http::client_request bad_method;
    bad_method.method = "GET / HTTP/1.1\r\nX-Injected: 1\r\nX:";
    bad_method.url = ts.url + "/";
    EXPECT_EQ(c.do_request(bg(), bad_method).second, http::error::invalid_method);
    http::client_request bad_value;
    bad_value.url = ts.url + "/";
    bad_value.headers.set("X-Ok", "a\r\nX-Injected: 1");
    EXPECT_EQ(c.do_request(bg(), bad_value).second, http::error::invalid_header);
    http::client_request bad_name;
    bad_name.url = ts.url + "/";
    bad_name.headers.set("X-Injected: 1\r\nX", "v");
    EXPECT_EQ(c.do_request(bg(), bad_name).second, http::error::invalid_header);
    auto fine = c.get(bg(), ts.url + "/fine");
    ASSERT_FALSE(fine.second) << fine.second.message();
    EXPECT_EQ(fine.first.body, "ok");
    EXPECT_EQ(injected.load(), 0);
  });
}

// A response header a handler builds from request data cannot add header
// lines: CR and LF become spaces (Go's headerNewlineToSpace), and a field
// whose name is not a token is dropped.
TEST(HttpHardening, ResponseHeaderValuesCannotSplitTheResponse) {
  goro::run([] {
    test_server ts([](http::response_writer& w, const http::request& r) {
      w.header().set("X-Q", r.query_value("q"));
      w.header().set("Bad\r\nSet-Cookie: y", "1");
      (void)w.write("ok");
    });
    http::client c;
    auto r = c.get(bg(), ts.url + "/?q=a%0d%0aSet-Cookie:%20x=1");
    ASSERT_FALSE(r.second) << r.second.message();
    EXPECT_FALSE(r.first.headers.has("Set-Cookie"));
    EXPECT_EQ(r.first.headers.get("X-Q"), "a  Set-Cookie: x=1");
    EXPECT_EQ(r.first.body, "ok");
  });
}

// The write deadline of one request is not left on the connection for the
// next: its 100 Continue (and the idle wait) used to fail against it and
// the connection closed with no answer.
TEST(HttpHardening, AnEarlierWriteDeadlineDoesNotDropTheNext100Continue) {
  goro::run([] {
    http::server_options o;
    o.write_timeout = 300ms;
    o.idle_timeout = 30s;
    test_server ts([](http::response_writer& w, const http::request& r) { (void)w.write(r.body.empty() ? "first" : r.body); }, o);
    auto d = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d.second);
    net::conn c = d.first;
    (void)c.set_deadline(steady_clock_after(20s));
    ASSERT_FALSE(c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").second);
    std::string buf;
    raw_response r1 = read_response(c, buf);
    ASSERT_TRUE(r1.ok);
    EXPECT_EQ(r1.body, "first");
    // Past the first request's write deadline (this is the condition the
    // test needs, not a timing it checks).
    goro::sleep_for(o.write_timeout * 2);
    ASSERT_FALSE(c.write("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n").second);
    raw_response cont = read_response(c, buf);
    ASSERT_TRUE(cont.ok) << "no 100 Continue";
    EXPECT_EQ(cont.status, 100);
    ASSERT_FALSE(c.write("hello").second);
    raw_response r2 = read_response(c, buf);
    ASSERT_TRUE(r2.ok);
    EXPECT_EQ(r2.body, "hello");
    c.close();
  });
}

// A handler that throws after a chunked header went out leaves the body
// without its last chunk, so the client sees it cut short (Go closes the
// connection after a handler's panic) rather than a complete 200.
TEST(HttpHardening, HandlerThatThrowsMidChunkedBodyCutsItShort) {
  goro::run([] {
    test_server ts([](http::response_writer& w, const http::request&) {
      (void)w.write(std::string(5000, 'x'));  // past the buffer: chunked, header sent
      throw std::runtime_error("handler failed halfway");
    });
    http::client c;
    auto r = c.get(bg(), ts.url + "/");
    EXPECT_EQ(r.second, goro::io_errc::unexpected_eof) << r.second.message();
  });
}

// A HEAD whose handler flushes sends no chunk terminator (no body follows
// a HEAD's header), so the next response on the connection is read right.
TEST(HttpHardening, HeadWithAFlushLeavesTheConnectionUsable) {
  goro::run([] {
    test_server ts([](http::response_writer& w, const http::request& r) {
      if (r.method == "HEAD") {
        (void)w.flush();
        return;
      }
      (void)w.write("body");
    });
    http::client c;
    auto h = c.do_request(bg(), request_to("HEAD", ts.url + "/"));
    ASSERT_FALSE(h.second) << h.second.message();
    EXPECT_EQ(h.first.status, 200);
    EXPECT_TRUE(h.first.headers.get("Transfer-Encoding").empty());
    auto g = c.get(bg(), ts.url + "/");
    ASSERT_FALSE(g.second) << g.second.message();
    EXPECT_EQ(g.first.body, "body");
  });
}

// A handler that sets Transfer-Encoding: chunked itself gets chunking,
// and no Content-Length beside it (the client refused the answer).
TEST(HttpHardening, HandlerSetTransferEncodingChunkedIsHonored) {
  goro::run([] {
    test_server ts([](http::response_writer& w, const http::request&) {
      w.header().set("Transfer-Encoding", "chunked");
      (void)w.write("hello");
    });
    http::client c;
    auto r = c.get(bg(), ts.url + "/");
    ASSERT_FALSE(r.second) << r.second.message();
    EXPECT_EQ(r.first.body, "hello");
    EXPECT_TRUE(r.first.headers.get("Content-Length").empty());
  });
}

// When the pooled connection turns out closed, the retry dials instead of
// taking another pooled one, which the same idle timeout closed too.
TEST(HttpHardening, RetryAfterAStaleConnectionDials) {
  goro::set_maxprocs(2);
  goro::run([] {
    http::server_options o;
    o.idle_timeout = 50ms;
    http::client c;
    // Two connections in the pool: two requests at once, each held in its
    // handler until both have arrived.
    std::atomic<int> in_handler{0};
    test_server slow(
        [&](http::response_writer& w, const http::request&) {
          in_handler++;
          goro_test::spin_until([&] { return in_handler.load() >= 2; });
          (void)w.write("ok");
        },
        o);
    goro::wait_group wg;
    for (int i = 0; i < 2; i++)
      wg.go([&] {
        auto r = c.get(bg(), slow.url + "/");
        EXPECT_FALSE(r.second) << r.second.message();
      });
    wg.wait();
    ASSERT_EQ(c.idle_connections(), 2u);
    // The server's idle timeout closes both.
    ASSERT_TRUE(goro_test::spin_until([&] { return slow.srv.open_connections() == 0; }));
    auto r = c.get(bg(), slow.url + "/");
    ASSERT_FALSE(r.second) << r.second.message();
    EXPECT_EQ(r.first.body, "ok");
  });
}

// serve_mux cleans the path first: "/static/../x" must not reach the
// "/static/" handler (Go answers 301 to the clean path).
TEST(HttpHardening, MuxRedirectsToTheCleanPath) {
  goro::run([] {
    http::serve_mux mux;
    std::atomic<int> static_hits{0};
    mux.handle("/static/", [&](http::response_writer& w, const http::request&) {
      static_hits++;
      (void)w.write("static");
    });
    test_server ts(mux);
    for (const char* path : {"/static/../x", "/static/%2e%2e/x", "/static//a", "/static/./a"}) {
      raw_response r = send_raw(ts, std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      ASSERT_TRUE(r.ok) << path;
      EXPECT_EQ(r.status, 301) << path;
    }
    raw_response up = send_raw(ts, "GET /static/../x?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(up.header("Location"), "/x?q=1");
    raw_response clean = send_raw(ts, "GET /static/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(clean.status, 200);
    EXPECT_EQ(static_hits.load(), 1);
    // An absolute-form target with no path has an empty one (as Go's
    // ParseRequestURI reads it): 301 to "/", its query kept, as Go's mux.
    // Before, the mux served it as "/" (a 404 here).
    raw_response empty = send_raw(ts, "GET http://x?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(empty.status, 301);
    EXPECT_EQ(empty.header("Location"), "/?q=1");
  });
}

}  // namespace

namespace {

// serve() takes its own listener off the server's list when it returns,
// not every listener with the same fd number: a listener closed by the
// user frees its number, and one opened since may have it. It was taken
// off too, so close() did not close it and its serve() never returned.
// The first connection's new_conn callback (on serve's goroutine, between
// two accepts) holds serve(l1) while l1 closes and l2 takes its number.
TEST(HttpHardening, ServeTakesOffItsOwnListenerNotOneWithItsNumber) {
  goro::run([] {
    auto in_callback = goro::make_chan<goro::unit>();
    auto go_on = goro::make_chan<goro::unit>();
    auto first = std::make_shared<std::atomic<bool>>(true);
    http::server_options o;
    o.on_conn_state = [=](const net::conn&, http::conn_state s) {
      if (s == http::conn_state::new_conn && first->exchange(false)) {
        in_callback.send({});
        go_on.recv();
      }
    };
    http::server srv([](http::response_writer& w, const http::request&) { (void)w.write("ok"); }, o);
    auto l1 = net::listen("tcp4", "127.0.0.1:0").first;
    ASSERT_TRUE(l1);
    const int number = l1.fd();
    auto served1 = goro::make_chan<std::error_code>(1);
    auto served2 = goro::make_chan<std::error_code>(1);
    goro::go([=] { served1.send(srv.serve(l1)); });
    auto c1 = net::dial("tcp", l1.addr().to_string()).first;
    ASSERT_TRUE(c1);
    in_callback.recv();
    ASSERT_FALSE(l1.close());  // no accept in progress: the number is free at once
    // The lowest free number goes to the next socket: open listeners until
    // one has l1's (any lower free numbers are taken first).
    net::listener l2;
    std::vector<net::listener> fillers;
    for (int i = 0; i < 4096 && !l2; i++) {
      auto lr = net::listen("tcp4", "127.0.0.1:0");
      ASSERT_FALSE(lr.second) << lr.second.message();
      if (lr.first.fd() == number)
        l2 = lr.first;
      else
        fillers.push_back(lr.first);
    }
    for (const auto& f : fillers) (void)f.close();
    ASSERT_TRUE(l2) << "no listener got fd " << number;
    goro::go([=] { served2.send(srv.serve(l2)); });
    http::client c;
    auto r = c.get(bg(), "http://" + l2.addr().to_string() + "/");  // l2 is served now
    ASSERT_FALSE(r.second) << r.second.message();
    EXPECT_EQ(r.first.body, "ok");
    c.close_idle_connections();
    go_on.send({});  // serve(l1) accepts on its closed listener and returns
    EXPECT_EQ(served1.recv(), goro::errc::closed);
    EXPECT_FALSE(srv.close());  // closes l2 too, if the list still has it
    auto bound = goro::after(20s);
    int i = goro::select(goro::on_recv(served2), goro::on_recv(bound));
    EXPECT_EQ(i, 0) << "serve(l2) did not return: close() did not close its listener";
    c1.close();
  });
}

}  // namespace
