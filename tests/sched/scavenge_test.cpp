// The stack scavenger: after a burst of goroutines has finished, the pages
// of their stacks go back to the kernel, at once with goro::free_os_memory()
// and by themselves (the monitor) after a period of disuse.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "goro/goro.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

long vm_rss_kib() {
  long kib = -1;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "VmRSS:", 6) == 0) {
        kib = std::strtol(line + 6, nullptr, 10);
        break;
      }
    }
    std::fclose(f);
  }
  return kib;
}

constexpr int kBurst = 20'000;

// Parks kBurst goroutines (each touches its stack), lets them all finish,
// and returns the VmRSS growth they caused while parked, in KiB.
long burst_of_parked_goroutines(long rss_before) {
  auto gate = goro::make_chan<int>();
  goro::wait_group parked, done;
  parked.add(kBurst);
  done.add(kBurst);
  for (int i = 0; i < kBurst; i++) {
    goro::go([&] {
      parked.done();
      gate.recv();
      done.done();
    });
  }
  parked.wait();
  goro::sleep_for(20ms);  // the last ones reach their receive
  long grown = vm_rss_kib() - rss_before;
  gate.close();
  done.wait();
  return grown;
}

// The pages of the finished goroutines' stacks are given back at once.
// (Not under TSan: its shadow of the stacks, four times their size, is
// not the runtime's to give back, so the drop is a small part of the
// growth there.)
TEST(Scavenge, FreeOsMemoryGivesIdleStacksBack) {
  if (goro_test::kSanitized) GTEST_SKIP() << "sanitizer shadow memory dominates VmRSS";
  goro::run([] {
    long before = vm_rss_kib();
    ASSERT_GT(before, 0);
    long grown = burst_of_parked_goroutines(before);
    // One touched 4 KiB stack page per goroutine, at least.
    ASSERT_GT(grown, kBurst * 4L * 8 / 10) << "the burst did not touch its stacks?";
    long after_exit = vm_rss_kib() - before;
    goro::free_os_memory();
    long after_free = vm_rss_kib() - before;
    // What stays: g records (about 300 B each), up to 64 cached stacks
    // per worker, page tables.
    EXPECT_LT(after_free, grown / 2) << "grown " << grown << " KiB, after exit " << after_exit << " KiB";
  });
}

// Without being asked, the monitor gives back stacks that stayed free for
// a whole period (300 ms here, 5 s by default); a new burst then still
// works (released stacks are reused, reading as fresh pages).
TEST(Scavenge, MonitorGivesBackStacksLeftUnused) {
  if (goro_test::kSanitized) GTEST_SKIP() << "sanitizer shadow memory dominates VmRSS";
  setenv("GORO_SCAVENGE_MS", "300", 1);  // read when the runtime starts
  goro::run([] {
    long before = vm_rss_kib();
    long grown = burst_of_parked_goroutines(before);
    ASSERT_GT(grown, kBurst * 4L * 8 / 10);
    auto t0 = steady::now();
    long now_grown = grown;
    while (steady::now() - t0 < 10s) {
      now_grown = vm_rss_kib() - before;
      if (now_grown < grown / 2) break;
      goro::sleep_for(100ms);
    }
    EXPECT_LT(now_grown, grown / 2) << "after " << goro_test::ms_since(t0) << " ms";
    // Released stacks serve the next burst.
    long again = burst_of_parked_goroutines(vm_rss_kib());
    EXPECT_GT(again, 0);
  });
}

// Under every build, sanitizers included: releasing stacks while other
// goroutines start, park and exit on them loses nothing.
TEST(Scavenge, ReleasingWhileGoroutinesComeAndGo) {
  goro::run([] {
    std::atomic<bool> stop{false};
    std::thread releaser([&] {
      while (!stop.load()) {
        goro::free_os_memory();
        std::this_thread::sleep_for(1ms);
      }
    });
    std::atomic<long> sum{0};
    for (int round = 0; round < goro_test::scaled(20); round++) {
      goro::wait_group wg;
      wg.add(500);
      for (int i = 0; i < 500; i++) {
        goro::go([&, i] {
          volatile char buf[2048];  // use some stack
          for (int k = 0; k < 2048; k += 256) buf[k] = static_cast<char>(i);
          goro::yield();
          sum += buf[0] == static_cast<char>(i) ? 1 : 0;
          wg.done();
        });
      }
      wg.wait();
    }
    stop = true;
    releaser.join();
    EXPECT_EQ(sum.load(), goro_test::scaled(20) * 500L);
  });
}

}  // namespace
