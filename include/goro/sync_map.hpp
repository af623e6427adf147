// goro::sync_map<K, V>: Go's sync.Map, a concurrent map whose loads take no
// lock, for the two cases Go names: keys written once and read many times
// (caches that only grow), and goroutines that read and write disjoint
// sets of keys. Elsewhere a std::unordered_map behind a goro::mutex is
// simpler and often faster.
//
//   goro::sync_map<std::string, int> hits;
//   hits.store("home", 1);
//   if (std::optional<int> n = hits.load("home")) use(*n);
//   auto [actual, loaded] = hits.load_or_store("about", 0);
//   hits.range([](const std::string& page, const int& n) {
//     std::printf("%s %d\n", page.c_str(), n);
//     return true;  // false stops
//   });
//
// Thread-safety: every member may be called from any number of goroutines
// and plain threads at once, also from inside range()'s function. Each
// operation is atomic (linearizable); range() is not a snapshot (below).
// Memory model: a store (or any operation that writes a value) happens
// before every load that returns that value. Not copyable or movable;
// destroy it only when no member is running.
//
// Values are returned by copy (std::optional<V> where Go returns ok), so a
// caller never holds a reference into the map; V must be copy-constructible,
// and equality-comparable for compare_and_swap / compare_and_delete. If V's
// copy throws in an operation that also changed the map, the change stands.
// There is no size() (Go has none either: counting would serialize the
// writers); range() and count if needed.
//
// When a value is destroyed: a replaced or deleted value may still be in a
// concurrent load's hands, so it is destroyed later, once no load can hold
// it, inside some later call of this map that reclaims (on whichever
// thread makes it), or by the map's destructor. That call has released
// the map's own lock first, so V's destructor may use this map; it must
// not take a lock that a caller of this map may hold across the call.
// (Go's collector runs no user code inside a Map call.)
//
// Design (Go's): two maps. `read`, a snapshot map from key to entry,
// published through one atomic pointer and never changed once published,
// serves loads and updates of keys already in it without a lock: each
// entry holds an atomic pointer to an immutable value node, replaced by
// compare-and-swap. `dirty`, under the mutex, holds the keys added since
// the snapshot plus every live entry of it; once lookups have missed the
// snapshot as many times as dirty has entries, dirty becomes the next
// snapshot (a pointer swap). Entries deleted while the snapshot was copied
// into dirty are marked "expunged" so that they are not in dirty, and are
// brought back (into dirty) by the next store of their key.
//
// Invariants (each under the mutex unless said):
//  D1. An entry's value pointer is null (deleted), kExpunged (deleted and
//      not in dirty) or a value node; only a holder of the mutex sets or
//      clears kExpunged. A key has at most one entry: dirty's entry for a
//      key in the snapshot is the snapshot's.
//  D2. The snapshot word's bit 0 ("amended") is set iff dirty has a key the
//      snapshot lacks; it is read with the pointer in one load, so a
//      lookup that misses a snapshot that is not amended is final.
//  D3. A key only in dirty has an entry made after the current snapshot was
//      published: no snapshot, current or old, names it.
// Reclamation: replaced value nodes, old snapshots, and entries that no
// map names any more (expunged ones at promotion, dirty-only ones deleted)
// are retired to a read_domain (goro/detail/read_domain.hpp), and every
// operation runs inside its read section, so whatever it loaded stays
// allocated until it ends.
//
// Why not std::atomic<std::shared_ptr>: libstdc++ 12's takes a spin lock
// (a bit in the control block pointer) on every load, so loads from all
// cores would write one cache line, and also bump a reference count: two
// shared writes per load, where a read section writes only a counter of
// the reader's worker (8 stripes, chosen by P id; a plain thread's by a
// hash). Measured on the 2-core machine, 2 goroutines each looking up a
// 1024-key map: atomic<shared_ptr> load + find 48-64 ns, load() 23 ns.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <goro/detail/read_domain.hpp>
#include <goro/mutex.hpp>

namespace goro {

// A concurrent map for read-mostly or disjoint-key use (Go's sync.Map);
// see the file comment. K must be hashable with Hash and comparable with
// KeyEqual, and copy-constructible.
template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
class sync_map {
  static_assert(std::is_copy_constructible_v<V>, "goro::sync_map: values are returned by copy");

 public:
  sync_map() : read_(reinterpret_cast<uintptr_t>(new read_only())) {}
  ~sync_map();
  sync_map(const sync_map&) = delete;
  sync_map& operator=(const sync_map&) = delete;

