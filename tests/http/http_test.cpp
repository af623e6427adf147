// goro::http (goro/http.hpp, src/http/): round trips, keep-alive reuse,
// pipelining, chunked bodies both ways, 431 and 413, timeouts, the
// request's context on client disconnect and shutdown, graceful shutdown,
// the client's per-request timeout, many clients at once, slowloris.
//
// Loopback only. Every wait is on a condition (a handler reached, a
// count, a connection seen closed), never on elapsed time; the timeouts
// under test are short and the bounds around them long; loops are
// bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
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

// Echoes method, path, query value "q", a header and the body.
void echo_handler(http::response_writer& w, const http::request& r) {
  w.header().set("X-Method", r.method);
  w.header().set("X-Path", r.path);
  w.header().set("X-Q", r.query_value("q"));
  w.header().set("X-Token", std::string(r.headers.get("x-TOKEN")));
  (void)w.write(r.body);
}

goro::context bg() { return goro::background(); }

TEST(HttpServer, RoundTrips) {
  goro_test::for_procs([] {
    http::serve_mux mux;
    mux.handle("/echo", echo_handler);
    mux.handle("/tree/", [](http::response_writer& w, const http::request& r) { (void)w.write("tree:" + r.path); });
    mux.handle("/nobody", [](http::response_writer& w, const http::request&) { w.write_header(204); });
    test_server ts(mux);
    http::client c;

    http::client_request req;
    req.method = "POST";
    req.url = ts.url + "/echo?q=a%20b+c&z=1";
    req.headers.set("X-Token", "t0k");
    req.body = "payload";
    auto [resp, err] = c.do_request(bg(), req);
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(resp.reason, "OK");
    EXPECT_EQ(resp.body, "payload");
    EXPECT_EQ(resp.headers.get("x-method"), "POST");
    EXPECT_EQ(resp.headers.get("X-Path"), "/echo");
    EXPECT_EQ(resp.headers.get("X-Q"), "a b c");
    EXPECT_EQ(resp.headers.get("X-Token"), "t0k");
    EXPECT_EQ(resp.headers.get("Content-Length"), "7");

    auto g = c.get(bg(), ts.url + "/tree/a/b");
    ASSERT_FALSE(g.second);
    EXPECT_EQ(g.first.body, "tree:/tree/a/b");

    auto redirect = c.get(bg(), ts.url + "/tree?x=1");
    ASSERT_FALSE(redirect.second);
    EXPECT_EQ(redirect.first.status, 301);
    EXPECT_EQ(redirect.first.headers.get("Location"), "/tree/?x=1");

    auto missing = c.get(bg(), ts.url + "/nope");
    ASSERT_FALSE(missing.second);
    EXPECT_EQ(missing.first.status, 404);
    EXPECT_EQ(missing.first.body, "404 page not found\n");

    auto nobody = c.get(bg(), ts.url + "/nobody");
    ASSERT_FALSE(nobody.second);
    EXPECT_EQ(nobody.first.status, 204);
    EXPECT_EQ(nobody.first.body, "");

    auto h = c.do_request(bg(), request_to("HEAD", ts.url + "/tree/x"));
    ASSERT_FALSE(h.second) << h.second.message();
    EXPECT_EQ(h.first.status, 200);
    EXPECT_EQ(h.first.body, "");
    EXPECT_EQ(h.first.headers.get("Content-Length"), "12");  // what the handler wrote: "tree:/tree/x"

    EXPECT_EQ(c.get(bg(), "https://" + ts.addr + "/").second, http::error::unsupported_scheme);
    EXPECT_EQ(c.get(bg(), "not a url").second, http::error::invalid_url);
    EXPECT_FALSE(ts.stop());
  });
}

