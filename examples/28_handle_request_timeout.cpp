// Pattern: a request handler with a deadline -- context.WithTimeout around
// a slow backend call, without HTTP.
//
//   func handleRequest(ctx context.Context, id string) (string, error) {
//       ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
//       defer cancel()
//       result := make(chan string, 1)
//       go func() { result <- slowLookup(ctx, id) }()
//       select {
//       case r := <-result:
//           return r, nil
//       case <-ctx.Done():
//           return "", ctx.Err()              // context.DeadlineExceeded
//       }
//   }
//
// What it shows: handle_request gives each request 50ms. The lookup runs
// in its own goroutine and watches the same context, so when the handler
// gives up, the lookup stops too instead of working for nobody. A request
// id travels in the context as a typed value (goro::context_key<T>, Go's
// WithValue with an unexported key type). Three requests: a fast one that
// answers; a slow one that times out (ctx.err() is
// goro::errc::deadline_exceeded, "context deadline exceeded"); and one
// whose caller cancels every request at once (the server shutting down):
// cancelling the parent cancels the request's own context, whose err() is
// then goro::errc::canceled.
//
// Pitfall avoided: a result channel without room would leave the lookup
// goroutine blocked forever on its send once the handler has returned (a
// leaked goroutine); with one slot the late send completes and the
// goroutine ends. And the cancel function is always called, so the
// deadline's timer goes at once (Go's `defer cancel()`, which `go vet`
// checks).
#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

inline constexpr goro::context_key<std::string> request_id;

// The backend: takes `cost`, in steps of 5ms, stopping early when ctx is
// done.
static std::string slow_lookup(const goro::context& ctx, std::chrono::milliseconds cost) {
  for (auto spent = 0ms; spent < cost; spent += 5ms) {
    if (goro::select(goro::case_recv(ctx.done()), goro::case_recv(goro::after(5ms))).index() == 0)
      return "";  // nobody is waiting any more
  }
  return "profile of " + *ctx.value(request_id);
}

struct response {
  std::string body;
  std::error_code err;
};

static response handle_request(const goro::context& parent, const std::string& id, std::chrono::milliseconds cost) {
  auto [ctx, cancel] = goro::with_timeout(goro::with_value(parent, request_id, id), 50ms);
  auto result = goro::make_chan<std::string>(1);  // room for a late answer
  goro::go([ctx = ctx, result, cost] { result.send(slow_lookup(ctx, cost)); });
  response r;
  goro::select(goro::on_recv(result, [&](std::string body) { r.body = std::move(body); }),
               goro::on_recv(ctx.done(), [&r, ctx = ctx] { r.err = ctx.err(); }));
  cancel();  // defer cancel()
  return r;
}

static void print(const char* what, const response& r) {
  if (r.err) {
    std::printf("%-9s error: %s\n", what, r.err.message().c_str());
  } else {
    std::printf("%-9s ok: %s\n", what, r.body.c_str());
  }
}

int main() {
  return goro::run([] {
    auto server = goro::background();
    print("fast:", handle_request(server, "r-1", 10ms));
    response slow = handle_request(server, "r-2", 500ms);
    print("slow:", slow);

    // The server shuts down while a request is in flight.
    auto [shutting, shutdown] = goro::with_cancel(server);
    goro::go([shutdown = shutdown] {
      goro::sleep_for(10ms);
      shutdown();
    });
    response cut = handle_request(shutting, "r-3", 500ms);
    print("shutdown:", cut);
    bool as_expected = slow.err == goro::errc::deadline_exceeded && cut.err == goro::errc::canceled;
    std::printf("errors as expected: %s\n", as_expected ? "yes" : "NO");
    return as_expected ? 0 : 1;
  });
}
