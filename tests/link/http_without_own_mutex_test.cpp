// A binary whose own code never locks a goro::mutex, using goro::http
// (whose client and server lock theirs). Under TSan the inline fast paths
// of goro::mutex are emitted out of line in every object that uses them,
// instrumented (goro::http, a program) or not (the runtime); the linker
// keeps one copy. In a program that does not use the mutex itself, that
// was the runtime's uninstrumented copy, so TSan saw none of the http
// layer's lock and unlock edges and reported its critical sections as
// races (a review, 2026-12-07: 4-14 reports a run; the http test binary
// hid it, since its own code locks a goro::mutex and its copy won). The
// fast paths now state their edges themselves. This binary must stay
// free of goro::mutex uses: that is what it tests (a directory of its
// own, so no other test file links in with it).
//
// Loopback only; bounded in count.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "goro/goro.hpp"
#include "goro/http.hpp"

namespace {

namespace http = goro::http;
namespace net = goro::net;

TEST(HttpWithoutOwnMutex, SharedClientAndServerUnderLoad) {
  goro::run([] {
    http::server srv([](http::response_writer& w, const http::request&) { (void)w.write("ok"); });
    auto lr = net::listen("tcp4", "127.0.0.1:0");
    ASSERT_FALSE(lr.second) << lr.second.message();
    std::string url = "http://" + lr.first.addr().to_string() + "/";
    auto served = goro::make_chan<std::error_code>(1);
    goro::go([srv, ln = lr.first, served] { served.send(srv.serve(ln)); });
    http::client cl;
    std::atomic<int> ok{0}, failed{0};
    goro::wait_group wg;
    for (int g = 0; g < 8; g++) {
      wg.go([&] {
        for (int i = 0; i < 40; i++) {
          auto r = cl.get(goro::background(), url);
          if (!r.second && r.first.status == 200 && r.first.body == "ok")
            ok++;
          else
            failed++;
        }
      });
    }
    wg.wait();
    EXPECT_EQ(ok.load(), 320);
    EXPECT_EQ(failed.load(), 0);
    EXPECT_FALSE(srv.shutdown(goro::background()));
    EXPECT_EQ(served.recv(), http::error::server_closed);
  });
}

}  // namespace
