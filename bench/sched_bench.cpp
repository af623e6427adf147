// The sched suite (goro's own rows, with a Go twin in bench/go_sched/): how
// the scheduler behaves when goroutines compute without scheduling points or
// sit in blocking sections (issue 15). Four cases, maxprocs 2 for each:
//
//   wakeup_computing  a goroutine parked on a channel is readied by a send
//                     from a goroutine that then computes until the readied
//                     one runs: how long until it runs on the idle P.
//   timer_late_busy   a goroutine arms after_func(5 ms) and computes,
//                     watching for f's mark, while a ping-pong pair keeps
//                     the other P busy: how late f runs.
//   burst_threads     40 goroutines compute about 75 ms each with no
//                     scheduling point: how many threads the process grows.
//   ring_compute      8 goroutines in a ring of unbuffered channels pass 4
//                     tokens; each hop computes 2 or 5 us (the kind) by the
//                     clock: ns per hop, and the CPUs used (extra), since
//                     the hops keep both Ps busy only if an idle worker
//                     takes the goroutines queued behind a computing one.
//   blocking_beside   4 goroutines compute W us per item and send it to a
//                     channel main drains, while B goroutines loop
//                     blocking sections of S us (nanosleep): ns per item
//                     and the CPUs used (extra). Kinds wW_sS_bB. The
//                     computing goroutines get both cores only if the
//                     monitor hands a sleeping section's P off.
//
// The latency rows report a distribution, so their ns_per_op is the median
// (not seconds / ops) and seconds is the wall time of the whole case; extra
// holds the other percentiles, comma separated, in microseconds.
// docs/benchmarks.md, "Scheduling under computing and blocking goroutines",
// has the goals and results.
#include <dirent.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "goro/chan.hpp"
#include "goro/runtime.hpp"
#include "goro/time.hpp"
#include "goro/timer.hpp"
#include "goro/wait_group.hpp"
#include "harness.hpp"

namespace goro_bench {

namespace {

constexpr int kSchedProcs = 2;
constexpr int64_t kWakeTrials = 2'000;
constexpr auto kIdleSleep = std::chrono::milliseconds(1);
constexpr int64_t kTimerTrials = 300;
constexpr auto kTimerDelay = std::chrono::milliseconds(5);
constexpr int kBurstGoroutines = 40;
// Iterations of spin_work per goroutine: about 75 ms of CPU on this
// machine's cores when the host gives them fully (1.8-1.9 ns per iteration,
// in goro's C++ and in the Go twin alike). A fixed count rather than one
// calibrated at run time: on the shared machine a calibration read anything
// from 5 to 42 million iterations for 75 ms, which made burst times
// incomparable between runs and between goro and Go.
constexpr int64_t kBurstIters = 40'000'000;
// A case whose goroutine waits this long has hung: fail rather than spin on.
constexpr int64_t kGiveUpNs = 5'000'000'000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// p-th quantile (0 < p <= 1) of sorted values: the smallest value with at
// least p of the values at or below it (nearest rank).
int64_t quantile(const std::vector<int64_t>& sorted, double p) {
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[rank == 0 ? 0 : rank - 1];
}

// "p50=12.3us,p99=45.6us,max=789.0us" for ns values; sorts v.
std::string percentiles_us(std::vector<int64_t>& v) {
  std::sort(v.begin(), v.end());
  char buf[128];
  std::snprintf(buf, sizeof buf, "p50=%.1fus,p99=%.1fus,max=%.1fus", static_cast<double>(quantile(v, 0.50)) / 1e3,
                static_cast<double>(quantile(v, 0.99)) / 1e3, static_cast<double>(v.back()) / 1e3);
  return buf;
}

// The computation of burst_threads and the Go twin: a xorshift64 chain, one
// dependent step after another, no memory traffic and no calls.
uint64_t spin_work(int64_t iters, uint64_t x) {
  x |= 1;
  for (int64_t i = 0; i < iters; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}
std::atomic<uint64_t> work_sink{0};  // keeps spin_work's result alive

// CPU time this process has used (user + system), in seconds.
double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// Threads of this process: the entries of /proc/self/task.
int task_count() {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) fail("opendir /proc/self/task");
  int n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

// The machine's own floor for wakeup_computing, measured in the same run
// and interleaved with goro's trials so that both see the same host: a
// plain thread waits in a futex for a sequence number to change and stores
// the time it woke; trial() bumps the number, wakes it (FUTEX_WAKE) and
// spins until that time appears. On a quiet machine this is the kernel's
// wake-up of a thread on an idle CPU; on a loaded one (or when the host
// takes the vCPU away) it also shows how long a woken thread waits for a
// CPU, which no scheduler of goroutines can beat. (Raw futex calls:
// libstdc++ 12's std::atomic::wait/notify_one measured 180 us to 8 ms at
// the median here, against 4-6 us for the raw calls.)
class os_wakeup_floor {
 public:
  os_wakeup_floor() : waiter_([this] { wait_loop(); }) {}
  ~os_wakeup_floor() {
    stop_.store(true);
    seq_.fetch_add(1);
    futex(FUTEX_WAKE_PRIVATE, 0);
    waiter_.join();
  }
  // One wake-up; returns its latency in ns. The caller sleeps before it,
  // as before a goro trial, so that the waiter's CPU has gone idle.
  int64_t trial() {
    woke_.store(0, std::memory_order_relaxed);
    int64_t t0 = now_ns();
    seq_.fetch_add(1);
    futex(FUTEX_WAKE_PRIVATE, 0);
    int64_t t1;
    while ((t1 = woke_.load(std::memory_order_acquire)) == 0) {
    }
    return t1 - t0;
  }

 private:
  void futex(int op, uint32_t val) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&seq_), op, op == FUTEX_WAKE_PRIVATE ? 1 : val, nullptr, nullptr,
            0);
  }
  void wait_loop() {
    for (uint32_t seen = 0;;) {
      while (seq_.load() == seen) futex(FUTEX_WAIT_PRIVATE, seen);
      seen = seq_.load();
      if (stop_.load()) return;
      woke_.store(now_ns(), std::memory_order_release);
    }
  }
  std::atomic<uint32_t> seq_{0};
  std::atomic<int64_t> woke_{0};
  std::atomic<bool> stop_{false};
  std::thread waiter_;
};

