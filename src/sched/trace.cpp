// The execution tracer (goro/trace.hpp): events recorded per thread while
// a trace runs, written as Chrome trace event JSON at stop().
//
// Buffers: each thread that records gets its own buffer on its first event
// (a registry owns them). Only that thread appends to it, so the append
// takes no lock. A thread that exits (its thread_local destructor) takes
// its buffer out of the registry if it holds no events, or else marks it
// orphaned, for stop() to free once its events are copied; events the
// thread would record after that are dropped. So threads that come and go
// (plain threads, retired workers) leave nothing behind. stop() must not
// read a buffer while its thread is in the middle of an append, hence the
// Dekker-style handshake:
//
//   recorder:  writing = true;  if (g_trace_on) append;  writing = false
//   stop():    g_trace_on = false;  then wait until writing == false
//
// With the flag and `writing` both seq_cst, either the recorder sees the
// trace off (and appends nothing), or stop() sees it writing and waits for
// the release store that ends the append, after which the buffer is stable
// until the next start().
//
// Lock order: control_mu (start/stop, serialized) before registry_mu (the
// list of buffers). Neither is held by a recorder except registry_mu when
// a thread registers its buffer; neither is a runtime lock, so recording
// may happen under any runtime lock.
#include "sched/trace.hpp"
#include "sched/test_hooks.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/backoff.hpp"
#include "base/no_destructor.hpp"
#include "goro/runtime.hpp"
#include "goro/trace.hpp"
#include "sched/sched.hpp"
#include "sched/wait_reason.hpp"
#include "base/check.hpp"
#include "base/futex.hpp"
#include "base/race.hpp"

namespace goro::detail {

std::atomic<bool> g_trace_on{false};

namespace {

struct trace_rec {
  int64_t ts;
  uint64_t gid;
  uint64_t arg;
  trace_ev ev;
  int32_t track;  // >= 0: a worker's M id; < 0: minus a plain thread's tid
};
static_assert(sizeof(trace_rec) == 32);

// Events in fixed chunks, never moved once written: a growing vector
// would copy (and first-touch) everything again at each doubling, which
// measured twice the cost per event on this project's VMs, where the
// first write to a fresh page is the expensive part.
struct trace_buf {
  static constexpr size_t kChunk = 16384;  // events (512 KiB)
  std::atomic<bool> writing{false};
  bool orphaned = false;  // guarded by registry_mu: its thread has exited
  std::vector<std::unique_ptr<trace_rec[]>> chunks;
  size_t used = kChunk;  // events in chunks.back() (kChunk: full, or none yet)

