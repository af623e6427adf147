// goro-bench: goro's side of the shared benchmark workloads.
//
// Usage: goro-bench [PATTERN...]
//   With no pattern every row runs; otherwise only rows whose
//   "suite/case/kind" contains one of the patterns as a substring.
// Environment:
//   BENCH_MESSAGES    messages per channel case (default 5,000,000)
//   GORO_PARK_COUNT   goroutines parked by runtime/park_mem (default 100,000)
//   GORO_MAXPROCS, GORO_STACK_SIZE: the runtime's own settings
//
// Rows, checks and order follow ../shared/bench/README.md and the Go anchor
// (../shared/bench/go/main.go); the sched suite, which the anchors lack, has
// its Go twin in bench/go_sched (bench/run-sched.sh runs both). See
// docs/benchmarks.md for results.
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "goro/runtime.hpp"
#include "goro/stats.hpp"
#include "harness.hpp"

#ifndef GORO_BENCH_VERSION
#define GORO_BENCH_VERSION "?"
#endif

namespace goro_bench {

config& cfg() {
  static config c;
  return c;
}

bool selected(const char* suite, const char* cas, const char* kind) {
  const auto& pats = cfg().patterns;
  if (pats.empty()) return true;
  std::string key = std::string(suite) + "/" + cas + "/" + kind;
  for (const auto& p : pats)
    if (key.find(p) != std::string::npos) return true;
  return false;
}

void emit(const char* suite, const char* cas, const char* kind, double seconds, int64_t ops,
          const std::string& extra) {
  emit_ns(suite, cas, kind, seconds, ops, seconds * 1e9 / static_cast<double>(ops), extra);
}

void emit_ns(const char* suite, const char* cas, const char* kind, double seconds, int64_t ops, double ns_per_op,
             const std::string& extra) {
  std::printf("%s %s %s %s %.6f %lld %.2f %s\n", kImpl, suite, cas, kind, seconds, static_cast<long long>(ops),
              ns_per_op, extra.c_str());
  std::fflush(stdout);
}

void unsupported(const char* suite, const char* cas, const char* kind) {
  std::printf("%s %s %s %s unsupported\n", kImpl, suite, cas, kind);
  std::fflush(stdout);
}

steal_count::steal_count() : before_(goro::debug::stats().steals) {}

std::string steal_count::extra() const {
  return "steals=" + std::to_string(goro::debug::stats().steals - before_);
}

void comment(const char* fmt, ...) {
  std::fputs("# ", stdout);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stdout, fmt, ap);
  va_end(ap);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void fail(const char* fmt, ...) {
  std::fflush(stdout);
  std::fputs("goro-bench: FAILED: ", stderr);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::fflush(stderr);
  std::_Exit(1);
}

range share(int64_t total, int64_t n, int64_t w) {
  int64_t base = total / n, rem = total % n;
  int64_t lo = w * base + (w < rem ? w : rem);
  int64_t hi = lo + base + (w < rem ? 1 : 0);
  return {lo, hi};
}

int64_t proc_status_kib(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) fail("open /proc/self/status: %s", std::strerror(errno));
  char line[256];
  size_t len = std::strlen(field);
  int64_t v = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
      v = std::strtoll(line + len + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  if (v < 0) fail("no %s in /proc/self/status", field);
  return v;
}

void tally::check(const char* cas, const char* kind) const {
  int64_t m = cfg().messages;
  uint64_t want = static_cast<uint64_t>(m) * static_cast<uint64_t>(m - 1) / 2;
  int64_t n = count.load();
  uint64_t s = sum.load();
  if (n != m || s != want || left != 0)
    fail("channel %s %s: received %lld messages summing to %llu with %lld left over, want %lld summing to %llu",
         cas, kind, static_cast<long long>(n), static_cast<unsigned long long>(s), static_cast<long long>(left),
         static_cast<long long>(m), static_cast<unsigned long long>(want));
}

namespace {

int64_t env_count(const char* name, int64_t fallback, int64_t min) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  long long n = std::strtoll(v, &end, 10);
  if (*end != '\0' || n < min) fail("%s=\"%s\": want an integer >= %lld", name, v, static_cast<long long>(min));
  return n;
}

// Nanoseconds for one cache line to move between two threads' cores: two
// plain threads bounce a counter 100,000 times. On the 2-vCPU VMs this
// runs on, it reads either about 35 ns or 130-210 ns depending on where
// the host has placed the vCPUs, for seconds to minutes at a time, and
// every row that moves data between workers follows it (spawn and
// ctx_cancel about 3x, Go's rows too: docs/benchmarks.md, "ctx_cancel:
// the two placements of the vCPUs"); so it is printed before and after
// the rows, and before the runtime and toolkit suites, to tell the two
// kinds of run apart. The placement can change within seconds.
double core_handoff_ns() {
  constexpr long kRounds = 100'000;
  alignas(64) static std::atomic<long> turn;
  turn.store(0);
  auto bounce = [](long parity) {
    for (long i = parity; i < 2 * kRounds; i += 2) {
      while (turn.load(std::memory_order_acquire) != i) {
      }
      turn.store(i + 1, std::memory_order_release);
    }
  };
  stopwatch sw;
  std::thread other(bounce, 1);
  bounce(0);
  other.join();
  return sw.seconds() * 1e9 / (2 * kRounds);
}

}  // namespace

}  // namespace goro_bench

