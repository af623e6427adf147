// Big anonymous mappings that are reused instead of unmapped: the memory
// of large channel buffers (chan/chan.cpp).
//
// Why: a big buffer's first touch is the expensive part of using it. Every
// page faults once, and on VMs whose host takes back memory the guest has
// freed (Firecracker's free-page reporting) the host faults it in again,
// 4 KiB at a time (docs/benchmarks.md, "Where the remaining gaps come
// from", item 4). Keeping the last freed mappings for the next big
// allocation of about the same size avoids all of that, as a heap keeps
// freed spans; the monitor gives them back after a period unused
// (big_memory_scavenge), and goro::free_os_memory() at once.
//
// Fresh mappings are left to 4 KiB pages: huge pages must come from 2 MiB
// free blocks, which are what such hosts have taken back.
//
// Thread-safe. Lock: one leaf lock (nothing is taken under it; munmap is
// called outside it).
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

// Unmaps kept blocks: all of them, or those unused since the last call.
void big_memory_scavenge(bool all);

}  // namespace goro::detail
