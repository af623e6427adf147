// Pattern: a context-aware pipeline, cancelled midway (article 000's
// pipeline, whose every send also watches ctx.Done()).
//
//   func square(ctx context.Context, in <-chan int) <-chan int {
//       out := make(chan int)
//       go func() {
//           defer close(out)
//           for n := range in {
//               select {
//               case <-ctx.Done(): return
//               case out <- n * n:
//               }
//           }
//       }()
//       return out
//   }
//   ctx, cancel := context.WithCancel(context.Background())
//   for v := range filter(ctx, square(ctx, generate(ctx, 1, 2, ...)), even) { ...; if enough { cancel(); break } }
//
// What it shows: generate(1..40,000) -> square -> filter(even). The
// consumer wants only the first five results, so it cancels and stops
// receiving. Each stage is blocked on a send nobody will take, or about
// to be; its select sees ctx.done() and returns, and its close(out) ends
// the range-for of the stage below. Every stage goroutine exits: a
// wait_group and goro::num_goroutine() both show it.
//
// Pitfall avoided: 04_pipeline's stages send with a plain out.send(): a
// consumer that stops early leaves them blocked forever (one leaked
// goroutine per stage, 19_pitfall_leaked_sender). Passing ctx to every
// stage, and selecting on it at every send, gives each one a way out.
#include <atomic>
#include <chrono>
#include <cstdio>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

static goro::wait_group g_stages;
static std::atomic<int> g_returned{0};

// select { case out <- v: true; case <-ctx.Done(): false }
static bool send(const goro::context& ctx, goro::send_chan<int> out, int v) {
  return goro::select(goro::case_send(out, v), goro::case_recv(ctx.done())).index() == 0;
}

static goro::recv_chan<int> generate(const goro::context& ctx, int from, int to) {
  goro::chan<int> out = goro::make_chan<int>();
  g_stages.go([ctx, out, from, to] {
    for (int n = from; n <= to; n++)
      if (!send(ctx, out, n)) break;  // case <-ctx.Done(): return
    out.close();                      // defer close(out)
    g_returned++;
  });
  return out;
}

static goro::recv_chan<int> square(const goro::context& ctx, goro::recv_chan<int> in) {
  goro::chan<int> out = goro::make_chan<int>();
  g_stages.go([ctx, in, out] {
    for (int n : in)
      if (!send(ctx, out, n * n)) break;
    out.close();
    g_returned++;
  });
  return out;
}

static goro::recv_chan<int> filter(const goro::context& ctx, goro::recv_chan<int> in, bool (*keep)(int)) {
  goro::chan<int> out = goro::make_chan<int>();
  g_stages.go([ctx, in, out, keep] {
    for (int n : in)
      if (keep(n) && !send(ctx, out, n)) break;
    out.close();
    g_returned++;
  });
  return out;
}

int main() {
  return goro::run([] {
    int64_t baseline = goro::num_goroutine();
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::recv_chan<int> evens = filter(ctx, square(ctx, generate(ctx, 1, 40000)), [](int n) { return n % 2 == 0; });

    std::printf("first five even squares:");
    int taken = 0;
    for (int v : evens) {
      std::printf(" %d", v);
      if (++taken == 5) break;  // enough: the pipeline is mid-stream
    }
    std::printf("\n");
    cancel();  // every stage's select can now take case <-ctx.Done()

    // The stages return at once; give up after 2s rather than hang if one leaked.
    goro::chan<goro::unit> all_returned = goro::make_chan<goro::unit>();
    goro::go([all_returned] {
      g_stages.wait();
      all_returned.close();
    });
    goro::select(goro::case_recv(all_returned), goro::case_recv(goro::after(2s)));
    std::printf("stage goroutines returned after cancel: %d of 3\n", g_returned.load());

    auto give_up = std::chrono::steady_clock::now() + 2s;  // the helpers' last instructions
    while (goro::num_goroutine() > baseline && std::chrono::steady_clock::now() < give_up) goro::sleep_for(1ms);
    std::printf("goroutines: baseline %+lld\n", static_cast<long long>(goro::num_goroutine() - baseline));
  });
}
