// goro::sleep_for / sleep_until: never early, on time, from goroutines and
// plain threads, many at once.
#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <random>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "ping_pong_pairs.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using goro_test::steady;

namespace {

// Goroutine counts here are divided under TSan, where each goroutine
// costs milliseconds to start (goro_test::goroutines).

TEST(Sleep, NeverEarlyInGoroutines) {
  const int n = goro_test::goroutines(1000, 4);
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    std::atomic<int> early{0};
    goro::run([&] {
      goro::wait_group wg;
      std::mt19937 rng(procs);
      for (int i = 0; i < n; i++) {
        auto d = std::chrono::microseconds(rng() % 20000);
        wg.add(1);
        goro::go([&, d] {
          auto t0 = steady::now();
          goro::sleep_for(d);
          if (steady::now() - t0 < d) early++;
          wg.done();
        });
      }
      wg.wait();
    });
    EXPECT_EQ(early.load(), 0) << "procs=" << procs;
  }
}

TEST(Sleep, SleepUntilSteadyAndSystemClock) {
  goro::run([] {
    auto deadline = steady::now() + 5ms;
    goro::sleep_until(deadline);
    EXPECT_GE(steady::now(), deadline);
    auto t0 = steady::now();
    goro::sleep_until(std::chrono::system_clock::now() + 5ms);
    EXPECT_GE(steady::now() - t0, 4ms);  // converted once: allow clock skew of 1 ms
  });
}

TEST(Sleep, ZeroAndNegativeReturnAtOnce) {
  goro::run([] {
    auto t0 = steady::now();
    goro::sleep_for(0ms);
    goro::sleep_for(-5ms);
    goro::sleep_until(steady::now() - 1s);
    EXPECT_LT(steady::now() - t0, 50ms);
  });
}

TEST(Sleep, PlainThreadSleeps) {
  auto t0 = steady::now();
  goro::sleep_for(3ms);
  EXPECT_GE(steady::now() - t0, 3ms);
}

// maxprocs 1: a goroutine queued behind a sleeping one runs while the
// sleeper sleeps. The runner notes whether the sleeper had woken; main
// waits for it under a generous deadline. (Main used to give it 40 ms of
// yields against a 50 ms sleep: under TSan beside two busy loops 40 ms
// went by without it, 1 run in 8.) The sleep is 1 s, room for a loaded
// machine, and the test lasts as long.
TEST(Sleep, SleepersDoNotBlockTheirP) {
  goro::set_maxprocs(1);
  goro::run([] {
    std::atomic<bool> sleeper_woke{false};
    std::atomic<int> progressed{0};  // 1: while the sleeper slept; 2: after
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      goro::sleep_for(1s);
      sleeper_woke = true;
      wg.done();
    });
    goro::go([&] { progressed = sleeper_woke.load() ? 2 : 1; });
    auto t0 = steady::now();
    while (progressed.load() == 0 && steady::now() - t0 < 30s) goro::yield();
    EXPECT_EQ(progressed.load(), 1) << "0: never ran; 2: ran only after the sleeper woke";
    wg.wait();
  });
}

// Goroutines that hand the P to each other directly (a channel ping-pong
// never goes through the scheduling loop's timer check) must not keep a
// due timer from firing: the loop's round every 61st switch checks timers.
// The sleeper must wake while the ping-pong still runs (it stops by
// itself after 5 s, so a starved timer fails the test instead of hanging).
TEST(Sleep, TimerFiresWhileGoroutinesSwitchDirectly) {
  goro::set_maxprocs(1);
  goro::run([] {
    auto ping = goro::make_chan<int>();
    auto pong = goro::make_chan<int>();
    std::atomic<bool> woke{false}, stop{false};
    goro::wait_group wg;
    wg.add(3);
    goro::go([&] {
      auto start = steady::now();
      for (int i = 0; !stop.load(); i++) {
        ping.send(1);
        pong.recv();
        if (i % 1024 == 0 && steady::now() - start > 5s) break;  // the timer starved
      }
      ping.close();
      wg.done();
    });
    goro::go([&] {
      for (int v : ping) pong.send(v);
      wg.done();
    });
    std::atomic<int64_t> late_ms{-1};
    goro::go([&] {
      auto t0 = steady::now();
      goro::sleep_for(5ms);
      late_ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0 - 5ms).count();
      woke = true;
      stop = true;
      wg.done();
    });
    auto t0 = steady::now();
    while (!woke.load() && steady::now() - t0 < 5s) goro::yield();
    stop = true;
    EXPECT_TRUE(woke.load()) << "the sleeper never woke while the ping-pong ran";
    wg.wait();
    EXPECT_GE(late_ms.load(), 0);
  });
}

