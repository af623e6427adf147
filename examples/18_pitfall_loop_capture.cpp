// Pitfall: capturing the loop variable -- fixed by capturing by value.
//
//   for i := 0; i < 5; i++ {
//       go func() { fmt.Println(i) }()     // before Go 1.22: one shared i
//   }
//   // fixed: `i := i`, or go func(i int) { ... }(i)
//
// In C++ the same slip is `[&]`: the goroutine holds a reference to the
// loop's single `i`, which keeps changing and is destroyed when the loop
// ends, while the goroutine may not have run yet. That is a data race and
// a dangling reference: undefined behaviour, not just "prints 5 5 5 5 5"
// (a TSan build reports the race). Not shown running, for that reason.
//
// What it shows, fixed three ways: capture by value ([i]); pass the value
// as an argument to goro::go, which copies (decays) its arguments like
// std::thread; and move owned data (a string) into the goroutine rather
// than referring to a local that is gone when the goroutine runs. Sharing
// on purpose is explicit (std::ref, or a pointer) and paired with
// something that keeps the object alive until the goroutines are done
// (here: wg.wait() before `shared` goes out of scope).
//
// Each goroutine reports on a channel; values are sorted before printing.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "goro/goro.hpp"

static void report(goro::send_chan<std::string> out, int i) { out.send("arg " + std::to_string(i)); }

static std::vector<std::string> collect(goro::chan<std::string> c, int n) {
  std::vector<std::string> v;
  for (int k = 0; k < n; k++) v.push_back(c.recv());
  std::sort(v.begin(), v.end());
  return v;
}

static void print(const char* what, const std::vector<std::string>& v) {
  std::printf("%s:", what);
  for (const std::string& s : v) std::printf(" [%s]", s.c_str());
  std::printf("\n");
}

int main() {
  return goro::run([] {
    goro::chan<std::string> out = goro::make_chan<std::string>(5);

    // Fix 1: capture by value. Each goroutine has its own copy of i.
    for (int i = 0; i < 5; i++) goro::go([out, i]() mutable { out.send("i=" + std::to_string(i)); });
    print("captured by value", collect(out, 5));

    // Fix 2: pass as an argument (Go's go func(i int){...}(i)).
    for (int i = 0; i < 5; i++) goro::go(report, out, i);
    print("passed as argument", collect(out, 5));

    // Fix 3: move owned data in; the goroutine does not point into a scope
    // that may be gone by the time it runs.
    for (int i = 0; i < 3; i++) {
      std::string name = "job-" + std::to_string(i);  // destroyed at the end of this iteration
      goro::go([out, name = std::move(name)]() mutable { out.send(std::move(name)); });
    }
    print("moved into the goroutine", collect(out, 3));

    // Deliberate sharing: by reference, with wg.wait() keeping it alive.
    std::vector<int> shared(4);
    goro::wait_group wg;
    for (int i = 0; i < 4; i++) {
      wg.add(1);
      goro::go(
          [&wg](std::vector<int>& v, int i) {
            v[i] = i * i;
            wg.done();
          },
          std::ref(shared), i);
    }
    wg.wait();  // every write to `shared` happens before this returns
    std::printf("shared via std::ref, one slot each: %d %d %d %d\n", shared[0], shared[1], shared[2], shared[3]);
  });
}
