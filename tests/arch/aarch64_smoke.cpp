// AArch64 smoke test: goro's runtime cross-built for aarch64 and run under
// qemu-user (scripts/aarch64_smoke.sh, run by .ci/run), so the aarch64
// context switch (src/fiber/switch_aarch64.S) is exercised on every CI run
// although the machines are x86-64. Covers goroutines on 2 Ps, channel
// ping-pong with doubles live across switches (d8-d15 are callee-saved
// there), sleeps, wait_group and select with goro::after, and the stack of
// a parked goroutine as the goroutine dump reads it (frame records), and
// goro::mutex's bias (the owner read through the out-of-line
// current_g_token(), revoked while the owner runs).
#include <atomic>
#include <cstdint>
#include <utility>
#include "goro/goro.hpp"
#include "sched/sched.hpp"
#include "sched/traceback.hpp"
#include "sync/mutex_bias.hpp"
#include <cstdio>
#include <cmath>

// A parked goroutine's frames, read as the dump reads them: one of them
// must be the return address inside wait_here.
__attribute__((noinline)) void wait_here(goro::chan<int> c) {
  c.recv();
  asm volatile("");  // keep the call a call, not a tail call
}

struct found_stack {
  int npcs = -1;
  bool has_wait_here = false;
};

found_stack parked_stack() {
  found_stack out;
  goro::detail::g_inspector ins;
  std::pair<goro::detail::g_inspector*, found_stack*> arg{&ins, &out};
  goro::detail::for_each_g(
      [](goro::detail::g* gp, void* arg) {
        auto* st = static_cast<std::pair<goro::detail::g_inspector*, found_stack*>*>(arg);
        goro::detail::g_record r;
        if (!st->first->snapshot(gp, &r) || r.status != goro::detail::g_status::waiting ||
            r.reason != goro::detail::wait_reason::chan_receive)
          return;
        st->second->npcs = r.npcs;
        auto lo = reinterpret_cast<uintptr_t>(&wait_here);
        for (int i = 0; i < r.npcs; i++) {
          auto pc = reinterpret_cast<uintptr_t>(r.pcs[i]);
          if (pc > lo && pc < lo + 512) st->second->has_wait_here = true;
        }
      },
      &arg);
  return out;
}

int main() {
  int rc = goro::run([] {
    goro::set_maxprocs(2);
    // Ping-pong over unbuffered channels, with doubles live across switches
    // (d8-d15 are callee-saved on AArch64).
    auto ping = goro::make_chan<long>(), pong = goro::make_chan<long>();
    goro::wait_group wg;
    wg.add(2);
    double acc_a = 0;
    goro::go([&] { double x = 1.5; for (long i = 0; i < 20000; i++) { ping.send(i); long v = pong.recv(); x = x * 1.0000001 + (double)(v - i); } acc_a = x; wg.done(); });
    goro::go([&] { for (long i = 0; i < 20000; i++) { long v = ping.recv(); pong.send(v + 1); } wg.done(); });
    wg.wait();
    double expect = 1.5;
    for (long i = 0; i < 20000; i++) expect = expect * 1.0000001 + 1.0;
    if (std::fabs(acc_a - expect) > 1e-6 * expect) { std::printf("FP mismatch %f vs %f\n", acc_a, expect); return 1; }
    // Many goroutines, sleeps, select with a timeout.
    goro::wait_group wg2;
    std::atomic<long> sum{0};
    for (int i = 0; i < 2000; i++) { wg2.add(1); goro::go([&, i] { if (i % 10 == 0) goro::sleep_for(std::chrono::milliseconds(1)); sum += i; wg2.done(); }); }
    wg2.wait();
    if (sum != 1999L * 2000 / 2) { std::printf("sum %ld\n", sum.load()); return 1; }
    auto never = goro::make_chan<int>();
    int which = goro::select(goro::on_recv(never, [](int, bool) {}), goro::on_recv(goro::after(std::chrono::milliseconds(5)), [](auto, bool) {}));
    if (which != 1) { std::printf("select chose %d\n", which); return 1; }
    // A mutex biased to one goroutine, then taken by a second while the
    // first keeps locking: the count must come out exact.
    goro::mutex mu;
    long guarded = 0;
    std::atomic<bool> owner_started{false};
    const uint64_t revocations = goro::detail::mutex_bias_revocations();
    goro::wait_group wg3;
    wg3.add(2);
    goro::go([&] { for (int i = 0; i < 100000; i++) { mu.lock(); guarded++; mu.unlock(); if (i == 1000) owner_started = true; } wg3.done(); });
    goro::go([&] { while (!owner_started) goro::yield(); for (int i = 0; i < 100000; i++) { mu.lock(); guarded++; mu.unlock(); } wg3.done(); });
    wg3.wait();
    if (guarded != 200000) { std::printf("biased mutex: count %ld, want 200000\n", guarded); return 1; }
    std::printf("aarch64: mutex bias %s, %llu revocation(s)\n", goro::detail::mutex_bias_enabled() ? "on" : "off",
                static_cast<unsigned long long>(goro::detail::mutex_bias_revocations() - revocations));
    // The dump's view of a goroutine parked in wait_here.
    auto block = goro::make_chan<int>();
    goro::go([block] { wait_here(block); });
    found_stack st;
    for (int i = 0; i < 100000 && st.npcs < 0; i++) {
      goro::yield();
      st = parked_stack();
    }
    if (st.npcs < 3 || !st.has_wait_here) {
      std::printf("parked goroutine's stack: %d frames, wait_here %s\n", st.npcs, st.has_wait_here ? "found" : "missing");
      return 1;
    }
    block.close();
    std::printf("aarch64 ok: ping-pong 20000, 2000 goroutines, select timeout, a parked stack of %d frames\n", st.npcs);
    return 0;
  });
  return rc;
}
