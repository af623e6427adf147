// The HTTP client (goro/http.hpp): Go's http.Client with its Transport,
// reduced to HTTP/1.1 over plain TCP.
//
// A request takes an idle connection for its host:port from the pool
// (most recently used first) or dials one with the request's context,
// writes the request, and reads the response with a Beast
// response_parser (Content-Length, chunked, or up to the end of the
// stream). A response read to its end on a connection both sides keep
// alive goes back to the pool, if the host has fewer than
// max_idle_per_host idle ones.
//
// The response is read while the request is written, as Go's
// persistConn reads in its readLoop while its writeLoop writes: a server
// may answer before it has read the body (a 413 for one too large) and
// then read no more without closing, and a client that first wrote the
// whole body would wait for its deadline. A request of more than
// inline_write_max bytes is written by a goroutine of the call
// (request_writer); an answer that is complete first ends that write, and
// the connection, half written, is not reused. The writer is always
// waited for before the call returns.
//
// A response with both Content-Length and Transfer-Encoding: chunked is
// read as chunked, its Content-Length dropped (Go's readTransfer; several
// Content-Length fields that differ are an error, as in Go), and its
// connection is not reused (RFC 9112 6.3: it may be an attempt at
// response splitting, after which the connection's bytes are not to be
// trusted; Go 1.19 does reuse it).
//
// The context: its deadline becomes the connection's deadline, and a
// cancel reaches a blocked read or write through context_after_func,
// which closes the connection. If that function was started (stop()
// returns false) the connection is never reused and the result is
// ctx.err(), whatever the read returned.
//
// A pooled connection may have been closed by the server meanwhile (its
// idle timeout); the request then fails before any response byte, and
// is sent again once on a new connection if none of it was sent, or if
// sending it twice is harmless (Go's shouldRetryRequest and
// isReplayable): the server may have read it, and acted on it, before it
// closed.
//
// impl::mu guards the pool; nothing else is done under it but closing
// sockets, which does not block.
#include "http/util.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <unordered_map>

#include "goro/chan.hpp"
#include "goro/mutex.hpp"
#include "goro/panic.hpp"
#include "goro/runtime.hpp"

