// Pattern: record an execution trace (article 002: `go test -trace
// trace.out`, then `go tool trace trace.out` "for visualizing goroutines,
// blocking, scheduler events").
//
//   f, _ := os.Create("trace.out")
//   trace.Start(f)                 // runtime/trace
//   runWorkload()
//   trace.Stop()
//   // $ go tool trace trace.out
//
// What it shows: goro::trace::start(path) and goro::trace::stop()
// (goro/trace.hpp) around a small workload: three goroutines pass a token
// around a ring of unbuffered channels, 30 hops. stop() writes Chrome's
// trace event JSON: open it in https://ui.perfetto.dev (or
// chrome://tracing) to see one track per worker thread, a slice per
// stretch a goroutine ran (named g<id>, its end saying why it stopped:
// "chan receive", "chan send", "end"), and arrows from the goroutine that
// readied another to where that one ran next. The example checks the file
// rather than printing it: every ring goroutine has slices, some ended
// blocked on a channel, then it removes the file (run with --keep to keep
// it and open it). GORO_TRACE=file traces a whole run without code, and the
// debug pages serve /debug/trace?seconds=N (docs/debugging.md).
//
// Pitfall avoided: a trace keeps every event in memory (32 bytes each)
// until stop(): trace a few seconds of a busy server, not its whole life.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "goro/goro.hpp"
#include "goro/trace.hpp"

static int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) n++;
  return n;
}

int main(int argc, char** argv) {
  bool keep = argc > 1 && std::strcmp(argv[1], "--keep") == 0;
  char path[] = "/tmp/goro_trace_XXXXXX.json";  // a unique name
  int fd = ::mkstemps(path, 5);
  if (fd < 0) {
    std::perror("mkstemps");
    return 1;
  }
  ::close(fd);
  int status = goro::run([&] {
    if (!goro::trace::start(path)) {
      std::printf("could not start a trace (is GORO_TRACE set? one is already running)\n");
      return;
    }
    // The workload: a ring of three goroutines passing a token 30 hops.
    constexpr int kRing = 3, kHops = 30;
    goro::chan<int> link[kRing];
    for (auto& c : link) c = goro::make_chan<int>();
    goro::chan<uint64_t> ids = goro::make_chan<uint64_t>(kRing);
    goro::wait_group wg;
    for (int i = 0; i < kRing; i++)
      wg.go([in = link[i], out = link[(i + 1) % kRing], ids] {
        ids.send(goro::goroutine_id());
        for (;;) {
          auto [hop, ok] = in.recv_ok();
          if (!ok || hop == kHops) break;  // the token's last hop, or the one before us stopped
          out.send(hop + 1);
        }
        out.close();  // ends the next one's loop
      });
    link[0].send(0);
    wg.wait();
    bool stopped = goro::trace::stop();  // writes the file

    std::ifstream f(path);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    int with_slices = 0;
    for (int i = 0; i < kRing; i++) {
      std::string slice = "\"name\":\"g" + std::to_string(ids.recv()) + "\",\"cat\":\"goroutine\",\"ph\":\"B\"";
      if (count(text, slice) > 0) with_slices++;
    }
    bool blocked = count(text, "\"stop\":\"chan receive\"") + count(text, "\"stop\":\"chan send\"") > 0;
    std::printf("trace written: %s; Chrome trace JSON: %s\n", stopped && !text.empty() ? "yes" : "no",
                text.find("\"traceEvents\":[") != std::string::npos && text.ends_with("]}\n") ? "yes" : "no");
    std::printf("ring goroutines with slices in it: %d of %d; some stopped on a channel: %s\n", with_slices, kRing,
                blocked ? "yes" : "no");
  });
  if (keep)
    std::printf("kept %s: open it in https://ui.perfetto.dev\n", path);
  else
    std::remove(path);
  return status;
}
