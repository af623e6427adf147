// Memory for channel timers' records (time/gotimer.hpp's timer_rec):
// fixed-size slots carved from 2 MiB arenas.
//
// Why: a million new_timer calls made a million 96-byte operator new calls,
// and glibc grew its heap a 4 KiB page at a time; on the VMs we measure on
// each first touch of a page is a fault of 15-25 us (perf: sysmalloc and
// exc_page_fault were a third of toolkit/timer_add). An arena is one
// 2 MiB-aligned mapping, and a slot costs a pointer pop or a bump under
// one lock. Every arena but the first (rec_slab.cpp, map_arena) is
// populated when it is mapped (MADV_POPULATE_WRITE): one call instead of
// 512 faults.
// Small pages, not huge ones (2026-12-06): on the project's VMs a huge
// page is cheap only while the 2 MiB block is one another mapping just
// freed (the guest reports free blocks to the host, which drops them, and
// a reported block costs about five times its 512 small pages:
// docs/benchmarks.md, "timer_add and fresh memory"). After the benchmark's
// earlier rows, a million timers' arenas took 433-609 ns a timer with huge
// pages (perf: 83% of the row zeroing them), 160-200 with small pages, and
// 124-229 with small pages populated in one call (docs/benchmarks.md,
// "Timers: one record with its channel, in small pages"). Lending the
// slab the free pages of goroutine stacks made walking the records slow,
// and was not kept.
//
// Per-P front (S4): so that goroutines making and dropping timers on both
// workers do not meet at the lock for every slot (two goroutines churning
// timers spent a quarter of their time in it), a goroutine takes slots
// from its P's cache of free slots (p::timer_slots, up to 32), which takes
// 16 at a time from the arenas under the lock and gives the older 16 back
// when full. Only slots of the arena being filled (`cur`) go into a cache
// when freed; others go back under the lock at once. Plain threads,
// blocking sections and TSan builds take and give single slots under the
// lock.
//
// Giving memory back: an arena whose last slot is freed is unmapped, except
// the arena slots are bumped from (`cur`) and one empty spare kept so that
// a program which creates and drops timers in waves does not map and unmap
// an arena per wave. So after timers are freed en masse at most two arenas
// (4 MiB) stay mapped, plus, rarely, a former `cur` that still has slots
// in a P's cache (cached while it was `cur`). The bound is per arena, not per slot: an arena with
// one live record left stays mapped whole (as any slab or span allocator;
// Go's spans are 8 KiB), so a pathological pattern that keeps one record
// alive in every 10,484 can pin 2 MiB each. Freed slots are reused first
// from the current arena, then from partly used arenas, most recently
// freed-into first, before a new arena is mapped.
//
// Under AddressSanitizer (GORO_ASAN) the slab is not used: each record is
// an operator new of its own, so that ASan still reports a use after free
// of a record. Only the chan records go here: after_func records carry
// their function after the record and vary in size.
//
// Invariants (under the slab's lock, rank `leaf`: it takes no other lock,
// and is taken with none of the runtime's held - records are allocated
// before any lock and freed by their last reference, never under a lock):
//  S1. Each arena is in exactly one of: `cur`, `spare` (live == 0), the
//      partial list (live < capacity, not cur), or none (full, not cur).
//  S2. arena->live counts its slots handed out and not freed; a slot is
//      either handed out, on its arena's free list, or at or past `bump`.
//  S3. mapped_bytes == 2 MiB * (arenas mapped), readable without the lock.
//  S4. A slot in a P's cache counts as handed out (S2); the cache is
//      touched only by the M that owns the P, outside goro::blocking.
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::detail {

// The slot: a channel timer's record (sizeof(timer_rec) must fit:
// gotimer.cpp checks). Each slot has a companion of kTimerSlabCompanion
// bytes for the timer's channel (an unbuffered hchan), in another part of
// the arena: records and channels apart, as two arrays, rather than each
// channel beside its record, because a Stop touches the record alone,
// and a million Stops in a row (toolkit/timer_stop) stream through the
// records: 6-7 ns a Stop with 96-byte strides, 12 with 192.
constexpr std::size_t kTimerSlabSlot = 96;
constexpr std::size_t kTimerSlabCompanion = 104;
constexpr std::size_t kTimerSlabAlign = 32;

// A slot of kTimerSlabSlot bytes, kTimerSlabAlign-byte aligned (16 under
// ASan, where each slot and its companion are one operator new). Throws
// std::bad_alloc when no arena can be mapped.
void* timer_slab_alloc();

// The companion of a slot from timer_slab_alloc: kTimerSlabCompanion
// bytes, 8-byte aligned, the slot's as long as the slot is handed out.
void* timer_slab_companion(void* slot) noexcept;

// Gives a slot from timer_slab_alloc back.
void timer_slab_free(void* p) noexcept;

struct p;
// Gives every slot in pp's cache back (S4): by the M that owns pp, when it
// is about to give pp up for lack of work or of budget (sched/proc.cpp),
// so that an idle P's cache keeps no arena mapped.
void timer_slab_flush_p(p* pp) noexcept;

// Bytes of arenas mapped now (S3), for the benchmarks and memory tests:
// glibc's mallinfo2 does not see them.
int64_t timer_slab_bytes() noexcept;

}  // namespace goro::detail
