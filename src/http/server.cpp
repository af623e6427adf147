// The HTTP server (goro/http.hpp): an accept loop per listener and a
// goroutine per connection, Go's net/http server shape.
//
// A connection's goroutine (serve_conn) loops: wait for the next
// request's first byte (idle deadline), parse the request with a Beast
// request_parser fed from the connection's buffer `in` (header deadline,
// then the whole-request deadline for the body), run the handler, finish
// the response, repeat. Bytes after a request stay in `in`, so pipelined
// requests are parsed and answered in order, one at a time.
//
// While the handler runs, a goroutine of the request (bg_read, Go's
// connReader.backgroundRead) reads from the connection: if the client
// goes away (end of stream, reset) it cancels the request's context; if
// bytes come (the next pipelined request) it keeps them and stops. When
// the handler has returned, the connection's goroutine moves the read
// deadline into the past (Go's abortPendingRead), which ends a read still
// blocked, waits for bg_read, and appends what it read to `in`. The
// connection's reads are thus never done by two goroutines at once.
//
// Responses (rw_state): the body is kept in body_buf until the handler
// returns (then sent with a Content-Length) or until it passes 4 KiB or
// the handler flushes (then chunked for HTTP/1.1, close-delimited for
// HTTP/1.0, unless the handler set a Content-Length).
//
// Errors before a handler: a header over max_header_bytes gets 431, a
// body over max_body_bytes 413, anything Beast rejects 400; then the
// write side is shut down and the connection drained for a moment before
// it is closed, so the client reads the answer rather than a reset (Go's
// closeWriteAndWait).
//
// Shutdown: impl::mu guards the listeners, the connection records and
// their states, `serving` and `drained_closed`. shutdown() sets closing,
// closes the listeners and the connections that are idle, or new for
// more than kNewConnGrace (a client that just connected gets its
// request served, with "Connection: close", as in Go), and waits for
// `drained` (closed by the last connection or accept loop to end once
// closing is set) or its context, closing the new connections that pass
// their grace meanwhile. A connection that goes idle
// after closing was set closes itself (checked under mu, so none is
// missed). Lock order: impl::mu only; nothing else is taken under it but
// net's close(), which does not block.
#include "http/util.hpp"

#include <algorithm>
#include <cctype>
#include <atomic>
#include <stdexcept>
#include <cstdio>
#include <unordered_map>

#include "goro/chan.hpp"
#include "goro/mutex.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/time.hpp"

namespace goro::http {

using steady = std::chrono::steady_clock;

namespace detail {

// The response of one request. Lives on the connection goroutine's
// stack during the handler call; used by that goroutine only (the
// handler's).
struct rw_state {
  explicit rw_state(net::conn conn) : c(std::move(conn)) {}

  net::conn c;
  header_map hdr;             // the handler's (header())
  header_map wire_hdr;        // hdr as it was at write_header, if frozen
  bool hdr_frozen = false;    // wire_hdr is the one sent
  bool called_header = false; // the handler may hold a reference to hdr
  int status = 0;             // the final status, once write_header chose it
  bool header_sent = false;
  bool chunked = false;
  bool has_cl = false;
  uint64_t cl = 0;
  uint64_t body_written = 0;  // bytes the handler wrote (also for HEAD)
  bool body_allowed = true;   // by status
  bool head = false;          // a HEAD request: no body is sent
  int req_version = 11;
  bool close_after = false;   // close the connection after this response
  bool aborted = false;       // the handler threw after the header went out
  std::string body_buf;       // body before the header is sent
  std::string out;            // wire bytes not written yet
  std::error_code err;        // the first write error; sticky
  response_writer w{this};