  void append(const trace_rec& r) {
    if (used == kChunk) {
      chunks.push_back(std::unique_ptr<trace_rec[]>(new trace_rec[kChunk]));
      used = 0;
    }
    chunks.back()[used++] = r;
  }
  size_t size() const { return chunks.empty() ? 0 : (chunks.size() - 1) * kChunk + used; }
  void copy_to(std::vector<trace_rec>* out) const {
    for (size_t c = 0; c < chunks.size(); c++) {
      size_t n = c + 1 == chunks.size() ? used : kChunk;
      out->insert(out->end(), chunks[c].get(), chunks[c].get() + n);
    }
  }
  void clear() {
    chunks.clear();
    used = kChunk;
  }
};

// The registry is never destroyed (base/no_destructor.hpp): a worker may
// register its buffer, and a trace be stopped, while exit() runs static
// destructors (TSan caught the registry's destructor racing a worker's
// registration). std::mutex is trivially destructible.
using buf_list = std::vector<std::unique_ptr<trace_buf>>;
std::mutex control_mu;   // start/stop
std::mutex registry_mu;  // buffers
constinit no_destructor<buf_list> registry_storage;
constinit buf_list& registry = registry_storage.value;  // guarded by registry_mu
FILE* out_file = nullptr;                                // guarded by control_mu; set until written
int64_t trace_t0 = 0;                                    // guarded by control_mu
bool trace_writing = false;                              // guarded by control_mu: stop() is writing out_file

// Initial-exec: a plain thread_local in the position-independent library is
// a call to __tls_get_addr on every event recorded.
__attribute__((tls_model("initial-exec"))) constinit thread_local trace_buf* tl_buf = nullptr;

// tl_buf of a thread whose thread_local destructors have run: its events
// are dropped (its buffer may be gone).
trace_buf* const kExitedThread = reinterpret_cast<trace_buf*>(uintptr_t{1});

// Its destructor runs when the thread exits (constructed at the thread's
// first event, with its buffer).
struct buf_owner {
  ~buf_owner() {
    trace_buf* b = tl_buf;
    tl_buf = kExitedThread;
    if (b == nullptr || b == kExitedThread) return;
    // In a forked child the registry and its lock are the parent's: a
    // thread that fork() left behind may hold the lock for good (test
    // TraceEnv.ForkedChildExitsWhileAnotherThreadRegistersATraceBuffer),
    // and the child writes no trace (stop_at_exit).
    if (in_forked_child()) return;
    std::lock_guard<std::mutex> lk(registry_mu);
    if (b->size() != 0) {
      b->orphaned = true;  // stop() writes its events, then frees it
      return;
    }
    auto it = std::find_if(registry.begin(), registry.end(), [b](const auto& x) { return x.get() == b; });
    if (it != registry.end()) registry.erase(it);
  }
};
thread_local buf_owner tl_buf_owner;

trace_buf* register_buf() {
  auto b = std::make_unique<trace_buf>();
  trace_buf* raw = b.get();
  {
    std::lock_guard<std::mutex> lk(registry_mu);
    if (auto hook = test_hooks::trace_registering_buffer.load(std::memory_order_relaxed)) hook();
    registry.push_back(std::move(b));
  }
  [[maybe_unused]] buf_owner& owner = tl_buf_owner;  // its destructor is registered now
  return raw;
}

}  // namespace

size_t trace_buffer_count() {
  std::lock_guard<std::mutex> lk(registry_mu);
  return registry.size();
}

void trace_record(trace_ev ev, uint64_t gid, uint64_t arg) {
  trace_buf* b = tl_buf;
  if (reinterpret_cast<uintptr_t>(b) <= reinterpret_cast<uintptr_t>(kExitedThread)) [[unlikely]] {
    if (b == kExitedThread) return;  // the thread is exiting (buf_owner)
    try {
      b = tl_buf = register_buf();
    } catch (const std::bad_alloc&) {
      return;  // no memory for a buffer: this thread's events are dropped
    }
  }
  b->writing.store(true, std::memory_order_seq_cst);
  // For TSan: goroutines are fibers switched without synchronization
  // (fiber.hpp), so two goroutines appending in turn on one thread are
  // not ordered in its eyes, nor is stop() after the handshake below.
  // The buffer is owned in turn (its thread, then stop()): say so.
  race_acquire(b);
  if (g_trace_on.load(std::memory_order_seq_cst)) {
    m* mp = current_m();
    int32_t track = mp != nullptr ? mp->id : -static_cast<int32_t>(syscall(SYS_gettid));
    try {
      b->append(trace_rec{nanotime(), gid, arg, ev, track});
    } catch (const std::bad_alloc&) {
      // Out of memory: the event is dropped, the trace goes on.
    }
  }
  race_release(b);
  b->writing.store(false, std::memory_order_release);
}

namespace {

// Chrome's tid for a track: worker M ids as they are; plain threads after
// them, by their kernel tid.
int64_t chrome_tid(int32_t track) { return track >= 0 ? track : 1'000'000 + static_cast<int64_t>(-track); }

const char* instant_name(trace_ev ev) {
  switch (ev) {
    case trace_ev::m_park: return "worker parks";
    case trace_ev::m_wake: return "worker wakes";
    case trace_ev::steal: return "steal";
    case trace_ev::timer_fire: return "timer fires";
    case trace_ev::steal_skip: return "steal skipped";
    case trace_ev::m_nap: return "worker naps";
    default: return "?";
  }
}

// Writes the events (sorted by time; each thread's in its own order) as
// Chrome trace event JSON, one event per line.
bool write_json(FILE* f, const std::vector<trace_rec>& evs, int64_t t0) {
  std::fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f);
  bool first = true;
  auto begin_event = [&] {
    if (!first) std::fputs(",\n", f);
    first = false;
  };
  // Microseconds since t0 with three decimals, written from integers:
  // printf's %f follows LC_NUMERIC, and a program whose locale writes
  // decimal commas would make the file invalid JSON.
  struct us_text {
    char text[32];
  };
  auto us = [t0](int64_t ts) {
    us_text r;
    int64_t ns = ts - t0;
    const char* sign = ns < 0 ? "-" : "";
    uint64_t mag = ns < 0 ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
    std::snprintf(r.text, sizeof r.text, "%s%" PRIu64 ".%03" PRIu64, sign, mag / 1000, mag % 1000);
    return r;
  };

