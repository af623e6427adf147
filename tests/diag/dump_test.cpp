// goro::debug::goroutines() and dump(): states, Go's wait reasons, stacks
// and creation sites of a running program; the grouped form; and the dump
// taken over and over while thousands of goroutines park and wake (the
// snapshot protocol, sched/traceback.cpp), which the ASan and TSan builds
// run too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "goro/testing/leak_check.hpp"
#include "test_util.hpp"

// Every test of this binary also checks that it leaves no goroutine behind.
static const bool leak_checked = goro::testing::install_leak_check();

#if GORO_TEST_NO_ARANGES_UNIT
// no_aranges/blocked_without_aranges.cpp, a unit without .debug_aranges.
namespace goro_test_no_aranges {
extern const int kRecvLine;
void blocked_receiving(goro::chan<int> ch);
}  // namespace goro_test_no_aranges
#endif

namespace {

using goro::debug::goroutine_info;
using goro::debug::goroutine_state;
using namespace std::chrono_literals;

// Polls goroutines() until pred holds for it (a condition, never a fixed
// wait); fails after 60 s.
template <class Pred>
std::vector<goroutine_info> wait_for_dump(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    std::vector<goroutine_info> gs = goro::debug::goroutines();
    if (pred(gs)) return gs;
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "the dump never showed what the test waits for";
      return gs;
    }
    goro::sleep_for(1ms);
  }
}

const goroutine_info* find_id(const std::vector<goroutine_info>& gs, uint64_t id) {
  for (const goroutine_info& g : gs)
    if (g.id == id) return &g;
  return nullptr;
}

bool waiting_as(const std::vector<goroutine_info>& gs, uint64_t id, const char* reason) {
  const goroutine_info* g = find_id(gs, id);
  return g != nullptr && g->state == goroutine_state::waiting && g->wait_reason == reason;
}

bool stack_has(const goroutine_info& g, const std::string& s) {
  for (const std::string& f : g.stack)
    if (f.find(s) != std::string::npos) return true;
  return false;
}

// Keeps the calling function's frame on the stack: the blocking call
// before it is then not a tail call, which would leave no frame to find.
inline void keep_frame() { asm volatile("" ::: "memory"); }

[[gnu::noinline]] void dump_test_blocked_receiving(goro::chan<int> ch) {
  (void)ch.recv();
  keep_frame();
}
[[gnu::noinline]] void dump_test_blocked_sending(goro::chan<int> ch) {
  ch.send(1);
  keep_frame();
}
[[gnu::noinline]] void dump_test_blocked_selecting(goro::chan<int> a, goro::chan<int> b) {
  (void)goro::select(goro::case_recv(a), goro::case_recv(b));
  keep_frame();
}
[[gnu::noinline]] void dump_test_blocked_locking(goro::mutex& mu) {
  mu.lock();
  mu.unlock();
  keep_frame();
}
[[gnu::noinline]] void dump_test_blocked_waiting(goro::wait_group& wg) {
  wg.wait();
  keep_frame();
}
[[gnu::noinline]] void dump_test_sleeping(goro::chan<int> stop) {
  while (!stop.try_recv()) goro::sleep_for(20ms);
  keep_frame();
}