  // The header that goes out: hdr, or its copy taken at write_header.
  header_map& sent_header() { return hdr_frozen ? wire_hdr : hdr; }
  // At the final write_header (Go's WriteHeader): later changes to hdr
  // are ignored, and the handler's Content-Length is read now.
  void fix_header();
  void freeze_header();
  // A 1xx other than 101: sent at once, with the header so far (Go 1.19's
  // WriteHeader; RFC 8297 early hints). Not to an HTTP/1.0 client.
  void send_interim(int code);
  // Back to a fresh response (a handler that threw before sending).
  void reset();
  void start_header(bool final);
  void append_body(std::string_view data);
  std::error_code flush_out();
  std::error_code write(std::string_view data);
  std::error_code flush();
  std::error_code finish();
};

void rw_state::freeze_header() {
  if (hdr_frozen) return;
  wire_hdr = hdr;
  hdr_frozen = true;
}

void rw_state::fix_header() {
  if (called_header) freeze_header();
  header_map& h = sent_header();
  std::string_view clv = h.get("Content-Length");
  if (clv.empty()) return;
  // A decimal int64, as Go's ParseInt: anything else (a sign, a space, a
  // value that does not fit) is dropped, so that the framing announced
  // is the one kept (a wrapped value would promise a body never sent).
  uint64_t v = 0;
  bool ok = clv.size() <= 19;
  for (char ch : clv) {
    if (!ok || ch < '0' || ch > '9') {
      ok = false;
      break;
    }
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (ok && v <= static_cast<uint64_t>(INT64_MAX)) {
    has_cl = true;
    cl = v;
  } else {
    h.remove("Content-Length");
  }
}

void rw_state::send_interim(int code) {
  if (err || req_version < 11) return;
  std::string line = "HTTP/1.1 " + std::to_string(code) + " ";
  std::string_view text = status_text(code);
  line += text.empty() ? std::string_view("status code") : text;
  line += "\r\n";
  for (const auto& f : hdr) {
    if (!detail::valid_header_name(f.first) || detail::iequals(f.first, "Content-Length") ||
        detail::iequals(f.first, "Transfer-Encoding"))
      continue;
    line += f.first;
    line += ": ";
    for (char ch : f.second) line += ch == '\r' || ch == '\n' ? ' ' : ch;
    line += "\r\n";
  }
  line += "\r\n";
  out = std::move(line);
  (void)flush_out();
}

void rw_state::reset() {
  hdr = header_map();
  wire_hdr = header_map();
  hdr_frozen = called_header = false;
  body_buf.clear();
  out.clear();
  status = 0;
  has_cl = false;
  cl = 0;
  body_written = 0;
}

void rw_state::start_header(bool final) {
  header_sent = true;
  header_map& h = sent_header();
  // A handler's own Transfer-Encoding: "chunked" asks for chunking (and
  // wins over a Content-Length, as in Go); goro writes no other coding.
  bool want_chunked = detail::iequals(h.get("Transfer-Encoding"), "chunked");
  h.remove("Transfer-Encoding");
  if (want_chunked && body_allowed && !head && req_version >= 11) {
    h.remove("Content-Length");
    has_cl = false;
    chunked = true;
    h.set("Transfer-Encoding", "chunked");
  } else if (!body_allowed) {
    if (status == 204 || status / 100 == 1) h.remove("Content-Length");
  } else if (!has_cl) {
    if (final && !(head && body_written == 0)) {
      // (A HEAD handler that wrote nothing says nothing of the GET's
      // length, as in Go: a length of 0 would be a claim.)
      has_cl = true;
      cl = body_written;
      h.set("Content-Length", std::to_string(cl));
    } else if (head) {
      // No body follows a HEAD's header: neither a length nor chunks.
    } else if (req_version >= 11) {
      chunked = true;
      h.set("Transfer-Encoding", "chunked");
    } else {
      close_after = true;  // HTTP/1.0: the end of the body is the end of the connection
    }
  }
  if (has_token(h.get("Connection"), "close")) close_after = true;
  if (!h.has("Date")) h.set("Date", http_date());
  if (body_allowed && body_written > 0 && !h.has("Content-Type")) h.set("Content-Type", "text/plain; charset=utf-8");
  if (close_after)
    h.set("Connection", "close");
  else if (req_version == 10)
    h.set("Connection", "keep-alive");
  std::string_view text = status_text(status);
  out += "HTTP/1.1 " + std::to_string(status) + " " + std::string(text.empty() ? "status code" : text) + "\r\n";
  for (const auto& f : h) {
    // A field a handler built from request data must not add lines (Go
    // drops an invalid name and turns CR and LF in a value into spaces).
    if (!detail::valid_header_name(f.first)) continue;
    out += f.first;
    out += ": ";
    for (char ch : f.second) out += ch == '\r' || ch == '\n' ? ' ' : ch;
    out += "\r\n";
  }
  out += "\r\n";
}

void rw_state::append_body(std::string_view data) {
  if (data.empty() || head || !body_allowed) return;
  if (chunked) {
    char sz[24];
    int n = std::snprintf(sz, sizeof sz, "%zx\r\n", data.size());
    out.append(sz, static_cast<size_t>(n));
    out += data;
    out += "\r\n";
  } else {
    out += data;
  }
}

std::error_code rw_state::flush_out() {
  if (err || out.empty()) {
    out.clear();
    return err;
  }
  auto r = c.write(out);
  out.clear();
  if (r.second) {
    err = r.second;
    close_after = true;
  }
  return err;
}

std::error_code rw_state::write(std::string_view data) {
  if (err) return err;
  if (status == 0) w.write_header(200);
  if (!body_allowed) return error::body_not_allowed;
  if (!header_sent && has_cl) {
    start_header(false);  // the framing is known: no need to buffer
    append_body(body_buf);
    body_buf.clear();
  }
  if (header_sent && has_cl && body_written + data.size() > cl) return error::content_length_exceeded;
  body_written += data.size();
  if (head) return {};
  if (!header_sent) {
    body_buf += data;
    if (body_buf.size() <= 4096) return {};
    start_header(false);
    append_body(body_buf);
    body_buf.clear();
    return flush_out();
  }
  append_body(data);
  if (out.size() >= 4096) return flush_out();
  return {};
}

std::error_code rw_state::flush() {
  if (err) return err;
  if (status == 0) w.write_header(200);
  if (!header_sent) {
    start_header(false);
    append_body(body_buf);
    body_buf.clear();
  }
  return flush_out();
}

std::error_code rw_state::finish() {
  if (status == 0) w.write_header(200);
  if (!header_sent) {
    start_header(true);  // chunked only if the handler asked for it
    append_body(body_buf);
    body_buf.clear();
  }
  // (Aborted: no last chunk, so that the client sees the body cut short,
  // as Go closes after a handler's panic.)
  if (chunked && !aborted) out += "0\r\n\r\n";
  if (has_cl && body_allowed && !head && body_written < cl) close_after = true;  // the client waits for the rest
  return flush_out();
}

}  // namespace detail

header_map& response_writer::header() {
  // Asked for after write_header: what the caller changes now is not
  // sent, so the copy to send is taken before it can.
  if (s_->status != 0) s_->freeze_header();
  s_->called_header = true;
  return s_->hdr;
}

void response_writer::write_header(int status) {
  if (s_->status != 0) return;
  if (status < 100 || status > 999) throw std::invalid_argument("goro::http: invalid write_header code " + std::to_string(status));
  if (status / 100 == 1 && status != 101) {
    s_->send_interim(status);
    return;
  }
  s_->status = status;
  s_->body_allowed = !(status == 101 || status == 204 || status == 304);
  s_->fix_header();
}

std::error_code response_writer::write(std::string_view data) { return s_->write(data); }
std::error_code response_writer::flush() { return s_->flush(); }
int response_writer::status() const noexcept { return s_->status; }

namespace {

struct conn_rec {
  explicit conn_rec(net::conn conn) : c(std::move(conn)) {}
  net::conn c;
  conn_state state = conn_state::new_conn;  // guarded by server::impl::mu
  const steady::time_point accepted = steady::now();
};

// How long shutdown leaves a connection that has not sent its first
// request (Go's rule, from its issue 22682: a client that just connected
// is about to send one). After that, it counts as idle.
constexpr std::chrono::seconds kNewConnGrace{5};

// The background read of one request (see the top of this file).
struct bg_read {
  net::conn c;
  std::string buf;                 // bytes read: the next request's
  bool gone = false;               // the client went away
  cancel_func cancel;              // the request's context
  chan<unit> done = make_chan<unit>();  // closed when the read returned
};

bool temporary_accept_error(std::error_code e) {
  return e == std::errc::too_many_files_open || e == std::errc::too_many_files_open_in_system ||
         e == std::errc::connection_aborted || e == std::errc::no_buffer_space || e == std::errc::not_enough_memory;
}

// 0 if the request's Transfer-Encoding (if any) is one "chunked", else
// the status to refuse it with.
int transfer_encoding_verdict(const detail::bhttp::request_header<>& m) {
  int n = 0;
  bool chunked = false;
  for (const auto& f : m) {
    if (f.name() != detail::bhttp::field::transfer_encoding) continue;
    n++;
    std::string_view v = f.value();
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    chunked = detail::iequals(v, "chunked");
  }
  if (n == 0) return 0;
  if (n > 1) return 400;
  return chunked ? 0 : 501;
}

// A request target split as Go's url.ParseRequestURI does: origin form
// ("/p?q"), asterisk form ("*"), or absolute form ("scheme://authority/p?q",
// the scheme in any case, RFC 9112 3.2.2: the path is what follows the
// authority, empty if nothing does). The path's escapes must be whole
// ("%zz" is 400, as Go's); the query is kept raw, as Go's RawQuery.
struct request_target {
  std::string_view path, query;
  bool has_query = false;
};

bool valid_escapes(std::string_view p) {
  auto hex = [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) != 0; };
  for (size_t i = 0; i < p.size(); i++) {
    if (p[i] != '%') continue;
    if (i + 2 >= p.size() || !hex(p[i + 1]) || !hex(p[i + 2])) return false;
    i += 2;
  }
  return true;
}

bool parse_request_target(std::string_view t, bool connect, request_target& out) {
  if (t.empty()) return false;
  if (connect && t.front() != '/') return true;  // authority form ("host:443"): Go's path is empty
  if (size_t q = t.find('?'); q != std::string_view::npos) {
    out.query = t.substr(q + 1);
    out.has_query = true;
    t = t.substr(0, q);
  }
  if (t.front() != '/' && t != "*") {
    // Go's getScheme: a letter, then letters, digits, '+', '-', '.'.
    size_t colon = 0;
    while (colon < t.size() && t[colon] != ':') {
      auto ch = static_cast<unsigned char>(t[colon]);
      bool ok = std::isalpha(ch) != 0 || (colon > 0 && (std::isdigit(ch) != 0 || ch == '+' || ch == '-' || ch == '.'));
      if (!ok) return false;
      colon++;
    }
    if (colon == 0 || colon == t.size()) return false;  // no scheme: Go's "invalid URI for request"
    t = t.substr(colon + 1);
    if (t.substr(0, 2) == "//") {
      size_t slash = t.find('/', 2);
      t = slash == std::string_view::npos ? std::string_view() : t.substr(slash);
    } else {
      t = {};  // opaque ("mailto:x"): Go's URL.Path is empty
    }
  }
  if (!valid_escapes(t)) return false;
  out.path = t;
  return true;
}

// Go's ParseHTTPVersion and http1ServerSupportsRequest on the request
// line at the front of buf: "HTTP/M.N" with one digit each. A major other
// than 1 is refused with 505 (Go); 1.N above 1.1 is served as 1.1 (RFC
// 9112 2.3: Go does so too), so the version is rewritten to 1.1 for Beast,
// which refuses anything but 1.0 and 1.1, and N is kept in minor. Any
// other shape is left for the parser to refuse (400).
enum class version_verdict { as_is, other_major };

version_verdict check_version(std::string& buf, int& minor) {
  size_t eol = buf.find('\n');
  size_t end = eol > 0 && buf[eol - 1] == '\r' ? eol - 1 : eol;
  if (end < 9) return version_verdict::as_is;
  std::string_view v(buf.data() + end - 9, 9);  // " HTTP/M.N"
  auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
  if (v.substr(0, 6) != " HTTP/" || !digit(v[6]) || v[7] != '.' || !digit(v[8])) return version_verdict::as_is;
  if (v[6] != '1') return version_verdict::other_major;
  if (v[8] > '1') {
    minor = v[8] - '0';
    buf[end - 1] = '1';
  }
  return version_verdict::as_is;
}

std::string_view error_status_line(int code) {
  switch (code) {
    case 431: return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case 413: return "HTTP/1.1 413 Request Entity Too Large\r\n";
    case 417: return "HTTP/1.1 417 Expectation Failed\r\n";
    case 501: return "HTTP/1.1 501 Not Implemented\r\n";
    case 505: return "HTTP/1.1 505 HTTP Version Not Supported\r\n";
    default: return "HTTP/1.1 400 Bad Request\r\n";
  }
}

}  // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(handler hh, server_options o) : h(std::move(hh)), opt(std::move(o)) {
    auto cc = with_cancel(background());
    base = cc.first;
    base_cancel = cc.second;
  }

  const handler h;
  const server_options opt;
  context base;              // every connection's context derives from it
  cancel_func base_cancel;   // called by close() and a shutdown cut short

  goro::mutex mu{goro::mutex::never_biased_t{}};  // every connection takes it
  std::atomic<bool> closing{false};  // set under mu; read without it as a hint
  std::vector<net::listener> listeners GORO_GUARDED_BY(mu);
  int serving GORO_GUARDED_BY(mu) = 0;  // accept loops running
  std::unordered_map<conn_rec*, std::shared_ptr<conn_rec>> conns GORO_GUARDED_BY(mu);
  bool drained_closed GORO_GUARDED_BY(mu) = false;
  chan<unit> drained = make_chan<unit>();  // closed once closing and nothing is left

  // Closes the idle connections, and the new ones older than
  // kNewConnGrace. Returns when the oldest new connection left open
  // becomes closable (time_point::max() if none is).
  steady::time_point close_idle_locked() GORO_REQUIRES(mu) {
    steady::time_point now = steady::now(), next = steady::time_point::max();
    for (const auto& [p, rec] : conns) {
      if (rec->state == conn_state::idle || (rec->state == conn_state::new_conn && now - rec->accepted >= kNewConnGrace))
        (void)rec->c.close();
      else if (rec->state == conn_state::new_conn)
        next = std::min(next, rec->accepted + kNewConnGrace);
    }
    return next;
  }

  void check_drained_locked() GORO_REQUIRES(mu) {
    if (closing.load() && conns.empty() && serving == 0 && !drained_closed) {
      drained_closed = true;
      drained.close();
    }
  }

  // Moves rec to st; false if the connection must close instead (going
  // idle while the server shuts down).
  bool set_state(conn_rec& rec, conn_state st) {
    {
      mutex_lock lk(mu);
      if (st == conn_state::idle && closing.load()) return false;
      rec.state = st;
    }
    if (opt.on_conn_state) opt.on_conn_state(rec.c, st);
    return true;
  }

  std::error_code serve(net::listener ln);
  void serve_conn(const std::shared_ptr<conn_rec>& rec);
  bool serve_one(conn_rec& rec, const context& cctx, const cancel_func& cancel_conn, std::string& in, bool first);
  void reject(const net::conn& c, int code);
};

