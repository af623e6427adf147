// goro::debug::find_partial_deadlocks and the leaked mark of the dump and
// the leak check: goroutines parked on channels that nothing outside them
// can reach (Go 1.26's goroutineleak profile; docs/design.md section 7b).
//
// Positive cases: the first article's leakySearch (a sender whose receiver
// returned), a two-goroutine cycle, a select, a nil channel. Negative
// cases (no false report): a channel a plain thread, a heap object, a
// goroutine parked on a mutex or sleeping, or a goroutine's go([&])
// closure can still reach; an after() and a timer channel; a handle made
// before tracking began.
//
// A leaked goroutine cannot be let go through its channel (that is the
// point), so each positive test keeps a back door: the address of a handle
// inside the goroutine's closure, which the report cannot see (a pointer
// to a handle, the documented blind spot). Through it the test receives
// and the goroutine ends. Each test waits on conditions (the goroutine is
// parked), never on elapsed time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "goro/testing/leak_check.hpp"

namespace {

using namespace std::chrono_literals;
using goro::debug::goroutine_info;

// The goroutine `id` as the dump sees it once it is parked with `reason`.
// Waits until goroutine `id` is parked for `reason` (a condition); fails
// after 60 s rather than hang when it parks for another reason.
goroutine_info wait_parked(uint64_t id, const std::string& reason) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    for (goroutine_info& g : goro::debug::goroutines()) {
      if (g.id == id && g.state == goro::debug::goroutine_state::waiting && g.wait_reason == reason) return g;
      if (g.id == id && std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "goroutine " << id << " never parked as [" << reason << "]:\n" << goro::debug::format(g);
        return g;
      }
    }
    goro::sleep_for(1ms);
  }
}

void wait_id(const std::atomic<uint64_t>& id) {
  while (id.load() == 0) goro::sleep_for(100us);
}

bool reported(uint64_t id) {
  for (const goroutine_info& g : goro::debug::find_partial_deadlocks())
    if (g.id == id) return true;
  return false;
}

// ---- found -----------------------------------------------------------------

// Per search: its goroutine, and the back door (its own handle's address).
std::atomic<uint64_t> g_search_id[2];
std::atomic<const goro::chan<std::string>*> g_back_door[2];

[[gnu::noinline]] std::string search_a(const std::string& q) { return "A:" + q; }
[[gnu::noinline]] std::string search_b(const std::string& q) { return "B:" + q; }

// The article's leakySearch: two searches race to send on an unbuffered
// channel; the caller takes the first answer and returns, dropping its
// handle. The slower sender blocks forever.
std::string leaky_search(const std::string& query) {
  goro::chan<std::string> ch = goro::make_chan<std::string>();
  goro::go([ch, query] {
    g_back_door[0] = &ch;
    g_search_id[0] = goro::goroutine_id();
    ch.send(search_a(query));
  });
  goro::go([ch, query] {
    g_back_door[1] = &ch;
    g_search_id[1] = goro::goroutine_id();
    ch.send(search_b(query));
  });
  return ch.recv();
}

TEST(PartialDeadlock, FindsTheLeakedSenderOfLeakySearch) {
  goro::debug::track_channel_handles();
  goro::run([] {
    std::string first = leaky_search("gopher");
    int loser = first.rfind("A:", 0) == 0 ? 1 : 0;
    while (g_search_id[loser].load() == 0) goro::sleep_for(100us);
    uint64_t id = g_search_id[loser].load();
    wait_parked(id, "chan send");
    std::vector<goroutine_info> found = goro::debug::find_partial_deadlocks();
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].id, id);
    EXPECT_EQ(found[0].wait_reason, "chan send");
    EXPECT_EQ(found[0].leaked, "no handle of its channels outside goroutines blocked on them");
    std::ostringstream dump;
    goro::debug::dump(dump);
    EXPECT_NE(dump.str().find("goroutine " + std::to_string(id) + " [chan send, leaked]:\n\tleaked: no handle"),
              std::string::npos)
        << dump.str();
    std::ostringstream grouped;
    goro::debug::dump(grouped, {.grouped = true});
    EXPECT_NE(grouped.str().find("1 goroutine [chan send, leaked]: id " + std::to_string(id)), std::string::npos)
        << grouped.str();
    goro::debug::leak_options o;
    o.grace = 10ms;
    o.ignore_ids = {g_search_id[1 - loser].load()};  // the winner, which may still be ending
    std::vector<goroutine_info> leaks = goro::debug::find_leaks(o);
    std::string report = goro::debug::describe_leaks(leaks);
    EXPECT_NE(report.find("found 1 unexpected goroutine (1 leaked forever: parked on channels nothing else can reach)"),
              std::string::npos)
        << report;
    EXPECT_NE(report.find("[chan send, leaked]"), std::string::npos) << report;
    // The back door: a pointer to the parked sender's own handle.
    goro::chan<std::string> back = *g_back_door[loser].load();
    back.recv();
  });
}

