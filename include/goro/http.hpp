// goro::http: an HTTP/1.1 server and client for goroutines (the shape of
// Go's net/http), on goro::net sockets. http:// only: there is no TLS.
//
//   goro::run([] {
//     goro::http::serve_mux mux;
//     mux.handle("/hello", [](goro::http::response_writer& w, const goro::http::request& r) {
//       w.header().set("Content-Type", "text/plain");
//       w.write("hello, " + r.query_value("name") + "\n");
//     });
//     goro::http::server srv(mux);
//     auto [ln, err] = goro::net::listen("tcp", "127.0.0.1:0");
//     goro::go([srv, ln = ln] { srv.serve(ln); });   // returns goro::http::error::server_closed after shutdown
//
//     goro::http::client c;
//     auto [ctx, cancel] = goro::with_timeout(goro::background(), 2s);
//     auto [resp, e] = c.get(ctx, "http://" + ln.addr().to_string() + "/hello?name=gopher");
//     cancel();
//     // resp.status == 200, resp.body == "hello, gopher\n"
//
//     auto [sctx, scancel] = goro::with_timeout(goro::background(), 5s);
//     srv.shutdown(sctx);                              // graceful
//     scancel();
//   });
//
// The server runs one goroutine per connection. A connection carries many
// requests (keep-alive), answered in the order they came even when the
// client sends them without waiting (pipelining). Request bodies, chunked
// or not, are read whole into request::body (up to
// server_options::max_body_bytes) before the handler runs. A response is
// buffered until the handler returns, when it gets a Content-Length;
// a handler that writes more than 4 KiB, or calls flush(), without
// setting Content-Length streams it chunked (close-delimited for an
// HTTP/1.0 client).
//
// Each request has a context (request::ctx()), cancelled when the client
// goes away while the handler runs (the connection is watched by a read
// in the background, as Go's server does), when the handler returns, and
// when the server is closed or its shutdown runs out of time. A handler
// that waits on something selects on it:
//
//   void slow(goro::http::response_writer& w, const goro::http::request& r) {
//     goro::select(goro::on_recv(goro::after(2s), [&] { w.write("done\n"); }),
//                  goro::on_recv(r.ctx().done()));   // the client left: stop
//   }
//
// Errors are std::error_code values: goro::http::error for HTTP's own,
// and those of goro::net (goro::errc::deadline_exceeded, connection_reset,
// the context's error, ...) for the transport's.
//
// Not done: TLS, HTTP/2, trailers, Expect: 100-continue on the client,
// proxies, cookies, redirects followed by the client, a streaming request
// body (the handler sees it whole), hijacking the connection.
//
// Thread-safety: server, serve_mux and client may be used from many
// goroutines and plain threads at once (serving and shutting down from
// different ones is the normal case). A request and its response_writer
// belong to the handler call they are given to: use them only in it (or
// in goroutines it waits for). header_map, request, response and
// client_request are plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <goro/context.hpp>
#include <goro/net.hpp>

namespace goro::http {

// HTTP's own errors (category "goro.http"). Compare with ==:
//   if (err == goro::http::error::malformed_response) ...
enum class error : int {
  invalid_url = 1,          // "invalid URL"
  unsupported_scheme,       // "unsupported protocol scheme" (only http://)
  malformed_response,       // "malformed HTTP response"
  header_too_large,         // "HTTP header too large"
  body_too_large,           // "HTTP body too large"
  content_length_exceeded,  // "wrote more than the declared Content-Length" (Go's ErrContentLength)
  body_not_allowed,         // "request method or response status code does not allow body" (Go's ErrBodyNotAllowed)
  server_closed,            // "Server closed" (Go's ErrServerClosed)
  invalid_method,           // "invalid method": not a token (client; Go's "net/http: invalid method")
  invalid_header,           // "invalid header field": a name not a token, or a value with CR, LF or
                            // another control character (client; Go's Transport refuses both)
};

// The category of goro::http::error, named "goro.http". A single object.
const std::error_category& http_category() noexcept;
inline std::error_code make_error_code(error e) noexcept { return {static_cast<int>(e), http_category()}; }

// The reason phrase of an HTTP status code ("Not Found" for 404), or ""
// for one it does not know (Go's StatusText).
std::string_view status_text(int code) noexcept;

// Header fields in the order they came or were added, looked up without
// regard to case ("content-type" finds "Content-Type"). A value type.
class header_map {
 public:
  using field = std::pair<std::string, std::string>;

