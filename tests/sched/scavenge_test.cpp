// The stack scavenger: after a burst of goroutines has finished, the pages
// of their stacks go back to the kernel, at once with goro::free_os_memory()
// and by themselves (the monitor) after a period of disuse.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/stack.hpp"   // internal counters (declarations only)
#include "sched/sysmon.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

// TSan counts every goroutine life as a thread and stops at 8,128.
constexpr int kBurst = goro_test::kSanitized ? 2'000 : 20'000;

// How many of the given pages are resident (mincore).
int resident_pages(const std::vector<uintptr_t>& pages) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  int n = 0;
  for (uintptr_t a : pages) {
    unsigned char vec = 0;
    if (mincore(reinterpret_cast<void*>(a & ~(page - 1)), 1, &vec) == 0 && (vec & 1)) n++;
  }
  return n;
}

struct burst_result {
  long grown_kib;                // VmRSS growth while they were parked
  int resident_parked;           // of `pages`, resident while they were parked
  std::vector<uintptr_t> pages;  // one address on each goroutine's stack
};

// Parks kBurst goroutines (each touches its stack and notes where), lets
// them all finish, and says what they left behind. What the burst
// committed is measured while every goroutine is parked: their stacks are
// in use then, so no scavenger can have released any of them yet, however
// slow the machine (once they finish, a monitor with a short period may
// start releasing the first stacks before the last goroutine exits).
burst_result burst_of_parked_goroutines() {
  long before = goro_test::vm_rss_kib();
  burst_result r;
  r.pages.resize(kBurst);
  auto gate = goro::make_chan<int>();
  goro::wait_group parked, done;
  parked.add(kBurst);
  done.add(kBurst);
  for (int i = 0; i < kBurst; i++) {
    goro::go([&, i] {
      volatile char on_stack = 1;
      r.pages[static_cast<size_t>(i)] = reinterpret_cast<uintptr_t>(&on_stack);
      parked.done();
      gate.recv();
      done.done();
    });
  }
  parked.wait();  // every stack page is touched (before parked.done())
  r.grown_kib = goro_test::vm_rss_kib() - before;
  r.resident_parked = resident_pages(r.pages);
  gate.close();
  done.wait();
  return r;
}

// The pages of the finished goroutines' stacks are given back at once:
// mincore says most of them are no longer resident, and (outside the
// sanitizer builds) VmRSS drops by more than half of what the burst added.
// The VmRSS half is not checked under ASan and TSan: their shadow of the
// stacks (ASan's is written when a stack is unpoisoned for reuse, TSan's
// is four times the stacks' size) is not the runtime's to give back.
TEST(Scavenge, FreeOsMemoryGivesIdleStacksBack) {
  // The monitor must not release them first (read when the runtime starts;
  // ctest runs each test in its own process).
  goro_test::scoped_env env("GORO_SCAVENGE_MS", "3600000");
  goro::run([] {
    long before = goro_test::vm_rss_kib();
    ASSERT_GT(before, 0);
    burst_result b = burst_of_parked_goroutines();
    ASSERT_GT(b.resident_parked, kBurst * 8 / 10) << "the burst did not touch its stacks?";
    if (!goro_test::kSanitized) {
      ASSERT_GT(b.grown_kib, kBurst * 4L * 8 / 10) << "the burst did not touch its stacks?";
    }
    // Still committed after they finished: cached for reuse.
    ASSERT_GT(resident_pages(b.pages), kBurst * 8 / 10);
    goro::free_os_memory();
    // What stays: up to 64 cached stacks per worker.
    EXPECT_LT(resident_pages(b.pages), kBurst / 2);
    if (!goro_test::kSanitized) {
      long after_free = goro_test::vm_rss_kib() - before;
      // What stays: g records (about 300 B each), cached stacks, page tables.
      EXPECT_LT(after_free, b.grown_kib / 2) << "grown " << b.grown_kib << " KiB";
    }
  });
}