std::atomic<const goro::chan<int>*> g_door_a{nullptr};
std::atomic<const goro::chan<int>*> g_door_b{nullptr};

TEST(PartialDeadlock, FindsTwoGoroutinesEachWaitingOnAChannelOnlyTheOtherHolds) {
  goro::debug::track_channel_handles();
  goro::run([] {
    std::atomic<uint64_t> a{0}, b{0};
    {
      goro::chan<int> to_a = goro::make_chan<int>();
      goro::chan<int> to_b = goro::make_chan<int>();
      // a waits for b's message before it sends its own; b does the same.
      goro::go([to_a, to_b, &a] {
        a = goro::goroutine_id();
        g_door_a = &to_a;
        to_b.send(to_a.recv() + 1);
      });
      goro::go([to_a, to_b, &b] {
        b = goro::goroutine_id();
        g_door_b = &to_b;
        to_a.send(to_b.recv() + 1);
      });
      wait_id(a);
      wait_id(b);
      // While this goroutine holds both channels, nothing is leaked.
      wait_parked(a, "chan receive");
      wait_parked(b, "chan receive");
      EXPECT_FALSE(reported(a));
      EXPECT_FALSE(reported(b));
    }  // the last outside handles go
    std::vector<goroutine_info> found = goro::debug::find_partial_deadlocks();
    ASSERT_EQ(found.size(), 2u);
    EXPECT_TRUE(reported(a));
    EXPECT_TRUE(reported(b));
    // a gets 1 and sends 2 to b, b sends 3 back: both finish.
    goro::chan<int> to_a = *g_door_a.load();
    to_a.send(1);
    EXPECT_EQ(to_a.recv(), 3);
  });
}

TEST(PartialDeadlock, FindsASelectOverChannelsOnlyItHolds) {
  goro::debug::track_channel_handles();
  goro::run([] {
    std::atomic<uint64_t> id2{0};
    {
      goro::chan<int> x = goro::make_chan<int>();
      goro::chan<int> y = goro::make_chan<int>();
      goro::go([x, y, &id2] {
        id2 = goro::goroutine_id();
        g_door_b = &x;
        goro::select(goro::on_recv(x, [](int) {}), goro::on_recv(y, [](int) {}));
      });
      wait_id(id2);
      wait_parked(id2, "select");
      EXPECT_FALSE(reported(id2));  // we hold x and y
    }
    EXPECT_TRUE(reported(id2));
    g_door_b.load()->send(1);
  });
}