std::error_code server::impl::serve(net::listener ln) {
  bool refused;
  {
    mutex_lock lk(mu);
    refused = closing.load();
    if (!refused) {
      listeners.push_back(ln);
      serving++;
    }
  }
  if (refused) {
    // Go's Serve closes its listener on every return: a server shut down
    // before serve ran would otherwise leave the port accepting
    // connections nobody answers.
    (void)ln.close();
    return error::server_closed;
  }
  std::error_code result;
  auto backoff = std::chrono::milliseconds(0);
  for (;;) {
    auto r = ln.accept();
    if (r.second) {
      if (closing.load()) break;
      if (temporary_accept_error(r.second)) {
        backoff = backoff.count() == 0 ? std::chrono::milliseconds(5) : std::min(backoff * 2, std::chrono::milliseconds(1000));
        goro::sleep_for(backoff);
        continue;
      }
      result = r.second;
      break;
    }
    backoff = std::chrono::milliseconds(0);
    auto rec = std::make_shared<conn_rec>(r.first);
    {
      mutex_lock lk(mu);
      if (closing.load()) {
        rec->c.close();
        continue;  // the listener is closed too: accept says so next
      }
      conns.emplace(rec.get(), rec);
    }
    if (opt.on_conn_state) opt.on_conn_state(rec->c, conn_state::new_conn);
    goro::go([s = shared_from_this(), rec] { s->serve_conn(rec); });
  }
  {
    mutex_lock lk(mu);
    serving--;
    // This very listener (one entry: serve may run twice on one), not one
    // with its fd number, which a listener opened since may have.
    if (auto it = std::find(listeners.begin(), listeners.end(), ln); it != listeners.end()) listeners.erase(it);
    check_drained_locked();
  }
  (void)ln.close();  // as Go's Serve (deferred l.Close): after a fatal accept error too
  return closing.load() ? std::error_code(error::server_closed) : result;
}

