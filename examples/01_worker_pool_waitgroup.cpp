// Pattern: fan out work to goroutines and wait for all of them with a
// wait_group (Go's sync.WaitGroup).
//
//   var wg sync.WaitGroup
//   for i := 0; i < n; i++ {
//       wg.Add(1)
//       go func(i int) { defer wg.Done(); results[i] = work(i) }(i)
//   }
//   wg.Wait()
//
// Pitfall shown: wg.add(1) is called before `go`, never inside the new
// goroutine, so wait() cannot return before every worker has started.
#include <cstdio>
#include <vector>

#include "goro/goro.hpp"

static long collatz_steps(long n) {
  long steps = 0;
  while (n != 1) {
    n = (n % 2 == 0) ? n / 2 : 3 * n + 1;
    steps++;
  }
  return steps;
}

int main() {
  return goro::run([] {
    constexpr int kJobs = 1000;
    std::vector<long> results(kJobs);
    goro::wait_group wg;
    for (int i = 0; i < kJobs; i++) {
      wg.add(1);  // before go(), in the spawning goroutine
      goro::go([&results, &wg, i] {
        results[i] = collatz_steps(i + 1);
        wg.done();
      });
    }
    wg.wait();
    long best = 0;
    for (int i = 0; i < kJobs; i++)
      if (results[i] > results[best]) best = i;
    std::printf("worker pool: %d goroutines on %d Ps; longest Collatz chain below %d starts at %ld (%ld steps)\n",
                kJobs, goro::maxprocs(), kJobs + 1, best + 1, results[best]);
    return 0;
  });
}
