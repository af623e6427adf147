// The examples in the comments of goro/context.hpp, goro/errc.hpp and
// goro/errgroup.hpp, compiled and run, so that they cannot drift from the
// API.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

namespace {

inline constexpr goro::context_key<std::string> request_id;
inline constexpr goro::context_key<int> user_id;

// context.hpp, the file's example: a request with a timeout.
std::error_code handle_request(goro::context ctx, goro::chan<int> results) {
  auto [ctx2, cancel] = goro::with_timeout(ctx, 100ms);
  std::error_code out;
  goro::select(goro::on_recv(results, [&](int) {}), goro::on_recv(ctx2.done(), [&out, ctx2 = ctx2] { out = ctx2.err(); }));
  cancel();
  return out;
}

TEST(ContextDoc, HeaderExamples) {
  goro::run([] {
    // A request whose answer never comes: the timeout ends it.
    EXPECT_EQ(handle_request(goro::background(), goro::make_chan<int>()), goro::errc::deadline_exceeded);

    // errc.hpp
    std::error_code e = goro::errc::deadline_exceeded;
    EXPECT_EQ(e.message(), "context deadline exceeded");

    // context_key
    auto ctx = goro::with_value(goro::background(), request_id, std::string("r-42"));
    const std::string* id = ctx.value(request_id);
    ASSERT_NE(id, nullptr);
    EXPECT_EQ(*id, "r-42");
    auto ctx2 = goro::with_value(goro::background(), user_id, 42);
    EXPECT_EQ(*ctx2.value(user_id), 42);

    // with_cancel_cause
    auto [c, cancel] = goro::with_cancel_cause(goro::background());
    cancel(std::make_error_code(std::errc::connection_reset));
    EXPECT_EQ(goro::cause(c), std::errc::connection_reset);
    EXPECT_EQ(c.err(), goro::errc::canceled);

    // with_deadline on the steady clock
    auto [d, dcancel] = goro::with_deadline(goro::background(), std::chrono::steady_clock::now() + 2s);
    EXPECT_TRUE(d.deadline().has_value());
    dcancel();

    // context_after_func
    auto [a, acancel] = goro::with_cancel(goro::background());
    auto closed = goro::make_chan<goro::unit>(1);
    auto stop = goro::context_after_func(a, [closed] { closed.send({}); });
    acancel();
    closed.recv();
    EXPECT_FALSE(stop());

    // with_stop_token from a std::jthread's token
    // Not under TSan: it reports races inside libstdc++ 12's stop_token
    // (its stop_callback node written by request_stop on one thread and
    // registered, or deleted after _M_done.acquire(), on another), 1 run
    // in 4 here; the orderings it misses are libstdc++'s own lock and
    // binary_semaphore, not goro's. The registered channel orders the
    // registration first, as a program would.
    auto served = goro::make_chan<goro::unit>(1);
    auto registered = goro::make_chan<goro::unit>(1);
#if !defined(GORO_TSAN)
    {
      std::jthread t([served, registered](std::stop_token st) {
        auto [tctx, tcancel] = goro::with_stop_token(goro::background(), st);
        registered.send({});
        tctx.done().recv();  // serve(ctx) until the jthread is asked to stop
        served.send({});
      });
      registered.recv();
    }  // ~jthread requests stop, then joins
    served.recv();
#endif

    // make_stop_source
    std::stop_token st = goro::make_stop_source(a).get_token();
    (void)st;

    // errgroup.hpp
    auto [g, gctx] = goro::errgroup_with_context(goro::background());
    g.set_limit(8);
    std::vector<std::string> urls = {"a", "b"};
    for (const auto& url : urls)
      g.go([ctx = gctx, url]() -> std::error_code { return url.empty() ? goro::errc::canceled : std::error_code{}; });
    EXPECT_FALSE(g.wait());
  });
}

}  // namespace
