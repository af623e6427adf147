// goro::debug: the goroutine dump as a value (goroutines()) and as text
// (dump(), grouped or not). See include/goro/debug.hpp.
//
// Built on the runtime's reading interface (sched/traceback.hpp): this
// file only collects records, symbolizes them and formats them. The
// snapshot protocol that makes reading safe while goroutines run is
// there.
//
// Invariants: one collection uses one g_inspector (one symbolization
// session, one stack-copy buffer) on one thread; frames are symbolized
// once per distinct program counter per call. From a goroutine the work
// runs on a report thread (libdw needs tens of KiB of stack), inside a
// blocking section so that the worker's other goroutines move on.
// Lock order: none here; for_each_g takes none either.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#include "base/check.hpp"
#include "base/symbolize.hpp"
#include "chan/handles.hpp"
#include "diag/diag.hpp"
#include "goro/debug.hpp"
#include "goro/runtime.hpp"
#include "sched/labels.hpp"
#include "sched/sched.hpp"
#include "sched/traceback.hpp"

namespace goro::diag {

using namespace goro::detail;

namespace {

template <class F>
void call_thunk(void* p) {
  (*static_cast<F*>(p))();
}

// The first frames of a caller's own stack that are the dump's own.
constexpr int kOwnFrames = 2;

}  // namespace

void run_collection(void (*fn)(void*), void* arg) {
  ensure_runtime();
  if (!in_goroutine()) {
    // A plain thread has its own (large) stack.
    fn(arg);
    return;
  }
  enter_blocking();
  run_on_report_thread(fn, arg);
  exit_blocking();
}

collector::collector(bool with_stacks) : with_stacks_(with_stacks), now_(traceback_now()) {}

void collector::capture_caller() {
  m* mp = current_m();
  if (mp == nullptr || mp->curg == nullptr) return;
  void* pcs[kTracebackMax];
  int n = stack_pcs(pcs, kTracebackMax, kOwnFrames);
  ins_.set_caller(mp->curg, pcs, n);
}

void collector::visit(void (*fn)(const g_record&, void*), void* arg) {
  // Goroutines are read in batches (g_inspector::snapshot_many: one
  // system call copies a batch's stacks).
  constexpr int kBatch = g_inspector::kBatch;
  struct ctx {
    collector* self;
    void (*fn)(const g_record&, void*);
    void* arg;
    std::unique_ptr<g_record[]> recs = std::make_unique<g_record[]>(kBatch);
    int n = 0;
    g* gs[kBatch] = {};
    void flush() {
      bool live[kBatch];
      self->ins_.snapshot_many(gs, n, recs.get(), live, self->with_stacks_);
      for (int i = 0; i < n; i++)
        if (live[i]) fn(recs[i], arg);
      n = 0;
    }
  } c{this, fn, arg};
  for_each_g(
      [](g* gp, void* a) {
        auto* c = static_cast<ctx*>(a);
        // Free slots are most of a slab after a burst: skip them here
        // rather than fill batches with them (snapshot_many reads the
        // status again).
        g_status st = gp->status.load(std::memory_order_relaxed);
        if (st == g_status::idle || st == g_status::dead) return;
        c->gs[c->n++] = gp;
        if (c->n == kBatch) c->flush();
      },
      &c);
  if (c.n > 0) c.flush();
}

const std::string& collector::frame(const g_record& r, int i) {
  // The innermost frame's pc is exact, the others are return addresses
  // (looked up in their call instruction, one byte back).
  return ins_.symbols().frames_at(reinterpret_cast<uintptr_t>(r.pcs[i]) - (i == 0 ? 0 : 1));
}

void collector::find_leaked() { leaked_ = goro::diag::find_leaked(); }

const char* collector::leaked(const g_record& r) const {
  if (leaked_.empty() || r.status != g_status::waiting) return nullptr;
  auto it = leaked_.find(r.id);
  return it != leaked_.end() ? it->second : nullptr;
}

debug::goroutine_info collector::info(const g_record& r) {
  debug::goroutine_info g;
  g.id = r.id;
  switch (r.status) {
    case g_status::waiting: g.state = debug::goroutine_state::waiting; break;
    case g_status::runnable: g.state = debug::goroutine_state::runnable; break;
    default: g.state = debug::goroutine_state::running; break;
  }
  if (r.status == g_status::waiting) {
    g.wait_reason = wait_reason_string(r.reason);
    g.wait_duration = std::chrono::nanoseconds(std::max<int64_t>(0, now_ - r.wait_since));
  }
  if (const char* why = leaked(r)) g.leaked = why;
  g.labels = r.labels;
  g.created_by = ins_.site_of(r.created_pc);
  g.creator_id = r.is_main ? 0 : r.parent_id;
  g.is_main = r.is_main;
  g.by_timer = r.by_timer;
  g.stack_known = r.stack_known;
  // One entry per frame, inlined calls included: frame() gives all of a
  // pc's frames, two lines each.
  for (int i = 0; i < r.npcs; i++) {
    const std::string& text = frame(r, i);
    size_t start = 0;
    for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', nl + 1)) {
      if (nl + 1 < text.size() && text[nl + 1] == '\t') continue;  // a frame's location line follows
      g.stack.push_back(text.substr(start, nl - start));
      start = nl + 1;
    }
    g.stack.push_back(text.substr(start));
  }
  return g;
}

