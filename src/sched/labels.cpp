// Goroutine label sets: counting, the dump's read rule, and the text form.
// See labels.hpp (the rule and why it holds).
#include "sched/labels.hpp"

#include <vector>

#include "base/lock.hpp"
#include "base/race.hpp"
#include "sched/g.hpp"

namespace goro::detail {

namespace {

// Readers inside labels_read_begin/end.
std::atomic<int64_t> readers{0};
std::atomic<int64_t> live_sets{0};  // relaxed: a statistic (labels_live)

// The reader count, read with a read-modify-write (see labels.hpp): a
// load would need sequential consistency between the pointer's store and
// this read; an RMW meets the readers' increments in the counter's
// modification order and needs only acquire and release.
int64_t readers_now() noexcept { return readers.fetch_add(0, std::memory_order_acq_rel); }

// Sets whose count reached zero while a reader was inside: freed by the
// last reader out (or by the freer, if every reader left meanwhile).
struct retired_sets {
  runtime_lock lock{lock_rank::leaf};
  std::vector<label_set*> sets;  // guarded by lock
};
retired_sets& retired() {
  static auto* r = new retired_sets;  // never destroyed: goroutines may exit during static destruction
  return *r;
}

// Frees the retired sets if no reader is inside.
void free_retired_if_unread() {
  std::vector<label_set*> done;
  {
    retired_sets& r = retired();
    lock_guard lk(r.lock);
    if (readers_now() != 0) return;
    done.swap(r.sets);
  }
  race_acquire(&readers);
  for (label_set* s : done) delete s;
}

label_set* load_labels(const g* gp) noexcept { return __atomic_load_n(&gp->labels, __ATOMIC_SEQ_CST); }

}  // namespace

label_set* labels_ref(label_set* s) noexcept {
  if (s != nullptr) s->refs.fetch_add(1, std::memory_order_relaxed);
  return s;
}

void labels_unref(label_set* s) noexcept {
  if (s == nullptr) return;
  // TSan: every holder's use of s happens before its free.
  race_release(s);
  // acq_rel: the last one out sees every other holder's reads done.
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  race_acquire(s);
  if (readers_now() == 0) {
    race_acquire(&readers);  // TSan: finished readers' reads happen before the free
    delete s;
    return;
  }
  {
    retired_sets& r = retired();
    lock_guard lk(r.lock);
    r.sets.push_back(s);
  }
  // The readers may all have left before the push: then no one else would
  // free it until the next dump.
  free_retired_if_unread();
}

label_set* labels_of_self(const g* gp) noexcept { return gp->labels; }

void labels_replace(g* gp, label_set* s) noexcept {
  // TSan: the runtime is not instrumented (src/CMakeLists.txt), so the
  // atomics here order nothing for it: the set's construction happens
  // before a dump's read of it through this edge.
  if (s != nullptr) race_release(s);
  label_set* old = gp->labels;
  __atomic_store_n(&gp->labels, s, __ATOMIC_SEQ_CST);  // before the unref: the rule in labels.hpp
  gp->has_labels = s != nullptr;
  labels_unref(old);
}

label_set::label_set() noexcept { live_sets.fetch_add(1, std::memory_order_relaxed); }
label_set::~label_set() { live_sets.fetch_sub(1, std::memory_order_relaxed); }

int64_t labels_live() noexcept { return live_sets.load(std::memory_order_relaxed); }

void labels_read_begin() noexcept { readers.fetch_add(1, std::memory_order_seq_cst); }

void labels_read_end() noexcept {
  race_release(&readers);  // TSan: this reader's reads happen before any later free
  if (readers.fetch_sub(1, std::memory_order_seq_cst) == 1) free_retired_if_unread();
}

std::vector<std::pair<std::string, std::string>> labels_read(const g* gp) {
  label_set* s = load_labels(gp);
  if (s == nullptr) return {};
  race_acquire(s);  // pairs with labels_replace's release
  return s->kv;
}

namespace {

// s in double quotes, with quotes, backslashes and control bytes escaped
// (Go prints each label with %q).
void append_quoted(std::string& out, const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

}  // namespace

std::string labels_text(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out = "{";
  for (size_t i = 0; i < kv.size(); i++) {
    if (i > 0) out += ", ";
    append_quoted(out, kv[i].first);
    out += ':';
    append_quoted(out, kv[i].second);
  }
  out += '}';
  return out;
}

}  // namespace goro::detail
