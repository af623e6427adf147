// goro::debug's HTTP pages (goro/http.hpp: http_handler, serve):
// /debug/goroutines (plain and grouped), /debug/stats, /metrics,
// /debug/trace, and 404 for the rest. Loopback only.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <locale>
#include <string>
#include <vector>

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

// A global locale that groups thousands ("1,234,567"), as a program may
// install; restored at scope exit.
struct grouping_locale {
  struct comma_thousands : std::numpunct<char> {
    char do_thousands_sep() const override { return ','; }
    std::string do_grouping() const override { return "\3"; }
  };
  std::locale before = std::locale::global(std::locale(std::locale::classic(), new comma_thousands));
  ~grouping_locale() { std::locale::global(before); }
};

// The numbers of /debug/stats and /metrics are written as JSON and the
// Prometheus text format write them, whatever the program's locale: with
// one that groups thousands they read "1,234,567" (invalid JSON, a line
// Prometheus cannot parse). (A review of the diagnostics, 2026-12-06.)
TEST(HttpDebug, NumbersIgnoreTheGlobalLocale) {
  goro::run([] {
    // Over a thousand goroutines made, so the count has a thousands place.
    goro::wait_group wg;
    for (int i = 0; i < 1200; i++) wg.go([] {});
    wg.wait();
    debug_server ds;
    grouping_locale grouped;
    auto s = get(ds.url + "/debug/stats");
    const std::string key = "\"goroutines_created\": ";
    size_t at = s.body.find(key);
    ASSERT_NE(at, std::string::npos) << s.body;
    size_t end = s.body.find('\n', at);
    std::string value = s.body.substr(at + key.size(), end - at - key.size() - 1);  // less the field's comma
    EXPECT_EQ(value.find_first_not_of("0123456789"), std::string::npos) << "\"" << value << "\"";
    goro::debug::runtime_stats rs;
    rs.goroutines_created = 1234567;
    std::string text = goro::debug::prometheus_text(rs);
    EXPECT_NE(text.find("\ngoro_goroutines_created_total 1234567\n"), std::string::npos) << text;
  });
}

// Every gauge is named without the _total suffix, which Prometheus keeps
// for counters, and every counter with it.
TEST(HttpDebug, MetricTypesMatchTheirNames) {
  std::string text = goro::debug::prometheus_text(goro::debug::runtime_stats{});
  size_t pos = 0;
  int types = 0;
  while ((pos = text.find("# TYPE ", pos)) != std::string::npos) {
    size_t name_end = text.find(' ', pos + 7);
    size_t line_end = text.find('\n', pos);
    std::string name = text.substr(pos + 7, name_end - pos - 7);
    std::string type = text.substr(name_end + 1, line_end - name_end - 1);
    bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(type == "counter", total) << name << " is a " << type;
    pos = line_end;
    types++;
  }
  EXPECT_GT(types, 10);
}

// /debug/trace writes its temporary file with a name nobody can guess
// and never through a link: links planted at the names the old code used
// ($TMPDIR/goro-debug-trace-<pid>-<n>.json) are left alone, and so is
// the file they point at.
TEST(HttpDebug, TraceFileIsNotOpenedThroughAPlantedLink) {
  std::string dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/goro-trace-link-XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string victim = dir + "/victim";
  {
    FILE* f = std::fopen(victim.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("keep", f);
    std::fclose(f);
  }
  std::vector<std::string> links;
  for (int n = 0; n < 64; n++) {
    links.push_back(dir + "/goro-debug-trace-" + std::to_string(getpid()) + "-" + std::to_string(n) + ".json");
    ASSERT_EQ(::symlink(victim.c_str(), links.back().c_str()), 0);
  }
  const char* old_tmpdir = std::getenv("TMPDIR");
  std::string saved = old_tmpdir != nullptr ? old_tmpdir : "";
  ::setenv("TMPDIR", dir.c_str(), 1);
  goro::run([] {
    debug_server ds;
    auto t = get(ds.url + "/debug/trace?seconds=0");
    EXPECT_EQ(t.status, 200);
    EXPECT_NE(t.body.find("\"traceEvents\""), std::string::npos) << t.body.substr(0, 200);
  });
  if (old_tmpdir != nullptr)
    ::setenv("TMPDIR", saved.c_str(), 1);
  else
    ::unsetenv("TMPDIR");
  std::string content;
  {
    std::ifstream f(victim);
    std::getline(f, content);
  }
  EXPECT_EQ(content, "keep") << "the trace went through a planted link";
  for (const auto& l : links) ::unlink(l.c_str());
  ::unlink(victim.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
