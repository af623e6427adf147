// Big anonymous mappings that are reused instead of unmapped: the memory
// of large channel buffers (chan/chan.cpp).
//
// Why: a big buffer's first touch is the expensive part of using it. Every
// page faults once, and on VMs whose host takes back memory the guest has
// freed (Firecracker's free-page reporting) the host faults it in again,
// 4 KiB at a time (docs/benchmarks.md, "Where the remaining gaps come
// from", item 4). Keeping the last freed mappings for the next big
// allocation of about the same size avoids all of that, as a heap keeps
// freed spans; the scavenger thread gives them back after a period unused
// (big_memory_scavenge), and goro::free_os_memory() at once.
//
// Fresh mappings are left to 4 KiB pages: huge pages must come from 2 MiB
// free blocks, which are what such hosts have taken back.
//
// Thread-safe. Lock: one leaf lock (nothing is taken under it; munmap is
// called outside it). Unmapping a big block is not quick (a 256 MiB block
// with every page resident took 40-60 ms on the project's VMs), so the
// scavenger thread unmaps them in 1 MiB pieces, a slice at a time.
#pragma once

#include <cstdint>

namespace goro::detail {

struct big_block {
  void* p = nullptr;       // null: out of memory
  uint64_t mapped = 0;     // bytes actually mapped (>= the bytes asked for)
  bool reused = false;     // true: holds a previous user's bytes (not zero)
};

// At least `bytes` of readable, writable memory, page-aligned: a kept
// mapping of bytes to 2 * bytes, or a fresh (zeroed) one.
big_block big_memory_get(uint64_t bytes);

// Gives back a block from big_memory_get (p and mapped as returned).
void big_memory_put(void* p, uint64_t mapped);

// The scavenger thread's share, called until it returns false (and at
// every period): with `new_period`, the kept blocks that nobody took since
// the previous period are dropped; then dropped blocks are unmapped, a
// piece at a time, until `deadline` (nanotime). Returns whether dropped
// blocks are left. Scavenger thread only.
bool big_memory_scavenge_step(bool new_period, int64_t deadline);

// goro::free_os_memory: unmaps every kept and dropped block. Any thread.
void big_memory_scavenge_all();

// Bytes of kept mappings not yet given back (kept, or being unmapped by
// the scavenger), for tests.
uint64_t big_memory_held_bytes();

}  // namespace goro::detail