std::string collector::header(const g_record& r) const {
  return "goroutine " + std::to_string(r.id) + " [" + state(r) + "]:";
}

std::string collector::state(const g_record& r) const {
  char buf[128];
  g_inspector::state_text(r, now_, buf, sizeof buf);
  std::string s = buf;
  if (leaked(r) != nullptr) s += ", leaked";
  return s;
}

std::string collector::created_line(const g_record& r) {
  char buf[600];
  ins_.created_by(r, buf, sizeof buf);
  return buf;
}

namespace {

const char* kRunningNote = "\t(running on another worker: its stack cannot be read)\n";
const char* kMovingNote = "\t(it kept running while the dump read it: stack not shown)\n";

void append_entry_body(std::string& out, collector& c, const g_record& r) {
  for (int i = 0; i < r.npcs; i++) {
    out += c.frame(r, i);
    out += '\n';
  }
  if (!r.stack_known) out += r.status == g_status::running ? kRunningNote : kMovingNote;
}

// ---- the plain dump -------------------------------------------------------

struct plain_dump {
  std::ostream* os;
  collector* c;
};

void plain_one(const g_record& r, void* arg) {
  auto* d = static_cast<plain_dump*>(arg);
  std::string out = d->c->header(r);
  out += '\n';
  if (const char* why = d->c->leaked(r)) out += std::string("\tleaked: ") + why + "\n";
  if (!r.labels.empty()) out += "\tlabels: " + labels_text(r.labels) + "\n";
  append_entry_body(out, *d->c, r);
  out += '\t';
  out += d->c->created_line(r);
  out += "\n\n";
  *d->os << out;
}

// ---- the grouped dump -------------------------------------------------------

struct group {
  g_record first;
  int64_t count = 0;
  int64_t oldest_wait_since = INT64_MAX;
  std::vector<uint64_t> ids;  // the first kShownIds, ascending once sorted
};
constexpr size_t kShownIds = 8;

struct grouped_dump {
  collector* c;
  std::map<std::string, group> groups;
};

// What makes two goroutines the same entry: state, wait reason, whether
// the stack is known, its frames, and the creation site.
std::string group_key(const g_record& r, const char* leaked) {
  std::string k;
  auto put = [&k](const void* p, size_t n) { k.append(static_cast<const char*>(p), n); };
  auto st = static_cast<uint32_t>(r.status);
  auto reason = static_cast<uint32_t>(r.reason);
  put(&st, sizeof st);
  put(&reason, sizeof reason);
  char known = r.stack_known ? 1 : 0;
  put(&known, 1);
  put(&leaked, sizeof leaked);
  put(&r.created_pc, sizeof r.created_pc);
  put(r.pcs, sizeof(void*) * static_cast<size_t>(r.npcs));
  // Goroutines with other labels are other entries, as in Go's profile.
  k += labels_text(r.labels);
  return k;
}

void grouped_one(const g_record& r, void* arg) {
  auto* d = static_cast<grouped_dump*>(arg);
  group& gr = d->groups[group_key(r, d->c->leaked(r))];
  if (gr.count == 0) gr.first = r;
  gr.count++;
  if (r.status == g_status::waiting) gr.oldest_wait_since = std::min(gr.oldest_wait_since, r.wait_since);
  // Keep the smallest ids: for_each_g walks in slab order, not id order.
  gr.ids.push_back(r.id);
  if (gr.ids.size() > 4 * kShownIds) {
    std::sort(gr.ids.begin(), gr.ids.end());
    gr.ids.resize(kShownIds);
  }
}

std::string grouped_entry(collector& c, group& gr, int64_t now) {
  std::sort(gr.ids.begin(), gr.ids.end());
  if (gr.ids.size() > kShownIds) gr.ids.resize(kShownIds);
  g_record r = gr.first;
  std::string state;
  if (r.status == g_status::waiting) {
    r.wait_since = gr.oldest_wait_since;
    int64_t mins = (now - r.wait_since) / 60'000'000'000LL;
    state = wait_reason_string(r.reason);
    if (mins >= 1) state += (gr.count > 1 ? ", up to " : ", ") + std::to_string(mins) + " minutes";
    if (c.leaked(r) != nullptr) state += ", leaked";
  } else {
    state = c.state(r);
  }
  std::string out = std::to_string(gr.count) + (gr.count == 1 ? " goroutine [" : " goroutines [") + state + "]: ";
  out += gr.count == 1 ? "id" : "ids";
  for (size_t i = 0; i < gr.ids.size(); i++) out += (i == 0 ? " " : ", ") + std::to_string(gr.ids[i]);
  if (gr.count > static_cast<int64_t>(gr.ids.size())) out += ", ...";
  out += '\n';
  if (const char* why = c.leaked(r)) out += std::string("\tleaked: ") + why + "\n";
  if (!r.labels.empty()) out += "\tlabels: " + labels_text(r.labels) + "\n";
  append_entry_body(out, c, r);
  // The creators may differ within a group: the site alone.
  out += r.is_main ? "\tcreated by goro::run at " : "\tcreated at ";
  out += c.site(r.created_pc);
  out += "\n\n";
  return out;
}

}  // namespace

