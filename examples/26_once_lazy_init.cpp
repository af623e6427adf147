// Pattern: lazy initialization with sync.Once, OnceFunc and OnceValue.
//
//   var (
//       once sync.Once
//       cfg  *Config
//   )
//   func config() *Config {
//       once.Do(func() { cfg = load() })
//       return cfg
//   }
//   var table = sync.OnceValue(func() []uint32 { return buildTable() })
//
// What it shows: goro::once runs the loader exactly once however many
// goroutines ask at the same moment; the others wait (parked) until it has
// finished, then all see its result. goro::once_value caches a computed
// value. And the difference from std::call_once: if the function throws,
// the once is done anyway (Go's Do after a panic), so a failed
// initialization is not retried by the next caller; with once_value,
// every call rethrows the first call's exception.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "goro/goro.hpp"

int main() {
  return goro::run([] {
    goro::once once;
    std::atomic<int> loads{0};
    std::string cfg;  // written once, inside the once
    goro::wait_group wg;
    for (int i = 0; i < 10; i++)
      wg.go([&] {
        once.call([&] {
          loads++;
          goro::sleep_for(std::chrono::milliseconds(5));  // a slow load: the others wait
          cfg = "loaded";
        });
        if (cfg != "loaded") std::printf("saw an unfinished load!\n");
      });
    wg.wait();
    std::printf("10 goroutines asked, the loader ran %d time(s); cfg=%s\n", loads.load(), cfg.c_str());

    auto squares = goro::once_value([] {
      std::printf("computing the table (once)\n");
      std::vector<int> t;
      for (int i = 0; i < 10; i++) t.push_back(i * i);
      return t;
    });
    std::printf("squares()[3]=%d squares()[9]=%d\n", squares()[3], squares()[9]);

    // A loader that fails: the once is done all the same.
    goro::once flaky;
    try {
      flaky.call([] { throw std::runtime_error("config server down"); });
    } catch (const std::exception& e) {
      std::printf("first call threw: %s\n", e.what());
    }
    bool retried = false;
    flaky.call([&] { retried = true; });
    std::printf("second call ran the function again: %s (Go's Once: no)\n", retried ? "yes" : "no");

    auto connect = goro::once_value([]() -> int { throw std::runtime_error("no route"); });
    for (int i = 0; i < 2; i++) {
      try {
        connect();
      } catch (const std::exception& e) {
        std::printf("once_value call %d rethrew: %s\n", i + 1, e.what());
      }
    }
  });
}
