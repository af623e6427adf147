// Address-keyed semaphores. See sema.hpp.
//
// Invariants:
//  - A sema_waiter is linked in its bucket's list from its enqueue (under
//    the bucket lock, before park) until exactly one of semrelease or the
//    time-out callback unlinks it (under the same lock); the unlinker is
//    the one that readies it.
//  - A timed waiter returns only after its timer can no longer run:
//    timer_del succeeded, or the callback has set fn_done (its last touch
//    of the waiter's stack).
#include "sync/sema.hpp"

#include <atomic>

#include "base/backoff.hpp"
#include "base/futex.hpp"
#include "base/lock.hpp"
#include "sched/park.hpp"
#include "sched/stats.hpp"
#include "time/timer.hpp"

namespace goro::detail {

namespace {

struct sema_waiter {
  uint32_t* addr;
  g* waiter;
  sema_waiter* next;
};

struct alignas(64) sema_bucket {
  runtime_lock lock{lock_rank::wait_list};
  sema_waiter* head = nullptr;  // guarded by lock
  sema_waiter* tail = nullptr;  // guarded by lock
};

constexpr int kBuckets = 251;
sema_bucket buckets[kBuckets];

sema_bucket& bucket_for(const uint32_t* addr) {
  return buckets[(reinterpret_cast<uintptr_t>(addr) >> 3) % kBuckets];
}

bool try_acquire(uint32_t* addr) {
  std::atomic_ref<uint32_t> v(*addr);
  uint32_t cur = v.load(std::memory_order_acquire);
  while (cur > 0) {
    if (v.compare_exchange_weak(cur, cur - 1, std::memory_order_acquire)) return true;
  }
  return false;
}

bool unlock_bucket(g*, void* arg) {
  static_cast<sema_bucket*>(arg)->lock.unlock();
  return true;
}

// Under b.lock.
void enqueue(sema_bucket& b, sema_waiter* w, bool lifo) {
  if (lifo) {
    w->next = b.head;
    b.head = w;
    if (b.tail == nullptr) b.tail = w;
    return;
  }
  if (b.tail != nullptr)
    b.tail->next = w;
  else
    b.head = w;
  b.tail = w;
}

// Under b.lock: unlinks `target` if given (true if it was linked), else
// the first waiter on addr (returned through *out; false if none).
bool unlink(sema_bucket& b, const uint32_t* addr, sema_waiter* target, sema_waiter** out) {
  sema_waiter* prev = nullptr;
  for (sema_waiter* w = b.head; w != nullptr; prev = w, w = w->next) {
    if (target != nullptr ? w != target : w->addr != addr) continue;
    if (prev != nullptr)
      prev->next = w->next;
    else
      b.head = w->next;
    if (b.tail == w) b.tail = prev;
    *out = w;
    return true;
  }
  return false;
}

struct timed_waiter {
  sema_waiter w;
  sema_bucket* b;
  timer t;
  bool timed_out = false;          // written by the callback under b->lock, before ready
  std::atomic<uint32_t> fn_done{0};  // 1 once the callback no longer touches this record
};

// Timer callback (a worker's scheduler stack, no lock held).
void on_deadline(timer* t, int64_t /*now*/) {
  auto* tw = static_cast<timed_waiter*>(t->arg);
  sema_bucket& b = *tw->b;
  b.lock.lock();
  sema_waiter* got = nullptr;
  if (unlink(b, tw->w.addr, &tw->w, &got)) {
    tw->timed_out = true;
    g* waiter = tw->w.waiter;
    b.lock.unlock();
    // The waiter cannot return before ready(), so this store may come first.
    tw->fn_done.store(1, std::memory_order_release);
    ready(waiter);
    return;
  }
  b.lock.unlock();
  // release: the waiter (handed a unit meanwhile) may free the record as
  // soon as it sees this.
  tw->fn_done.store(1, std::memory_order_release);
}

}  // namespace

bool semtryacquire(uint32_t* addr) { return try_acquire(addr); }

void semacquire(uint32_t* addr, wait_reason reason, bool lifo) {
  if (try_acquire(addr)) return;
  sema_bucket& b = bucket_for(addr);
  b.lock.lock();
  if (try_acquire(addr)) {
    b.lock.unlock();
    return;
  }
  sema_waiter w{addr, current_waiter(), nullptr};
  enqueue(b, &w, lifo);
  const int64_t t0 = nanotime();
  park(reason, unlock_bucket, &b);
  stats_add_wait_ns(reason, nanotime() - t0);
  // semrelease handed us the unit directly.
}

bool semacquire_until(uint32_t* addr, wait_reason reason, int64_t deadline_ns, bool lifo) {
  if (try_acquire(addr)) return true;
  if (deadline_ns <= nanotime()) return false;
  sema_bucket& b = bucket_for(addr);
  b.lock.lock();
  if (try_acquire(addr)) {
    b.lock.unlock();
    return true;
  }
  timed_waiter tw;
  tw.w = sema_waiter{addr, current_waiter(), nullptr};
  tw.b = &b;
  tw.t.when = deadline_ns;
  tw.t.fn = on_deadline;
  tw.t.arg = &tw;
  enqueue(b, &tw.w, lifo);
  // Armed under the bucket lock, after the enqueue: the callback then finds
  // the waiter queued (it waits for the lock until park has released it).
  timer_add(&tw.t);
  const int64_t t0 = nanotime();
  park(reason, unlock_bucket, &b);
  stats_add_wait_ns(reason, nanotime() - t0);
  if (!timer_del(&tw.t)) {
    // Fired, or firing on another worker right now: wait until it is done
    // with tw (a few instructions, unless its thread was preempted).
    backoff bo;
    while (tw.fn_done.load(std::memory_order_acquire) == 0) bo.snooze();
  }
  return !tw.timed_out;
}

void semrelease(uint32_t* addr) {
  sema_bucket& b = bucket_for(addr);
  b.lock.lock();
  sema_waiter* w = nullptr;
  if (unlink(b, addr, nullptr, &w)) {
    g* waiter = w->waiter;
    b.lock.unlock();
    ready(waiter);
    return;
  }
  std::atomic_ref<uint32_t>(*addr).fetch_add(1, std::memory_order_release);
  b.lock.unlock();
}

}  // namespace goro::detail