  // The first value of `name`, or "" if there is none.
  std::string_view get(std::string_view name) const noexcept;
  // Every value of `name`, in order.
  std::vector<std::string_view> values(std::string_view name) const;
  bool has(std::string_view name) const noexcept;
  // Replaces every field named `name` with one (Go's Header.Set).
  void set(std::string_view name, std::string_view value);
  // Adds a field, keeping those of the same name (Go's Header.Add).
  void add(std::string_view name, std::string_view value);
  // Removes every field named `name` (Go's Header.Del).
  void remove(std::string_view name);

  // The number of fields (a name set twice counts twice), and the fields
  // in the order they were added: for (const auto& [name, value] : h).
  size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  std::vector<field>::const_iterator begin() const noexcept { return fields_.begin(); }
  std::vector<field>::const_iterator end() const noexcept { return fields_.end(); }

 private:
  std::vector<field> fields_;
};

// A request as the server received it.
class request {
 public:
  std::string method;        // "GET", "POST", ...
  std::string target;        // as sent: "/search?q=goro"
  std::string path;          // the target's path, percent-decoded: "/search"
  std::string query;         // the raw query, without '?': "q=goro"
  int version = 11;          // 10 for HTTP/1.0, 11 for HTTP/1.1
  header_map headers;        // "Host" included
  std::string body;          // decoded (a chunked body is joined)
  net::address remote_addr;  // the client's address

  // The first value of `name` in the query, percent- and '+'-decoded; ""
  // if absent (Go's r.URL.Query().Get).
  std::string query_value(std::string_view name) const;

  // The request's context: done when the client disconnects while the
  // handler runs, when the handler has returned, or when the server is
  // closed (see the top of this file). background() for a request that
  // no server made.
  const goro::context& ctx() const noexcept { return ctx_; }
  // Sets the context (for handlers called directly, in tests).
  void set_ctx(goro::context ctx) noexcept { ctx_ = std::move(ctx); }

 private:
  goro::context ctx_;
};

namespace detail {
struct rw_state;
}

// How a handler answers (Go's ResponseWriter). Given to the handler by
// reference; valid only during its call. Not thread-safe: one goroutine
// writes at a time.
class response_writer {
 public:
  // The response's header fields, to change before the first write or
  // write_header (the header sent is the one at that moment: later
  // changes are ignored, as in Go). Setting "Content-Length" (a decimal
  // that fits an int64; any other value is dropped, as in Go) sends the
  // body as is, without chunking; setting "Connection: close" closes the
  // connection after this response. May throw std::bad_alloc (the copy
  // of the header write_header keeps).
  header_map& header();
  // Sets the status (the first final one only; later calls are ignored).
  // write() calls write_header(200) if it was not called. Throws
  // std::invalid_argument for a code outside 100-999 (Go panics). The
  // status line and header go out with the first flush(), when the body
  // passes 4 KiB, at the first write if a Content-Length was set, or
  // when the handler returns.
  //
  // A 1xx status other than 101 is an interim response, sent at once
  // with the header fields set so far (but Content-Length and
  // Transfer-Encoding), and not the final status (Go 1.19's rule); an
  // HTTP/1.0 client is sent none (RFC 9110 15.2). Early hints:
  //
  //   w.header().add("Link", "</style.css>; rel=preload; as=style");
  //   w.write_header(103);          // sent now
  //   w.write(render_page());       // then 200 with the page
  void write_header(int status);
  // Appends body bytes. Returns an error when the connection failed (the
  // client went away: the request's context is cancelled too), when the
  // response cannot have a body (error::body_not_allowed; a HEAD request
  // counts them and writes nothing), or when a declared Content-Length
  // would be exceeded (error::content_length_exceeded). May block while
  // the client is slow to read (bounded by server_options::write_timeout).
  std::error_code write(std::string_view data);
  // Sends what is buffered now (the header, then chunked data unless a
  // Content-Length was set): for streaming.
  std::error_code flush();
  // The status given to write_header (200 once write was called), or 0.
  int status() const noexcept;

  response_writer(const response_writer&) = delete;
  response_writer& operator=(const response_writer&) = delete;

