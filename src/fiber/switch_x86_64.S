// The x86-64 (System V) fiber context switch. See fiber.hpp.
//
// goro_fiber_switch(void** save_sp, void* next_sp)
//   Pushes the callee-saved integer registers on the current stack, stores
//   the stack pointer in *save_sp, loads next_sp and pops the registers the
//   other fiber pushed when it was switched out. Caller-saved registers are
//   already saved by the compiler around the call. The MXCSR and x87
//   control words are not switched: every goroutine runs with the process's
//   floating-point environment (as in marl); a goroutine that changes it
//   must restore it before it can be switched out.
//
// goro_fiber_start
//   First "return address" of a new fiber: calls fn(arg) with fn in rbx and
//   arg in r12 (placed there by fiber_make_context). It is the bottom frame
//   of every goroutine stack: `.cfi_undefined rip` ends unwinding here, so
//   an exception escaping the goroutine's function finds no handler and
//   std::terminate runs on the intact stack (the panic report prints it).

#if defined(__x86_64__)
        .text
        .globl  goro_fiber_switch
        .type   goro_fiber_switch, @function
        .p2align 4
goro_fiber_switch:
        .cfi_startproc
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
        // Not `ret`: the return-stack predictor would guess the caller of
        // this switch on the *old* stack and mispredict every time; an
        // indirect jump is predicted from this site's history instead
        // (3.8x faster per switch here, docs/benchmarks.md).
        popq    %r8
        jmpq    *%r8
        .cfi_endproc
        .size   goro_fiber_switch, .-goro_fiber_switch

        .globl  goro_fiber_start
        .type   goro_fiber_start, @function
        .p2align 4
goro_fiber_start:
        .cfi_startproc
        .cfi_undefined rip
        movq    %r12, %rdi
        callq   *%rbx
        ud2
        .cfi_endproc
        .size   goro_fiber_start, .-goro_fiber_start
#endif
        .section .note.GNU-stack,"",@progbits