  // Track names, once each.
  std::vector<int32_t> tracks;
  for (const trace_rec& e : evs) tracks.push_back(e.track);
  std::sort(tracks.begin(), tracks.end());
  tracks.erase(std::unique(tracks.begin(), tracks.end()), tracks.end());
  for (int32_t t : tracks) {
    begin_event();
    if (t >= 0)
      std::fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%" PRId64 ",\"args\":{\"name\":\"worker M%d\"}}",
                   chrome_tid(t), t);
    else
      std::fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%" PRId64 ",\"args\":{\"name\":\"thread %d\"}}",
                   chrome_tid(t), -t);
  }

  std::unordered_map<int32_t, uint64_t> running;  // track -> goroutine whose slice is open
  std::set<int32_t> sliced;  // tracks that have had a slice
  std::unordered_map<uint64_t, uint64_t> pending_flow;  // goroutine -> flow id, until it next starts
  uint64_t next_flow = 1;
  int64_t last_ts = t0;
  auto end_slice = [&](int32_t track, int64_t ts, const char* why) {
    begin_event();
    std::fprintf(f, "{\"ph\":\"E\",\"ts\":%s,\"pid\":1,\"tid\":%" PRId64 ",\"args\":{\"stop\":\"%s\"}}", us(ts).text,
                 chrome_tid(track), why);
    running.erase(track);
  };
  for (const trace_rec& e : evs) {
    last_ts = e.ts;
    int64_t tid = chrome_tid(e.track);
    switch (e.ev) {
      case trace_ev::go_start: {
        auto open = running.find(e.track);
        if (open != running.end()) end_slice(e.track, e.ts, "?");  // its stop was not recorded
        begin_event();
        std::fprintf(f,
                     "{\"name\":\"g%" PRIu64 "\",\"cat\":\"goroutine\",\"ph\":\"B\",\"ts\":%s,\"pid\":1,\"tid\":%" PRId64
                     ",\"args\":{\"goroutine\":%" PRIu64 "}}",
                     e.gid, us(e.ts).text, tid, e.gid);
        running[e.track] = e.gid;
        sliced.insert(e.track);
        auto flow = pending_flow.find(e.gid);
        if (flow != pending_flow.end()) {
          begin_event();
          std::fprintf(f,
                       "{\"name\":\"ready\",\"cat\":\"flow\",\"ph\":\"f\",\"bp\":\"e\",\"id\":%" PRIu64
                       ",\"ts\":%s,\"pid\":1,\"tid\":%" PRId64 "}",
                       flow->second, us(e.ts).text, tid);
          pending_flow.erase(flow);
        }
        break;
      }
      case trace_ev::go_block:
      case trace_ev::go_yield:
      case trace_ev::go_end: {
        auto open = running.find(e.track);
        if (open == running.end() && sliced.insert(e.track).second) {
          // The first slice of this track began before the trace did
          // (a goroutine already running at start()): open it at t0.
          begin_event();
          std::fprintf(f,
                       "{\"name\":\"g%" PRIu64 "\",\"cat\":\"goroutine\",\"ph\":\"B\",\"ts\":%s,\"pid\":1,\"tid\":%" PRId64
                       ",\"args\":{\"goroutine\":%" PRIu64 "}}",
                       e.gid, us(t0).text, tid, e.gid);
          open = running.emplace(e.track, e.gid).first;
        }
        if (open == running.end() || open->second != e.gid) break;  // its start was not recorded
        const char* why = e.ev == trace_ev::go_yield ? "yield"
                          : e.ev == trace_ev::go_end ? "end"
                                                     : wait_reason_string(static_cast<wait_reason>(e.arg));
        end_slice(e.track, e.ts, why);
        break;
      }
      case trace_ev::go_create:
      case trace_ev::go_unblock: {
        uint64_t id = next_flow++;
        pending_flow[e.gid] = id;  // a newer ready replaces one never followed
        begin_event();
        std::fprintf(f,
                     "{\"name\":\"%s g%" PRIu64 "\",\"cat\":\"goroutine\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%s,\"pid\":1,"
                     "\"tid\":%" PRId64 "}",
                     e.ev == trace_ev::go_create ? "go" : "ready", e.gid, us(e.ts).text, tid);
        begin_event();
        std::fprintf(f,
                     "{\"name\":\"ready\",\"cat\":\"flow\",\"ph\":\"s\",\"id\":%" PRIu64 ",\"ts\":%s,\"pid\":1,\"tid\":%" PRId64
                     "}",
                     id, us(e.ts).text, tid);
        break;
      }
      case trace_ev::m_park:
      case trace_ev::m_wake:
      case trace_ev::steal:
      case trace_ev::timer_fire:
      case trace_ev::steal_skip:
      case trace_ev::m_nap:
        begin_event();
        if (e.ev == trace_ev::steal_skip)
          std::fprintf(f,
                       "{\"name\":\"%s\",\"cat\":\"worker\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%s,\"pid\":1,"
                       "\"tid\":%" PRId64 ",\"args\":{\"p\":%" PRIu64 ",\"g\":%" PRIu64 "}}",
                       e.gid != 0 ? "steal skipped: its P runs it" : "steal skipped: its P gets through it", us(e.ts).text,
                       tid, e.arg, e.gid);
        else if (e.ev == trace_ev::m_nap)
          std::fprintf(f,
                       "{\"name\":\"%s\",\"cat\":\"worker\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%s,\"pid\":1,"
                       "\"tid\":%" PRId64 "}",
                       e.arg == 1 ? "worker naps: work left to its P" : "worker naps: lingering", us(e.ts).text, tid);
        else if (e.ev == trace_ev::steal)
          std::fprintf(f,
                       "{\"name\":\"steal g%" PRIu64 "\",\"cat\":\"worker\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%s,\"pid\":1,"
                       "\"tid\":%" PRId64 ",\"args\":{\"from_p\":%" PRIu64 "}}",
                       e.gid, us(e.ts).text, tid, e.arg);
        else
          std::fprintf(f,
                       "{\"name\":\"%s\",\"cat\":\"worker\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%s,\"pid\":1,\"tid\":%" PRId64 "}",
                       instant_name(e.ev), us(e.ts).text, tid);
        break;
    }
  }
  // Goroutines still running when the trace stopped.
  std::vector<int32_t> open_tracks;
  for (const auto& kv : running) open_tracks.push_back(kv.first);
  for (int32_t t : open_tracks) end_slice(t, last_ts, "trace stopped");
  std::fputs(first ? "]}\n" : "\n]}\n", f);
  return std::ferror(f) == 0;
}