// wakeup_computing: goroutine R waits on an unbuffered channel; goroutine W
// sends to it and then computes (busy-waits on an atomic, no scheduling
// point) until R has stored the time it started running. The latency is
// R's start minus the time just before the send. Before each send W sleeps
// 1 ms inside goro::blocking, which readies nobody, so the other worker has
// gone idle and the wake-up path (ready() waking an idle P, whose thief then
// takes R from W's runnext) is measured rather than a thief already
// spinning. The send is a try_send, which succeeds only with R waiting in
// its receive; if R is not there yet, W sleeps again (counted in a comment).
// After each goro trial W sleeps 1 ms again and takes one trial of the OS
// floor, so the two distributions come from the same minutes of the host.
void wakeup_computing() {
  auto ch = goro::make_chan<int64_t>();
  std::atomic<int64_t> started{0};
  std::vector<int64_t> lat(kWakeTrials);
  std::vector<int64_t> floor_lat(kWakeTrials);
  os_wakeup_floor floor;
  int64_t retries = 0;
  goro::wait_group wg;
  wg.add(2);
  stopwatch sw;
  goro::go([&] {  // R
    for (int64_t i = 0; i < kWakeTrials; i++) {
      ch.recv();
      started.store(now_ns(), std::memory_order_release);
    }
    wg.done();
  });
  goro::go([&] {  // W
    auto idle_sleep = [] { goro::blocking([] { std::this_thread::sleep_for(kIdleSleep); }); };
    for (int64_t i = 0; i < kWakeTrials; i++) {
      started.store(0, std::memory_order_relaxed);  // R stored trial i-1's time before W saw it
      int64_t t0;
      for (;;) {
        idle_sleep();
        t0 = now_ns();
        if (ch.try_send(i)) break;
        retries++;
      }
      int64_t t1;
      while ((t1 = started.load(std::memory_order_acquire)) == 0) {
        if (now_ns() - t0 > kGiveUpNs)
          fail("sched wakeup_computing: trial %lld: the readied goroutine never ran", static_cast<long long>(i));
      }
      lat[i] = t1 - t0;
      idle_sleep();
      floor_lat[i] = floor.trial();
    }
    wg.done();
  });
  wg.wait();
  double secs = sw.seconds();
  auto over_50us = [](const std::vector<int64_t>& sorted) {
    return static_cast<long long>(sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), int64_t{50'000}));
  };
  std::string extra = percentiles_us(lat);
  std::string floor_extra = percentiles_us(floor_lat);
  emit_ns("sched", "wakeup_computing", "-", secs, kWakeTrials, static_cast<double>(quantile(lat, 0.5)), extra);
  comment("sched wakeup_computing: %lld trials, %lld sends retried (receiver not yet waiting); over 50 us: %lld",
          static_cast<long long>(kWakeTrials), static_cast<long long>(retries), over_50us(lat));
  comment("sched wakeup_computing: OS floor, plain threads, interleaved: %s; over 50 us: %lld", floor_extra.c_str(),
          over_50us(floor_lat));
}

// The control printed beside timer_late_busy: the same after(5 ms), received
// by a goroutine blocked on it while nothing else runs, 100 times. What it
// shows is the lateness of the machine and of an idle worker's sleep, not
// of a busy P.
std::string idle_timer_control() {
  constexpr int64_t kTrials = 100;
  const int64_t delay = std::chrono::nanoseconds(kTimerDelay).count();
  std::vector<int64_t> late(kTrials);
  for (int64_t i = 0; i < kTrials; i++) {
    int64_t deadline = now_ns() + delay;
    goro::after(kTimerDelay).recv();
    late[i] = now_ns() - deadline;
  }
  return percentiles_us(late);
}

// timer_late_busy: a ping-pong pair over two unbuffered channels keeps one
// P busy; goroutine T arms goro::after(5 ms) on its own P and computes,
// polling try_recv (not a safe point) until the value arrives; 300 times in
// a row, never yielding. Lateness = when T received minus (the time just
// before after() + 5 ms). The pair's round trips during T's trials are
// printed in a comment, to show it kept running.
void timer_late_busy() {
  auto ping = goro::make_chan<int64_t>();
  auto pong = goro::make_chan<int64_t>();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> round_trips{0};
  goro::wait_group pair;
  pair.add(2);
  goro::go([&] {
    int64_t v = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      ping.send(v);
      v = pong.recv();
      round_trips.fetch_add(1, std::memory_order_relaxed);
    }
    ping.send(-1);
    pair.done();
  });
  goro::go([&] {
    for (;;) {
      int64_t v = ping.recv();
      if (v < 0) break;
      pong.send(v + 1);
    }
    pair.done();
  });
  goro::sleep_for(std::chrono::milliseconds(20));  // let the pair settle on a P
  std::vector<int64_t> late(kTimerTrials);
  goro::wait_group tw;
  tw.add(1);
  int64_t rt0 = round_trips.load();
  stopwatch sw;
  goro::go([&] {  // T
    const int64_t delay = std::chrono::nanoseconds(kTimerDelay).count();
    for (int64_t i = 0; i < kTimerTrials; i++) {
      // The runtime fires the timer and starts f; T only watches for f's
      // mark. (A receive on an after() channel fires a due timer itself,
      // Go 1.23's way, so polling one measured T's own clock reads, not
      // the scheduler: found by a review of the rows, 2026-12-06.)
      std::atomic<int64_t> fired{0};
      int64_t deadline = now_ns() + delay;
      goro::timer t = goro::after_func(kTimerDelay, [&fired] { fired.store(now_ns()); });
      while (fired.load() == 0) {
        if (now_ns() - deadline > kGiveUpNs)
          fail("sched timer_late_busy: trial %lld: after_func(5ms) never ran", static_cast<long long>(i));
      }
      late[i] = fired.load() - deadline;
    }
    tw.done();
  });
  tw.wait();
  double secs = sw.seconds();
  int64_t rts = round_trips.load() - rt0;
  stop.store(true);
  pair.wait();
  std::string extra = percentiles_us(late);
  emit_ns("sched", "timer_late_busy", "-", secs, kTimerTrials, static_cast<double>(quantile(late, 0.5)), extra);
  auto within = [&late](int64_t ms) {
    return static_cast<long long>(std::upper_bound(late.begin(), late.end(), ms * 1'000'000) - late.begin());
  };
  comment("sched timer_late_busy: %lld timers of 5 ms, late by <= 2 ms: %lld, <= 5 ms: %lld, <= 20 ms: %lld; "
          "the ping-pong pair made %lld round trips meanwhile (%.0f per ms)",
          static_cast<long long>(kTimerTrials), within(2), within(5), within(20), static_cast<long long>(rts),
          static_cast<double>(rts) / (secs * 1e3));
  comment("sched timer_late_busy: idle control, receive blocked on after(5ms) with nothing else running: %s",
          idle_timer_control().c_str());
}