TEST(HttpServer, HandlerExceptionIs500AndTheServerGoesOn) {
  goro::run([] {
    test_server ts([](http::response_writer& w, const http::request& r) {
      if (r.path == "/throw") throw std::runtime_error("boom");
      (void)w.write("fine");
    });
    http::client c;
    auto r = c.get(bg(), ts.url + "/throw");
    ASSERT_FALSE(r.second) << r.second.message();
    EXPECT_EQ(r.first.status, 500);
    auto ok = c.get(bg(), ts.url + "/");
    ASSERT_FALSE(ok.second);
    EXPECT_EQ(ok.first.body, "fine");
  });
}

// Sequential requests from one client use one connection.
TEST(HttpClient, KeepAliveReusesOneConnection) {
  goro::run([] {
    auto accepted = std::make_shared<std::atomic<int>>(0);
    http::server_options o;
    o.on_conn_state = [accepted](const net::conn&, http::conn_state s) {
      if (s == http::conn_state::new_conn) (*accepted)++;
    };
    std::set<std::string> peers;
    goro::mutex mu;
    test_server ts(
        [&](http::response_writer& w, const http::request& r) {
          goro::mutex_lock lk(mu);
          peers.insert(r.remote_addr.to_string());
          (void)w.write("x");
        },
        o);
    http::client c;
    for (int i = 0; i < 20; i++) {
      auto r = c.get(bg(), ts.url + "/");
      ASSERT_FALSE(r.second) << r.second.message();
      EXPECT_EQ(r.first.body, "x");
    }
    EXPECT_EQ(accepted->load(), 1);
    EXPECT_EQ(c.idle_connections(), 1u);
    {
      goro::mutex_lock lk(mu);
      EXPECT_EQ(peers.size(), 1u);
    }
    // A client that keeps none dials each time.
    http::client noidle({.max_idle_per_host = 0});
    for (int i = 0; i < 3; i++) ASSERT_FALSE(noidle.get(bg(), ts.url + "/").second);
    EXPECT_EQ(accepted->load(), 4);
    EXPECT_EQ(noidle.idle_connections(), 0u);
    c.close_idle_connections();
    EXPECT_EQ(c.idle_connections(), 0u);
    EXPECT_FALSE(ts.stop());
  });
}

// A pooled connection the server closed (idle timeout) is replaced
// without the caller seeing an error.
TEST(HttpClient, RetriesWhenThePooledConnectionWasClosed) {
  goro::run([] {
    auto closed = std::make_shared<std::atomic<int>>(0);
    http::server_options o;
    o.idle_timeout = 50ms;
    o.on_conn_state = [closed](const net::conn&, http::conn_state s) {
      if (s == http::conn_state::closed) (*closed)++;
    };
    test_server ts([](http::response_writer& w, const http::request&) { (void)w.write("y"); }, o);
    http::client c;
    ASSERT_FALSE(c.get(bg(), ts.url + "/").second);
    EXPECT_EQ(c.idle_connections(), 1u);
    for (int i = 0; i < 20000 && closed->load() == 0; i++) goro::sleep_for(1ms);  // the server's idle close
    ASSERT_EQ(closed->load(), 1);
    auto r = c.get(bg(), ts.url + "/");
    ASSERT_FALSE(r.second) << r.second.message();
    EXPECT_EQ(r.first.body, "y");
  });
}

// Three requests sent at once on one connection are answered in order,
// the first (slowest) first.
TEST(HttpServer, PipelinedRequestsAnsweredInOrder) {
  goro_test::for_procs([] {
    test_server ts([](http::response_writer& w, const http::request& r) {
      if (r.path == "/1") goro::sleep_for(20ms);  // later requests are already buffered
      (void)w.write("resp" + r.path + ":" + r.body);
    });
    auto d = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d.second);
    net::conn c = d.first;
    std::string reqs;
    for (int i = 1; i <= 3; i++)
      reqs += "POST /" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n" + std::to_string(i);
    reqs += "GET /4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ASSERT_FALSE(c.write(reqs).second);
    std::string buf;
    for (int i = 1; i <= 3; i++) {
      raw_response r = read_response(c, buf);
      ASSERT_TRUE(r.ok);
      EXPECT_EQ(r.body, "resp/" + std::to_string(i) + ":" + std::to_string(i));
    }
    raw_response last = read_response(c, buf);
    ASSERT_TRUE(last.ok);
    EXPECT_EQ(last.body, "resp/4:");
    EXPECT_EQ(last.header("Connection"), "close");
    EXPECT_TRUE(closed_by_peer(c));
    c.close();
  });
}