namespace goro::http {

namespace {

struct parsed_url {
  std::string host_port;  // "host:port" to dial, and the pool's key
  std::string host;       // the Host header: as written in the URL
  std::string target;     // "/path?query"
};

std::error_code parse_url(std::string_view url, parsed_url& out) {
  // No control character or space anywhere: the target is written into
  // the request line as it is, where CR LF would start a header of the
  // caller's URL's choosing (Go's url.Parse refuses them, CVE-2019-9741).
  if (detail::has_ctl_or_space(url)) return error::invalid_url;
  size_t colon = url.find("://");
  if (colon == std::string_view::npos) return error::invalid_url;
  std::string scheme(url.substr(0, colon));
  for (auto& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (scheme != "http") return error::unsupported_scheme;
  std::string_view rest = url.substr(colon + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (size_t hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return error::invalid_url;
  out.host = std::string(authority);
  // A port is present if the last ':' comes after any ']' (IPv6 literal).
  size_t last_colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (last_colon != std::string_view::npos && (bracket == std::string_view::npos || last_colon > bracket)) {
    // Digits only, at most 65535 (Go's url.Parse and dialer): the
    // resolver would take "+80" or wrap 65616 to 80, and the Host header
    // would still say what the URL said. An empty port is the default
    // one, and the Host header drops the colon (Go's removeEmptyPort).
    std::string_view port = authority.substr(last_colon + 1);
    if (port.size() > 5) return error::invalid_url;
    unsigned v = 0;
    for (char ch : port) {
      if (ch < '0' || ch > '9') return error::invalid_url;
      v = v * 10 + static_cast<unsigned>(ch - '0');
    }
    if (v > 65535) return error::invalid_url;
    if (port.empty()) {
      authority.remove_suffix(1);
      out.host = std::string(authority);
      out.host_port = out.host + ":80";
    } else {
      out.host_port = std::string(authority);
    }
  } else {
    out.host_port = std::string(authority) + ":80";
  }
  if (out.host.empty() || out.host[0] == ':') return error::invalid_url;
  if (tail.empty())
    out.target = "/";
  else if (tail[0] == '?')
    out.target = "/" + std::string(tail);
  else
    out.target = std::string(tail);
  return {};
}

// Whether a request the server may have read, and acted on, before it
// closed without answering may be sent again (Go's isReplayable): its
// method is safe, or the caller's Idempotency-Key says a repeat is
// harmless. (A body here is a string, always there to send again: Go's
// GetBody.) PUT and DELETE are idempotent in RFC 9110's words, but Go
// does not resend them, and neither does goro.
bool replayable(const client_request& req) {
  const std::string& m = req.method;
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || req.headers.has("Idempotency-Key") ||
         req.headers.has("X-Idempotency-Key");
}

// Requests of at most this many bytes are written by the caller before it
// reads, without a goroutine: they go at once into the connection's send
// buffer (16 KiB by default on Linux, never under 4608 bytes), which holds
// nothing else on a new connection, nor on a pooled one (its last request
// went out whole and was answered), so no server can leave them stuck.
// Bigger ones are written by request_writer's goroutine.
constexpr size_t inline_write_max = 4096;

// Writes one request while round_trip reads the answer. A small request
// is written in the constructor; a bigger one by a goroutine it starts
// (written inline if no goroutine can be had). stop() ends a write still
// going (a write deadline in the past: only the writer waits on it, and
// do_request sets the deadlines again before the connection is used) and
// waits for the goroutine; the destructor stops too, so the writer never
// outlives the call, nor the connection handle and the bytes it was lent.
// Used by the caller alone; the writer's results (n_, err_) are read only
// after the writer closed done_.
class request_writer {
 public:
  request_writer(const net::conn& c, const std::string& wire) : c_(c), wire_(wire) {
    if (wire.size() > inline_write_max) {
      done_ = make_chan<unit>();
      try {
        // Its own handle of done_: the caller may return, and drop this
        // object with its handle, as soon as it sees the close.
        goro::go([this, done = done_] {
          write();
          done.close();
        });
        return;
      } catch (const goro::resource_error&) {
        done_ = chan<unit>();  // no stack for a writer: write here
      }
    }
    write();
  }
  ~request_writer() { (void)stop(); }
  request_writer(const request_writer&) = delete;
  request_writer& operator=(const request_writer&) = delete;

  // Ends the write (at once if it is still going: the rest is not sent)
  // and returns its error: {} if it sent everything, or if it failed only
  // because stop() cut it short.
  std::error_code stop() {
    if (!done_.is_nil() && !joined_) {
      if (!done_.try_recv().closed()) {
        cut_ = true;
        (void)c_.set_write_deadline(std::chrono::steady_clock::time_point{});
      }
      done_.recv();
      joined_ = true;
    }
    if (cut_ && err_ == errc::deadline_exceeded) return {};
    return err_;
  }
  // After stop(): whether the whole request went out, or none of it.
  bool all_sent() const { return !err_ && n_ == wire_.size(); }
  bool none_sent() const { return n_ == 0; }

 private:
  void write() {
    auto r = c_.write(wire_);
    n_ = r.first;
    err_ = r.second;
  }
  const net::conn& c_;
  const std::string& wire_;
  chan<unit> done_;  // closed by the writer goroutine when it is done; nil if written inline
  bool joined_ = false, cut_ = false;
  size_t n_ = 0;  // written by the writer, read after done_
  std::error_code err_;
};

// Go reads a response with both Content-Length and Transfer-Encoding:
// chunked as chunked, dropping the Content-Length (its readTransfer); Beast
// refuses the pair. Called with such a response's header whole at the
// front of `in` (Beast takes none of a header until all of it is in):
// removes its Content-Length fields if the response is HTTP/1.1 and has
// one Transfer-Encoding field, "chunked" (any other coding, or more than
// one field, is an error in Go as here). Returns whether it removed any.
bool drop_content_length_of_chunked(std::string& in) {
  const size_t eom = in.find("\r\n\r\n");
  if (eom == std::string::npos || !std::string_view(in).starts_with("HTTP/1.1 ")) return false;
  std::vector<std::pair<size_t, size_t>> cl_fields;  // [begin, end) with the CRLF
  int te_fields = 0;
  std::string te_value;
  std::optional<std::string> cl_value;  // the first Content-Length's value
  bool cl_differ = false;               // Go refuses differing ones, chunked or not (fixLength)
  bool in_cl = false, in_te = false;  // the field the line continues (obs-fold)
  for (size_t pos = in.find("\r\n") + 2; pos < eom + 2;) {
    const size_t next = in.find("\r\n", pos) + 2;
    std::string_view line(in.data() + pos, next - 2 - pos);
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      if (in_cl) cl_fields.back().second = next;
      if (in_te) te_value.append(" ").append(line);
    } else {
      const size_t colon = line.find(':');
      const std::string_view name = line.substr(0, colon);
      in_cl = detail::iequals(name, "Content-Length");
      in_te = detail::iequals(name, "Transfer-Encoding");
      if (in_cl) {
        cl_fields.emplace_back(pos, next);
        std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        if (!cl_value) cl_value = std::string(value);
        else if (*cl_value != value) cl_differ = true;
      }
      if (in_te) {
        te_fields++;
        te_value = colon == std::string_view::npos ? std::string() : std::string(line.substr(colon + 1));
      }
    }
    pos = next;
  }
  std::string_view v = te_value;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (te_fields != 1 || !detail::iequals(v, "chunked") || cl_fields.empty() || cl_differ) return false;
  for (auto it = cl_fields.rbegin(); it != cl_fields.rend(); ++it) in.erase(it->first, it->second - it->first);
  return true;
}

}  // namespace

struct client::impl {
  explicit impl(client_options o) : opt(o) {}
  const client_options opt;
  goro::mutex mu{goro::mutex::never_biased_t{}};  // every request takes it
  std::unordered_map<std::string, std::vector<net::conn>> idle GORO_GUARDED_BY(mu);

  net::conn take_idle(const std::string& key) {
    for (;;) {
      net::conn c;
      {
        mutex_lock lk(mu);
        auto it = idle.find(key);
        if (it == idle.end() || it->second.empty()) return {};
        c = std::move(it->second.back());
        it->second.pop_back();
      }
      if (!closed_while_idle(c)) return c;
      (void)c.close();
    }
  }
  // Whether the server closed c (or sent unasked bytes) while it sat in
  // the pool. Go's persistConn notices that with a read always pending
  // and drops the connection; here one look without blocking, before
  // reuse, so that a request that cannot be sent again (a POST) is not
  // written into a connection already known dead.
  // Readable (bytes, end of stream, an error) means unusable. poll(2)
  // rather than a peeking recv: no errno to read, which under TSan a
  // goroutine that moved to a worker thread made after it cannot read
  // without a report (the thread's TLS set-up is not ordered before it).
  static bool closed_while_idle(const net::conn& c) {
    struct pollfd p {c.fd(), POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, 0) != 0;
  }
  void put_idle(const std::string& key, net::conn c) {
    {
      mutex_lock lk(mu);
      auto& v = idle[key];
      if (static_cast<int>(v.size()) < opt.max_idle_per_host) {
        v.push_back(std::move(c));
        return;
      }
    }
    (void)c.close();
  }

  // One attempt on c. `got_bytes`: whether any response byte came, and
  // `nothing_sent`: whether no request byte went (a failure before a
  // response byte on a reused connection may be retried).
  std::pair<response, std::error_code> round_trip(const context& ctx, const net::conn& c, const std::string& wire,
                                                  bool head, bool& got_bytes, bool& nothing_sent, bool& reusable);
};

std::pair<response, std::error_code> client::impl::round_trip(const context& ctx, const net::conn& c,
                                                              const std::string& wire, bool head, bool& got_bytes,
                                                              bool& nothing_sent, bool& reusable) {
  got_bytes = false;
  nothing_sent = false;
  reusable = false;
  if (auto d = ctx.deadline())
    (void)c.set_deadline(*d);
  else
    (void)c.set_deadline(net::no_deadline);
  // A server may answer before the request is all sent (a 413 for a body
  // too large), and close or stop reading: that answer is the result, as
  // in Go, if it can be read; else the write's error is, if the write
  // failed (see the top of this file).
  request_writer writer(c, wire);
  bool cl_dropped = false;  // a Content-Length under chunked was dropped

  using parser_t = detail::bhttp::response_parser<detail::bhttp::string_body>;
  std::optional<parser_t> p;
  header_map fields;
  bool header_taken = false;
  bool keep_alive = false;
  int interim = 0;  // 1xx responses so far
  auto fresh = [&] {
    p.emplace();
    p->header_limit(static_cast<std::uint32_t>(std::min<size_t>(opt.max_header_bytes, UINT32_MAX)));
    p->body_limit(opt.max_body_bytes);
    // Not eager until the header is in: its fields are copied out then,
    // before a trailer (which Beast adds to the same fields) is parsed.
    p->eager(false);
    if (head) p->skip(true);
    fields = header_map();
    header_taken = false;
  };
  fresh();
  std::string in;
  auto fail = [&](std::error_code e) {
    const std::error_code werr = writer.stop();
    nothing_sent = writer.none_sent();
    return std::pair<response, std::error_code>(response(), werr ? werr : e);
  };
  // Reads more into `in`; true if the response is complete (it ends with
  // the stream), else sets `e`.
  auto read_or_eof = [&](std::error_code& e) {
    e = detail::read_more(c, in);
    if (!in.empty()) got_bytes = true;
    if (!e) return false;
    if (e == goro::io_errc::eof && p->got_some()) {
      boost::system::error_code ec;
      p->put_eof(ec);
      if (!ec && p->is_done()) {
        e = {};
        return true;
      }
      e = goro::io_errc::unexpected_eof;
    }
    return false;
  };
  for (;;) {
    if (in.empty()) {
      std::error_code e;
      if (read_or_eof(e)) break;
      if (e) return fail(e);
    }
    boost::system::error_code ec;
    size_t used = detail::feed(*p, in, ec);
    if ((ec == detail::bhttp::error::bad_transfer_encoding || ec == detail::bhttp::error::bad_content_length) &&
        !header_taken && drop_content_length_of_chunked(in)) {
      cl_dropped = true;  // parse the header again, without it
      fresh();
      continue;
    }
    in.erase(0, used);
    if (ec && ec != detail::bhttp::error::need_more) {
      if (ec == detail::bhttp::error::header_limit) return fail(error::header_too_large);
      if (ec == detail::bhttp::error::body_limit) return fail(error::body_too_large);
      return fail(error::malformed_response);
    }
    if (!header_taken && p->is_header_done()) {
      header_taken = true;
      for (const auto& f : p->get()) fields.add(f.name_string(), f.value());
      keep_alive = p->get().keep_alive();
      p->eager(true);
    }
    if (p->is_done()) {
      // A 1xx answer (100 Continue) comes before the real one: start over
      // (at most 5 of them, as Go's client).
      int st = p->get().result_int();
      if (st / 100 == 1 && st != 101) {
        if (++interim > 5) return fail(error::malformed_response);
        fresh();
        continue;
      }
      break;
    }
    if (used > 0 && !ec) continue;
    // A chunk-size line or trailer that does not end (a hostile server)
    // must not grow `in` without bound.
    if (p->is_header_done() && in.size() >= detail::max_unparsed_body_bytes(opt.max_header_bytes))
      return fail(error::malformed_response);
    std::error_code e;  // need more: read, appending to what is left
    if (read_or_eof(e)) break;
    if (e) return fail(e);
  }
  // The answer is in: a write still going is not waited for (Go returns
  // such an answer at once and does not reuse its connection).
  writer.stop();
  auto msg = p->release();
  response resp;
  resp.status = static_cast<int>(msg.result_int());
  resp.reason = std::string(msg.reason());
  resp.version = static_cast<int>(msg.version());
  resp.headers = std::move(fields);  // (trailer fields are dropped: see above)
  resp.body = std::move(msg.body());
  // Reusable: both sides keep it, the body ended by its framing, nothing
  // more came (a server does not send unasked), the whole request went
  // out, no protocol switch (101) took the connection over, and the
  // framing was not in doubt (Content-Length beside chunked).
  reusable =
      keep_alive && writer.all_sent() && !msg.need_eof() && in.empty() && resp.status != 101 && !cl_dropped;
  return {std::move(resp), {}};
}

client::client(client_options options) : impl_(std::make_unique<impl>(options)) {}

client::~client() { close_idle_connections(); }

std::pair<response, std::error_code> client::do_request(const context& ctx, const client_request& req) {
  parsed_url u;
  if (std::error_code e = parse_url(req.url, u)) return {response(), e};
  if (std::error_code e = ctx.err()) return {response(), e};
  if (!detail::valid_header_name(req.method)) return {response(), error::invalid_method};
  for (const auto& f : req.headers)
    if (!detail::valid_header_name(f.first) || !detail::valid_header_value(f.second))
      return {response(), error::invalid_header};

  std::string wire = req.method + " " + u.target + " HTTP/1.1\r\n";
  if (!req.headers.has("Host")) wire += "Host: " + u.host + "\r\n";
  for (const auto& f : req.headers) {
    if (detail::iequals(f.first, "Content-Length") || detail::iequals(f.first, "Transfer-Encoding")) continue;
    wire += f.first + ": " + f.second + "\r\n";
  }
  if (!req.headers.has("User-Agent")) wire += "User-Agent: goro-http-client\r\n";
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
    wire += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  wire += "\r\n";
  wire += req.body;
  const bool head = req.method == "HEAD";
  // A request that asks to close its connection closes it, whatever the
  // server answers (Go's wantsClose).
  const bool wants_close = detail::has_token(req.headers.get("Connection"), "close");

  for (int attempt = 0;; attempt++) {
    // The retry dials: an idle connection the server closed is likely not
    // alone (an idle timeout closes them together).
    net::conn c = attempt == 0 ? impl_->take_idle(u.host_port) : net::conn();
    const bool reused = static_cast<bool>(c);
    if (!reused) {
      auto d = net::dial_context(ctx, "tcp", u.host_port);
      if (d.second) return {response(), ctx.err() ? ctx.err() : d.second};
      c = d.first;
    }
    // A cancel closes the connection, waking a blocked read or write.
    after_func_stop stop = context_after_func(ctx, [c] { (void)c.close(); });
    bool got_bytes = false, nothing_sent = false, reusable = false;
    auto r = impl_->round_trip(ctx, c, wire, head, got_bytes, nothing_sent, reusable);
    bool stopped = stop();
    if (!stopped || ctx.err()) {
      (void)c.close();
      if (ctx.err()) return {std::move(r.first), ctx.err()};
    }
    if (r.second) {
      (void)c.close();
      // The server closed it meanwhile, without a word: send again what
      // it cannot have read, or may read twice.
      if (reused && !got_bytes && attempt == 0 && (nothing_sent || replayable(req))) continue;
      return r;
    }
    if (reusable && stopped && !wants_close) {
      (void)c.set_deadline(net::no_deadline);
      impl_->put_idle(u.host_port, c);
    } else {
      (void)c.close();
    }
    return r;
  }
}

std::pair<response, std::error_code> client::get(const context& ctx, std::string_view url) {
  client_request req;
  req.url = std::string(url);
  return do_request(ctx, req);
}

std::pair<response, std::error_code> client::post(const context& ctx, std::string_view url,
                                                  std::string_view content_type, std::string body) {
  client_request req;
  req.method = "POST";
  req.url = std::string(url);
  req.headers.set("Content-Type", content_type);
  req.body = std::move(body);
  return do_request(ctx, req);
}

void client::close_idle_connections() {
  std::unordered_map<std::string, std::vector<net::conn>> old;
  {
    mutex_lock lk(impl_->mu);
    old.swap(impl_->idle);
  }
  for (auto& [k, v] : old)
    for (auto& c : v) (void)c.close();
}

size_t client::idle_connections() const {
  mutex_lock lk(impl_->mu);
  size_t n = 0;
  for (const auto& kv : impl_->idle) n += kv.second.size();
  return n;
}

}  // namespace goro::http
