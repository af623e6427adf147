// goro::pool (include/goro/pool.hpp): the semantics of Go's
// sync/pool_test.go (TestPool, TestPoolNew, TestPoolStress; the GC
// release tests become the bound and the destructor, goro having no
// collector), plus the per-P paths: plain threads, goro::blocking,
// stealing from another P, and the one-getter-at-a-time rule under stress.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "goro/pool.hpp"
#include "test_util.hpp"

namespace {

// Counts its lives, and knows whether a getter holds it.
struct tracked {
  static inline std::atomic<int64_t> made{0}, destroyed{0};
  std::atomic<bool> in_use{false};
  int64_t payload = 0;  // plain: written by whoever holds it
  tracked() { made++; }
  ~tracked() { destroyed++; }
  static int64_t live() { return made.load() - destroyed.load(); }
};

constexpr int64_t kBound1P = goro::pool<int>::kept_per_proc + goro::pool<int>::kept_shared;

// Go's TestPool: what is put comes back, then the pool is empty.
TEST(Pool, PutThenGetReturnsThePutObjects) {
  goro::set_maxprocs(1);
  goro::run([] {
    goro::pool<int> p;
    EXPECT_EQ(p.get(), nullptr) << "empty pool without a new function";
    auto a = std::make_unique<int>(1);
    auto b = std::make_unique<int>(2);
    std::set<int*> put{a.get(), b.get()};
    p.put(std::move(a));
    p.put(std::move(b));
    std::unique_ptr<int> x = p.get(), y = p.get();
    ASSERT_NE(x, nullptr);
    ASSERT_NE(y, nullptr);
    EXPECT_EQ((std::set<int*>{x.get(), y.get()}), put);
    EXPECT_EQ(*x + *y, 3);
    EXPECT_EQ(p.get(), nullptr);
    p.put(nullptr);  // Go's Put(nil): ignored
    EXPECT_EQ(p.get(), nullptr);
  });
}

// Go's TestPoolNew: get() makes objects only when the pool is empty.
TEST(Pool, NewFunctionCalledOnlyWhenEmpty) {
  goro::run([] {
    int calls = 0;
    goro::pool<int> p([&] { return std::make_unique<int>(++calls); });
    auto one = p.get();
    auto two = p.get();
    EXPECT_EQ(*one, 1);
    EXPECT_EQ(*two, 2);
    int* kept = two.get();
    p.put(std::move(two));
    auto again = p.get();
    EXPECT_EQ(again.get(), kept);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(*p.get(), 3);
  });
}

// The bound replaces Go's GC: at maxprocs 1 a goroutine's puts fill its P's
// slots, then the shared list; the rest are destroyed in put() at once.
// The destructor destroys what was kept.
TEST(Pool, KeepsAtMostTheBoundAndDestructorFreesTheRest) {
  goro::set_maxprocs(1);
  goro::run([] {
    const int64_t before = tracked::live();
    {
      goro::pool<tracked> p;
      for (int i = 0; i < 200; i++) p.put(std::make_unique<tracked>());
      EXPECT_EQ(tracked::live() - before, kBound1P);
      int got = 0;
      while (auto t = p.get()) got++;  // each destroyed as the loop goes on
      EXPECT_EQ(got, kBound1P);
      for (int i = 0; i < 5; i++) p.put(std::make_unique<tracked>());
      EXPECT_EQ(tracked::live() - before, 5);
    }
    EXPECT_EQ(tracked::live(), before) << "the destructor leaves nothing";
  });
}

// No P (a plain thread, or a goroutine in goro::blocking): the shared list
// only.
TEST(Pool, CallersWithoutAPUseTheSharedList) {
  const int64_t before = tracked::live();
  goro::pool<tracked> p;
  std::thread([&] {
    for (int i = 0; i < 100; i++) p.put(std::make_unique<tracked>());
  }).join();
  EXPECT_EQ(tracked::live() - before, static_cast<int64_t>(goro::pool<tracked>::kept_shared));
  while (auto t = p.get()) {
  }
  EXPECT_EQ(tracked::live(), before);
  goro::run([&] {
    goro::blocking([&] {
      for (int i = 0; i < 100; i++) p.put(std::make_unique<tracked>());
    });
  });
  EXPECT_EQ(tracked::live() - before, static_cast<int64_t>(goro::pool<tracked>::kept_shared));
}

// A get() with nothing on its own P takes what another P holds (Go's
// getSlow), and a plain thread finds objects goroutines put.
TEST(Pool, GetStealsFromOtherProcs) {
  goro::set_maxprocs(1);
  goro::pool<int> p;
  goro::run([&] {
    for (int i = 0; i < 3; i++) p.put(std::make_unique<int>(i));
  });
  int sum = 0;
  std::thread([&] {
    for (int i = 0; i < 3; i++) {
      auto v = p.get();
      ASSERT_NE(v, nullptr) << "get " << i;
      sum += *v;
    }
    EXPECT_EQ(p.get(), nullptr);
  }).join();
  EXPECT_EQ(sum, 0 + 1 + 2);
}

// Go's TestPoolStress with goro's checks: goroutines on every P and plain
// threads get, use and put objects; no object is ever held by two getters
// (in_use), every write of one holder is seen by the next (payload, plain
// memory: TSan checks the handoff), and nothing is lost: objects made ==
// objects destroyed once the pool is gone.
TEST(Pool, StressOneHolderAtATimeAndNothingLost) {
  const int goroutines = goro_test::goroutines(16, 2);
  const int iters = goro_test::scaled(20000, 10);
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    const int64_t before = tracked::live();
    std::atomic<int> shared_holders{0}, lost_writes{0};
    {
      goro::pool<tracked> p([] { return std::make_unique<tracked>(); });
      auto worker = [&](int id) {
        for (int i = 0; i < iters; i++) {
          std::unique_ptr<tracked> t = p.get();
          if (t->in_use.exchange(true)) shared_holders++;
          const int64_t mark = int64_t{id} << 32 | i;
          t->payload = mark;
          if (i % 64 == 0) goro::yield();  // another goroutine may get in between (not if it is ours)
          if (t->payload != mark) lost_writes++;
          t->in_use.store(false);
          p.put(std::move(t));
          if (i % 7 == 0) {  // sometimes hold two at once
            auto a = p.get(), b = p.get();
            if (a.get() == b.get()) shared_holders++;
            p.put(std::move(b));
            p.put(std::move(a));
          }
        }
      };
      goro::run([&] {
        goro::wait_group wg;
        for (int g = 0; g < goroutines; g++) wg.go(worker, g);
        std::thread t1(worker, 1000), t2(worker, 1001);
        goro::blocking([&] {
          t1.join();
          t2.join();
        });
        wg.wait();
      });
      EXPECT_LE(tracked::live() - before,
                static_cast<int64_t>(procs * 2 * goro::pool<tracked>::kept_per_proc + goro::pool<tracked>::kept_shared))
          << "more kept than the bound (Ps may be detached: twice maxprocs)";
    }
    EXPECT_EQ(shared_holders.load(), 0);
    EXPECT_EQ(lost_writes.load(), 0);
    EXPECT_EQ(tracked::live(), before);
  }
}

}  // namespace
