// The poller: poll_desc records, the waiter-slot protocol, deadlines, and
// the epoll backend. Design and invariants in netpoll.hpp; the model is
// Go's src/runtime/netpoll.go and netpoll_epoll.go.
//
// The slot protocol (one slot per direction, values in netpoll.hpp):
//
//   waiter (netpoll_block)                 notifier (netpoll_unblock)
//   1. kReady -> kNil: consume the token,  epoll readiness: slot -> kReady;
//      return "ready" without parking.     close or deadline (their flag
//   2. kNil -> kWait (CAS).                already set in `info`): a
//   3. read `info`: closed or timed out?   waiting slot -> kNil.
//      then do not park.                   If the slot held a g*, that
//   4. park; its commit (on the scheduler  goroutine is the notifier's to
//      stack, after the switch) is the     ready; kWait it leaves alone
//      CAS kWait -> g*. If it fails, a     (the waiter's commit fails).
//      notifier came between 2 and 4:
//      the park is abandoned.
//   5. swap the slot to kNil; "ready" if it held kReady.
//
// So a notification is either seen by the waiter's own swap (it came
// before the commit: the commit fails) or finds the g* (after the commit)
// and readies it: never neither. A close or deadline sets its `info` bit
// before it reads the slot, and the waiter reads `info` after publishing
// kWait (both seq_cst): one of the two sees the other. Exactly one waker
// gets a g*, by the CAS that swaps it out (park.hpp's "one waker").
//
// Deadlines are runtime timers (time/timer.hpp) of the record, armed and
// disarmed under its lock. A timer's callback may run after its deadline
// was moved or cleared (timer_del says "already firing"): it compares the
// record's current deadline with the clock under the lock, so a stale
// fire does nothing, and records are never freed, so it never touches
// freed memory.
//
// Epoll events carry the record's address tagged with 16 bits of its
// `seq` (bumped at each close); a tag that does not match is an event for
// an fd closed since, and is dropped. The eventfd that netpoll_break
// writes is registered with the tag 0 (no record lives at address 0).
//
// Who touches what: the slots, `info` and `seq` are atomics (above); the
// deadlines and timers are guarded by the record's lock; the free list by
// the cache's lock (leaf: nothing is taken under it). The epoll and
// eventfd descriptors are made once (call_once) and never closed.
//
// Plain threads (netpoll_wait_thread) cannot park: they block in ppoll(2)
// on the fd and on an eventfd of their own (a thread_waker), listed on
// the record under its lock while they wait. Close, deadline changes and
// deadline fires change the record under the same lock and then write
// every listed waker's eventfd, so a thread either sees the change when it
// rechecks under the lock or is listed when the change is made, and then
// its ppoll returns. Wakers are pooled, never freed, and their eventfds
// never closed; a count left in one (a wake-up that raced a ready fd) is
// a spurious wake-up for its next wait, which drains it and rechecks.
//
// The io_uring variant (netpoll.hpp; compiled with GORO_HAVE_URING). A
// receive is one request on a ring shared by every M:
//
//   goroutine (netpoll_recv)                reaper (netpoll(), any M)
//   1. udone = 0; queue IORING_OP_RECV       a. pop the completion (CQ lock)
//      under the SQ lock; submit at once     b. ures = result; udone = 1
//      only if a poller is blocked.          c. unblock(read slot, ready):
//   2. while udone == 0: if closed or past      kReady, or the parked g*,
//      the deadline, queue a cancel (once,      which it readies.
//      submitted at once); park on the read
//      slot even when closed (block's
//      `always`): the completion must come.
//
// The read slot's protocol is the epoll one, so a completion between the
// check of udone and the park is not lost; a close or deadline wakes the
// goroutine the same way (unblock with kNil), and it loops: cancels, and
// parks again. A stale kReady (a completion reaped while the goroutine had
// already seen udone) is a spurious wake-up of its next wait: it re-reads
// udone. The cancel's own completion carries user_data 0 and is dropped.
//
// Submission is deferred: queued requests go to the kernel in one
// io_uring_enter by the next netpoll() (find_runnable's non-blocking poll
// when an M runs out of work, the idle M before it blocks, the monitor's),
// so a batch of parked readers costs one system call. A goroutine queues
// and submits itself when an M is blocked in epoll_wait (`blocked_pollers`,
// counted under the SQ lock before that M submits what is queued): either
// the blocked M's submit took the request or the goroutine sees the count.
// Completions wake the blocked M through the ring's fd, which is in the
// epoll set (level-triggered, tag 1: no record lives at address 1).
//
// Lock order: poll_desc, then timers (timer_add/del), then sched (the
// timers' wake-up); poll_desc, then the waker pool's leaf lock (never
// held together in fact). ready() is never called holding a poll_desc
// lock. The ring's SQ and CQ locks are leaves (held across io_uring_enter
// only).
#include "netpoll/netpoll.hpp"
#include "netpoll/netpoll_stats.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if GORO_HAVE_URING
#include <liburing.h>
#endif

#include "base/check.hpp"
#include "base/debug_env.hpp"
#include "base/race.hpp"
#include "goro/panic.hpp"
#include "sched/sched.hpp"
#include "sched/test_hooks.hpp"
#include "sched/trace.hpp"