void dump_to(std::ostream& os, bool grouped, collector& c) {
  if (!grouped) {
    plain_dump d{&os, &c};
    c.visit(plain_one, &d);
    return;
  }
  grouped_dump d{&c, {}};
  c.visit(grouped_one, &d);
  std::vector<group*> order;
  order.reserve(d.groups.size());
  for (auto& kv : d.groups) order.push_back(&kv.second);
  // Most numerous first, as pprof; ties by smallest id.
  std::sort(order.begin(), order.end(), [](const group* a, const group* b) {
    if (a->count != b->count) return a->count > b->count;
    return a->first.id < b->first.id;
  });
  for (group* gr : order) os << grouped_entry(c, *gr, c.now());
}

std::vector<debug::goroutine_info> collect_infos(collector& c) {
  struct acc {
    collector* c;
    std::vector<debug::goroutine_info> out;
  } a{&c, {}};
  c.visit([](const g_record& r, void* p) { static_cast<acc*>(p)->out.push_back(static_cast<acc*>(p)->c->info(r)); },
          &a);
  std::sort(a.out.begin(), a.out.end(),
            [](const debug::goroutine_info& x, const debug::goroutine_info& y) { return x.id < y.id; });
  return std::move(a.out);
}

std::vector<uint64_t> walk_goroutine_ids(bool* complete) {
  std::vector<uint64_t> ids;
  // Before the runtime starts there are no goroutines, and asking must not
  // start it: a test's leak-check listener takes this snapshot before the
  // test sets the environment the runtime reads when it starts. (A child
  // forked after the start still fails here, as every entry does there.)
  if (!detail::sched.started.load(std::memory_order_acquire) && !detail::in_forked_child()) {
    *complete = true;
    return ids;
  }
  detail::ensure_runtime();
  collector c(false);
  const uint64_t before = detail::goroutines_created_total();
  c.visit([](const detail::g_record& r, void* p) { static_cast<std::vector<uint64_t>*>(p)->push_back(r.id); }, &ids);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  *complete = detail::goroutines_created_total() == before;
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<debug::goroutine_info> walk_goroutines(bool* complete) {
  std::vector<debug::goroutine_info> out;
  collector c(true);
  c.capture_caller();
  auto work = [&c, &out, complete] {
    const uint64_t before = detail::goroutines_created_total();
    c.find_leaked();
    out = collect_infos(c);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    *complete = detail::goroutines_created_total() == before;
  };
  run_collection(call_thunk<decltype(work)>, &work);
  return out;
}

}  // namespace goro::diag

