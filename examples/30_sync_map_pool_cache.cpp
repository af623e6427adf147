// Pattern: a read-mostly cache (sync.Map) and reusable buffers (sync.Pool).
//
//   var cache sync.Map
//   var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}
//   func render(key string) string {
//       v, ok := cache.Load(key)
//       if !ok { v, _ = cache.LoadOrStore(key, expensive(key)) }
//       b := bufs.Get().(*bytes.Buffer); b.Reset(); defer bufs.Put(b)
//       ...
//   }
//
// What it shows: eight goroutines render pages; each page needs a value
// that is expensive to compute and never changes, so it is cached in a
// goro::sync_map: after the first look-ups every load takes no lock.
// Two goroutines that miss at once may both compute, but load_or_store
// keeps the first value stored, so everyone uses the same one. Each render
// writes into a buffer from a goro::pool: the buffers are made once and
// reused, instead of one allocation per render.
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "goro/goro.hpp"

namespace {

constexpr int kPages = 16;
constexpr int kWorkers = 8;
constexpr int kRendersEach = 2000;

std::atomic<int> g_computed{0};
std::atomic<int> g_buffers_made{0};

std::string expensive(int page) {
  g_computed++;
  return "<title>page " + std::to_string(page) + "</title>";
}

}  // namespace

int main() {
  return goro::run([] {
    goro::sync_map<int, std::string> titles;
    goro::pool<std::string> buffers([] {
      g_buffers_made++;
      return std::make_unique<std::string>();
    });
    std::atomic<int> wrong{0};
    std::atomic<long> bytes{0};

    auto render = [&](int page) {
      std::optional<std::string> title = titles.load(page);  // no lock once cached
      if (!title) title = titles.load_or_store(page, expensive(page)).first;
      std::unique_ptr<std::string> buf = buffers.get();
      buf->clear();
      *buf += "<html>" + *title + "<body>...</body></html>";
      if (buf->find("page " + std::to_string(page) + "<") == std::string::npos) wrong++;
      bytes += static_cast<long>(buf->size());
      buffers.put(std::move(buf));
    };

    goro::wait_group wg;
    for (int w = 0; w < kWorkers; w++)
      wg.go([&render, w] {
        for (int i = 0; i < kRendersEach; i++) {
          render((w + i) % kPages);
          if (i % 100 == 0) goro::yield();  // let the others interleave
        }
      });
    wg.wait();

    int cached = 0;
    titles.range([&cached](const int&, const std::string&) { return ++cached, true; });
    const int renders = kWorkers * kRendersEach;
    std::printf("%d renders of %d pages: %d titles cached, computed %s\n", renders, kPages, cached,
                g_computed.load() < renders / 10 ? "once per page or a few times more (racing misses)"
                                                 : "too often");
    std::printf("buffers made: %s (they are reused through the pool)\n",
                g_buffers_made.load() < renders / 10 ? "a handful" : "too many");
    std::printf("every render used its page's title: %s\n", wrong.load() == 0 ? "yes" : "NO");
    return wrong.load() == 0 && cached == kPages ? 0 : 1;
  });
}