// exit() in a forked child runs this too: the trace (and the file, whose
// offset the child shares) is the parent's, written once at its exit.
void stop_at_exit() {
  if (g_forked_child.load(std::memory_order_relaxed)) return;
  goro::trace::stop();
}

}  // namespace

namespace {

// Under control_mu: whether a trace is running or being written.
bool trace_busy_locked() { return g_trace_on.load(std::memory_order_relaxed) || out_file != nullptr; }

// Under control_mu, with no trace running: starts one into f.
void trace_begin_locked(FILE* f) {
  out_file = f;
  trace_t0 = nanotime();
  g_trace_on.store(true, std::memory_order_seq_cst);
}

}  // namespace

bool trace_start_stream(FILE* f) {
  ensure_runtime();
  std::lock_guard<std::mutex> ctl(control_mu);
  if (trace_busy_locked()) {
    std::fclose(f);
    return false;
  }
  trace_begin_locked(f);
  return true;
}

void trace_start_from_env() {
  const char* path = std::getenv("GORO_TRACE");
  if (path == nullptr || *path == '\0') return;
  if (goro::trace::start(path))
    std::atexit(stop_at_exit);
  else
    print_stderr("goro: GORO_TRACE=%s: cannot open the file for writing; no trace\n", path);
}

}  // namespace goro::detail

