// goro::cond: Go's notifyList (runtime/sema.go) with tickets.
//
// wait_ is the next ticket to hand out, notify_ the next ticket to wake.
// A waiter takes a ticket (one atomic add) BEFORE unlocking the user's
// lock, so a signal() after that unlock finds it even if it has not parked
// yet: such a waiter, seeing its ticket below notify_, returns at once.
//
// Invariants (under the stripe lock for this cond):
//  C1. The list holds the parked waiters whose tickets are >= notify_,
//      in the order they were linked; notify_ <= wait_ (mod 2^32).
//  C2. notify_ only grows, and only under the lock; a waiter unlinked by
//      a notifier is readied by it exactly once (park's one-waker rule).
// Tickets wrap (uint32); they are compared by difference, as in Go.
//
// The list and notify_ are guarded by one of 61 stripe locks picked by
// the cond's address (the public header holds no runtime lock).
//
// Lock order: stripe locks rank `wait_list`; nothing is taken under one
// (wakers unlock before ready()).
#include "goro/cond.hpp"

#include "base/lock.hpp"
#include "base/race.hpp"
#include "sched/park.hpp"

namespace goro {

namespace {

struct cond_waiter {
  uint32_t ticket;
  detail::g* waiter;
  cond_waiter* next;
};

struct alignas(64) stripe {
  detail::runtime_lock lock{detail::lock_rank::wait_list};
};
constexpr int kStripes = 61;
stripe stripes[kStripes];

detail::runtime_lock& lock_for(const cond* c) {
  return stripes[(reinterpret_cast<uintptr_t>(c) >> 4) % kStripes].lock;
}

// a < b in ticket order (wrapping).
bool before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

bool unlock_stripe(detail::g*, void* arg) {
  static_cast<detail::runtime_lock*>(arg)->unlock();
  return true;
}

}  // namespace

uint32_t cond::add_waiter() noexcept { return wait_.fetch_add(1, std::memory_order_acq_rel); }

void cond::wait_ticket(uint32_t ticket) noexcept {
  detail::runtime_lock& l = lock_for(this);
  l.lock();
  if (before(ticket, notify_.load(std::memory_order_relaxed))) {
    // Already signalled between add_waiter and here.
    l.unlock();
    detail::race_acquire(this);
    return;
  }
  cond_waiter w{ticket, detail::current_waiter(), nullptr};
  if (tail_ != nullptr)
    static_cast<cond_waiter*>(tail_)->next = &w;
  else
    head_ = &w;
  tail_ = &w;
  detail::park(detail::wait_reason::sync_cond_wait, unlock_stripe, &l);
  detail::race_acquire(this);
}

void cond::signal() noexcept {
  // Fast path: no waiter since the last notification (Go reads both
  // without the lock too; a waiter that takes a ticket after this load is
  // not one this signal must wake).
  if (wait_.load(std::memory_order_acquire) == notify_.load(std::memory_order_acquire)) return;
  detail::race_release(this);
  detail::runtime_lock& l = lock_for(this);
  l.lock();
  uint32_t t = notify_.load(std::memory_order_relaxed);
  if (t == wait_.load(std::memory_order_acquire)) {
    l.unlock();
    return;
  }
  notify_.store(t + 1, std::memory_order_release);
  cond_waiter* prev = nullptr;
  for (auto* w = static_cast<cond_waiter*>(head_); w != nullptr; prev = w, w = w->next) {
    if (w->ticket != t) continue;
    if (prev != nullptr)
      prev->next = w->next;
    else
      head_ = w->next;
    if (tail_ == w) tail_ = prev;
    detail::g* waiter = w->waiter;
    l.unlock();
    detail::ready(waiter);
    return;
  }
  // The ticket's owner has not parked yet: it will see notify_ past it.
  l.unlock();
}

void cond::broadcast() noexcept {
  if (wait_.load(std::memory_order_acquire) == notify_.load(std::memory_order_acquire)) return;
  detail::race_release(this);
  detail::runtime_lock& l = lock_for(this);
  l.lock();
  auto* w = static_cast<cond_waiter*>(head_);
  head_ = tail_ = nullptr;
  notify_.store(wait_.load(std::memory_order_acquire), std::memory_order_release);
  l.unlock();
  while (w != nullptr) {
    cond_waiter* next = w->next;  // read before ready: w lives on the waiter's stack
    detail::ready(w->waiter);
    w = next;
  }
}

}  // namespace goro