  // The value stored for key, or nullopt (Go's Load). Takes no lock while
  // the key is in the snapshot, or absent and nothing was added since.
  std::optional<V> load(const K& key) const;

  // Sets the value for key (Go's Store). No lock if the key is in the
  // snapshot (was stored before and not deleted before the last copy).
  void store(const K& key, V value) { (void)swap_impl<false>(key, std::move(value)); }

  // Sets the value for key and returns the previous one, if any (Go's
  // Swap).
  std::optional<V> swap(const K& key, V value) { return swap_impl<true>(key, std::move(value)); }

  // The existing value for key and true, if there is one; otherwise stores
  // value and returns it and false (Go's LoadOrStore: actual, loaded).
  //   auto [conn, loaded] = conns.load_or_store(addr, fresh);
  std::pair<V, bool> load_or_store(const K& key, V value);

  // Deletes key and returns its value, if it had one (Go's LoadAndDelete).
  std::optional<V> load_and_delete(const K& key) { return delete_impl<true>(key); }

  // Deletes key (Go's Delete); nothing happens if it is absent.
  void erase(const K& key) { (void)delete_impl<false>(key); }

  // Deletes every key (Go 1.23's Clear). Atomic like the rest: every other
  // operation happens wholly before or after it. Throws std::bad_alloc.
  void clear();

  // Sets key's value to desired if it is equal to expected; returns whether
  // it did (Go's CompareAndSwap). An absent key compares unequal to
  // everything.
  //   while (true) { int v = *m.load(k); if (m.compare_and_swap(k, v, v + 1)) break; }
  bool compare_and_swap(const K& key, const V& expected, V desired);

  // Deletes key if its value is equal to expected; returns whether it did
  // (Go's CompareAndDelete).
  bool compare_and_delete(const K& key, const V& expected);

  // Calls fn(key, value) for each key, in no order, until fn returns false
  // (Go's Range). Not a snapshot: each key is visited at most once, and a
  // key present for the whole call is visited; with concurrent stores and
  // deletes fn may see a key's value from any moment of the call. The
  // references are valid during fn's call only. fn may call any member of
  // this map. O(n) even if fn stops early, as in Go. Unlike Go's, a range
  // holds back the freeing of every value replaced or deleted in the map
  // meanwhile (by anyone) until it returns: keep fn short, or copy what it
  // needs and do slow work (I/O, waits) after the range.
  template <class F>
  void range(F&& fn);

 private:
  struct value_node : detail::retired_node {
    template <class... A>
    explicit value_node(A&&... a) : v(std::forward<A>(a)...) {
      destroy = [](detail::retired_node* n) { delete static_cast<value_node*>(n); };
    }
    const V v;
  };

  struct entry : detail::retired_node {
    explicit entry(value_node* n) : p(n) {
      destroy = [](detail::retired_node* r) {
        auto* e = static_cast<entry*>(r);
        // acquire: the last stored node, complete (the free comes after
        // the grace period anyway).
        value_node* n = e->p.load(std::memory_order_acquire);
        if (is_value(n)) delete n;
        delete e;
      };
    }
    // Null, kExpunged or a value node (D1). seq_cst: read_domain's R1.
    std::atomic<value_node*> p;
  };

  using map_type = std::unordered_map<K, entry*, Hash, KeyEqual>;

  struct read_only : detail::retired_node {
    read_only() {
      destroy = [](detail::retired_node* n) { delete static_cast<read_only*>(n); };
    }
    map_type m;  // never changed once published
  };
  static_assert(alignof(read_only) >= 2, "bit 0 of the snapshot word is the amended flag");

  static constexpr uintptr_t kAmended = 1;

  // kExpunged: an address no value node has; never dereferenced.
  static inline char expunged_tag_ = 0;
  static value_node* expunged() noexcept { return reinterpret_cast<value_node*>(&expunged_tag_); }
  static bool is_value(const value_node* n) noexcept { return n != nullptr && n != expunged(); }

  static read_only* snapshot(uintptr_t w) noexcept { return reinterpret_cast<read_only*>(w & ~kAmended); }
  static bool amended(uintptr_t w) noexcept { return (w & kAmended) != 0; }
  static entry* find(const map_type& m, const K& key) {
    auto it = m.find(key);
    return it != m.end() ? it->second : nullptr;
  }
  static std::optional<V> value_of(const entry* e) {
    value_node* n = e->p.load(std::memory_order_seq_cst);
    if (!is_value(n)) return std::nullopt;
    return n->v;
  }

