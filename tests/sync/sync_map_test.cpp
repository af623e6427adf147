// goro::sync_map (include/goro/sync_map.hpp): Go's sync/map_test.go
// (TestMapMatchesRWMutex's random operation sequences against a reference,
// TestConcurrentRange, TestIssue40999's "deleted keys are freed",
// TestMapRangeNestedCall, TestCompareAndSwap_NonExistingKey,
// TestMapClearNoAllocations' spirit: no leak, TestConcurrentClear), plus
// concurrent model checks
// with goroutines and plain threads and a reclamation bound.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "goro/sync_map.hpp"
#include "test_util.hpp"

namespace {

// A value that counts its live copies (to see that replaced and deleted
// values are freed) and carries its key for consistency checks.
struct counted {
  static inline std::atomic<int64_t> live{0};
  int64_t key = 0, version = 0;
  counted(int64_t k, int64_t v) : key(k), version(v) { live++; }
  counted(const counted& o) : key(o.key), version(o.version) { live++; }
  counted& operator=(const counted&) = default;
  ~counted() { live--; }
  bool operator==(const counted& o) const { return key == o.key && version == o.version; }
};

TEST(SyncMap, BasicOperations) {
  goro::sync_map<std::string, int> m;
  EXPECT_EQ(m.load("a"), std::nullopt);
  m.store("a", 1);
  EXPECT_EQ(m.load("a"), 1);
  m.store("a", 2);
  EXPECT_EQ(m.load("a"), 2);
  EXPECT_EQ(m.swap("a", 3), 2);
  EXPECT_EQ(m.swap("b", 10), std::nullopt);

  auto r = m.load_or_store("a", 99);
  EXPECT_EQ(r.first, 3);
  EXPECT_TRUE(r.second);
  r = m.load_or_store("c", 7);
  EXPECT_EQ(r.first, 7);
  EXPECT_FALSE(r.second);

  EXPECT_EQ(m.load_and_delete("c"), 7);
  EXPECT_EQ(m.load_and_delete("c"), std::nullopt);
  m.erase("b");
  m.erase("never");
  EXPECT_EQ(m.load("b"), std::nullopt);

  EXPECT_FALSE(m.compare_and_swap("a", 2, 4));
  EXPECT_TRUE(m.compare_and_swap("a", 3, 4));
  EXPECT_EQ(m.load("a"), 4);
  EXPECT_FALSE(m.compare_and_delete("a", 3));
  EXPECT_TRUE(m.compare_and_delete("a", 4));
  EXPECT_EQ(m.load("a"), std::nullopt);
}

// Go's TestCompareAndSwap_NonExistingKey: no entry appears.
TEST(SyncMap, CompareOnAbsentKeyFailsAndAddsNothing) {
  goro::sync_map<int, int> m;
  EXPECT_FALSE(m.compare_and_swap(1, 0, 42));
  EXPECT_FALSE(m.compare_and_delete(1, 0));
  EXPECT_EQ(m.load(1), std::nullopt);
  int visited = 0;
  m.range([&](const int&, const int&) { return ++visited, true; });
  EXPECT_EQ(visited, 0);
}

// Go's TestMapMatchesRWMutex / TestMapMatchesDeepCopy, single-threaded:
// random operations on few keys (so keys move between the snapshot, dirty,
// deleted and expunged states) give the results a std::map gives.
TEST(SyncMap, RandomOperationsMatchAStdMap) {
  for (uint32_t seed = 1; seed <= 20; seed++) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    std::mt19937 rng(seed);
    goro::sync_map<int, int> m;
    std::map<int, int> ref;
    for (int step = 0; step < 2000; step++) {
      int k = static_cast<int>(rng() % 12), v = static_cast<int>(rng() % 4);
      auto want = [&]() -> std::optional<int> {
        auto it = ref.find(k);
        return it == ref.end() ? std::nullopt : std::optional<int>(it->second);
      }();
      switch (rng() % 64 == 0 ? 9 : rng() % 9) {
        case 9:
          m.clear();
          ref.clear();
          break;
        case 0:
          ASSERT_EQ(m.load(k), want) << "load " << k << " step " << step;
          break;
        case 1:
          m.store(k, v);
          ref[k] = v;
          break;
        case 2: {
          auto got = m.load_or_store(k, v);
          ASSERT_EQ(got.second, want.has_value()) << "step " << step;
          ASSERT_EQ(got.first, want.value_or(v));
          ref.emplace(k, v);
          break;
        }
        case 3:
          ASSERT_EQ(m.load_and_delete(k), want) << "step " << step;
          ref.erase(k);
          break;
        case 4:
          m.erase(k);
          ref.erase(k);
          break;
        case 5:
          ASSERT_EQ(m.swap(k, v), want) << "step " << step;
          ref[k] = v;
          break;
        case 6: {
          int expect = static_cast<int>(rng() % 4);
          bool ok = want == expect;
          ASSERT_EQ(m.compare_and_swap(k, expect, v), ok) << "step " << step;
          if (ok) ref[k] = v;
          break;
        }
        case 7: {
          int expect = static_cast<int>(rng() % 4);
          bool ok = want == expect;
          ASSERT_EQ(m.compare_and_delete(k, expect), ok) << "step " << step;
          if (ok) ref.erase(k);
          break;
        }
        case 8: {
          std::map<int, int> seen;
          m.range([&](const int& key, const int& val) {
            EXPECT_TRUE(seen.emplace(key, val).second) << "key visited twice";
            return true;
          });
          ASSERT_EQ(seen, ref) << "range at step " << step;
          break;
        }
      }
    }
  }
}