 private:
  explicit response_writer(detail::rw_state* s) noexcept : s_(s) {}
  detail::rw_state* s_;
  friend struct detail::rw_state;
};

// What serves a request. Called in the connection's goroutine; may block
// (it parks that goroutine only). An exception escaping it is caught:
// the connection is closed (with a 500 if nothing was sent yet).
using handler = std::function<void(response_writer&, const request&)>;

// Routes requests by path (Go's ServeMux, before Go 1.22's patterns): a
// pattern is a path ("/status", matched exactly) or a subtree ending in
// '/' ("/static/" matches "/static/a/b", and "/" matches every path); the
// longest matching pattern wins. A request for "/static" when only
// "/static/" is registered is redirected there (301). No match: 404.
// A handle, like the net handles: copies share the routes, so a mux
// can be given to a server and still have routes added (from any
// goroutine or thread).
class serve_mux {
 public:
  // An empty mux: every path is 404 until a pattern is registered.
  serve_mux();
  // Registers h for pattern. Throws std::invalid_argument for an empty
  // pattern, one not starting with '/', one registered already, or an
  // empty h (Go panics on those).
  void handle(std::string pattern, handler h);
  // Serves r with the matching handler (so a serve_mux is a handler).
  void operator()(response_writer& w, const request& r) const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// Connection states reported to server_options::on_conn_state (Go's
// ConnState, without hijacking).
enum class conn_state {
  new_conn,  // accepted; no request byte yet
  active,    // reading a request, or handling it
  idle,      // between requests on a keep-alive connection
  closed,    // closed; the last report for the connection
};

struct server_options {
  // How long reading a request's header may take, from its first byte
  // (from the accept for the first request). 0: read_timeout. Slow
  // clients that trickle a header in (slowloris) are closed by it.
  std::chrono::nanoseconds read_header_timeout{0};
  // How long reading a whole request (header and body) may take. 0: none.
  std::chrono::nanoseconds read_timeout{0};
  // How long writing a response may take, from the end of the request's
  // header. 0: none.
  std::chrono::nanoseconds write_timeout{0};
  // How long a keep-alive connection may wait for its next request. 0:
  // read_timeout; both 0: none.
  std::chrono::nanoseconds idle_timeout{0};
  // The request line and header together, in bytes; beyond it the server
  // answers 431 and closes the connection (Go: 1 MiB).
  size_t max_header_bytes = 1 << 20;
  // A request body, in bytes; beyond it the server answers 413 and closes
  // the connection.
  uint64_t max_body_bytes = 8 << 20;
  // Called on each change of a connection's state: new_conn from the
  // accept loop, the others from the connection's goroutine; closed is
  // reported before shutdown() can return. Keep it short.
  std::function<void(const net::conn&, conn_state)> on_conn_state;
};

// An HTTP server (Go's http.Server). A handle: copies name the same
// server, so one goroutine may serve while another shuts it down.
class server {
 public:
  explicit server(handler h, server_options options = {});

  // Accepts connections on ln and serves each in a goroutine of its
  // own, until ln fails or the server is shut down or closed. Blocks the
  // calling goroutine (or thread). Returns error::server_closed after
  // shutdown() or close() (also when called after them), else accept's
  // error. Running out of descriptors is not an error: accept is retried
  // after 5 ms, doubling to 1 s (Go's backoff). May be called for several
  // listeners at once.
  std::error_code serve(net::listener ln) const;
  // net::listen("tcp", addr), then serve() (Go's ListenAndServe).
  std::error_code listen_and_serve(std::string_view addr) const;

  // Graceful shutdown (Go's Shutdown): closes the listeners (serve
  // returns), closes idle connections, and connections with no request
  // byte yet once they have been open 5 s (Go's grace for a client about
  // to send: a request that comes meanwhile is served, with "Connection:
  // close"), and waits until every request in progress has been answered and its
  // connection closed, or until ctx is done. In the second case it closes
  // the remaining connections, cancels their requests' contexts and
  // returns ctx.err() without waiting for their handlers. Returns {} when
  // everything ended in time. Blocks the caller; callable from any
  // goroutine or thread, more than once.
  std::error_code shutdown(const goro::context& ctx) const;

  // Closes listeners and every connection at once, cancelling the
  // requests' contexts (Go's Close). Does not wait for handlers.
  std::error_code close() const;

