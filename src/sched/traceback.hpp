// Reading goroutines for reports: the interface the runtime gives the
// diagnostics (the deadlock report, fatal errors, SIGQUIT, and the public
// goro::debug dump and leak check in src/diag/).
//
// A g_record is a consistent view of one goroutine taken while the program
// runs: its state, wait reason, since when it waits, where it was created,
// and the program counters of its stack. traceback.cpp explains how a
// stack is read without stopping the goroutine's wakers (the snapshot
// protocol). Printing is here too, once, in Go's format:
//
//   goroutine 7 [chan receive, 12 minutes]:
//   <function>
//   	<file>:<line> +0x<offset>
//   ...
//   	created by goroutine 1 at <file>:<line> in <function>
//
// Invariants: a g_inspector is used by one thread at a time (it holds a
// symbolization session and a scratch buffer); it takes no runtime lock
// itself, so it may run under sched.lock (the deadlock report) or with no
// lock held (the live dump). for_each_g takes no lock either (spawn.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/symbolize.hpp"
#include "sched/g.hpp"

namespace goro::detail {

inline constexpr int kTracebackMax = 64;  // frames kept per goroutine

// GORO_TRACEBACK (Go's GOTRACEBACK): how much a SIGQUIT (and other
// reports that honour it) prints.
enum class traceback_level { none, single, all };
// Parsed from $GORO_TRACEBACK each call; `fallback` if unset or unknown.
traceback_level traceback_setting(traceback_level fallback);

struct g_record {
  uint64_t id = 0;
  uint64_t parent_id = 0;
  g_status status = g_status::idle;
  wait_reason reason = wait_reason::none;
  int64_t wait_since = 0;  // coarse nanotime() at the park (waiting only)
  const void* created_pc = nullptr;
  bool is_main = false;
  bool by_timer = false;   // started by a timer (after_func): no creator goroutine
  bool is_caller = false;  // the goroutine that asked for the dump
  // The stack could be read: false for a goroutine running on another
  // worker (as Go prints other Ms' goroutines it cannot stop), and for one
  // that ran again during every attempt to copy it.
  bool stack_known = false;
  int npcs = 0;
  void* pcs[kTracebackMax];  // innermost first, print_frames' convention
  // Its labels (goro/labels.hpp), sorted by key; empty for none.
  std::vector<std::pair<std::string, std::string>> labels;
};

class g_inspector {
 public:
  g_inspector();
  ~g_inspector();
  g_inspector(const g_inspector&) = delete;
  g_inspector& operator=(const g_inspector&) = delete;

  // The calling goroutine (running, so not unwindable from outside): its
  // record says running, with these frames (captured on its own stack
  // before the dump moved to a report thread).
  void set_caller(const g* self, void* const* pcs, int n);

  // Fills r with gp's state; false if gp holds no live goroutine (free,
  // not yet started, or dead). Never blocks, never stops gp. Without
  // want_stack, only the fields: no copy, no unwinding.
  bool snapshot(g* gp, g_record* r, bool want_stack = true);

  // snapshot() for n <= kBatch goroutines at once (one system call copies
  // all their stacks): live[i] says whether rs[i] was filled.
  static constexpr int kBatch = 64;
  void snapshot_many(g* const* gps, int n, g_record* rs, bool* live, bool want_stack = true);

  // "file:line in function" of a creation site (cached for the last one).
  const char* site_of(const void* created_pc);
  // "created by goroutine 1 at file:line in function" (no newline).
  void created_by(const g_record& r, char* buf, size_t n);
  // Who started a goroutine, in the words every report uses: "created by
  // goroutine 1", "created by goro::run", "created by goro::after_func",
  // "created by a plain thread" (no site, no newline). Formats integers and
  // constant strings only, so the stack overflow handler may call it.
  static void creator(bool is_main, uint64_t parent_id, bool by_timer, char* buf, size_t n);
  // "goroutine 7 [chan receive, 12 minutes]:" (no newline).
  static void header(const g_record& r, int64_t now, char* buf, size_t n);
  // The state in brackets alone: "chan receive, 12 minutes".
  static void state_text(const g_record& r, int64_t now, char* buf, size_t n);
  // The whole entry, Go's format, ending with a blank line.
  void print(int fd, const g_record& r, int64_t now);

  sym_session& symbols() { return sym_; }

 private:
  // What read_fields saw of one g, for finish().
  struct pending {
    uint32_t gen1 = 0;
    void* sp = nullptr;
    char* lo = nullptr;
    char* hi = nullptr;
    bool parked = false;
    size_t len = 0;     // bytes of stack to copy from sp up (0: none)
    size_t offset = 0;  // snapshot_many: where in batch_scratch_ (SIZE_MAX: not in the batch copy)
  };
  // A batch copies at most this much (stacks past it go alone).
  static constexpr size_t kBatchBytes = 4u << 20;
  bool read_fields(g* gp, g_record* r, bool want_stack, pending* it);
  bool finish(g* gp, g_record* r, bool want_stack, const pending& it, const char* image);
  bool copy_stack(const char* from, size_t len);
  bool copy_through_pipe(const char* from, size_t len);

  sym_session sym_;
  int pid_;
  int pipe_[2] = {-1, -1};  // copy_through_pipe's, made on first use
  std::vector<char> scratch_;
  std::vector<char> batch_scratch_;
  const g* caller_ = nullptr;
  int caller_n_ = 0;
  void* caller_pcs_[kTracebackMax];
  // Goroutines made in a loop share their site: each site is symbolized
  // once per inspector (a DWARF walk of its compile unit, the dearest
  // lookup of a dump).
  std::unordered_map<const void*, std::string> sites_;
  // The innermost frame of every parked goroutine is the switch inside
  // mcall_on, at one of two lines (a direct switch or one through g0):
  // dropped, so that the stack starts at park_waiter (Go's gopark) and
  // goroutines parked alike group together. [lo, hi) of mcall_on's code,
  // looked up once (hi == 0: not yet; lo == hi: unknown).
  uintptr_t switch_lo_ = 0, switch_hi_ = 0;
  void drop_switch_frame(g_record* r);
};

// The coarse clock that wait_since is read from.
int64_t traceback_now();

// Every live goroutine printed to fd; the whole dump of fatal errors,
// the deadlock report and SIGQUIT. With single, only main goroutines;
// the goroutine `skip_id` (a panic's, printed already) is left out.
// The goroutine that asked for a dump and its stack, captured on its own
// thread before the dump moves to a report thread (which has no current
// goroutine; fatal errors do so).
struct dump_caller {
  const g* gp = nullptr;
  void* pcs[kTracebackMax];
  int n = 0;
};
// Fills c with the calling goroutine and its frames, skipping `skip` more
// of them than this function's own; gp stays null on a plain thread.
void capture_dump_caller(dump_caller* c, int skip);
// Without `caller`, the calling goroutine (if any) is captured here.
void dump_goroutines(int fd, traceback_level level = traceback_level::all, uint64_t skip_id = 0,
                     const dump_caller* caller = nullptr);

}  // namespace goro::detail