// The concurrent model check: goroutines on every P and plain threads run
// random operations at once, each on its own keys (so each result is
// exact against a std::map kept under a goro::mutex), over one map whose
// snapshot, dirty map and promotions they share; ranges run alongside and
// must only see values that belong to their key.
TEST(SyncMap, ConcurrentRandomOperationsMatchAStdMap) {
  const int workers = goro_test::goroutines(8, 2);
  const int steps = goro_test::scaled(4000, 4);
  for (int procs : {1, 2, 4}) {
    goro::set_maxprocs(procs);
    SCOPED_TRACE("procs=" + std::to_string(procs));
    const int64_t live_before = counted::live.load();
    {
      goro::sync_map<int64_t, counted> m;
      goro::mutex ref_mu;
      std::map<int64_t, counted> ref;  // guarded by ref_mu
      std::atomic<int> mismatches{0}, bad_range{0};
      auto worker = [&](int id, int nworkers) {
        std::mt19937 rng(static_cast<uint32_t>(id * 7919 + 1));
        for (int step = 0; step < steps; step++) {
          int64_t k = static_cast<int64_t>(rng() % 16) * nworkers + id;  // only this worker's keys
          counted v(k, step);
          std::optional<counted> want;
          {
            goro::mutex_lock lk(ref_mu);
            auto it = ref.find(k);
            if (it != ref.end()) want = it->second;
          }
          auto set_ref = [&](std::optional<counted> nv) {
            goro::mutex_lock lk(ref_mu);
            ref.erase(k);
            if (nv) ref.emplace(k, *nv);
          };
          switch (rng() % 8) {
            case 0:
              if (m.load(k) != want) mismatches++;
              break;
            case 1:
              m.store(k, v);
              set_ref(v);
              break;
            case 2: {
              auto got = m.load_or_store(k, v);
              if (got.second != want.has_value() || !(got.first == want.value_or(v))) mismatches++;
              if (!want) set_ref(v);
              break;
            }
            case 3:
              if (m.load_and_delete(k) != want) mismatches++;
              set_ref(std::nullopt);
              break;
            case 4:
              if (m.swap(k, v) != want) mismatches++;
              set_ref(v);
              break;
            case 5: {
              counted expect = want.value_or(counted(k, -1));
              if (rng() % 2 == 0) expect.version++;  // sometimes wrong
              bool ok = want == expect;
              if (m.compare_and_swap(k, expect, v) != ok) mismatches++;
              if (ok) set_ref(v);
              break;
            }
            case 6: {
              counted expect = want.value_or(counted(k, -1));
              bool ok = want.has_value();
              if (m.compare_and_delete(k, expect) != ok) mismatches++;
              if (ok) set_ref(std::nullopt);
              break;
            }
            case 7:
              m.range([&](const int64_t& key, const counted& val) {
                if (val.key != key || val.version < 0) bad_range++;
                return rng() % 64 != 0;
              });
              break;
          }
          if (step % 256 == 0) goro::preempt_point();
        }
      };
      const int nworkers = workers + 2;
      goro::run([&] {
        goro::wait_group wg;
        for (int w = 0; w < workers; w++) wg.go(worker, w, nworkers);
        std::thread t1(worker, workers, nworkers), t2(worker, workers + 1, nworkers);
        goro::blocking([&] {
          t1.join();
          t2.join();
        });
        wg.wait();
      });
      EXPECT_EQ(mismatches.load(), 0);
      EXPECT_EQ(bad_range.load(), 0);
      // The final contents, through both a range and loads.
      std::map<int64_t, counted> seen;
      m.range([&](const int64_t& k, const counted& v) {
        seen.emplace(k, v);
        return true;
      });
      EXPECT_EQ(seen, ref);
      for (auto& kv : ref) EXPECT_EQ(m.load(kv.first), kv.second);
      ref.clear();
    }
    EXPECT_EQ(counted::live.load(), live_before) << "values leaked or freed twice";
  }
}

