// Goroutine label sets (goro/labels.hpp): immutable, shared, counted; a
// goroutine holds one reference in g::labels, a context another per
// with_labels.
//
// Reading another goroutine's set (the dump) races with that goroutine
// replacing it and dropping the last reference. The rule that makes it
// safe: a reader brackets its reads with labels_read_begin/end (an
// increment and a decrement of one counter), and a set whose count drops
// to zero while any reader is inside is not freed but retired, and freed
// once no reader is. Why it holds: a g's pointer is replaced (a release
// store) before the old set's reference is dropped, and the freer reads
// the reader count with a read-modify-write (acq_rel), as the reader's
// begin is one. The two are ordered in the counter's modification order.
// If the freer's comes first and reads zero, it synchronizes with the
// reader's begin, so the pointer's replacement happens before the
// reader's load of it, which then sees the new pointer: the freed set is
// out of its reach. If the reader's begin comes first, the freer sees it
// and retires the set. A retired set is reachable from no g, and the
// last reader out frees the retired under the same read of the count.
//
// TSan does not see the runtime's atomics (the runtime is not
// instrumented): labels.cpp states the same edges with race_release and
// race_acquire (base/race.hpp), on the set for its publication and its
// holders, and on the reader count for the readers' reads before a free.
//
// Lock order: the retired list's lock is a leaf.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace goro::detail {

struct g;

struct label_set {
  label_set() noexcept;  // counted (labels_live)
  ~label_set();
  label_set(const label_set&) = delete;
  label_set& operator=(const label_set&) = delete;
  std::atomic<int64_t> refs{1};
  std::vector<std::pair<std::string, std::string>> kv;  // sorted by key, keys unique
};

// Label sets alive (made and not yet freed), for tests.
int64_t labels_live() noexcept;

// One more reference to s (may be null); returns s.
label_set* labels_ref(label_set* s) noexcept;
// Drops a reference (s may be null); frees or retires it at zero.
void labels_unref(label_set* s) noexcept;

// gp's set, read by gp itself (no protection needed), or null.
label_set* labels_of_self(const g* gp) noexcept;
// Gives gp the set s, taking over the caller's reference to it, and
// drops gp's reference to its previous set. gp is the calling goroutine,
// or a record go() is starting (which may hold its previous life's set:
// exit leaves it, see g_start).
void labels_replace(g* gp, label_set* s) noexcept;

// Reading other goroutines' sets (see the top of this file).
void labels_read_begin() noexcept;
void labels_read_end() noexcept;
// gp's labels, copied; call between labels_read_begin and _end. Empty
// for none.
std::vector<std::pair<std::string, std::string>> labels_read(const g* gp);

// Go's text of a label list: {"k":"v", "k2":"v2"}.
std::string labels_text(const std::vector<std::pair<std::string, std::string>>& kv);

}  // namespace goro::detail