// A goroutine blocked on a nil channel can never be let go, and the leak
// check of this binary would blame the test for it: the scenario runs in
// a child process (a death test) that exits 0 if it was found.
void nil_channel_scenario() {
  bool ok = false;
  goro::run([&ok] {
    std::atomic<uint64_t> id{0}, sel_id{0};
    goro::go([&id] {
      id = goro::goroutine_id();
      goro::chan<int> nil;
      nil.recv();
    });
    // A select whose every channel is nil is parked on nil channels too
    // (it was not found before: it parks as any select, on no channel).
    goro::go([&sel_id] {
      sel_id = goro::goroutine_id();
      goro::chan<int> nil_a;
      goro::chan<std::string> nil_b;
      goro::select(goro::on_recv(nil_a), goro::on_send(nil_b, std::string("x")));
    });
    // A one-case select is the channel operation, as Go's compiler makes
    // it: it parks as "chan send (nil chan)" (it read "select" before).
    std::atomic<uint64_t> one_id{0};
    goro::go([&one_id] {
      one_id = goro::goroutine_id();
      goro::chan<int> nil_c;
      goro::select(goro::on_send(nil_c, 1));
    });
    wait_id(id);
    wait_id(sel_id);
    wait_id(one_id);
    wait_parked(id, "chan receive (nil chan)");
    wait_parked(sel_id, "select");
    wait_parked(one_id, "chan send (nil chan)");
    std::vector<goroutine_info> found = goro::debug::find_partial_deadlocks();
    std::sort(found.begin(), found.end(), [](const goroutine_info& a, const goroutine_info& b) { return a.id < b.id; });
    ok = !goro::debug::channel_handles_tracked() && found.size() == 3 && found[0].id == id.load() &&
         found[0].leaked == "blocked on a nil channel" && found[1].id == sel_id.load() &&
         found[1].leaked == "blocked on a nil channel" && found[1].wait_reason == "select" &&
         found[2].id == one_id.load() && found[2].leaked == "blocked on a nil channel";
    // The stats count the nil select as a select, in one entry per reason
    // (a second "select" entry came with the nil select's own reason).
    goro::debug::runtime_stats st = goro::debug::stats();
    std::vector<std::string> names;
    for (const auto& r : st.by_reason) names.emplace_back(r.reason);
    std::sort(names.begin(), names.end());
    bool unique = std::adjacent_find(names.begin(), names.end()) == names.end();
    if (!unique || st.waiting_on("select") != 1) {
      fprintf(stderr, "stats: names unique %d, waiting on select %lld\n", unique,
              static_cast<long long>(st.waiting_on("select")));
      ok = false;
    }
    std::string dump;
    if (!ok) {
      for (const goroutine_info& g : found) dump += goro::debug::format(g);
      fprintf(stderr, "not found as expected (%zu found):\n%s", found.size(), dump.c_str());
    }
  });
  std::_Exit(ok ? 0 : 1);
}

TEST(PartialDeadlock, FindsAGoroutineBlockedOnANilChannelWithoutTracking) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(nil_channel_scenario(), ::testing::ExitedWithCode(0), "");
}

TEST(PartialDeadlock, GoroDebugChanleakTurnsTrackingOnBeforeMain) {
  // A threadsafe death test runs the binary again: its static
  // initializers see the variable.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("GORO_DEBUG", "detachoff=0,chanleak=1", 1);
  EXPECT_EXIT(std::_Exit(goro::debug::channel_handles_tracked() ? 0 : 1), ::testing::ExitedWithCode(0), "");
  setenv("GORO_DEBUG", "chanleak=0", 1);
  EXPECT_EXIT(std::_Exit(goro::debug::channel_handles_tracked() ? 1 : 0), ::testing::ExitedWithCode(0), "");
  unsetenv("GORO_DEBUG");
}

// Handles of type chan<int> moved by channels (under the channel's lock on
// unbuffered and small channels, through the lock-free ring on bigger
// ones) register and unregister there: the tracker's lock ranks above
// every runtime lock (sanitizer builds check the ranks). A receiver
// parked for a handle, and the handle parked in a sender's frame, are
// the senders' and receivers' own until the handoff.
TEST(PartialDeadlock, HandlesMovedThroughChannelsAreTracked) {
  goro::debug::track_channel_handles();
  goro::run([] {
    for (int64_t cap : {0, 1, 2, 8}) {
      goro::chan<goro::chan<int>> cc = goro::make_chan<goro::chan<int>>(cap);
      goro::wait_group wg;
      wg.add(1);
      goro::go([cc, &wg] {
        for (int i = 0; i < 20; i++) cc.recv().send(i);
        wg.done();
      });
      for (int i = 0; i < 20; i++) {
        goro::chan<int> reply = goro::make_chan<int>(1);
        cc.send(reply);
        if (i % 5 == 0) {
          EXPECT_TRUE(goro::debug::find_partial_deadlocks().empty());
        }
        EXPECT_EQ(reply.recv(), i);
      }
      wg.wait();
    }
    // A sender parked with the last handle of a channel in its frame: the
    // value is its own until received; nobody can receive it.
    std::atomic<uint64_t> id{0};
    std::atomic<const goro::chan<goro::chan<int>>*> door{nullptr};
    {
      goro::chan<goro::chan<int>> cc = goro::make_chan<goro::chan<int>>();
      goro::go([cc, &id, &door] {
        id = goro::goroutine_id();
        door = &cc;
        cc.send(goro::make_chan<int>());
      });
      wait_id(id);
    }
    wait_parked(id, "chan send");
    EXPECT_TRUE(reported(id));
    goro::chan<goro::chan<int>> back = *door.load();
    EXPECT_FALSE(back.recv().is_nil());
  });
}