// Shared keys: atomic read-modify-writes through compare_and_swap conserve
// the count; load_or_store and load_and_delete each have one winner.
TEST(SyncMap, SharedKeyOperationsAreAtomic) {
  const int goroutines = goro_test::goroutines(8, 2);
  const int incs = goro_test::scaled(2000, 4);
  goro_test::for_procs([&] {
    goro::sync_map<int, int64_t> m;
    constexpr int kKeys = 4;
    std::atomic<int> stored_first{0}, deleted{0};
    auto worker = [&](int id) {
      for (int i = 0; i < incs; i++) {
        int k = i % kKeys;
        for (;;) {
          auto cur = m.load_or_store(k, 0).first;
          if (m.compare_and_swap(k, cur, cur + 1)) break;
        }
      }
      // One winner per key.
      if (!m.load_or_store(100, id).second) stored_first++;
      if (m.load_and_delete(200 + id % 2)) deleted++;
    };
    m.store(200, 1);
    m.store(201, 1);
    goro::wait_group wg;
    for (int g = 0; g < goroutines; g++) wg.go(worker, g);
    std::thread t(worker, goroutines);
    wg.wait();
    goro::blocking([&] { t.join(); });
    int64_t total = 0;
    for (int k = 0; k < kKeys; k++) total += m.load(k).value_or(0);
    EXPECT_EQ(total, int64_t{goroutines + 1} * incs);
    EXPECT_EQ(stored_first.load(), 1);
    EXPECT_EQ(deleted.load(), 2);
  });
}

// Go's TestConcurrentRange: while writers keep storing multiples of each
// key, every range visits every key (none is ever deleted) and sees only
// such multiples.
TEST(SyncMap, RangeDuringStoresSeesEveryKeyAndOnlyValidValues) {
  const int64_t kKeys = 1 << 8;
  const int rounds = goro_test::scaled(200, 4);
  goro_test::for_procs([&] {
    goro::sync_map<int64_t, int64_t> m;
    for (int64_t k = 1; k <= kKeys; k++) m.store(k, k);
    std::atomic<bool> stop{false};
    goro::wait_group writers;
    for (int w = 0; w < 4; w++)
      writers.go([&, w] {
        std::mt19937_64 rng(static_cast<uint64_t>(w));
        for (int64_t n = 1; !stop.load(std::memory_order_relaxed); n++) {
          for (int64_t k = 1; k <= kKeys; k++) m.store(k, k * static_cast<int64_t>(rng() % 1000 + 1));
          goro::yield();
        }
      });
    for (int r = 0; r < rounds; r++) {
      int64_t seen = 0;
      bool ok = true;
      m.range([&](const int64_t& k, const int64_t& v) {
        if (v % k != 0) ok = false;
        seen++;
        return true;
      });
      ASSERT_TRUE(ok) << "round " << r;
      ASSERT_EQ(seen, kKeys) << "round " << r;
      goro::yield();
    }
    stop = true;
    writers.wait();
  });
}