TEST(Dump, ShowsEachWaitReasonWithStackAndCreationSite) {
  goro::run([] {
    goro::chan<int> recv_ch = goro::make_chan<int>();
    goro::chan<int> send_ch = goro::make_chan<int>();
    goro::chan<int> sel_a = goro::make_chan<int>();
    goro::chan<int> sel_b = goro::make_chan<int>();
    goro::chan<int> stop = goro::make_chan<int>(1);
    goro::mutex mu;
    goro::wait_group never;
    never.add(1);
    // The locking and waiting goroutines use mu and never, which live on
    // this stack: they are waited for before it unwinds.
    goro::wait_group released;
    released.add(2);
    mu.lock();
    int line = __LINE__ + 1;
    uint64_t r = goro::go([recv_ch] { dump_test_blocked_receiving(recv_ch); });
    uint64_t s = goro::go([send_ch] { dump_test_blocked_sending(send_ch); });
    uint64_t x = goro::go([sel_a, sel_b] { dump_test_blocked_selecting(sel_a, sel_b); });
    uint64_t l = goro::go([&mu, &released] { dump_test_blocked_locking(mu); released.done(); });
    uint64_t w = goro::go([&never, &released] { dump_test_blocked_waiting(never); released.done(); });
    uint64_t z = goro::go([stop] { dump_test_sleeping(stop); });
    std::vector<goroutine_info> gs = wait_for_dump([&](const std::vector<goroutine_info>& v) {
      return waiting_as(v, r, "chan receive") && waiting_as(v, s, "chan send") && waiting_as(v, x, "select") &&
             waiting_as(v, l, "sync.Mutex.Lock") && waiting_as(v, w, "sync.WaitGroup.Wait") &&
             waiting_as(v, z, "sleep");
    });
    struct want {
      uint64_t id;
      const char* fn;
      int line;
    };
    const want wants[] = {{r, "dump_test_blocked_receiving", line},    {s, "dump_test_blocked_sending", line + 1},
                          {x, "dump_test_blocked_selecting", line + 2}, {l, "dump_test_blocked_locking", line + 3},
                          {w, "dump_test_blocked_waiting", line + 4},   {z, "dump_test_sleeping", line + 5}};
    uint64_t self = goro::goroutine_id();
    // (No ASSERT here: the goroutines must be released below whatever
    // fails, or they would outlive the test.)
    for (const want& wt : wants) {
      const goroutine_info* g = find_id(gs, wt.id);
      if (g == nullptr) {
        ADD_FAILURE() << "goroutine " << wt.id << " missing from the dump";
        continue;
      }
      EXPECT_TRUE(g->stack_known);
      EXPECT_TRUE(stack_has(*g, wt.fn)) << goro::debug::format(*g);
      EXPECT_EQ(g->creator_id, self);
      EXPECT_FALSE(g->is_main);
      if (GORO_TEST_LINE_INFO) {
        std::string site = "dump_test.cpp:" + std::to_string(wt.line);
        EXPECT_NE(g->created_by.find(site), std::string::npos) << g->created_by << " (want " << site << ")";
      }
      EXPECT_LT(g->wait_duration, 10min);
    }
    // The caller is running, and shows its own stack.
    const goroutine_info* me = find_id(gs, self);
    EXPECT_NE(me, nullptr);
    if (me != nullptr) {
      EXPECT_EQ(me->state, goroutine_state::running);
      EXPECT_TRUE(me->is_main);
      EXPECT_TRUE(me->stack_known);
      EXPECT_FALSE(me->stack.empty());
    }

    // The text form says the same, in Go's words.
    std::ostringstream os;
    goro::debug::dump(os);
    std::string text = os.str();
    EXPECT_NE(text.find("goroutine " + std::to_string(r) + " [chan receive]:\n"), std::string::npos) << text;
    EXPECT_NE(text.find("goroutine " + std::to_string(s) + " [chan send]:\n"), std::string::npos) << text;
    EXPECT_NE(text.find("goroutine " + std::to_string(l) + " [sync.Mutex.Lock]:\n"), std::string::npos) << text;
    EXPECT_NE(text.find("created by goroutine " + std::to_string(self) + " at "), std::string::npos) << text;

    recv_ch.send(1);
    (void)send_ch.recv();
    sel_a.send(1);
    mu.unlock();
    never.done();
    stop.send(1);
    released.wait();
  });
}

// A helper inlined into its caller: the dump shows it as a frame of its
// own at the line inside it, and the caller at the line of the call.
constexpr int kInlinedRecvLine = __LINE__ + 2;
[[gnu::always_inline]] inline void dump_test_inlined_helper(goro::chan<int>& ch) {
  (void)ch.recv();
}
constexpr int kCallOfInlinedLine = __LINE__ + 2;
[[gnu::noinline]] void dump_test_calls_inlined_helper(goro::chan<int> ch) {
  dump_test_inlined_helper(ch);
  keep_frame();
}

// The index of the first frame at or after `from` that holds both strings,
// or -1.
int frame_with(const goroutine_info& g, size_t from, const std::string& a, const std::string& b) {
  for (size_t i = from; i < g.stack.size(); i++)
    if (g.stack[i].find(a) != std::string::npos && g.stack[i].find(b) != std::string::npos) return static_cast<int>(i);
  return -1;
}

