// The installed-package smoke test (see ../run_consumer.cmake): compiles
// against the installed headers only and links the installed libgoro.a.
// Ten goroutines sleep 1..10 ms and add to a sum; main waits for them.
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>

int main() {
  std::atomic<int> sum{0};
  auto t0 = std::chrono::steady_clock::now();
  int rc = goro::run([&sum] {
    goro::wait_group wg;
    for (int i = 1; i <= 10; i++) {
      wg.add(1);
      goro::go([&wg, &sum, i] {
        goro::sleep_for(std::chrono::milliseconds(i));
        sum.fetch_add(i);
        wg.done();
      });
    }
    wg.wait();
  });
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("goro consumer: 10 goroutines, sum %d, slept %s 10 ms\n", sum.load(), ms >= 10 ? ">=" : "<");
  return rc;
}
