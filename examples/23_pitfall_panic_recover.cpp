// Pitfall: a panic in one goroutine takes down the whole program -- in
// goro, an exception escaping a goroutine's function. Recovered by
// catching it inside the goroutine and reporting it as an error.
//
//   func safeGo(fn func(), errs chan<- error) {
//       go func() {
//           defer func() {
//               if r := recover(); r != nil { errs <- fmt.Errorf("panic: %v", r) }
//           }()
//           fn()
//       }()
//   }
//
// Unrecovered, goro does what Go does: the process ends with
//
//   panic: vector::_M_range_check: __n (which is 7) >= this->size() (which is 3)
//
//   goroutine 5 [running]:
//     <the stack at the throw, symbolized>
//   created by goroutine 1 at main.cpp:40 in ...
//
// and exit status 2 (tests/crash: scenarios "panic", "panic_misuse",
// "panic_main"). A stack overflow is reported the same way, as "fatal
// error: stack overflow" naming the goroutine and its stack size.
//
// What it shows: safe_go() wraps a function in try/catch (Go's
// defer/recover) and sends what it caught on an error channel; a worker
// pool where one job throws std::out_of_range and another trips a
// goro::panic_error ("send on closed channel") keeps running, and the
// errors are collected and printed sorted. A catch-all is a choice, as in
// the article: the goroutine's work is lost, but the service stays up.
#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "goro/goro.hpp"

// Runs fn in a goroutine tracked by wg; an exception becomes an error.
template <class F>
static void safe_go(goro::wait_group& wg, goro::send_chan<std::string> errs, std::string name, F fn) {
  wg.go([errs, name = std::move(name), fn = std::move(fn)]() mutable {
    try {
      fn();
    } catch (const std::exception& e) {  // recover()
      errs.send(name + ": recovered: " + e.what());
    } catch (...) {
      errs.send(name + ": recovered: unknown exception");
    }
  });
}

int main() {
  return goro::run([] {
    std::vector<int> table = {10, 20, 30};
    constexpr int jobs = 6;
    goro::chan<std::string> errs = goro::make_chan<std::string>(jobs);  // room for every job
    goro::chan<int> ok = goro::make_chan<int>(jobs);
    goro::wait_group wg;
    for (int j = 0; j < jobs; j++) {
      safe_go(wg, errs, "job " + std::to_string(j), [&table, ok, j]() mutable {
        if (j == 4) {  // a bug: sends on a channel after closing it
          goro::chan<int> c = goro::make_chan<int>(1);
          c.close();
          c.send(j);
        }
        int index = j == 2 ? 7 : j % 3;  // a bug: job 2 indexes past the end
        ok.send(table.at(index));
      });
    }
    wg.wait();
    errs.close();  // all senders are done: safe to close
    ok.close();

    int done = 0, sum = 0;
    for (int v : ok) {
      done++;
      sum += v;
    }
    std::printf("%d of %d jobs succeeded (sum %d); the pool kept running\n", done, jobs, sum);
    std::vector<std::string> failed;
    for (std::string e : errs) failed.push_back(std::move(e));
    std::sort(failed.begin(), failed.end());
    for (const std::string& e : failed) std::printf("  %s\n", e.c_str());
  });
}