// ---- not found: someone outside can still reach the channel ---------------

TEST(PartialDeadlock, NotReportedWhileAPlainThreadHoldsAHandle) {
  goro::debug::track_channel_handles();
  goro::run([] {
    std::atomic<uint64_t> id{0};
    std::atomic<bool> go_on{false};
    std::thread t;
    {
      goro::chan<int> ch = goro::make_chan<int>();
      t = std::thread([ch, &go_on] {
        while (!go_on.load()) std::this_thread::sleep_for(100us);
        ch.send(1);
      });
      goro::go([ch, &id] {
        id = goro::goroutine_id();
        ch.recv();
      });
    }
    wait_id(id);
    wait_parked(id, "chan receive");
    EXPECT_FALSE(reported(id));
    go_on = true;
    goro::blocking([&] { t.join(); });
  });
}

std::shared_ptr<goro::chan<int>> g_shared;
std::function<void()> g_stored;

TEST(PartialDeadlock, NotReportedWhileAHeapObjectOrAGlobalHoldsAHandle) {
  goro::debug::track_channel_handles();
  goro::run([] {
    std::atomic<uint64_t> a{0}, b{0};
    {
      goro::chan<int> c1 = goro::make_chan<int>();
      goro::chan<int> c2 = goro::make_chan<int>();
      g_shared = std::make_shared<goro::chan<int>>(c1);
      g_stored = [c2] { c2.send(2); };
      goro::go([c1, &a] {
        a = goro::goroutine_id();
        c1.recv();
      });
      goro::go([c2, &b] {
        b = goro::goroutine_id();
        c2.recv();
      });
    }
    wait_id(a);
    wait_id(b);
    wait_parked(a, "chan receive");
    wait_parked(b, "chan receive");
    EXPECT_FALSE(reported(a));
    EXPECT_FALSE(reported(b));
    g_shared->send(1);
    g_stored();
    g_shared.reset();
    g_stored = nullptr;
  });
}

// A goroutine started inside a goroutine whose lambda captured a channel by
// value, capturing it by reference: the inner closure holds the address of
// the handle in the outer closure (not in its stack). The outer goroutine,
// parked receiving, is reachable through the inner one, parked on a mutex:
// not leaked. Before, only pointers into stacks counted, and it was
// reported leaked (and then received).
TEST(PartialDeadlock, NotReportedWhileAGoroutinesClosureIsReferencedByAnother) {
  goro::debug::track_channel_handles();
  goro::run([] {
    std::atomic<uint64_t> id{0}, inner{0};
    goro::mutex mu;
    goro::wait_group wg;
    wg.add(2);
    mu.lock();
    goro::go([ch = goro::make_chan<int>(), &mu, &id, &inner, &wg] {
      id = goro::goroutine_id();
      goro::go([&ch, &mu, &inner, &wg] {
        inner = goro::goroutine_id();
        mu.lock();
        ch.send(1);
        mu.unlock();
        wg.done();
      });
      EXPECT_EQ(ch.recv(), 1);
      wg.done();
    });
    wait_id(id);
    wait_id(inner);
    wait_parked(inner, "sync.Mutex.Lock");
    wait_parked(id, "chan receive");
    EXPECT_FALSE(reported(id));
    mu.unlock();
    wg.wait();
  });
}

TEST(PartialDeadlock, NotReportedWhileAGoroutineParkedElsewhereHoldsAHandle) {
  goro::debug::track_channel_handles();
  goro::run([] {
    std::atomic<uint64_t> id{0}, holder{0}, sleeper{0};
    std::atomic<int> step{0};
    std::atomic<bool> stop{false};
    goro::mutex mu;
    mu.lock();
    {
      goro::chan<int> ch = goro::make_chan<int>();
      goro::chan<int> ch2 = goro::make_chan<int>();
      // Parked on a mutex, holding ch.
      goro::go([ch, &mu, &holder] {
        holder = goro::goroutine_id();
        mu.lock();
        ch.send(1);
        mu.unlock();
      });
      // Sleeping (and now and then running), holding ch2.
      goro::go([ch2, &stop, &sleeper] {
        sleeper = goro::goroutine_id();
        while (!stop.load()) goro::sleep_for(1ms);
        ch2.send(2);
      });
      goro::go([ch, ch2, &id, &step] {
        id = goro::goroutine_id();
        ch.recv();
        step = 1;
        ch2.recv();
      });
    }
    wait_id(id);
    wait_id(holder);
    wait_parked(holder, "sync.Mutex.Lock");
    wait_parked(id, "chan receive");
    EXPECT_FALSE(reported(id));
    EXPECT_FALSE(reported(holder));
    mu.unlock();
    // Now it waits on ch2, which the sleeper holds.
    while (step.load() == 0) goro::sleep_for(100us);
    wait_parked(id, "chan receive");
    EXPECT_FALSE(reported(id));
    stop = true;
    goro::debug::leak_options o;
    o.grace = 60s;
    EXPECT_TRUE(goro::debug::find_leaks(o).empty());
  });
}