// Without being asked, the monitor gives back stacks that stayed free for
// a whole period (300 ms here, 5 s by default); a new burst then still
// works (released stacks are reused, reading as fresh pages). VmRSS is
// checked outside the sanitizer builds only, as above. Waits on the
// outcome with a generous deadline: on a loaded machine the monitor's
// periods and the release itself take longer.
TEST(Scavenge, StacksLeftUnusedAreGivenBackUnasked) {
  goro_test::scoped_env env("GORO_SCAVENGE_MS", "300");  // read when the runtime starts
  goro_test::scoped_env share("GORO_SCAVENGE_PERCENT", "50");  // a quick release
  goro::run([] {
    long before = goro_test::vm_rss_kib();
    burst_result b = burst_of_parked_goroutines();
    ASSERT_GT(b.resident_parked, kBurst * 8 / 10) << "the burst did not touch its stacks?";
    if (!goro_test::kSanitized) {
      ASSERT_GT(b.grown_kib, kBurst * 4L * 8 / 10) << "the burst did not touch its stacks?";
    }
    auto t0 = steady::now();
    int resident = kBurst;
    long now_grown = b.grown_kib;
    while (steady::now() - t0 < 60s) {
      resident = resident_pages(b.pages);
      now_grown = goro_test::vm_rss_kib() - before;
      if (resident < kBurst / 2 && (goro_test::kSanitized || now_grown < b.grown_kib / 2)) break;
      goro::sleep_for(20ms);
    }
    EXPECT_LT(resident, kBurst / 2) << "after " << goro_test::ms_since(t0) << " ms";
    if (!goro_test::kSanitized) {
      EXPECT_LT(now_grown, b.grown_kib / 2) << "after " << goro_test::ms_since(t0) << " ms";
    }
    // Released stacks serve the next burst.
    burst_result again = burst_of_parked_goroutines();
    EXPECT_GT(again.resident_parked, kBurst * 8 / 10);
  });
}

// The scavenger thread's id, or -1 if there is none (yet).
int scavenger_tid() {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    const std::string task = entry.path().filename().string();
    std::FILE* f = std::fopen((entry.path() / "comm").c_str(), "r");
    if (f == nullptr) continue;
    char name[32] = {};
    bool found = std::fgets(name, sizeof name, f) != nullptr && std::strncmp(name, "goro-scavenge", 13) == 0;
    std::fclose(f);
    if (found) return std::atoi(task.c_str());
  }
  return -1;
}

// The scavenger thread's CPU time, read through its thread CPU clock
// (Linux builds one from a thread id of this process); -1 if not found.
int64_t scavenger_cpu_ns() {
  static int tid = scavenger_tid();
  if (tid < 0) return -1;
  const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);  // per thread, sched
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return -1;
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Unasked, a burst's stacks drain slowly, as Go's background scavenger
// paces itself (1% of the Ps' time): here at 5% of one CPU
// ($GORO_SCAVENGE_PERCENT), the scavenger thread's CPU time over the
// release's wall time stays under 10% (the slices overshoot their 1 ms a
// little). A loaded machine only lowers the share. It was about half a
// CPU before the pacing.
TEST(Scavenge, UnaskedReleaseKeepsToItsShareOfACpu) {
  // The period and the share are read once per process: by a scavenger
  // that an earlier test in this process started (the whole binary run
  // at once; ctest gives each test its own), they were the defaults.
  if (scavenger_tid() >= 0) GTEST_SKIP() << "needs a fresh process: the scavenger started before this test's settings";
  goro_test::scoped_env env("GORO_SCAVENGE_MS", "300");        // read when the runtime starts
  goro_test::scoped_env share("GORO_SCAVENGE_PERCENT", "5");   // read at the first release
  goro::run([] {
    const uint64_t base = goro::detail::stack_scavenge_counted().released;
    burst_of_parked_goroutines();
    auto released = [&] { return goro::detail::stack_scavenge_counted().released - base; };
    auto t0 = steady::now();
    while (released() == 0 && steady::now() - t0 < 60s) goro::sleep_for(1ms);
    ASSERT_GT(released(), 0u) << "no release began in 60 s";
    const int64_t cpu0 = scavenger_cpu_ns();
    ASSERT_GE(cpu0, 0) << "no goro-scavenge thread, or no CPU clock for it";
    const auto w0 = steady::now();
    const uint64_t target = static_cast<uint64_t>(kBurst) * 8 / 10;
    while (released() < target && steady::now() - w0 < 120s) goro::sleep_for(5ms);
    const int64_t cpu = scavenger_cpu_ns() - cpu0;
    const double wall_ns = std::chrono::duration<double, std::nano>(steady::now() - w0).count();
    ASSERT_GE(released(), target) << "the burst was not released in 120 s";
    // A release of a few 1 ms slices says little (the window opens inside
    // one); the default build's 20,000 stacks take 20-50.
    if (cpu < 5'000'000) GTEST_SKIP() << "the release took only " << cpu / 1000 << " us of CPU: too few slices to judge";
    EXPECT_LT(static_cast<double>(cpu) / wall_ns, 0.10)
        << "scavenger CPU " << cpu / 1000 << " us over " << wall_ns / 1000 << " us of release";
  });
}

