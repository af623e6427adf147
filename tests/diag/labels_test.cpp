// Goroutine labels (goro/labels.hpp), as Go's pprof labels: carried by
// contexts, set on goroutines, inherited by the goroutines they start,
// restored by do_with_labels, and shown in dumps (plain, grouped and
// goroutines()). The stress test relabels goroutines while dumps read
// them: under ASan it catches a set freed under the dump (sched/labels.hpp's
// rule).
#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "goro/labels.hpp"
#include "goro/testing/leak_check.hpp"
#include "test_util.hpp"

static const bool leak_checked = goro::testing::install_leak_check();

namespace goro::detail {
int64_t labels_live() noexcept;  // src/sched/labels.hpp
}  // namespace goro::detail

namespace {

using goro::label;
using goro::debug::goroutine_info;

std::vector<label> kv(std::initializer_list<std::pair<const char*, const char*>> l) {
  std::vector<label> out;
  for (auto [k, v] : l) out.emplace_back(k, v);
  return out;
}

TEST(Labels, ContextsCarryThemMergedAndSortedByKey) {
  goro::context bg = goro::background();
  EXPECT_TRUE(goro::labels(bg).empty());
  goro::context a = goro::with_labels(bg, {{"zone", "eu"}, {"handler", "checkout"}});
  EXPECT_EQ(goro::labels(a), kv({{"handler", "checkout"}, {"zone", "eu"}}));
  // A child adds and replaces; the parent keeps its own.
  goro::context b = goro::with_labels(a, {{"zone", "us"}, {"request", "r-1"}});
  EXPECT_EQ(goro::labels(b), kv({{"handler", "checkout"}, {"request", "r-1"}, {"zone", "us"}}));
  EXPECT_EQ(goro::labels(a), kv({{"handler", "checkout"}, {"zone", "eu"}}));
  EXPECT_EQ(goro::label_value(b, "zone"), "us");
  EXPECT_EQ(goro::label_value(b, "missing"), std::nullopt);
  // Other values and cancellation pass through a labelled context.
  auto [c, cancel] = goro::with_cancel(b);
  EXPECT_EQ(goro::label_value(c, "request"), "r-1");
  cancel();
  EXPECT_TRUE(c.err());
  EXPECT_EQ(goro::labels(goro::with_labels(bg, kv({{"k", "v"}}))), kv({{"k", "v"}}));
}

TEST(Labels, DoWithLabelsSetsThemForItsDurationAndRestoresThem) {
  goro::run([] {
    EXPECT_TRUE(goro::goroutine_labels().empty());
    goro::context bg = goro::background();
    goro::do_with_labels(bg, {{"stage", "parse"}}, [&](const goro::context& ctx) {
      EXPECT_EQ(goro::goroutine_labels(), kv({{"stage", "parse"}}));
      EXPECT_EQ(goro::label_value(ctx, "stage"), "parse");
      goro::do_with_labels(ctx, {{"item", "7"}}, [&](const goro::context&) {
        EXPECT_EQ(goro::goroutine_labels(), kv({{"item", "7"}, {"stage", "parse"}}));
        goro::yield();  // may resume on another worker: the labels are the goroutine's
        EXPECT_EQ(goro::goroutine_labels(), kv({{"item", "7"}, {"stage", "parse"}}));
      });
      EXPECT_EQ(goro::goroutine_labels(), kv({{"stage", "parse"}}));
      // An exception restores them too.
      EXPECT_THROW(goro::do_with_labels(ctx, {{"stage", "fail"}},
                                        [](const goro::context&) { throw std::runtime_error("boom"); }),
                   std::runtime_error);
      EXPECT_EQ(goro::goroutine_labels(), kv({{"stage", "parse"}}));
    });
    EXPECT_TRUE(goro::goroutine_labels().empty());
    // set_goroutine_labels replaces them for good.
    goro::set_goroutine_labels(goro::with_labels(bg, {{"a", "1"}}));
    EXPECT_EQ(goro::goroutine_labels(), kv({{"a", "1"}}));
    goro::set_goroutine_labels(bg);
    EXPECT_TRUE(goro::goroutine_labels().empty());
  });
}

TEST(Labels, NewGoroutinesInheritTheirCreatorsLabels) {
  goro::run([] {
    goro::context bg = goro::background();
    goro::chan<std::vector<label>> seen = goro::make_chan<std::vector<label>>(4);
    goro::go([seen] { seen.send(goro::goroutine_labels()); });  // before: none
    EXPECT_TRUE(seen.recv().empty());
    goro::set_goroutine_labels(goro::with_labels(bg, {{"tenant", "acme"}}));
    goro::go([seen] {
      seen.send(goro::goroutine_labels());
      // A grandchild inherits its own creator's, changed ones included.
      goro::set_goroutine_labels(goro::with_labels(goro::background(), {{"tenant", "acme"}, {"job", "9"}}));
      goro::go([seen] { seen.send(goro::goroutine_labels()); });
    });
    EXPECT_EQ(seen.recv(), kv({{"tenant", "acme"}}));
    EXPECT_EQ(seen.recv(), kv({{"job", "9"}, {"tenant", "acme"}}));
    // The creator's later change does not reach a child already started.
    goro::chan<int> go_on = goro::make_chan<int>();
    goro::go([seen, go_on] {
      go_on.recv();
      seen.send(goro::goroutine_labels());
    });
    goro::set_goroutine_labels(bg);
    go_on.send(1);
    EXPECT_EQ(seen.recv(), kv({{"tenant", "acme"}}));
  });
}

// A goroutine's label set goes when it exits. It was kept until the
// goroutine's record was reused by a later go(), so a burst of labelled
// goroutines kept their sets (here one set, shared by 100 children, stayed
// alive after all of them and their creator's labels were gone).
TEST(Labels, ExitedGoroutinesLetGoOfTheirSets) {
  goro::run([] {
    const int64_t base = goro::detail::labels_live();
    goro::wait_group wg;
    goro::chan<int> exited = goro::make_chan<int>(100);
    goro::set_goroutine_labels(goro::with_labels(goro::background(), {{"job", "burst"}}));
    for (int i = 0; i < 100; i++) {
      wg.add(1);
      goro::go([&wg] { wg.done(); });
    }
    goro::set_goroutine_labels(goro::background());
    wg.wait();
    // wg.done() comes just before each child's exit: wait for the exits.
    EXPECT_TRUE(goro_test::spin_until([&] { return goro::detail::labels_live() == base; }))
        << goro::detail::labels_live() - base << " label sets still alive";
  });
}

TEST(Labels, PlainThreadsHaveNone) {
  goro::set_goroutine_labels(goro::with_labels(goro::background(), {{"k", "v"}}));
  EXPECT_TRUE(goro::goroutine_labels().empty());
  // A goroutine started from a plain thread has none either.
  goro::chan<std::vector<label>> seen = goro::make_chan<std::vector<label>>(1);
  goro::go([seen] { seen.send(goro::goroutine_labels()); });
  EXPECT_TRUE(seen.recv().empty());
}

const goroutine_info* find_id(const std::vector<goroutine_info>& gs, uint64_t id) {
  for (const goroutine_info& g : gs)
    if (g.id == id) return &g;
  return nullptr;
}

TEST(Labels, DumpsShowThem) {
  goro::run([] {
    goro::context bg = goro::background();
    goro::chan<int> release = goro::make_chan<int>();
    goro::wait_group wg;
    std::vector<uint64_t> ids;
    // Two goroutines per label value, same code: the grouped dump shows
    // one entry per value, as Go's goroutine profile does.
    for (const char* tenant : {"acme", "acme", "beta", "beta"}) {
      goro::do_with_labels(bg, {{"tenant", tenant}, {"quote", "a\"b"}}, [&](const goro::context&) {
        wg.add(1);
        ids.push_back(goro::go([release, &wg] {
          (void)release.recv();
          wg.done();
        }));
      });
    }
    std::vector<goroutine_info> gs;
    for (;;) {  // until all four are parked
      gs = goro::debug::goroutines();
      int parked = 0;
      for (uint64_t id : ids)
        if (const goroutine_info* g = find_id(gs, id); g != nullptr && g->wait_reason == "chan receive") parked++;
      if (parked == 4) break;
      goro::yield();
    }
    EXPECT_EQ(find_id(gs, ids[0])->labels, kv({{"quote", "a\"b"}, {"tenant", "acme"}}));
    EXPECT_EQ(find_id(gs, ids[2])->labels, kv({{"quote", "a\"b"}, {"tenant", "beta"}}));
    EXPECT_TRUE(find_id(gs, goro::goroutine_id())->labels.empty());

    const std::string line_acme = "\tlabels: {\"quote\":\"a\\\"b\", \"tenant\":\"acme\"}\n";
    const std::string line_beta = "\tlabels: {\"quote\":\"a\\\"b\", \"tenant\":\"beta\"}\n";
    std::ostringstream plain;
    goro::debug::dump(plain);
    std::string text = plain.str();
    EXPECT_NE(text.find("goroutine " + std::to_string(ids[0]) + " [chan receive]:\n" + line_acme), std::string::npos)
        << text;
    EXPECT_NE(text.find("goroutine " + std::to_string(ids[3]) + " [chan receive]:\n" + line_beta), std::string::npos)
        << text;
    EXPECT_NE(goro::debug::format(*find_id(gs, ids[1])).find(line_acme), std::string::npos);

    std::ostringstream grouped;
    goro::debug::dump(grouped, {.grouped = true});
    std::string g = grouped.str();
    EXPECT_NE(g.find("2 goroutines [chan receive]: ids " + std::to_string(ids[0]) + ", " + std::to_string(ids[1]) +
                     "\n" + line_acme),
              std::string::npos)
        << g;
    EXPECT_NE(g.find("2 goroutines [chan receive]: ids " + std::to_string(ids[2]) + ", " + std::to_string(ids[3]) +
                     "\n" + line_beta),
              std::string::npos)
        << g;
    release.close();
    wg.wait();
  });
}

// Goroutines relabel themselves over and over while dumps read their
// labels: each label read must be one the goroutine set (never freed
// memory: ASan), and every set is freed in the end (LeakSanitizer). The
// goroutines go on until the dumps are done, so every dump overlaps them.
TEST(Labels, DumpsWhileGoroutinesRelabel) {
  const int kWorkers = 8;
  const int kDumps = 20;
  goro::run([&] {
    std::atomic<int> dumps{0};
    std::atomic<long> relabels{0};
    goro::wait_group wg;
    for (int w = 0; w < kWorkers; w++) {
      wg.go([&, w] {
        goro::context bg = goro::background();
        for (int i = 0; dumps.load() < kDumps; i++) {
          goro::set_goroutine_labels(goro::with_labels(bg, {{"worker", std::to_string(w)}, {"round", std::to_string(i)}}));
          relabels.fetch_add(1, std::memory_order_relaxed);
          if (i % 16 == 0) goro::yield();
        }
        goro::set_goroutine_labels(bg);
      });
    }
    // A plain thread dumps meanwhile.
    std::atomic<bool> bad{false};
    std::thread dumper([&] {
      for (int d = 0; d < kDumps; d++) {
        for (const goroutine_info& g : goro::debug::goroutines()) {
          if (g.labels.empty()) continue;
          if (g.labels.size() != 2 || g.labels[0].first != "round" || g.labels[1].first != "worker") bad = true;
        }
        dumps.fetch_add(1);
      }
    });
    wg.wait();
    dumper.join();
    EXPECT_FALSE(bad.load());
    EXPECT_GT(relabels.load(), kWorkers);
  });
}

}  // namespace