// An after_func's function runs in a goroutine the timer starts: the dump
// says so and names the after_func call (Go: "created by time.goFunc");
// it said "created by a plain thread at ?? pc=(nil)" before.
TEST(Dump, AnAfterFuncGoroutineNamesTheAfterFuncCall) {
  goro::run([] {
    auto hold = goro::make_chan<int>();
    std::atomic<uint64_t> id{0};
    auto fn = [hold, &id] {
      id = goro::goroutine_id();
      hold.recv();
    };
    int line = __LINE__ + 1;
    goro::timer t = goro::after_func(1ms, fn);
    std::vector<goroutine_info> gs = wait_for_dump([&](const std::vector<goroutine_info>& v) {
      return id.load() != 0 && waiting_as(v, id.load(), "chan receive");
    });
    const goroutine_info* g = find_id(gs, id.load());
    EXPECT_NE(g, nullptr);
    if (g != nullptr) {
      EXPECT_TRUE(g->by_timer);
      EXPECT_EQ(g->creator_id, 0u);
      std::string text = goro::debug::format(*g);
      EXPECT_NE(text.find("created by goro::after_func at "), std::string::npos) << text;
      if (GORO_TEST_LINE_INFO) {
        std::string site = "dump_test.cpp:" + std::to_string(line);
        EXPECT_NE(g->created_by.find(site), std::string::npos) << g->created_by << " (want " << site << ")";
      }
    }
    hold.send(1);
  });
}

// A context_after_func's goroutine names where the runtime started it, in
// the context code, created by the goroutine that cancelled. The site was
// the starting function's own entry, read back as a return address: the
// code before it ("stop_token:345 in ?").
TEST(Dump, AContextAfterFuncGoroutineNamesTheContextCode) {
  goro::run([] {
    auto hold = goro::make_chan<int>();
    std::atomic<uint64_t> id{0};
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto stop = goro::context_after_func(ctx, [hold, &id] {
      id = goro::goroutine_id();
      hold.recv();
    });
    cancel();
    std::vector<goroutine_info> gs = wait_for_dump([&](const std::vector<goroutine_info>& v) {
      return id.load() != 0 && waiting_as(v, id.load(), "chan receive");
    });
    const goroutine_info* g = find_id(gs, id.load());
    EXPECT_NE(g, nullptr);
    if (g != nullptr) {
      EXPECT_EQ(g->creator_id, goro::goroutine_id());
      EXPECT_EQ(g->created_by.find("??"), std::string::npos) << g->created_by;
      EXPECT_EQ(g->created_by.find(" in ?"), std::string::npos) << g->created_by;
      if (GORO_TEST_LINE_INFO) {
        EXPECT_NE(g->created_by.find("context.cpp:"), std::string::npos) << g->created_by;
      }
    }
    hold.send(1);
  });
}

TEST(Dump, InlinedCallsAreFramesOfTheirOwnAtTheirCallSites) {
  if (!GORO_TEST_LINE_INFO) GTEST_SKIP() << "a build without debug information has no inline records";
  goro::run([] {
    goro::chan<int> ch = goro::make_chan<int>();
    uint64_t id = goro::go([ch] { dump_test_calls_inlined_helper(ch); });
    std::vector<goroutine_info> gs =
        wait_for_dump([&](const std::vector<goroutine_info>& v) { return waiting_as(v, id, "chan receive"); });
    const goroutine_info* g = find_id(gs, id);
    ASSERT_NE(g, nullptr);
    std::string text = goro::debug::format(*g);
    // Innermost first: the helper, inlined, at its receive; then its
    // caller at the call (before, the caller's frame named the line
    // inside goro/chan.hpp that the inlined receive ended in, and the
    // helper did not appear).
    int helper = frame_with(*g, 0, "dump_test_inlined_helper",
                            "dump_test.cpp:" + std::to_string(kInlinedRecvLine) + " (inlined)");
    EXPECT_GE(helper, 0) << text;
    int caller = frame_with(*g, helper < 0 ? 0 : static_cast<size_t>(helper) + 1, "dump_test_calls_inlined_helper",
                            "dump_test.cpp:" + std::to_string(kCallOfInlinedLine) + " +0x");
    EXPECT_GT(caller, helper) << text;
    // Each entry is one frame, two lines; every path is absolute, as Go's.
    for (const std::string& f : g->stack) {
      size_t nl = f.find('\n');
      ASSERT_NE(nl, std::string::npos) << f;
      EXPECT_EQ(f.find('\n', nl + 1), std::string::npos) << "more than one frame in an entry:\n" << f;
      EXPECT_EQ(f.compare(nl, 3, "\n\t/"), 0) << "not an absolute path:\n" << f;
    }
    // The standard library's invoke and apply plumbing, inlined between
    // the goroutine's lambda and goro's frame, is left out (a build that
    // does not inline it shows it as the calls it then is).
    for (const std::string& f : g->stack)
      EXPECT_FALSE(f.find("/include/c++/") != std::string::npos && f.find("(inlined)") != std::string::npos) << text;
    ch.send(1);
  });
}

