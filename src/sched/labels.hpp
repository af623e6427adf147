// Goroutine label sets (goro/labels.hpp): immutable, shared, counted; a
// goroutine holds one reference in g::labels, a context another per
// with_labels.
//
// Reading another goroutine's set (the dump) races with that goroutine
// replacing it and dropping the last reference. The rule that makes it
// safe: a reader brackets its reads with labels_read_begin/end, and a set
// whose count drops to zero while any reader is inside is not freed but
// retired, and freed once no reader is. Why it holds: a g's pointer is
// replaced (seq_cst store) before the old set's reference is dropped; a
// reader's begin (seq_cst increment) comes before its load of the
// pointer. If a reader loaded the old pointer, its begin precedes the
// store, hence the freer's check of the reader count, which then sees it.
// A set retired is reachable from no g, so a reader that begins after the
// retirement cannot reach it: the last reader out frees the retired.
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
  std::atomic<int64_t> refs{1};
  std::vector<std::pair<std::string, std::string>> kv;  // sorted by key, keys unique
};

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
