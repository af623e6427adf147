// Runtime timers: per-P 4-ary min-heaps of deadlines (Go's runtime/time.go).
//
// A timer is added to the heap of the P of the worker that adds it (a
// plain thread uses P 0's heap). Expired timers are run by whichever worker
// looks first: the P's owner at each scheduling round, a worker that steals
// (it checks every P's earliest deadline), or the idle worker that sleeps
// with the earliest deadline of all as its futex timeout (sched/proc.cpp).
// So a timer fires on time even when its P is idle or busy.
//
// Two kinds of heap entry:
//  - a timer (timer_add): runs t->fn(t, now) at t->when and can be cancelled
//    (timer_del), so the heap and the queues keep t->heap_index up to date;
//  - a sleeping goroutine (sleep_add): readies the g at its deadline and
//    cannot be cancelled, so the entry is all there is: no timer record is
//    written when it is armed, moved in the heap or fired. A sleep then
//    touches the goroutine's record only to ready it; with an index to
//    maintain, every sift wrote into the record of each timer it moved, a
//    cache miss apiece once 100,000 goroutines sleep.
//
// Deletion is lazy (timers.cpp): timer_del leaves a dead entry (ref 0) in
// the heap, dropped when it reaches the top or by a compaction.
//
// Invariants:
//  - t->heap_index says where the timer's live entry is while it is
//    pending: >= 0, its index in owner->timers.heap; <= -2, its in-order
//    queue and place there (timer_heap::queues, queue_code below); -1 when
//    it is not pending. Both are guarded by the owner heap's lock. A dead
//    entry names no timer: the record may be freed or added again at once.
//  - `dead` counts the dead entries of the heap, each queue's `dead` its
//    own; 2 * dead <= size after each timer_del (it compacts), and a heap
//    or queue with only dead entries is emptied.
//  - The P's `timer0_when` atomic is the heap's (and queues') earliest
//    deadline, dead entries included, or INT64_MAX when no live entry is
//    left, so that others can look without the lock. It is never later
//    than the earliest live deadline: a dead entry only makes a worker
//    look early.
//  - fn runs on a worker's scheduler stack with no runtime lock held and
//    with the worker holding a P; it must not block. It may call ready().
//    With kTimerReaped as `now` (below, "Zombies") it runs on any thread
//    (sysmon's, or the deadlock check's), with no lock held and no P.
//  - A zombie (lf kLfZombie) is a live entry whose user deleted it
//    lock-free; `zombies` is the number of zombie entries on the heap: a
//    deletion counts one up, and whoever consumes the zombie state (a
//    timer_lf_disarm that finds it, a reaper's claim) counts one down. It
//    is off only between a deletion's CAS and its count, when a consumer
//    in that instant may take it to -1.
//
// Lock order: a P's timer lock ranks `timers` (base/lock.hpp): it may be
// taken under a channel lock, never the other way round. timer_lf_del
// takes no lock; a reaper takes one P's timer lock at a time, alone.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/lock.hpp"

