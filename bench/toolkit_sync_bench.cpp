// The toolkit suite's sync rows (../shared/bench/README.md, "Toolkit
// suite"): mutex_uncontended and rwmutex_read, workload for workload as
// the Go anchor's mutexUncontended and rwmutexRead; and goro's own row
// mutex_revoke, what ending a mutex's bias costs (Go has no bias).
#include <pthread.h>
#include <sched.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "goro/mutex.hpp"
#include "goro/runtime.hpp"
#include "goro/rwmutex.hpp"
#include "goro/stats.hpp"
#include "goro/wait_group.hpp"
#include "harness.hpp"

namespace goro_bench {

namespace {

constexpr int64_t kLockIters = 10'000'000;
constexpr int kRwReaders = 4;
constexpr int64_t kRwIters = 1'000'000;

// mutex_uncontended: lock, increment, unlock in one goroutine, nobody else.
void mutex_uncontended() {
  goro::mutex mu;
  int64_t counter = 0;
  stopwatch sw;
  for (int64_t i = 0; i < kLockIters; i++) {
    mu.lock();
    counter++;
    asm volatile("" : "+r"(counter));  // the increment stays (Go's is not folded away either)
    mu.unlock();
  }
  double secs = sw.seconds();
  if (counter != kLockIters) fail("mutex_uncontended: counter %lld", static_cast<long long>(counter));
  emit("toolkit", "mutex_uncontended", "-", secs, kLockIters);
}

// mutex_revoke (goro only): kRevokeMutexes fresh mutexes, each biased to
// a goroutine (three holds in a row there), then locked and unlocked once
// by this goroutine, which ends the bias: one membarrier call each. Timed:
// only those lock+unlock pairs; extra: the revocations the runtime
// counted (fewer than the mutexes if the revocation budget paused new
// bias, docs/design.md section 10). Few enough to stay under that budget.
void mutex_revoke() {
  constexpr int kRevokeMutexes = 32;
  const uint64_t before = goro::debug::stats().mutex_bias_revocations;
  double secs = 0;
  for (int i = 0; i < kRevokeMutexes; i++) {
    goro::mutex mu;
    goro::wait_group wg;
    wg.go([&mu] {
      for (int k = 0; k < 3; k++) {
        mu.lock();
        mu.unlock();
      }
    });
    wg.wait();
    stopwatch sw;
    mu.lock();
    mu.unlock();
    secs += sw.seconds();
  }
  const uint64_t revoked = goro::debug::stats().mutex_bias_revocations - before;
  emit("toolkit", "mutex_revoke", "-", secs, kRevokeMutexes, "revocations=" + std::to_string(revoked));
}

// A value on a cache line of its own (value-initialized: zeros).
template <class T>
struct alignas(64) own_line {
  T v{};
};

// rwmutex_read: kRwReaders goroutines each do kRwIters read-locked reads of
// a shared int; goroutine 0 takes the write lock and increments it instead
// on every 1000th operation.
//
// Layout as in Go. The anchor's mu (24 bytes), shared (8), sums (32) and wg
// (16) escape to its heap, which keeps each size class in spans of its
// own, so no two of them share a cache line. Left on this goroutine's
// stack they did: mu fell in sums's line, and every read lock then loaded
// state_ from a line the other core was writing (10.5-11.5 ns per read
// against 8.8-9.3 with the lines apart, runs of this row alone). So each
// gets a line of its own here; sums stays one line for all readers, as
// Go's [rwReaders]int is one 32-byte object: every read writes a line the
// readers share.
void rwmutex_read() {
  own_line<goro::rwmutex> mu_line;
  own_line<int64_t> shared_line;
  own_line<int64_t[kRwReaders]> sums_line;
  own_line<goro::wait_group> wg_line;
  goro::rwmutex& mu = mu_line.v;
  int64_t& shared = shared_line.v;
  int64_t* sums = sums_line.v;
  goro::wait_group& wg = wg_line.v;
  wg.add(kRwReaders);
  stopwatch sw;
  for (int r = 0; r < kRwReaders; r++)
    goro::go([&, r] {
      for (int64_t i = 0; i < kRwIters; i++) {
        if (r == 0 && i % 1000 == 0) {
          mu.lock();
          shared++;
          mu.unlock();
          continue;
        }
        mu.lock_shared();
        sums[r] += shared;
        mu.unlock_shared();
      }
      wg.done();
    });
  wg.wait();
  double secs = sw.seconds();
  if (shared != kRwIters / 1000)
    fail("rwmutex_read: writer ran %lld times, want %lld", static_cast<long long>(shared),
         static_cast<long long>(kRwIters / 1000));
  emit("toolkit", "rwmutex_read", "-", secs, kRwReaders * kRwIters);
}

// rwmutex_floor: what rwmutex_read's work costs with no lock at all, on
// two plain threads, one per core, with the row's shared sums line: kind
// "plain" does only `sums[r] += shared`; kind "fence" adds one full fence
// per operation (`lock or` on x86-64), the least any read lock that
// orders itself must pay: Go's RLock and RUnlock are two locked
// additions, goro's slot CAS in and out two locked compare-and-swaps. The
// fence drains the store buffer, where the add's write waits for the sums
// line to come back from the other core. No Go row: it shows what
// rwmutex_read's shared line costs when both cores write it all the time
// (docs/benchmarks.md, "rwmutex_read and its shared line").
void rwmutex_floor(bool fence) {
  own_line<int64_t[kRwReaders]> sums_line;
  own_line<int64_t> shared_line;
  shared_line.v = 1;
  constexpr int kThreads = 2;
  constexpr int64_t kOpsPerThread = kRwReaders * kRwIters / kThreads;
  std::atomic<int> ready{0};
  auto body = [&](int r) {
    // One thread per core, as rwmutex_read's two Ps run on two (left to
    // the OS, the two threads sometimes shared a core, and the line never
    // moved: 2.8-3.0 ns "fence" rows).
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(r % std::max(1, get_nprocs()), &one);
    (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    ready.fetch_add(1);
    while (ready.load() < kThreads) {
    }
    volatile int64_t* sum = &sums_line.v[r];
    const volatile int64_t* shared = &shared_line.v;
    for (int64_t i = 0; i < kOpsPerThread; i++) {
      *sum = *sum + *shared;
      if (fence) std::atomic_thread_fence(std::memory_order_seq_cst);
    }
  };
  stopwatch sw;
  std::thread other(body, 1);
  body(0);
  other.join();
  double secs = sw.seconds();
  if (sums_line.v[0] != kOpsPerThread || sums_line.v[1] != kOpsPerThread) fail("rwmutex_floor: lost adds");
  emit("toolkit", "rwmutex_floor", fence ? "fence" : "plain", secs, kThreads * kOpsPerThread);
}

}  // namespace

void toolkit_sync_suite() {
  if (selected("toolkit", "mutex_uncontended", "-")) mutex_uncontended();
  if (selected("toolkit", "mutex_revoke", "-")) mutex_revoke();
  if (selected("toolkit", "rwmutex_read", "-")) rwmutex_read();
  if (selected("toolkit", "rwmutex_floor", "plain")) rwmutex_floor(false);
  if (selected("toolkit", "rwmutex_floor", "fence")) rwmutex_floor(true);
}

}  // namespace goro_bench
