// The consumer smoke test of every route by which a project can use goro
// (see ../CMakeLists.txt): compiles against goro's headers and links
// libgoro as that route provides them. Ten goroutines sleep 1..10 ms and
// send their number on an unbuffered channel; main receives and adds the
// ten values, then waits for the goroutines with a wait_group.
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>

int main() {
  int sum = 0;
  auto t0 = std::chrono::steady_clock::now();
  int rc = goro::run([&sum] {
    goro::wait_group wg;
    goro::chan<int> values = goro::make_chan<int>();
    for (int i = 1; i <= 10; i++) {
      wg.add(1);
      goro::go([&wg, values, i] {
        goro::sleep_for(std::chrono::milliseconds(i));
        values.send(i);
        wg.done();
      });
    }
    for (int i = 0; i < 10; i++) sum += values.recv();
    wg.wait();
  });
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("goro consumer: 10 goroutines, sum %d, slept %s 10 ms\n", sum, ms >= 10 ? ">=" : "<");
  std::printf("goro consumer: goro %s\n", GORO_VERSION_STRING);
  return rc;
}
