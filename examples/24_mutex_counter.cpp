// Pattern: a mutex-guarded Counter -- "channels for coordination, mutexes
// for state".
//
//   type Counter struct {
//       mu sync.Mutex
//       n  map[string]int
//   }
//   func (c *Counter) Inc(key string) {
//       c.mu.Lock()
//       defer c.mu.Unlock()
//       c.n[key]++
//   }
//
// What it shows: goro::mutex guards a map that 8 goroutines and 2 plain
// threads update at once; the guard is a scoped lock (Go's defer Unlock),
// and GORO_GUARDED_BY lets clang check at compile time that nobody touches
// the map without the lock (the clang preset builds with -Wthread-safety).
// A waiting goroutine parks (its worker runs other goroutines); a waiting
// thread sleeps. Then the lock-ordering pitfall: moving a count between
// two counters must lock both, and two goroutines that lock them in
// opposite orders deadlock (the deadlock report would list both as
// [sync.Mutex.Lock]); std::scoped_lock takes both without that risk.
//
// Pitfall avoided: std::mutex in goroutines blocks the worker thread, and
// one held across a park may be unlocked on another thread.
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"

class counter {
 public:
  void inc(const std::string& key) GORO_EXCLUDES(mu_) {
    goro::mutex_lock lock(mu_);
    n_[key]++;
  }
  int get(const std::string& key) GORO_EXCLUDES(mu_) {
    goro::mutex_lock lock(mu_);
    auto it = n_.find(key);
    return it == n_.end() ? 0 : it->second;
  }
  // Moves one count of key from `from` to `to`. Locks both counters: with
  // std::scoped_lock (std::lock's deadlock avoidance) the order in which
  // callers name them does not matter.
  static void move(counter& from, counter& to, const std::string& key) GORO_NO_THREAD_SAFETY_ANALYSIS {
    std::scoped_lock both(from.mu_, to.mu_);
    from.n_[key]--;
    to.n_[key]++;
  }

 private:
  goro::mutex mu_;
  std::map<std::string, int> n_ GORO_GUARDED_BY(mu_);
};

int main() {
  return goro::run([] {
    counter hits;
    goro::wait_group wg;
    for (int g = 0; g < 8; g++)
      wg.go([&hits] {
        for (int i = 0; i < 10000; i++) hits.inc(i % 2 == 0 ? "even" : "odd");
      });
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++)
      threads.emplace_back([&hits] {
        for (int i = 0; i < 5000; i++) hits.inc("thread");
      });
    wg.wait();
    for (auto& t : threads) t.join();
    std::printf("even=%d odd=%d thread=%d (want 40000 40000 10000)\n", hits.get("even"), hits.get("odd"),
                hits.get("thread"));

    // Two goroutines move counts in opposite directions at once.
    counter a, b;
    for (int i = 0; i < 1000; i++) a.inc("x");
    goro::wait_group movers;
    movers.go([&] {
      for (int i = 0; i < 1000; i++) counter::move(a, b, "x");
    });
    movers.go([&] {
      for (int i = 0; i < 500; i++) counter::move(b, a, "x");
    });
    movers.wait();
    std::printf("after moving: a=%d b=%d (want 500 500, and no deadlock)\n", a.get("x"), b.get("x"));
  });
}
