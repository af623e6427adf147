// The context tree's nodes (goro/context.hpp is the public side; the
// algorithm and its protocol are in context.cpp; signals in signal.cpp).
//
// A context handle points at a ctx_node (null is background()). Kinds:
//  - todo: one immortal root;
//  - cancel_node: with_cancel, with_deadline (plus a timer), with_stop_token
//    (plus a stop_callback), signal_notify_context (plus a signal
//    registration): the only kind that can be done;
//  - value_node: with_value, a key and a boxed value;
//  - without_cancel: a link to values only.
// Every node holds a reference to its parent (values and deadlines are
// looked up through it) and names its `anc`: the nearest cancel_node among
// itself and its ancestors, cut by without_cancel (null: never done).
// err(), cause() and done() of any node are those of its anc.
//
// What hangs off a cancel_node (guarded by its mu): an intrusive list of
// entries, each a child cancel_node (whose `pa`, the parent's anc, is this
// node) or a context_after_func registration (ctx_afunc). The list holds
// no reference to a child: a child removes itself when it is cancelled by
// itself or freed; a registration holds a reference to its owner.
#pragma once

#include <atomic>
#include <cstdint>
#include <system_error>

#include "base/lock.hpp"
#include "goro/context.hpp"
#include "sched/record_cache.hpp"

namespace goro::detail {

struct timer;
struct signal_reg;

enum class ctx_kind : uint8_t { todo, cancel, value, without_cancel };

struct cancel_node;

struct ctx_node {
  std::atomic<int64_t> refs{1};
  ctx_kind kind;
  ctx_node* parent = nullptr;   // a reference; immutable
  cancel_node* anc = nullptr;   // nearest cancellable ancestor-or-self; immutable; kept alive by `parent`
  int64_t deadline_ns = INT64_MAX;  // immutable; INT64_MAX: none

  explicit ctx_node(ctx_kind k) : kind(k) {}

  // Nodes come from the per-P record caches (sched/record_cache.hpp): a
  // node is often made on one worker and freed on another. The sized
  // delete is exact because every node is deleted through its own type
  // (destroy_one; no virtual destructor).
  static void* operator new(std::size_t bytes) { return record_alloc(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { record_free(p, bytes); }
};

struct value_node : ctx_node {
  value_node() : ctx_node(ctx_kind::value) {}
  const void* key = nullptr;  // a context_key's address
  void* value = nullptr;
  void (*destroy)(void*) noexcept = nullptr;
};

enum class entry_type : uint8_t { child, afunc };

// An element of a cancel_node's list. prev/next and `attached` are
// guarded by the owner's mu while attached; whoever detaches the entry
// (clearing `attached` under that lock) owns prev/next afterwards (the
// canceller reuses next for its work list).
struct ctx_entry {
  ctx_entry* prev = nullptr;
  ctx_entry* next = nullptr;
  bool attached = false;
  entry_type type;
  explicit ctx_entry(entry_type t) : type(t) {}
};

struct stop_cb_base {
  virtual ~stop_cb_base() = default;
};

// Set in cancel_node::err once its done channel is closed.
inline constexpr int kErrDoneClosed = 1 << 30;

struct cancel_node : ctx_node, ctx_entry {
  cancel_node() : ctx_node(ctx_kind::cancel), ctx_entry(entry_type::child) { head.prev = head.next = &head; }

  runtime_lock mu{lock_rank::context};
  // 0, then the errc value the node is being cancelled with; written under
  // mu, read under it or (err() and cause(), to wait for err) with
  // acquire. Set in phase 1 of cancellation (context.cpp), before err.
  std::atomic<int> cancelling{0};
  // 0 while not done, else a goro::errc value: `cancelling`, published in
  // phase 2 once every descendant's err is, under mu, with release; then
  // with kErrDoneClosed added once the done channel is closed (at once if
  // there was none: it becomes the shared closed one), by the publisher,
  // outside mu. Read without the lock with acquire; err_of masks the bit.
  std::atomic<int> err{0};
  std::error_code cause;  // written once under mu with `cancelling`; read after err
  bool finishing = false;  // the canceller's: this node is its work list's marker
  // This node is a cancel_node_ext (extras() below); immutable.
  bool has_extras = false;
  // The done channel, made on first done() (or the shared closed channel
  // when cancelled before). Written under mu (release), read without it
  // (acquire); a reference of its own.
  std::atomic<hchan*> done{nullptr};
  ctx_entry head{entry_type::child};  // sentinel of the list; guarded by mu
  int64_t nentries = 0;               // guarded by mu
  cancel_node* pa = nullptr;          // the parent's anc (attached to it); immutable
};

// What only with_deadline, with_stop_token and signal_notify_context
// nodes carry, in a cancel_node_ext. A plain with_cancel node (a
// request's, a watcher's) goes without these 40 bytes: 152 bytes instead
// of 192, allocated as 160 by malloc instead of 208.
struct cancel_extras {
  timer* t = nullptr;                 // deadline timer; guarded by mu; freed with the node
  std::error_code deadline_cause;     // immutable
  stop_cb_base* stopcb = nullptr;     // with_stop_token's callback; owned; immutable once set
  std::atomic<signal_reg*> sig{nullptr};  // signal_notify_context's registration
};

struct cancel_node_ext : cancel_node {
  cancel_node_ext() { has_extras = true; }
  cancel_extras x;
};

// n's extras, or null for a plain with_cancel node.
inline cancel_extras* extras(cancel_node* n) noexcept {
  return n->has_extras ? &static_cast<cancel_node_ext*>(n)->x : nullptr;
}

// with_cancel, of a node with extras (signal.cpp's signal_notify_context).
ctx_node* ctx_with_cancel_extended(ctx_node* parent);

// A context_after_func registration.
struct ctx_afunc : ctx_entry {
  ctx_afunc() : ctx_entry(entry_type::afunc) {}
  // Handles (after_func_stop copies) plus one while on the owner's list.
  std::atomic<int> refs{1};
  // pending -> started (by the canceller) or pending -> stopped (by
  // stop): whoever makes the transition owns fn.
  std::atomic<uint8_t> state{0};
  // A reference, set at registration and kept until this record is freed
  // (stop() locks owner->mu through it, racing the canceller).
  cancel_node* owner = nullptr;
  ctx_fn* fn = nullptr;
};

inline constexpr uint8_t kAfuncPending = 0, kAfuncStarted = 1, kAfuncStopped = 2;

// Cancels n and everything hanging off it (context.cpp): err and cause
// set, done closed, timers stopped, after funcs started; with
// remove_from_parent, n leaves its parent's list. The caller keeps n
// alive. Returns true if this call cancelled n (false: it was done).
// With wait_for_others (a cancel function's call, on a goroutine or a
// plain thread, never a timer callback), it waits, before publishing n,
// for each child another canceller is busy with (Go's cancel waits on
// their locks; context.cpp's header says what window is left).
bool ctx_cancel_tree(cancel_node* n, int err, std::error_code cause, bool remove_from_parent,
                     bool wait_for_others = false) noexcept;

// Increments n's count unless it is 0 (n is being freed).
bool ctx_try_retain(ctx_node* n) noexcept;

// signal.cpp: forgets n's signal registration (restoring the signals'
// earlier actions once nobody is registered). Idempotent.
void signal_unregister(cancel_node* n) noexcept;

}  // namespace goro::detail
