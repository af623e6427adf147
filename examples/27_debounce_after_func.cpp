// Pattern: debounce with goro::after_func (Go's time.AfterFunc).
//
//   var t *time.Timer
//   onEdit := func() {
//       if t == nil { t = time.AfterFunc(50*time.Millisecond, save) }
//       else { t.Reset(50 * time.Millisecond) }
//   }
//
// What it shows: a burst of edits arriving faster than the quiet period
// pushes the save back each time (reset), so one save runs after the
// burst ends, in a goroutine of its own. A second burst saves once more.
// stop() before the quiet period ends cancels the pending save: it
// returns true, and the save never runs.
//
// Pitfall avoided: starting a goroutine per edit that sleeps and then
// saves would save once per edit (or need its own cancellation); the timer
// is one record that reset moves.
#include <atomic>
#include <chrono>
#include <cstdio>

#include "goro/goro.hpp"

using namespace std::chrono_literals;

int main() {
  return goro::run([] {
    std::atomic<int> saves{0};
    goro::chan<int> saved = goro::make_chan<int>(4);
    goro::timer debounce;
    auto on_edit = [&] {
      if (debounce == nullptr)
        debounce = goro::after_func(50ms, [&saves, saved] { saved.send(++saves); });
      else
        debounce.reset(50ms);
    };

    for (int burst = 1; burst <= 2; burst++) {
      for (int edit = 0; edit < 10; edit++) {  // 10 edits, 5ms apart: never 50ms quiet
        on_edit();
        goro::sleep_for(5ms);
      }
      int n = saved.recv();  // the one save of this burst
      std::printf("burst %d: 10 edits, saved once (save #%d)\n", burst, n);
    }

    on_edit();
    bool cancelled = debounce.stop();  // quit before the quiet period ends
    goro::sleep_for(80ms);
    std::printf("stop before the save: %s; saves in all: %d\n", cancelled ? "cancelled" : "too late",
                saves.load());
  });
}