  // Writes that retire nodes call this after leaving their read section:
  // reclaims when enough is retired and the mutex is free (a writer that
  // never takes the mutex must not pile up garbage either).
  void maybe_reclaim() const {
    if (dom_.backlog() >= kReclaimBacklog && mu_.try_lock()) {
      detail::retired_node* nodes = dom_.reclaim();
      mu_.unlock();
      dom_.free_nodes(nodes);
    }
  }
  // What a call's reclaim took under mu_ (read_domain::reclaim), freed
  // when the call returns, after its lock on mu_ is released (declared
  // before it): freeing runs V's destructor, user code that may use this
  // map or take locks the caller holds, as a value that owns a connection
  // and locks a registry as it closes. Go's collector runs nothing inside
  // a Map call.
  struct reclaimed {
    detail::read_domain& dom;
    detail::retired_node* nodes = nullptr;
    ~reclaimed() { dom.free_nodes(nodes); }
  };
  static constexpr std::size_t kReclaimBacklog = 64;

  // ---- the mutex holder's helpers ----
  // Makes dirty (a copy of the snapshot's live entries, expunging the
  // deleted ones) if there is none.
  void dirty_locked() const GORO_REQUIRES(mu_);
  // Go's missLocked: counts a lookup that needed dirty; promotes dirty once
  // misses reach its size.
  void miss_locked() const GORO_REQUIRES(mu_);
  // dirty becomes the snapshot; the old snapshot and the entries only it
  // names (still expunged) are retired.
  void promote_locked() const GORO_REQUIRES(mu_);
  // Go's unexpungeLocked: an expunged entry of the snapshot goes back into
  // dirty (its key is being written).
  void unexpunge_locked(const K& key, entry* e) const GORO_REQUIRES(mu_);
  // Adds a new entry for a key in neither map (dirty made if needed).
  void add_locked(const K& key, std::unique_ptr<value_node>& n) const GORO_REQUIRES(mu_);
  entry* find_dirty(const K& key) const GORO_REQUIRES(mu_) { return dirty_ ? find(*dirty_, key) : nullptr; }

  template <bool WantPrev>
  std::optional<V> swap_impl(const K& key, V value);
  template <bool WantValue>
  std::optional<V> delete_impl(const K& key);
  // Sets e's value to nullptr if it is a value (equal to *expected if
  // given); retires the old node and returns it (null if nothing deleted).
  value_node* delete_entry(entry* e, const V* expected) const;

  mutable detail::read_domain dom_;
  // read_only* | kAmended (D2). seq_cst: read_domain's R1.
  mutable std::atomic<uintptr_t> read_;
  mutable mutex mu_;
  mutable std::unique_ptr<map_type> dirty_ GORO_GUARDED_BY(mu_);
  // Entries the current dirty's copy expunged: at promotion, those still
  // expunged are in no map any more and are retired.
  mutable std::vector<entry*> expunged_ GORO_GUARDED_BY(mu_);
  mutable std::size_t misses_ GORO_GUARDED_BY(mu_) = 0;
};

// ---- implementation ----

template <class K, class V, class H, class E>
sync_map<K, V, H, E>::~sync_map() {
  // No member is running: free every entry once (dirty shares the
  // snapshot's live entries, D1), then the snapshot; the domain frees what
  // was retired.
  // Alone; acquire anyway, for whatever ordered this after the last writer.
  read_only* r = snapshot(read_.load(std::memory_order_acquire));
  mutex_lock lk(mu_);
  for (auto& kv : r->m) {
    entry* e = kv.second;
    // relaxed: under the mutex, which every expunge and unexpunge holds.
    if (dirty_ && e->p.load(std::memory_order_relaxed) != expunged()) continue;  // freed with dirty's
    e->destroy(e);
  }
  if (dirty_) {
    for (auto& kv : *dirty_) kv.second->destroy(kv.second);
  }
  delete r;
}

template <class K, class V, class H, class E>
std::optional<V> sync_map<K, V, H, E>::load(const K& key) const {
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    if (entry* e = find(snapshot(w)->m, key)) return value_of(e);
    if (!amended(w)) return std::nullopt;
  }
  std::optional<V> out;
  reclaimed freed{dom_};  // freed after lk is released: V's destructor is user code
  mutex_lock lk(mu_);
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    entry* e = find(snapshot(w)->m, key);
    if (e == nullptr && amended(w)) {
      e = find_dirty(key);
      miss_locked();
    }
    if (e != nullptr) out = value_of(e);
  }
  freed.nodes = dom_.reclaim();
  return out;
}

