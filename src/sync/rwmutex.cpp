// goro::rwmutex: Go's sync.RWMutex algorithm (sync/rwmutex.go) on the
// runtime's semaphore (sync/sema.hpp).
//
// reader_count_ counts the readers holding or waiting for the read lock. A
// writer first takes w_ (so writers queue one at a time), then subtracts
// kMaxReaders: from then on the count is negative and new readers queue on
// reader_sem_ instead of entering (writer preference). The readers that
// were in (the count before the subtraction) are added to reader_wait_;
// each of them, leaving, decrements it, and the last one releases
// writer_sem_. unlock() adds kMaxReaders back and releases one reader_sem_
// unit for each reader that queued meanwhile.
//
// Invariants:
//  R1. reader_count_ >= 0 with no writer in; in [-kMaxReaders, 0) with one,
//      and then reader_count_ + kMaxReaders readers hold or wait.
//  R2. reader_wait_ > 0 only while a writer waits for readers that entered
//      before it; it reaches 0 exactly once per such writer.
// Misuse: unlock_shared with no reader and unlock with no writer are
// detected from the counts (R1) and are fatal, as in Go.
//
// TSan (Go's race annotations): readers acquire what the last writer
// released (reader_sem_); a writer acquires what every reader before it
// released (writer_sem_) and what the last writer released. Readers are
// not ordered with each other, so races between two readers that both
// write are still reported: the reader fast path lives here, in the
// uninstrumented runtime, for that reason.
//
// Lock-order check (sync/lock_order.hpp): the public operations go through
// the detector while it is on, on the rwmutex's own address; the inner
// writer mutex w_ is taken with its raw operations, so it is never a node
// of its own.
//
// Lock order: w_ (a goro::mutex) before the semaphores' bucket locks,
// which are never held across anything here.
#include "goro/rwmutex.hpp"

#include "base/check.hpp"
#include "base/race.hpp"
#include "sync/lock_order.hpp"
#include "sync/sema.hpp"

namespace goro {

namespace {
constexpr int32_t kMaxReaders = 1 << 30;
}

void rwmutex::lock_shared_raw() {
  // acq_rel: the acquire sees the last writer's writes (paired with the
  // writer's release in unlock), the release orders this reader before a
  // writer that subtracts kMaxReaders afterwards.
  if (reader_count_.fetch_add(1, std::memory_order_acq_rel) < 0) {
    // A writer is pending or in: wait for its unlock.
    detail::semacquire(&reader_sem_, detail::wait_reason::sync_rwmutex_rlock);
  }
  detail::race_acquire(&reader_sem_);
}

bool rwmutex::try_lock_shared_raw() {
  int32_t c = reader_count_.load(std::memory_order_relaxed);
  for (;;) {
    if (c < 0) return false;
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) break;
  }
  detail::race_acquire(&reader_sem_);
  return true;
}

void rwmutex::unlock_shared_raw() noexcept {
  detail::race_release(&writer_sem_);
  // release: the reader's accesses happen before the writer that waits
  // for it (which acquires through reader_wait_ or reader_count_).
  int32_t r = reader_count_.fetch_sub(1, std::memory_order_acq_rel) - 1;
  if (r >= 0) return;
  // A writer is pending: this reader may be one it waits for.
  if (r + 1 == 0 || r + 1 == -kMaxReaders) detail::fatal_exit(2, "sync: RUnlock of unlocked RWMutex");
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    // The last reader the writer waited for.
    detail::semrelease(&writer_sem_);
  }
}

void rwmutex::lock_raw() {
  w_.lock_raw();
  // Announce the writer; r readers were in before it.
  int32_t r = reader_count_.fetch_add(-kMaxReaders, std::memory_order_acq_rel);
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0)
    detail::semacquire(&writer_sem_, detail::wait_reason::sync_rwmutex_lock);
  detail::race_acquire(&reader_sem_);
  detail::race_acquire(&writer_sem_);
}

bool rwmutex::try_lock_raw() {
  if (!w_.try_lock_raw()) return false;
  int32_t zero = 0;
  if (!reader_count_.compare_exchange_strong(zero, -kMaxReaders, std::memory_order_acq_rel,
                                             std::memory_order_relaxed)) {
    w_.unlock_raw();
    return false;
  }
  detail::race_acquire(&reader_sem_);
  detail::race_acquire(&writer_sem_);
  return true;
}

void rwmutex::unlock_raw() noexcept {
  detail::race_release(&reader_sem_);
  // Let readers in again; r of them queued while the writer was in.
  int32_t r = reader_count_.fetch_add(kMaxReaders, std::memory_order_acq_rel) + kMaxReaders;
  if (r >= kMaxReaders) detail::fatal_exit(2, "sync: Unlock of unlocked RWMutex");
  for (int32_t i = 0; i < r; i++) detail::semrelease(&reader_sem_);
  w_.unlock_raw();
}

// ---- the public operations: raw, or through the lock-order check ----

using detail::lock_kind;

void rwmutex::lock_shared() {
  if (detail::lock_order_on()) [[unlikely]] {
    detail::lock_order_before_wait(this, lock_kind::rwmutex);
    lock_shared_raw();
    detail::lock_order_acquired(this, lock_kind::rwmutex, true);
    return;
  }
  lock_shared_raw();
}

bool rwmutex::try_lock_shared() {
  if (!try_lock_shared_raw()) return false;
  if (detail::lock_order_on()) [[unlikely]] detail::lock_order_acquired(this, lock_kind::rwmutex, true);
  return true;
}

void rwmutex::unlock_shared() noexcept {
  if (detail::lock_order_on()) [[unlikely]] detail::lock_order_released(this, true);
  unlock_shared_raw();
}

void rwmutex::lock() {
  if (detail::lock_order_on()) [[unlikely]] {
    detail::lock_order_before_wait(this, lock_kind::rwmutex);
    lock_raw();
    detail::lock_order_acquired(this, lock_kind::rwmutex, false);
    return;
  }
  lock_raw();
}

bool rwmutex::try_lock() {
  if (!try_lock_raw()) return false;
  if (detail::lock_order_on()) [[unlikely]] detail::lock_order_acquired(this, lock_kind::rwmutex, false);
  return true;
}

void rwmutex::unlock() noexcept {
  if (detail::lock_order_on()) [[unlikely]] detail::lock_order_released(this, false);
  unlock_raw();
}

}  // namespace goro
