// goro::timer, goro::ticker, goro::after_func: records on the per-P timer
// heaps. Design, invariants (T1-T5) and lock order in time/gotimer.hpp.
//
// Layering: this file sits above the channel core (it offers its values
// through chan/hchan.hpp's sudogs and send_locked), as Go's time.go sits
// above chan.go; the per-P heaps it uses (timers.cpp) sit below both.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

#include "base/check.hpp"
#include "base/futex.hpp"
#include "base/race.hpp"
#include "chan/hchan.hpp"
#include "goro/detail/spawn.hpp"
#include "sched/g.hpp"
#include "sched/test_hooks.hpp"
#include "time/gotimer.hpp"
#include "time/rec_slab.hpp"
#include "time/timer_stats.hpp"

namespace goro::detail {

namespace test_hooks {
std::atomic<void (*)()> after_func_started{nullptr};
std::atomic<void (*)(const void*)> timer_about_to_fire{nullptr};
std::atomic<void (*)(const void*)> after_waits_for_fire{nullptr};
std::atomic<bool> timer_sudog_alloc_fails{false};
}

namespace {

static_assert(sizeof(timer_rec) <= kTimerSlabSlot && alignof(timer_rec) <= kTimerSlabAlign,
              "a channel timer's record fits a slab slot");
static_assert(sizeof(hchan) <= kTimerSlabCompanion && alignof(hchan) <= 8, "its channel fits the slot's companion");

using time_point = std::chrono::steady_clock::time_point;

std::atomic<int64_t> live_recs{0};  // relaxed: a statistic

timer_rec* rec_of(timer* t) { return reinterpret_cast<timer_rec*>(t); }

void rec_free(timer_rec* t) noexcept {
  live_recs.fetch_sub(1, std::memory_order_relaxed);
  if (t->kind == timer_kind::func) {
    auto* ops = static_cast<const timer_func_ops*>(t->t.arg);
    ops->destroy(reinterpret_cast<unsigned char*>(t) + t->closure_off);
    std::size_t align = t->closure_align;
    t->~timer_rec();
    ::operator delete(t, std::align_val_t(align));
    return;
  }
  // No handle is left (every one counted in refs): the channel goes with
  // the record. As chan_free: every use through a handle happens before
  // this (chan_release's race_release).
  race_acquire(t->c);
  delete t->sd;
  t->c->~hchan();
  t->~timer_rec();
  timer_slab_free(t);
}

void fire(timer* tm, int64_t now);

// The virtual sender of t's values (T3), made the first time a value has
// to wait for its receiver. Under t->lock and its channel's lock. Out of
// memory is fatal: this runs where a timer fires, with nobody to tell (as
// after_func's goroutine, start_func).
sudog* virtual_sender_locked(timer_rec* t) {
  if (t->sd == nullptr) {
    auto* sd = test_hooks::timer_sudog_alloc_fails.load(std::memory_order_relaxed) ? nullptr : new (std::nothrow) sudog;
    if (sd == nullptr) fatal("time: out of memory queueing a timer's value");
    sd->elem = &t->value;
    sd->c = t->c;
    sd->is_send = true;
    t->sd = sd;
  }
  return t->sd;
}

// Offers the time value_ns on the channel. A ticker's tick is dropped
// while one is pending. Under t->lock.
void deliver_locked(timer_rec* t, int64_t value_ns, ready_list& rl) {
  hchan* c = t->c;
  lock_guard lk(c->lock_);
  if (t->sd != nullptr && t->sd->in_queue) return;  // a tick still waits: drop this one
  t->value = time_point(std::chrono::nanoseconds(value_ns));
  // A parked receiver (or select) takes it now; else the virtual sender
  // queues. The channel is never closed (nobody can close it).
  if (send_locked(c, &t->value, rl) == op_result::would_block) {
    virtual_sender_locked(t)->result = wake::none;
    c->sendq_.enqueue(t->sd);
    c->sync_flag(c->send_waiting_, c->sendq_);
  }
}

// Withdraws a pending value. True if there was one. Under t->lock.
bool drain_locked(timer_rec* t) {
  hchan* c = t->c;
  lock_guard lk(c->lock_);
  if (t->sd == nullptr || !t->sd->in_queue) return false;
  c->sendq_.remove(t->sd);
  c->sync_flag(c->send_waiting_, c->sendq_);
  return true;
}

// Removes the heap entry, if one is there (T2), and the runtime's
// reference with the last entry (T1). Under t->lock, by a caller that holds
// a reference of its own (a handle's, or a fire's entry still counted), so
// the count cannot reach 0 here.
void unqueue_locked(timer_rec* t) {
  if (t->entries.load(std::memory_order_relaxed) > 0 && timer_del(&t->t) &&
      t->entries.fetch_sub(1, std::memory_order_acq_rel) == 1)
    t->refs.fetch_sub(1, std::memory_order_acq_rel);  // acq_rel: as any release
}

// Adds the heap entry for t->t.when. Under t->lock, by a caller holding a
// reference.
void enqueue_locked(timer_rec* t) {
  unqueue_locked(t);
  const bool first = t->entries.fetch_add(1, std::memory_order_relaxed) == 0;
  if (first) t->refs.fetch_add(1, std::memory_order_relaxed);  // T1; relaxed: we hold one
  try {
    timer_add(&t->t);
  } catch (...) {
    // Out of memory growing the P's queue or heap: nothing was queued.
    // Undo the counts, and leave the record disarmed, so that releasing
    // its lock does not arm the lock-free stop (T5) for a P it never got.
    t->entries.fetch_sub(1, std::memory_order_relaxed);
    if (first) t->refs.fetch_sub(1, std::memory_order_relaxed);
    t->armed = false;
    throw;
  }
}

// The record's lock, with the lock-free Stop (T5) folded in: on taking it,
// the lock-free state is taken back, and a Stop that happened lock-free
// is applied (disarmed, its zombie entry deleted unless a pop or a reaper
// already dropped it, which then hands its count back: fire). On releasing
// it, the lock-free Stop is allowed again if the record is in the state
// it covers (T5).
class rec_lock {
 public:
  explicit rec_lock(timer_rec* t) : t_(t) {
    t_->lock.lock();
    uint32_t s = timer_lf_disarm(&t_->t);
    if (s == kLfZombie || s == kLfReaped) {
      t_->armed = false;
      unqueue_locked(t_);
    }
  }
  ~rec_lock() {
    if (lf_stoppable(t_)) timer_lf_arm(&t_->t);
    t_->lock.unlock();
  }
  rec_lock(const rec_lock&) = delete;
  rec_lock& operator=(const rec_lock&) = delete;