template <class K, class V, class H, class E>
template <bool WantPrev>
std::optional<V> sync_map<K, V, H, E>::swap_impl(const K& key, V value) {
  auto n = std::make_unique<value_node>(std::move(value));
  std::optional<V> prev;
  bool done = false;
  {
    detail::read_domain::guard g(dom_);
    if (entry* e = find(snapshot(read_.load(std::memory_order_seq_cst))->m, key)) {
      // Go's trySwap: any state but expunged takes the new value.
      value_node* old = e->p.load(std::memory_order_seq_cst);
      while (old != expunged()) {
        if (e->p.compare_exchange_weak(old, n.get(), std::memory_order_seq_cst)) {
          n.release();
          done = true;
          if (old != nullptr) {
            dom_.retire(old);
            if constexpr (WantPrev) prev.emplace(old->v);
          }
          break;
        }
      }
    }
  }
  if (done) {
    maybe_reclaim();
    return prev;
  }
  reclaimed freed{dom_};  // freed after lk is released: V's destructor is user code
  mutex_lock lk(mu_);
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    entry* e = find(snapshot(w)->m, key);
    if (e != nullptr) {
      if (e->p.load(std::memory_order_seq_cst) == expunged()) unexpunge_locked(key, e);
    } else {
      e = find_dirty(key);
    }
    if (e != nullptr) {
      value_node* old = e->p.exchange(n.release(), std::memory_order_seq_cst);
      if (is_value(old)) {
        dom_.retire(old);
        if constexpr (WantPrev) prev.emplace(old->v);
      }
    } else {
      add_locked(key, n);
    }
  }
  freed.nodes = dom_.reclaim();
  return prev;
}

template <class K, class V, class H, class E>
std::pair<V, bool> sync_map<K, V, H, E>::load_or_store(const K& key, V value) {
  std::unique_ptr<value_node> n;  // made when it is about to be stored
  // Go's tryLoadOrStore: the value if there is one; stores into a deleted
  // entry; gives up (nullopt) on an expunged one.
  auto try_load_or_store = [&](entry* e) -> std::optional<std::pair<V, bool>> {
    value_node* cur = e->p.load(std::memory_order_seq_cst);
    for (;;) {
      if (cur == expunged()) return std::nullopt;
      if (cur != nullptr) return std::pair<V, bool>(cur->v, true);
      if (!n) n = std::make_unique<value_node>(std::move(value));
      if (e->p.compare_exchange_weak(cur, n.get(), std::memory_order_seq_cst)) {
        value_node* stored = n.release();
        return std::pair<V, bool>(stored->v, false);  // still allocated: our read section
      }
    }
  };
  {
    detail::read_domain::guard g(dom_);
    if (entry* e = find(snapshot(read_.load(std::memory_order_seq_cst))->m, key)) {
      if (auto r = try_load_or_store(e)) return std::move(*r);
    }
  }
  std::optional<std::pair<V, bool>> out;
  reclaimed freed{dom_};  // freed after lk is released: V's destructor is user code
  mutex_lock lk(mu_);
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    if (entry* e = find(snapshot(w)->m, key)) {
      if (e->p.load(std::memory_order_seq_cst) == expunged()) unexpunge_locked(key, e);
      out = try_load_or_store(e);  // cannot give up: only we expunge (D1)
    } else if (entry* d = find_dirty(key)) {
      out = try_load_or_store(d);
      miss_locked();
    } else {
      if (!n) n = std::make_unique<value_node>(std::move(value));
      out.emplace(n->v, false);
      add_locked(key, n);
    }
  }
  freed.nodes = dom_.reclaim();
  return std::move(*out);
}

template <class K, class V, class H, class E>
typename sync_map<K, V, H, E>::value_node* sync_map<K, V, H, E>::delete_entry(entry* e, const V* expected) const {
  value_node* cur = e->p.load(std::memory_order_seq_cst);
  for (;;) {
    if (!is_value(cur)) return nullptr;
    if (expected != nullptr && !(cur->v == *expected)) return nullptr;
    if (e->p.compare_exchange_weak(cur, nullptr, std::memory_order_seq_cst)) {
      dom_.retire(cur);
      return cur;
    }
  }
}

