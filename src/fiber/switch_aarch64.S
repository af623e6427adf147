// The AArch64 (AAPCS64) fiber context switch. See fiber.hpp and
// switch_x86_64.S for the contract; the frame here is 176 bytes:
//   [sp+0..79]    x19..x28
//   [sp+80..95]   x29 (frame pointer), x30 (link register = resume address)
//   [sp+96..159]  d8..d15 (the callee-saved low halves of v8..v15)
//   [sp+160..175] padding to keep sp 16-byte aligned
// A new fiber's frame holds fn in x19, arg in x20 and goro_fiber_entry in
// x30, so the first switch "returns" into goro_fiber_start.
//
// Unwind info (CFI) covers every instruction, as in switch_x86_64.S: after
// `mov sp, x1` the same rules describe the frame of the fiber being
// resumed, and once x30 is reloaded it holds the resume address.
//
// Branch protection:
//  - BTI: goro_fiber_switch begins with `bti c` (a hint, a nop on cores
//    without BTI), for calls through a PLT. The switch itself jumps to a
//    return address, which is no BTI landing pad, so `br x30` would fault
//    on BTI-guarded pages. When the compiler targets BTI
//    (-mbranch-protection=bti or =standard: __ARM_FEATURE_BTI_DEFAULT),
//    the switch ends in `ret` instead (not checked by BTI; it costs the
//    return-stack misprediction that `br` avoids, see switch_x86_64.S)
//    and the object is marked BTI-compatible in .note.gnu.property, so
//    the program keeps its marking. Otherwise it ends in `br x30`, and
//    carries no note, as the compiler's own objects do in such a build.
//  - PAC (pac-ret) is not marked: the saved x30 is stored unsigned. The
//    mark has no run-time effect (the loader acts on BTI only), and C++
//    code linked with goro keeps signing its own return addresses.

#if defined(__aarch64__)
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define GORO_BTI_BUILD 1
#endif
        .text
        .globl  goro_fiber_switch
        .type   goro_fiber_switch, %function
        .p2align 4
goro_fiber_switch:
        .cfi_startproc
        // CFA = sp at entry; the return address is in x30.
        hint    #34                     // bti c
        sub     sp, sp, #176
        .cfi_def_cfa_offset 176
        stp     x19, x20, [sp, #0]
        .cfi_offset x19, -176
        .cfi_offset x20, -168
        stp     x21, x22, [sp, #16]
        .cfi_offset x21, -160
        .cfi_offset x22, -152
        stp     x23, x24, [sp, #32]
        .cfi_offset x23, -144
        .cfi_offset x24, -136
        stp     x25, x26, [sp, #48]
        .cfi_offset x25, -128
        .cfi_offset x26, -120
        stp     x27, x28, [sp, #64]
        .cfi_offset x27, -112
        .cfi_offset x28, -104
        stp     x29, x30, [sp, #80]
        .cfi_offset x29, -96
        .cfi_offset x30, -88
        // d8..d15 are DWARF registers 72..79 (v8..v15).
        stp     d8,  d9,  [sp, #96]
        .cfi_offset 72, -80
        .cfi_offset 73, -72
        stp     d10, d11, [sp, #112]
        .cfi_offset 74, -64
        .cfi_offset 75, -56
        stp     d12, d13, [sp, #128]
        .cfi_offset 76, -48
        .cfi_offset 77, -40
        stp     d14, d15, [sp, #144]
        .cfi_offset 78, -32
        .cfi_offset 79, -24
        mov     x2, sp
        str     x2, [x0]
        // From here the same rules describe the other fiber's frame.
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        .cfi_restore x19
        .cfi_restore x20
        ldp     x21, x22, [sp, #16]
        .cfi_restore x21
        .cfi_restore x22
        ldp     x23, x24, [sp, #32]
        .cfi_restore x23
        .cfi_restore x24
        ldp     x25, x26, [sp, #48]
        .cfi_restore x25
        .cfi_restore x26
        ldp     x27, x28, [sp, #64]
        .cfi_restore x27
        .cfi_restore x28
        ldp     x29, x30, [sp, #80]
        .cfi_restore x29
        .cfi_restore x30
        ldp     d8,  d9,  [sp, #96]
        .cfi_restore 72
        .cfi_restore 73
        ldp     d10, d11, [sp, #112]
        .cfi_restore 74
        .cfi_restore 75
        ldp     d12, d13, [sp, #128]
        .cfi_restore 76
        .cfi_restore 77
        ldp     d14, d15, [sp, #144]
        .cfi_restore 78
        .cfi_restore 79
        add     sp, sp, #176
        .cfi_def_cfa_offset 0
#if defined(GORO_BTI_BUILD)
        ret                             // see "BTI" above
#else
        // br, not ret: see switch_x86_64.S (return-stack misprediction).
        br      x30
#endif
        .cfi_endproc
        .size   goro_fiber_switch, .-goro_fiber_switch

        // Entered at goro_fiber_entry, after a nop that makes an unwinder's
        // lookup of that "return address" find this function (see
        // switch_x86_64.S).
        .globl  goro_fiber_start
        .type   goro_fiber_start, %function
        .globl  goro_fiber_entry
        .type   goro_fiber_entry, %function
        .p2align 4
goro_fiber_start:
        .cfi_startproc
        .cfi_undefined x30
        nop
goro_fiber_entry:
        mov     x0, x20
        blr     x19
        brk     #0
        .cfi_endproc
        .size   goro_fiber_start, .-goro_fiber_start

#if defined(GORO_BTI_BUILD)
        // GNU property note (ELF gABI NT_GNU_PROPERTY_TYPE_0):
        // GNU_PROPERTY_AARCH64_FEATURE_1_AND = BTI only (see above).
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       // name size ("GNU\0")
        .long   16                      // descriptor size
        .long   5                       // NT_GNU_PROPERTY_TYPE_0
        .asciz  "GNU"
        .long   0xc0000000              // GNU_PROPERTY_AARCH64_FEATURE_1_AND
        .long   4                       // property data size
        .long   1                       // GNU_PROPERTY_AARCH64_FEATURE_1_BTI
        .p2align 3
#endif
#endif
        .section .note.GNU-stack,"",%progbits
