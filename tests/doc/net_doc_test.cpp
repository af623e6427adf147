// The examples in the comments of goro/net.hpp and goro/io.hpp's io_errc,
// compiled and run, so that they cannot drift from the API. Loopback only.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <system_error>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

namespace {

TEST(NetDoc, HeaderExamples) {
  goro::run([] {
    // net.hpp, the file's example: an echo server and a client.
    auto [ln, err] = goro::net::listen("tcp", "127.0.0.1:0");  // port 0: any free port
    ASSERT_FALSE(err);
    goro::wait_group wg;
    wg.go([ln = ln, &wg] {  // (clang 14 cannot capture a binding)
      for (;;) {
        auto [c, e] = ln.accept();
        if (e == goro::errc::closed) return;  // the listener was closed
        if (e == std::errc::too_many_files_open || e == std::errc::too_many_files_open_in_system) {
          goro::sleep_for(5ms);  // back off, retry
          continue;
        }
        if (e) continue;
        wg.go([c = c]() mutable {  // echo
          char buf[4096];
          for (;;) {
            auto [n, re] = c.read(buf, sizeof buf);
            if (n > 0 && c.write(buf, n).second) return;
            if (re) return;  // goro::io_errc::eof at the end
          }
        });
      }
    });
    auto [c, e] = goro::net::dial("tcp", ln.addr().to_string());
    ASSERT_FALSE(e);
    EXPECT_FALSE(c.write("hi").second);
    char buf[2];
    EXPECT_FALSE(c.read_full(buf, 2).second);
    EXPECT_EQ(std::string(buf, 2), "hi");
    c.close_write();
    EXPECT_EQ(c.read(buf, 1).second, goro::io_errc::eof);

    // dial_context's example.
    {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 2s);
      auto [c2, err2] = goro::net::dial_context(ctx, "tcp", ln.addr().to_string());
      cancel();
      EXPECT_FALSE(err2);
      EXPECT_TRUE(c2);
    }

    // listen's examples.
    auto [ln6, err6] = goro::net::listen("tcp6", "[::1]:0");
    if (!err6) {
      EXPECT_EQ(ln6.addr().host(), "::1");
    }
    std::string path = "/tmp/goro-net-doc-" + std::to_string(getpid()) + ".sock";
    auto [uln, uerr] = goro::net::listen("unix", path);
    EXPECT_FALSE(uerr) << uerr.message();
    uln.close();

    // read_from's example.
    auto [pc, perr] = goro::net::listen_packet("udp", "127.0.0.1:0");
    ASSERT_FALSE(perr);
    pc.write_to("x", 1, pc.local_addr());
    auto [n, from, rerr] = pc.read_from(buf, sizeof buf);
    EXPECT_FALSE(rerr);
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(from.to_string(), pc.local_addr().to_string());

    // io.hpp's io_errc.
    std::error_code eof = goro::io_errc::eof;
    EXPECT_EQ(eof.message(), "EOF");
    EXPECT_EQ(std::error_code(goro::io_errc::unexpected_eof).message(), "unexpected EOF");

    ln.close();
    wg.wait();
  });
}

}  // namespace
