// Pattern: graceful shutdown -- a stop signal (here a real SIGTERM)
// cancels a context every goroutine watches; the wait_group, with a time
// limit, waits for them to finish.
//
//   ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
//   defer stop()
//   var wg sync.WaitGroup
//   wg.Add(2)
//   go func() { defer wg.Done(); runServer(ctx) }()
//   go func() { defer wg.Done(); runWorker(ctx) }()
//   <-ctx.Done()
//   stop()                            // a second Ctrl-C now kills the program
//   log.Println("shutting down...")
//   wg.Wait()
//
// What it shows: goro::signal_notify_context has the runtime take SIGTERM
// and SIGINT (a handler hands them to a runtime thread) and cancel ctx on
// the first one. A "server" and a "worker" goroutine select on ctx.done()
// in their loops; the worker finishes the job in hand before returning.
// After 30ms the program sends itself SIGTERM (standing in for the
// operator). main waits on ctx.done(), calls stop() (the signals' default
// action is back: a second Ctrl-C ends the program at once, the usual
// escape from a stuck shutdown), then waits for the wait_group, but only up
// to a deadline: wg.wait() runs in a helper goroutine that closes
// `finished`, raced against the done() of a context with a 1s timeout.
//
// Pitfall avoided: returning from main while goroutines are mid-work (data
// half written), and a shutdown that hangs forever on one stuck goroutine.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

int main() {
  return goro::run([] {
    auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGTERM, SIGINT});
    struct state {  // shared, so that it outlives goroutines abandoned at the deadline
      std::atomic<int> requests{0}, jobs{0};
      goro::wait_group wg;
    };
    auto st = std::make_shared<state>();
    st->wg.go([st, ctx = ctx] {  // the server: one request per 2ms until shutdown
      for (bool done = false; !done;)
        goro::select(goro::on_recv(ctx.done(), [&] { done = true; }),
                     goro::on_recv(goro::after(2ms), [&] { st->requests.fetch_add(1); }));
    });
    st->wg.go([st, ctx = ctx] {  // the worker: never abandons a job halfway
      while (!ctx.err()) {
        goro::sleep_for(5ms);  // one job: not interrupted
        st->jobs.fetch_add(1);
      }
    });

    goro::sleep_for(30ms);
    ::raise(SIGTERM);             // the operator asks us to stop (as kill -TERM would)
    ctx.done().recv();            // <-ctx.Done()
    stop();                       // from here a second signal ends the program
    std::printf("main: %s; shutting down...\n", ctx.err().message().c_str());

    goro::chan<goro::unit> finished = goro::make_chan<goro::unit>();
    goro::go([st, finished]() mutable {
      st->wg.wait();
      finished.close();
    });
    auto [limit, cancel_limit] = goro::with_timeout(goro::background(), 1s);
    bool clean = false;
    goro::select(goro::on_recv(finished, [&] { clean = true; }), goro::on_recv(limit.done()));
    cancel_limit();
    std::printf("main: %s; server handled requests: %s, worker completed jobs: %s\n",
                clean ? "clean shutdown complete" : "gave up waiting after 1s", st->requests > 0 ? "yes" : "no",
                st->jobs > 0 ? "yes" : "no");
    return clean ? 0 : 1;
  });
}
