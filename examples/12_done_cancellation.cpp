// Pattern: done-channel cancellation -- closing a chan<goro::unit>
// broadcasts "stop" to every goroutine selecting on it.
//
//   func worker(done <-chan struct{}, jobs <-chan Job, out chan<- Result) {
//       for {
//           select {
//           case <-done: return                      // cancelled
//           case j, ok := <-jobs:
//               if !ok { return }                    // no more work
//               select { case out <- do(j): case <-done: return }
//           }
//       }
//   }
//   ...
//   close(done)                                      // stop everyone
//
// What it shows: an endless generator and 3 workers, every blocking
// operation paired with `case <-done` in a select. The consumer takes the
// 10 results it needs and closes `done`: a close is seen by *every*
// receiver (a send would wake only one), so all four goroutines return.
// This is what Go's ctx.Done() is; goro has no context type yet, and a
// done channel is the same mechanism without deadlines or values.
//
// Pitfall avoided: a consumer that stops early would otherwise leave the
// generator blocked on `out <- n` and the workers blocked on their sends:
// leaked goroutines. Every goroutine has two exits (done closed, or its
// input closed), and the one who created `done` is the one who closes it.
#include <atomic>
#include <cstdio>

#include "goro/goro.hpp"

static std::atomic<int> g_stopped{0};

// Endless generator: 1, 2, 3, ... until done is closed.
static void count_up(goro::recv_chan<goro::unit> done, goro::send_chan<int> out) {
  for (int n = 1;; n++) {
    if (goro::select(goro::case_send(out, n), goro::case_recv(done)).index() == 1) break;  // case <-done
  }
  g_stopped.fetch_add(1);
}

// Squares jobs until jobs is closed or done is: select's result form runs
// each case's code here, in the loop, so it can leave with return (as Go's
// select statement does; no flag variables).
static void square(goro::recv_chan<goro::unit> done, goro::recv_chan<int> jobs, goro::send_chan<int> out) {
  for (;;) {
    switch (auto s = goro::select(goro::case_recv(done), goro::case_recv(jobs)); s.index()) {
      case 0:  // case <-done
        return;
      case 1: {  // case j, ok := <-jobs
        if (!s.ok()) return;  // input closed: normal completion
        int j = s.get<1>();
        if (goro::select(goro::case_send(out, j * j), goro::case_recv(done)).index() == 1) return;
        break;
      }
    }
  }
}

static void worker(goro::recv_chan<goro::unit> done, goro::recv_chan<int> jobs, goro::send_chan<int> out) {
  square(done, jobs, out);
  g_stopped.fetch_add(1);
}

int main() {
  return goro::run([] {
    goro::chan<goro::unit> done = goro::make_chan<goro::unit>();
    goro::chan<int> jobs = goro::make_chan<int>();
    goro::chan<int> results = goro::make_chan<int>();
    goro::wait_group wg;
    wg.go([=] { count_up(done, jobs); });
    for (int i = 0; i < 3; i++) wg.go([=] { worker(done, jobs, results); });

    int received = 0;
    for (; received < 10; received++) results.recv();
    std::printf("consumer: got the %d results it needed; closing done\n", received);
    done.close();  // broadcast: every select with `case <-done` can now proceed
    wg.wait();
    std::printf("goroutines that saw done and returned: %d of 4 (generator + 3 workers)\n", g_stopped.load());

    // A closed done channel stays ready: late checks see it too.
    bool seen = goro::select(goro::case_recv(done), goro::case_default()).index() == 0;
    std::printf("a later select on done: %s\n", seen ? "ready at once (closed channels stay ready)" : "not ready");
  });
}