namespace goro::detail {

// A plain thread's wake-up channel (netpoll_wait_thread).
struct thread_waker {
  int efd = -1;                    // eventfd, non-blocking; never closed. -1: none (below)
  thread_waker* next = nullptr;    // on a record's list (its lock) or the pool's free list (the pool's lock)
  thread_waker* prev = nullptr;    // on a record's list
};

namespace {

constexpr uintptr_t kNil = 0;
constexpr uintptr_t kReady = 1;
constexpr uintptr_t kWait = 2;

constexpr int kTagShift = 48;
constexpr uint64_t kPtrMask = (uint64_t{1} << kTagShift) - 1;

int g_epfd = -1;
int g_breakfd = -1;
std::once_flag g_init_once;
std::atomic<bool> g_inited{false};
// Goroutines parked in IO wait. Incremented before a park's commit and
// decremented when the commit fails or the goroutine resumes, so it is
// above zero whenever a goroutine is parked (and for a moment longer).
// On a line of its own: every worker that runs out of work reads it, and
// nothing writes it while no goroutine waits for an fd.
alignas(64) std::atomic<int32_t> g_waiters{0};
// 1 while a netpoll_break() write is unread (Go's netpollWakeSig).
alignas(64) std::atomic<uint32_t> g_break_pending{0};
std::atomic<int32_t> g_blocked{0};       // Ms inside a blocking epoll_wait
std::atomic<int64_t> g_last_poll{0};     // nanotime() at the last poll's return
// netpoll_stats.hpp. Relaxed: counters read after the fact.
std::atomic<uint64_t> g_readied_blocking{0};
std::atomic<uint64_t> g_readied_nonblocking{0};
std::atomic<uint64_t> g_readied_by_monitor{0};
std::atomic<uint64_t> g_uring_completions{0};

uint64_t tag(poll_desc* pd, uint32_t seq) {
  return reinterpret_cast<uintptr_t>(pd) | (uint64_t{seq & 0xffffu} << kTagShift);
}

// ---- the io_uring variant (top of this file) ------------------------------

constexpr uint64_t kRingTag = 1;  // the ring fd's epoll event
bool g_uring = false;             // written once by init(), before g_inited

#if GORO_HAVE_URING
struct uring_state {
  io_uring ring{};
  runtime_lock sq_lock{lock_rank::leaf};
  unsigned queued = 0;          // guarded by sq_lock: SQEs not yet submitted
  int blocked_pollers = 0;      // guarded by sq_lock: Ms in a blocking epoll_wait
  runtime_lock cq_lock{lock_rank::leaf};
};
uring_state* g_ring = nullptr;  // made by init(), never freed

// Under sq_lock. -EAGAIN (no memory for requests now) and -EBUSY (the
// kernel's overflow list of completions is full) leave the requests
// queued, as does a short count (the kernel took some of the batch);
// `queued` is then what the SQ still holds, never reset by guess. Returns
// whether requests are left: whoever submitted must see that a poller
// comes back for them (uring_submit_or_break, netpoll's capped block), or
// a receive the kernel never saw waits for ever.
bool uring_submit_locked() {
  while (g_ring->queued > 0) {
    int r = io_uring_submit(&g_ring->ring);
    if (r == -EINTR) continue;
    if (r == -EAGAIN || r == -EBUSY) return true;
    if (r < 0) fatal("runtime: netpoll: io_uring_submit failed (%s)", strerror(-r));
    g_ring->queued = io_uring_sq_ready(&g_ring->ring);
    if (r == 0) break;  // took none without an error: retry at the next flush
  }
  return g_ring->queued > 0;
}

// Under sq_lock, by a goroutine: submits what is queued. If the kernel
// leaves some while an M is blocked in epoll_wait (no other poll runs
// then), that M is woken to retry: *wake is set, for netpoll_break()
// once the lock is dropped.
void uring_submit_or_break_locked(bool* wake) {
  if (uring_submit_locked() && g_ring->blocked_pollers > 0) *wake = true;
}

void uring_reap(g** head, g** tail, int32_t* n);

// Under sq_lock, by a goroutine: a free SQE, submitting what is queued if
// the SQ is full. If the kernel takes none (EAGAIN, or EBUSY: a kernel
// before 5.13 with a backlog of completions wants them reaped first), the
// lock is dropped while this goroutine reaps the completions itself,
// readies their goroutines and yields the CPU: every poller takes sq_lock
// (uring_flush) before it reaps, so waiting with the lock held kept
// anyone from reaping, and the program hung (found by a review,
// 2026-12-06).
io_uring_sqe* uring_sqe_locked() {
  for (;;) {
    if (io_uring_sqe* sqe = io_uring_get_sqe(&g_ring->ring)) {
      g_ring->queued++;
      return sqe;
    }
    uring_submit_locked();
    if (io_uring_sq_space_left(&g_ring->ring) > 0) continue;
    g_ring->sq_lock.unlock();
    g* head = nullptr;
    g* tail = nullptr;
    int32_t n = 0;
    uring_reap(&head, &tail, &n);
    if (n > 0) inject_glist(head, n);
    sched_yield();
    g_ring->sq_lock.lock();
  }
}

bool uring_init() {
  g_ring = new uring_state();
  // The CQ holds a completion per connection in the worst case (every
  // receive done before anyone reaps): room for the fd limit's worth;
  // beyond it the kernel keeps them on its overflow list.
  // COOP_TASKRUN (Linux 5.19): a completion's task work runs at the
  // submitting M's next kernel entry (its next send, epoll_wait or futex
  // sleep, which it interrupts, or a timer tick) instead of interrupting
  // it; without TASKRUN_FLAG, liburing never enters the kernel only to run
  // it. The faster of the variants measured (docs/design.md). SUBMIT_ALL
  // (5.18): one bad entry does not stop a batch. Older kernels: without.
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  p.cq_entries = 32768;
  int r = io_uring_queue_init_params(4096, &g_ring->ring, &p);
  if (r == -EINVAL) {
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 32768;
    r = io_uring_queue_init_params(4096, &g_ring->ring, &p);
  }
  if (r < 0) {
    std::fprintf(stderr, "goro: GORO_NETPOLL=uring: io_uring_queue_init failed (%s); using epoll\n", strerror(-r));
    return false;
  }
  struct epoll_event ev {};
  ev.events = EPOLLIN;  // level-triggered: reported while completions wait
  ev.data.u64 = kRingTag;
  if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, g_ring->ring.ring_fd, &ev) != 0)
    fatal("runtime: netpoll: epoll_ctl on the io_uring fd failed (%s)", strerror(errno));
  return true;
}
#endif

