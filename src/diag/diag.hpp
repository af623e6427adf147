// Internals shared by the diagnostics (dump.cpp, leak.cpp): a collection
// of goroutine records over the runtime's reading interface
// (sched/traceback.hpp), turned into goro::debug values and text.
//
// Invariants: a collector belongs to one collection on one thread at a
// time (it owns a g_inspector: a symbolization session and a stack-copy
// buffer); capture_caller() runs on the calling goroutine's own stack,
// everything else may run on a report thread (run_collection).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <unordered_map>
#include <vector>

#include "goro/debug.hpp"
#include "sched/traceback.hpp"

namespace goro::diag {

// Runs fn(arg) where symbolizing has stack enough: here on a plain thread;
// from a goroutine, on a report thread inside a blocking section.
void run_collection(void (*fn)(void*), void* arg);

class collector {
 public:
  explicit collector(bool with_stacks);

  // Records the calling goroutine's own frames (it is running: it cannot
  // be unwound from outside). Call on the caller's stack.
  void capture_caller();
  // Calls fn on each live goroutine's record.
  void visit(void (*fn)(const detail::g_record&, void*), void* arg);

  debug::goroutine_info info(const detail::g_record& r);
  // Frame i of r with the inlined calls at it (sym_session::frames_at),
  // symbolized once per distinct pc.
  const std::string& frame(const detail::g_record& r, int i);
  std::string header(const detail::g_record& r) const;  // "goroutine 7 [...]:"
  std::string state(const detail::g_record& r) const;   // "chan receive, 2 minutes"
  std::string created_line(const detail::g_record& r);  // "created by goroutine 1 at ..."
  const char* site(const void* created_pc) { return ins_.site_of(created_pc); }
  // Runs the partial-deadlock analysis (partial_deadlock.cpp) once; from
  // then on info(), header() and the grouped dump mark what it found.
  void find_leaked();
  // Why r's goroutine is parked forever, or null.
  const char* leaked(const detail::g_record& r) const;
  int64_t now() const { return now_; }

 private:
  detail::g_inspector ins_;
  bool with_stacks_;
  int64_t now_;
  std::unordered_map<uint64_t, const char*> leaked_;  // by goroutine id
};

// The goroutines parked forever now (partial_deadlock.cpp), by id, with
// why: on a nil channel, or in a cycle of goroutines blocked on channels
// that only they hold (handle tracking on).
std::unordered_map<uint64_t, const char*> find_leaked();

void dump_to(std::ostream& os, bool grouped, collector& c);
std::vector<debug::goroutine_info> collect_infos(collector& c);

// One walk of the goroutines (no other goroutine is stopped): their ids,
// or their full entries. *complete is set when no goroutine was created
// while it ran (detail::goroutines_created_total did not move): only then
// is every goroutine that lived through the walk in it. A goroutine made
// in a slot the walk had passed, by one that ended before the walk read
// its own slot, is in neither otherwise (a relay of goroutines, each
// starting the next, went unseen). debug::goroutine_ids() and
// goroutines() walk again until one is complete, a bounded number of
// times; the leak check judges each walk itself.
std::vector<uint64_t> walk_goroutine_ids(bool* complete);
std::vector<debug::goroutine_info> walk_goroutines(bool* complete);

}  // namespace goro::diag
