// Address-keyed semaphores. See sema.hpp.
#include "sync/sema.hpp"

#include <atomic>

#include "base/lock.hpp"
#include "sched/park.hpp"

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
  sema_waiter* tail = nullptr;
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

}  // namespace

void semacquire(uint32_t* addr, wait_reason reason) {
  if (try_acquire(addr)) return;
  sema_bucket& b = bucket_for(addr);
  b.lock.lock();
  if (try_acquire(addr)) {
    b.lock.unlock();
    return;
  }
  sema_waiter w{addr, current_waiter(), nullptr};
  if (b.tail != nullptr)
    b.tail->next = &w;
  else
    b.head = &w;
  b.tail = &w;
  park(reason, unlock_bucket, &b);
  // semrelease handed us the unit directly.
}

void semrelease(uint32_t* addr) {
  sema_bucket& b = bucket_for(addr);
  b.lock.lock();
  sema_waiter* prev = nullptr;
  for (sema_waiter* w = b.head; w != nullptr; prev = w, w = w->next) {
    if (w->addr != addr) continue;
    if (prev != nullptr)
      prev->next = w->next;
    else
      b.head = w->next;
    if (b.tail == w) b.tail = prev;
    g* waiter = w->waiter;
    b.lock.unlock();
    ready(waiter);
    return;
  }
  std::atomic_ref<uint32_t>(*addr).fetch_add(1, std::memory_order_release);
  b.lock.unlock();
}

}  // namespace goro::detail
