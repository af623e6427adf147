// Goroutine stacks: mmap'd, committed lazily by the kernel, cached and
// reused, each with a guard page below it.
//
// Default-size stacks come from a pool: 256 MiB chunks mapped with
// MAP_NORESERVE and carved into slots of [guard page][stack]. The guard is
// installed with madvise(MADV_GUARD_INSTALL) (Linux 6.13+), which does not
// split the mapping, so a million stacks cost a few hundred kernel maps;
// on older kernels it falls back to mprotect(PROT_NONE), which splits the
// chunk (two maps per pooled stack), within a budget of a quarter of
// vm.max_map_count counted in maps; past the budget pooled stacks go
// without a guard (reported once on stderr). A dedicated stack's guard
// goes with its mapping and is not counted.
//
// A goroutine reserves a stack when it is created (g_reserve: so running
// out of memory is an error the caller of go() sees), but is bound to one
// only when it first runs (stack_bind): a burst of a million go() calls
// whose goroutines finish quickly then reuses a handful of hot stacks
// instead of touching a million fresh pages. Reservations are counted in
// per-P batches ("credits") so go() takes no global lock, and leave room
// for every P's cache (stack.cpp, the first invariant): a goroutine may
// first run on a P whose cache is empty while the free stacks sit in
// another P's, out of its reach.
//
// Free stacks are kept in a per-P LIFO array of stack tops (hottest last)
// and a global LIFO array. Arrays, not lists linked through the stacks: a
// stack is not touched until it is bound, and the P knows which stacks it
// will bind next, so it prefetches their tops a few binds ahead (a cold
// stack costs a TLB miss and a cache miss; refilling a linked cache of 32
// cold stacks took 32 of each in a row, under the pool lock). Memory of cached stacks stays committed and
// is reused by the next goroutines (Go's stack cache does the same) until
// the scavenger (below: its own thread, a slice at a time, or all at once for
// goro::free_os_memory) gives the pages of stacks that stayed unused back
// to the kernel.
//
// Lock order: the scavenger's lock (rank `scavenger`) before the pool lock
// (rank `stack_pool`), base/lock.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::detail {

struct g;
struct p;

void stack_pool_init();
void stack_bind(p* pp, g* gp);     // first run: give gp its stack
void stack_release(p* pp, g* gp);  // exit: give it back
// The default stack size for new goroutines (set_default_stack_size).
size_t stack_default_size();
// True if stacks of `size` bytes come from the pool (else dedicated).
bool stack_size_is_pooled(size_t size);
// `size` rounded up to whole pages, at least the minimum stack.
size_t stack_round(size_t size);

// Reserves a stack of the default size for a new goroutine (pp may be
// null on a plain thread). Throws goro::resource_error on exhaustion.
void stack_reserve(p* pp);
// Counts a new P's stack cache in what reservations must leave free
// (stack.cpp, the first invariant), mapping for it if goroutines exist and
// memory allows. sched.lock held (it ranks before the pool's).
void stack_pool_add_p();
// Moves pp's cached stacks to the global free list and gives back its
// credits: a P over the maxprocs budget (sched.hpp, p_caches_flush).
void stack_cache_flush(p* pp);
// Gives back a reservation that was not used (g_unreserve, or g_reserve
// when allocating the closure fails).
void stack_unreserve(p* pp);
// Reservations the pool has handed out (pool.reserved: every goroutine's
// plus the credits cached in Ps). For tests: from a plain thread, whose
// reservations bypass the credits, go() moves it by exactly one.
int64_t stack_reserved_count();

// Maps a dedicated stack of `size` bytes (a go_with stack_size other than
// the default) into gp. Throws goro::resource_error.
void stack_alloc_dedicated(g* gp, size_t size);

// The scavenger gives the memory of free pooled stacks back to the kernel
// with madvise(MADV_DONTNEED): the address space stays reserved, a reused
// stack reads as zeros. Stacks cached per P (at most 64 each) stay.
// It sorts the stacks it releases by address and gives back each run of
// neighbouring slots with one call (the guard pages between them are
// inside the range: madvise leaves MADV_GUARD_INSTALL markers and
// PROT_NONE pages as they are), and holds the pool lock only to move
// stacks out of and back into the free lists, never across a madvise.

// The scavenger thread's share (scavenger.cpp), called until it returns false (and at
// every period): with `new_period` (every 5 s, $GORO_SCAVENGE_MS), marks
// the stacks that no goroutine has taken since the previous period as
// idle, so stacks idle for one to two periods are released; then releases
// idle stacks until `deadline` (nanotime) or 64 MiB of stack range,
// whichever comes first, and returns whether idle stacks are left. Never
// waits: if goro::free_os_memory is releasing, it does nothing this round.
// Scavenger thread only.
bool stack_scavenge_step(bool new_period, int64_t deadline);

// goro::free_os_memory: releases every stack in the global free list, and
// whatever the scavenger thread had left to release; returns when they are given
// back. Other goroutines keep getting stacks meanwhile (the pool lock is
// taken briefly, and released stacks go back to the pool as each run is
// done). Any thread, no lock held.
void stack_scavenge_all();

// What the scavenger has done since the runtime started (tests,
// diagnostics). Each field is read on its own: together they are not a
// snapshot.
struct stack_scavenge_counts {
  uint64_t released;         // stacks whose pages were given back
  uint64_t madvise_calls;    // system calls that gave them back
  int64_t longest_step_ns;      // the scavenger's longest stack_scavenge_step, wall time
  int64_t longest_step_cpu_ns;  // and the most CPU time one took
};
stack_scavenge_counts stack_scavenge_counted();

// Stack tops committed ahead of their first run (populate_tops in
// stack.cpp), and whether that is off (the kernel refused it: an older
// kernel, or a seccomp filter). Tests, diagnostics.
uint64_t stack_populated_count();
bool stack_populate_off();

// The default-size pool now, read under its lock (goro::debug::stats).
struct stack_pool_counts {
  size_t stack_size;    // usable bytes per pooled stack
  int64_t reserved;     // reservations handed out (goroutines plus per-P credits)
  int64_t cached;       // free stacks whose memory is kept (global list)
  int64_t released;     // free stacks whose memory was given back
};
stack_pool_counts stack_pool_counted();

// Stack overflow diagnosis: true if addr lies in the guard page of gp's
// stack (or just below its usable range).
bool stack_is_guard_hit(const g* gp, const void* addr);
size_t stack_guard_size();

}  // namespace goro::detail
