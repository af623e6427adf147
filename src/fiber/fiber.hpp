// Fiber contexts: a saved stack pointer plus what the sanitizers need to
// follow a stack switch.
//
// A fiber is either a goroutine (its own mmap'd stack, src/sched/stack.hpp)
// or an OS thread's own stack (the scheduler loop of a worker, Go's g0).
// fiber_switch(from, to) saves the running fiber's callee-saved registers on
// its stack, records its stack pointer in `from` and resumes `to`. It
// returns when some other fiber switches back to `from`, possibly on a
// different OS thread: code after a switch must not reuse a thread-local
// address computed before it (see sched/current.hpp).
//
// Sanitizers:
//  - ASan is told the bounds of the stack being entered
//    (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber), so
//    it neither reports false stack-buffer overflows nor loses its fake
//    stacks.
//  - TSan gets one fiber per goroutine (__tsan_create_fiber) and switches
//    without synchronization (__tsan_switch_to_fiber_no_sync): ordering
//    between goroutines comes only from the happens-before annotations in
//    base/race.hpp, as in Go's race detector. The one edge a switch adds
//    is from the start of the thread it lands on (its TLS set-up, which
//    holds errno), which carries no other goroutine's history:
//    tsan_order_after_thread_start.
//
// The switch itself is hand-written assembly (switch_x86_64.S,
// switch_aarch64.S); docs/design.md gives the measurements against
// Boost.Context's jump_fcontext that chose it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/race.hpp"

extern "C" {
void goro_fiber_switch(void** save_sp, void* next_sp);
// The first frame of every fiber (switch_*.S); a new fiber's first switch
// "returns" to goro_fiber_entry, inside it.
void goro_fiber_start();
void goro_fiber_entry();
#if defined(GORO_ASAN)
void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old, size_t* size_old);
#endif
#if defined(GORO_TSAN)
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
// TSan's dynamic annotations: synchronization between them is not seen.
void AnnotateIgnoreSyncBegin(const char* file, int line);
void AnnotateIgnoreSyncEnd(const char* file, int line);
#endif
}

namespace goro::detail {

#if defined(GORO_TSAN)
// Orders the start of the OS thread the caller now runs on before the
// running fiber (src/sched/current.cpp): TSan counts a thread's TLS as
// written at its start, and a goroutine that reads errno on a worker
// started after its fiber was made would otherwise race with that.
void tsan_order_after_thread_start();
// Called by each worker thread first thing: the start the above orders.
void tsan_thread_started();
#endif

struct fiber_context {
  void* sp = nullptr;  // saved stack pointer while switched out
#if defined(GORO_ASAN)
  const void* stack_lo = nullptr;  // lowest usable address
  size_t stack_size = 0;
  void* fake_stack = nullptr;  // ASan's fake-stack handle while switched out
#endif
#if defined(GORO_TSAN)
  void* tsan_fiber = nullptr;
#endif
};

// Prepares `ctx` to start running fn(arg) on the stack [lo, hi) at its first
// fiber_switch. fn must never return: a fiber ends by switching away for
// the last time.
inline void fiber_make(fiber_context* ctx, void* lo, void* hi, void (*fn)(void*), void* arg) {
  auto top = reinterpret_cast<uintptr_t>(hi) & ~uintptr_t{15};
  // 16 bytes of zeros above the start frame: a null frame pointer and a
  // null return address, for stack walkers that do not read CFI.
  top -= 16;
  reinterpret_cast<uintptr_t*>(top)[0] = 0;
  reinterpret_cast<uintptr_t*>(top)[1] = 0;
#if defined(__x86_64__)
  // Frame popped by goro_fiber_switch: r15 r14 r13 r12 rbx rbp, then ret.
  auto* frame = reinterpret_cast<uintptr_t*>(top - 7 * sizeof(uintptr_t));
  frame[0] = frame[1] = frame[2] = 0;                   // r15 r14 r13
  frame[3] = reinterpret_cast<uintptr_t>(arg);          // r12
  frame[4] = reinterpret_cast<uintptr_t>(fn);           // rbx
  frame[5] = 0;                                         // rbp
  frame[6] = reinterpret_cast<uintptr_t>(&goro_fiber_entry);  // return address
  ctx->sp = frame;
#elif defined(__aarch64__)
  auto* frame = reinterpret_cast<uintptr_t*>(top - 176);
  for (int i = 0; i < 22; i++) frame[i] = 0;
  frame[0] = reinterpret_cast<uintptr_t>(fn);    // x19
  frame[1] = reinterpret_cast<uintptr_t>(arg);   // x20
  frame[11] = reinterpret_cast<uintptr_t>(&goro_fiber_entry);  // x30
  ctx->sp = frame;
#else
#error "goro: no fiber switch for this architecture (x86-64 and aarch64 are supported)"
#endif
#if defined(GORO_ASAN)
  ctx->stack_lo = lo;
  ctx->stack_size = static_cast<size_t>(static_cast<char*>(hi) - static_cast<char*>(lo));
  ctx->fake_stack = nullptr;
#endif
}

// Switches from the running fiber `from` to `to`. If `from_exits` is set,
// `from` will never be resumed (ASan then frees its fake stack).
inline void fiber_switch(fiber_context* from, fiber_context* to, [[maybe_unused]] bool from_exits = false) {
#if defined(GORO_ASAN)
  __sanitizer_start_switch_fiber(from_exits ? nullptr : &from->fake_stack, to->stack_lo, to->stack_size);
#endif
#if defined(GORO_TSAN)
  __tsan_switch_to_fiber(to->tsan_fiber, 1 /* __tsan_switch_to_fiber_no_sync */);
#endif
  goro_fiber_switch(&from->sp, to->sp);
#if defined(GORO_ASAN)
  __sanitizer_finish_switch_fiber(from->fake_stack, nullptr, nullptr);
#endif
#if defined(GORO_TSAN)
  tsan_order_after_thread_start();  // resumed, perhaps on another thread
#endif
}

// Called first thing on a new fiber's stack (ASan needs to hear that the
// switch into it has finished).
inline void fiber_entered() {
#if defined(GORO_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
#if defined(GORO_TSAN)
  tsan_order_after_thread_start();
#endif
}

}  // namespace goro::detail