template <class K, class V, class H, class E>
template <bool WantValue>
std::optional<V> sync_map<K, V, H, E>::delete_impl(const K& key) {
  std::optional<V> out;
  bool need_lock = false;
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    if (entry* e = find(snapshot(w)->m, key)) {
      value_node* old = delete_entry(e, nullptr);
      if constexpr (WantValue) {
        if (old != nullptr) out.emplace(old->v);
      }
    } else {
      need_lock = amended(w);
    }
  }
  if (!need_lock) {
    maybe_reclaim();
    return out;
  }
  reclaimed freed{dom_};  // freed after lk is released: V's destructor is user code
  mutex_lock lk(mu_);
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    entry* e = find(snapshot(w)->m, key);
    bool removed = false;
    if (e == nullptr && amended(w)) {
      auto it = dirty_->find(key);
      if (it != dirty_->end()) {
        e = it->second;
        dirty_->erase(it);
        removed = true;  // in no map now (D3): retired below
      }
      miss_locked();
    }
    if (e != nullptr) {
      value_node* old = delete_entry(e, nullptr);
      if (removed) dom_.retire(e);  // after delete_entry: the retire frees only what is left
      if constexpr (WantValue) {
        if (old != nullptr) out.emplace(old->v);
      }
    }
  }
  freed.nodes = dom_.reclaim();
  return out;
}

template <class K, class V, class H, class E>
bool sync_map<K, V, H, E>::compare_and_swap(const K& key, const V& expected, V desired) {
  std::unique_ptr<value_node> n;
  // Go's tryCompareAndSwap.
  auto try_cas = [&](entry* e) {
    value_node* cur = e->p.load(std::memory_order_seq_cst);
    for (;;) {
      if (!is_value(cur) || !(cur->v == expected)) return false;
      if (!n) n = std::make_unique<value_node>(std::move(desired));
      if (e->p.compare_exchange_weak(cur, n.get(), std::memory_order_seq_cst)) {
        n.release();
        dom_.retire(cur);
        return true;
      }
    }
  };
  bool swapped = false, need_lock = false;
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    if (entry* e = find(snapshot(w)->m, key)) {
      swapped = try_cas(e);
    } else {
      need_lock = amended(w);
    }
  }
  if (!need_lock) {
    if (swapped) maybe_reclaim();
    return swapped;
  }
  reclaimed freed{dom_};  // freed after lk is released: V's destructor is user code
  mutex_lock lk(mu_);
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    if (entry* e = find(snapshot(w)->m, key)) {
      swapped = try_cas(e);
    } else if (entry* d = find_dirty(key)) {
      swapped = try_cas(d);
      miss_locked();
    }
  }
  freed.nodes = dom_.reclaim();
  return swapped;
}

template <class K, class V, class H, class E>
bool sync_map<K, V, H, E>::compare_and_delete(const K& key, const V& expected) {
  bool deleted = false, need_lock = false;
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    if (entry* e = find(snapshot(w)->m, key)) {
      deleted = delete_entry(e, &expected) != nullptr;
    } else {
      need_lock = amended(w);
    }
  }
  if (!need_lock) {
    if (deleted) maybe_reclaim();
    return deleted;
  }
  reclaimed freed{dom_};  // freed after lk is released: V's destructor is user code
  mutex_lock lk(mu_);
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    entry* e = find(snapshot(w)->m, key);
    if (e == nullptr && amended(w)) {
      e = find_dirty(key);
      miss_locked();
    }
    // A deleted entry stays in dirty with a null value (as in Go).
    if (e != nullptr) deleted = delete_entry(e, &expected) != nullptr;
  }
  freed.nodes = dom_.reclaim();
  return deleted;
}

template <class K, class V, class H, class E>
template <class F>
void sync_map<K, V, H, E>::range(F&& fn) {
  static_assert(std::is_invocable_r_v<bool, F&, const K&, const V&>,
                "goro::sync_map::range: fn(const K&, const V&) must return bool");
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    if (amended(w)) {
      // Keys only in dirty would be missed: promote first (Go's Range).
      mutex_lock lk(mu_);
      if (amended(read_.load(std::memory_order_seq_cst))) promote_locked();
      w = read_.load(std::memory_order_seq_cst);
    }
    for (auto& kv : snapshot(w)->m) {
      value_node* n = kv.second->p.load(std::memory_order_seq_cst);
      if (!is_value(n)) continue;
      if (!fn(kv.first, n->v)) break;
    }
  }
  maybe_reclaim();
}

