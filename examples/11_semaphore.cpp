// Pattern: semaphore -- a buffered channel of goro::unit whose capacity is
// the number of jobs allowed to run at once.
//
//   sem := make(chan struct{}, 3)       // at most 3 at a time
//   for _, job := range jobs {
//       sem <- struct{}{}                // acquire: blocks while 3 are running
//       wg.Add(1)
//       go func(job Job) {
//           defer wg.Done()
//           defer func() { <-sem }()     // release
//           process(job)
//       }(job)
//   }
//   wg.Wait()
//
// What it shows: article 002's ParallelMap, bounded parallelism with no
// extra types: acquiring is a send into the semaphore channel (it blocks
// while the buffer is full), releasing is a receive. Because the acquire
// happens before `go`, goroutines are started only as slots free up, not
// all at once. Each result
// is sent with its index into a channel with room for all of them and put
// back in input order. An atomic counter records the peak number of jobs in
// flight: never above the limit.
//
// Pitfall avoided: one goroutine per item with no bound (unbounded
// goroutine creation) lets a burst of input exhaust memory or overload
// whatever the jobs call; and the release is done on every path (a scope
// guard, Go's defer), so a job that throws cannot keep its slot.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <vector>

#include "goro/goro.hpp"

template <class T, class R, class F>
std::vector<R> parallel_map(const std::vector<T>& in, int max, F fn) {
  struct item {
    size_t i = 0;
    R r{};
  };
  goro::chan<goro::unit> sem = goro::make_chan<goro::unit>(max);
  goro::chan<item> out = goro::make_chan<item>(static_cast<int64_t>(in.size()));
  goro::wait_group wg;
  for (size_t i = 0; i < in.size(); i++) {
    sem.send({});  // acquire
    wg.add(1);
    goro::go([&wg, &fn, sem, out, i, v = in[i]]() mutable {
      struct release {
        goro::chan<goro::unit>& s;
        goro::wait_group& wg;
        ~release() {
          s.recv();  // release the slot...
          wg.done();  // ...then report done (Go's defers run in reverse order)
        }
      } guard{sem, wg};
      out.send(item{i, fn(v)});
    });
  }
  wg.wait();
  out.close();  // every sender is done: now it is safe to close
  std::vector<R> res(in.size());
  for (item it : out) res[it.i] = std::move(it.r);
  return res;
}

int main() {
  return goro::run([] {
    std::vector<int> in;
    for (int i = 1; i <= 12; i++) in.push_back(i);

    std::atomic<int> in_flight{0}, peak{0};
    auto slow_square = [&](int v) {
      int now = in_flight.fetch_add(1) + 1;
      for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
      }
      goro::sleep_for(std::chrono::milliseconds(5));  // pretend to call a rate-limited API
      in_flight.fetch_sub(1);
      return v * v;
    };
    std::vector<int> squares = parallel_map<int, int>(in, 3, slow_square);

    std::printf("parallel_map with a semaphore of 3:");
    for (int s : squares) std::printf(" %d", s);
    std::printf("\npeak jobs in flight: %d (limit 3)\n", peak.load());
  });
}