  // Connections open now (accepted and not yet closed).
  size_t open_connections() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// A response as the client received it.
struct response {
  int status = 0;       // 200
  std::string reason;   // "OK"
  int version = 11;     // 10 or 11
  header_map headers;
  std::string body;     // decoded (a chunked body is joined)
};

// A request for client::do_request.
struct client_request {
  std::string method = "GET";
  std::string url;      // "http://host:port/path?query"
  header_map headers;   // Host, Content-Length are added
  std::string body;
};

struct client_options {
  // Idle keep-alive connections kept per host:port (Go's
  // MaxIdleConnsPerHost, default 2). 0: none kept, every request dials.
  int max_idle_per_host = 2;
  // A response's header, and its body, in bytes; beyond them the
  // request fails with error::header_too_large or error::body_too_large.
  size_t max_header_bytes = 1 << 20;
  uint64_t max_body_bytes = 64 << 20;
};

// An HTTP client (Go's http.Client with its Transport): keeps idle
// connections per host:port and reuses them (keep-alive). http:// only;
// https:// fails with error::unsupported_scheme. Every method may be
// called from many goroutines and threads at once. Destroying the
// client closes its idle connections; it must outlive its calls.
class client {
 public:
  explicit client(client_options options = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Sends req and reads the whole response (Go's Client.Do; `do` is a C++
  // keyword, hence the name). Blocks the caller until the response has
  // been read, an error, or ctx is done: then it returns ctx.err()
  // (goro::errc::deadline_exceeded for a timeout, errc::canceled), and
  // the connection is closed. The response is read while the body is
  // sent: an answer that comes first (413 for a body too large) is
  // returned at once, and its connection closed, as in Go. A request on
  // a reused connection that the server closed meanwhile without
  // answering is sent again on a new one if sending it twice is harmless,
  // as Go's Transport judges it: its method is GET, HEAD, OPTIONS or
  // TRACE, or it has an "Idempotency-Key" or "X-Idempotency-Key" header
  // (or none of it had been sent). Any other (a POST, PUT, DELETE) fails
  // with the error, goro::io_errc::eof for a close: the server may have
  // acted on it. Redirects are not followed.
  //
  //   auto [ctx, cancel] = goro::with_timeout(goro::background(), 500ms);  // a timeout per request
  //   goro::http::client_request req;
  //   req.method = "POST";
  //   req.url = url;
  //   req.headers.set("Content-Type", "application/json");
  //   req.body = "{}";
  //   auto [resp, err] = c.do_request(ctx, req);
  //   cancel();
  std::pair<response, std::error_code> do_request(const goro::context& ctx, const client_request& req);
  // do_request with GET.
  std::pair<response, std::error_code> get(const goro::context& ctx, std::string_view url);
  // do_request with POST, body and Content-Type.
  std::pair<response, std::error_code> post(const goro::context& ctx, std::string_view url,
                                            std::string_view content_type, std::string body);

  // Closes the idle connections kept for reuse.
  void close_idle_connections();
  // How many idle connections are kept now.
  size_t idle_connections() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace goro::http

namespace goro::debug {

// A handler serving the runtime's debug pages (Go's net/http/pprof and
// expvar), for mounting in a server of one's own:
//   /debug/goroutines           every goroutine, goro::debug::dump's text;
//                               ?debug=1 groups identical ones
//   /debug/stats                goro::debug::stats() as JSON
//   /metrics                    the same in Prometheus' text format
//   /debug/trace?seconds=N      an execution trace of the next N seconds
//                               (default 1, at most 60; goro/trace.hpp),
//                               Chrome trace JSON for ui.perfetto.dev;
//                               409 if a trace is already running
// Every other path is 404. The pages show every goroutine's stack and
// the program's internals: serve them on loopback only.
//
//   goro::http::serve_mux mux;
//   mux.handle("/debug/", goro::debug::http_handler());
//   mux.handle("/metrics", goro::debug::http_handler());
goro::http::handler http_handler();

// Serves http_handler() on ln in a goroutine of its own, returning the
// server (shut it down or close it when done; its goroutine ends then).
goro::http::server serve(net::listener ln);

// Listens on addr (default 127.0.0.1:6060, loopback: see above) and
// serves the debug pages there in a goroutine, as Go's
// `go http.ListenAndServe("localhost:6060", nil)` with pprof imported.
// Returns the server, or listen's error.
std::pair<goro::http::server, std::error_code> serve(std::string_view addr = "127.0.0.1:6060");

}  // namespace goro::debug

template <>
struct std::is_error_code_enum<goro::http::error> : std::true_type {};
