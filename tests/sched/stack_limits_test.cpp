// The stack pool at its limits: a chunk of stacks whose free lists cannot
// grow, and stack sizes too large to round (both found by a review of the
// stack pool, 2026-12-06). Guard pages made by mprotect are tested in the
// crash tests (they need a seccomp filter on the whole process).
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/test_hooks.hpp"

namespace {

// Go() that meets free lists which cannot grow throws resource_error and
// leaves the pool as it was. Before the fix the new chunk was counted
// before the lists grew: later goroutines were carved from it, and when
// they all exited the free list overflowed ("runtime check failed: n + k
// <= cap", the program ended).
TEST(StackLimits, FreeListsThatCannotGrowFailGoAndNothingLater) {
  goro::set_maxprocs(1);  // no stack sits in another P's cache: binds never map
  goro::run([] {
    // release: what the parked goroutines wait for; finished: counts them
    // out of release.wait() (the wait groups must outlive every waiter).
    goro::wait_group parked, release, finished;
    release.add(1);
    long started = 0;
    bool threw = false;
    goro::detail::test_hooks::stack_lists_grow_fails.store(true);
    // A chunk holds about 2,000 stacks of the default size.
    for (; started < 100000 && !threw; started++) {
      parked.add(1);
      finished.add(1);
      try {
        goro::go([&] {
          parked.done();
          release.wait();
          finished.done();
        });
      } catch (const goro::resource_error&) {
        parked.done();
        finished.done();
        threw = true;
      }
    }
    goro::detail::test_hooks::stack_lists_grow_fails.store(false);
    ASSERT_TRUE(threw);
    // About as many again: more stacks than the first chunk holds, fewer
    // than two chunks (before the fix the failed chunk was counted, so
    // these came from it and no later chunk grew the lists).
    for (long i = 0; i < started * 3 / 4; i++) {
      parked.add(1);
      finished.add(1);
      goro::go([&] {
        parked.done();
        release.wait();
        finished.done();
      });
    }
    parked.wait();
    release.done();
    // Every goroutine gives its stack back; then one more runs.
    finished.wait();
    goro::wait_group exited;
    exited.add(1);
    goro::go([&] { exited.done(); });
    exited.wait();
  });
  goro::run([] {
    goro::wait_group wg;
    wg.add(1000);
    for (int i = 0; i < 1000; i++) goro::go([&] { wg.done(); });
    wg.wait();
  });
}

// A goroutine reserves stacks 32 at a time; when the batch would need a
// new chunk and none can be mapped, the stacks still free are its to
// take, one at a time. Before the fix go() from a goroutine threw while up
// to 31 were left, and a plain thread's go() then succeeded.
TEST(StackLimits, GoFromAGoroutineUsesTheLastStacksBeforeItThrows) {
  goro::set_maxprocs(1);
  goro::run([] {
    goro::wait_group parked, release, finished;
    release.add(1);
    auto park = [&] {
      parked.done();
      release.wait();
      finished.done();
    };
    // A few stacks reserved one at a time (from a plain thread), so that
    // what is left when a batch fails is not a multiple of the batch.
    std::thread([&] {
      for (int i = 0; i < 7; i++) {
        parked.add(1);
        finished.add(1);
        goro::go(park);
      }
    }).join();
    // Starts one parked goroutine; false if go() threw resource_error.
    auto start_one = [&] {
      parked.add(1);
      finished.add(1);
      try {
        goro::go(park);
        return true;
      } catch (const goro::resource_error&) {
        parked.done();
        finished.done();
        return false;
      }
    };
    goro::detail::test_hooks::stack_lists_grow_fails.store(true);  // no new chunk can be mapped
    bool threw = false;
    // Bounded by far more than one process's stacks: a run of the whole
    // test binary in one process leaves earlier tests' stacks free (one
    // ran a million goroutines), and those are taken first.
    for (long i = 0; i < 4000000 && !threw; i++) threw = !start_one();
    ASSERT_TRUE(threw);
    // Nothing is left for a plain thread either.
    bool thread_threw = false;
    std::thread t([&] { thread_threw = !start_one(); });
    t.join();
    goro::detail::test_hooks::stack_lists_grow_fails.store(false);
    EXPECT_TRUE(thread_threw) << "a goroutine's go() threw while stacks were free";
    parked.wait();
    release.done();
    finished.wait();
  });
}

// Sizes near SIZE_MAX used to wrap to a 16 KiB stack (go_with) or a 0-byte
// one (set_default_stack_size): refused now, with the pool unchanged.
TEST(StackLimits, SizesTooLargeToRoundAreRefused) {
  goro::run([] {
    for (std::size_t size : {SIZE_MAX, SIZE_MAX - 100, SIZE_MAX / 2 + 1, std::size_t{1} << 41}) {
      EXPECT_THROW(goro::go_with({.stack_size = size}, [] {}), goro::resource_error) << size;
    }
    std::size_t before = goro::set_default_stack_size(0);
    goro::set_default_stack_size(before);
    EXPECT_THROW(goro::set_default_stack_size(SIZE_MAX), std::invalid_argument);
    EXPECT_EQ(goro::set_default_stack_size(before), before);
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] { wg.done(); });
    wg.wait();
  });
}

// Parked goroutines' stacks share their chunks' kernel maps (design.md
// section 4: a million stacks cost a few hundred maps). Under TSan each
// stack is remapped as it is bound, to reset TSan's shadow; without the
// chunk's madvise after it the new mapping never merged back, and each
// goroutine cost three maps (its stack, its guard split off, TSan's own):
// some 21,000 parked goroutines ran out of vm.max_map_count.
// Whether the kernel has MADV_GUARD_INSTALL (Linux 6.13), as the stack
// pool finds out: without it each guard is mprotect'ed, a map of its own.
bool kernel_has_guard_madvise() {
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  bool ok = madvise(p, 4096, 102 /* MADV_GUARD_INSTALL */) == 0;
  munmap(p, 4096);
  return ok;
}

TEST(StackMaps, ParkedGoroutinesShareTheirChunksMaps) {
  if (!kernel_has_guard_madvise())
    GTEST_SKIP() << "no MADV_GUARD_INSTALL (Linux before 6.13): each mprotect'ed guard is a map of its own";
  goro::run([] {
    constexpr int kParked = 1000;
    std::vector<uintptr_t> at(kParked);
    auto release = goro::make_chan<int>();
    goro::wait_group parked, done;
    for (int i = 0; i < kParked; i++) {
      parked.add(1);
      done.go([&, i, release] {
        volatile char here = 0;
        at[static_cast<size_t>(i)] = reinterpret_cast<uintptr_t>(&here);
        parked.done();
        (void)release.recv_ok();
      });
    }
    parked.wait();
    // The kernel's maps that hold those stacks.
    std::set<std::pair<uintptr_t, uintptr_t>> holding;
    std::ifstream maps("/proc/self/maps");
    std::vector<std::pair<uintptr_t, uintptr_t>> all;
    for (std::string line; std::getline(maps, line);) {
      std::istringstream in(line);
      uintptr_t lo = 0, hi = 0;
      char dash = 0;
      in >> std::hex >> lo >> dash >> hi;
      all.emplace_back(lo, hi);
    }
    for (uintptr_t a : at)
      for (const auto& m : all)
        if (a >= m.first && a < m.second) holding.insert(m);
    release.close();
    done.wait();
    EXPECT_LT(holding.size(), static_cast<size_t>(kParked / 8))
        << kParked << " parked goroutines' stacks lie in " << holding.size() << " maps";
  });
}

}  // namespace