TEST(HttpServer, ChunkedRequestBodyIsDecoded) {
  goro::run([] {
    test_server ts(echo_handler);
    auto d = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d.second);
    net::conn c = d.first;
    ASSERT_FALSE(c.write(std::string_view("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                          "5\r\nhello\r\n"))
                     .second);
    ASSERT_FALSE(c.write(std::string_view("7\r\n, world\r\n0\r\n\r\n")).second);
    std::string buf;
    raw_response r = read_response(c, buf);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello, world");
    c.close();
  });
}

// A handler writing more than the buffer without a Content-Length is
// sent chunked; flush() sends what there is at once (streaming).
TEST(HttpServer, ChunkedResponsesAndFlush) {
  goro::run([] {
    auto go_on = goro::make_chan<goro::unit>();
    test_server ts([go_on](http::response_writer& w, const http::request& r) {
      if (r.path == "/big") {
        for (int i = 0; i < 10; i++) (void)w.write(std::string(1000, static_cast<char>('a' + i)));
        return;
      }
      (void)w.write("first;");
      EXPECT_FALSE(w.flush());
      go_on.recv();  // the client has read the first chunk
      (void)w.write("second");
    });
    http::client cl;
    auto big = cl.get(bg(), ts.url + "/big");
    ASSERT_FALSE(big.second);
    ASSERT_EQ(big.first.body.size(), 10000u);
    EXPECT_EQ(big.first.body[9999], 'j');
    EXPECT_EQ(big.first.headers.get("Transfer-Encoding"), "chunked");

    auto d = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d.second);
    net::conn c = d.first;
    ASSERT_FALSE(c.write(std::string_view("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")).second);
    std::string buf;
    while (buf.find("first;") == std::string::npos) ASSERT_TRUE(fill(c, buf));
    EXPECT_NE(buf.find("Transfer-Encoding: chunked"), std::string::npos);
    go_on.send({});
    // Parse from the start: the header and first chunk are in buf.
    raw_response r = read_response(c, buf);
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.chunked);
    EXPECT_EQ(r.body, "first;second");
    c.close();
  });
}

// 431 for a header over the limit, 413 for a body over it, each then
// closing that connection only: a keep-alive connection beside goes on.
TEST(HttpServer, HeaderAndBodyLimitsAnswerThenClose) {
  goro_test::for_procs([] {
    http::server_options o;
    o.max_header_bytes = 1024;
    o.max_body_bytes = 1000;
    test_server ts(echo_handler, o);
    http::client keep;
    ASSERT_FALSE(keep.get(bg(), ts.url + "/before").second);

    for (int kind = 0; kind < 3; kind++) {
      auto d = net::dial("tcp", ts.addr);
      ASSERT_FALSE(d.second);
      net::conn c = d.first;
      std::string req;
      int want;
      if (kind == 0) {
        req = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n";
        want = 431;
      } else if (kind == 1) {
        req = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'p');
        want = 413;
      } else {
        req = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 10; i++) req += "c8\r\n" + std::string(200, 'q') + "\r\n";
        req += "0\r\n\r\n";
        want = 413;
      }
      ASSERT_FALSE(c.write(req).second);
      std::string buf;
      raw_response r = read_response(c, buf);
      ASSERT_TRUE(r.ok);
      EXPECT_EQ(r.status, want) << "kind " << kind;
      EXPECT_EQ(r.header("Connection"), "close");
      c.close();
      auto after = keep.get(bg(), ts.url + "/after");
      ASSERT_FALSE(after.second) << after.second.message();
      EXPECT_EQ(after.first.status, 200);
    }
    EXPECT_EQ(keep.idle_connections(), 1u);
    // A body at the limit is fine.
    auto atlimit = keep.post(bg(), ts.url + "/", "text/plain", std::string(1000, 'k'));
    ASSERT_FALSE(atlimit.second);
    EXPECT_EQ(atlimit.first.body.size(), 1000u);
  });
}

