// The runtime's debug pages over HTTP (goro::debug::http_handler and
// serve in goro/http.hpp): Go's net/http/pprof and expvar pages, made of
// goro::debug::dump, stats, write_prometheus and goro::trace.
//
// /debug/trace records into a private temporary file (goro::trace writes
// files; mkstemp makes it, and it is unlinked at once) for the asked
// seconds, waiting on the request's context so a client that leaves ends
// the trace early, then sends the file. goro::trace allows one trace at a
// time: a second request gets 409. No state of its own; no locks.
//
// Numbers are written in the classic locale whatever the program's global
// one: JSON and the Prometheus text have one way to write a number.
#include "http/util.hpp"
#include "sched/trace.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <locale>
#include <sstream>

#include "goro/debug.hpp"
#include "goro/runtime.hpp"
#include "goro/stats.hpp"
#include "goro/trace.hpp"

namespace goro::debug {

namespace {

void json_string(std::ostream& os, std::string_view s) {
  os << '"';
  for (char ch : s) {
    switch (ch) {
      case '"': os << "\\\""; break;
      case '\\': os << "\\\\"; break;
      case '\n': os << "\\n"; break;
      case '\t': os << "\\t"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          os << buf;
        } else {
          os << ch;
        }
    }
  }
  os << '"';
}

std::string stats_json(const runtime_stats& s) {
  std::ostringstream os;
  os.imbue(std::locale::classic());  // "1234567", never "1,234,567"
  os << "{\n";
  auto field = [&](const char* name, auto v) { os << "  \"" << name << "\": " << v << ",\n"; };
  field("goroutines", s.goroutines);
  field("goroutines_runnable", s.goroutines_runnable);
  field("goroutines_waiting", s.goroutines_waiting);
  field("goroutines_running", s.goroutines_running);
  field("threads_waiting", s.threads_waiting);
  field("goroutines_created", s.goroutines_created);
  field("context_switches", s.context_switches);
  field("steals", s.steals);
  field("worker_parks", s.worker_parks);
  field("worker_wakes", s.worker_wakes);
  field("chan_waits", s.chan_waits);
  field("mutex_waits", s.mutex_waits);
  field("mutex_wait_ns", s.mutex_wait_ns);
  field("mutex_bias_revocations", s.mutex_bias_revocations);
  field("mutex_bias_pauses", s.mutex_bias_pauses);
  field("maxprocs", s.maxprocs);
  field("procs", s.procs);
  field("procs_idle", s.procs_idle);
  field("threads", s.threads);
  field("threads_idle", s.threads_idle);
  field("timers_pending", s.timers_pending);
  field("stack_size", s.stack_size);
  field("stacks_reserved", s.stacks_reserved);
  field("stacks_cached", s.stacks_cached);
  field("stacks_released", s.stacks_released);
  field("stack_bytes_released_total", s.stack_bytes_released_total);
  field("process_resident_bytes", s.process_resident_bytes);
  os << "  \"by_reason\": [";
  bool first = true;
  for (const auto& r : s.by_reason) {
    os << (first ? "\n" : ",\n") << "    {\"reason\": ";
    json_string(os, r.reason);
    os << ", \"waiting\": " << r.waiting << ", \"waits\": " << r.waits << ", \"wait_ns\": " << r.wait_ns << "}";
    first = false;
  }
  os << "\n  ]\n}\n";
  return os.str();
}

// A file for the trace that only this request can reach: mkstemp makes
// it with a random name and O_EXCL (a link or a file planted at a name
// that can be guessed is never followed, truncated or read back), and it
// is unlinked at once. Returns the descriptor, or -1.
int private_trace_file() {
  const char* dir = std::getenv("TMPDIR");
  std::string tmpl = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/goro-debug-trace-XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd >= 0) ::unlink(tmpl.c_str());
  return fd;
}

// Everything in the file fd, from its start.
std::string read_all(int fd) {
  std::string body;
  if (::lseek(fd, 0, SEEK_SET) != 0) return body;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    body.append(buf, static_cast<size_t>(n));
  }
  return body;
}

void serve_trace(http::response_writer& w, const http::request& r) {
  long secs = 1;
  std::string v = r.query_value("seconds");
  if (!v.empty()) {
    char* end = nullptr;
    secs = std::strtol(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0' || secs < 0 || secs > 60) {
      w.write_header(400);
      (void)w.write("seconds must be an integer from 0 to 60\n");
      return;
    }
  }
  int fd = private_trace_file();
  int keep = fd >= 0 ? ::dup(fd) : -1;  // the trace's stream closes fd at stop; this reads it back
  FILE* out = keep >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (out == nullptr) {
    if (fd >= 0) ::close(fd);
    if (keep >= 0) ::close(keep);
    w.write_header(500);
    (void)w.write("cannot make the trace file\n");
    return;
  }
  if (!detail::trace_start_stream(out)) {  // closes out
    ::close(keep);
    w.write_header(409);
    (void)w.write("a trace is already running\n");
    return;
  }
  auto tc = with_timeout(r.ctx(), std::chrono::seconds(secs));
  tc.first.done().recv();  // the time asked, or the client left
  tc.second();
  bool ok = trace::stop();
  std::string body;
  if (ok) body = goro::blocking([keep] { return read_all(keep); });
  ::close(keep);
  if (!ok) {
    w.write_header(500);
    (void)w.write("writing the trace failed\n");
    return;
  }
  w.header().set("Content-Type", "application/json");
  w.header().set("Content-Disposition", "attachment; filename=\"goro.trace.json\"");
  (void)w.write(body);
}

}  // namespace

http::handler http_handler() {
  return [](http::response_writer& w, const http::request& r) {
    if (r.path == "/debug/goroutines") {
      std::ostringstream os;
      dump(os, {.grouped = r.query_value("debug") == "1"});
      w.header().set("Content-Type", "text/plain; charset=utf-8");
      (void)w.write(os.str());
    } else if (r.path == "/debug/stats") {
      w.header().set("Content-Type", "application/json");
      (void)w.write(stats_json(stats()));
    } else if (r.path == "/metrics") {
      w.header().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      (void)w.write(prometheus_text(stats()));
    } else if (r.path == "/debug/trace") {
      serve_trace(w, r);
    } else {
      w.write_header(404);
      (void)w.write("404 page not found\n");
    }
  };
}

http::server serve(net::listener ln) {
  http::server srv(http_handler());
  goro::go([srv, ln] { (void)srv.serve(ln); });
  return srv;
}

std::pair<http::server, std::error_code> serve(std::string_view addr) {
  auto lr = net::listen("tcp", addr);
  if (lr.second) return {http::server(http_handler()), lr.second};
  return {serve(lr.first), {}};
}

}  // namespace goro::debug
