// Pattern: try-lock -- skip work that someone else is already doing
// (article 004; Go 1.18's Mutex.TryLock), and give up after a while
// (try_lock_for, which Go lacks).
//
//   func (c *Cache) MaybeRefresh() {
//       if !c.refreshMu.TryLock() {
//           return                 // a refresh is already running: skip
//       }
//       defer c.refreshMu.Unlock()
//       c.refresh()
//   }
//
// Before Go 1.18 (as the article says), a channel of capacity 1 did it:
// `select { case sem <- struct{}{}: ...; <-sem  default: return }`.
//
// What it shows: eight goroutines each call maybe_refresh() 100 times;
// try_lock() never waits, so a caller that finds a refresh running skips
// it instead of queueing behind it. Refreshes plus skips add up to every
// call, and no two refreshes ever overlap. Then try_lock_for(d): a caller
// willing to wait a little while another goroutine holds the lock. It
// parks (as lock() does), returns false if d passes first, true as soon as
// the lock is handed to it. std::unique_lock(mu, std::try_to_lock) and
// std::unique_lock(mu, d) are the RAII spellings.
//
// Pitfall avoided: try_lock in a retry loop (`while (!mu.try_lock()) {}`)
// is a spin that keeps a worker busy; call lock() or try_lock_for to wait.
// And a failed try_lock holds nothing: never unlock after one.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

struct cache {
  goro::mutex refresh_mu;
  std::atomic<int> refreshing{0};  // how many refreshes are running (at most 1)
  std::atomic<int> most_at_once{0};
  std::atomic<int> refreshes{0}, skipped{0};

  void maybe_refresh() {
    if (!refresh_mu.try_lock()) {  // if !mu.TryLock() { return }
      skipped++;
      return;
    }
    int now = ++refreshing;
    if (now > most_at_once) most_at_once = now;  // only one goroutine gets here at a time
    goro::yield();  // the refresh takes a moment: others arrive meanwhile
    refreshes++;
    --refreshing;
    refresh_mu.unlock();  // held only if try_lock returned true
  }
};

int main() {
  return goro::run([] {
    cache c;
    goro::wait_group wg;
    for (int g = 0; g < 8; g++)
      wg.go([&c] {
        for (int i = 0; i < 100; i++) c.maybe_refresh();
      });
    wg.wait();
    std::printf("refreshes + skipped = %d (want 800); at least one refresh: %s; most at once: %d\n",
                c.refreshes + c.skipped, c.refreshes > 0 ? "yes" : "no", c.most_at_once.load());

    // try_lock_for: another goroutine holds the lock until told to let go.
    goro::mutex mu;
    goro::chan<goro::unit> locked = goro::make_chan<goro::unit>();
    goro::chan<goro::unit> release = goro::make_chan<goro::unit>();
    wg.go([&mu, locked, release] {
      std::lock_guard hold(mu);
      locked.send({});
      release.recv();
    });
    locked.recv();
    std::printf("while held: try_lock() = %s, try_lock_for(10ms) = %s (gave up)\n", mu.try_lock() ? "true" : "false",
                mu.try_lock_for(10ms) ? "true" : "false");
    goro::chan<bool> got = goro::make_chan<bool>(1);
    wg.go([&mu, got] {
      bool ok = mu.try_lock_for(5s);  // parks until the holder lets go, well within 5s
      if (ok) mu.unlock();
      got.send(ok);
    });
    release.send({});  // the holder unlocks
    std::printf("after the holder lets go: try_lock_for(5s) = %s\n", got.recv() ? "true" : "false");
    wg.wait();
  });
}