TEST(HttpServer, ReadHeaderAndIdleTimeoutsCloseTheConnection) {
  goro::run([] {
    http::server_options o;
    o.read_header_timeout = 100ms;
    o.idle_timeout = 100ms;
    test_server ts(echo_handler, o);
    // A header that never ends.
    auto d = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d.second);
    ASSERT_FALSE(d.first.write(std::string_view("GET / HTTP/1.1\r\nHost: x\r\n")).second);
    EXPECT_TRUE(closed_by_peer(d.first));
    d.first.close();
    // A connection that sends nothing.
    auto d2 = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d2.second);
    EXPECT_TRUE(closed_by_peer(d2.first));
    d2.first.close();
    // A keep-alive connection, idle after one request.
    auto d3 = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d3.second);
    ASSERT_FALSE(d3.first.write(std::string_view("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).second);
    std::string buf;
    ASSERT_TRUE(read_response(d3.first, buf).ok);
    EXPECT_TRUE(closed_by_peer(d3.first));
    d3.first.close();
  });
}

// A client that does not read: the handler's write fails once the
// write timeout passes.
TEST(HttpServer, WriteTimeoutFailsTheHandlersWrite) {
  goro::run([] {
    http::server_options o;
    o.write_timeout = 100ms;
    auto result = goro::make_chan<std::error_code>(1);
    test_server ts(
        [result](http::response_writer& w, const http::request&) {
          std::string chunk(1 << 20, 'w');
          std::error_code e;
          for (int i = 0; i < 1024 && !e; i++) e = w.write(chunk);  // 1 GiB at most
          result.send(e);
        },
        o);
    auto d = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d.second);
    ASSERT_FALSE(d.first.write(std::string_view("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).second);
    std::error_code e = result.recv();
    EXPECT_EQ(e, goro::errc::deadline_exceeded) << e.message();
    d.first.close();
  });
}

// The client hangs up while the handler waits: the request's context is
// cancelled, and the handler sees it.
TEST(HttpServer, ClientDisconnectCancelsTheRequestContext) {
  goro_test::for_procs([] {
    auto started = goro::make_chan<goro::unit>(1);
    auto seen = goro::make_chan<std::error_code>(1);
    test_server ts([started, seen](http::response_writer& w, const http::request& r) {
      started.send({});
      // handleRequest: wait for work or for the client to go away.
      int i = goro::select(goro::on_recv(r.ctx().done()), goro::on_recv(goro::after(30s)));
      seen.send(i == 0 ? r.ctx().err() : std::error_code(goro::errc::deadline_exceeded));
      (void)w.write("late");
    });
    auto d = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d.second);
    ASSERT_FALSE(d.first.write(std::string_view("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")).second);
    started.recv();
    d.first.close();
    EXPECT_EQ(seen.recv(), goro::errc::canceled);
  });
}

// Pipelined bytes that arrive while a handler runs are not taken for a
// disconnect: the context stays alive and the next request is answered.
TEST(HttpServer, PipelinedBytesDuringAHandlerDoNotCancelIt) {
  goro::run([] {
    auto started = goro::make_chan<goro::unit>(1);
    auto go_on = goro::make_chan<goro::unit>();
    test_server ts([started, go_on](http::response_writer& w, const http::request& r) {
      if (r.path == "/first") {
        started.send({});
        go_on.recv();
        EXPECT_FALSE(r.ctx().err());
      }
      (void)w.write(r.path);
    });
    auto d = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d.second);
    net::conn c = d.first;
    ASSERT_FALSE(c.write(std::string_view("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")).second);
    started.recv();
    ASSERT_FALSE(c.write(std::string_view("GET /second HTTP/1.1\r\nHost: x\r\n\r\n")).second);
    go_on.send({});
    std::string buf;
    EXPECT_EQ(read_response(c, buf).body, "/first");
    EXPECT_EQ(read_response(c, buf).body, "/second");
    c.close();
  });
}