#if GORO_TEST_NO_ARANGES_UNIT
TEST(Dump, LinesOfAUnitWithoutAranges) {
  goro::run([] {
    goro::chan<int> ch = goro::make_chan<int>();
    uint64_t id = goro::go([ch] { goro_test_no_aranges::blocked_receiving(ch); });
    std::vector<goroutine_info> gs =
        wait_for_dump([&](const std::vector<goroutine_info>& v) { return waiting_as(v, id, "chan receive"); });
    const goroutine_info* g = find_id(gs, id);
    ASSERT_NE(g, nullptr);
    // Before, the frame named a line of whichever unit with aranges
    // preceded this one (src/sync/lock_order.cpp:565 in a clang-built
    // program linked with a GCC-built libgoro).
    EXPECT_GE(frame_with(*g, 0, "goro_test_no_aranges::blocked_receiving",
                         "blocked_without_aranges.cpp:" + std::to_string(goro_test_no_aranges::kRecvLine) + " +0x"),
              0)
        << goro::debug::format(*g);
    ch.send(1);
  });
}
#endif

TEST(Dump, WaitOfAMinuteOrMoreIsShownInMinutesAsGo) {
  goroutine_info g;
  g.id = 7;
  g.state = goroutine_state::waiting;
  g.wait_reason = "chan receive";
  g.wait_duration = 59s;
  g.creator_id = 1;
  g.created_by = "main.cpp:3 in main";
  g.stack_known = true;
  EXPECT_EQ(goro::debug::format(g), "goroutine 7 [chan receive]:\n\tcreated by goroutine 1 at main.cpp:3 in main\n\n");
  g.wait_duration = 12min + 30s;
  EXPECT_EQ(goro::debug::format(g).substr(0, 40), "goroutine 7 [chan receive, 12 minutes]:\n");
}

[[gnu::noinline]] void dump_test_spin(std::atomic<bool>* started, std::atomic<bool>* stop) {
  started->store(true);
  while (!stop->load()) {
  }
}

TEST(Dump, GoroutineRunningElsewhereIsRunningWithoutStack) {
  int old = goro::set_maxprocs(2);
  goro::run([] {
    std::atomic<bool> started{false}, stop{false};
    goro::wait_group wg;
    wg.add(1);
    uint64_t id = goro::go([&started, &stop, &wg] {
      dump_test_spin(&started, &stop);
      wg.done();
    });
    while (!started.load()) goro::sleep_for(100us);
    std::vector<goroutine_info> gs = goro::debug::goroutines();
    stop.store(true);
    wg.wait();  // the spinner reads this frame's atomics
    const goroutine_info* g = find_id(gs, id);
    ASSERT_NE(g, nullptr);
    // It never stops spinning before `stop`, and goroutines are not
    // preempted inside C++ code: it is on a worker.
    EXPECT_EQ(g->state, goroutine_state::running);
    EXPECT_FALSE(g->stack_known);
    EXPECT_TRUE(g->stack.empty());
    EXPECT_NE(goro::debug::format(*g).find("[running]:\n\t(running on another worker"), std::string::npos);
  });
  goro::set_maxprocs(old);
}

std::atomic<int> g_grouped_sum{0};
// (Not the same code as dump_test_blocked_receiving, which GCC would fold
// into one function with one name.)
[[gnu::noinline]] void dump_test_grouped_worker(goro::chan<int> ch) {
  g_grouped_sum.fetch_add(ch.recv());
  keep_frame();
}

