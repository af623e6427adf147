// Pattern: graceful shutdown -- a stop signal (here a real SIGTERM) closes
// a channel every goroutine watches; the wait_group, with a time limit,
// waits for them to finish.
//
//   ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
//   defer cancel()
//   var wg sync.WaitGroup
//   wg.Add(2)
//   go func() { defer wg.Done(); runServer(ctx) }()
//   go func() { defer wg.Done(); runWorker(ctx) }()
//   <-ctx.Done()
//   log.Println("shutting down...")
//   wg.Wait()
//
// What it shows: SIGTERM is blocked in every thread and a plain std::thread
// waits for it with sigwait(), then closes `shutdown`: goro channels work
// between OS threads and goroutines alike. A "server" and a "worker"
// goroutine select on `shutdown` in their loops; the worker finishes the
// job in hand before returning. After 30ms the program sends itself
// SIGTERM (standing in for the operator). main waits on `shutdown`, then
// waits for the wait_group, but only up to a deadline: wg.wait() runs in a
// helper goroutine that closes `finished`, raced against goro::after(1s).
//
// Pitfall avoided: returning from main while goroutines are mid-work (data
// half written), and a shutdown that hangs forever on one stuck goroutine.
// Go's signal.NotifyContext and context are not in goro yet; a channel
// closed once by the one owner of the signal is the same broadcast.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

int main() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread starts: all inherit it

  goro::chan<goro::unit> shutdown = goro::make_chan<goro::unit>();
  std::thread signal_thread([&stop_signals, shutdown]() mutable {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::printf("signal thread: got %s, closing shutdown\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    shutdown.close();  // from a plain OS thread
  });

  int rc = goro::run([shutdown]() mutable {
    struct state {  // shared, so that it outlives goroutines abandoned at the deadline
      std::atomic<int> requests{0}, jobs{0};
      goro::wait_group wg;
    };
    auto st = std::make_shared<state>();
    st->wg.go([st, shutdown] {  // the server: one request per 2ms until shutdown
      for (bool stop = false; !stop;)
        goro::select(goro::on_recv(shutdown, [&] { stop = true; }),
                     goro::on_recv(goro::after(2ms), [&] { st->requests.fetch_add(1); }));
    });
    st->wg.go([st, shutdown]() mutable {  // the worker: never abandons a job halfway
      while (shutdown.try_recv().would_block()) {
        goro::sleep_for(5ms);  // one job: not interrupted
        st->jobs.fetch_add(1);
      }
    });

    goro::sleep_for(30ms);
    ::kill(::getpid(), SIGTERM);  // the operator asks us to stop
    shutdown.recv();              // <-ctx.Done()
    std::printf("main: shutting down...\n");

    goro::chan<goro::unit> finished = goro::make_chan<goro::unit>();
    goro::go([st, finished]() mutable {
      st->wg.wait();
      finished.close();
    });
    bool clean = false;
    goro::select(goro::on_recv(finished, [&] { clean = true; }), goro::on_recv(goro::after(1s)));
    std::printf("main: %s; server handled requests: %s, worker completed jobs: %s\n",
                clean ? "clean shutdown complete" : "gave up waiting after 1s", st->requests > 0 ? "yes" : "no",
                st->jobs > 0 ? "yes" : "no");
    return clean ? 0 : 1;
  });
  signal_thread.join();
  return rc;
}
