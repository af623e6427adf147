// The program goro_gdb_tests looks at with gdb (gdb_test.cpp): two
// goroutines parked in known functions, the main goroutine in a blocking
// read of stdin. Prints "ready PID RECEIVER_ID LOCKER_ID" once both are
// parked (the receiver labelled role=receiver), then exits 0 when stdin closes (after gdb has come and gone: a
// register the commands left changed would crash it instead), or is
// killed by the test (SIGABRT, for a core file).
#include <unistd.h>

#include <cstdio>
#include <string>

#include "goro/goro.hpp"

namespace {

[[gnu::noinline]] void gdb_child_blocked_receiving(goro::chan<int> ch) {
  (void)ch.recv();
  asm volatile("" ::: "memory");  // not a tail call: keep this frame
}

[[gnu::noinline]] void gdb_child_blocked_locking(goro::mutex& mu) {
  mu.lock();
  mu.unlock();
  asm volatile("" ::: "memory");
}

bool parked(uint64_t id, const char* reason) {
  for (const goro::debug::goroutine_info& g : goro::debug::goroutines())
    if (g.id == id) return g.wait_reason == reason;
  return false;
}

}  // namespace

int main() {
  return goro::run([] {
    goro::chan<int> ch = goro::make_chan<int>();
    goro::mutex mu;
    mu.lock();
    uint64_t receiver = goro::go([ch] {
      goro::set_goroutine_labels(goro::with_labels(goro::background(), {{"role", "receiver"}}));
      gdb_child_blocked_receiving(ch);
    });
    uint64_t locker = goro::go([&mu] { gdb_child_blocked_locking(mu); });
    while (!parked(receiver, "chan receive") || !parked(locker, "sync.Mutex.Lock")) goro::yield();
    std::printf("ready %d %llu %llu\n", static_cast<int>(getpid()), static_cast<unsigned long long>(receiver),
                static_cast<unsigned long long>(locker));
    std::fflush(stdout);
    goro::blocking([] {
      char c;
      while (read(0, &c, 1) > 0) {
      }
    });
    ch.send(1);
    mu.unlock();
    // The locker has mu's address: wait for it before mu goes.
    while (goro::num_goroutine() > 1) goro::yield();
    return 0;
  });
}