// A goroutine whose sleep is over runs next on its P, ahead of the
// goroutines queued there, as Go's timers ready it into runnext. With 400
// ping-pong pairs on one P its ring is full (256) and advances one
// goroutine per 62 switches (runnext's streak, runq.cpp), so a woken
// sleeper queued at the ring's tail waited about 16,000 switches: a probe
// of 64 goroutines sleeping 1 ms beside such pairs woke them 1.2 ms late
// at the median (Go: 0). Counted in the pairs' round trips during a 1 us
// sleep (due at once; the P looks at its timers every 16 switches), so a
// busy machine does not change the verdict: the median was 3,759 round
// trips before, 8-15 after; the bound is 1,000.
TEST(Sleep, WokenSleeperRunsAheadOfAFullRunQueue) {
  goro::set_maxprocs(1);
  goro::run([] {
    const int pairs = 400;
    std::atomic<bool> stop{false};
    std::atomic<int64_t> round_trips{0};
    goro::wait_group wg;
    goro_test::go_ping_pong_pairs(wg, pairs, stop, round_trips);
    while (round_trips.load() < 10 * pairs) goro::yield();
    std::vector<int64_t> during;
    for (int k = 0; k < 41; k++) {
      int64_t before = round_trips.load();
      goro::sleep_for(1us);
      during.push_back(round_trips.load() - before);
    }
    stop = true;
    wg.wait();
    std::sort(during.begin(), during.end());
    EXPECT_LT(during[during.size() / 2], 1000) << "median round trips of the pairs while a due sleeper waited to run";
  });
}

TEST(Sleep, ManySleepersAllWake) {
  goro::run([] {
    const int n = goro_test::kTsan ? goro_test::goroutines(20000, 40) : goro_test::scaled(20000);
    std::atomic<int> woke{0};
    goro::wait_group wg;
    wg.add(n);
    auto t0 = steady::now();
    for (int i = 0; i < n; i++)
      goro::go([&] {
        goro::sleep_for(10ms);
        woke++;
        wg.done();
      });
    wg.wait();
    EXPECT_EQ(woke.load(), n);
    EXPECT_GE(steady::now() - t0, 10ms);
  });
}

// Sleeping goroutines (heap entries without a timer record) and after()
// channels (timer records whose heap index is kept) share each P's heap:
// with random deadlines, every one fires, none early, in batches of any
// size, whichever worker runs them.
TEST(Sleep, SleepersAndAfterTimersShareTheHeap) {
  for (int procs : {1, 2}) {
    goro::set_maxprocs(procs);
    std::atomic<int> early{0}, woke{0};
    const int n = goro_test::scaled(4000);
    goro::run([&] {
      goro::wait_group wg;
      std::mt19937 rng(77 + procs);
      for (int i = 0; i < n; i++) {
        auto d = std::chrono::microseconds(rng() % 15000);
        bool use_after = (rng() & 1) != 0;
        wg.add(1);
        goro::go([&, d, use_after] {
          auto t0 = steady::now();
          if (use_after) {
            goro::after(d).recv();
          } else {
            goro::sleep_for(d);
          }
          if (steady::now() - t0 < d) early++;
          woke++;
          wg.done();
        });
      }
      wg.wait();
    });
    EXPECT_EQ(early.load(), 0) << "procs=" << procs;
    EXPECT_EQ(woke.load(), n) << "procs=" << procs;
  }
}

