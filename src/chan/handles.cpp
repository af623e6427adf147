// Handle tracking: the table of live channel handles that the
// partial-deadlock report (diag/partial_deadlock.cpp) reads to find who
// holds each channel. See docs/design.md section 7b.
//
// What it is: a set of addresses, each the `hchan* c_` field of a live
// chan_handle (chan, send_chan, recv_chan, and the handles inside a
// context or a timer's channel() result). A handle registers its field
// when constructed and removes it when destroyed, only while tracking is
// on (goro/detail/chan_core.hpp: one relaxed load when off). Assignment
// and swap change the field's value, not its address, so they need no
// hook: the report reads the field itself, and reads it only while the
// handle is in the table, i.e. alive.
//
// Invariants, which make the report sound (it never calls a channel
// unreachable while a reference to it is unaccounted for):
//  H1. A copy or adoption takes its reference (refs_) before the handle
//      registers; a destructor unregisters before it drops its reference.
//      So at any instant under the table lock, every reference a
//      registered handle does not explain is still counted in refs_: the
//      report sees more references than handles, and calls the channel
//      reachable.
//  H2. A handle not in the table (made before tracking began, or whose
//      insertion failed for lack of memory) is unknown: its reference has
//      no handle, as in H1. Tracking is never turned off, so no entry
//      outlives its handle.
//  H3. Internal references (an after() channel's pending timer, a select
//      case's `hold`, a context's own reference to its done channel) have
//      no handle either, as in H1. Timer channels count their handles on
//      the timer record, not refs_: the census marks them UINT64_MAX.
//
// Lock order: the table lock ranks `leaf`: a handle may be made or
// destroyed under a channel lock (an element of type chan<T> moved by a
// send) or any other runtime lock, and nothing is taken under it.
#include "chan/handles.hpp"

#include <algorithm>
#include <atomic>
#include <new>
#include <unordered_set>

#include "base/debug_env.hpp"
#include "base/lock.hpp"
#include "sched/g.hpp"

namespace goro::detail {

std::atomic<bool> handle_tracking_on{false};

namespace {

struct handle_table {
  runtime_lock lock{lock_rank::leaf};
  std::unordered_set<const void*> slots;
};

// Never destroyed: handles in static objects are destroyed after it would be.
handle_table& table() {
  static handle_table* t = new handle_table;
  return *t;
}

// GORO_DEBUG=chanleak=1 turns tracking on before main (handles made by
// earlier static initializers are unknown, H2).
const bool g_from_env = [] {
  if (debug_setting("chanleak", 0) != 0) handle_tracking_start();
  return true;
}();

}  // namespace

void handle_tracking_start() noexcept {
  table();  // made before any handle can use it
  handle_tracking_on.store(true, std::memory_order_relaxed);  // relaxed: see chan_core.hpp
}

void track_handle(hchan* const* slot) noexcept {
  handle_table& t = table();
  t.lock.lock();
  try {
    t.slots.insert(slot);
  } catch (const std::bad_alloc&) {
    // Unknown handle: sound (H2).
  }
  t.lock.unlock();
}

void untrack_handle(hchan* const* slot) noexcept {
  handle_table& t = table();
  t.lock.lock();
  t.slots.erase(slot);
  t.lock.unlock();
}

namespace {

// The value of a registered handle's field. The handle is alive (it is in
// the table and we hold the lock its destructor needs), but its owner may
// be assigning it: an atomic read, so that our side is defined; a torn
// view cannot arise (one aligned pointer), a stale one is covered by H1.
hchan* read_slot(const void* slot) {
  hchan* v;
  __atomic_load(static_cast<hchan* const*>(slot), &v, __ATOMIC_RELAXED);
  return v;
}

}  // namespace

void tracked_channels(std::vector<hchan*>& out) {
  out.clear();
  if (!handle_tracking_on.load(std::memory_order_relaxed)) return;
  handle_table& t = table();
  t.lock.lock();
  out.reserve(t.slots.size());
  for (const void* slot : t.slots)
    if (hchan* c = read_slot(slot)) out.push_back(c);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  // Safe: each channel has a registered, hence live, handle, whose
  // reference keeps it alive until the handle leaves the table (H1).
  for (hchan* c : out) chan_retain(c);
  t.lock.unlock();
}

void chan_waiters(hchan* c, std::vector<chan_waiter>& out) {
  c->lock_.lock();
  for (const waitq* q : {&c->recvq_, &c->sendq_}) {
    for (const sudog* s = q->first; s != nullptr; s = s->next) {
      if (s->gp == nullptr || s->gp->is_thread) continue;
      chan_waiter w;
      w.gp = s->gp;
      if (s->sel != nullptr) {
        // s is queued, so its select has not left select_go: the whole
        // sudog array is alive, and was written before any was queued.
        w.claimed = s->sel->done.load() != 0;
        for (int i = 0; i < s->sel->n; i++) w.ops.push_back({s->sel->sgs[i].c, &s->sel->sgs[i]});
      } else {
        w.ops.push_back({c, s});
      }
      out.push_back(std::move(w));
    }
  }
  c->lock_.unlock();
}

bool chan_still_waiting(hchan* c, const sudog* s) {
  bool found = false;
  c->lock_.lock();
  for (const waitq* q : {&c->recvq_, &c->sendq_}) {
    for (const sudog* x = q->first; x != nullptr && !found; x = x->next) found = x == s;
  }
  // Dereferenced only once found: queued, so alive (I3).
  if (found && s->sel != nullptr && s->sel->done.load() != 0) found = false;
  c->lock_.unlock();
  return found;
}

void take_handle_census(const std::vector<hchan*>& chans, handle_census& out) {
  out.refs.assign(chans.size(), 0);
  out.handles.clear();
  handle_table& t = table();
  t.lock.lock();
  for (size_t i = 0; i < chans.size(); i++) {
    hchan* c = chans[i];
    if (c->timer_owner_ != nullptr) {
      out.refs[i] = UINT64_MAX;
      continue;
    }
    // relaxed: the table lock orders what matters (H1). A handle
    // registered before we took the lock took its reference before
    // registering, so that increment happens before this read; a handle
    // that unregistered before drops its reference after, and whether we
    // see that decrement or not, references only exceed handles.
    out.refs[i] = c->refs_.load(std::memory_order_relaxed) - 1;  // less the caller's
  }
  for (const void* slot : t.slots) {
    hchan* c = read_slot(slot);
    if (c == nullptr || !std::binary_search(chans.begin(), chans.end(), c)) continue;
    out.handles.emplace_back(slot, c);
  }
  t.lock.unlock();
}

}  // namespace goro::detail
