// The per-P record caches (sched/record_cache.hpp): blocks made and given
// back by goroutines on either P and by plain threads, crossing between
// them, are never handed out twice and keep what their holder wrote; the
// global pool stays bounded and goro::free_os_memory empties it.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/record_cache.hpp"  // declarations only
#include "test_util.hpp"

namespace {

using goro::detail::record_alloc;
using goro::detail::record_free;
using goro::detail::record_pool_count;

struct block {
  unsigned char* p = nullptr;
  size_t bytes = 0;
  unsigned char tag = 0;
};

block make_block(std::mt19937& rng, unsigned char tag) {
  block b;
  b.bytes = 1 + rng() % 300;  // classes 1-16 and past the largest
  b.p = static_cast<unsigned char*>(record_alloc(b.bytes));
  b.tag = tag;
  std::memset(b.p, tag, b.bytes);
  return b;
}

// The block still holds its tag in every byte (a block handed out twice
// would hold another holder's), then goes back.
bool check_and_free(const block& b) {
  bool ok = true;
  for (size_t i = 0; i < b.bytes; i++) ok &= b.p[i] == b.tag;
  record_free(b.p, b.bytes);
  return ok;
}

TEST(RecordCache, BlocksCrossingWorkersAndThreadsAreNeverShared) {
  const int workers = 8, threads = 2;
  const int rounds = goro_test::scaled(20000, 10);
  std::atomic<int64_t> bad{0}, made{0}, freed{0};
  // Blocks pass from every maker to a random other taker through this
  // channel, so most are freed on another worker or thread than made them.
  auto handoff = goro::make_chan<block>(64);
  auto maker = [&](int id) {
    std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 1);
    std::vector<block> held;
    for (int r = 0; r < rounds; r++) {
      auto tag = static_cast<unsigned char>(1 + (id * 31 + r) % 255);
      held.push_back(make_block(rng, tag));
      made.fetch_add(1, std::memory_order_relaxed);
      if (held.size() > 40 || rng() % 3 == 0) {
        size_t i = rng() % held.size();
        block b = held[i];
        held[i] = held.back();
        held.pop_back();
        if (rng() % 2 == 0) {
          handoff.send(b);
        } else {
          if (!check_and_free(b)) bad.fetch_add(1);
          freed.fetch_add(1, std::memory_order_relaxed);
        }
      }
      if (r % 64 == 0) goro::yield();  // move between the Ps
    }
    for (const block& b : held) {
      if (!check_and_free(b)) bad.fetch_add(1);
      freed.fetch_add(1, std::memory_order_relaxed);
    }
  };
  auto taker = [&] {
    while (auto b = handoff.recv_opt()) {
      if (!check_and_free(*b)) bad.fetch_add(1);
      freed.fetch_add(1, std::memory_order_relaxed);
    }
  };
  goro::run([&] {
    goro::wait_group makers, takers;
    for (int i = 0; i < workers; i++) makers.go([&, i] { maker(i); });
    for (int i = 0; i < 2; i++) takers.go(taker);
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; i++) ts.emplace_back([&, i] { maker(workers + i); });
    std::thread thread_taker(taker);
    makers.wait();
    goro::blocking([&] {
      for (auto& t : ts) t.join();
    });
    handoff.close();
    takers.wait();
    goro::blocking([&] { thread_taker.join(); });
  });
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(made.load(), freed.load());
}

TEST(RecordCache, PoolStaysBoundedAndFreeOsMemoryEmptiesIt) {
  if (goro_test::kTsan) GTEST_SKIP() << "the cache is off under TSan (record_cache.hpp)";
  constexpr size_t kBytes = 104;  // an unbuffered channel's record
  constexpr int kMany = 3 * goro::detail::kRecordGlobalMax;
  goro::run([] {
    std::vector<void*> blocks;
    blocks.reserve(kMany);
    for (int i = 0; i < kMany; i++) blocks.push_back(record_alloc(kBytes));
    // All freed on one P: its cache fills, spills a batch at a time into
    // the pool, and the pool keeps kRecordGlobalMax at most.
    for (void* b : blocks) record_free(b, kBytes);
    int64_t pooled = record_pool_count(kBytes);
    EXPECT_GE(pooled, goro::detail::kRecordGlobalMax - goro::detail::kRecordCacheMax);
    EXPECT_LE(pooled, goro::detail::kRecordGlobalMax);
    // The pool's blocks are reused before malloc is asked again.
    std::vector<void*> again;
    for (int i = 0; i < goro::detail::kRecordCacheMax + goro::detail::kRecordBatch; i++)
      again.push_back(record_alloc(kBytes));
    EXPECT_LT(record_pool_count(kBytes), pooled);
    for (void* b : again) record_free(b, kBytes);
    goro::free_os_memory();
    EXPECT_EQ(record_pool_count(kBytes), 0);
  });
}

// Contexts and unbuffered channels use the cache: a tree made on one
// goroutine and dropped by goroutines on both Ps, many times over, keeps
// every node whole (the context and channel tests check the semantics;
// this one the memory, under ASan with the cached blocks poisoned).
TEST(RecordCache, ContextsAndChannelsMadeHereDroppedThere) {
  const int children = goro_test::goroutines(2000, 10, 50);
  goro::run([&] {
    for (int round = 0; round < 5; round++) {
      auto [parent, cancel] = goro::with_cancel(goro::background());
      goro::wait_group wg;
      std::atomic<int> wrong{0};
      for (int i = 0; i < children; i++) {
        auto [child, child_cancel] = goro::with_cancel(parent);
        auto ch = goro::make_chan<int>();
        wg.go([child = std::move(child), child_cancel = std::move(child_cancel), ch, &wrong] {
          child.done().recv();
          if (child.err() != goro::errc::canceled) wrong.fetch_add(1);
          child_cancel();
          ch.close();
        });
      }
      cancel();
      wg.wait();
      EXPECT_EQ(wrong.load(), 0);
    }
  });
}

}  // namespace