void server::impl::reject(const net::conn& c, int code) {
  std::string msg(error_status_line(code));
  msg += "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n";
  msg += error_status_line(code).substr(9, error_status_line(code).size() - 11);
  (void)c.set_write_deadline(steady::now() + std::chrono::seconds(1));
  if (c.write(msg).second) return;
  // Let the client read the answer before the close: a close with
  // unread bytes in the receive buffer sends a reset, which may discard
  // the answer on the client's side before it is read.
  (void)c.close_write();
  (void)c.set_read_deadline(steady::now() + std::chrono::milliseconds(500));
  char buf[4096];
  for (size_t total = 0; total < (4u << 20);) {
    auto rr = c.read(buf, sizeof buf);
    if (rr.second) break;
    total += rr.first;
  }
}

void server::impl::serve_conn(const std::shared_ptr<conn_rec>& rec) {
  auto cc = with_cancel(base);
  std::string in;
  for (bool first = true;; first = false) {
    if (!serve_one(*rec, cc.first, cc.second, in, first)) break;
  }
  cc.second();
  rec->c.close();
  // Reported before the connection leaves the set, so that shutdown()
  // returns after the last report.
  if (opt.on_conn_state) opt.on_conn_state(rec->c, conn_state::closed);
  {
    mutex_lock lk(mu);
    conns.erase(rec.get());
    check_drained_locked();
  }
}