// Go's TestMapRangeNestedCall: range's function may call every member,
// including range, on the same map.
TEST(SyncMap, RangeFunctionMayUseTheMap) {
  goro::sync_map<int, std::string> m;
  for (int i = 0; i < 4; i++) m.store(i, std::to_string(i));
  int outer = 0;
  m.range([&](const int& k, const std::string& v) {
    outer++;
    int inner = 0;
    m.range([&](const int&, const std::string&) { return ++inner, true; });
    EXPECT_GE(inner, 1);
    EXPECT_EQ(m.load(k), v);
    m.store(k + 100, v);  // new keys: dirty, not this range's snapshot
    m.swap(k, v + "!");
    EXPECT_TRUE(m.compare_and_swap(k, v + "!", v));
    m.erase(k + 100);
    return true;
  });
  EXPECT_EQ(outer, 4);
  for (int i = 0; i < 4; i++) {
    EXPECT_EQ(m.load(i), std::to_string(i));
    EXPECT_EQ(m.load(i + 100), std::nullopt);
  }
}

TEST(SyncMap, RangeStopsWhenFunctionReturnsFalse) {
  goro::sync_map<int, int> m;
  for (int i = 0; i < 10; i++) m.store(i, i);
  int calls = 0;
  m.range([&](const int&, const int&) { return ++calls < 3; });
  EXPECT_EQ(calls, 3);
}

// Replaced and deleted values are freed while the map is used, not only
// at its destruction (Go's TestIssue40999 checks the same of deleted
// keys): one key stored over and over, with readers alongside; once they
// have stopped, a few more stores free the backlog, so at most a batch
// (64) of old values is left.
TEST(SyncMap, ReplacedValuesAreReclaimedWhileInUse) {
  const int stores = goro_test::scaled(100000, 10);
  goro_test::for_procs([&] {
    const int64_t before = counted::live.load();
    {
      goro::sync_map<int, counted> m;
      m.store(1, counted(1, 0));
      std::atomic<bool> stop{false};
      std::atomic<int> bad{0};
      goro::wait_group readers;
      for (int r = 0; r < 3; r++)
        readers.go([&] {
          for (int n = 1; !stop.load(std::memory_order_relaxed); n++) {
            auto v = m.load(1);
            if (!v || v->key != 1) bad++;
            if (n % 16 == 0) goro::yield();  // at maxprocs 1 the writer runs too
          }
        });
      std::thread plain([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          auto v = m.load(1);
          if (!v || v->key != 1) bad++;
        }
      });
      for (int i = 1; i <= stores; i++) {
        m.store(1, counted(1, i));
        if (i % 1024 == 0) goro::yield();
      }
      stop = true;
      readers.wait();
      goro::blocking([&] { plain.join(); });
      for (int i = 0; i < 2 * 64; i++) m.store(1, counted(1, -2));
      EXPECT_EQ(bad.load(), 0);
      EXPECT_LE(counted::live.load() - before, 1 + 64) << "old values are not being freed";
      // Deleted keys too.
      for (int k = 2; k < 1000; k++) m.store(k, counted(k, 0));
      for (int k = 2; k < 1000; k++) m.erase(k);
      for (int i = 0; i < 2 * 64; i++) m.store(1, counted(1, -3));
      EXPECT_LE(counted::live.load() - before, 1 + 64);
    }
    EXPECT_EQ(counted::live.load(), before);
  });
}

