// Pitfall: deadlock -- every goroutine blocked for good. Shown fixed; the
// broken forms are only described, because goro, like Go, ends such a
// program at once:
//
//   func main() {
//       ch := make(chan int)
//       ch <- 42            // blocks forever: nobody can ever receive
//       fmt.Println(<-ch)
//   }
//
// goro ends the C++ translation of that program (ch.send(42) inside
// goro::run) with the report below (x86-64, built with -g; paths
// shortened, some frames left out as "..."):
//
//   fatal error: all goroutines are asleep - deadlock!
//
//   goroutine 1 [chan send]:
//   goro::detail::mcall_on(goro::detail::m*, goro::detail::m_action, bool (*)(goro::detail::g*, void*), void*)
//   	src/sched/proc.cpp:809 +0x10c
//   ...
//   goro::detail::chan_send(goro::detail::hchan*, void*)
//   	src/chan/chan.cpp:300 +0x27
//   goro::chan<int>::send(int&&) const
//   	include/goro/chan.hpp:363 +0x2b
//   main::{lambda()#1}::operator()() const
//   	main.cpp:8 +0x32
//   ...
//   goro::detail::g_main(void*)
//   	src/sched/spawn.cpp:281 +0x16
//   goro_fiber_start
//   	src/fiber/switch_x86_64.S:125 +0x9
//   	created by goro::run at main.cpp:6 in main
//
// and exit status 2. goro's detector fires when no goroutine can run, none
// is sleeping or waiting on a timer (goro::after, sleep_for), and no plain
// OS thread is outside goro that could still wake one; it lists every
// goroutine with its wait reason ([chan send], [chan receive],
// [chan receive (nil chan)], [select], [sync.WaitGroup.Wait], ...) and
// where it was created. tests/crash/scenarios.cpp has programs that
// deadlock on purpose (scenarios "deadlock", "deadlock_after_sleep", ...)
// and tests/crash/crash_test.cpp checks their reports from outside.
//
// What it shows: four classic deadlocks, each in its fixed form:
//   1. send on an unbuffered channel with no receiver: give it a buffer,
//      or receive in another goroutine;
//   2. range over a channel that nobody closes: the sender closes it;
//   3. wg.add(3) with only 2 done(): wg.go() cannot miss a done();
//   4. a channel declared but never made is nil, and blocks forever:
//      make it (is_nil() tells).
// Partial deadlocks (some goroutines stuck, others still running) are not
// fatal, in Go or in goro: 19_pitfall_leaked_sender shows how to spot
// them (goro::num_goroutine(), the dump, goro::debug::find_leaks).
#include <cstdio>

#include "goro/goro.hpp"

int main() {
  return goro::run([] {
    // 1a. A buffer of 1: the send completes without a receiver.
    goro::chan<int> ch = goro::make_chan<int>(1);
    ch.send(42);
    std::printf("1. buffered send then receive: %d\n", ch.recv());
    // 1b. Unbuffered: the other side runs in its own goroutine.
    goro::chan<int> hand = goro::make_chan<int>();
    goro::go([hand]() mutable { hand.send(43); });
    std::printf("   unbuffered, sender in a goroutine: %d\n", hand.recv());

    // 2. range ends only when the channel is closed; the sender closes it.
    goro::chan<int> nums = goro::make_chan<int>();
    goro::go([nums]() mutable {
      for (int i = 1; i <= 4; i++) nums.send(i);
      nums.close();  // without this, main's range-for would block forever
    });
    int sum = 0;
    for (int v : nums) sum += v;
    std::printf("2. range over a channel its sender closes: sum %d\n", sum);

    // 3. wg.go pairs every add(1) with exactly one done().
    goro::wait_group wg;
    int work[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++)
      wg.go([&work, i] {
        if (i == 1) return;  // an early return still counts as done
        work[i] = 1;
      });
    wg.wait();
    std::printf("3. wg.go for 3 goroutines, one returning early: wait() returned (%d did work)\n",
                work[0] + work[1] + work[2]);

    // 4. A default-constructed chan is the nil channel.
    goro::chan<int> results;  // Go: var results chan int
    std::printf("4. declared, not made: is_nil() = %s", results.is_nil() ? "true" : "false");
    results = goro::make_chan<int>(1);
    results.send(7);
    std::printf("; after make_chan: is_nil() = %s, received %d\n", results.is_nil() ? "true" : "false",
                results.recv());
  });
}