namespace goro::detail {

struct p;

struct timer {
  int64_t when = 0;                // deadline, nanotime() clock
  // What to do at `when`; `now` is the clock read that found it due
  // (now >= when).
  void (*fn)(timer*, int64_t now) = nullptr;
  void* arg = nullptr;             // for fn's use
  // Internal: guarded by owner's timer lock.
  p* owner = nullptr;
  int32_t heap_index = -1;
  // Lock-free deletion (below, "Zombies"): the kLf* state in the low two
  // bits, the owner P's id above them.
  std::atomic<uint32_t> lf{0};
};

// Zombies: lock-free deletion, for the common Stop (time/gotimer.hpp).
//
// Its user may declare a pending timer deletable without locks
// (timer_lf_arm). A timer_lf_del then turns it into a zombie with one CAS:
// its heap entry stays, untouched, and the P's `zombies` count goes up.
// The entry is dropped later by whoever meets it first:
//  - a pop at its deadline: fn runs as for any entry (the user sees that
//    it deleted the timer, and treats the fire as stale);
//  - the user itself, which takes the state back with timer_lf_disarm
//    before any other change to the timer and then deletes the entry with
//    timer_del (under its own serialization, as ever);
//  - a reaper (timers_reap: sysmon, when a P's zombies may be half its
//    heap or more; the deadlock check and stats, all of them), which claims each zombie
//    entry it meets with a CAS kLfZombie -> kLfReaped under the heap lock,
//    marks it dead, and then calls fn(t, kTimerReaped) with no lock held:
//    that call hands the entry back (the user drops what it counted for
//    it) and must not fire anything.
// So a zombie's entry is dropped exactly once: by the pop, by timer_del
// (heap_index still not -1) or by the reaper's successful CAS, all three
// under the heap lock, each of which leaves heap_index == -1 for the
// others. The `zombies` count is exact (above), so a reap may stop
// anywhere and leave the rest counted: it scans kReapChunk entries per
// lock hold (a reap of a million stopped timers held the lock for 66 ms,
// stalling every timer of that P), and sysmon's scans a few chunks per
// round, resuming where it stopped (`reap_next`). Reaps start only when
// zombies are half the heap or more, so they cost O(1) amortized per
// deletion.
enum : uint32_t { kLfNone = 0, kLfArmed = 1, kLfZombie = 2, kLfReaped = 3 };
// fn's `now` for an entry a reaper dropped (a zombie's).
constexpr int64_t kTimerReaped = INT64_MIN;

struct g;

// A heap entry carries its deadline beside what it fires (as Go's
// timerWhen does), so sifting compares entries of one contiguous array
// instead of chasing every timer into a different cache line. `ref` is a
// timer* or, with its low bit set, the g* of a sleeping goroutine (both
// are at least 8-byte aligned).
struct timer_entry {
  int64_t when;
  uintptr_t ref;
};

// The heap's array. Not a std::vector: growing a vector copies every entry
// into a fresh allocation whose pages then fault in one by one, and with a
// million pending timers (16 MiB) that memmove and its faults were an
// eighth of toolkit/timer_add. This array grows with realloc, which for a
// large block (glibc: an mmapped chunk) moves the pages with mremap instead
// of copying them. (Not advised MADV_HUGEPAGE: advising part of the block
// splits its mapping, and mremap then fails with EFAULT, so glibc falls
// back to copying.) timer_entry is trivially copyable, so realloc's
// bitwise move is the entries' move.
// Not thread-safe: guarded by the heap's lock, as the vector was.
class entry_array {
 public:
  entry_array() = default;
  entry_array(const entry_array&) = delete;
  entry_array& operator=(const entry_array&) = delete;
  ~entry_array();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }
  timer_entry& operator[](size_t i) { return data_[i]; }
  const timer_entry& operator[](size_t i) const { return data_[i]; }
  void push_back(timer_entry e) {
    if (size_ == cap_) grow();
    data_[size_++] = e;
  }
  void pop_back() { size_--; }
  void clear() { size_ = 0; }
  void shrink(size_t n) { size_ = n; }  // n <= size()
  // Gives the memory back: the capacity becomes max(size(), keep).
  void shrink_to(size_t keep);
  void release();  // empties the array and frees its memory

 private:
  void grow();
  void set_capacity(size_t cap);
  timer_entry* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

// An in-order queue's array: a ring of timer_entry indexed by sequence
// numbers. Entry `seq` lives at slot seq & (capacity - 1) for as long as it
// is queued, through growth too (growing moves the entries whose slot
// changes into the new half), so that a timer can find its entry again from
// the low bits of its sequence number kept in heap_index (queue_code). The
// capacity is 0 or a power of two, at most kMaxQueued.
// Not thread-safe: guarded by the heap's lock.
class entry_ring {
 public:
  static constexpr uint64_t kMaxQueued = uint64_t{1} << 28;