// burst_threads: 40 goroutines each run spin_work for kBurstIters (about
// 75 ms of CPU) with no scheduling point; a plain thread counts
// /proc/self/task every millisecond. extra_threads = the most threads seen
// during the burst minus the count just before it. Timed from the first go()
// to the wait_group's return; ops = goroutines.
void burst_threads() {
  const int64_t iters = kBurstIters;
  std::atomic<bool> stop{false};
  std::atomic<int> most{0};
  std::atomic<int64_t> samples{0};
  std::thread sampler([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      int n = task_count();
      int m = most.load(std::memory_order_relaxed);
      while (n > m && !most.compare_exchange_weak(m, n)) {
      }
      samples.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  while (samples.load() == 0) goro::sleep_for(std::chrono::milliseconds(1));
  int before = task_count();  // the sampler included
  most.store(before);
  int64_t samples0 = samples.load();
  goro::wait_group wg;
  wg.add(kBurstGoroutines);
  double cpu0 = process_cpu_seconds();
  stopwatch sw;
  for (int i = 0; i < kBurstGoroutines; i++) {
    goro::go([&wg, iters, i] {
      work_sink.fetch_xor(spin_work(iters, static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15u), std::memory_order_relaxed);
      wg.done();
    });
  }
  wg.wait();
  double secs = sw.seconds();
  double cpu = process_cpu_seconds() - cpu0;  // the sampler's few ms included
  int64_t nsamples = samples.load() - samples0;
  stop.store(true);
  sampler.join();
  int peak = most.load();
  int after = task_count() + 1;  // as counted with the sampler still there
  char extra[64];
  std::snprintf(extra, sizeof extra, "extra_threads=%d", peak - before);
  emit("sched", "burst_threads", "-", secs, kBurstGoroutines, extra);
  comment("sched burst_threads: maxprocs %d, threads before %d, most during %d, after %d (sampler thread included), "
          "%lld samples; %lld iterations per goroutine; process CPU %.2f s (%.2f ns per iteration), "
          "so %.2f s of wall on 2 free cores",
          goro::maxprocs(), before, peak, after, static_cast<long long>(nsamples), static_cast<long long>(iters), cpu,
          cpu * 1e9 / (static_cast<double>(iters) * kBurstGoroutines), cpu / kSchedProcs);
}

// A row whose extra is the CPUs used over its wall time.
void emit_with_cpus(const char* cas, const char* kind, double secs, int64_t ops, double cpus) {
  char extra[64];
  std::snprintf(extra, sizeof extra, "cpus=%.2f", cpus);
  emit("sched", cas, kind, secs, ops, extra);
}

// ring_compute: kRingSize goroutines, goroutine i receiving on ring[i] and
// sending to ring[i + 1]; kRingTokens tokens, each good for
// kRingHops / kRingTokens hops, then handed to `done`. Each hop computes
// `work` by the clock, so both programs do the same work whatever their
// code generation.
constexpr int kRingSize = 8;
constexpr int kRingTokens = 4;
constexpr int64_t kRingHops = 200'000;

void ring_compute(const char* kind, std::chrono::nanoseconds work) {
  std::vector<goro::chan<int64_t>> ring;
  for (int i = 0; i < kRingSize; i++) ring.push_back(goro::make_chan<int64_t>());
  goro::chan<int64_t> done = goro::make_chan<int64_t>(kRingTokens);
  goro::wait_group wg;
  wg.add(kRingSize);
  double cpu0 = process_cpu_seconds();
  stopwatch sw;
  for (int i = 0; i < kRingSize; i++) {
    goro::go([&, i] {
      for (;;) {
        auto [left, ok] = ring[i].recv_ok();
        if (!ok) break;
        auto until = std::chrono::steady_clock::now() + work;
        while (std::chrono::steady_clock::now() < until) {
        }
        if (left == 1)
          done.send(0);
        else
          ring[(i + 1) % kRingSize].send(left - 1);
      }
      wg.done();
    });
  }
  for (int t = 0; t < kRingTokens; t++) ring[t * kRingSize / kRingTokens].send(kRingHops / kRingTokens);
  for (int t = 0; t < kRingTokens; t++) done.recv();
  double secs = sw.seconds();
  double cpu = process_cpu_seconds() - cpu0;
  for (auto& c : ring) c.close();
  wg.wait();
  emit_with_cpus("ring_compute", kind, secs, kRingHops, cpu / secs);
}

// blocking_beside: kProducers goroutines compute work_us by the clock per
// item and send it to a buffered channel that this goroutine drains until
// it has `items`; `blockers` goroutines loop goro::blocking sections that
// sleep section_us. Afterwards everyone stops, the producers' last sends
// drained.
constexpr int kProducers = 4;

void blocking_beside(const char* kind, int work_us, int section_us, int blockers, int64_t items) {
  auto ch = goro::make_chan<int>(64);
  std::atomic<bool> stop{false};
  std::atomic<int> live{kProducers + blockers};
  const auto work = std::chrono::microseconds(work_us);
  double cpu0 = process_cpu_seconds();
  stopwatch sw;
  for (int i = 0; i < kProducers; i++) {
    goro::go([&, ch] {
      while (!stop.load(std::memory_order_relaxed)) {
        auto until = std::chrono::steady_clock::now() + work;
        while (std::chrono::steady_clock::now() < until) {
        }
        ch.send(1);
      }
      live.fetch_sub(1);
    });
  }
  for (int i = 0; i < blockers; i++) {
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        goro::blocking([&] {
          struct timespec ts{0, section_us * 1000L};
          nanosleep(&ts, nullptr);
        });
      }
      live.fetch_sub(1);
    });
  }
  for (int64_t n = 0; n < items; n++) ch.recv();
  double secs = sw.seconds();
  double cpu = process_cpu_seconds() - cpu0;
  stop.store(true);
  while (live.load() > 0) {
    (void)ch.try_recv();
    goro::yield();
  }
  emit_with_cpus("blocking_beside", kind, secs, items, cpu / secs);
}

