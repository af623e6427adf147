// The AArch64 (AAPCS64) fiber context switch. See fiber.hpp and
// switch_x86_64.S for the contract; the frame here is 176 bytes:
//   [sp+0..79]    x19..x28
//   [sp+80..95]   x29 (frame pointer), x30 (link register = resume address)
//   [sp+96..159]  d8..d15 (the callee-saved low halves of v8..v15)
//   [sp+160..175] padding to keep sp 16-byte aligned
// A new fiber's frame holds fn in x19, arg in x20 and goro_fiber_start in
// x30, so the first switch "returns" into goro_fiber_start.

#if defined(__aarch64__)
        .text
        .globl  goro_fiber_switch
        .type   goro_fiber_switch, %function
        .p2align 4
goro_fiber_switch:
        .cfi_startproc
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mov     x2, sp
        str     x2, [x0]
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8,  d9,  [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        // br, not ret: see switch_x86_64.S (return-stack misprediction).
        br      x30
        .cfi_endproc
        .size   goro_fiber_switch, .-goro_fiber_switch

        .globl  goro_fiber_start
        .type   goro_fiber_start, %function
        .p2align 4
goro_fiber_start:
        .cfi_startproc
        .cfi_undefined x30
        mov     x0, x20
        blr     x19
        brk     #0
        .cfi_endproc
        .size   goro_fiber_start, .-goro_fiber_start
#endif
        .section .note.GNU-stack,"",%progbits
