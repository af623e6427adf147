// goro::debug::stats(): sums the per-P counters (stats.hpp) and reads the
// scheduler's, timers' and stack pool's state, each under its own lock,
// one at a time (no two of those locks are held together, so this takes no
// part in any lock order).
#include "goro/stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <locale>
#include <sstream>

#include "goro/runtime.hpp"
#include "sched/runq.hpp"
#include "sched/sched.hpp"
#include "sched/stack.hpp"
#include "sched/stats.hpp"
#include "sync/mutex_bias.hpp"
#include "time/timer.hpp"

namespace goro::detail {

stats_global_t stats_global;

void stats_add_wait_ns(wait_reason reason, int64_t ns) {
  if (ns <= 0) return;
  const int r = static_cast<int>(reason);
  if (p* pp = owned_p(current_m()))
    stat_add_owned(pp->stats.wait_ns[r], static_cast<uint64_t>(ns));
  else
    stats_global.wait_ns[r].fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

uint64_t goroutines_created_total() {
  uint64_t n = stats_global.spawned.load(std::memory_order_acquire);
  int32_t np = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) n += p_for_index(i)->stats.spawned.load(std::memory_order_acquire);
  return n;
}

namespace {

uint64_t load(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }

bool is_chan_wait(wait_reason r) {
  switch (r) {
    case wait_reason::chan_receive:
    case wait_reason::chan_send:
    case wait_reason::chan_receive_nil:
    case wait_reason::chan_send_nil:
    case wait_reason::select:
    case wait_reason::select_nil:
    case wait_reason::select_no_cases:
      return true;
    default:
      return false;
  }
}

bool is_mutex_wait(wait_reason r) {
  return r == wait_reason::sync_mutex_lock || r == wait_reason::sync_rwmutex_lock ||
         r == wait_reason::sync_rwmutex_rlock;
}

// Runnable goroutines in pp's queue, read from any thread: head and tail
// are read at different instants, so clamp what a moving queue can give.
int64_t queued(const p* pp) {
  int64_t n = runq_len(pp);
  if (n < 0 || n > kRunqSize) n = 0;
  if (pp->q.runnext.load(std::memory_order_relaxed) != nullptr) n++;
  return n + pp->q.yield_len.load(std::memory_order_relaxed);
}

int64_t timers_pending(p* pp) {
  // A timer stopped lock-free is not armed, but its entry may still be on
  // the heap as a zombie (time/timer.hpp): drop those first. Costs a load
  // when there are none.
  timers_reap(pp, true);
  lock_guard lk(pp->timers.lock);
  int64_t n = static_cast<int64_t>(pp->timers.heap.size() - pp->timers.dead);
  for (const timer_queue& q : pp->timers.queues) n += static_cast<int64_t>(q.ring.size() - q.dead);
  return n;
}

int64_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long long size = 0, resident = 0;
  int got = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * sysconf(_SC_PAGESIZE) : 0;
}

}  // namespace
}  // namespace goro::detail

namespace goro::debug {

int64_t runtime_stats::waiting_on(std::string_view reason) const {
  for (const auto& r : by_reason)
    if (r.reason == reason) return r.waiting;
  return 0;
}

runtime_stats stats() {
  using namespace detail;
  ensure_runtime();
  runtime_stats s;
  uint64_t parks[kWaitReasonCount] = {}, resumes[kWaitReasonCount] = {}, wait_ns[kWaitReasonCount] = {};
  // Resumes are read before parks everywhere, so a wait that ends and
  // starts again while we read cannot make "waiting" negative.
  for (int r = 0; r < kWaitReasonCount; r++) {
    resumes[r] += load(stats_global.resumes[r]);
    wait_ns[r] += load(stats_global.wait_ns[r]);
  }
  s.goroutines_created = load(stats_global.spawned);
  int32_t np = sched.nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    p* pp = p_for_index(i);
    for (int r = 0; r < kWaitReasonCount; r++) {
      resumes[r] += load(pp->stats.resumes[r]);
      wait_ns[r] += load(pp->stats.wait_ns[r]);
    }
  }
  for (int r = 0; r < kWaitReasonCount; r++) parks[r] += load(stats_global.parks[r]);
  for (int32_t i = 0; i < np; i++) {
    p* pp = p_for_index(i);
    for (int r = 0; r < kWaitReasonCount; r++) parks[r] += load(pp->stats.parks[r]);
    s.goroutines_created += load(pp->stats.spawned);
    s.steals += load(pp->stats.steals);
    s.context_switches += pp->schedtick.load(std::memory_order_relaxed);
    s.goroutines_runnable += queued(pp);
    s.timers_pending += timers_pending(pp);
  }
  s.goroutines_runnable += sched.runq_size.load(std::memory_order_relaxed);

