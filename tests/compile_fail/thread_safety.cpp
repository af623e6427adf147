// Clang's thread-safety analysis must reject touching guarded data without
// its lock. Built by tests/sync/compile_fail_test.cpp with
// -Wthread-safety -Werror once per GORO_MISUSE value: 0 is the control
// (every access under its lock, through each annotated way of taking it:
// must compile), every other value must fail.
#include "goro/mutex.hpp"
#include "goro/rwmutex.hpp"

#include <chrono>

class account {
 public:
  void deposit(int n) GORO_EXCLUDES(mu_) {
#if GORO_MISUSE == 1
    balance_ += n;  // no lock held
#elif GORO_MISUSE == 2
    mu_.lock();
    balance_ += n;  // still held at return
#else
    goro::mutex_lock lock(mu_);
    balance_ += n;
#endif
  }

  int balance() GORO_EXCLUDES(mu_) {
    mu_.lock();
    int b = balance_;
    mu_.unlock();
#if GORO_MISUSE == 3
    return b + balance_;  // read after unlock
#else
    return b;
#endif
  }

  int limit() GORO_EXCLUDES(table_mu_) {
#if GORO_MISUSE == 4
    {
      goro::read_lock lock(table_mu_);
      limit_ = 2;  // a write under a read lock
    }
#elif GORO_MISUSE == 5
    limit_++;  // no lock
#elif GORO_MISUSE == 7
    if (table_mu_.try_lock_shared_for(std::chrono::milliseconds(1))) {
      limit_ = 3;  // a write under a timed read lock
      table_mu_.unlock_shared();
    }
#else
    { goro::write_lock lock(table_mu_); limit_++; }
    if (table_mu_.try_lock_for(std::chrono::milliseconds(1))) {
      limit_++;
      table_mu_.unlock();
    }
    if (table_mu_.try_lock_until(std::chrono::system_clock::now())) {
      limit_++;
      table_mu_.unlock();
    }
    if (table_mu_.try_lock_shared_until(std::chrono::steady_clock::now())) {
      int l = limit_;
      table_mu_.unlock_shared();
      if (l > 100) return l;
    }
    if (table_mu_.try_lock_shared()) {
      int l = limit_;
      table_mu_.unlock_shared();
      return l;
    }
#endif
    goro::read_lock lock(table_mu_);
    return limit_;
  }

  void add_locked(int n) GORO_REQUIRES(mu_) { balance_ += n; }
  void add_twice(int n) GORO_EXCLUDES(mu_) {
#if GORO_MISUSE == 6
    add_locked(n);  // calls a REQUIRES(mu_) function without mu_
#else
    if (mu_.try_lock()) {
      add_locked(n);
      mu_.unlock();
    }
#endif
  }

 private:
  goro::mutex mu_;
  int balance_ GORO_GUARDED_BY(mu_) = 0;
  goro::rwmutex table_mu_;
  int limit_ GORO_GUARDED_BY(table_mu_) = 0;
};

int main() {
  account a;
  a.deposit(1);
  a.add_twice(1);
  return a.balance() + a.limit();
}
