// Pattern: find a lock-order inversion before it deadlocks.
//
//   func transfer(from, to *Account, n int) {
//       from.mu.Lock()
//       defer from.mu.Unlock()
//       to.mu.Lock()          // transfer(a, b) and transfer(b, a) at once:
//       defer to.mu.Unlock()  // each holds one lock and waits for the other
//       from.balance -= n
//       to.balance += n
//   }
//
// What it shows: the two opposite transfers run one after the other, so
// nothing deadlocks here, and a test would pass; yet the second order
// contradicts the first, and on a busy day the two meet in the middle.
// goro's lock-order check (goro/lock_order.hpp) remembers every "held A,
// took B" order of goro::mutex and goro::rwmutex and reports an acquisition
// that closes a cycle, before it waits: the report on stderr names both
// stacks (this one's and the one that recorded the opposite order), with
// file:line. It is on in debug builds and with GORO_DEBUG=lockorder=1
// (lockorder=2 makes it fatal); this program switches it on itself, in
// report-and-continue mode, so that it runs the same in every build.
// Then the fix: lock the two accounts in one global order (here, by id),
// after which any number of transfers in both directions report nothing.
// std::scoped_lock would also do: it takes the second mutex with try_lock
// and backs off, and a try_lock never waits, so the check does not count
// it as an order.
//
// Pitfall avoided: a deadlock that only shows up under load, in production.
#include <cstdio>
#include <mutex>

#include "goro/goro.hpp"

struct account {
  explicit account(int i) : id(i) {}
  const int id;
  goro::mutex mu;
  long balance GORO_GUARDED_BY(mu) = 100;
};

// Takes the locks in argument order: the bug.
void transfer_naive(account& from, account& to, long n) {
  goro::mutex_lock lf(from.mu);
  goro::mutex_lock lt(to.mu);
  from.balance -= n;
  to.balance += n;
}

// Takes the locks in id order, whatever the direction: the fix.
void transfer_ordered(account& from, account& to, long n) GORO_NO_THREAD_SAFETY_ANALYSIS {
  account& first = from.id < to.id ? from : to;
  account& second = from.id < to.id ? to : from;
  goro::mutex_lock l1(first.mu);
  goro::mutex_lock l2(second.mu);
  from.balance -= n;
  to.balance += n;
}

int main() {
  goro::debug::set_lock_order_check(goro::debug::lock_order_mode::report);
  return goro::run([] {
    account a(1), b(2), c(3), d(4);

    std::printf("naive: transfer a->b, then b->a (one after the other, no deadlock today)\n");
    std::fflush(stdout);
    goro::wait_group wg;
    wg.go([&] { transfer_naive(a, b, 10); });
    wg.wait();
    wg.go([&] { transfer_naive(b, a, 10); });  // reported on stderr, before it waits
    wg.wait();
    std::printf("inversions reported: %llu\n", static_cast<unsigned long long>(goro::debug::lock_order_reports()));
    std::fflush(stdout);

    std::printf("ordered: 100 transfers each way between c and d, concurrently\n");
    uint64_t before = goro::debug::lock_order_reports();
    for (int i = 0; i < 100; i++) {
      wg.go([&] { transfer_ordered(c, d, 1); });
      wg.go([&] { transfer_ordered(d, c, 1); });
    }
    wg.wait();
    std::printf("new inversions reported: %llu\n",
                static_cast<unsigned long long>(goro::debug::lock_order_reports() - before));
    long total = 0;
    for (account* x : {&a, &b, &c, &d}) {
      goro::mutex_lock l(x->mu);
      total += x->balance;
    }
    std::printf("total balance: %ld (expect 400)\n", total);
    return goro::debug::lock_order_reports() == 1 && total == 400 ? 0 : 1;
  });
}