void init() {
  g_epfd = epoll_create1(EPOLL_CLOEXEC);
  if (g_epfd < 0) fatal("runtime: netpoll: epoll_create1 failed (%s)", strerror(errno));
  g_breakfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (g_breakfd < 0) fatal("runtime: netpoll: eventfd failed (%s)", strerror(errno));
  struct epoll_event ev {};
  ev.events = EPOLLIN;  // level-triggered: stays reported until drained
  ev.data.u64 = 0;
  if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, g_breakfd, &ev) != 0)
    fatal("runtime: netpoll: epoll_ctl on the eventfd failed (%s)", strerror(errno));
  const char* mode = std::getenv("GORO_NETPOLL");
  if (mode != nullptr && std::strcmp(mode, "uring") == 0) {
#if GORO_HAVE_URING
    g_uring = uring_init();
#else
    std::fprintf(stderr, "goro: GORO_NETPOLL=uring: built without liburing; using epoll\n");
#endif
  }
  // release: a poller that sees g_inited sees the descriptors. (TSan
  // does not see the runtime's atomics: it is told, race.hpp, or it takes
  // the epoll fd's creation and a poll on another thread for a race.)
  race_release(&g_inited);
  g_inited.store(true, std::memory_order_release);
}

// ---- the record cache (Go's pollcache) -----------------------------------

struct pd_cache {
  runtime_lock lock{lock_rank::leaf};
  poll_desc* free = nullptr;  // guarded by lock
};
pd_cache& cache() {
  static pd_cache* c = new pd_cache();  // never destroyed: records outlive exit
  return *c;
}

void deadline_fire(timer* t, int64_t now);

poll_desc* pd_alloc() {
  pd_cache& c = cache();
  {
    lock_guard lk(c.lock);
    if (poll_desc* pd = c.free) {
      c.free = pd->link;
      pd->link = nullptr;
      return pd;
    }
  }
  auto* pd = new poll_desc();
  GORO_CHECK((reinterpret_cast<uintptr_t>(pd) & ~kPtrMask) == 0);  // the tag needs the top 16 bits
  pd->rt.fn = deadline_fire;
  pd->rt.arg = pd;
  pd->wt.fn = deadline_fire;
  pd->wt.arg = pd;
  return pd;
}

// ---- the slot protocol (top of this file) --------------------------------

std::atomic<uintptr_t>* slot(poll_desc* pd, poll_mode mode) { return mode == poll_mode::read ? &pd->rg : &pd->wg; }

poll_err check_err(poll_desc* pd, poll_mode mode) {
  uint32_t info = pd->info.load(std::memory_order_seq_cst);
  if (info & kInfoClosing) return poll_err::closing;
  if (info & (mode == poll_mode::read ? kInfoReadExpired : kInfoWriteExpired)) return poll_err::timeout;
  return poll_err::none;
}

// Notifier side: the parked goroutine to ready, if any (not yet readied).
g* unblock(poll_desc* pd, poll_mode mode, bool ioready) {
  std::atomic<uintptr_t>* gpp = slot(pd, mode);
  for (;;) {
    uintptr_t old = gpp->load(std::memory_order_seq_cst);
    if (old == kReady) return nullptr;
    if (old == kNil && !ioready) return nullptr;
    uintptr_t want = ioready ? kReady : kNil;
    if (gpp->compare_exchange_weak(old, want, std::memory_order_seq_cst)) {
      if (old == kNil || old == kWait) return nullptr;
      return reinterpret_cast<g*>(old);
    }
  }
}

struct commit_arg {
  std::atomic<uintptr_t>* gpp;
  bool committed;
};