// Graceful shutdown: a request in progress finishes, new connections
// are refused, and shutdown returns {} once the request is answered.
TEST(HttpServer, GracefulShutdownFinishesInFlightAndRefusesNew) {
  goro_test::for_procs([] {
    auto started = goro::make_chan<goro::unit>(1);
    auto release = goro::make_chan<goro::unit>();
    test_server ts([started, release](http::response_writer& w, const http::request& r) {
      if (r.path == "/slow") {
        started.send({});
        release.recv();
      }
      (void)w.write("done" + r.path);
    });
    http::client idle_client;
    ASSERT_FALSE(idle_client.get(bg(), ts.url + "/warm").second);  // an idle keep-alive connection
    auto in_flight = goro::make_chan<std::pair<http::response, std::error_code>>(1);
    auto url = ts.url;
    goro::go([in_flight, url] {
      http::client c;
      in_flight.send(c.get(goro::background(), url + "/slow"));
    });
    started.recv();
    auto shut = goro::make_chan<std::error_code>(1);
    goro::go([srv = ts.srv, shut] {
      auto cc = goro::with_timeout(goro::background(), 60s);
      shut.send(srv.shutdown(cc.first));
      cc.second();
    });
    // New connections are refused once the listener is closed.
    bool refused = false;
    for (int i = 0; i < 20000 && !refused; i++) {
      auto d = net::dial("tcp", ts.addr);
      if (d.second == std::errc::connection_refused) {
        refused = true;
        break;
      }
      if (!d.second) d.first.close();
      goro::sleep_for(1ms);
    }
    EXPECT_TRUE(refused);
    release.send({});
    auto r = in_flight.recv();
    ASSERT_FALSE(r.second) << r.second.message();
    EXPECT_EQ(r.first.body, "done/slow");
    EXPECT_EQ(r.first.headers.get("Connection"), "close");  // the server is shutting down
    EXPECT_FALSE(shut.recv());
    EXPECT_EQ(ts.srv.open_connections(), 0u);
    ts.served.recv();  // serve returned error::server_closed
    ts.stopped = true;
  });
}