int main(int argc, char** argv) {
  using namespace goro_bench;
  cfg().messages = env_count("BENCH_MESSAGES", cfg().messages, kThreads);
  cfg().park_count = env_count("GORO_PARK_COUNT", cfg().park_count, 1);
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf(
          "usage: goro-bench [PATTERN...]\n"
          "  Runs every row whose suite/case/kind contains one of the patterns (all rows without one)\n"
          "  and prints one line per row in ../shared/bench's format. Suites: channel, runtime,\n"
          "  toolkit, sched. Environment: BENCH_MESSAGES, GORO_PARK_COUNT (docs/benchmarks.md).\n");
      return 0;
    }
    cfg().patterns.emplace_back(argv[i]);
  }
  double handoff_before = core_handoff_ns();  // before the runtime's workers exist
  int status = goro::run([handoff_before] {
    const char* stack = std::getenv("GORO_STACK_SIZE");
    std::fprintf(stderr, "goro-bench: goro %s (compiler %s) maxprocs=%d NumCPU=%ld messages=%lld threads=%d park_count=%lld%s%s\n",
                 GORO_BENCH_VERSION, __VERSION__, goro::maxprocs(), sysconf(_SC_NPROCESSORS_ONLN),
                 static_cast<long long>(cfg().messages), kThreads, static_cast<long long>(cfg().park_count),
                 stack != nullptr ? " GORO_STACK_SIZE=" : "", stack != nullptr ? stack : "");
    std::fprintf(stderr, "goro-bench: cross-core handoff %.0f ns before the rows\n", handoff_before);
    // park_mem first: see runtime_park_mem.
    if (selected("runtime", "park_mem", "-")) runtime_park_mem();
    // From a blocking section: its two plain threads spin for 10-40 ms,
    // and the main goroutine's P is free for others meanwhile.
    auto handoff_before = [](const char* suite) {
      double ns = goro::blocking([] { return core_handoff_ns(); });
      std::fprintf(stderr, "goro-bench: cross-core handoff %.0f ns before the %s rows\n", ns, suite);
    };
    channel_suite();
    // (Whole runs only, the tables' kind: a filtered run is short.)
    const bool whole = cfg().patterns.empty();
    if (whole) handoff_before("runtime");
    runtime_suite();
    if (whole) handoff_before("toolkit");
    // Go's order (go/main.go toolkitSuite): sync, context, time. The ctx
    // rows reuse what earlier rows left (stacks, records): run in another
    // order they read differently.
    toolkit_sync_suite();
    toolkit_context_suite();
    toolkit_time_suite();
    // Last: the sched suite has no Go twin in this program, and its 8 s
    // between the runtime and toolkit rows let the scavenger give back the
    // stacks that ctx_tree then faulted in again (62,640 page faults against
    // 7,853 with the scavenger held off), a condition Go's toolkit rows,
    // which follow its runtime rows at once, never had.
    sched_suite();
    return 0;
  });
  std::fprintf(stderr, "goro-bench: cross-core handoff %.0f ns after the rows\n", core_handoff_ns());
  return status;
}