template <class K, class V, class H, class E>
void sync_map<K, V, H, E>::dirty_locked() const {
  if (dirty_) return;
  const map_type& m = snapshot(read_.load(std::memory_order_seq_cst))->m;
  auto d = std::make_unique<map_type>();
  const std::size_t first = expunged_.size();
  expunged_.reserve(first + m.size());  // the pushes below cannot throw
  try {
    d->reserve(m.size());
    for (auto& kv : m) {
      entry* e = kv.second;
      // Go's tryExpungeLocked: a deleted entry becomes expunged and is
      // left out of dirty.
      value_node* cur = e->p.load(std::memory_order_seq_cst);
      while (cur == nullptr && !e->p.compare_exchange_weak(cur, expunged(), std::memory_order_seq_cst)) {
      }
      if (cur == nullptr) {
        expunged_.push_back(e);
      } else if (cur != expunged()) {
        d->emplace(kv.first, e);
      }
    }
  } catch (...) {
    // Out of memory while copying: undo the expunging (no dirty exists,
    // so a deleted entry is simply null again).
    for (std::size_t i = first; i < expunged_.size(); i++) {
      value_node* x = expunged();
      expunged_[i]->p.compare_exchange_strong(x, nullptr, std::memory_order_seq_cst);
    }
    expunged_.resize(first);
    throw;
  }
  dirty_ = std::move(d);
}

template <class K, class V, class H, class E>
void sync_map<K, V, H, E>::miss_locked() const {
  if (++misses_ < dirty_->size()) return;
  promote_locked();
}

template <class K, class V, class H, class E>
void sync_map<K, V, H, E>::clear() {
  {
    detail::read_domain::guard g(dom_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    if (snapshot(w)->m.empty() && !amended(w)) return;  // clear already: no new snapshot
  }
  auto fresh = std::make_unique<read_only>();  // before the lock: the only throw
  {
    mutex_lock lk(mu_);
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    read_only* old = snapshot(w);
    if (old->m.empty() && !amended(w)) return;
    // An empty snapshot, not amended (D2), and no dirty: every key gone at
    // once for lookups. A lock-free write that still holds an entry of
    // the old snapshot writes into an entry no map names: it happened
    // before the clear.
    read_.store(reinterpret_cast<uintptr_t>(fresh.release()), std::memory_order_seq_cst);
    // Every entry goes: the old snapshot's (expunged ones included) and
    // dirty's that it lacks (D3; dirty's others are the snapshot's, D1).
    for (const auto& kv : old->m) dom_.retire(kv.second);
    if (dirty_) {
      for (const auto& kv : *dirty_) {
        if (find(old->m, kv.first) == nullptr) dom_.retire(kv.second);
      }
    }
    dirty_.reset();
    expunged_.clear();
    misses_ = 0;
    dom_.retire(old);
  }
  maybe_reclaim();
}

template <class K, class V, class H, class E>
void sync_map<K, V, H, E>::promote_locked() const {
  auto r = std::make_unique<read_only>();
  r->m = std::move(*dirty_);
  uintptr_t old = read_.exchange(reinterpret_cast<uintptr_t>(r.release()), std::memory_order_seq_cst);
  dirty_.reset();
  misses_ = 0;
  for (entry* e : expunged_) {
    if (e->p.load(std::memory_order_seq_cst) == expunged()) dom_.retire(e);
  }
  expunged_.clear();
  dom_.retire(snapshot(old));
}

template <class K, class V, class H, class E>
void sync_map<K, V, H, E>::unexpunge_locked(const K& key, entry* e) const {
  dirty_->emplace(key, e);  // first: if it throws, e stays expunged, consistent
  e->p.store(nullptr, std::memory_order_seq_cst);
}

template <class K, class V, class H, class E>
void sync_map<K, V, H, E>::add_locked(const K& key, std::unique_ptr<value_node>& n) const {
  uintptr_t w = read_.load(std::memory_order_seq_cst);
  if (!amended(w)) {
    dirty_locked();
    read_.store(w | kAmended, std::memory_order_seq_cst);
  }
  auto e = std::make_unique<entry>(n.get());
  dirty_->emplace(key, e.get());
  e.release();
  n.release();
}

}  // namespace goro
