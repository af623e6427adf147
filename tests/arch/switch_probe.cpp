// goro_switch_probe: goro's context switch alone (src/fiber/switch_*.S and
// fiber.hpp), linked into a program without the runtime, for
// switch_test.cmake: main and one fiber switch back and forth three times.
// The debugger test stops inside goro_fiber_switch and unwinds from each of
// its instructions; the names below must appear in those stacks. Exits 0
// if every switch happened.
//
// With GORO_PROBE_NOLIBC (scripts/aarch64_smoke.sh) it is built without
// libc, with its own _start, so that every instruction in it comes from
// this file and the switch: linked with -z force-bti, the whole program is
// BTI-guarded, which Debian's libc, built without BTI, could not be.
#include "fiber/fiber.hpp"

namespace {

goro::detail::fiber_context g_main_ctx;
goro::detail::fiber_context g_fiber_ctx;
alignas(16) char g_fiber_stack[64 * 1024];
volatile int g_rounds = 0;

}  // namespace

// External linkage and noinline, so that each is a named frame; the asm
// keeps the calls from becoming tail calls.
[[gnu::noinline]] void goro_probe_fiber_body(void*) {
  for (;;) {
    g_rounds = g_rounds + 1;
    goro::detail::fiber_switch(&g_fiber_ctx, &g_main_ctx);
    asm volatile("" ::: "memory");
  }
}

[[gnu::noinline]] void goro_probe_switch_to_fiber() {
  goro::detail::fiber_switch(&g_main_ctx, &g_fiber_ctx);
  asm volatile("" ::: "memory");
}

namespace {

int probe_main() {
  goro::detail::fiber_make(&g_fiber_ctx, g_fiber_stack, g_fiber_stack + sizeof g_fiber_stack,
                           goro_probe_fiber_body, nullptr);
  for (int i = 0; i < 3; i++) goro_probe_switch_to_fiber();
  return g_rounds == 3 ? 0 : 1;
}

}  // namespace

#if defined(GORO_PROBE_NOLIBC) && defined(__aarch64__)
extern "C" [[noreturn]] void _start() {
  register long x0 asm("x0") = probe_main();
  register long x8 asm("x8") = 93;  // exit
  asm volatile("svc #0" : : "r"(x0), "r"(x8) : "memory");
  __builtin_unreachable();
}
#else
int main() { return probe_main(); }
#endif
