// The network poller (Go's netpoll.go and netpoll_epoll.go): goroutines
// that wait for a file descriptor to become readable or writable park in
// `IO wait`; an idle worker waits in epoll_wait and readies them.
//
// It lives in src/netpoll/ (the layout of STYLE.md), beside the scheduler
// rather than inside it: the scheduler calls it through the few functions
// at the bottom of this header, as it calls the timers (time/timer.hpp),
// and everything about descriptors, deadlines and epoll stays here.
//
// A poll_desc (Go's pollDesc) is the record of one registered fd: two
// waiter slots, `rg` for reading and `wg` for writing, each holding
//   kNil      nobody waits, no readiness noted;
//   kReady    the fd became ready since the last wait took the token;
//   kWait     a goroutine is about to park (between its check and park);
//   a g*      that goroutine is parked.
// Every change is one atomic operation on the slot, and each of the two
// sides re-reads what the other wrote, so a readiness notification that
// arrives between a goroutine's check and its park is never lost (the
// protocol is spelled out in netpoll.cpp). Registration is edge-triggered
// (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET), made once per fd.
//
// The io_uring variant ($GORO_NETPOLL=uring, built when liburing is found:
// GORO_HAVE_URING; an experiment measured in docs/design.md, epoll stays
// the default): a connected stream socket's receives are completions, not
// readiness. netpoll_recv queues an IORING_OP_RECV and parks on the read
// slot until its completion is reaped; sends, accepts, connects, datagrams
// and wait_fd stay on epoll readiness. The ring's fd is itself in the
// epoll set, so the idle M's epoll_wait wakes when completions are posted
// and the scheduler's idle path is unchanged: netpoll() submits the queued
// requests and reaps the completion queue as well as the epoll events.
//
// Invariants:
//  - At most one goroutine waits per slot (kWait or a g*); a second is a
//    misuse, reported by netpoll_wait (Go's "double wait").
//  - A slot holding a g* is changed only by the one waker that swaps it
//    out (epoll readiness, a deadline, or close), which then readies it.
//  - poll_desc records are never freed, only reused (as Go's pollcache):
//    an epoll event or a deadline timer may name a record after its fd was
//    closed. Each reuse bumps `seq`, which the epoll event carries, so a
//    stale event is dropped; a deadline timer checks the deadline itself.
//  - netpoll_waiters() counts goroutines parked in IO wait: while it is
//    above zero, the idle worker polls and no deadlock is reported.
//  - uring: at most one receive in flight per record (reads hold the
//    netfd's rmu), and its goroutine does not return before the
//    completion came (the kernel writes into its buffer until then), even
//    when closed or past its deadline: it cancels the request
//    (IORING_OP_ASYNC_CANCEL) and waits for the completion. So a record is
//    never freed or reused with a receive in flight.
//
// Lock order: a poll_desc's lock ranks `poll_desc` (base/lock.hpp): its
// deadline timers are added and deleted under it (rank `timers`, then
// `sched` for the wake-up), and nothing is readied while it is held.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/lock.hpp"
#include "goro/errc.hpp"
#include "time/timer.hpp"

namespace goro::detail {

struct g;
struct m;
struct thread_waker;  // netpoll.cpp

enum class poll_mode : uint8_t { read = 1, write = 2 };

// What netpoll_wait returns. Go's pollNoError, pollErrClosing,
// pollErrTimeout.
enum class poll_err : uint8_t { none = 0, closing = 1, timeout = 2 };

// What a wait's poll_err means to goro's callers: {}, errc::closed (Go's
// ErrFileClosing / net.ErrClosed) or errc::deadline_exceeded.
inline std::error_code poll_err_code(poll_err e) {
  switch (e) {
    case poll_err::none: break;
    case poll_err::closing: return errc::closed;
    case poll_err::timeout: return errc::deadline_exceeded;
  }
  return {};
}

struct poll_desc {
  // Waiter slots (see the top of this file); written with CAS and swap.
  std::atomic<uintptr_t> rg{0};
  std::atomic<uintptr_t> wg{0};
  // closing and the two "deadline passed" bits, readable without the lock
  // (Go's pollDesc.atomicInfo); written under `lock`.
  std::atomic<uint32_t> info{0};
  // Bumped at each open (reuse) of the record; epoll events carry it.
  std::atomic<uint32_t> seq{0};
  // Set (for good, until the record is reused) once the poller saw the
  // peer's shutdown, an error or urgent data on the fd: from then on a
  // short read no longer proves the socket drained (netpoll_short_read_drains).
  std::atomic<uint32_t> read_tail{0};
  int fd = -1;
  // uring: the result of the receive in flight and whether its completion
  // was reaped (written by the reaper before it readies the waiter).
  std::atomic<int32_t> ures{0};
  std::atomic<uint32_t> udone{0};

  runtime_lock lock{lock_rank::poll_desc};
  // Guarded by lock: the deadlines (nanotime; 0 none, -1 passed).
  int64_t rd = 0;
  int64_t wd = 0;
  timer rt;  // fires at rd (arg: this record)
  timer wt;  // fires at wd
  bool closing = false;  // guarded by lock (mirrored in info)
  // Plain threads blocked in netpoll_wait_thread on this record, woken
  // through their eventfds by close and deadline changes. Guarded by lock.
  thread_waker* threads = nullptr;

