// Pitfall: calling wg.Add inside the new goroutine -- fixed by adding
// before `go`, or with wait_group::go (Go 1.25's WaitGroup.Go).
//
//   for _, u := range urls {
//       go func() { wg.Add(1); defer wg.Done(); fetch(u) }()   // BAD
//   }
//   wg.Wait()   // may run before any Add: returns at once, work unfinished
//
//   wg.Add(len(urls))                                          // GOOD
//   for _, u := range urls { go func() { defer wg.Done(); fetch(u) }() }
//
//   for _, u := range urls { wg.Go(func() { fetch(u) }) }     // Go 1.25
//
// Why the BAD form is wrong: nothing orders the goroutines' add(1) before
// the spawner's wait(); wait() can see a zero counter and return while the
// work is still running (and then the caller reads results being written:
// a data race), or catch an add() mid-wait, which goro reports like Go with
// panic_error("sync: WaitGroup misuse: Add called concurrently with
// Wait"). Not shown running: its outcome depends on timing.
//
// What it shows: the two correct forms, and the misuse goro turns into an
// exception with Go's message: done() once too often throws
// "sync: negative WaitGroup counter". It is caught here, in the goroutine
// that made the mistake; escaping a goroutine it would end the process
// with Go's panic report ("panic: sync: negative WaitGroup counter",
// tests/crash, scenario panic_misuse).
#include <atomic>
#include <cstdio>
#include <vector>

#include "goro/goro.hpp"

int main() {
  return goro::run([] {
    constexpr int n = 8;

    // GOOD 1: add the whole count once, before starting anything.
    std::vector<int> results(n);
    goro::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; i++)
      goro::go([&wg, &results, i] {
        goro::sleep_for(std::chrono::milliseconds(n - i));  // finish in reverse order
        results[i] = i * 10;
        wg.done();
      });
    wg.wait();  // every results[i] is written before this returns
    int sum = 0;
    for (int r : results) sum += r;
    std::printf("wg.add(%d) before go: all %d results in after wait(), sum %d\n", n, n, sum);

    // GOOD 2: wg.go(f) does add(1), then go, then done() when f returns.
    std::atomic<int> finished{0};
    goro::wait_group wg2;
    for (int i = 0; i < n; i++)
      wg2.go([&finished, i] {
        goro::sleep_for(std::chrono::milliseconds(i % 3));
        finished.fetch_add(1);
      });
    wg2.wait();
    std::printf("wg.go(f) x %d: %d finished when wait() returned\n", n, finished.load());

    // The misuse goro catches: one done() too many.
    goro::wait_group bad;
    bad.add(1);
    bad.done();
    try {
      bad.done();
      std::printf("no error?!\n");
    } catch (const goro::panic_error& e) {
      std::printf("one done() too many throws goro::panic_error: \"%s\"\n", e.what());
    }
  });
}
