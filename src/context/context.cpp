// The context tree: creation, cancellation and its propagation, lookups,
// context_after_func, std::stop_token interop. Nodes are described in
// context.hpp; the public contract in goro/context.hpp.
//
// Cancellation (ctx_cancel_tree), the one protocol here, in two phases
// per node so that Go's guarantee holds: once a context's err() is seen
// set, so is every descendant's (Go gets it by holding the parent's lock
// while it cancels the children; here no two node locks are ever held).
//  1. mark_cancelling, under n->mu: if n->cancelling is set, stop (someone
//     else is cancelling n). Else record the error and cause; move the
//     children off n's list onto the canceller's work list (each only if
//     its count can be raised from non-zero: a child at zero is being
//     freed and waits for this lock to unlink itself; it finds itself
//     detached and goes), with n itself pushed beneath them as a marker;
//     delete n's timer if pending. After funcs stay on the list.
//  2. The work list is popped: a child gets phase 1 (its own children go
//     on top of its marker); a marker means the node's subtree is done,
//     and the node gets phase 2.
//  3. publish, under n->mu: store err (release); take the done channel
//     (putting the shared closed channel there if none was made) and the
//     after funcs left on the list. Then, with no lock: close the done
//     channel (so err is set before done is closed) and start each after
//     func in a goroutine (so f sees err set).
//  4. The root is published last; then, if asked, it is unlinked from its
//     parent anchor's list (under pa->mu).
// Meanwhile a new child of a node being cancelled is cancelled at once by
// its creator (attach sees `cancelling`), and an after func registered on
// it goes on its list, for publish to start.
// The work list is a stack threaded through the entries' `next` fields
// (which the detacher owns), so cancelling a million-node tree neither
// allocates nor recurses: goroutine and scheduler stacks are small.
//
// The other direction holds too: whoever sees a descendant done by a
// cancellation sees the ancestor's err() set, as in Go (where Err takes
// the lock the canceller holds throughout): `cancelling` is set in phase
// 1, before any descendant is published, and err() of a node that is
// cancelling but not yet published waits for the publish (err_of).
//
// A descendant being cancelled at the same moment by someone else (its
// own cancel function, its deadline) is skipped by phase 1. Go's canceller
// would wait on the descendant's lock. A cancel function waits, before it
// publishes its node, for each child it found busy (ctx_cancel_tree's
// wait_for_others), so when it returns, err() is set for every descendant
// it or those cancellers reached. One window is left where Go has none:
// a timer callback on a scheduler stack cannot wait, so a deadline's
// cancel that found a busy child publishes without waiting; a cancel
// function waiting for that deadline's node may then return while a
// descendant of the busy child is still on its way (its err() follows a
// moment later). It needs two cancellations of one subtree at once and a
// deadline between them.
//
// Invariants:
//  C1. cancelling goes 0 -> errc once, under mu, with cause; err goes
//      0 -> cancelling once, under mu, after every descendant that was on
//      the list at phase 1 was published, or was being cancelled by another
//      canceller (above).
//  C2. done is closed exactly once, by the one who set err, after it.
//  C3. An entry is on at most one list; `attached` says whether it is on
//      its owner's, guarded by the owner's mu. Every detach clears it.
//  C4. A node on a list is alive: a child unlinks itself (under pa->mu)
//      before it is freed; a registration holds its owner (until the
//      registration itself is freed: stop() locks owner->mu through it).
//  C5. Once cancelling, a node's list holds only after funcs (children
//      added then are cancelled by their creator, never listed); once
//      published, it is empty and stays so.
//  C6. A deadline node's pending timer holds a reference to it; the timer
//      reference is released by the timer's function once it ran, or by
//      the canceller whose timer_del removed it, never both. (The timer's
//      function runs on a scheduler stack: if its release is the last and
//      a with_value node would be freed, a goroutine of its own makes it,
//      release_off_scheduler.)
//
// Lock order: a node's mu (rank `context`) is never held together with
// another node's mu: propagation goes parent -> child by taking the
// children off the parent's list under the parent's lock, releasing it,
// then locking each child in turn. Under mu the only other lock taken is a
// P's timer lock (timer_add/timer_del, rank `timers`); channels are made
// under it but closed and released outside it; goroutines are started
// with no lock held. So cancelling from a timer callback, a plain thread,
// a stop_callback and goroutines at once cannot deadlock.
//
// Who touches what: refs are atomics (acq_rel on the decrement that may
// free); every cancel_node field is either immutable after creation or
// guarded by its mu, as context.hpp says per field; err and done are also
// read without the lock (acquire), pairing with the stores under it.
#include "context/context.hpp"

