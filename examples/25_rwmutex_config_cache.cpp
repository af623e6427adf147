// Pattern: a read-mostly ConfigCache behind an RWMutex.
//
//   type ConfigCache struct {
//       mu  sync.RWMutex
//       cfg map[string]string
//   }
//   func (c *ConfigCache) Get(k string) (string, bool) {
//       c.mu.RLock()
//       defer c.mu.RUnlock()
//       v, ok := c.cfg[k]
//       return v, ok
//   }
//   func (c *ConfigCache) Reload(m map[string]string) {
//       c.mu.Lock()
//       defer c.mu.Unlock()
//       c.cfg = m
//   }
//
// What it shows: many readers hold the read lock at once (std::shared_lock
// or goro::read_lock), a writer takes it alone (goro::write_lock). Go's
// writer preference: once a reload waits, new readers queue behind it, so
// a steady stream of readers cannot keep a reload out. Every reader sees a
// whole configuration, never half of a reload: each version's keys agree.
//
// Pitfall avoided: returning a reference into the map past the unlock;
// Get returns a copy.
#include <atomic>
#include <cstdio>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>

#include "goro/goro.hpp"

class config_cache {
 public:
  std::optional<std::string> get(const std::string& k) GORO_EXCLUDES(mu_) {
    goro::read_lock lock(mu_);
    auto it = cfg_.find(k);
    if (it == cfg_.end()) return std::nullopt;
    return it->second;  // a copy: the map may change once we unlock
  }
  // Both keys in one read: consistent with each other.
  std::pair<std::string, std::string> get_pair(const std::string& a, const std::string& b) GORO_EXCLUDES(mu_) {
    goro::read_lock lock(mu_);
    // find, not operator[]: operator[] inserts, a write under a read lock.
    auto ia = cfg_.find(a), ib = cfg_.find(b);
    return {ia == cfg_.end() ? "" : ia->second, ib == cfg_.end() ? "" : ib->second};
  }
  void reload(std::map<std::string, std::string> m) GORO_EXCLUDES(mu_) {
    goro::write_lock lock(mu_);
    cfg_ = std::move(m);
  }

 private:
  goro::rwmutex mu_;
  std::map<std::string, std::string> cfg_ GORO_GUARDED_BY(mu_);
};

int main() {
  return goro::run([] {
    config_cache cache;
    cache.reload({{"version", "0"}, {"db", "db-0"}});
    std::atomic<int> reads{0}, torn{0};
    std::atomic<bool> stop{false};
    goro::wait_group readers;
    for (int r = 0; r < 6; r++)
      readers.go([&] {
        while (!stop.load()) {
          auto [version, db] = cache.get_pair("version", "db");
          if (db != "db-" + version) torn++;
          reads++;
          if (reads % 64 == 0) goro::yield();
        }
      });
    for (int v = 1; v <= 100; v++) {
      cache.reload({{"version", std::to_string(v)}, {"db", "db-" + std::to_string(v)}});
      goro::yield();
    }
    stop = true;
    readers.wait();
    std::printf("100 reloads done beside %s reads; torn reads: %d (want 0); version now %s\n",
                reads.load() > 0 ? "many" : "no", torn.load(), cache.get("version").value_or("?").c_str());
  });
}
