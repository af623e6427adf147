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
// goro_fiber_start (entered at goro_fiber_entry)
//   First "return address" of a new fiber: calls fn(arg) with fn in rbx and
//   arg in r12 (placed there by fiber_make). It is the bottom frame
//   of every goroutine stack: `.cfi_undefined rip` ends unwinding here, so
//   an exception escaping the goroutine's function finds no handler and
//   std::terminate runs on the intact stack (the panic report prints it).
//
// The saved frame's layout (from the saved sp up: r15, r14, r13, r12, rbx,
// rbp, return address) is read by the dump's unwinder
// (base/symbolize.cpp, fiber_stack_pcs) and by gdb's goroutine commands
// (diag/goro-gdb.py): change them with it (tests/gdb checks the latter).
//
// Unwind info (CFI): every instruction of goro_fiber_switch is described,
// so a debugger or profiler stopped inside it unwinds correctly. Up to
// `movq %rsi, %rsp` the frame is the caller's: its registers at their
// push slots. The new stack holds a frame of the same layout, pushed by
// the other fiber's own switch (or by fiber_make), so the same rules then
// describe the fiber being resumed: the unwinder walks into it, which is
// where this code is going. The pops restore the registers one by one;
// after the return address is popped into r8, r8 holds it.
//
// Control-flow enforcement (CET). The .note.gnu.property below marks this
// object IBT-compatible and nothing else; without any note, the linker
// turns off the marking of the whole program it is linked into.
//  - IBT (indirect branch tracking): goro_fiber_switch and
//    goro_fiber_entry begin with `endbr64` (a nop before CET):
//    goro_fiber_switch may be reached through a PLT (goro built as a
//    shared library), goro_fiber_entry by the switch's indirect jump. The switch's own jump goes to a return
//    address, which no `endbr64` marks, so it is `notrack` (as compilers
//    emit for switch-table jumps), which the OS allows when it enables IBT
//    for user code (NO_TRACK_EN).
//  - SHSTK (shadow stack) is NOT marked, because it would not be true: a
//    shadow stack is per thread, and this switch neither switches it nor
//    pops it (`jmp`, not `ret`), so a goroutine resumed on it would
//    return through another fiber's shadow entries and fault. Supporting
//    it needs a shadow stack per goroutine (map_shadow_stack, and
//    saveprevssp/rstorssp in the switch). Left unmarked, the linker keeps
//    the program's SHSTK marking off, so the loader never enables shadow
//    stacks for a goro program, whatever its other objects say.

#if defined(__x86_64__)
        .text
        .globl  goro_fiber_switch
        .type   goro_fiber_switch, @function
        .p2align 4
goro_fiber_switch:
        .cfi_startproc
        // CFA = rsp + 8 at entry: the return address is at CFA - 8.
        endbr64
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_offset rbp, -16
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_offset rbx, -24
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_offset r12, -32
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_offset r13, -40
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_offset r14, -48
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_offset r15, -56
        movq    %rsp, (%rdi)
        // From here the same rules describe the other fiber's frame.
        movq    %rsi, %rsp
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbp
        // Not `ret`: the return-stack predictor would guess the caller of
        // this switch on the *old* stack and mispredict every time; an
        // indirect jump is predicted from this site's history instead
        // (3.8x faster per switch here, docs/benchmarks.md).
        popq    %r8
        .cfi_adjust_cfa_offset -8
        .cfi_register rip, r8
        notrack jmpq *%r8
        .cfi_endproc
        .size   goro_fiber_switch, .-goro_fiber_switch

        // A new fiber's first switch "returns" to goro_fiber_entry, and
        // unwinders look a return address up at address - 1 (the call
        // instruction): so goro_fiber_start and its FDE begin with a nop
        // before the entry, for that lookup to find this function (whose
        // undefined rip then ends the walk) rather than the padding.
        // goro_fiber_entry has no size, so symbolizers name the function
        // goro_fiber_start.
        .globl  goro_fiber_start
        .type   goro_fiber_start, @function
        .globl  goro_fiber_entry
        .type   goro_fiber_entry, @function
        .p2align 4
goro_fiber_start:
        .cfi_startproc
        .cfi_undefined rip
        nop
goro_fiber_entry:
        endbr64
        movq    %r12, %rdi
        callq   *%rbx
        ud2
        .cfi_endproc
        .size   goro_fiber_start, .-goro_fiber_start

        // GNU property note: GNU_PROPERTY_X86_FEATURE_1_AND = IBT only (see
        // above). The layout is the ELF gABI's NT_GNU_PROPERTY_TYPE_0.
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       // name size ("GNU\0")
        .long   16                      // descriptor size
        .long   5                       // NT_GNU_PROPERTY_TYPE_0
        .asciz  "GNU"
        .long   0xc0000002              // GNU_PROPERTY_X86_FEATURE_1_AND
        .long   4                       // property data size
        .long   1                       // GNU_PROPERTY_X86_FEATURE_1_IBT
        .p2align 3                      // pad the property to 8 bytes
#endif
        .section .note.GNU-stack,"",@progbits