TEST(Dump, GroupedCollapsesIdenticalGoroutinesWithACount) {
  goro::run([] {
    constexpr int kN = 100;
    goro::chan<int> ch = goro::make_chan<int>();
    std::vector<uint64_t> ids;
    for (int i = 0; i < kN; i++) ids.push_back(goro::go([ch] { dump_test_grouped_worker(ch); }));
    wait_for_dump([&](const std::vector<goroutine_info>& v) {
      for (uint64_t id : ids)
        if (!waiting_as(v, id, "chan receive")) return false;
      return true;
    });
    std::ostringstream os;
    goro::debug::dump(os, {.grouped = true});
    std::string text = os.str();
    std::string head = "100 goroutines [chan receive]: ids " + std::to_string(ids[0]) + ", " + std::to_string(ids[1]);
    size_t at = text.find(head);
    ASSERT_NE(at, std::string::npos) << text;
    size_t end = text.find("\n\n", at);
    EXPECT_NE(text.substr(at, end - at).find("dump_test_grouped_worker"), std::string::npos) << text;
    // The group is the first entry (most numerous first), and it is the
    // only one with that stack.
    EXPECT_EQ(at, 0u) << text;
    EXPECT_EQ(text.find("dump_test_grouped_worker", end), std::string::npos) << text;
    for (int i = 0; i < kN; i++) ch.send(i);
  });
}

// The dump must be safe while goroutines park, wake and migrate: a plain
// thread dumps over and over while pairs of goroutines ping-pong on
// unbuffered channels (each handoff parks one and readies the other, on
// any of the workers). Every dump must list every pair member, each with
// a creation site, and a stack whenever it claims to know it.
[[gnu::noinline]] void dump_test_ping(goro::chan<int> in, goro::chan<int> out, const std::atomic<bool>* stop) {
  while (!stop->load(std::memory_order_relaxed)) {
    out.send(1);
    (void)in.recv();
  }
  out.send(-1);
}
[[gnu::noinline]] void dump_test_pong(goro::chan<int> in, goro::chan<int> out) {
  for (;;) {
    int v = in.recv();
    if (v < 0) return;
    out.send(v);
  }
}

TEST(Dump, SafeWhileThousandsOfGoroutinesParkAndWake) {
  const int pairs = goro_test::scaled(1000, 4);
  const int want_dumps = 6;
  std::atomic<bool> done{false}, stop{false}, bad{false}, steady{false};
  std::atomic<int> dumps{0}, with_stack{0}, short_dumps{0};
  std::string bad_entry;
  std::thread dumper([&] {
    while (!done.load()) {
      // While steady, every pair member is alive: a dump taken wholly
      // inside that time must list them all (and the main goroutine).
      bool steady_before = steady.load();
      std::vector<goroutine_info> gs = goro::debug::goroutines();
      bool steady_after = steady.load();
      int n = 0;
      for (const goroutine_info& g : gs) {
        bool ok = !g.created_by.empty() && (g.stack_known || g.stack.empty());
        if (g.state == goroutine_state::waiting && g.wait_reason.empty()) ok = false;
        if (!ok && !bad.exchange(true)) bad_entry = goro::debug::format(g);
        if (g.stack_known && !g.stack.empty() && g.state == goroutine_state::waiting) with_stack.fetch_add(1);
        n++;
      }
      if (steady_before && steady_after && n < 2 * pairs + 1) short_dumps.fetch_add(1);
      std::ostringstream os;
      goro::debug::dump(os, {.grouped = (dumps.load() % 2) == 1});
      if (steady_before && steady.load()) dumps.fetch_add(1);
    }
  });
  goro::run([&] {
    goro::wait_group wg;
    for (int p = 0; p < pairs; p++) {
      goro::chan<int> a = goro::make_chan<int>(), b = goro::make_chan<int>();
      wg.go([a, b, &stop] { dump_test_ping(a, b, &stop); });
      wg.go([a, b] { dump_test_pong(b, a); });
    }
    // Dumps taken while every pair keeps handing off.
    steady.store(true);
    while (dumps.load() < want_dumps && !bad.load()) goro::sleep_for(1ms);
    steady.store(false);
    stop.store(true);
    wg.wait();
  });
  done.store(true);
  dumper.join();
  EXPECT_FALSE(bad.load()) << bad_entry;
  EXPECT_EQ(short_dumps.load(), 0);
  EXPECT_GE(dumps.load(), want_dumps);
  EXPECT_GT(with_stack.load(), 0);
}

}  // namespace