namespace goro::debug {

using goro::diag::collector;

const char* to_string(goroutine_state s) {
  switch (s) {
    case goroutine_state::runnable: return "runnable";
    case goroutine_state::running: return "running";
    case goroutine_state::waiting: return "waiting";
  }
  return "?";
}

// Walks again while goroutines were created during the walk (a walk that
// misses none is the common case), at most a few full collections and
// more of the cheap ones. If none was complete (a program that starts
// goroutines all the time), the answer is every goroutine the walks saw,
// by id, with what the last walk that saw it found: each was alive during
// the call, and one alive through it all is missed only if every walk
// missed it.
std::vector<goroutine_info> goroutines() {
  bool complete = false;
  std::map<uint64_t, goroutine_info> seen;
  for (int tries = 0; tries < 8; tries++) {
    std::vector<goroutine_info> walk = goro::diag::walk_goroutines(&complete);
    if (complete) return walk;
    for (goroutine_info& g : walk) seen[g.id] = std::move(g);
  }
  std::vector<goroutine_info> out;
  out.reserve(seen.size());
  for (auto& [id, g] : seen) out.push_back(std::move(g));
  return out;
}

std::vector<uint64_t> goroutine_ids() {
  bool complete = false;
  std::vector<uint64_t> all;
  for (int tries = 0; tries < 64; tries++) {
    std::vector<uint64_t> walk = goro::diag::walk_goroutine_ids(&complete);
    if (complete) return walk;
    all.insert(all.end(), walk.begin(), walk.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

std::string format(const goroutine_info& g) {
  std::string out = "goroutine " + std::to_string(g.id) + " [";
  if (g.state == goroutine_state::waiting) {
    out += g.wait_reason;
    auto mins = std::chrono::duration_cast<std::chrono::minutes>(g.wait_duration).count();
    if (mins >= 1) out += ", " + std::to_string(mins) + " minutes";
    if (!g.leaked.empty()) out += ", leaked";
  } else {
    out += to_string(g.state);
  }
  out += "]:\n";
  if (!g.leaked.empty()) out += "\tleaked: " + g.leaked + "\n";
  if (!g.labels.empty()) out += "\tlabels: " + goro::detail::labels_text(g.labels) + "\n";
  for (const std::string& f : g.stack) out += f + "\n";
  if (!g.stack_known)
    out += g.state == goroutine_state::running ? "\t(running on another worker: its stack cannot be read)\n"
                                               : "\t(it kept running while the dump read it: stack not shown)\n";
  char who[64];
  goro::detail::g_inspector::creator(g.is_main, g.creator_id, g.by_timer, who, sizeof who);
  out += "\t";
  out += who;
  out += " at " + g.created_by + "\n\n";
  return out;
}

std::vector<goroutine_info> find_partial_deadlocks() {
  std::vector<goroutine_info> all = goroutines();
  std::vector<goroutine_info> out;
  for (goroutine_info& g : all)
    if (!g.leaked.empty()) out.push_back(std::move(g));
  return out;
}

void track_channel_handles() noexcept { goro::detail::handle_tracking_start(); }

bool channel_handles_tracked() noexcept {
  return goro::detail::handle_tracking_on.load(std::memory_order_relaxed);
}

__attribute__((noinline)) std::string stack() {
  using namespace goro::detail;
  // Captured here, on the caller's stack; symbolized where there is room.
  // Not a fixed count of our own frames to skip: a sanitizer's backtrace
  // interceptor adds one. The frames up to this function's own are left
  // out below.
  void* pcs[kTracebackMax];
  int n = stack_pcs(pcs, kTracebackMax, 0);
  m* mp = current_m();
  g* gp = mp != nullptr ? mp->curg : nullptr;
  g_record self;
  if (gp != nullptr) {
    self.id = gp->id;
    self.parent_id = gp->parent_id;
    self.created_pc = gp->created_pc;
    self.is_main = gp->is_main;
    self.by_timer = gp->by_timer;
    if (label_set* s = labels_of_self(gp)) self.labels = s->kv;
  }
  const int tid = gp == nullptr ? static_cast<int>(gettid()) : 0;
  std::string out;
  auto work = [&] {
    g_inspector ins;
    out = gp != nullptr ? "goroutine " + std::to_string(self.id) : "thread " + std::to_string(tid);
    out += " [running]:\n";
    if (!self.labels.empty()) out += "\tlabels: " + labels_text(self.labels) + "\n";
    int first = 1;  // without symbols: stack() is the innermost frame
    uintptr_t lo = 0, hi = 0;
    if (function_range(reinterpret_cast<const void*>(&goro::debug::stack), &lo, &hi, &ins.symbols())) {
      for (int i = 0; i < n; i++) {
        auto pc = reinterpret_cast<uintptr_t>(pcs[i]) - 1;
        if (pc >= lo && pc < hi) {
          first = i + 1;
          break;
        }
      }
    }
    for (int i = first; i < n; i++) {
      // Return addresses: each is looked up in its call instruction.
      out += ins.symbols().frames_at(reinterpret_cast<uintptr_t>(pcs[i]) - 1);
      out += '\n';
    }
    if (gp != nullptr) {
      char created[600];
      ins.created_by(self, created, sizeof created);
      out += '\t';
      out += created;
      out += '\n';
    }
  };
  goro::diag::run_collection(goro::diag::call_thunk<decltype(work)>, &work);
  return out;
}

void dump(std::ostream& os, dump_options options) {
  collector c(true);
  c.capture_caller();
  auto work = [&c, &os, options] {
    c.find_leaked();
    goro::diag::dump_to(os, options.grouped, c);
  };
  goro::diag::run_collection(goro::diag::call_thunk<decltype(work)>, &work);
}

}  // namespace goro::debug
