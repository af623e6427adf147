// The examples in the comments of goro/mutex.hpp, rwmutex.hpp, cond.hpp,
// once.hpp, pool.hpp, sync_map.hpp and thread_annotations.hpp (and the
// guide's pool and sync_map sections), compiled and run, so that the
// headers' documentation cannot drift from the API.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "goro/goro.hpp"

namespace {

// thread_annotations.hpp
class account {
 public:
  void deposit(int64_t n) GORO_EXCLUDES(mu_) {
    goro::mutex_lock lock(mu_);
    balance_ += n;
  }
  int64_t balance() GORO_EXCLUDES(mu_) {
    goro::mutex_lock lock(mu_);
    return balance_;
  }

 private:
  goro::mutex mu_;
  int64_t balance_ GORO_GUARDED_BY(mu_) = 0;
};

TEST(SyncDoc, ThreadAnnotationsAccount) {
  account a;
  a.deposit(5);
  EXPECT_EQ(a.balance(), 5);
}

// mutex.hpp
TEST(SyncDoc, MutexExamples) {
  goro::mutex mu;
  int hits = 0;  // the header guards a global with GORO_GUARDED_BY(mu)
  auto record = [&] {
    std::lock_guard lock(mu);
    hits++;
  };
  record();
  if (mu.try_lock()) {
    hits++;
    mu.unlock();
  }
  {
    std::unique_lock lock(mu, std::chrono::milliseconds(10));
    EXPECT_TRUE(lock.owns_lock());
  }
  {
    goro::mutex_lock lock(mu);
    hits++;
  }
  EXPECT_EQ(hits, 3);
}

// rwmutex.hpp
TEST(SyncDoc, RWMutexExamples) {
  goro::rwmutex mu;
  std::map<std::string, int> table;
  auto store = [&](const std::string& k, int v) {
    std::lock_guard lock(mu);
    table[k] = v;
  };
  auto lookup = [&](const std::string& k) {
    std::shared_lock lock(mu);
    auto it = table.find(k);
    return it == table.end() ? 0 : it->second;
  };
  store("a", 1);
  EXPECT_EQ(lookup("a"), 1);
  {
    goro::read_lock lock(mu);
    EXPECT_EQ(table.size(), 1u);
  }
  {
    goro::write_lock lock(mu);
    table.clear();
  }
  EXPECT_EQ(lookup("a"), 0);

  // The timed locks.
  auto size_or = [&](size_t stale) {
    std::shared_lock lock(mu, std::chrono::milliseconds(5));
    if (!lock.owns_lock()) return stale;  // a writer held on
    return table.size();
  };
  int refreshes = 0;
  auto maybe_refresh = [&] {
    if (!mu.try_lock_for(std::chrono::milliseconds(2))) return;  // skip this refresh
    refreshes++;
    mu.unlock();
  };
  EXPECT_EQ(size_or(7), 0u);
  maybe_refresh();
  EXPECT_EQ(refreshes, 1);
  {
    std::unique_lock lock(mu, std::chrono::system_clock::now() + std::chrono::seconds(1));
    EXPECT_TRUE(lock.owns_lock());
    EXPECT_EQ(size_or(7), 7u);  // times out: the write lock is held
    maybe_refresh();            // and so does this
  }
  EXPECT_EQ(refreshes, 1);
}

// cond.hpp
TEST(SyncDoc, CondQueue) {
  goro::run([] {
    goro::mutex mu;
    goro::cond ready;
    std::deque<int> queue;
    auto take = [&] {
      std::unique_lock lock(mu);
      ready.wait(lock, [&] { return !queue.empty(); });
      int j = queue.front();
      queue.pop_front();
      return j;
    };
    auto put = [&](int j) {
      {
        std::lock_guard lock(mu);
        queue.push_back(j);
      }
      ready.signal();
    };
    goro::wait_group wg;
    int got = 0;
    wg.go([&] { got = take(); });
    put(7);
    wg.wait();
    EXPECT_EQ(got, 7);
  });
}

// once.hpp
TEST(SyncDoc, OnceExamples) {
  goro::once init;
  int* cfg = nullptr;
  static int loaded = 42;
  init.call([&] { cfg = &loaded; });
  EXPECT_EQ(*cfg, 42);
  static goro::once o;
  int tables = 0;
  o.call([](int& t, int n) { t = n; }, std::ref(tables), 64);
  EXPECT_EQ(tables, 64);

  int closes = 0;
  auto close_once = goro::once_func([&] { closes++; });
  close_once();
  close_once();
  EXPECT_EQ(closes, 1);

  auto table = goro::once_value([] { return std::vector<uint32_t>(256, 1); });
  uint32_t crc = table()[3];
  EXPECT_EQ(crc, 1u);
}

// pool.hpp (and guide.md's pool section)
TEST(SyncDoc, PoolExamples) {
  goro::run([] {
    goro::pool<std::string> buffers([] { return std::make_unique<std::string>(); });
    std::vector<std::string> sent;
    auto handle = [&](const std::string& request) {
      std::unique_ptr<std::string> buf = buffers.get();  // reused, or new
      buf->clear();
      *buf += "reply to " + request;
      sent.push_back(*buf);
      buffers.put(std::move(buf));
    };
    handle("a");
    handle("b");
    EXPECT_EQ(sent, (std::vector<std::string>{"reply to a", "reply to b"}));

    goro::pool<std::vector<char>> p([] { return std::make_unique<std::vector<char>>(4096); });
    auto b = p.get();
    EXPECT_EQ(b->size(), 4096u);
    p.put(std::move(b));
    goro::pool<int> empty;
    EXPECT_EQ(empty.get(), nullptr);
  });
}

// sync_map.hpp (and guide.md's sync_map section)
TEST(SyncDoc, SyncMapExamples) {
  goro::sync_map<std::string, int> hits;
  hits.store("home", 1);
  int used = 0;
  if (std::optional<int> n = hits.load("home")) used = *n;
  EXPECT_EQ(used, 1);
  auto [actual, loaded] = hits.load_or_store("about", 0);
  EXPECT_EQ(actual, 0);
  EXPECT_FALSE(loaded);
  while (true) {
    int n = hits.load_or_store("home", 0).first;
    if (hits.compare_and_swap("home", n, n + 1)) break;
  }
  EXPECT_EQ(hits.load("home"), 2);
  std::map<std::string, int> seen;
  hits.range([&seen](const std::string& page, const int& n) {
    seen[page] = n;
    return true;  // false stops
  });
  EXPECT_EQ(seen, (std::map<std::string, int>{{"home", 2}, {"about", 0}}));

  goro::sync_map<std::string, std::string> conns;
  std::string addr = "10.0.0.1", fresh = "conn-1";
  auto [conn, was_loaded] = conns.load_or_store(addr, fresh);
  EXPECT_EQ(conn, "conn-1");
  EXPECT_FALSE(was_loaded);

  goro::sync_map<int, int> m;
  int k = 7;
  m.store(k, 1);
  while (true) {
    int v = *m.load(k);
    if (m.compare_and_swap(k, v, v + 1)) break;
  }
  EXPECT_EQ(m.load(k), 2);
}

// lock_order.hpp: the header's two goroutines, one after the other; the
// second order is reported (once), before it waits.
TEST(SyncDoc, LockOrderExample) {
  auto before = goro::debug::lock_order_check();
  goro::debug::set_lock_order_check(goro::debug::lock_order_mode::report);
  uint64_t reports = goro::debug::lock_order_reports();
  goro::run([] {
    goro::mutex a, b;
    goro::wait_group wg;
    wg.go([&] { goro::mutex_lock la(a); goro::mutex_lock lb(b); });  // a -> b
    wg.wait();
    testing::internal::CaptureStderr();
    wg.go([&] { goro::mutex_lock lb(b); goro::mutex_lock la(a); });  // b -> a: reported
    wg.wait();
    EXPECT_EQ(testing::internal::GetCapturedStderr().rfind("WARNING: lock order inversion (potential deadlock)", 0), 0u);
  });
  EXPECT_EQ(goro::debug::lock_order_reports(), reports + 1);
  goro::debug::set_lock_order_check(before);
}

}  // namespace