// Releasing a big batch of stacks does not hold the monitor up: it keeps
// completing rounds (retake, overdue timers, the deadlock check) while
// the stacks of a burst are being given back. A plain thread samples the
// monitor's round count and the scavenger's released count as fast as it
// can; among the samples taken while the release was under way (some of
// the burst's stacks released, not yet 80%), the round count must have
// moved. When the release ran inline in one monitor round, every such
// sample saw the same round count, however long the release took.
TEST(Scavenge, MonitorKeepsItsRoundsWhileReleasing) {
  goro_test::scoped_env env("GORO_SCAVENGE_MS", "300");  // read when the runtime starts
  goro_test::scoped_env share("GORO_SCAVENGE_PERCENT", "50");  // a quick release
  goro::run([] {
    const uint64_t base = goro::detail::stack_scavenge_counted().released;
    burst_result b = burst_of_parked_goroutines();
    ASSERT_GT(b.resident_parked, kBurst * 8 / 10) << "the burst did not touch its stacks?";
    uint64_t first_round = 0, last_round = 0, samples = 0;
    uint64_t released = 0;
    steady::time_point first_at{}, last_at{};
    std::thread sampler([&] {
      auto t0 = steady::now();
      while (steady::now() - t0 < 60s) {
        // The round count first: a round that ends between the two reads
        // can only make the release look further along, never the rounds.
        uint64_t round = goro::detail::sysmon_rounds();
        released = goro::detail::stack_scavenge_counted().released - base;
        if (released >= static_cast<uint64_t>(kBurst) * 8 / 10) break;
        if (released > 0) {
          if (samples++ == 0) first_round = round, first_at = steady::now();
          last_round = round;
          last_at = steady::now();
        }
        std::this_thread::yield();
      }
    });
    sampler.join();
    ASSERT_GE(released, static_cast<uint64_t>(kBurst) * 8 / 10) << "the monitor did not release the burst in 60 s";
    ASSERT_GT(samples, 0u) << "no sample saw the release under way";
    // An idle monitor polls every 10 ms at the slowest: a release that
    // went on for 50 ms must have seen at least two of its rounds. (The
    // scavenger thread may release a small burst faster than that; then
    // the rounds say nothing either way.)
    if (last_at - first_at >= 50ms) {
      EXPECT_GE(last_round - first_round, 2u)
          << samples << " samples during the release, over "
          << std::chrono::duration<double, std::milli>(last_at - first_at).count() << " ms";
    }
  });
}