  // A select on nil channels only is a select in Go's words: one entry.
  const int sel = static_cast<int>(wait_reason::select), sel_nil = static_cast<int>(wait_reason::select_nil);
  parks[sel] += parks[sel_nil];
  resumes[sel] += resumes[sel_nil];
  wait_ns[sel] += wait_ns[sel_nil];
  s.by_reason.reserve(kWaitReasonCount - 2);
  for (int r = 1; r < kWaitReasonCount; r++) {  // 0 is wait_reason::none
    auto reason = static_cast<wait_reason>(r);
    if (reason == wait_reason::select_nil) continue;  // counted as select, above
    wait_reason_stats w;
    w.reason = wait_reason_string(reason);
    w.waits = parks[r];
    w.waiting = parks[r] > resumes[r] ? static_cast<int64_t>(parks[r] - resumes[r]) : 0;
    w.wait_ns = wait_ns[r];
    s.goroutines_waiting += w.waiting;
    if (is_chan_wait(reason)) s.chan_waits += w.waits;
    if (is_mutex_wait(reason)) {
      s.mutex_waits += w.waits;
      s.mutex_wait_ns += w.wait_ns;
    }
    s.by_reason.push_back(w);
  }
  s.mutex_bias_revocations = mutex_bias_revocations();
  s.mutex_bias_pauses = mutex_bias_pauses();
  // Plain threads waiting in goro primitives (and in run()) are in
  // by_reason but are not goroutines.
  s.threads_waiting = std::max<int64_t>(0, stats_global.threads_waiting.load(std::memory_order_relaxed));
  s.goroutines_waiting = std::max<int64_t>(0, s.goroutines_waiting - s.threads_waiting);
  s.goroutines = num_goroutine();
  s.goroutines_running = std::max<int64_t>(0, s.goroutines - s.goroutines_runnable - s.goroutines_waiting);

  {
    lock_guard lk(sched.lock);
    s.worker_parks = sched.m_parks;
    s.worker_wakes = sched.m_wakes;
    s.threads = sched.mcount;
    s.threads_idle = sched.nmidle;
  }
  s.maxprocs = sched.maxprocs.load(std::memory_order_relaxed);
  s.procs = np;
  s.procs_idle = sched.npidle.load(std::memory_order_relaxed);

  stack_pool_counts sp = stack_pool_counted();
  s.stack_size = sp.stack_size;
  s.stacks_reserved = sp.reserved;
  s.stacks_cached = sp.cached;
  s.stacks_released = sp.released;
  s.stack_bytes_released_total = stack_scavenge_counted().released * sp.stack_size;
  s.process_resident_bytes = resident_bytes();
  return s;
}

namespace {

// Prometheus label values escape backslash, double quote and newline.
std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void metric(std::ostream& os, const char* name, const char* type, const char* help, double value) {
  os << "# HELP goro_" << name << ' ' << help << "\n# TYPE goro_" << name << ' ' << type << "\ngoro_" << name << ' '
     << value << '\n';
}

}  // namespace

