// The examples in the comments of goro/http.hpp, compiled and run, so
// that they cannot drift from the API. Loopback only.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <system_error>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

namespace {

// http.hpp's handler example (the request's context).
void slow(goro::http::response_writer& w, const goro::http::request& r) {
  goro::select(goro::on_recv(goro::after(2s), [&] { w.write("done\n"); }),
               goro::on_recv(r.ctx().done()));  // the client left: stop
}

TEST(HttpDoc, HeaderExamples) {
  goro::run([] {
    // The file's example: a mux, a server, a client, a graceful shutdown.
    goro::http::serve_mux mux;
    mux.handle("/hello", [](goro::http::response_writer& w, const goro::http::request& r) {
      w.header().set("Content-Type", "text/plain");
      w.write("hello, " + r.query_value("name") + "\n");
    });
    mux.handle("/slow", slow);
    goro::http::server srv(mux);
    auto [ln, err] = goro::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    auto served = goro::make_chan<std::error_code>(1);
    goro::go([srv, ln = ln, served] { served.send(srv.serve(ln)); });  // returns error::server_closed after shutdown

    goro::http::client c;
    {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 2s);
      auto [resp, e] = c.get(ctx, "http://" + ln.addr().to_string() + "/hello?name=gopher");
      cancel();
      ASSERT_FALSE(e) << e.message();
      EXPECT_EQ(resp.status, 200);
      EXPECT_EQ(resp.body, "hello, gopher\n");
      EXPECT_EQ(resp.headers.get("content-type"), "text/plain");
    }
    {
      // client::do_request's example: a timeout per request. The slow
      // handler sees its client leave.
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 50ms);  // a timeout per request
      std::string url = "http://" + ln.addr().to_string() + "/slow";
      goro::http::client_request req;
      req.method = "POST";
      req.url = url;
      req.headers.set("Content-Type", "application/json");
      req.body = "{}";
      auto [resp, e] = c.do_request(ctx, req);
      cancel();
      EXPECT_EQ(e, goro::errc::deadline_exceeded);
    }
    auto [sctx, scancel] = goro::with_timeout(goro::background(), 5s);
    EXPECT_FALSE(srv.shutdown(sctx));  // graceful
    scancel();
    EXPECT_EQ(served.recv(), goro::http::error::server_closed);
    EXPECT_EQ(goro::http::status_text(404), "Not Found");
    EXPECT_EQ(std::error_code(goro::http::error::server_closed).message(), "Server closed");
  });
}

}  // namespace