  poll_desc* link = nullptr;  // free list (the cache's lock)
};

inline constexpr uint32_t kInfoClosing = 1;
inline constexpr uint32_t kInfoReadExpired = 2;
inline constexpr uint32_t kInfoWriteExpired = 4;

// Registers fd with the poller (edge-triggered, both directions). Returns
// the record, or null with *err set to the errno of epoll_ctl (EPERM for
// a regular file, which epoll cannot watch: it is always ready).
// Callable from anywhere. stream_conn: a connected stream socket, whose
// goroutines' reads go through netpoll_recv when netpoll_uring() (epoll
// then watches its writes only, so readiness does not wake the waiter
// for a completion).
poll_desc* netpoll_open(int fd, int* err, bool stream_conn = false);

// Whether a goroutine whose last recv(2) on pd's TCP socket returned fewer
// bytes than asked may wait for readiness before its next recv, instead of
// calling recv once more to be told EAGAIN (the raw epoll servers' and
// nginx's "a short read drained the socket"). Sound for TCP because any
// data queued after a recv emptied the queue raises an edge that the
// poller harvests after that recv, so the slot is kReady or the waiter is
// woken; and the cases where a TCP recv stops short with data still queued
// (at the urgent mark, at the FIN, at an error) all raise EPOLLPRI,
// EPOLLRDHUP or EPOLLERR/HUP, which set pd->read_tail for good. The io_uring
// variant's receives are completions: no.
inline bool netpoll_short_read_drains(const poll_desc* pd) {
  return pd->read_tail.load(std::memory_order_acquire) == 0;
}

// Whether the io_uring variant runs ($GORO_NETPOLL=uring, read at the
// first netpoll_open; false when built without liburing or when the ring
// cannot be made). Meaningful once a record was opened.
bool netpoll_uring();

// uring only: receives up to n bytes on pd's fd as recv(2) with no flags,
// through an IORING_OP_RECV completion, parking the calling goroutine
// until it comes. Returns the byte count or -errno. If pd is closed or
// the read deadline passes first, cancels the request, waits for its
// completion, and sets *perr (then the result is 0 unless data arrived
// before the cancel took effect). Goroutines only; the caller holds rmu.
long netpoll_recv(poll_desc* pd, void* buf, size_t n, poll_err* perr);

// Wakes every goroutine waiting on pd with poll_err::closing, makes later
// waits fail the same way, and removes the fd from epoll (Go's evict +
// close). The caller must not close the fd before this returns. The record
// is reused after netpoll_free, which the last user of pd calls once no
// goroutine can be inside netpoll_wait on it.
void netpoll_close(poll_desc* pd);
void netpoll_free(poll_desc* pd);

// Sets the deadline of one direction (nanotime; 0: none; in the past:
// waiters are woken with poll_err::timeout at once). Callable from
// anywhere, concurrently with waits. `mirror`, if given, is stored the
// deadline under the record's lock, so that of two calls at once the one
// that wins the poller's state also wins the mirror (goro::net's netfd
// keeps one for its lock-free check before each operation).
void netpoll_set_deadline(poll_desc* pd, poll_mode mode, int64_t deadline,
                          std::atomic<int64_t>* mirror = nullptr);

// Parks the calling goroutine in `IO wait` until pd is ready in `mode`,
// its deadline passes, or it is closed. Goroutines only. Returns none if
// ready (the caller retries its operation, which may still say EAGAIN:
// readiness is a hint). A second goroutine waiting in the same direction
// at once is a misuse: throws goro::panic_error.
poll_err netpoll_wait(poll_desc* pd, poll_mode mode);

// A plain thread's wait (netpoll_wait parks goroutines only): blocks the
// thread in ppoll(2) on pd's fd and on the thread's own eventfd until the
// fd may be ready for `mode` (none), pd is closed (closing), its deadline
// for `mode` passes (only if pd_deadlines: the socket's deadlines, which
// goro::net keeps on the record; goro::wait_fd's goroutines set per-call
// deadlines there that are not a thread's), or `until` (nanotime; 0:
// none) passes (timeout).
// Close and deadline changes write the eventfd, so they wake the thread
// at once, without a polling period. Threads only; any number may wait on
// one record. *err is 0, or the errno of a failed ppoll (POLLNVAL, the fd
// closed under the wait, is EBADF), returned with poll_err::none.
poll_err netpoll_wait_thread(poll_desc* pd, poll_mode mode, int64_t until, bool pd_deadlines, int* err);

// ---- the scheduler's side (called from sched/proc.cpp and sysmon.cpp) ----

// Goroutines parked in IO wait (relaxed: a hint; see netpoll.cpp for why
// a stale read loses no wake-up).
int32_t netpoll_waiters();

// Polls epoll once. until_ns: 0 does not block; INT64_MAX blocks until an
// event or netpoll_break(); otherwise blocks until that nanotime() at the
// latest. The goroutines it unblocks are made runnable (waiting ->
// runnable) and returned as a list linked through g::schedlink; *n is
// their count. Returns null at once if the poller was never used.
g* netpoll(int64_t until_ns, int32_t* n);

// Interrupts a blocking netpoll() (Go's netpollBreak): writes the eventfd,
// at most once until a blocking netpoll() has read it (a non-blocking one
// leaves it: the break is not for that poll).
void netpoll_break();

// The monitor's poll readied n goroutines (netpoll_stats.hpp).
void netpoll_count_monitor(int32_t n);

// Whether an M is blocked in netpoll() right now, and when anyone last
// returned from a netpoll() (for the monitor's 10 ms rule).
bool netpoll_blocked();
int64_t netpoll_last_poll();

}  // namespace goro::detail
