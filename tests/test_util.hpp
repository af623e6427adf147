// Helpers shared by goro's tests.
#pragma once

#include <gtest/gtest.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "goro/panic.hpp"
#include "goro/runtime.hpp"
#include "goro/time.hpp"

namespace goro_test {

// Multiplier for stress test sizes: $GORO_STRESS (default 1). Sanitizer
// builds divide their loops further where a test says so.
inline int stress_scale() {
  const char* v = std::getenv("GORO_STRESS");
  int n = v != nullptr ? std::atoi(v) : 1;
  return n > 0 ? n : 1;
}

inline constexpr bool kSanitized =
#if defined(GORO_ASAN) || defined(GORO_TSAN)
    true;
#else
    false;
#endif

inline constexpr bool kTsan =
#if defined(GORO_TSAN)
    true;
#else
    false;
#endif

// `n` scaled by GORO_STRESS, divided by `sanitizer_div` in sanitizer builds.
inline int scaled(int n, int sanitizer_div = 10) {
  int s = n * stress_scale();
  if (kSanitized) s /= sanitizer_div;
  return s > 0 ? s : 1;
}

// How many goroutines a test starts: `n` scaled by GORO_STRESS, divided
// by `tsan_div` under ThreadSanitizer only, and at least `at_least` (a
// size the test must reach, e.g. wait_group's sharding threshold).
//
// Under TSan each goroutine's life costs milliseconds: the runtime gives
// every goroutine a TSan fiber of its own (sched/proc.cpp), and TSan
// clears each new fiber's state, a freshly mapped block, page by page.
// On the 2-core CI machine that is 3-10 ms a goroutine (perf: ~75% of the
// time in __tsan::FiberCreate's memset and its page faults), where ASan
// adds microseconds; a test that starts 30,000 goroutines took 83 s idle
// and over 120 s on a busy machine. A TSan test should start no more than
// a few thousand goroutines in all (every maxprocs round counted).
inline int goroutines(int n, int tsan_div, int at_least = 1) {
  int s = n * stress_scale();
  if (kTsan) s /= tsan_div;
  return s > at_least ? s : at_least;
}

using steady = std::chrono::steady_clock;

// The process's resident memory (VmRSS, /proc/self/status) in KiB, or -1.
inline long vm_rss_kib() {
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

// Sets an environment variable the runtime reads when it starts, for one
// test, and puts the old value back after it: ctest runs each test in a
// process of its own, but running a binary whole (as a developer does)
// must not carry one test's GORO_DEBUG=detachoff=1 into the next.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      had_ = true;
      old_ = old;
    }
    setenv(name, value, 1);
  }
  ~scoped_env() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

inline double ms_since(steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(steady::now() - t0).count();
}

// Raises the soft limit on open files to min(want, hard); returns the
// new soft limit (0 if it cannot be read or set).
inline rlim_t raise_fd_limit(rlim_t want) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  }
  return rl.rlim_cur;
}

// The system call thread `tid` of this process is blocked in, as
// /proc/self/task/TID/syscall gives it: the number, then the arguments.
// Empty while the thread runs (or if the file cannot be read). Parsed with
// std::from_chars, which leaves errno alone: callers are often goroutines,
// and TSan reports a goroutine's touch of a worker's TLS (design.md 13).
inline std::vector<unsigned long long> blocked_syscall(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string line;
  std::getline(f, line);
  std::vector<unsigned long long> v;
  if (line.empty() || line == "running") return v;
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    int base = 10;
    const char* first = word.data();
    if (word.size() > 2 && word[0] == '0' && (word[1] == 'x' || word[1] == 'X')) {
      base = 16;
      first += 2;
    }
    unsigned long long n = 0;
    std::from_chars(first, word.data() + word.size(), n, base);
    v.push_back(n);
  }
  return v;
}

// Waits until thread `tid` is blocked in ppoll(2) and returns its
// arguments (fds, nfds, timeout pointer, sigmask, sigsetsize): a thread
// that polls in slices shows a timeout, one that waits to be woken none.
inline std::vector<unsigned long long> await_ppoll(pid_t tid) {
  for (;;) {
    std::vector<unsigned long long> v = blocked_syscall(tid);
    if (v.size() >= 6 && v[0] == SYS_ppoll) return {v.begin() + 1, v.begin() + 6};
    std::this_thread::yield();
  }
}

// Waits (sleeping, from a goroutine or a thread) until pred() holds; false
// after `limit`, a bound for a broken build rather than a timing check.
template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    goro::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// As wait_for, on plain threads only, without the runtime: it sleeps with
// std::this_thread, so it sets no goro timer (whose wake-up would disturb
// a test of the idle worker's sleep).
template <class Pred>
bool spin_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return true;
}

// Runs f as a goro::run main goroutine at maxprocs 1, 2 and 4 (the
// scheduler-facing tests' rule: several worker counts).
template <class F>
void for_procs(F f) {
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    goro::run(f);
  }
}

// Runs f and expects it to throw goro::panic_error with exactly msg (Go's
// panic message); anything else, or nothing, fails the test.
template <class F>
void expect_panic(F f, const char* msg) {
  try {
    f();
    ADD_FAILURE() << "expected panic: " << msg;
  } catch (const goro::panic_error& e) {
    EXPECT_STREQ(e.what(), msg);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected panic: " << msg << "; threw instead: " << e.what();
  }
}

}  // namespace goro_test
