// Pattern: an HTTP service -- a handler that gives its backend call a
// deadline derived from the request's context, a client with a timeout
// per request, and a graceful shutdown (Go's net/http shape).
//
//   func lookup(w http.ResponseWriter, r *http.Request) {
//       ctx, cancel := context.WithTimeout(r.Context(), 50*time.Millisecond)
//       defer cancel()
//       result := make(chan string, 1)
//       go func() { result <- slowLookup(ctx, r.URL.Query().Get("id")) }()
//       select {
//       case v := <-result:
//           fmt.Fprintln(w, v)
//       case <-ctx.Done():                   // our deadline, or the client left
//           http.Error(w, ctx.Err().Error(), http.StatusGatewayTimeout)
//       }
//   }
//   ...
//   srv.Shutdown(ctx)                        // finish in-flight requests
//
// What it shows: each request's context (req.ctx()) is the parent of the
// handler's 50 ms budget, so the backend stops when the budget runs out
// and also when the client hangs up (the server cancels the request's
// context when it sees the connection end). Four requests, on loopback:
//  1. a quick lookup: 200 with the answer;
//  2. a slow lookup: the handler's budget ends first, 504;
//  3. a client that allows only 20 ms (a timeout per request, through the
//     context given to client.get) for a slow lookup: the client reports
//     "context deadline exceeded", and the handler sees its request's
//     context cancelled because the client went away;
//  4. a request still in flight when shutdown starts: it is answered
//     (with "Connection: close"), shutdown returns once it is, and a new
//     connection is refused afterwards.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>

#include "goro/goro.hpp"
#include "goro/http.hpp"

using namespace std::chrono_literals;
namespace http = goro::http;

// The backend: takes `cost`, in steps of 5 ms, stopping early when ctx is
// done.
static std::string slow_lookup(const goro::context& ctx, const std::string& id, std::chrono::milliseconds cost) {
  for (auto spent = 0ms; spent < cost; spent += 5ms) {
    if (goro::select(goro::case_recv(ctx.done()), goro::case_recv(goro::after(5ms))).index() == 0) return "";
  }
  return "value-of-" + id;
}

// Tells the main goroutine what the handler saw: request 3's end, and
// that request 4 has started (so the shutdown starts while it runs).
static goro::chan<std::string> handler_notes = goro::make_chan<std::string>(8);

// A query parameter's milliseconds (0 if absent or not a number).
static int query_ms(const http::request& r, const char* key) {
  std::string v = r.query_value(key);
  int ms = 0;
  std::from_chars(v.data(), v.data() + v.size(), ms);
  return ms;
}

static void lookup(http::response_writer& w, const http::request& r) {
  auto [ctx, cancel] = goro::with_timeout(r.ctx(), 50ms);  // defer cancel(): called below
  std::string id = r.query_value("id");
  if (id == "4") handler_notes.send("started");
  // std::from_chars, not std::stoi: stoi clears and reads errno, which the
  // goroutines that run on one worker thread share; under TSan that reads as
  // a race (docs/guide.md, "errno").
  auto cost = std::chrono::milliseconds(query_ms(r, "cost"));
  auto result = goro::make_chan<std::string>(1);  // one slot: a late send never blocks
  goro::go([ctx = ctx, result, id, cost] { result.send(slow_lookup(ctx, id, cost)); });
  switch (auto s = goro::select(goro::case_recv(result), goro::case_recv(ctx.done())); s.index()) {
    case 0:
      (void)w.write(s.get<0>() + "\n");
      break;
    case 1:
      if (r.ctx().err()) break;  // the client is gone: nobody to answer
      w.write_header(504);
      (void)w.write(ctx.err().message() + "\n");
      break;
  }
  cancel();
  // Request 3's end, whichever way it went: on a busy machine the
  // handler's own 50 ms may run out before it sees the client go.
  if (id == "3") {
    handler_notes.send(r.ctx().err() ? "handler: request 3 cancelled (" + r.ctx().err().message() + "): client gone"
                                     : "handler: request 3 ran out of its own budget before it saw the client go");
  }
}

int main() {
  goro::run([] {
    http::serve_mux mux;
    mux.handle("/lookup", lookup);
    http::server_options opts;
    opts.read_header_timeout = 2s;  // slow clients cannot hold connections open
    opts.idle_timeout = 10s;
    http::server srv(mux, opts);
    auto [ln, err] = goro::net::listen("tcp", "127.0.0.1:0");
    if (err) {
      std::printf("listen: %s\n", err.message().c_str());
      return;
    }
    const std::string base = "http://" + ln.addr().to_string();
    auto served = goro::make_chan<std::error_code>(1);
    goro::go([srv, ln = ln, served] { served.send(srv.serve(ln)); });

    http::client client;
    auto call = [&](const std::string& what, std::chrono::milliseconds timeout, const std::string& query) {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), timeout);
      auto [resp, e] = client.get(ctx, base + "/lookup?" + query);
      cancel();
      if (e)
        std::printf("%-9s -> error: %s\n", what.c_str(), e.message().c_str());
      else
        std::printf("%-9s -> %d %s", what.c_str(), resp.status, resp.body.c_str());
    };
    call("quick", 2s, "id=1&cost=10");    // 200 value-of-1
    call("slow", 2s, "id=2&cost=500");    // 504 context deadline exceeded
    call("impatient", 20ms, "id=3&cost=500");  // the client's own timeout
    std::printf("%s\n", handler_notes.recv().c_str());

    // 4: shut down while a request is in flight.
    auto in_flight = goro::make_chan<std::string>(1);
    goro::go([&client, base, in_flight] {
      auto [resp, e] = client.get(goro::background(), base + "/lookup?id=4&cost=30");
      in_flight.send(e ? e.message() : std::to_string(resp.status) + " " + resp.body.substr(0, resp.body.size() - 1) +
                                            ", Connection: " + std::string(resp.headers.get("Connection")));
    });
    handler_notes.recv();  // its handler runs
    auto [sctx, scancel] = goro::with_timeout(goro::background(), 5s);
    std::error_code serr = srv.shutdown(sctx);
    scancel();
    std::printf("in flight -> %s\n", in_flight.recv().c_str());
    std::printf("shutdown  -> %s\n", serr ? serr.message().c_str() : "ok: every request answered");
    std::printf("serve     -> %s\n", served.recv().message().c_str());
    auto again = client.get(goro::background(), base + "/lookup?id=5");
    std::printf("after     -> %s\n", again.second.message().c_str());
  });
}