// Reads, serves and answers one request; false when the connection is
// to be closed.
bool server::impl::serve_one(conn_rec& rec, const context& cctx, const cancel_func& cancel_conn, std::string& in,
                             bool first) {
  const net::conn& c = rec.c;
  using std::chrono::nanoseconds;
  const nanoseconds rt = opt.read_timeout;
  const nanoseconds rht = opt.read_header_timeout.count() > 0 ? opt.read_header_timeout : rt;
  const nanoseconds idle = opt.idle_timeout.count() > 0 ? opt.idle_timeout : rt;

  // The request's first byte: after the accept (the header deadline runs
  // from there) or after an idle wait.
  if (!first) {
    if (!set_state(rec, conn_state::idle)) return false;
    if (in.empty()) {
      if (idle.count() > 0)
        (void)c.set_read_deadline(steady::now() + idle);
      else
        (void)c.set_read_deadline(net::no_deadline);
      if (detail::read_more(c, in)) return false;
    }
  }
  steady::time_point start = steady::now();
  if (rht.count() > 0)
    (void)c.set_read_deadline(start + rht);
  else
    (void)c.set_read_deadline(net::no_deadline);

  detail::bhttp::request_parser<detail::bhttp::string_body> p;
  p.header_limit(static_cast<std::uint32_t>(std::min<size_t>(opt.max_header_bytes, UINT32_MAX)));
  p.body_limit(opt.max_body_bytes);
  // Not eager until the header is in: the header fields are copied out
  // then, before any trailer (which Beast adds to the same fields) is
  // parsed.
  p.eager(false);
  header_map req_headers;
  bool keep_alive = false;
  bool header_seen = false;
  bool active = !first;
  if (active && !set_state(rec, conn_state::active)) return false;
  bool start_line_seen = false;
  int minor_version = -1;  // a 1.x above 1.1, served as 1.1 (Beast takes only 1.0 and 1.1)
  for (;;) {
    if (!start_line_seen && in.find('\n') != std::string::npos) {
      start_line_seen = true;
      if (check_version(in, minor_version) == version_verdict::other_major) {
        reject(c, 505);
        return false;
      }
    }
    if (!in.empty()) {
      boost::system::error_code ec;
      size_t used = detail::feed(p, in, ec);
      in.erase(0, used);
      if (ec && ec != detail::bhttp::error::need_more) {
        reject(c, ec == detail::bhttp::error::header_limit ? 431 : ec == detail::bhttp::error::body_limit ? 413 : 400);
        return false;
      }
      if (!header_seen && p.is_header_done()) {
        header_seen = true;
        if (rt.count() > 0)
          (void)c.set_read_deadline(start + rt);
        else
          (void)c.set_read_deadline(net::no_deadline);
        const auto& m = p.get();
        // Only a single "chunked" is a framing we know: Beast takes any
        // other Transfer-Encoding (or "chunked" not last) as no body and
        // would parse the body as the next request (smuggling). Go: 400
        // for more than one, 501 for one it does not support.
        if (int te = transfer_encoding_verdict(m)) {
          reject(c, te);
          return false;
        }
        // HTTP/1.0 has no chunked coding: a Transfer-Encoding there is a
        // faulty framing (RFC 9112 6.1), where Go ignores it and a proxy
        // in front may not. And one Host, required from HTTP/1.1 on.
        if ((m.version() < 11 && m.count(detail::bhttp::field::transfer_encoding) > 0) ||
            m.count(detail::bhttp::field::host) > 1 || (m.version() >= 11 && m.count(detail::bhttp::field::host) == 0)) {
          reject(c, 400);
          return false;
        }
        // An expectation other than 100-continue is 417 (Go's
        // sendExpectationFailed).
        if (m.count(detail::bhttp::field::expect) > 0 &&
            !detail::iequals(m[detail::bhttp::field::expect], "100-continue")) {
          reject(c, 417);
          return false;
        }
        for (const auto& f : m) req_headers.add(f.name_string(), f.value());
        keep_alive = m.keep_alive();
        p.eager(true);
        // The write deadline runs from the end of the header, as Go's
        // WriteTimeout (a 100 Continue is written under it).
        if (opt.write_timeout.count() > 0)
          (void)c.set_write_deadline(steady::now() + opt.write_timeout);
        else
          (void)c.set_write_deadline(net::no_deadline);
        if (!p.is_done() && m.version() >= 11 && detail::iequals(m[detail::bhttp::field::expect], "100-continue")) {
          if (c.write(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")).second) return false;
        }
      }
      if (p.is_done()) break;
      if (used > 0 && !ec) continue;
    }
    if (header_seen && in.size() >= detail::max_unparsed_body_bytes(opt.max_header_bytes)) {
      reject(c, 400);  // a chunk-size line or trailer that does not end
      return false;
    }
    if (detail::read_more(c, in)) return false;  // timed out, closed, or the client left
    if (!active) {
      active = true;
      if (!set_state(rec, conn_state::active)) return false;
    }
  }

  // The request.
  auto msg = p.release();
  request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.version = minor_version >= 0 ? 10 + minor_version : static_cast<int>(msg.version());
  req.headers = std::move(req_headers);  // (trailer fields are dropped: see above)
  req.body = std::move(msg.body());
  req.remote_addr = c.remote_addr();
  request_target tg;
  if (!parse_request_target(req.target, req.method == "CONNECT", tg)) {
    reject(c, 400);
    return false;
  }
  req.path = detail::percent_decode(tg.path, false);
  if (tg.has_query) req.query = std::string(tg.query);

  (void)c.set_read_deadline(net::no_deadline);  // the background read waits as long as the handler runs

  detail::rw_state rs(c);
  rs.head = req.method == "HEAD";
  rs.req_version = req.version;
  rs.close_after = !keep_alive || closing.load();

  auto rc = with_cancel(cctx);
  req.set_ctx(rc.first);
  auto bg = std::make_shared<bg_read>();
  bg->c = c;
  bg->cancel = rc.second;
  goro::go([bg] {
    bg->buf.resize(4096);
    auto r = bg->c.read(bg->buf.data(), bg->buf.size());
    bg->buf.resize(r.first);
    // A deadline error is ours (the handler returned); anything else
    // with no bytes means the client is gone, or has half-closed: the
    // request's context is cancelled, as Go's handleReadError does.
    if (r.first == 0 && r.second != goro::errc::deadline_exceeded) {
      bg->gone = true;
      bg->cancel();
    }
    bg->done.close();
  });

  bool handler_failed = false;
  try {
    h(rs.w, req);
  } catch (...) {
    handler_failed = true;
  }
  if (handler_failed) {
    if (!rs.header_sent && !rs.err) {
      rs.reset();
      rs.close_after = true;
      rs.w.write_header(500);
      (void)rs.write("Internal Server Error\n");
    } else {
      rs.aborted = true;
    }
    rs.close_after = true;
  }
  if (closing.load()) rs.close_after = true;  // shutting down: say so in this answer
  std::error_code ferr = rs.finish();
  // The next request's 100 Continue and the idle wait are not this
  // response's: its write deadline ends here (Go clears it after each).
  (void)c.set_write_deadline(net::no_deadline);

  // Stop the background read (Go's abortPendingRead) and keep its bytes.
  (void)c.set_read_deadline(steady::time_point{});
  bg->done.recv();
  in += bg->buf;
  rc.second();
  // A client gone or half-closed (bg->gone) still gets the answers to the
  // requests it sent before (pipelined, already in `in`), as in Go: the
  // next serve_one parses them, and its read finds the end of the stream
  // when none is left. Go cancels the connection's context there, so the
  // handlers of those requests see theirs done: so does cancel_conn.
  if (bg->gone) cancel_conn();
  return !ferr && !rs.close_after && !handler_failed;
}

server::server(handler h, server_options options) : impl_(std::make_shared<impl>(std::move(h), std::move(options))) {}

std::error_code server::serve(net::listener ln) const { return impl_->serve(std::move(ln)); }

std::error_code server::listen_and_serve(std::string_view addr) const {
  auto lr = net::listen("tcp", addr);
  if (lr.second) return lr.second;
  return impl_->serve(lr.first);
}

std::error_code server::shutdown(const context& ctx) const {
  impl& s = *impl_;
  steady::time_point next;
  {
    mutex_lock lk(s.mu);
    s.closing.store(true);
    for (const auto& ln : s.listeners) (void)ln.close();
    next = s.close_idle_locked();
    s.check_drained_locked();
  }
  // Wait for the last connection, closing new ones as they pass their
  // grace (a connection that goes idle meanwhile closes itself).
  for (;;) {
    int i = next == steady::time_point::max()
                ? goro::select(goro::on_recv(s.drained), goro::on_recv(ctx.done()))
                : goro::select(goro::on_recv(s.drained), goro::on_recv(ctx.done()),
                               goro::on_recv(goro::after(next - steady::now())));
    if (i == 0) return {};
    if (i == 1) break;
    mutex_lock lk(s.mu);
    next = s.close_idle_locked();
  }
  {
    mutex_lock lk(s.mu);
    for (const auto& [p, rec] : s.conns) (void)rec->c.close();
  }
  s.base_cancel();
  return ctx.err();
}

std::error_code server::close() const {
  impl& s = *impl_;
  {
    mutex_lock lk(s.mu);
    s.closing.store(true);
    for (const auto& ln : s.listeners) (void)ln.close();
    for (const auto& [p, rec] : s.conns) (void)rec->c.close();
    s.check_drained_locked();
  }
  s.base_cancel();
  return {};
}

size_t server::open_connections() const {
  mutex_lock lk(impl_->mu);
  return impl_->conns.size();
}

}  // namespace goro::http