struct blocking_kind {
  const char* kind;
  int work_us, section_us, blockers;
  int64_t items;
};
constexpr blocking_kind kBlockingKinds[] = {
    {"w5_s5000_b1", 5, 5000, 1, 400'000},
    {"w20_s200_b1", 20, 200, 1, 120'000},
    {"w5_s200_b2", 5, 200, 2, 300'000},
};

// yield_2p: kYielders goroutines each call goro::yield() kYieldsEach
// times at maxprocs 2 (kSchedProcs); ns per yield is the wall time over
// all the yields. The row that measures a yield's cost when two workers
// yield at once (docs/design.md section 2, "Yields stay on their P");
// runtime/yield measures one worker.
constexpr int kYielders = 4;
constexpr int64_t kYieldsEach = 2'000'000;

void yield_2p() {
  goro::wait_group wg;
  wg.add(kYielders);
  double cpu0 = process_cpu_seconds();
  stopwatch sw;
  for (int i = 0; i < kYielders; i++) {
    goro::go([&] {
      for (int64_t k = 0; k < kYieldsEach; k++) goro::yield();
      wg.done();
    });
  }
  wg.wait();
  double secs = sw.seconds();
  double cpu = process_cpu_seconds() - cpu0;
  emit_with_cpus("yield_2p", "-", secs, kYielders * kYieldsEach, cpu / secs);
}

}  // namespace

void sched_suite() {
  bool any = selected("sched", "wakeup_computing", "-") || selected("sched", "timer_late_busy", "-") ||
             selected("sched", "burst_threads", "-") || selected("sched", "ring_compute", "2us") ||
             selected("sched", "ring_compute", "5us") || selected("sched", "yield_2p", "-");
  for (const blocking_kind& b : kBlockingKinds) any = any || selected("sched", "blocking_beside", b.kind);
  if (!any) return;
  int old = goro::set_maxprocs(kSchedProcs);
  // Let the workers notice the new budget (as runtime/yield does).
  goro::sleep_for(std::chrono::milliseconds(20));
  if (selected("sched", "wakeup_computing", "-")) wakeup_computing();
  if (selected("sched", "timer_late_busy", "-")) timer_late_busy();
  if (selected("sched", "burst_threads", "-")) burst_threads();
  if (selected("sched", "ring_compute", "2us")) ring_compute("2us", std::chrono::microseconds(2));
  if (selected("sched", "ring_compute", "5us")) ring_compute("5us", std::chrono::microseconds(5));
  for (const blocking_kind& b : kBlockingKinds)
    if (selected("sched", "blocking_beside", b.kind))
      blocking_beside(b.kind, b.work_us, b.section_us, b.blockers, b.items);
  if (selected("sched", "yield_2p", "-")) yield_2p();
  goro::set_maxprocs(old);
}

}  // namespace goro_bench
