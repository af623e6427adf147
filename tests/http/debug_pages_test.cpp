// goro::debug's HTTP pages (goro/http.hpp: http_handler, serve):
// /debug/goroutines (plain and grouped), /debug/stats, /metrics,
// /debug/trace, and 404 for the rest. Loopback only.
#include <gtest/gtest.h>

#include <string>

#include "goro/goro.hpp"
#include "goro/http.hpp"
#include "http_util.hpp"

using namespace std::chrono_literals;
using namespace http_test;

namespace {

struct debug_server {
  debug_server() {
    auto lr = net::listen("tcp4", "127.0.0.1:0");
    EXPECT_FALSE(lr.second);
    url = "http://" + lr.first.addr().to_string();
    srv = std::make_unique<http::server>(goro::debug::serve(lr.first));
  }
  ~debug_server() {
    auto cc = goro::with_timeout(goro::background(), 30s);
    EXPECT_FALSE(srv->shutdown(cc.first));
    cc.second();
  }
  std::string url;
  std::unique_ptr<http::server> srv;
};

http::response get(const std::string& url) {
  http::client c;
  auto r = c.get(goro::background(), url);
  EXPECT_FALSE(r.second) << url << ": " << r.second.message();
  return r.first;
}

TEST(HttpDebug, GoroutinesPlainAndGrouped) {
  goro::run([] {
    debug_server ds;
    // Ten goroutines parked alike, to be counted as one group.
    auto hold = goro::make_chan<goro::unit>();
    goro::wait_group wg;
    for (int i = 0; i < 10; i++) wg.go([hold] { hold.recv(); });
    auto r = get(ds.url + "/debug/goroutines");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("goroutine "), std::string::npos);
    EXPECT_NE(r.body.find("[chan receive"), std::string::npos) << r.body;
    auto g = get(ds.url + "/debug/goroutines?debug=1");
    EXPECT_EQ(g.status, 200);
    EXPECT_NE(g.body.find("10 goroutines [chan receive"), std::string::npos) << g.body;
    hold.close();
    wg.wait();
  });
}

TEST(HttpDebug, StatsJsonAndPrometheusMetrics) {
  goro::run([] {
    debug_server ds;
    auto s = get(ds.url + "/debug/stats");
    EXPECT_EQ(s.status, 200);
    EXPECT_EQ(s.headers.get("Content-Type"), "application/json");
    EXPECT_EQ(s.body.front(), '{');
    EXPECT_NE(s.body.find("\"goroutines\": "), std::string::npos) << s.body;
    EXPECT_NE(s.body.find("\"reason\": \"IO wait\""), std::string::npos) << s.body;
    EXPECT_NE(s.body.find("\"maxprocs\": " + std::to_string(goro::maxprocs())), std::string::npos);
    auto m = get(ds.url + "/metrics");
    EXPECT_EQ(m.status, 200);
    EXPECT_NE(m.body.find("# TYPE goro_goroutines gauge"), std::string::npos) << m.body;
    EXPECT_NE(m.body.find("goro_goroutines_waiting{reason=\"IO wait\"}"), std::string::npos);
    EXPECT_EQ(get(ds.url + "/debug/nothing").status, 404);
  });
}

TEST(HttpDebug, TraceForAFewSeconds) {
  goro::run([] {
    debug_server ds;
    auto t = get(ds.url + "/debug/trace?seconds=0");
    EXPECT_EQ(t.status, 200);
    EXPECT_EQ(t.headers.get("Content-Type"), "application/json");
    EXPECT_NE(t.body.find("\"traceEvents\""), std::string::npos) << t.body.substr(0, 200);
    EXPECT_FALSE(goro::trace::running());
    EXPECT_EQ(get(ds.url + "/debug/trace?seconds=x").status, 400);
    // One trace at a time.
    ASSERT_TRUE(goro::trace::start(std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                                   "/goro-http-debug-test-" + std::to_string(getpid()) + ".json"));
    EXPECT_EQ(get(ds.url + "/debug/trace?seconds=1").status, 409);
    EXPECT_TRUE(goro::trace::stop());
    std::remove((std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/goro-http-debug-test-" +
                 std::to_string(getpid()) + ".json")
                    .c_str());
  });
}

TEST(HttpDebug, ServeListensOnAnAddress) {
  goro::run([] {
    auto [srv, err] = goro::debug::serve("127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    EXPECT_FALSE(srv.close());
    // A second one on a port in use fails with listen's error.
    auto lr = net::listen("tcp4", "127.0.0.1:0");
    ASSERT_FALSE(lr.second);
    auto again = goro::debug::serve(lr.first.addr().to_string());
    EXPECT_EQ(again.second, std::errc::address_in_use);
    lr.first.close();
  });
}

}  // namespace
