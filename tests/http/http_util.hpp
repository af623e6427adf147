// Helpers for goro::http's tests: a server on a loopback port whose
// serve goroutine is waited for, and a raw HTTP/1.1 response reader for
// tests that talk to the server over a bare connection (pipelining,
// chunking, error answers).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "goro/goro.hpp"
#include "goro/http.hpp"
#include "test_util.hpp"

namespace http_test {

using namespace std::chrono_literals;
namespace http = goro::http;
namespace net = goro::net;

// A server serving on 127.0.0.1:<free port> in a goroutine. stop()
// shuts it down and waits for the serve goroutine: call it before the
// goro::run function returns (the destructor does, if the test did not).
struct test_server {
  explicit test_server(http::handler h, http::server_options o = {}) : srv(std::move(h), std::move(o)) {
    auto lr = net::listen("tcp4", "127.0.0.1:0");
    EXPECT_FALSE(lr.second) << lr.second.message();
    ln = lr.first;
    addr = ln.addr().to_string();
    url = "http://" + addr;
    goro::go([srv = srv, ln = ln, done = served] {
      std::error_code e = srv.serve(ln);
      EXPECT_EQ(e, http::error::server_closed) << e.message();
      done.close();
    });
  }
  ~test_server() { stop(); }
  // Graceful shutdown with a generous bound; returns shutdown's result.
  std::error_code stop() {
    if (stopped) return {};
    stopped = true;
    auto cc = goro::with_timeout(goro::background(), 30s);
    std::error_code e = srv.shutdown(cc.first);
    cc.second();
    served.recv();
    return e;
  }
  http::server srv;
  net::listener ln;
  std::string addr, url;
  goro::chan<goro::unit> served = goro::make_chan<goro::unit>();
  bool stopped = false;
};

// One response read from a bare connection.
struct raw_response {
  int status = 0;
  std::string head;  // status line and header fields, up to the blank line
  std::string body;
  bool chunked = false;
  bool ok = false;  // read whole
  std::string header(const std::string& name) const {
    std::string lower_head;
    for (char ch : head) lower_head += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string key = "\r\n";
    for (char ch : name) key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    key += ":";
    size_t at = lower_head.find(key);
    if (at == std::string::npos) return "";
    size_t v = at + key.size();
    while (v < head.size() && head[v] == ' ') v++;
    size_t end = head.find("\r\n", v);
    return head.substr(v, end - v);
  }
};

// Reads more from c into buf; false at the end or an error.
inline bool fill(const net::conn& c, std::string& buf) {
  char tmp[16384];
  auto r = c.read(tmp, sizeof tmp);
  buf.append(tmp, r.first);
  return r.first > 0;
}

// Reads one response from c (bytes left over stay in buf). Handles
// Content-Length, chunked and close-delimited bodies.
inline raw_response read_response(const net::conn& c, std::string& buf, bool head_request = false) {
  raw_response r;
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos)
    if (!fill(c, buf)) return r;
  r.head = buf.substr(0, end + 2);
  buf.erase(0, end + 4);
  r.status = std::atoi(r.head.c_str() + 9);
  if (head_request || r.status == 204 || r.status == 304 || r.status / 100 == 1) {
    r.ok = true;
    return r;
  }
  if (r.header("Transfer-Encoding") == "chunked") {
    r.chunked = true;
    for (;;) {
      size_t eol;
      while ((eol = buf.find("\r\n")) == std::string::npos)
        if (!fill(c, buf)) return r;
      size_t n = std::strtoul(buf.c_str(), nullptr, 16);
      buf.erase(0, eol + 2);
      while (buf.size() < n + 2)
        if (!fill(c, buf)) return r;
      r.body += buf.substr(0, n);
      buf.erase(0, n + 2);
      if (n == 0) break;
    }
  } else if (std::string cl = r.header("Content-Length"); !cl.empty()) {
    size_t n = std::strtoul(cl.c_str(), nullptr, 10);
    while (buf.size() < n)
      if (!fill(c, buf)) return r;
    r.body = buf.substr(0, n);
    buf.erase(0, n);
  } else {
    while (fill(c, buf)) {
    }
    r.body = std::move(buf);
    buf.clear();
  }
  r.ok = true;
  return r;
}

// Whether the peer closed c: a read returns the end of the stream or a
// reset (after draining anything sent before), within a bound of 30 s.
inline bool closed_by_peer(const net::conn& c) {
  (void)c.set_read_deadline(std::chrono::steady_clock::now() + 30s);
  char tmp[4096];
  for (;;) {
    auto r = c.read(tmp, sizeof tmp);
    if (r.first > 0) continue;
    return r.second == goro::io_errc::eof || r.second == std::errc::connection_reset;
  }
}

// A request for do_request with the given method and URL, no body.
inline http::client_request request_to(std::string method, std::string url) {
  http::client_request r;
  r.method = std::move(method);
  r.url = std::move(url);
  return r;
}

inline goro::context timeout_ctx(std::chrono::milliseconds d, goro::cancel_func& cancel) {
  auto cc = goro::with_timeout(goro::background(), d);
  cancel = cc.second;
  return cc.first;
}

}  // namespace http_test
