// The parking primitive: the one way anything in goro blocks.
//
// Channels, select, wait_group, mutexes, timers and I/O all block through
// this pair (Go's gopark/goready):
//
//   park(reason, unlock, arg)  blocks the calling waiter. A waiter is the
//                              running goroutine, or, on a plain OS thread,
//                              that thread (it sleeps on a futex).
//   ready(w)                   makes a parked waiter run again.
//
// The protocol that gives every park exactly one waker:
//  1. The blocking primitive takes its own lock, registers the waiter (e.g.
//     links a record into a channel's queue) and calls park(), still
//     holding the lock.
//  2. park() marks the waiter `waiting`, and only then calls unlock(arg),
//     for a goroutine after it has been switched out: on the scheduler's
//     stack, or on the stack of the goroutine it switched to directly
//     (mcall, finish_switch). From this moment wakers can find the waiter.
//  3. A waker takes the lock, unlinks the waiter (so no one else can find
//     it), releases the lock and calls ready() once. ready() moves the
//     waiter from `waiting` to `runnable` with one atomic transition and
//     aborts the process if the waiter was not waiting (a double wake-up is
//     a runtime bug, never silently tolerated).
// Where several wakers may race for one waiter (select over channels, a
// timeout against a channel), they first claim it with their own atomic
// (e.g. select's `done` word); only the winner calls ready().
//
// If unlock() returns false the park is abandoned: the waiter is not
// parked and park() returns at once (nobody else may ready it then).
//
// Memory: everything the waker wrote before ready() is visible to the
// waiter after park() returns (and TSan is told so).
#pragma once

#include "sched/wait_reason.hpp"

namespace goro::detail {

struct g;

using unlock_fn = bool (*)(g* waiter, void* arg);

// The calling waiter: the running goroutine, or the calling thread's
// waiter record if it is not a goroutine. Never null.
g* current_waiter();

// True when called from a goroutine (not a plain thread).
bool in_goroutine();

// Blocks the caller until ready(current_waiter()) is called. See above.
void park(wait_reason reason, unlock_fn unlock, void* arg);
// The same, for a caller that already holds current_waiter() (w must be
// it): saves reading the thread's M again.
void park_waiter(g* w, wait_reason reason, unlock_fn unlock, void* arg);

// Makes the parked waiter `w` runnable. Callable from goroutines, plain
// threads and the scheduler (timer callbacks). A goroutine readied by a
// goroutine runs next on the waker's worker (runnext), which keeps a
// ping-pong pair on one core.
void ready(g* w);

// ready() for n goroutines (not plain-thread waiters) at once, from a
// worker holding a P (the timer code): they go to the tail of its run
// queue in order, not through runnext, with one wakep() for them all.
// Unlike ready(), it gives the race detector no edge from the caller: a
// sleeper woken by its timer is ordered after nothing, as in Go.
void ready_goroutines(g* const* gs, int n);

// The goroutine id of a waiter (0 for a plain thread).
uint64_t waiter_id(const g* w);

}  // namespace goro::detail
