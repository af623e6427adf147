// Pattern: find a data race with ThreadSanitizer -- goro's `go test -race`.
//
//   var hits int
//   for i := 0; i < 8; i++ {
//       go func() {
//           for j := 0; j < 1000; j++ {
//               hits++        // DATA RACE: read-modify-write from 8 goroutines
//           }
//           wg.Done()
//       }()
//   }
//
// What it shows: eight goroutines bump one counter. Without
// synchronization the count comes out short on a multi-core machine, or
// right by luck, and a test that checks it passes most days. Built with
// ThreadSanitizer (the tsan preset: `GORO_PRESET=tsan bash scripts/test.sh`,
// or -fsanitize=thread on your own build), goro tells TSan about every
// goroutine switch and every wake-up (design.md section 8), so TSan follows
// goroutines across worker threads as Go's race detector does: run this
// program with `--race` under TSan and it reports
// "WARNING: ThreadSanitizer: data race" with both accesses' stacks, at the
// `hits++` line below (CI runs exactly that and checks the report,
// examples/CMakeLists.txt). Channel operations, mutexes and wait groups are
// happens-before edges to TSan, as in Go's memory model, so the fixed
// versions report nothing.
//
// Without `--race` (the tour) only the fixes run: a goro::mutex, or a
// std::atomic for a lone counter, or no sharing at all (each goroutine
// counts its own and sends its total on a channel).
//
// Pitfall caught: a race that tests miss because the schedule was kind.
#include <atomic>
#include <cstdio>
#include <cstring>

#include "goro/goro.hpp"

constexpr int kGoroutines = 8;
constexpr int kBumps = 1000;

// The bug: a plain int read and written by several goroutines at once.
// Only run with --race, under TSan: anywhere else a data race is undefined
// behaviour, not a demonstration.
long racy_count() {
  long hits = 0;
  goro::wait_group wg;
  for (int i = 0; i < kGoroutines; i++) {
    wg.add(1);
    goro::go([&] {
      for (int j = 0; j < kBumps; j++) {
        hits++;  // the race TSan reports
        if (j % 100 == 0) goro::yield();  // let the others interleave on few cores
      }
      wg.done();
    });
  }
  wg.wait();
  return hits;
}

// Fix 1: a mutex around the shared state.
long mutex_count() {
  goro::mutex mu;
  long hits = 0;
  goro::wait_group wg;
  for (int i = 0; i < kGoroutines; i++) {
    wg.add(1);
    goro::go([&] {
      for (int j = 0; j < kBumps; j++) {
        goro::mutex_lock lock(mu);
        hits++;
      }
      wg.done();
    });
  }
  wg.wait();
  return hits;
}

// Fix 2: an atomic, for a lone counter.
long atomic_count() {
  std::atomic<long> hits{0};
  goro::wait_group wg;
  for (int i = 0; i < kGoroutines; i++) {
    wg.add(1);
    goro::go([&] {
      for (int j = 0; j < kBumps; j++) hits.fetch_add(1, std::memory_order_relaxed);
      wg.done();
    });
  }
  wg.wait();
  return hits.load();
}

// Fix 3: share by communicating. Each goroutine counts its own and sends
// the total; the channel hands it over (a happens-before edge).
long channel_count() {
  auto totals = goro::make_chan<long>(kGoroutines);
  for (int i = 0; i < kGoroutines; i++) {
    goro::go([totals] {
      long mine = 0;
      for (int j = 0; j < kBumps; j++) mine++;
      totals.send(mine);
    });
  }
  long hits = 0;
  for (int i = 0; i < kGoroutines; i++) hits += totals.recv();
  return hits;
}

int main(int argc, char** argv) {
  bool race = argc > 1 && std::strcmp(argv[1], "--race") == 0;
  goro::run([race] {
    const long want = long{kGoroutines} * kBumps;
    if (race) {
      long got = racy_count();
      std::printf("racy counter: %ld of %ld (under TSan, the report is above)\n", got, want);
    }
    std::printf("mutex:   %ld of %ld\n", mutex_count(), want);
    std::printf("atomic:  %ld of %ld\n", atomic_count(), want);
    std::printf("channel: %ld of %ld\n", channel_count(), want);
  });
}