namespace goro::trace {

bool start(const std::string& path) {
  using namespace detail;
  ensure_runtime();
  std::lock_guard<std::mutex> ctl(control_mu);
  if (trace_busy_locked()) return false;  // before the fopen: a running trace's file is not truncated
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  trace_begin_locked(f);
  return true;
}

bool stop() {
  using namespace detail;
  // control_mu is not held across the write: it runs in a blocking
  // section, after which the goroutine may resume on another thread (its
  // P handed off meanwhile), and a std::mutex must be unlocked by the
  // thread that locked it. out_file stays set until the write is done, so
  // start() refuses meanwhile, and trace_writing makes a second stop()
  // return false.
  std::unique_lock<std::mutex> ctl(control_mu);
  if (out_file == nullptr || trace_writing) return false;
  g_trace_on.store(false, std::memory_order_seq_cst);
  std::vector<trace_rec> all;
  {
    std::lock_guard<std::mutex> lk(registry_mu);
    size_t total = 0;
    for (auto& b : registry) {
      backoff bo;
      while (b->writing.load(std::memory_order_seq_cst)) bo.snooze();
      race_acquire(b.get());
      total += b->size();
    }
    all.reserve(total);
    for (auto& b : registry) {
      b->copy_to(&all);
      b->clear();
      race_release(b.get());
    }
    // The buffers of threads that exited are done with.
    std::erase_if(registry, [](const auto& b) { return b->orphaned; });
  }
  FILE* f = out_file;
  const int64_t t0 = trace_t0;
  trace_writing = true;
  ctl.unlock();
  // Ends the write whatever happens (out of memory in the sort): the
  // next start() must not be refused for ever. Perhaps on another thread
  // than the lock above: a lock of its own.
  auto finish = [](FILE* close_me) {
    if (close_me != nullptr) std::fclose(close_me);
    std::lock_guard<std::mutex> done(control_mu);
    out_file = nullptr;
    trace_writing = false;
  };
  bool ok = false;
  try {
    // Each buffer is in its thread's order, with nondecreasing times: a
    // stable sort by time keeps that order and interleaves the threads.
    std::stable_sort(all.begin(), all.end(), [](const trace_rec& a, const trace_rec& b) { return a.ts < b.ts; });
    ok = goro::blocking([&] {
      if (auto hook = test_hooks::trace_before_write.load(std::memory_order_relaxed)) hook();
      bool wrote = write_json(f, all, t0);
      return std::fclose(f) == 0 && wrote;
    });
  } catch (...) {
    finish(f);
    throw;
  }
  finish(nullptr);
  return ok;
}

bool running() { return detail::g_trace_on.load(std::memory_order_relaxed); }

}  // namespace goro::trace