// A non-blocking receive on an after() channel past its deadline, while a
// worker has taken the timer off its heap and not yet fired it (timers_run
// pops a batch, then fires them one by one): it waits for that fire and
// gets the value, as Go's receive does (maybeRunChan, under the timer's
// lock). The seams hold the fire until the receive waits for it, or has
// returned without the value, which it did before (3 misses in 19,200 in
// a review's probe; here every run).
TEST(Sleep, NonBlockingReceiveOnAnAfterChannelWaitsForAFireInFlight) {
  using tp = steady::time_point;
  namespace hooks = goro::detail::test_hooks;
  static std::atomic<const void*> target{nullptr};
  static std::atomic<int> stage{0};  // 1: the fire is held; 2: the receive waits for it
  static std::atomic<bool> receive_returned{false};
  stage = 0;
  receive_returned = false;
  hooks::timer_about_to_fire = [](const void* arg) {
    if (arg == nullptr || arg != target.load()) return;
    stage = 1;
    while (stage.load() != 2 && !receive_returned.load()) sched_yield();
  };
  hooks::after_waits_for_fire = [](const void* c) {
    if (c == target.load()) stage = 2;
  };
  goro::set_maxprocs(2);
  bool got = false;
  goro::run([&] {
    goro::recv_chan<tp> c = goro::after(1ms);
    target = goro::detail::chan_access::core(c);
    std::thread receiver([&] {
      while (stage.load() < 1) sched_yield();  // the deadline has passed: the timer was popped
      got = !c.try_recv().would_block();
      receive_returned = true;
    });
    goro::blocking([&] { receiver.join(); });
  });
  hooks::timer_about_to_fire = nullptr;
  hooks::after_waits_for_fire = nullptr;
  target = nullptr;
  EXPECT_TRUE(got) << "try_recv missed a value whose fire was in flight";
}

// Many after() channels with deadlines microseconds apart, each polled
// with try_recv once the clock is past its deadline, while the workers'
// timers_run pops and fires them in batches: every poll gets its value
// (the fire-in-flight wait above, without seams; run under TSan in CI).
TEST(Sleep, NonBlockingReceivesPastTheDeadlineNeverMiss) {
  using tp = steady::time_point;
  for (int procs : {2, 4}) {
    goro::set_maxprocs(procs);
    std::atomic<int> misses{0}, got{0};
    const int per = goro_test::kTsan ? 300 : goro_test::scaled(2000);
    goro::run([&] {
      goro::wait_group wg;
      for (int k = 0; k < 8; k++)
        wg.go([&, k] {
          for (int i = 0; i < per; i++) {
            auto d = std::chrono::microseconds((i * 7 + k * 13) % 300);
            goro::recv_chan<tp> c = goro::after(d);
            tp deadline = steady::now() + d;  // read after: no earlier than the channel's
            while (steady::now() <= deadline) {
            }
            if (c.try_recv().would_block()) {
              misses++;
              c.recv();  // the value still comes: the miss is what the test counts
            }
            got++;
          }
        });
      wg.wait();
    });
    EXPECT_EQ(misses.load(), 0) << "procs=" << procs;
    EXPECT_EQ(got.load(), 8 * per) << "procs=" << procs;
  }
  goro::set_maxprocs(2);
}