  // T5's state: a channel timer (an after_func's record must be freed, and
  // its function destroyed, when its last handle goes after a Stop, not
  // when a reaper comes; a channel timer's record has nothing a program
  // can see go), armed (so its entry is on a heap, or popped
  // and about to fire, which then finds it stopped), and with nothing to
  // withdraw: a one-shot that is armed has no value pending (firing
  // disarms it, re-arming withdraws first), a ticker none only while it
  // has never queued a tick (no virtual sender yet: a channel's queued
  // tick is guarded by the channel's lock, not ours).
  static bool lf_stoppable(const timer_rec* t) {
    return t->kind == timer_kind::chan && t->armed && (t->period == 0 || t->sd == nullptr);
  }

 private:
  timer_rec* t_;
};

// Go's Stop under the lock: disarms, withdraws the value. True if the
// timer was pending or its value unreceived.
bool stop_locked(timer_rec* t) {
  bool pending = t->armed;
  t->armed = false;
  unqueue_locked(t);
  if (t->kind == timer_kind::chan && drain_locked(t)) pending = true;
  return pending;
}

// The goroutine of an after_func firing: runs the function, then drops
// the reference the firing took for it.
struct func_run {
  timer_rec* t;
  static void invoke(void* p) {
    timer_rec* t = static_cast<func_run*>(p)->t;
    static_cast<const timer_func_ops*>(t->t.arg)->invoke(reinterpret_cast<unsigned char*>(t) + t->closure_off);
  }
  static void destroy(void* p) noexcept { timer_rec_release(static_cast<func_run*>(p)->t); }
  static constexpr closure_ops ops{&invoke, &destroy};
};

// Drops the runtime's reference on a scheduler stack (fire). The last one
// of an after_func's record destroys its function, whose captures' user
// destructors may block on goro primitives (its last handle was dropped
// while a stale fire was under way): a goroutine of its own does that
// release. (The record is ours alone at a count of 1.)
struct release_run {
  timer_rec* t;
  static void invoke(void*) {}
  static void destroy(void* p) noexcept { timer_rec_release(static_cast<release_run*>(p)->t); }
  static constexpr closure_ops ops{&invoke, &destroy};
};

void release_off_scheduler(timer_rec* t) {
  if (t->kind != timer_kind::func) {
    timer_rec_release(t);
    return;
  }
  race_release(&t->refs);  // as timer_rec_release
  uint32_t r = t->refs.load(std::memory_order_relaxed);
  while (r > 1)
    if (t->refs.compare_exchange_weak(r, r - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) return;
  void* storage = nullptr;
  g* gp;
  try {
    gp = g_reserve(sizeof(release_run), alignof(release_run), 0, &storage);
  } catch (const std::exception&) {
    timer_rec_release(t);  // no goroutine to be had: here, as before
    return;
  }
  ::new (storage) release_run{t};
  gp->by_timer = true;
  g_start(gp, &release_run::ops, t->created_pc);
}

void start_func(timer_rec* t) {
  void* storage = nullptr;
  g* gp;
  try {
    gp = g_reserve(sizeof(func_run), alignof(func_run), 0, &storage);
  } catch (const std::exception& e) {
    fatal("time: AfterFunc cannot start its goroutine: %s", e.what());
  }
  ::new (storage) func_run{t};
  gp->by_timer = true;  // its creator is the timer, not the worker's scheduler
  g_start(gp, &func_run::ops, t->created_pc);
}

// A channel timer whose deadline has passed (armed, t.when <= now):
// offers its value and re-arms a ticker for its next tick, or disarms a
// one-shot. The value is the deadline, not `now`, as Go's sendTime sends
// (a late fire or a late receive does not move it). Under t->lock.
void run_chan_locked(timer_rec* t, int64_t now, ready_list& rl) {
  deliver_locked(t, t->t.when, rl);
  if (t->period > 0) {
    // The next tick on the grid when + k * period, skipping the
    // ticks this fire was late for (Go's runtime/time.go does the same).
    int64_t late = now - t->t.when;
    int64_t k = 1 + late / t->period;
    int64_t next = (t->period > (kFarFutureNs - t->t.when) / k) ? kFarFutureNs : t->t.when + k * t->period;
    t->t.when = next;
    enqueue_locked(t);
  } else {
    // The heap entry, if not popped yet, is stale now: its pop finds the
    // record disarmed and does nothing but drop its count.
    t->armed = false;
  }
}

// The heap's callback, on a worker's scheduler stack (time/timer.hpp).
void fire(timer* tm, int64_t now) {
  timer_rec* t = rec_of(tm);
  if (now == kTimerReaped) {
    // A reaper dropped the entry of a lock-free Stop (T5) and hands its
    // count back. Nothing fires. No lock: entries' last decrement may come
    // from here (T1).
    if (t->entries.fetch_sub(1, std::memory_order_acq_rel) == 1) timer_rec_release(t);
    return;
  }
  ready_list rl;
  bool run_func = false;
  bool release_runtime_ref = false;
  {
    rec_lock lk(t);
    // This fire's entry stays counted until the end, so that re-arming
    // (and the timer_del before it) never drops the runtime's reference.
    if (t->armed && t->t.when <= now) {  // else stale (an older arming)
      if (t->kind == timer_kind::func) {
        t->armed = false;
        run_func = true;
        t->refs.fetch_add(1, std::memory_order_relaxed);  // the goroutine's; the runtime's is held
      } else if (t->refs.load(std::memory_order_relaxed) == 1) {
        t->armed = false;  // only the runtime's reference: nobody can see it
      } else {
        run_chan_locked(t, now, rl);
      }
    }
    // T1: dropped below, after unlocking.
    release_runtime_ref = t->entries.fetch_sub(1, std::memory_order_acq_rel) == 1;
  }
  rl.ready_all();
  if (run_func) {
    // The runtime's reference first, while the goroutine's (taken above)
    // keeps the record: were the goroutine to run and drop its own first,
    // on another worker, this release would be the last, and the
    // function's captures would be destroyed here, on a scheduler stack,
    // where a destructor that blocks on a goro primitive cannot.
    if (release_runtime_ref) timer_rec_release(t);
    start_func(t);
    if (auto hook = test_hooks::after_func_started.load(std::memory_order_relaxed)) hook();
    return;
  }
  if (release_runtime_ref) release_off_scheduler(t);
}

timer_rec* rec_alloc(std::size_t extra, std::size_t align, std::size_t* off) {
  std::size_t a = std::max(align, alignof(timer_rec));
  std::size_t o = (sizeof(timer_rec) + a - 1) / a * a;
  void* mem = ::operator new(o + extra, std::align_val_t(a));
  auto* t = ::new (mem) timer_rec;
  t->t.fn = fire;
  *off = o;
  t->closure_align = static_cast<uint16_t>(a);
  live_recs.fetch_add(1, std::memory_order_relaxed);
  return t;
}

}  // namespace

int64_t timer_recs_live() noexcept { return live_recs.load(std::memory_order_relaxed); }

[[noreturn]] void timer_throw_nil(const char* what) { throw panic_error(what); }

timer_rec* timer_new_chan(int64_t when, int64_t period) {
  void* mem = timer_slab_alloc();  // time/rec_slab.hpp: why not operator new
  auto* t = ::new (mem) timer_rec;
  t->c = ::new (timer_slab_companion(mem)) hchan(&elem_type_of<time_point>::value, 0);
  t->c->sync_view_ = true;
  t->c->timer_owner_ = t;
  live_recs.fetch_add(1, std::memory_order_relaxed);
  t->t.fn = fire;
  t->t.when = when;
  t->period = period;
  t->armed = true;
  // Nobody else knows of the record until its entry is on a heap, so it
  // is not locked: the counts are set, not added (the entry's, T1 and T2,
  // and the runtime's reference beside the caller's), and the lock-free
  // Stop (T5: a fresh one-shot or ticker has nothing to withdraw) is
  // allowed under the heap's lock, before any worker can pop the entry and
  // fire, which then takes the record's lock and the state back as ever.
  // The heap lock's release publishes the record to that worker. Five
  // atomic read-modify-writes fewer than rec_lock + enqueue_locked
  // (toolkit/timer_add alone, six interleaved pairs: median 157 -> 130 ns
  // against the record locked without them; 128 -> 120 for that step).
  t->entries.store(1, std::memory_order_relaxed);
  t->refs.store(2, std::memory_order_relaxed);
  try {
    timer_add_lf_armed(&t->t);
  } catch (...) {
    rec_free(t);  // not queued: nobody else knows of it
    throw;
  }
  return t;
}

[[gnu::noinline]] timer_rec* timer_new_func(std::size_t size, std::size_t align, const timer_func_ops* ops, void** storage) {
  std::size_t off = 0;
  timer_rec* t = rec_alloc(size, align, &off);
  GORO_CHECK(off <= UINT16_MAX);
  t->kind = timer_kind::func;
  t->closure_off = static_cast<uint16_t>(off);
  t->t.arg = const_cast<timer_func_ops*>(ops);
  // after_func is always inlined: this return address lies in its
  // caller's code, whose line the goroutines it starts name.
  t->created_pc = __builtin_extract_return_addr(__builtin_return_address(0));
  *storage = reinterpret_cast<unsigned char*>(t) + off;
  return t;
}

void timer_start_func(timer_rec* t, int64_t when) noexcept {
  rec_lock lk(t);
  t->t.when = when;
  t->armed = true;
  enqueue_locked(t);
}

void timer_discard(timer_rec* t) noexcept {
  // The function was never constructed: free the memory only.
  live_recs.fetch_sub(1, std::memory_order_relaxed);
  std::size_t align = t->closure_align;
  t->~timer_rec();
  ::operator delete(t, std::align_val_t(align));
}

bool gotimer_chan_retain(timer* tm) noexcept {
  if (tm->fn != fire) return false;
  auto* t = reinterpret_cast<timer_rec*>(tm);  // t is the record's first member
  if (t->kind != timer_kind::chan) return false;
  timer_rec_retain(t);  // (pending: the runtime's reference is held, T1)
  return true;
}

bool gotimer_chan_waited(timer* tm) noexcept {
  auto* t = reinterpret_cast<timer_rec*>(tm);
  lock_guard clk(t->c->lock_);
  return !t->c->recvq_.empty();
}

void gotimer_chan_release(timer* tm) noexcept { timer_rec_release(reinterpret_cast<timer_rec*>(tm)); }

void timer_rec_retain(timer_rec* t) noexcept {
  t->refs.fetch_add(1, std::memory_order_relaxed);  // relaxed: the caller holds a reference
}

void timer_rec_release(timer_rec* t) noexcept {
  // For TSan, as for a shared_ptr: whatever this holder did with the record
  // (an after_func goroutine read its closure) happens before the last
  // holder frees it. The count itself is a runtime atomic TSan does not see.
  race_release(&t->refs);
  if (t->kind == timer_kind::chan) {
    uint32_t r = t->refs.load(std::memory_order_relaxed);
    for (;;) {
      if (r == 2) {
        // Stopped lock-free (T5): its zombie entry delivers nothing, and
        // the pop or the reaper that drops it releases the runtime's
        // reference and frees the record. Leaving it to them keeps this
        // drop one atomic, as a stopped timer's drop was before T5
        // (deleting the entry here took both locks: 100-200 ns measured,
        // more than the lock-free stop saved). The state cannot change
        // under us to one that needs cancelling: only a handle re-arms,
        // and ours is the last.
        uint32_t lf = t->t.lf.load(std::memory_order_acquire) & 3;
        if (lf == kLfZombie || lf == kLfReaped) break;
        // Perhaps the last user, the other reference being the runtime's:
        // then nobody can see this timer fire; cancel it and free it now
        // (Go 1.23 collects unreferenced timers). Exact under the lock:
        // the runtime's reference only changes under it (T1), and no new
        // user handle can appear while ours is the only one. The one
        // change made without it, a reaper's fire(kTimerReaped), only
        // drops the runtime's reference after its entry left the heap: if
        // it is on its way, unqueue_locked finds nothing to delete, our
        // release leaves the reaper's reference the last, and the reaper
        // frees the record.
        rec_lock lk(t);
        if (t->refs.load(std::memory_order_relaxed) == 2 && t->entries.load(std::memory_order_relaxed) > 0) {
          t->armed = false;  // a fire in progress delivers nothing (T4)
          unqueue_locked(t);  // 2 -> 1 if it removed the last entry: ours is left
        }
        break;
      }
      if (r < 2) break;
      // acq_rel, as the final fetch_sub below.
      if (t->refs.compare_exchange_weak(r, r - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) return;
    }
  }
  // acq_rel: the last releaser sees every other holder's writes.
  if (t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    race_acquire(&t->refs);
    rec_free(t);
  }
}

bool timer_rec_run_if_due(timer_rec* t) noexcept {
  if (t->kind != timer_kind::chan) return false;
  int64_t now = nanotime();
  ready_list rl;
  bool ran = false;
  {
    rec_lock lk(t);
    if (t->armed && t->t.when <= now) {
      run_chan_locked(t, now, rl);
      ran = true;
    }
  }
  rl.ready_all();
  return ran;
}

hchan* timer_channel(timer_rec* t) {
  if (t->kind != timer_kind::chan) return nullptr;
  t->refs.fetch_add(1, std::memory_order_relaxed);  // the returned handle's; relaxed: the caller holds one
  return t->c;
}

bool timer_stop(timer_rec* t) noexcept {
  // The common Stop, of an armed timer with nothing to withdraw, is one CAS
  // (T5); its heap entry is left to be dropped later.
  if (timer_lf_del(&t->t)) return true;
  rec_lock lk(t);
  return stop_locked(t);
}

bool timer_reset(timer_rec* t, int64_t when, int64_t period) noexcept {
  rec_lock lk(t);
  bool pending = stop_locked(t);
  if (t->kind == timer_kind::chan) t->period = period;
  t->t.when = when;
  t->armed = true;
  enqueue_locked(t);  // keeps or takes the runtime's reference (T1)
  return pending;
}

}  // namespace goro::detail
