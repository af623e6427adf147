// ptr_stack: a growable LIFO array of pointers for the runtime's free pools
// (free g records, free stacks).
//
// Arrays, not lists linked through the pooled objects: taking n entries
// reads n adjacent words, where a linked list reads each object's link in
// turn, a dependent cache miss per object when another core freed them
// last (and, for released stacks, a page fault). Knowing the next entries'
// addresses also lets the taker prefetch them.
//
// The storage is malloc'd and never freed (the type is trivially
// destructible), so a pool stays usable while the process exits: the
// monitor thread may still be working on it then. Not synchronized: the
// owner's lock guards it.
#pragma once

#include <cstddef>
#include <cstdlib>

#include "base/check.hpp"
#include "base/race.hpp"

namespace goro::detail {

template <class T>
struct ptr_stack {
  T** v = nullptr;
  size_t n = 0;
  size_t cap = 0;

  bool empty() const { return n == 0; }

  // Makes room for `want` entries in all. False if there is no memory.
  bool reserve(size_t want) {
    if (want <= cap) return true;
    auto* grown = static_cast<T**>(std::realloc(v, want * sizeof(T*)));
    if (grown == nullptr) return false;
    v = grown;
    cap = want;
    return true;
  }

  // The caller reserve()d room for every object that can be in the pool.
  void push(T* x) {
    GORO_CHECK(n < cap);
    v[n++] = x;
  }
  T* pop() { return v[--n]; }

  // Moves k entries from src (its newest) onto this stack, keeping their order.
  void push_n(T* const* src, size_t k) {
    GORO_CHECK(n + k <= cap);
    if (k == 0) return;  // v may still be null
    copy(v + n, src, k);
    n += k;
  }
  // Moves the newest k entries (k <= n) to dst, keeping their order.
  void pop_n(T** dst, size_t k) {
    if (k == 0) return;  // as push_n
    n -= k;
    copy(dst, v + n, k);
  }

 private:
  // Not memcpy: base/race.hpp's move_entries says why.
  static void copy(T** dst, T* const* src, size_t k) { move_entries(dst, src, k); }
};

}  // namespace goro::detail
