// goro-switch-bench: the bare cost of a user-space context switch.
//
// A ping-pong between two contexts on one thread: the benchmark loop (on
// the thread's own stack) switches to a second context with its own stack,
// which switches straight back. One benchmark iteration is one round trip,
// i.e. two switches; the `switch` counter is the time per single switch.
//
//   goro_fiber_switch   goro's hand-written switch (src/fiber/switch_*.S)
//                       through goro::detail::fiber_switch, as the scheduler
//                       calls it; contexts made by goro::detail::fiber_make
//   fcontext            Boost.Context's jump_fcontext / make_fcontext, the
//                       assembly under boost::context::fiber (it also passes
//                       a transfer_t {context, data} both ways)
//   boost_fiber         boost::context::fiber::resume(), the public
//                       Boost.Context API (a move-only handle, an allocated
//                       control record, and forced-unwind on destruction)
//   x86_64 only, the A/B that chose goro's switch's last instruction:
//   switch_ending_in_ret  goro's switch as first written, ending in `ret`
//                       instead of `pop %r8; jmp *%r8`. A `ret` into another
//                       stack never matches the return address the CPU's
//                       return stack buffer predicted (the `call` that
//                       pushed it was made on the other stack), so every
//                       such switch costs a mispredicted return; goro's
//                       indirect jmp is predicted by the branch target
//                       buffer instead.
//
// No sanitizer hooks are compiled in (the benchmarks are built without
// sanitizers), so goro's switch is the bare assembly plus a call.
//
// Usage: goro-switch-bench [--benchmark_repetitions=N ...] (Google Benchmark
// flags).
#include <sys/mman.h>

#include <benchmark/benchmark.h>

#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "fiber/fiber.hpp"

namespace {

constexpr std::size_t kStackSize = 64 * 1024;

struct mmap_stack {
  void* lo;
  mmap_stack() {
    lo = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (lo == MAP_FAILED) {
      std::perror("mmap");
      std::abort();
    }
  }
  ~mmap_stack() { munmap(lo, kStackSize); }
  void* hi() const { return static_cast<char*>(lo) + kStackSize; }
};

void set_switch_counter(benchmark::State& state) {
  // Two switches per iteration; kInvert turns the rate into time per switch.
  state.counters["switch"] =
      benchmark::Counter(2, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// ---- goro ------------------------------------------------------------------

struct goro_pair {
  goro::detail::fiber_context main_ctx;
  goro::detail::fiber_context peer_ctx;
};

void goro_peer(void* arg) {
  auto* p = static_cast<goro_pair*>(arg);
  goro::detail::fiber_entered();
  for (;;) goro::detail::fiber_switch(&p->peer_ctx, &p->main_ctx);
}

void BM_goro_fiber_switch(benchmark::State& state) {
  mmap_stack stack;
  goro_pair p;
  goro::detail::fiber_make(&p.peer_ctx, stack.lo, stack.hi(), goro_peer, &p);
  for (auto _ : state) goro::detail::fiber_switch(&p.main_ctx, &p.peer_ctx);
  set_switch_counter(state);
  // The peer stays suspended in its loop; its stack is simply unmapped.
}
BENCHMARK(BM_goro_fiber_switch);

// ---- Boost.Context: jump_fcontext -------------------------------------------

namespace bcd = boost::context::detail;

void fcontext_peer(bcd::transfer_t t) {
  for (;;) t = bcd::jump_fcontext(t.fctx, nullptr);
}

void BM_fcontext_jump(benchmark::State& state) {
  mmap_stack stack;
  bcd::fcontext_t peer = bcd::make_fcontext(stack.hi(), kStackSize, fcontext_peer);
  for (auto _ : state) peer = bcd::jump_fcontext(peer, nullptr).fctx;
  set_switch_counter(state);
}
BENCHMARK(BM_fcontext_jump);

// ---- Boost.Context: fiber::resume -------------------------------------------

void BM_boost_context_fiber(benchmark::State& state) {
  namespace ctx = boost::context;
  ctx::fiber peer{std::allocator_arg, ctx::fixedsize_stack(kStackSize), [](ctx::fiber&& main) {
                    for (;;) main = std::move(main).resume();
                    return std::move(main);
                  }};
  for (auto _ : state) peer = std::move(peer).resume();
  set_switch_counter(state);
  // ~fiber unwinds the peer's stack (forced_unwind) and frees it.
}
BENCHMARK(BM_boost_context_fiber);

// ---- A/B: goro's switch ending in `ret` (its first version) ---------------------

#if defined(__x86_64__)
extern "C" void bench_switch_ret(void** save_sp, void* next_sp);
asm(R"(
        .text
        .p2align 4
        .type bench_switch_ret, @function
bench_switch_ret:
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size bench_switch_ret, .-bench_switch_ret
        .text
)");

void ret_peer(void* arg) {
  auto* p = static_cast<goro_pair*>(arg);
  for (;;) bench_switch_ret(&p->peer_ctx.sp, p->main_ctx.sp);
}

void BM_switch_ending_in_ret(benchmark::State& state) {
  mmap_stack stack;
  goro_pair p;
  // Same initial frame as goro's (fiber_make): goro_fiber_start is reached
  // through the popped return address either way.
  goro::detail::fiber_make(&p.peer_ctx, stack.lo, stack.hi(), ret_peer, &p);
  for (auto _ : state) bench_switch_ret(&p.main_ctx.sp, p.peer_ctx.sp);
  set_switch_counter(state);
}
BENCHMARK(BM_switch_ending_in_ret);
#endif

}  // namespace

BENCHMARK_MAIN();