  entry_ring() = default;
  entry_ring(const entry_ring&) = delete;
  entry_ring& operator=(const entry_ring&) = delete;
  ~entry_ring();

  size_t size() const { return static_cast<size_t>(tail_ - head_); }
  bool empty() const { return head_ == tail_; }
  size_t capacity() const { return cap_; }
  uint64_t head_seq() const { return head_; }
  uint64_t tail_seq() const { return tail_; }  // the next push's sequence number
  // The queued entry with sequence number seq, or with any number of the
  // same low 28 bits (the capacity divides 2^28), as queue_code keeps.
  timer_entry& at(uint64_t seq) { return data_[seq & (cap_ - 1)]; }
  timer_entry& front() { return at(head_); }
  timer_entry& back() { return at(tail_ - 1); }
  // Appends e; returns its sequence number. Throws std::bad_alloc.
  uint64_t push_back(timer_entry e) {
    if (size() == cap_) grow();
    at(tail_) = e;
    return tail_++;
  }
  void pop_front() { head_++; }
  // Drops the entries from sequence number `seq` on (seq >= head_seq()).
  void truncate(uint64_t seq) { tail_ = seq; }
  void clear() { head_ = tail_; }
  void release();  // empties the ring and frees its memory

 private:
  void grow();
  timer_entry* data_ = nullptr;
  size_t cap_ = 0;
  uint64_t head_ = 0;
  uint64_t tail_ = 0;
};

// One in-order queue: deadlines nondecreasing from head to tail, dead
// entries included.
struct timer_queue {
  entry_ring ring;
  size_t dead = 0;  // dead entries in `ring`
};

// In-order queues per P. Four: deadlines of a few durations interleaved
// (a server's read, write and idle deadlines; after_funcs added while a
// million stopped 1-hour timers still wait to be reaped) each keep a queue.
constexpr int kTimerQueues = 4;

// A P's timers: a 4-ary min-heap, plus in-order queues for the common case
// of deadlines arriving in order (goroutines sleeping for the same
// duration, a loop of sleeps, timers and after_funcs of one duration, a
// deadline per request): an entry goes to the queue whose last deadline is
// the latest not after its own (patience sorting's rule, which keeps the
// interleaved runs apart), else to an empty queue, else to the heap; the
// next due entry is the earliest of the heap's top and the queues' heads.
// Queued entries cost O(1) to arm and to fire instead of a sift through
// log4(n) levels each way (about 400 instructions per sleep with 10,000
// sleepers; for 100,000 after_funcs of 10 ms, the sifts were a sixth of
// the firing P's time and kept the heap's lock held long enough that the
// goroutine adding timers slept on it hundreds of times). A timer's queue
// entry is deleted in place (dead, as in the heap) and found again by its
// queue and sequence number.
struct timer_heap {
  runtime_lock lock{lock_rank::timers};
  entry_array heap;  // guarded by lock; 4-ary min-heap on `when`
  size_t dead = 0;                 // guarded by lock: dead entries in `heap`
  timer_queue queues[kTimerQueues];  // guarded by lock
  // Zombies (above): the zombie entries on the heap, and the count the
  // last look found too few to reap for (sysmon's, so that it takes the
  // lock again only when the count moved). Relaxed: they order nothing.
  std::atomic<int32_t> zombies{0};
  std::atomic<int32_t> zombies_seen{0};
  // Where a reap cut short resumes (0: none under way): an index into the
  // heap's entries followed by the queue's. Written under lock; read
  // without it by sysmon's look (relaxed: a hint).
  std::atomic<size_t> reap_next{0};
};

// t->heap_index for an entry in queue q with sequence number seq: -2 minus
// (the low 28 bits of seq, which name its slot as long as it is queued
// (entry_ring: the capacity divides 2^28), times 4, plus q).
static_assert(kTimerQueues == 4, "queue_code keeps the queue in two bits");
inline int32_t queue_code(int q, uint64_t seq) {
  return -2 - static_cast<int32_t>(((seq & (entry_ring::kMaxQueued - 1)) << 2) | static_cast<uint64_t>(q));
}
inline bool in_queue(int32_t heap_index) { return heap_index <= -2; }
inline int queue_of(int32_t heap_index) { return static_cast<int>(static_cast<uint32_t>(-2 - heap_index) & 3); }
inline uint64_t queue_seq_bits(int32_t heap_index) { return static_cast<uint64_t>(-2 - heap_index) >> 2; }

// Schedules t to fire at t->when. t must not be pending. Callable from
// goroutines, plain threads and the scheduler.
void timer_add(timer* t);

// timer_add, and then timer_lf_arm before any worker can pop the entry
// (under the heap's lock): for a record nobody else knows of yet, which
// its maker need not lock (gotimer.cpp, timer_new_chan).
void timer_add_lf_armed(timer* t);

// Readies gp (parked, or about to be: see sleep.cpp) at `when`, without a
// timer record. Cannot be cancelled. Callable as timer_add.
void sleep_add(g* gp, int64_t when);

// Unschedules t. Returns true if t was pending and now will not fire;
// false if it already fired (or is firing right now on another worker:
// the caller must then not free t until fn is known to be done).
bool timer_del(timer* t);

// Lets the timer be deleted lock-free (a zombie made) until
// timer_lf_disarm. t is pending (timer_add'ed and its entry not yet
// dropped), and the caller serializes t as for timer_add and timer_del.
void timer_lf_arm(timer* t);

// Deletes t lock-free if it is lock-free deletable: true if it was, and it
// is now a zombie (fn will still be called once for its entry, at its
// deadline or with kTimerReaped). Callable by anyone that keeps t alive.
bool timer_lf_del(timer* t);

// Ends lock-free deletion: returns the state it ended (kLfNone if it was
// not armed, kLfArmed if not deleted, kLfZombie or kLfReaped if deleted;
// then the entry is the zombie's, which timer_del drops unless a pop or a
// reaper did). Same caller as timer_lf_arm.
uint32_t timer_lf_disarm(timer* t);

// Drops pp's zombie entries, then calls fn(t, kTimerReaped) for each, with
// no lock held: if `all`, every one; else only if they may be at least
// half the heap (and more came, or the heap shrank, since the last look).
// Callers hold no lock.
void timers_reap(p* pp, bool all);
void timers_reap_all(bool all);

// Runs every timer of pp whose deadline is <= now. Returns the number run.
// Called by the scheduler with a P held.
int timers_run(p* pp, int64_t now);

// Earliest pending deadline over all Ps, INT64_MAX if none.
int64_t timers_next_when();

// For the deadlock check (sched/deadlock.cpp), with no lock held: whether a
// pending timer may still wake a goroutine. Go 1.23's rule: a channel
// timer (a goro::timer or ticker's, an after() channel's) that no
// goroutine or thread is blocked receiving on wakes nobody when it fires
// (Go keeps such a timer off the heap altogether), so a program whose
// every goroutine is asleep beside an unread ticker is deadlocked. Any
// other pending timer (a sleep, an after_func, a context's or a
// descriptor's deadline) may. Walks every P's timers, each heap under its
// lock, and then looks at each channel timer's receivers under the
// channel's lock. Conservative (true) when out of memory.
bool timers_may_wake();

// The channel timers' halves of timers_may_wake, by kind
// (time/gotimer.cpp, chan/after.cpp). *_retain: if t is a channel timer of
// that kind, takes a reference to what keeps it (t is pending: the heap
// lock is held) and returns true. *_waited: whether a receiver is parked
// on its channel (no lock held; takes the channel's).
// *_release: drops that reference (may free t).
bool gotimer_chan_retain(timer* t) noexcept;
bool gotimer_chan_waited(timer* t) noexcept;
void gotimer_chan_release(timer* t) noexcept;
bool after_timer_retain(timer* t) noexcept;
bool after_timer_waited(timer* t) noexcept;
void after_timer_release(timer* t) noexcept;

}  // namespace goro::detail