#include <exception>
#include <memory>
#include <new>
#include <stop_token>

#include "base/check.hpp"
#include "base/race.hpp"
#include "goro/chan.hpp"
#include "goro/detail/spawn.hpp"
#include "sched/park.hpp"
#include "sched/sched.hpp"
#include "sched/test_hooks.hpp"
#include "time/timer.hpp"

namespace goro::detail {

namespace {

int err_of(cancel_node* a) noexcept;  // below, with ctx_err

// The closed channel done() returns for a node cancelled before anyone
// asked for its channel (Go's closedchan). Immortal.
hchan* closed_chan() {
  static hchan* c = [] {
    hchan* ch = chan_make(&elem_type_of<unit>::value, 0);
    chan_close(ch);
    return ch;
  }();
  return c;
}

ctx_node g_todo{ctx_kind::todo};

void list_push(cancel_node* owner, ctx_entry* e) {
  e->prev = owner->head.prev;
  e->next = &owner->head;
  owner->head.prev->next = e;
  owner->head.prev = e;
  e->attached = true;
  owner->nentries++;
}

void list_unlink(cancel_node* owner, ctx_entry* e) {
  e->prev->next = e->next;
  e->next->prev = e->prev;
  e->prev = e->next = nullptr;
  e->attached = false;
  owner->nentries--;
}

// noinline: the creation site dumps name is the return address into its
// caller (start_afunc), a pc inside a function as every site is; the
// function's own entry, which it was, reads back as the code before it.
[[gnu::noinline]] void afunc_spawn(ctx_fn* fn) {
  std::unique_ptr<ctx_fn> owned(fn);
  spawn(0, __builtin_return_address(0), [f = owned.get()] {
    std::unique_ptr<ctx_fn> own(f);
    own->run();
  });
  owned.release();
}

void start_afunc(ctx_afunc* a) {
  uint8_t s = kAfuncPending;
  // acq_rel: the winner owns fn (stop's CAS is the other contender).
  if (a->state.compare_exchange_strong(s, kAfuncStarted, std::memory_order_acq_rel)) {
    ctx_fn* fn = std::exchange(a->fn, nullptr);
    afunc_spawn(fn);
  }
  // The registration keeps its reference to the owner until it is freed
  // (ctx_afunc_release): a stop() that won the state may be about to lock
  // owner->mu through a->owner.
  ctx_afunc_release(a);  // the list's reference
}

// Phase 1 (see the top). Returns false if n is cancelling or cancelled
// already. With a marker, n itself is pushed (finishing) below its
// children, so that it is published after them.
bool mark_cancelling(cancel_node* n, int err, std::error_code cause, ctx_entry** work, bool marker) {
  bool timer_ref;
  {
    lock_guard lk(n->mu);
    if (n->cancelling.load(std::memory_order_relaxed) != 0) return false;
    n->cancelling.store(err, std::memory_order_relaxed);
    n->cause = cause;
    if (marker) {
      n->finishing = true;
      n->ctx_entry::next = *work;
      *work = n;
    }
    for (ctx_entry* e = n->head.next; e != &n->head;) {
      ctx_entry* nx = e->next;
      if (e->type == entry_type::child) {
        list_unlink(n, e);
        // A child at zero references is being freed: it waits for this
        // lock to unlink itself, finds itself detached, and goes.
        if (ctx_try_retain(static_cast<cancel_node*>(e))) {
          e->next = *work;
          *work = e;
        }
      }
      e = nx;
    }
    cancel_extras* x = extras(n);
    timer_ref = x != nullptr && x->t != nullptr && timer_del(x->t);
  }
  if (timer_ref) ctx_release(n);  // C6; the caller's reference remains
  return true;
}

// Phase 2: err published, done closed, after funcs started. Only the one
// whose mark_cancelling succeeded calls it, once.
void publish(cancel_node* n) {
  hchan* done;
  ctx_entry* afuncs = nullptr;
  hchan* closed = closed_chan();  // made (and closed) on first use: not under mu
  const int e = n->cancelling.load(std::memory_order_relaxed);  // (set, and only by us: C1)
  // For TSan: the cancel happens before whatever sees it done, through
  // err() or cause() (err_of) or a done() asked for after it, which gets
  // the shared closed channel (ctx_done): Go's canceller holds the
  // context's mutex that Err and Done take. (A done channel made before
  // carries its own edge, from its close to the receive.)
  race_release(n);
  {
    lock_guard lk(n->mu);
    done = n->done.load(std::memory_order_relaxed);
    if (done == nullptr) {
      chan_retain(closed);
      // release: done() readers see a complete channel.
      n->done.store(closed, std::memory_order_release);
      // release: whoever sees err sees the cause and every descendant's
      // err, and the (closed) done channel stored above.
      n->err.store(e | kErrDoneClosed, std::memory_order_release);
    } else {
      n->err.store(e, std::memory_order_release);  // (the same; closed below)
    }
    // Only after funcs are left (C5): take them all.
    while (n->head.next != &n->head) {
      ctx_entry* e = n->head.next;
      list_unlink(n, e);
      e->next = afuncs;
      afuncs = e;
    }
  }
  if (done != nullptr) {
    if (auto* hook = test_hooks::ctx_publish_before_close.load(std::memory_order_relaxed)) hook();
    chan_close(done);  // C2: after err, once
    n->err.store(e | kErrDoneClosed, std::memory_order_release);
  }
  while (afuncs != nullptr) {
    ctx_entry* e = afuncs;
    afuncs = e->next;
    e->next = nullptr;
    start_afunc(static_cast<ctx_afunc*>(e));
  }
}

void remove_from_parent(cancel_node* n) {
  cancel_node* pa = n->pa;
  if (pa == nullptr) return;
  lock_guard lk(pa->mu);
  if (n->attached) list_unlink(pa, n);
}

// Attaches a new cancel node to its parent anchor, or cancels it at once
// if the anchor is done.
void attach(cancel_node* n) {
  cancel_node* pa = n->pa;
  if (pa == nullptr) return;
  int err;
  std::error_code cause;
  {
    lock_guard lk(pa->mu);
    err = pa->cancelling.load(std::memory_order_relaxed);
    if (err == 0) {
      list_push(pa, n);
      return;
    }
    cause = pa->cause;
  }
  ctx_cancel_tree(n, err, cause, false);
}

cancel_node* new_cancel(ctx_node* parent, bool with_extras) {
  cancel_node* n = with_extras ? new cancel_node_ext : new cancel_node;
  if (parent != nullptr) {
    ctx_retain(parent);
    n->parent = parent;
    n->pa = parent->anc;
    n->deadline_ns = parent->deadline_ns;
  }
  n->anc = n;
  return n;
}

// Whether freeing n's chain may run code that blocks: a with_value
// node's value destructor (the user's), a stop_token registration's
// std::stop_callback destructor (waits for a callback running on another
// thread), a signal registration's removal.
bool chain_frees_may_block(ctx_node* n) noexcept {
  for (ctx_node* a = n; a != nullptr; a = a->parent) {
    if (a->kind == ctx_kind::value) return true;
    if (a->kind == ctx_kind::cancel) {
      cancel_extras* x = extras(static_cast<cancel_node*>(a));
      if (x != nullptr && (x->stopcb != nullptr || x->sig.load(std::memory_order_acquire) != nullptr)) return true;
    }
  }
  return false;
}

// Whether this thread is a worker on its scheduler stack (a timer
// callback), which must never block.
bool on_scheduler_stack() noexcept { return current_m() != nullptr && !in_goroutine(); }

// Drops a reference held on a scheduler stack (a timer callback). If it is
// the last and freeing n's chain may block (chain_frees_may_block: user
// code among it), which a scheduler stack cannot, the release is made by a
// goroutine of its own (n is ours alone until it runs: a count of 1 cannot
// grow, as new references come only from held ones).
// The walk comes only for the last reference: a deadline cancelling a
// chain N deep releases N nodes here, nearly all of them still held by
// their users, and walked each one's whole chain first, N^2/2 steps in
// one timer callback (a review, 2026-12-07: 2.3 s of a worker for a
// chain 40,000 deep).
[[gnu::noinline]] void release_off_scheduler(ctx_node* n) noexcept {  // noinline: as afunc_spawn
  int64_t r = n->refs.load(std::memory_order_relaxed);
  while (r > 1) {
    race_release(n);
    // acq_rel: as ctx_release's decrement.
    if (n->refs.compare_exchange_weak(r, r - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) return;
  }
  test_hooks::ctx_chain_walks.fetch_add(1, std::memory_order_relaxed);
  if (!chain_frees_may_block(n)) {
    ctx_release(n);
    return;
  }
  try {
    spawn(0, __builtin_return_address(0), [n] { ctx_release(n); });
  } catch (...) {
    ctx_release(n);  // no goroutine to be had: here, as before
  }
}

void deadline_fire(timer* t, int64_t /*now*/) {
  auto* n = static_cast<cancel_node*>(t->arg);
  const std::error_code& dc = extras(n)->deadline_cause;
  std::error_code cause = dc ? dc : make_error_code(errc::deadline_exceeded);
  ctx_cancel_tree(n, static_cast<int>(errc::deadline_exceeded), cause, true);
  release_off_scheduler(n);  // the timer's reference (C6); may free n and t
}

void destroy_one(ctx_node* n) noexcept {
  switch (n->kind) {
    case ctx_kind::cancel: {
      auto* c = static_cast<cancel_node*>(n);
      cancel_extras* x = extras(c);
      if (x != nullptr) {
        // First: a running stop callback finishes before the node goes.
        delete x->stopcb;
        if (x->sig.load(std::memory_order_acquire) != nullptr) signal_unregister(c);
      }
      remove_from_parent(c);
      GORO_DCHECK(c->nentries == 0);  // C4: entries keep it alive
      if (hchan* d = c->done.load(std::memory_order_relaxed)) chan_release(d);
      if (x != nullptr) {
        delete x->t;  // not pending: a pending timer holds a reference (C6)
        delete static_cast<cancel_node_ext*>(c);
      } else {
        delete c;
      }
      return;
    }
    case ctx_kind::value: {
      auto* v = static_cast<value_node*>(n);
      v->destroy(v->value);
      delete v;
      return;
    }
    case ctx_kind::without_cancel: delete n; return;
    case ctx_kind::todo: return;
  }
}

}  // namespace

bool ctx_try_retain(ctx_node* n) noexcept {
  int64_t r = n->refs.load(std::memory_order_relaxed);
  while (r > 0) {
    if (n->refs.compare_exchange_weak(r, r + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void ctx_retain(ctx_node* n) noexcept {
  // relaxed: a new reference is made from one already held.
  n->refs.fetch_add(1, std::memory_order_relaxed);
}

void ctx_release(ctx_node* n) noexcept {
  // Iterative up the parent chain: dropping a long chain must not recurse.
  while (n != nullptr) {
    race_release(n);  // every use through a handle happens before the free
    // acq_rel: the last releaser sees every other holder's writes.
    if (n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    race_acquire(n);
    ctx_node* parent = n->parent;
    destroy_one(n);
    n = parent;
  }
}

bool ctx_cancel_tree(cancel_node* n, int err, std::error_code cause, bool remove, bool wait_for_others) noexcept {
  ctx_entry* work = nullptr;
  if (!mark_cancelling(n, err, cause, &work, false)) {
    if (wait_for_others) (void)err_of(n);  // someone else's cancel of n: until it is published
    return false;
  }
  // Two lists threaded through `next`, which the detacher (we) owns:
  //  - busy: children another canceller is busy with (their own cancel,
  //    their deadline), to wait for before n is published;
  //  - done: every node whose reference we hold and no longer need. They
  //    are released only after n is published: dropping the last
  //    reference to a node frees it and its value ancestors, whose
  //    destructors are the user's and may call err() of a node we are
  //    cancelling, which would wait for us.
  ctx_entry* busy = nullptr;
  ctx_entry* done = nullptr;
  while (work != nullptr) {
    auto* c = static_cast<cancel_node*>(work);
    work = work->next;
    c->ctx_entry::next = nullptr;
    if (c->finishing) {
      publish(c);  // its whole subtree is published
    } else if (mark_cancelling(c, err, cause, &work, true)) {
      continue;  // its reference now rides on its marker
    } else if (wait_for_others && c->err.load(std::memory_order_acquire) == 0) {
      c->ctx_entry::next = busy;
      busy = c;
      continue;
    }
    c->ctx_entry::next = done;  // the reference taken when it was detached
    done = c;
  }
  // A busy child is published after its whole subtree (bottom-up), so once
  // its err is set, so is that of every descendant its canceller reached.
  // No cycle of waits: each points down the tree, and the other canceller
  // publishes what it marked before it waits for anything.
  while (busy != nullptr) {
    auto* c = static_cast<cancel_node*>(busy);
    busy = busy->next;
    (void)err_of(c);
    c->ctx_entry::next = done;
    done = c;
  }
  publish(n);
  if (remove) remove_from_parent(n);
  if (auto* hook = test_hooks::ctx_cancel_before_release.load(std::memory_order_relaxed)) hook();
  // A deadline's cancel runs in a timer callback: a reference dropped
  // there may be a child's last (its handles dropped meanwhile), and
  // freeing it may run a value's destructor, which may block.
  const bool sched_stack = on_scheduler_stack();
  while (done != nullptr) {
    auto* c = static_cast<cancel_node*>(done);
    done = done->next;
    c->ctx_entry::next = nullptr;
    if (sched_stack)
      release_off_scheduler(c);
    else
      ctx_release(c);
  }
  return true;
}

ctx_node* ctx_todo() noexcept {
  ctx_retain(&g_todo);  // never reaches 0: the static holds one
  return &g_todo;
}

ctx_node* ctx_with_cancel(ctx_node* parent) {
  cancel_node* n = new_cancel(parent, false);
  attach(n);
  return n;
}

ctx_node* ctx_with_cancel_extended(ctx_node* parent) {
  cancel_node* n = new_cancel(parent, true);
  attach(n);
  return n;
}

ctx_node* ctx_with_deadline(ctx_node* parent, int64_t deadline_ns, std::error_code cause) {
  if (parent != nullptr && parent->deadline_ns <= deadline_ns) return ctx_with_cancel(parent);
  // The timer first: if it cannot be had, nothing was made.
  std::unique_ptr<timer> owned_t(deadline_ns < kFarFutureNs ? new timer : nullptr);
  cancel_node* n = new_cancel(parent, true);
  n->deadline_ns = deadline_ns;
  extras(n)->deadline_cause = cause;
  attach(n);
  if (n->err.load(std::memory_order_acquire) != 0) return n;
  std::error_code dcause = cause ? cause : make_error_code(errc::deadline_exceeded);
  if (deadline_ns <= steady_now_ns()) {
    ctx_cancel_tree(n, static_cast<int>(errc::deadline_exceeded), dcause, true);
    return n;
  }
  if (!owned_t) return n;  // never comes (saturated)
  timer* t = owned_t.get();
  t->when = deadline_ns;
  t->fn = deadline_fire;
  t->arg = n;
  std::exception_ptr failed;
  {
    lock_guard lk(n->mu);
    if (n->cancelling.load(std::memory_order_relaxed) != 0) return n;  // cancelled meanwhile (by the parent)
    extras(n)->t = t;
    ctx_retain(n);  // the timer's reference (C6)
    try {
      timer_add(t);  // throws std::bad_alloc if its P's queue cannot grow
      owned_t.release();
      return n;
    } catch (...) {
      failed = std::current_exception();
      extras(n)->t = nullptr;
      n->refs.fetch_sub(1, std::memory_order_relaxed);  // not the last: the caller's remains
    }
  }
  // The caller never gets n: its reference goes, which unlinks n from its
  // parent (a node left there would hold the parent for ever).
  ctx_release(n);
  std::rethrow_exception(failed);
}

ctx_node* ctx_with_value(ctx_node* parent, const void* key, void* value, void (*destroy)(void*) noexcept) {
  value_node* n;
  try {
    n = new value_node;
  } catch (...) {
    destroy(value);
    throw;
  }
  n->key = key;
  n->value = value;
  n->destroy = destroy;
  if (parent != nullptr) {
    ctx_retain(parent);
    n->parent = parent;
    n->anc = parent->anc;
    n->deadline_ns = parent->deadline_ns;
  }
  return n;
}

ctx_node* ctx_without_cancel(ctx_node* parent) {
  auto* n = new ctx_node(ctx_kind::without_cancel);
  if (parent != nullptr) {
    ctx_retain(parent);
    n->parent = parent;
  }
  return n;
}

void ctx_cancel(ctx_node* n, std::error_code cause) noexcept {
  GORO_DCHECK(n->kind == ctx_kind::cancel);
  auto* c = static_cast<cancel_node*>(n);
  ctx_cancel_tree(c, static_cast<int>(errc::canceled), cause ? cause : make_error_code(errc::canceled), true,
                  /*wait_for_others=*/true);
  if (cancel_extras* x = extras(c); x != nullptr && x->sig.load(std::memory_order_acquire) != nullptr)
    signal_unregister(c);
}

hchan* ctx_done(ctx_node* n) {
  cancel_node* a = n != nullptr ? n->anc : nullptr;
  if (a == nullptr) return nullptr;
  // acquire: pairs with the release stores below and in the canceller.
  hchan* d = a->done.load(std::memory_order_acquire);
  if (d == nullptr) {
    hchan* fresh = chan_make(&elem_type_of<unit>::value, 0);
    {
      lock_guard lk(a->mu);
      d = a->done.load(std::memory_order_relaxed);
      if (d == nullptr) {
        a->done.store(fresh, std::memory_order_release);
        d = fresh;
        fresh = nullptr;
      }
    }
    if (fresh != nullptr) chan_release(fresh);  // lost the race to another done()
  }
  // The shared closed channel, stored by a cancel that came first: its
  // close was long ago, so the edge from this cancel is publish's release.
#if defined(GORO_TSAN)
  if (d == closed_chan()) race_acquire(a);
#endif
  chan_retain(d);
  return d;
}

namespace {

// a's err, waiting for it if a is being cancelled (phase 1 done, not
// published). Go's Err takes the context's lock, which its canceller holds
// until every descendant is cancelled, so whoever saw a descendant done
// by this cancellation sees err set. Here err is published after the
// descendants (C1), but `cancelling` before any of them: a reader that
// finds it set waits for the publish, on the done channel, which publish
// closes after storing err. (An observer of a descendant's done saw that
// descendant's close, which the canceller made after setting a's
// `cancelling`: it reads it set.)
// And err set is not enough: done must be closed too (Go: "If Done is not
// yet closed, Err returns nil"; Go 1.25's Err receives from Done before it
// returns an error). publish stores err, closes a done channel someone
// made, then sets kErrDoneClosed in err; a reader that finds err without
// that bit waits on done as well (a window of one chan_close).
// It does not wait on a scheduler stack (user code run by a deadline's
// timer callback, a destructor of a value the canceller freed), which
// cannot park: there it returns err as it is, as before.
int err_of(cancel_node* a) noexcept {
  int e = a->err.load(std::memory_order_acquire);
  if ((e & kErrDoneClosed) != 0) {
    race_acquire(a);  // publish's release
    return e & ~kErrDoneClosed;
  }
  if (e == 0 && a->cancelling.load(std::memory_order_acquire) == 0) return 0;
  if (on_scheduler_stack()) {
    if (e != 0) race_acquire(a);
    return e;
  }
  try {
    hchan* d = ctx_done(a);
    unit u;
    while (chan_recv(d, &u) == op_result::ok) {
    }
    chan_release(d);
  } catch (...) {
    // No memory for a done channel: no wait.
  }
  e = a->err.load(std::memory_order_acquire) & ~kErrDoneClosed;
  if (e != 0) race_acquire(a);
  return e;
}

}  // namespace

std::error_code ctx_err(ctx_node* n) noexcept {
  cancel_node* a = n != nullptr ? n->anc : nullptr;
  if (a == nullptr) return {};
  int e = err_of(a);
  if (e == 0) return {};
  return make_error_code(static_cast<errc>(e));
}

std::error_code ctx_cause(ctx_node* n) noexcept {
  cancel_node* a = n != nullptr ? n->anc : nullptr;
  if (a == nullptr) return {};
  // acquire (in err_of): the cause was written before err (C1).
  if (err_of(a) == 0) return {};
  return a->cause;
}

int64_t ctx_deadline(ctx_node* n) noexcept { return n != nullptr ? n->deadline_ns : INT64_MAX; }

const void* ctx_value(ctx_node* n, const void* key) noexcept {
  for (; n != nullptr; n = n->parent) {
    if (n->kind == ctx_kind::value && static_cast<value_node*>(n)->key == key) return static_cast<value_node*>(n)->value;
  }
  return nullptr;
}

ctx_afunc* ctx_after_func(ctx_node* n, ctx_fn* fn) {
  std::unique_ptr<ctx_fn> owned(fn);
  auto* a = new ctx_afunc;
  cancel_node* owner = n != nullptr ? n->anc : nullptr;
  if (owner == nullptr) return a;  // never done: f never runs; fn freed here
  {
    lock_guard lk(owner->mu);
    // While the node is being cancelled (not yet published) the
    // registration still goes on its list: publish() starts it after err
    // is visible, so f always sees ctx.err() set.
    if (owner->err.load(std::memory_order_relaxed) == 0) {
      a->fn = owned.release();
      a->refs.fetch_add(1, std::memory_order_relaxed);  // the list's
      ctx_retain(owner);                                 // the registration's
      a->owner = owner;
      list_push(owner, a);
      return a;
    }
  }
  a->state.store(kAfuncStarted, std::memory_order_relaxed);  // done already: run now
  try {
    afunc_spawn(owned.release());  // frees fn if it throws
  } catch (...) {
    ctx_afunc_release(a);  // the only reference: the caller never gets the handle
    throw;
  }
  return a;
}

bool ctx_afunc_stop(ctx_afunc* a) noexcept {
  uint8_t s = kAfuncPending;
  // acq_rel: the winner owns fn (start_afunc's CAS is the other contender).
  if (!a->state.compare_exchange_strong(s, kAfuncStopped, std::memory_order_acq_rel)) return false;
  delete std::exchange(a->fn, nullptr);
  bool mine = false;
  cancel_node* owner = a->owner;
  if (owner != nullptr) {
    lock_guard lk(owner->mu);
    if (a->attached) {
      list_unlink(owner, a);
      mine = true;
    }
  }
  // Whoever takes the entry off the list drops the list's reference (a
  // canceller that detached it does so in start_afunc). a->owner stays
  // (immutable once registered; its reference goes with a).
  if (mine) ctx_afunc_release(a);
  return true;
}

void ctx_afunc_retain(ctx_afunc* a) noexcept { a->refs.fetch_add(1, std::memory_order_relaxed); }

void ctx_afunc_release(ctx_afunc* a) noexcept {
  race_release(a);
  // acq_rel: the last releaser sees every other holder's writes.
  if (a->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  race_acquire(a);
  delete a->fn;  // a registration never started nor stopped (never done)
  cancel_node* owner = a->owner;
  delete a;
  if (owner != nullptr) ctx_release(owner);  // the registration's reference
}

namespace {

// with_stop_token's callback: cancels the node when a stop is requested.
// It may run on the requesting thread while the node's last reference is
// being dropped elsewhere: the node's destructor deletes the callback
// first, and std::stop_callback's destructor waits for a running callback.
struct stop_cb final : stop_cb_base {
  struct fire {
    cancel_node* n;
    void operator()() const noexcept {
      // A node at zero references is being freed: nobody can see it.
      if (!ctx_try_retain(n)) return;
      ctx_cancel_tree(n, static_cast<int>(errc::canceled), make_error_code(errc::canceled), true);
      ctx_release(n);
    }
  };
  stop_cb(std::stop_token st, cancel_node* n) : cb(std::move(st), fire{n}) {}
  std::stop_callback<fire> cb;
};

}  // namespace

ctx_node* ctx_with_stop_token(ctx_node* parent, std::stop_token st) {
  cancel_node* n = new_cancel(parent, true);
  attach(n);
  try {
    // If a stop was already requested, the callback runs here.
    extras(n)->stopcb = new stop_cb(std::move(st), n);
  } catch (...) {
    ctx_release(n);
    throw;
  }
  return n;
}

int64_t context_child_count(const context& ctx) noexcept {
  ctx_node* n = ctx_access::node(ctx);
  cancel_node* a = n != nullptr ? n->anc : nullptr;
  if (a == nullptr) return 0;
  lock_guard lk(a->mu);
  return a->nentries;
}

}  // namespace goro::detail