TEST(PartialDeadlock, NotReportedWhileAGoroutineHoldsAPointerToTheHandle) {
  goro::debug::track_channel_handles();
  goro::run([] {
    std::atomic<uint64_t> id{0};
    goro::mutex mu;
    // Both goroutines use mu and id, which live on this stack: wait for
    // them before it unwinds.
    goro::wait_group wg;
    wg.add(2);
    mu.lock();
    goro::go([&mu, &id, &wg] {
      id = goro::goroutine_id();
      goro::chan<int> ch = goro::make_chan<int>();  // only here, on this stack
      // The child holds no handle, only ch's address (captured by
      // reference), and is parked on a mutex.
      goro::go([&ch, &mu, &wg] {
        mu.lock();
        ch.send(1);
        mu.unlock();
        wg.done();
      });
      ch.recv();
      wg.done();
    });
    wait_id(id);
    wait_parked(id, "chan receive");
    EXPECT_FALSE(reported(id));
    mu.unlock();
    wg.wait();
  });
}

TEST(PartialDeadlock, NotReportedOnAnAfterOrATimerChannel) {
  goro::debug::track_channel_handles();
  goro::run([] {
    // Each goroutine selects on a timer channel (its only handle) and on
    // a channel only it holds: that one alone would be reported (as in
    // FindsASelectOverChannelsOnlyItHolds); the timer keeps it reachable.
    // The timers are an hour away; the back doors end the goroutines.
    std::atomic<uint64_t> a{0}, b{0};
    std::atomic<const goro::chan<int>*> door_a{nullptr}, door_b{nullptr};
    {
      goro::chan<int> xa = goro::make_chan<int>();
      goro::chan<int> xb = goro::make_chan<int>();
      goro::go([xa, &a, &door_a] {
        a = goro::goroutine_id();
        door_a = &xa;
        goro::select(goro::on_recv(goro::after(1h), [] {}), goro::on_recv(xa, [](int) {}));
      });
      goro::go([xb, &b, &door_b] {
        b = goro::goroutine_id();
        door_b = &xb;
        goro::timer t = goro::new_timer(1h);
        goro::select(goro::on_recv(t.c(), [] {}), goro::on_recv(xb, [](int) {}));
      });
      wait_id(a);
      wait_id(b);
    }
    wait_parked(a, "select");
    wait_parked(b, "select");
    EXPECT_FALSE(reported(a));
    EXPECT_FALSE(reported(b));
    goro::chan<int> back_a = *door_a.load();
    goro::chan<int> back_b = *door_b.load();
    back_a.send(1);
    back_b.send(1);
  });
}

std::atomic<bool> g_release{false};

TEST(PartialDeadlock, NotReportedWhenAHandleWasMadeBeforeTracking) {
  if (goro::debug::channel_handles_tracked()) GTEST_SKIP() << "tracking is on already (run alone, as ctest does)";
  goro::run([] {
    std::atomic<uint64_t> id{0};
    std::atomic<const goro::chan<int>*> door{nullptr};
    {
      goro::chan<int> ch = goro::make_chan<int>();
      // The goroutine's handle (in its closure) is made before tracking.
      goro::go([ch, &id, &door] {
        id = goro::goroutine_id();
        door = &ch;
        while (!g_release.load()) goro::sleep_for(100us);
        goro::chan<int> mine = ch;  // tracked: the one handle the report sees
        mine.send(1);  // blocks forever: a real leak, but not provably so
      });
      wait_id(id);
    }
    goro::debug::track_channel_handles();
    g_release = true;
    wait_parked(id, "chan send");
    EXPECT_FALSE(reported(id));
    goro::chan<int> back = *door.load();
    back.recv();
  });
}

}  // namespace