void write_prometheus(std::ostream& os, const runtime_stats& s) {
  auto d = [](auto v) { return static_cast<double>(v); };
  std::ostringstream out;  // one write to os, with a precision that keeps integers whole
  // The exposition format's numbers, whatever the program's global locale
  // (one with a thousands separator wrote "1,234,567", which Prometheus
  // cannot parse).
  out.imbue(std::locale::classic());
  out.precision(17);
  metric(out, "goroutines", "gauge", "Goroutines alive.", d(s.goroutines));
  metric(out, "goroutines_runnable", "gauge", "Goroutines in run queues.", d(s.goroutines_runnable));
  metric(out, "goroutines_running", "gauge", "Goroutines on a worker.", d(s.goroutines_running));
  // (A gauge: no _total suffix, which Prometheus keeps for counters.)
  metric(out, "goroutines_parked", "gauge", "Goroutines parked.", d(s.goroutines_waiting));
  metric(out, "threads_waiting", "gauge", "Plain threads parked in goro primitives.", d(s.threads_waiting));
  out << "# HELP goro_goroutines_waiting Goroutines (and plain threads) parked, by wait reason.\n"
         "# TYPE goro_goroutines_waiting gauge\n";
  for (const auto& r : s.by_reason)
    out << "goro_goroutines_waiting{reason=\"" << label_value(r.reason) << "\"} " << r.waiting << '\n';
  out << "# HELP goro_waits_total Parks since start, by wait reason.\n# TYPE goro_waits_total counter\n";
  for (const auto& r : s.by_reason)
    out << "goro_waits_total{reason=\"" << label_value(r.reason) << "\"} " << r.waits << '\n';
  out << "# HELP goro_wait_seconds_total Time parked, by wait reason (sync waits only).\n"
         "# TYPE goro_wait_seconds_total counter\n";
  for (const auto& r : s.by_reason)
    if (r.wait_ns > 0)
      out << "goro_wait_seconds_total{reason=\"" << label_value(r.reason) << "\"} " << d(r.wait_ns) / 1e9 << '\n';
  metric(out, "goroutines_created_total", "counter", "Goroutines started.", d(s.goroutines_created));
  metric(out, "context_switches_total", "counter", "Goroutine switches on the workers.", d(s.context_switches));
  metric(out, "steals_total", "counter", "Goroutines taken from another worker's queue.", d(s.steals));
  metric(out, "worker_parks_total", "counter", "Worker threads that went to sleep.", d(s.worker_parks));
  metric(out, "worker_wakes_total", "counter", "Sleeping worker threads woken.", d(s.worker_wakes));
  metric(out, "chan_waits_total", "counter", "Parks on channels and selects.", d(s.chan_waits));
  metric(out, "mutex_waits_total", "counter", "Parks in goro::mutex and goro::rwmutex.", d(s.mutex_waits));
  metric(out, "mutex_wait_seconds_total", "counter", "Time parked in goro::mutex and goro::rwmutex.",
         d(s.mutex_wait_ns) / 1e9);
  metric(out, "mutex_bias_revocations_total", "counter",
         "Mutex biases ended by another locker (one membarrier call each).", d(s.mutex_bias_revocations));
  metric(out, "mutex_bias_pauses_total", "counter",
         "Times new mutex bias paused because revocations cost too much.", d(s.mutex_bias_pauses));
  metric(out, "maxprocs", "gauge", "goro::maxprocs().", d(s.maxprocs));
  metric(out, "procs", "gauge", "Processors made.", d(s.procs));
  metric(out, "procs_idle", "gauge", "Processors with no worker.", d(s.procs_idle));
  metric(out, "threads", "gauge", "Worker threads alive.", d(s.threads));
  metric(out, "threads_idle", "gauge", "Worker threads asleep.", d(s.threads_idle));
  metric(out, "timers_pending", "gauge", "Timers, sleeps and deadlines armed.", d(s.timers_pending));
  metric(out, "stack_size_bytes", "gauge", "Bytes of each pooled goroutine stack.", d(s.stack_size));
  metric(out, "stacks_reserved", "gauge", "Pooled stacks held by goroutines or per-processor batches.",
         d(s.stacks_reserved));
  metric(out, "stacks_cached", "gauge", "Free pooled stacks whose memory is kept.", d(s.stacks_cached));
  metric(out, "stacks_released", "gauge", "Free pooled stacks whose memory was given back.", d(s.stacks_released));
  metric(out, "stack_released_bytes_total", "counter", "Stack memory given back to the OS.",
         d(s.stack_bytes_released_total));
  metric(out, "process_resident_bytes", "gauge", "Resident memory of the process.", d(s.process_resident_bytes));
  os << out.str();
}

std::string prometheus_text(const runtime_stats& s) {
  std::ostringstream os;
  write_prometheus(os, s);
  return os.str();
}

}  // namespace goro::debug