// An after() channel whose last handle is dropped before it fires has its
// timer cancelled (Go 1.23); one with a handle left must still fire, on
// time, however the other handles went. Handles are dropped at once, after
// a few yields, by several goroutines and plain threads racing, and while
// the timer fires; sleepers share the heap, so cancelled entries leave
// from its middle. ASan (use after free, double free) and LeakSanitizer
// (a channel no one frees) check the lifetimes; the counts check that no
// live channel lost its timer.
TEST(Sleep, AfterChannelsDroppedBeforeTheyFire) {
  using tp = steady::time_point;
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    std::atomic<int> early{0}, received{0}, wanted{0};
    const int n = goro_test::kTsan ? goro_test::goroutines(6000, 16) : goro_test::scaled(6000, 4);
    goro::run([&] {
      goro::wait_group wg;
      // Plain threads take some handles: they drop or receive them.
      goro::chan<std::pair<goro::recv_chan<tp>, bool>> to_threads = goro::make_chan<std::pair<goro::recv_chan<tp>, bool>>(64);
      std::vector<std::thread> threads;
      for (int k = 0; k < 2; k++)
        threads.emplace_back([&] {
          for (auto [c, receive] : to_threads) {
            if (receive) {
              c.recv();
              received++;
            }
          }
        });
      std::mt19937 rng(91 + procs);
      for (int i = 0; i < n; i++) {
        auto d = std::chrono::microseconds(rng() % 3000);
        tp deadline = steady::now() + d;
        goro::recv_chan<tp> c = goro::after(d);
        switch (rng() % 6) {
          case 0:  // dropped at once
            break;
          case 1:  // dropped by two goroutines racing, after a few yields each
            for (int k = 0; k < 2; k++) {
              wg.add(1);
              goro::go([&wg, c, y = rng() % 4] {
                for (unsigned j = 0; j < y; j++) goro::yield();
                wg.done();
              });
            }
            break;
          case 2: {  // one goroutine receives while others drop their copies
            wanted++;
            wg.add(2);
            goro::go([&, c, deadline] {
              tp at = c.recv();
              if (at < deadline) early++;
              received++;
              wg.done();
            });
            goro::go([&wg, c] {
              goro::yield();
              wg.done();
            });
            break;
          }
          case 3: {  // a select picks a ready channel over it, then drops it
            auto ready = goro::make_chan<int>(1);
            ready.send(1);
            if (goro::select(goro::on_recv(ready), goro::on_recv(c)) == 1) {  // fired first
              received++;
              wanted++;
            }
            break;
          }
          case 4: {  // a plain thread drops it or receives from it
            bool receive = (rng() & 1) != 0;
            if (receive) wanted++;
            to_threads.send({c, receive});
            break;
          }
          default:  // a sleeper beside it in the heap
            wg.add(1);
            goro::go([&wg, d] {
              goro::sleep_for(d);
              wg.done();
            });
        }
      }
      to_threads.close();
      goro::blocking([&] {
        for (auto& t : threads) t.join();
      });
      wg.wait();
    });
    EXPECT_EQ(early.load(), 0) << "procs=" << procs;
    EXPECT_EQ(received.load(), wanted.load()) << "procs=" << procs;
  }
}

// CPU ticks (utime + stime) of each worker thread ("goro-m*"), by tid.
std::map<int, long> worker_cpu_ticks() {
  std::map<int, long> ticks;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return ticks;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // pid (comm) state ppid ... utime is field 14, stime 15.
    auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    if (stat.compare(open + 1, 6, "goro-m") != 0) continue;
    long utime = 0, stime = 0;
    const char* rest = stat.c_str() + close + 2;
    // Skip fields 3..13 (11 fields) after "state".
    char state;
    long skip;
    int n = 0;
    if (std::sscanf(rest, "%c%n", &state, &n) != 1) continue;
    rest += n;
    for (int i = 0; i < 10; i++) {
      if (std::sscanf(rest, " %ld%n", &skip, &n) != 1) break;
      rest += n;
    }
    if (std::sscanf(rest, " %ld %ld", &utime, &stime) == 2) ticks[std::atoi(e->d_name)] = utime + stime;
  }
  closedir(d);
  return ticks;
}