// Park's unlock function: publish the goroutine in its slot, or abandon
// the park if a notifier came first. Counted as a waiter before the CAS:
// once it succeeds, the goroutine may be readied and run at once.
bool commit(g* gp, void* arg) {
  auto* c = static_cast<commit_arg*>(arg);
  c->committed = true;
  g_waiters.fetch_add(1, std::memory_order_seq_cst);
  uintptr_t expect = kWait;
  if (c->gpp->compare_exchange_strong(expect, reinterpret_cast<uintptr_t>(gp), std::memory_order_seq_cst))
    return true;
  c->committed = false;  // the goroutine has not parked: nobody else reads c
  g_waiters.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

// $GORO_DEBUG=pollwindow=1 (base/debug_env.hpp): widen the window
// between the waiter's kWait and its commit, where a notification must
// not be lost, to tens of microseconds.
bool poll_window() {
  static const bool on = debug_setting("pollwindow", 0) != 0;
  return on;
}

// Never inlined, and nothing in it parks: the thread-local is looked up
// afresh on each call, on the thread that runs it.
[[gnu::noinline]] void poll_window_pause() {
  thread_local uint64_t state = 0x9e3779b97f4a7c15ULL ^ reinterpret_cast<uintptr_t>(&state);
  int64_t until = nanotime() + static_cast<int64_t>(fastrand(&state) % 20'000);
  while (nanotime() < until) cpu_relax();
}

// Waiter side. Returns true if the fd was reported ready. always: park
// even when closed or past the deadline (a uring receive waiting for the
// completion of its cancelled request).
bool block(poll_desc* pd, poll_mode mode, bool always = false) {
  std::atomic<uintptr_t>* gpp = slot(pd, mode);
  for (;;) {
    uintptr_t old = gpp->load(std::memory_order_seq_cst);
    if (old == kReady) {
      if (gpp->compare_exchange_strong(old, kNil, std::memory_order_seq_cst)) return true;
      continue;
    }
    if (old != kNil)
      throw panic_error(mode == poll_mode::read ? "goro: two goroutines wait to read the same fd at once"
                                                : "goro: two goroutines wait to write the same fd at once");
    if (gpp->compare_exchange_strong(old, kWait, std::memory_order_seq_cst)) break;
  }
  if (poll_window()) [[unlikely]] poll_window_pause();
  if (always || check_err(pd, mode) == poll_err::none) {
    commit_arg c{gpp, false};
    park(wait_reason::io_wait, commit, &c);
    if (c.committed) g_waiters.fetch_sub(1, std::memory_order_relaxed);
  }
  uintptr_t old = gpp->exchange(kNil, std::memory_order_seq_cst);
  if (old > kWait) fatal("runtime: netpoll: corrupted poll descriptor (slot holds a goroutine after its wait)");
  return old == kReady;
}

// Makes a goroutine unblocked by the poller runnable and appends it to a
// list linked through schedlink (it is in no queue while it waits).
void list_push(g* gp, g** head, g** tail, int32_t* n) {
  race_release(race_token(gp));
  trace(trace_ev::go_unblock, gp->id);
  g_wake_transition(gp);
  gp->schedlink = nullptr;
  if (*tail != nullptr)
    (*tail)->schedlink = gp;
  else
    *head = gp;
  *tail = gp;
  (*n)++;
}

// Wakes the plain threads waiting on pd (pd->lock held): their ppoll
// returns and they recheck the record.
void wake_threads_locked(poll_desc* pd) {
  for (thread_waker* w = pd->threads; w != nullptr; w = w->next) {
    uint64_t one = 1;
    // EAGAIN: the counter is full, the thread is being woken anyway. A
    // waker without an eventfd polls (netpoll_wait_thread).
    while (w->efd >= 0 && write(w->efd, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
}

void deadline_fire(timer* t, int64_t now) {
  auto* pd = static_cast<poll_desc*>(t->arg);
  const bool read = t == &pd->rt;
  g* gp = nullptr;
  {
    lock_guard lk(pd->lock);
    int64_t& d = read ? pd->rd : pd->wd;
    if (d <= 0 || d > now) return;  // moved or cleared since this fire was due
    d = -1;
    pd->info.fetch_or(read ? kInfoReadExpired : kInfoWriteExpired, std::memory_order_seq_cst);
    gp = unblock(pd, read ? poll_mode::read : poll_mode::write, false);
    wake_threads_locked(pd);
  }
  if (gp != nullptr) ready(gp);
}

}  // namespace

// ---- records ---------------------------------------------------------------

poll_desc* netpoll_open(int fd, int* err, bool stream_conn) {
  ensure_runtime();
  std::call_once(g_init_once, init);
  poll_desc* pd = pd_alloc();
  uint32_t seq;
  {
    lock_guard lk(pd->lock);
    // A poller slow with an event it read before the last close may have
    // left kReady since netpoll_free: a spurious wake-up at most, cleared.
    pd->rg.store(kNil, std::memory_order_relaxed);
    pd->wg.store(kNil, std::memory_order_relaxed);
    pd->fd = fd;
    pd->closing = false;
    pd->rd = 0;
    pd->wd = 0;
    pd->info.store(0, std::memory_order_seq_cst);
    pd->read_tail.store(0, std::memory_order_relaxed);
    seq = pd->seq.load(std::memory_order_relaxed);
  }
  struct epoll_event ev {};
  // uring: the conn's reads are completions (netpoll_recv); readiness to
  // read would only wake their waiter for nothing.
  ev.events = g_uring && stream_conn ? EPOLLOUT | EPOLLET : EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  ev.data.u64 = tag(pd, seq);
  if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    *err = errno;
    {
      // Never registered (EEXIST: registered by another record, whose
      // registration a DEL would remove): closed without epoll_ctl.
      lock_guard lk(pd->lock);
      pd->closing = true;
      pd->seq.fetch_add(1, std::memory_order_relaxed);
      pd->info.fetch_or(kInfoClosing, std::memory_order_seq_cst);
    }
    netpoll_free(pd);
    return nullptr;
  }
  *err = 0;
  return pd;
}

void netpoll_close(poll_desc* pd) {
  g* rg;
  g* wg;
  bool registered;
  {
    lock_guard lk(pd->lock);
    registered = !pd->closing;
    pd->closing = true;
    // Events read by a poller from here on name an older seq: dropped.
    pd->seq.fetch_add(1, std::memory_order_relaxed);
    pd->info.fetch_or(kInfoClosing, std::memory_order_seq_cst);
    timer_del(&pd->rt);
    timer_del(&pd->wt);
    pd->rd = 0;
    pd->wd = 0;
    rg = unblock(pd, poll_mode::read, false);
    wg = unblock(pd, poll_mode::write, false);
    wake_threads_locked(pd);
  }
  // The fd is still open (the caller closes it after us).
  if (registered) {
    struct epoll_event ev {};
    (void)epoll_ctl(g_epfd, EPOLL_CTL_DEL, pd->fd, &ev);
  }
  if (rg != nullptr) ready(rg);
  if (wg != nullptr) ready(wg);
}

void netpoll_free(poll_desc* pd) {
  // A poller may still set a slot to kReady from an event it read before
  // the close (its seq matched then): clear it here, so the next user of
  // the record starts clean. A parked goroutine here is a runtime bug.
  GORO_CHECK(pd->rg.exchange(kNil) <= kReady && pd->wg.exchange(kNil) <= kReady);
  GORO_CHECK(pd->threads == nullptr);  // a waiting thread holds a reference
  pd_cache& c = cache();
  lock_guard lk(c.lock);
  pd->link = c.free;
  c.free = pd;
}

void netpoll_set_deadline(poll_desc* pd, poll_mode mode, int64_t deadline, std::atomic<int64_t>* mirror) {
  const bool read = mode == poll_mode::read;
  const uint32_t bit = read ? kInfoReadExpired : kInfoWriteExpired;
  g* gp = nullptr;
  {
    lock_guard lk(pd->lock);
    if (pd->closing) return;
    if (mirror != nullptr) mirror->store(deadline, std::memory_order_release);
    int64_t& d = read ? pd->rd : pd->wd;
    timer& t = read ? pd->rt : pd->wt;
    timer_del(&t);  // false if not pending or firing now: the fire checks d itself
    if (deadline == 0) {
      d = 0;
      pd->info.fetch_and(~bit, std::memory_order_seq_cst);
    } else if (deadline <= nanotime()) {
      d = -1;
      pd->info.fetch_or(bit, std::memory_order_seq_cst);
      gp = unblock(pd, mode, false);
    } else {
      d = deadline;
      pd->info.fetch_and(~bit, std::memory_order_seq_cst);
      t.when = deadline;
      timer_add(&t);
    }
    wake_threads_locked(pd);  // they wait with the old deadline as timeout
  }
  if (gp != nullptr) ready(gp);
}

poll_err netpoll_wait(poll_desc* pd, poll_mode mode) {
  if (poll_err e = check_err(pd, mode); e != poll_err::none) return e;
  while (!block(pd, mode)) {
    if (poll_err e = check_err(pd, mode); e != poll_err::none) return e;
    // Woken by a deadline that was moved again before we ran: wait on.
  }
  return poll_err::none;
}

// ---- plain threads' waits (top of this file) -------------------------------

namespace {

// How often a thread waiting without an eventfd (netpoll_wait_thread)
// looks at its record again for a close or a deadline change.
constexpr long kNoWakerPollNs = 10'000'000;

struct waker_pool {
  runtime_lock lock{lock_rank::leaf};
  thread_waker* free = nullptr;  // guarded by lock
};

waker_pool& wakers() {
  static waker_pool* p = new waker_pool();  // never destroyed: threads exit after main
  return *p;
}

// Gives the thread's waker back to the pool when the thread exits.
struct waker_holder {
  thread_waker* w = nullptr;
  ~waker_holder() {
    // In a forked child the pool is the parent's, and its lock may be held
    // for good by a thread fork() left behind: the runtime's locks end a
    // forked child that takes them, so a child's exit() did (test
    // Fork.ChildOfAWaitingThreadExitsWhileTheWakerPoolIsHeld).
    if (w == nullptr || in_forked_child()) return;
    waker_pool& p = wakers();
    lock_guard lk(p.lock);
    w->next = p.free;
    p.free = w;
  }
};

// The calling thread's waker, or null with *err set (eventfd failed: out
// of descriptors). Plain threads only (netpoll_wait_thread): a goroutine
// could resume on another worker with this thread's address in hand.
thread_waker* this_thread_waker(int* err) {
  thread_local waker_holder h;
  if (h.w != nullptr) return h.w;
  {
    waker_pool& p = wakers();
    lock_guard lk(p.lock);
    if (auto hook = test_hooks::waker_pool_locked.load(std::memory_order_relaxed)) hook();
    if (p.free != nullptr) {
      h.w = p.free;
      p.free = h.w->next;
      h.w->next = nullptr;
      return h.w;
    }
  }
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    *err = errno;
    return nullptr;
  }
  h.w = new thread_waker();
  h.w->efd = efd;
  return h.w;
}

bool closing_now(poll_desc* pd) {
  lock_guard lk(pd->lock);
  return pd->closing;
}

[[gnu::noinline]] int sys_ppoll2(struct pollfd* p, const struct timespec* ts) {
  int r = ppoll(p, 2, ts, nullptr);
  return r < 0 ? -errno : r;
}

}  // namespace

poll_err netpoll_wait_thread(poll_desc* pd, poll_mode mode, int64_t until, bool pd_deadlines, int* err) {
  // Plain threads only: they never migrate, so the thread_local waker
  // (this_thread_waker) stays this thread's across the wait.
  GORO_DCHECK(!in_goroutine());
  *err = 0;
  // A thread that cannot make its eventfd (out of descriptors: the
  // accept loop of a server at its limit, say) still waits, as in Go: with
  // a waker of its own that has none, looking at the record again at
  // least every kNoWakerPollNs instead of being woken by a close or a
  // deadline change. Not kept: the next wait tries for an eventfd again.
  thread_waker no_fd_waker;
  thread_waker* w = this_thread_waker(err);
  if (w == nullptr) {
    *err = 0;
    w = &no_fd_waker;
    test_hooks::thread_waits_without_eventfd.fetch_add(1, std::memory_order_relaxed);
  }
  const bool read = mode == poll_mode::read;
  {
    lock_guard lk(pd->lock);
    w->prev = nullptr;
    w->next = pd->threads;
    if (pd->threads != nullptr) pd->threads->prev = w;
    pd->threads = w;
  }
  poll_err result = poll_err::none;
  struct pollfd p[2] = {{pd->fd, static_cast<short>(read ? POLLIN : POLLOUT), 0}, {w->efd, POLLIN, 0}};
  for (;;) {
    int64_t d = 0;
    {
      // Listed before this check: a change made after it writes our eventfd.
      lock_guard lk(pd->lock);
      if (pd->closing) {
        result = poll_err::closing;
        break;
      }
      if (pd_deadlines) d = read ? pd->rd : pd->wd;
    }
    if (d < 0) {
      result = poll_err::timeout;
      break;
    }
    if (until != 0 && (d == 0 || until < d)) d = until;
    struct timespec ts {};
    struct timespec* tsp = nullptr;
    const int64_t now = d != 0 ? nanotime() : 0;
    if (w->efd < 0 && (d == 0 || d > now + kNoWakerPollNs)) {
      ts.tv_nsec = kNoWakerPollNs;  // a poll's round; no timeout when it ends
      tsp = &ts;
    } else if (d != 0) {
      int64_t left = d - now;
      if (left <= 0) {
        result = poll_err::timeout;
        break;
      }
      ts.tv_sec = static_cast<time_t>(left / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(left % 1'000'000'000);
      tsp = &ts;
    }
    p[0].revents = 0;
    p[1].revents = 0;
    if (auto* hook = test_hooks::thread_wait_before_ppoll.load(std::memory_order_relaxed)) hook();
    int r = sys_ppoll2(p, tsp);
    if (r < 0) {
      if (r == -EINTR) continue;
      if (closing_now(pd)) {
        result = poll_err::closing;
      } else {
        *err = -r;
      }
      break;
    }
    if (p[1].revents & POLLIN) {
      uint64_t buf;
      (void)!::read(w->efd, &buf, sizeof buf);  // EAGAIN: drained already
    }
    if (p[0].revents & POLLNVAL) {
      // The fd was closed under the wait: by close_fd (closing is set
      // before its close(2), which may come before this thread reached
      // ppoll; it used to answer EBADF then), or by someone who did not
      // unwatch it first.
      if (closing_now(pd)) {
        result = poll_err::closing;
      } else {
        *err = EBADF;
      }
      break;
    }
    if (p[0].revents != 0) break;  // ready, hung up or failed: the caller's retry says which
  }
  {
    lock_guard lk(pd->lock);
    if (w->prev != nullptr)
      w->prev->next = w->next;
    else
      pd->threads = w->next;
    if (w->next != nullptr) w->next->prev = w->prev;
    w->next = nullptr;
    w->prev = nullptr;
  }
  return result;
}

// ---- the scheduler's side --------------------------------------------------

int32_t netpoll_waiters() { return g_waiters.load(std::memory_order_relaxed); }

bool netpoll_blocked() { return g_blocked.load(std::memory_order_relaxed) > 0; }

int64_t netpoll_last_poll() { return g_last_poll.load(std::memory_order_relaxed); }

void netpoll_break() {
  if (!g_inited.load(std::memory_order_acquire)) return;
  race_acquire(&g_inited);
  uint32_t zero = 0;
  if (!g_break_pending.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) return;
  uint64_t one = 1;
  for (;;) {
    ssize_t w = write(g_breakfd, &one, sizeof one);
    if (w == sizeof one || (w < 0 && errno == EAGAIN)) return;  // EAGAIN: the counter is full, a wake-up is pending
    if (w < 0 && errno == EINTR) continue;
    fatal("runtime: netpoll: write to the eventfd failed (%s)", strerror(errno));
  }
}

#if GORO_HAVE_URING
namespace {

// Sends the queued receives to the kernel. blocked: +1 before a blocking
// epoll_wait (goroutines then submit their own), -1 after it. Returns
// whether the kernel left some unsubmitted (the block is then capped).
bool uring_flush(int blocked) {
  lock_guard lk(g_ring->sq_lock);
  g_ring->blocked_pollers += blocked;
  return blocked >= 0 && uring_submit_locked();
}

// Reaps the completion queue: each receive's result goes to its record and
// its goroutine, if parked, onto the list.
void uring_reap(g** head, g** tail, int32_t* n) {
  constexpr unsigned kBatch = 128;
  for (;;) {
    io_uring_cqe* cqes[kBatch];
    uint64_t data[kBatch];
    int32_t res[kBatch];
    unsigned cnt;
    {
      lock_guard lk(g_ring->cq_lock);
      cnt = io_uring_peek_batch_cqe(&g_ring->ring, cqes, kBatch);
      for (unsigned i = 0; i < cnt; i++) {
        data[i] = cqes[i]->user_data;
        res[i] = cqes[i]->res;
      }
      io_uring_cq_advance(&g_ring->ring, cnt);
    }
    if (cnt > 0) g_uring_completions.fetch_add(cnt, std::memory_order_relaxed);
    for (unsigned i = 0; i < cnt; i++) {
      if (data[i] == 0) continue;  // a cancel's own completion
      auto* pd = reinterpret_cast<poll_desc*>(data[i]);
      pd->ures.store(res[i], std::memory_order_relaxed);
      pd->udone.store(1, std::memory_order_seq_cst);  // before the slot: the waiter re-reads it after a wake
      if (g* gp = unblock(pd, poll_mode::read, true)) list_push(gp, head, tail, n);
    }
    if (cnt < kBatch) return;
  }
}

// Queues the cancel of pd's receive and submits it at once (nobody else
// may poll soon: the goroutine is the one that wants to be done).
void uring_cancel(poll_desc* pd) {
  bool wake = false;
  {
    lock_guard lk(g_ring->sq_lock);
    io_uring_sqe* sqe = uring_sqe_locked();
    io_uring_prep_cancel64(sqe, reinterpret_cast<uintptr_t>(pd), 0);
    io_uring_sqe_set_data64(sqe, 0);
    uring_submit_or_break_locked(&wake);
  }
  if (wake) netpoll_break();
}

std::atomic<int64_t> g_last_epoll{0};  // a hint: when a uring netpoll(0) last ran epoll_wait

}  // namespace
#endif

bool netpoll_uring() { return g_uring; }

long netpoll_recv(poll_desc* pd, void* buf, size_t n, poll_err* perr) {
  *perr = check_err(pd, poll_mode::read);
  if (*perr != poll_err::none) return 0;
#if GORO_HAVE_URING
  if (n > (size_t{1} << 30)) n = size_t{1} << 30;  // the result is an int32
  pd->udone.store(0, std::memory_order_seq_cst);
  bool wake = false;
  {
    lock_guard lk(g_ring->sq_lock);
    io_uring_sqe* sqe = uring_sqe_locked();
    io_uring_prep_recv(sqe, pd->fd, buf, n, 0);
    io_uring_sqe_set_data64(sqe, reinterpret_cast<uintptr_t>(pd));
    if (g_ring->blocked_pollers > 0) uring_submit_or_break_locked(&wake);
  }
  if (wake) netpoll_break();
  bool cancelled = false;
  while (pd->udone.load(std::memory_order_seq_cst) == 0) {
    if (!cancelled) {
      if (poll_err e = check_err(pd, poll_mode::read); e != poll_err::none) {
        *perr = e;
        uring_cancel(pd);
        cancelled = true;
      }
    }
    (void)block(pd, poll_mode::read, true);
  }
  int32_t r = pd->ures.load(std::memory_order_relaxed);
  if (cancelled && r == -ECANCELED) return 0;
  *perr = poll_err::none;  // completed before the cancel: its result stands
  return r;
#else
  (void)buf;
  (void)n;
  fatal("runtime: netpoll: netpoll_recv without io_uring");
#endif
}

g* netpoll(int64_t until_ns, int32_t* n) {
  *n = 0;
  if (!g_inited.load(std::memory_order_acquire)) return nullptr;
  race_acquire(&g_inited);
  g* head = nullptr;
  g* tail = nullptr;
  // Only a poll that may block drains the break eventfd (as Go's): the
  // break is for the M blocked in epoll_wait, and a non-blocking poll on
  // another M that drained it would leave that M asleep (the write woke
  // it, but the level it was woken for is gone, so epoll_wait sleeps on).
  // A non-blocking poll sees the eventfd and leaves it.
  const bool may_block = until_ns != 0;
  bool skip_epoll = false;
#if GORO_HAVE_URING
  if (g_uring) {
    // Submit what goroutines queued; from here until the -1, goroutines
    // submit their own (this M may block).
    // Requests the kernel would not take yet (no memory for them): block
    // a millisecond at most, then flush again; nobody else would.
    if (uring_flush(may_block ? 1 : 0) && may_block) {
      int64_t soon = nanotime() + 1'000'000;
      if (until_ns > soon) until_ns = soon;
    }
    uring_reap(&head, &tail, n);
    if (*n > 0) {
      // Goroutines to run: no blocking. Epoll (accepts, writes, the break)
      // is looked at too, but a busy non-blocking poller skips it for up
      // to a millisecond: the completions are what the requests wait for.
      until_ns = 0;
      int64_t now = nanotime();
      if (!may_block && now - g_last_epoll.load(std::memory_order_relaxed) < 1'000'000) skip_epoll = true;
      else g_last_epoll.store(now, std::memory_order_relaxed);
    }
  }
#endif
  constexpr int kEvents = 128;
  struct epoll_event evs[kEvents];
  int cnt = 0;
  if (skip_epoll) {
    cnt = 0;
  } else if (until_ns == 0) {
    cnt = epoll_wait(g_epfd, evs, kEvents, 0);
  } else {
    g_blocked.fetch_add(1, std::memory_order_seq_cst);
    if (until_ns == INT64_MAX) {
      cnt = epoll_wait(g_epfd, evs, kEvents, -1);
    } else {
      int64_t left = until_ns - nanotime();
      if (left < 0) left = 0;
      struct timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
      cnt = epoll_pwait2(g_epfd, evs, kEvents, &ts, nullptr);
      if (cnt < 0 && errno == ENOSYS)  // before Linux 5.11: milliseconds, rounded up
        cnt = epoll_wait(g_epfd, evs, kEvents, static_cast<int>(std::min<int64_t>((left + 999'999) / 1'000'000, INT32_MAX)));
    }
    g_blocked.fetch_sub(1, std::memory_order_seq_cst);
  }
  g_last_poll.store(nanotime(), std::memory_order_relaxed);
  if (cnt < 0) {
    if (errno != EINTR) fatal("runtime: netpoll: epoll_wait failed (%s)", strerror(errno));
    cnt = 0;  // a signal (or io_uring's task work): what was reaped still counts
  }
  for (int i = 0; i < cnt; i++) {
    uint64_t data = evs[i].data.u64;
    if (data == 0) {
      if (may_block) {
        uint64_t buf;
        ssize_t r = read(g_breakfd, &buf, sizeof buf);
        (void)r;  // EAGAIN: another poller drained it
        g_break_pending.store(0, std::memory_order_seq_cst);
      }
      continue;
    }
    if (data == kRingTag) continue;  // reaped below
    auto* pd = reinterpret_cast<poll_desc*>(data & kPtrMask);
    if (static_cast<uint32_t>(data >> kTagShift) != (pd->seq.load(std::memory_order_relaxed) & 0xffffu)) continue;
    uint32_t e = evs[i].events;
    // Before the slot is touched: the goroutine it wakes (or that takes
    // the kReady) must see it (netpoll_short_read_drains).
    if ((e & (EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && pd->read_tail.load(std::memory_order_relaxed) == 0)
      pd->read_tail.store(1, std::memory_order_release);
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI))
      if (g* gp = unblock(pd, poll_mode::read, true)) list_push(gp, &head, &tail, n);
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
      if (g* gp = unblock(pd, poll_mode::write, true)) list_push(gp, &head, &tail, n);
  }
#if GORO_HAVE_URING
  if (g_uring) {
    if (may_block) uring_flush(-1);
    if (!skip_epoll) uring_reap(&head, &tail, n);
  }
#endif
  if (*n > 0) (until_ns == 0 ? g_readied_nonblocking : g_readied_blocking).fetch_add(static_cast<uint64_t>(*n), std::memory_order_relaxed);
  return head;
}

void netpoll_count_monitor(int32_t n) { g_readied_by_monitor.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed); }

netpoll_stats netpoll_stats_read() {
  netpoll_stats s;
  s.readied_blocking = g_readied_blocking.load(std::memory_order_relaxed);
  s.readied_nonblocking = g_readied_nonblocking.load(std::memory_order_relaxed);
  s.readied_by_monitor = g_readied_by_monitor.load(std::memory_order_relaxed);
  s.uring = g_inited.load(std::memory_order_acquire) && g_uring;  // g_uring is written before g_inited
  s.uring_completions = g_uring_completions.load(std::memory_order_relaxed);
  return s;
}

}  // namespace goro::detail
