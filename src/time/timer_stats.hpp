// Counters of time/gotimer.cpp and time/timers.cpp for white-box tests (declarations only, so
// tests can include this header alone).
#pragma once

#include <cstdint>

namespace goro::detail {

// timer_rec records allocated and not yet freed (timers, tickers,
// after_func timers, in this process).
int64_t timer_recs_live() noexcept;

// Entries on every P's timer heap and in-order queue, dead ones included
// (time/timers.cpp).
int64_t timer_heap_entries() noexcept;

// Of those, the entries on the in-order queues (time/timer.hpp,
// timer_heap), dead ones included.
int64_t timer_queue_entries() noexcept;

// Zombie entries (stopped lock-free, not yet dropped) counted on every
// P's heap, and the most heap entries one reap scanned under one hold of
// a heap's lock (time/timer.hpp, "Zombies").
int64_t timer_zombies_counted() noexcept;
uint64_t timer_reap_longest_scan() noexcept;

// Bytes of the arenas chan timer records are carved from (time/rec_slab.hpp),
// mapped directly, so not in glibc's mallinfo2.
int64_t timer_slab_bytes() noexcept;

}  // namespace goro::detail