// Timers are due while every P runs a goroutine that does not yield, and
// idle workers exist (left over from goro::blocking hand-offs). The idle
// worker that sleeps for the timers must not spin on the due deadline:
// there is no P for it, and each P runs its timers at its next round. It
// used to re-sleep until the same past deadline in a loop, taking a third
// of the two cores from the busy goroutines. Checked with the kernel's
// per-thread CPU times: apart from the two busy workers, the workers use
// almost no CPU while the goroutines spin.
TEST(Sleep, IdleWorkerDoesNotSpinOnDueTimersWhileEveryPIsBusy) {
  goro::set_maxprocs(2);
  goro::run([] {
    {
      // Make spare workers: goroutines in blocking sections get their P
      // handed to new Ms.
      goro::wait_group wg;
      for (int i = 0; i < 4; i++) wg.go([] { goro::blocking([] { ::usleep(30'000); }); });
      wg.wait();
    }
    // Sleepers, all parked before the measured window starts (their first
    // runs must not land on a spare worker inside it), due 20 ms into it.
    goro::wait_group sleepers;
    std::atomic<int> sleeping{0};
    for (int i = 0; i < 100; i++)
      sleepers.go([&sleeping] {
        sleeping++;
        goro::sleep_for(20ms);
      });
    while (sleeping.load() < 100) goro::yield();
    goro::yield();
    goro::wait_group busy;
    auto before = worker_cpu_ticks();
    for (int i = 0; i < 2; i++)
      busy.go([] {
        auto t0 = steady::now();
        while (steady::now() - t0 < 400ms) {
        }
      });
    busy.wait();
    auto after = worker_cpu_ticks();
    sleepers.wait();
    std::vector<long> deltas;
    for (auto& [tid, t] : after) deltas.push_back(t - (before.count(tid) ? before[tid] : 0));
    std::sort(deltas.rbegin(), deltas.rend());
    ASSERT_GE(deltas.size(), 3u) << "expected spare workers";
    long spare = 0;
    for (size_t i = 2; i < deltas.size(); i++) spare += deltas[i];
    long hz = sysconf(_SC_CLK_TCK);
    // The busy pair used about 0.8 s of CPU; the spinning worker took
    // 0.15-0.3 s. Allow 60 ms for everything else.
    EXPECT_LE(spare * 1000 / hz, 60) << "ms of CPU used by workers other than the two busy ones; busy: "
                                     << deltas[0] * 1000 / hz << " + " << deltas[1] * 1000 / hz << " ms";
  });
}

// Timer precision: the median lateness of 30 sleeps is under 1 ms. This
// test runs alone (RUN_SERIAL, see tests/CMakeLists.txt), but other work
// on the machine can still make a window of 30 sleeps late, the kernel's
// own sleeps with them (two busy loops beside it fail about a third of
// the windows). What is tested is that goro can be this precise, so the
// windows are retried for up to 10 s until one meets the bound: an idle
// machine passes in the first, and timers that are always late fail all
// of them. No sleep may ever end early.
TEST(SleepPrecision, WithinOneMillisecondWhenIdle) {
  goro::run([] {
    const auto give_up = steady::now() + 10s;
    double best = 1e9;
    int windows = 0;
    while (windows == 0 || (best >= 1.0 && steady::now() < give_up)) {
      windows++;
      std::vector<double> late_ms;
      for (int i = 0; i < 30; i++) {
        auto d = std::chrono::microseconds(2000 + 137 * i);
        auto t0 = steady::now();
        goro::sleep_for(d);
        auto elapsed = steady::now() - t0;
        ASSERT_GE(elapsed, d) << "sleep ended early";
        late_ms.push_back(std::chrono::duration<double, std::milli>(elapsed - d).count());
      }
      std::sort(late_ms.begin(), late_ms.end());
      double median = late_ms[late_ms.size() / 2];
      std::printf("window %d: median lateness %.0f us, max %.0f us\n", windows, median * 1000, late_ms.back() * 1000);
      best = std::min(best, median);
    }
    EXPECT_LT(best, 1.0) << "best median lateness " << best << " ms in " << windows << " windows of 30 sleeps";
  });
}

// A time point of another clock at its min() is long past: sleep_until
// returns at once. `t - Clock::now()` overflowed there (a sleep of about
// 237 years); the timed locks, with_deadline, wait_fd and the connection
// deadlines converted the same way and now share one saturating helper
// (detail::deadline_ns_of). The max() of another clock is far off, never
// long past.
TEST(Sleep, SleepUntilTheMinOfAnotherClockReturnsAtOnce) {
  goro::run([] {
    auto done = goro::make_chan<int>(1);
    goro::go([done] {
      goro::sleep_until(std::chrono::system_clock::time_point::min());
      done.send(1);
    });
    bool returned = false;
    goro::select(goro::on_recv(done, [&](int) { returned = true; }), goro::on_recv(goro::after(20s)));
    EXPECT_TRUE(returned) << "sleep_until(system_clock::time_point::min()) did not return";
  });
}

}  // namespace