// Go's TestConcurrentClear and Clear's contract: clear() leaves no key,
// whatever ran before; with stores, loads, deletes and ranges running
// alongside from goroutines and a plain thread, every value seen belongs
// to its key, and once the map is gone no value is left alive (a clear
// that leaked entries or freed one twice fails here or under ASan).
TEST(SyncMap, ClearWhileOthersOperate) {
  const int64_t live_before = counted::live.load();
  {
    goro::sync_map<int64_t, counted> m;
    m.clear();  // empty: nothing to do
    for (int64_t k = 0; k < 100; k++) m.store(k, counted(k, 0));
    m.clear();
    EXPECT_FALSE(m.load(7).has_value());
    int visited = 0;
    m.range([&](const int64_t&, const counted&) {
      visited++;
      return true;
    });
    EXPECT_EQ(visited, 0);
    m.store(7, counted(7, 1));  // usable after
    EXPECT_EQ(m.load(7)->version, 1);

    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    auto worker = [&](uint32_t seed) {
      std::mt19937 rng(seed);
      for (int i = 0; !stop.load(std::memory_order_relaxed) || i < 2000; i++) {
        int64_t k = static_cast<int64_t>(rng() % 64);
        switch (rng() % 5) {
          case 0: m.store(k, counted(k, i)); break;
          case 1: if (auto v = m.load(k); v && v->key != k) bad++; break;
          case 2: m.erase(k); break;
          case 3: m.load_or_store(k, counted(k, i)); break;
          case 4:
            m.range([&](const int64_t& key, const counted& v) {
              if (v.key != key) bad++;
              return true;
            });
            break;
        }
        if (i % 64 == 0) goro::yield();  // the clearer must get its turn
      }
    };
    std::thread plain(worker, 99u);
    goro::run([&] {
      goro::wait_group wg;
      for (uint32_t g = 0; g < 4; g++) wg.go([&, g] { worker(g + 1); });
      wg.go([&] {
        for (int i = 0; i < goro_test::scaled(300, 5); i++) {
          m.clear();
          goro::yield();
        }
        stop = true;
      });
      wg.wait();
    });
    plain.join();
    EXPECT_EQ(bad.load(), 0);
    m.clear();
    m.range([&](const int64_t&, const counted&) {
      ADD_FAILURE() << "a key survived the last clear";
      return false;
    });
  }
  EXPECT_EQ(counted::live.load(), live_before) << "values leaked or freed twice";
}

}  // namespace

// A replaced value is destroyed later, inside some later call that
// reclaims, and after that call has released the map's own lock: its
// destructor is user code and may use the map. Here it erases a key that
// only dirty holds, which takes the lock. It ran under the lock before,
// and the map's non-recursive mutex locked against itself (the deadlock
// report: all goroutines asleep).
struct erases_on_destruction {
  goro::sync_map<int, std::shared_ptr<erases_on_destruction>>* map = nullptr;
  int key = 0;
  std::atomic<int>* erased = nullptr;
  ~erases_on_destruction() {
    if (map == nullptr) return;
    map->erase(key);
    erased->fetch_add(1);
  }
};

TEST(SyncMap, AValueDestructorMayUseTheMap) {
  goro::run([] {
    goro::sync_map<int, std::shared_ptr<erases_on_destruction>> m;
    std::atomic<int> erased{0};
    {
      auto v = std::make_shared<erases_on_destruction>();
      v->map = &m;
      v->key = 2;
      v->erased = &erased;
      m.store(1, v);
    }
    EXPECT_TRUE(m.load(1));  // a miss on dirty's only key: promoted, so key 1's next store is lock-free
    m.store(2, std::make_shared<erases_on_destruction>());  // only in dirty
    m.store(1, std::make_shared<erases_on_destruction>());  // lock-free: retires the first value
    m.store(3, std::make_shared<erases_on_destruction>());  // locked: reclaims, and the first value goes
    EXPECT_EQ(erased.load(), 1);
    EXPECT_FALSE(m.load(2));
  });
}
