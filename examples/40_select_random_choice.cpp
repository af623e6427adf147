// Pattern: when several cases are ready, select picks one uniformly at
// random (article 001: "this prevents starvation").
//
//   a, b := make(chan int, n), make(chan int, n)
//   ...fill both...
//   for i := 0; i < n; i++ {
//       select {
//       case <-a: countA++
//       case <-b: countB++
//       default: countDefault++      // never: a case is always ready
//       }
//   }
//
// What it shows: two buffered channels are filled with 10,000 values each,
// so both cases are ready in every one of 10,000 rounds; select chooses
// each about half the time, whatever order the cases are written in
// (printed as a check that holds on any run: each between 40% and 60%,
// 20 standard deviations of a fair coin over 10,000 tosses). A default
// case is never chosen while another case is ready. Then the idiom for when
// order *does* matter, since select has no priorities: try the urgent
// channel first with a non-blocking receive (Go: a select with default),
// and only then block in a select on both (where a value that arrives
// meanwhile on either channel may win).
//
// Pitfall avoided: relying on case order. A loop whose first case is a
// busy data channel still sees its quit channel (it is ready too, and wins
// half the rounds), but nothing says which ready case comes first.
#include <cstdio>

#include "goro/goro.hpp"

int main() {
  return goro::run([] {
    constexpr int kRounds = 10000;
    goro::chan<int> a = goro::make_chan<int>(kRounds);
    goro::chan<int> b = goro::make_chan<int>(kRounds);
    for (int i = 0; i < kRounds; i++) {
      a.send(i);
      b.send(i);
    }

    int count[2] = {0, 0};
    int defaults = 0;
    for (int i = 0; i < kRounds; i++) {
      int k = goro::select(goro::case_recv(a), goro::case_recv(b), goro::case_default()).index();
      if (k == 2) defaults++;
      else count[k]++;
    }
    auto within = [](int n) { return n >= kRounds * 40 / 100 && n <= kRounds * 60 / 100; };
    std::printf("%d rounds, both cases ready: a and b both chosen, each between 40%% and 60%%: %s\n", kRounds,
                within(count[0]) && within(count[1]) ? "yes" : "NO");
    std::printf("default chosen while a case was ready: %d times\n", defaults);

    // Order matters: 30 urgent and 100 normal values; the urgent ones
    // should all go first. A plain select takes from both at random (a
    // normal value before the last urgent one, except with odds of 2^-30).
    auto normal_before_urgent_drained = [](bool prefer_urgent) {
      goro::chan<int> urgent = goro::make_chan<int>(30), normal = goro::make_chan<int>(100);
      for (int i = 0; i < 100; i++) {
        if (i < 30) urgent.send(i);
        normal.send(i);
      }
      int normals = 0;
      while (urgent.len() > 0) {
        // select { case <-urgent: default: select { case <-urgent: case <-normal: } }
        if (prefer_urgent && urgent.try_recv()) continue;
        if (goro::select(goro::case_recv(urgent), goro::case_recv(normal)).index() == 1) normals++;
      }
      return normals;
    };
    std::printf("plain select: normal values taken before urgent ran out: %s\n",
                normal_before_urgent_drained(false) > 0 ? "some" : "none");
    std::printf("urgent tried first (non-blocking), then both: normal values taken before urgent ran out: %d\n",
                normal_before_urgent_drained(true));
  });
}