// A shutdown whose context ends first closes what is left, cancels the
// requests' contexts and returns the context's error.
TEST(HttpServer, ShutdownCutShortCancelsRequests) {
  goro::run([] {
    auto started = goro::make_chan<goro::unit>(1);
    auto seen = goro::make_chan<std::error_code>(1);
    test_server ts([started, seen](http::response_writer&, const http::request& r) {
      started.send({});
      int i = goro::select(goro::on_recv(r.ctx().done()), goro::on_recv(goro::after(30s)));
      seen.send(i == 0 ? r.ctx().err() : std::error_code(goro::errc::deadline_exceeded));
    });
    auto d = net::dial("tcp", ts.addr);
    ASSERT_FALSE(d.second);
    ASSERT_FALSE(d.first.write(std::string_view("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).second);
    started.recv();
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel();  // already over: cut at once
    EXPECT_EQ(ts.srv.shutdown(ctx), goro::errc::canceled);
    EXPECT_EQ(seen.recv(), goro::errc::canceled);
    EXPECT_TRUE(closed_by_peer(d.first));
    d.first.close();
    ts.stop();
  });
}

TEST(HttpServer, CloseEndsServeAndLaterServeCalls) {
  goro::run([] {
    test_server ts(echo_handler);
    ASSERT_FALSE(http::client().get(bg(), ts.url + "/").second);
    EXPECT_FALSE(ts.srv.close());
    ts.served.recv();
    ts.stopped = true;
    auto lr = net::listen("tcp4", "127.0.0.1:0");
    ASSERT_FALSE(lr.second);
    EXPECT_EQ(ts.srv.serve(lr.first), http::error::server_closed);
    lr.first.close();
  });
}

// A timeout per request through the context: the client gives up, and
// the handler sees its request's context cancelled (the client hung up).
TEST(HttpClient, TimeoutPerRequestAgainstASlowHandler) {
  goro_test::for_procs([] {
    auto started = goro::make_chan<goro::unit>(2);
    auto seen = goro::make_chan<std::error_code>(2);
    test_server ts([started, seen](http::response_writer& w, const http::request& r) {
      if (r.path == "/fast") {
        (void)w.write("fast");
        return;
      }
      started.send({});
      int i = goro::select(goro::on_recv(r.ctx().done()), goro::on_recv(goro::after(30s)));
      seen.send(i == 0 ? r.ctx().err() : std::error_code(goro::errc::deadline_exceeded));
    });
    http::client c;
    goro::cancel_func cancel;
    auto ctx = timeout_ctx(100ms, cancel);
    auto r = c.get(ctx, ts.url + "/slow");
    cancel();
    EXPECT_EQ(r.second, goro::errc::deadline_exceeded) << r.second.message();
    started.recv();
    EXPECT_EQ(seen.recv(), goro::errc::canceled);
    EXPECT_EQ(c.idle_connections(), 0u);  // that connection was closed, not pooled
    // A cancel (not a deadline) once the handler waits.
    auto [cctx, ccancel] = goro::with_cancel(goro::background());
    auto res = goro::make_chan<std::error_code>(1);
    goro::go([&c, res, cctx = cctx, url = ts.url] { res.send(c.get(cctx, url + "/slow").second); });
    started.recv();
    ccancel();
    EXPECT_EQ(res.recv(), goro::errc::canceled);
    EXPECT_EQ(seen.recv(), goro::errc::canceled);
    // The client still works.
    auto f = c.get(bg(), ts.url + "/fast");
    ASSERT_FALSE(f.second);
    EXPECT_EQ(f.first.body, "fast");
  });
}

// Many clients at once, each with its own bodies: every request is
// answered with its own body, and the counts add up.
TEST(HttpStress, ManyConcurrentClients) {
  goro_test::for_procs([] {
    auto served = std::make_shared<std::atomic<int>>(0);
    test_server ts([served](http::response_writer& w, const http::request& r) {
      (*served)++;
      if ((r.body.size() & 3) == 0) goro::yield();
      (void)w.write(r.body + "/" + r.query_value("n"));
    });
    const int clients = goro_test::goroutines(64, 4, 8);
    const int per = goro_test::scaled(25, 5);
    http::client shared;  // shared by half of them, one each for the rest
    std::atomic<int> ok{0};
    goro::wait_group wg;
    for (int i = 0; i < clients; i++) {
      wg.go([&, i] {
        std::unique_ptr<http::client> own;
        http::client* c = &shared;
        if (i % 2 == 1) {
          own = std::make_unique<http::client>();
          c = own.get();
        }
        for (int j = 0; j < per; j++) {
          std::string body = "c" + std::to_string(i) + "-r" + std::to_string(j) + std::string(j * 37 % 300, 'z');
          auto r = c->post(goro::background(), ts.url + "/?n=" + std::to_string(j), "text/plain", body);
          if (r.second) {
            ADD_FAILURE() << r.second.message();
            continue;
          }
          if (r.first.body == body + "/" + std::to_string(j)) ok++;
        }
      });
    }
    wg.wait();
    EXPECT_EQ(ok.load(), clients * per);
    EXPECT_EQ(served->load(), clients * per);
    EXPECT_FALSE(ts.stop());
  });
}

}  // namespace