// The monitor retakes a P from a goroutine that spins without scheduling
// points while it releases a burst's stacks: a goroutine queued behind
// the spinner runs within 10-20 ms (the retake delay), not after the
// whole release (seconds on a slow VM, where each madvise costs ~100 us).
// The bound of a second is generous, for loaded machines.
TEST(Scavenge, QueuedGoroutineRunsWhileStacksAreReleased) {
  goro_test::scoped_env env("GORO_SCAVENGE_MS", "300");  // read when the runtime starts
  goro_test::scoped_env share("GORO_SCAVENGE_PERCENT", "50");  // a quick release
  goro::set_maxprocs(1);
  goro::run([] {
    const uint64_t base = goro::detail::stack_scavenge_counted().released;
    burst_of_parked_goroutines();
    // Probe until the monitor has released most of the burst. Each probe
    // queues a goroutine behind this one, which then spins: only the
    // monitor's retake lets the probe run.
    static std::atomic<int> ran{0};  // probes may outlive a failed wait
    int probes = 0;
    double worst_ms = 0;
    auto t0 = steady::now();
    while (goro::detail::stack_scavenge_counted().released - base < static_cast<uint64_t>(kBurst) * 8 / 10 &&
           steady::now() - t0 < 60s) {
      auto p0 = steady::now();
      goro::go([] { ran.fetch_add(1); });
      probes++;
      while (ran.load() < probes && steady::now() - p0 < 30s) {
      }
      worst_ms = std::max(worst_ms, goro_test::ms_since(p0));
      goro::yield();  // a scheduling point: the P comes back to this goroutine
    }
    EXPECT_GE(goro::detail::stack_scavenge_counted().released - base, static_cast<uint64_t>(kBurst) * 8 / 10);
    EXPECT_LT(worst_ms, 1000.0) << probes << " probes";
  });
  goro::set_maxprocs(2);
}

// goro::free_os_memory() releases neighbouring stacks with one madvise:
// a burst in a fresh process takes consecutive slots, so nearly all of its
// stacks are released in long runs (the gaps are the stacks cached per
// worker, and runs are cut at 256 MiB).
TEST(Scavenge, NeighbouringStacksAreReleasedTogether) {
  goro_test::scoped_env env("GORO_SCAVENGE_MS", "3600000");  // only free_os_memory releases
  goro::run([] {
    auto before = goro::detail::stack_scavenge_counted();
    burst_of_parked_goroutines();
    goro::free_os_memory();
    auto after = goro::detail::stack_scavenge_counted();
    uint64_t released = after.released - before.released;
    uint64_t calls = after.madvise_calls - before.madvise_calls;
    ASSERT_GT(released, static_cast<uint64_t>(kBurst) / 2);
    EXPECT_LT(calls, released / 4) << released << " stacks released";
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

namespace {

// Stacks that have no page (fresh slots, and stacks the scavenger gave
// back) get their top page committed in batches before their goroutines
// first run (stack.cpp's populate_tops): a goroutine's first write then
// does not fault. Every goroutine of a burst runs on such a stack, so the
// count of tops committed ahead grows by about the burst, in the first
// burst (fresh slots) and again after free_os_memory (released stacks).
TEST(StackPopulate, StacksWithoutAPageGetTheirTopCommittedAhead) {
  goro_test::scoped_env env("GORO_SCAVENGE_MS", "3600000");
  goro::run([] {
    // No free stack keeps a page (stacks earlier tests of this process
    // left warm would be bound without a populate): the burst runs on
    // released or fresh stacks only.
    goro::free_os_memory();
    uint64_t before = goro::detail::stack_populated_count();
    burst_of_parked_goroutines();
    if (goro::detail::stack_populate_off())
      GTEST_SKIP() << "the kernel refused process_madvise(MADV_POPULATE_WRITE) on this process (an older "
                      "kernel, or a seccomp filter): stacks fault their tops in on first write";
    uint64_t fresh = goro::detail::stack_populated_count() - before;
    EXPECT_GE(fresh, static_cast<uint64_t>(kBurst * 9 / 10));
    // At most a carve batch per P beyond the burst.
    EXPECT_LE(fresh, static_cast<uint64_t>(kBurst + 16 * 64));
    goro::free_os_memory();
    uint64_t mid = goro::detail::stack_populated_count();
    burst_result again = burst_of_parked_goroutines();
    EXPECT_GT(again.resident_parked, kBurst * 8 / 10);
    EXPECT_GE(goro::detail::stack_populated_count() - mid, static_cast<uint64_t>(kBurst * 8 / 10))
        << "released stacks reused without their tops committed ahead";
  });
}

}  // namespace
