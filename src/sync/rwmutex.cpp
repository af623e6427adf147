// goro::rwmutex: Go's sync.RWMutex algorithm (sync/rwmutex.go: writers
// queue on an inner mutex, then a pending writer stops new readers and
// waits for the ones that were in) on the runtime's semaphore
// (sync/sema.hpp), with timed locks for writers and readers.
//
// Go keeps two counters, readerCount and readerWait. With timed locks that
// is not enough: a departing reader updates them one after the other, so a
// writer that gives up cannot tell how many departures are still on their
// way to readerWait; and a reader that gives up cannot tell whether the
// writer it queued behind has already counted it in (and released its
// semaphore unit), since another writer may have announced itself since.
// So everything a decision depends on lives in one 64-bit word, state_,
// and every decision below is one atomic step on it:
//
//   bits  0-20  R  readers: holding the read lock, granted it, or queued
//   bits 21-41  G  grants: read locks a writer's unlock (or withdrawal)
//                  gave to queued readers, not yet taken
//   bit  42     W  a writer is pending or holds the lock
//   bits 43-63  N  while W is set, the readers the writer still waits for.
//                  Every departure decrements it, W or not: without W it
//                  means nothing, and at the top of the word it wraps
//                  without touching the other fields.
//
// Readers are interchangeable here: only counts matter. Call a reader a
// holder from the moment it has the read lock until unlock_shared, granted
// while it is counted in G, queued otherwise (it arrived while W was set,
// after the last grants were made).
//
// Invariants:
//  I1. R = holders + G + queued.
//  I2. queued = 0 while W is clear: restore() (a writer's unlock or
//      withdrawal) turns every queued reader into a grant in the step that
//      clears W, and a reader that arrives with W clear is a holder.
//  I3. While W is set, N = holders + G (hence queued = R - N). The writer's
//      announcement sets N = R (I2: nobody is queued then); a departure
//      takes one from both sides, taking a grant moves one from G to the
//      holders, arrivals and withdrawals of queued readers leave N alone.
//  I4. The writer holds the lock once N reaches 0 with W set. The
//      departure that takes N from 1 to 0 posts writer_sem_ once; the
//      writer consumes that post (in lock, or in its withdrawal when it
//      finds N = 0). So writer_sem_ is 0 whenever no writer is pending.
//  I5. Units on reader_sem_ (stored, being released, or taken by a reader
//      that has not looked at G yet) >= G. They are wake-up hints only: a
//      reader enters by taking a grant from G, never by taking a unit.
//      restore() adds q grants and then releases q units; a reader that
//      takes a grant without a unit (it found one before sleeping) takes a
//      stored unit if there is one; a woken reader that finds G = 0 sleeps
//      again. So a sleeping reader with G > 0 has a unit coming (no lost
//      wake-up), and a stray unit costs a spurious wake-up, never an entry
//      past a writer.
//
// Race outcomes:
//  - A writer times out waiting for w_: it never announced; nothing to undo.
//  - A writer times out on writer_sem_ while the last reader it waits for
//    leaves: both are atomic steps on state_. Reader first: its fetch_sub
//    sees W with N = 1 and posts; the writer's withdrawal CAS then fails,
//    rereads N = 0, takes the post and keeps the lock (returns true: a lock
//    obtained at the deadline is kept, as goro::mutex does). Writer first:
//    its CAS clears W; the reader's fetch_sub sees no W and posts nothing.
//    Exactly one of the two happens.
//  - A writer withdraws with readers queued behind it: in the same CAS that
//    clears W they become grants (q = R - N), then it releases q units and
//    w_. Holders and older grants stay as they are (they are not queued).
//  - A reader times out on reader_sem_ (the semaphore's timer unlinked it;
//    it took no unit) while a writer restores: both are steps on state_.
//    If G > 0 it takes a grant and returns true, holding the read lock; if
//    G = 0 it is queued (I1), so W is set (I2), and it withdraws, R - 1, in
//    a CAS that fails if a restore came first. A grant it takes may have
//    been made for another reader: that one is then the queued one, counted
//    by the next restore. A grant is never left behind (only a reader
//    taking it removes it), and no reader is left sleeping with G > 0 (I5).
//
// Reader slots (Go has none; measured: docs/benchmarks.md). Counting every
// reader in state_ makes each read lock and unlock an atomic on one shared
// cache line, which two cores then pass back and forth. So a reader that
// finds W clear first tries to enter through a slot: a process-wide table
// of kSlotLines cache lines of kSlotsPerLine pointers, a line per thread
// (round robin), where it CASes an empty slot to the rwmutex's address.
// Its own line stays in its core's cache; state_ is only read, so it stays
// shared. Call a reader in through a slot a slot holder, its slot its
// entry; the readers counted in state_ are counted holders.
//  S1. Entries + counted holders = holders. Readers are interchangeable, so
//      a departing reader removes any entry of this rwmutex it finds in its
//      own line, else departs counted (R - 1, N - 1) if a counted holder
//      remains (counted_holders() > 0), else finds an entry in another line
//      (one must exist, by S1; it retries while entries move).
//  S2. A writer announces W (seq_cst) and then scans every slot (seq_cst);
//      a slot reader CASes its entry (seq_cst) and then reads state_. So
//      either the writer sees the entry or the reader sees W (Dekker). The
//      writer converts each entry it sees into a counted holder: it CASes
//      the slot to a marker (address | 1), adds the k entries to R and N in
//      one step, then clears its markers. A departing reader that finds a
//      marker of this rwmutex waits for it to clear (the conversion is in
//      flight) instead of calling its departure a misuse.
//  S3. A slot reader that sees W takes its entry back and queues counted;
//      if the entry is gone (converted, or taken by a departing reader by
//      S1), it is a holder: someone's unit stands for it.
//  S4. The conversion keeps I4: if the readers counted at the announcement
//      all left before the k were added (N went 1 -> 0: one post), the
//      writer takes that post at once; then N = holders + G as before.
// A writer's try_lock fails fast when any entry of this rwmutex is in the
// table; one that converts entries after all withdraws (withdraw_writer).
// Nested read locks, or more readers than a line holds, go counted.
//
// Capacity: R is 21 bits; arrivals beyond kMaxReaders are fatal, well
// before the field could carry into G (2^16 arrivals to spare).
//
// Misuse, fatal as in Go: unlock_shared with R = 0, or with W set and
// N = 0 (a writer holds the lock); unlock with W clear.
//
// TSan (Go's race annotations): readers acquire what the last writer
// released (reader_sem_); a writer acquires what every reader before it
// released (writer_sem_) and what the last writer released. Readers are
// not ordered with each other, so races between two readers that both
// write are still reported: the reader fast path lives here, in the
// uninstrumented runtime, for that reason. A lock that times out acquires
// nothing.
//
// Lock-order check (sync/lock_order.hpp): the public operations go through
// the detector while it is on, on the rwmutex's own address; the inner
// writer mutex w_ is taken with its raw operations, so it is never a node
// of its own.
//
// Lock order: w_ (a goro::mutex) before the semaphores' bucket locks,
// which are never held across anything here.
#include "goro/rwmutex.hpp"

#include "base/check.hpp"
#include "base/lock.hpp"
#include "base/race.hpp"
#include "sync/lock_order.hpp"
#include "sync/sema.hpp"

// The calling thread's line, assigned on first use. Read only where no
// park can come between the read and the use (a goroutine may resume on
// another thread); even a line not the thread's own would be correct, only
// slower, since any entry serves any reader (S1). Plain C-linkage TLS,
// initial-exec, as the runtime's other hot thread-locals
// (sched/current.cpp): the header's inline read path names it in asm
// (detail::rw_thread_line), and in the position-independent library a
// plain thread_local would be read through a call to __tls_get_addr.
extern "C" {
__attribute__((visibility("default"), tls_model("initial-exec"))) __thread goro::detail::rw_slot_line*
    goro_rw_thread_line = nullptr;
}

namespace goro {

namespace detail {
#if !defined(__x86_64__)
__attribute__((noinline)) rw_slot_line* rw_thread_line() noexcept {
  asm volatile("" ::: "memory");
  return goro_rw_thread_line;
}
#endif
}  // namespace detail

namespace {

constexpr int kFieldBits = 21;
constexpr uint64_t kFieldMask = (uint64_t{1} << kFieldBits) - 1;
constexpr uint64_t kReader = 1;                         // one in R
constexpr int kGrantShift = kFieldBits;                 // G
constexpr uint64_t kGrant = uint64_t{1} << kGrantShift;
constexpr uint64_t kWriter = uint64_t{1} << (2 * kFieldBits);  // W
constexpr int kWaitShift = 2 * kFieldBits + 1;          // N, the top field
constexpr uint64_t kWait = uint64_t{1} << kWaitShift;
constexpr uint64_t kWaitMask = ~uint64_t{0} << kWaitShift;
static_assert(kWaitShift + kFieldBits == 64, "N is the top field, so its wrap-around touches nothing");
constexpr uint32_t kMaxReaders = (uint32_t{1} << kFieldBits) - (uint32_t{1} << 16);
constexpr int64_t kNoDeadline = INT64_MAX;

static_assert(kWriter == detail::rw_writer_bit, "the header's inline read path tests W");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "readers take the lock with one atomic addition");

// The reader slots (S1-S4 above). 8 lines: a line per worker thread on
// machines of up to 8 cores; threads beyond share lines (correct, slower).
// The header's inline paths use the thread's line (goro_rw_thread_line,
// above) once assign_line has set it, and only its first slot.
constexpr int kSlotLines = 8;
constexpr int kSlotsPerLine = 8;
using slot_line = detail::rw_slot_line;
static_assert(sizeof(slot_line::slot) / sizeof(slot_line::slot[0]) == kSlotsPerLine);
constinit slot_line g_slots[kSlotLines] = {};
std::atomic<uint32_t> g_next_line{0};

[[gnu::noinline]] slot_line& assign_line() {
  slot_line* line = &g_slots[g_next_line.fetch_add(1, std::memory_order_relaxed) % kSlotLines];
  goro_rw_thread_line = line;
  return *line;
}

inline slot_line& my_line() {
  slot_line* line = goro_rw_thread_line;
  return line != nullptr ? *line : assign_line();
}

constexpr uintptr_t kConverting = 1;  // marker bit: a writer is converting this entry

uint32_t readers(uint64_t s) { return static_cast<uint32_t>(s & kFieldMask); }
uint32_t grants(uint64_t s) { return static_cast<uint32_t>((s >> kGrantShift) & kFieldMask); }
bool writer(uint64_t s) { return (s & kWriter) != 0; }
uint32_t waits(uint64_t s) { return static_cast<uint32_t>(s >> kWaitShift); }

// A reader that arrived at state s entered at once: no writer, R below
// the limit (one comparison: W is above R's bits).
bool entered(uint64_t s) { return (s & (kWriter | kFieldMask)) < kMaxReaders; }

[[noreturn]] void too_many_readers() { detail::fatal_exit(2, "sync: too many RWMutex readers"); }

// Readers counted in state_ that hold the read lock (I1-I3): N - G while a
// writer is pending, else R - G (nobody is queued then, I2).
uint32_t counted_holders(uint64_t s) { return writer(s) ? waits(s) - grants(s) : readers(s) - grants(s); }

[[noreturn]] void unlock_of_unlocked() { detail::fatal_exit(2, "sync: RUnlock of unlocked RWMutex"); }

}  // namespace

// ---- readers ----

// A reader's way in through a slot (S2, S3). True: it holds the read lock.
bool rwmutex::enter_slot() {
  if (writer(state_.load(std::memory_order_relaxed))) return false;
  const uintptr_t self = reinterpret_cast<uintptr_t>(this);
  slot_line& line = my_line();
  for (auto& slot : line.slot) {
    if (slot.load(std::memory_order_relaxed) != 0) continue;
    uintptr_t empty = 0;
    if (!slot.compare_exchange_strong(empty, self, std::memory_order_seq_cst, std::memory_order_relaxed)) continue;
    // seq_cst: S2's Dekker pairing. The load also acquires the last
    // writer's restore (state_'s release sequence): this reader sees its
    // writes.
    if (!writer(state_.load(std::memory_order_seq_cst))) return true;
    uintptr_t mine = self;
    if (slot.compare_exchange_strong(mine, 0, std::memory_order_relaxed)) return false;  // back out: queue counted
    return true;  // the entry was taken: another unit stands for this reader (S3)
  }
  return false;  // the line is full: go counted
}

// A departing reader's exit through a slot of its own line. True: done.
bool rwmutex::leave_slot() {
  const uintptr_t self = reinterpret_cast<uintptr_t>(this);
  slot_line& line = my_line();
  for (auto& slot : line.slot) {
    uintptr_t v = self;
    // release: this reader's accesses happen before a writer whose scan
    // then finds the slot empty.
    if (slot.load(std::memory_order_relaxed) == self &&
        slot.compare_exchange_strong(v, 0, std::memory_order_release, std::memory_order_relaxed))
      return true;
  }
  return false;
}

// Every line, for a departing reader that found no entry in its own line
// and no counted holder (S1). Returns 1 if it removed an entry, 0 if it
// found none, -1 if a writer is converting an entry of this rwmutex.
int rwmutex::leave_any_slot() {
  const uintptr_t self = reinterpret_cast<uintptr_t>(this);
  bool converting = false;
  for (auto& line : g_slots) {
    for (auto& slot : line.slot) {
      uintptr_t v = slot.load(std::memory_order_relaxed);
      if (v == (self | kConverting)) converting = true;
      if (v == self && slot.compare_exchange_strong(v, 0, std::memory_order_release, std::memory_order_relaxed))
        return 1;
    }
  }
  return converting ? -1 : 0;
}

// A writer that has announced W converts every entry of this rwmutex into
// a counted holder (S2, S4). `announced` is state_ before the announcement.
// Returns the number converted.
uint32_t rwmutex::convert_slots(uint64_t announced) {
  const uintptr_t self = reinterpret_cast<uintptr_t>(this);
  std::atomic<uintptr_t>* marked[kSlotLines * kSlotsPerLine];
  uint32_t k = 0;
  for (auto& line : g_slots) {
    for (auto& slot : line.slot) {
      uintptr_t v = self;
      // seq_cst: S2's Dekker pairing; acquire: the entry's reader may have
      // left through it already (a release).
      if (slot.load(std::memory_order_seq_cst) == self &&
          slot.compare_exchange_strong(v, self | kConverting, std::memory_order_seq_cst, std::memory_order_relaxed))
        marked[k++] = &slot;
    }
  }
  if (k == 0) return 0;
  uint64_t old = state_.fetch_add(k * (kReader + kWait), std::memory_order_acq_rel);
  for (uint32_t i = 0; i < k; i++) marked[i]->store(0, std::memory_order_release);
  // S4: the readers counted at the announcement all left, and the last one
  // posted (or is about to): take that post, so the one to wait for is the
  // post the last of the k will make.
  if (readers(announced) != 0 && waits(old) == 0)
    detail::semacquire(&writer_sem_, detail::wait_reason::sync_rwmutex_lock);
  return k;
}

bool rwmutex::lock_shared_until_raw(int64_t deadline) {
  if (enter_slot()) {
    detail::race_acquire(&reader_sem_);
    return true;
  }
  // acq_rel: the acquire sees the last writer's writes (its restore is a
  // release); the release orders this reader before a writer that
  // announces itself afterwards and finds it counted.
  uint64_t old = state_.fetch_add(kReader, std::memory_order_acq_rel);
  if (!entered(old)) [[unlikely]] {
    if (readers(old) >= kMaxReaders) too_many_readers();
    // W was set: queued (I1) until a grant comes.
    if (!wait_grant(deadline)) return false;
  }
  detail::race_acquire(&reader_sem_);
  return true;
}

// A queued reader: takes a grant, sleeping on reader_sem_ until one may be
// there. False: the deadline passed and the reader withdrew.
bool rwmutex::wait_grant(int64_t deadline) {
  bool woken = false;  // holds a unit of reader_sem_
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (grants(old) > 0) {
      // acquire: the grant was made by a restore (a release).
      if (!state_.compare_exchange_weak(old, old - kGrant, std::memory_order_acquire, std::memory_order_relaxed))
        continue;
      // Keep units close to G (I5): one that came for this grant goes too.
      if (!woken) (void)detail::semtryacquire(&reader_sem_);
      return true;
    }
    if (deadline == kNoDeadline) {
      detail::semacquire(&reader_sem_, detail::wait_reason::sync_rwmutex_rlock);
    } else if (!detail::semacquire_until(&reader_sem_, detail::wait_reason::sync_rwmutex_rlock, deadline)) {
      break;  // timed out, holding no unit
    }
    woken = true;
    old = state_.load(std::memory_order_relaxed);
  }
  // Out of time: take a grant if there is one, else withdraw, in one step
  // on state_ (see "Race outcomes").
  old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (grants(old) > 0) {
      if (!state_.compare_exchange_weak(old, old - kGrant, std::memory_order_acquire, std::memory_order_relaxed))
        continue;
      (void)detail::semtryacquire(&reader_sem_);
      return true;
    }
    // G = 0, so this reader is queued (I1) and a writer is in (I2).
    if (!writer(old) || readers(old) <= waits(old)) detail::fatal("sync: inconsistent RWMutex state");
    // relaxed: leaving orders nothing; the CAS only needs atomicity.
    if (state_.compare_exchange_weak(old, old - kReader, std::memory_order_relaxed)) return false;
  }
}

bool rwmutex::try_lock_shared_raw() {
  if (enter_slot()) {
    detail::race_acquire(&reader_sem_);
    return true;
  }
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (writer(old)) return false;
    if (readers(old) >= kMaxReaders) too_many_readers();
    // acquire: see the last writer's writes.
    if (state_.compare_exchange_weak(old, old + kReader, std::memory_order_acquire, std::memory_order_relaxed)) break;
  }
  detail::race_acquire(&reader_sem_);
  return true;
}

void rwmutex::unlock_shared_raw() noexcept {
  detail::race_release(&writer_sem_);
  if (leave_slot()) return;
  // Counted, if a counted holder remains (S1); else through another line's
  // entry. Entries can move while a scan runs (a reader arrives behind it,
  // another departs ahead of it), so a scan that finds nothing is retried
  // before the unlock is called a misuse.
  uint64_t old = state_.load(std::memory_order_relaxed);
  int empty_scans = 0;
  for (;;) {
    if (counted_holders(old) == 0) {
      int r = leave_any_slot();
      if (r == 1) return;
      if (r == 0 && ++empty_scans == 64) unlock_of_unlocked();
      detail::cpu_relax();
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    // release: the reader's accesses happen before the writer that waits
    // for it (which acquires through state_ or writer_sem_). One step takes
    // the reader out of R and of N (I3).
    if (state_.compare_exchange_weak(old, old - (kReader + kWait), std::memory_order_acq_rel,
                                     std::memory_order_relaxed))
      break;
  }
  // The last reader the pending writer waited for (I4).
  if (writer(old) && waits(old) == 1) detail::semrelease(&writer_sem_);
}

// ---- writers ----

// Clears W and grants the read lock to the readers queued behind the
// writer (R - N of them, I3), in one CAS from `old`; the caller then
// releases that many units. Returns the count, or UINT32_MAX if the CAS
// failed (the caller rereads state_ and decides again).
uint32_t rwmutex::restore(uint64_t old) {
  uint32_t queued = readers(old) - waits(old);
  uint64_t next = (old & ~kWriter) + queued * kGrant;
  // release: the granted readers (and later arrivals) see the writer's
  // writes. acquire: nothing to see, but a failed withdrawal must reread.
  if (!state_.compare_exchange_weak(old, next, std::memory_order_acq_rel, std::memory_order_relaxed))
    return UINT32_MAX;
  return queued;
}

bool rwmutex::lock_until_raw(int64_t deadline) {
  if (!w_.try_lock_raw() && !w_.lock_slow_until(deadline)) return false;
  // Announce the writer: W, and N = R (I3).
  uint64_t old = state_.load(std::memory_order_relaxed);
  // acquire: with R = 0 the writer is in now, after every departed reader
  // (their fetch_subs are releases). seq_cst, not acquire alone: S2's
  // Dekker pairing needs this store ordered before the slot scan's loads
  // (an acquire RMW is outside the seq_cst order; on AArch64 its store
  // could become visible after the scan read a slot empty, and a slot
  // reader and the writer would both be in). The same instruction on x86.
  while (!state_.compare_exchange_weak(old, (old & ~kWaitMask) | kWriter | (uint64_t{readers(old)} << kWaitShift),
                                       std::memory_order_seq_cst, std::memory_order_relaxed)) {
  }
  GORO_DCHECK(!writer(old));  // w_ is ours
  if (convert_slots(old) != 0 || readers(old) != 0) {
    if (deadline == kNoDeadline) {
      detail::semacquire(&writer_sem_, detail::wait_reason::sync_rwmutex_lock);
    } else if (!detail::semacquire_until(&writer_sem_, detail::wait_reason::sync_rwmutex_lock, deadline) &&
               !withdraw_writer()) {
      return false;
    }
  }
  detail::race_acquire(&reader_sem_);
  detail::race_acquire(&writer_sem_);
  return true;
}

// The writer's deadline passed on writer_sem_: withdraw, unless the last
// reader has left meanwhile (see "Race outcomes"). True: it holds the lock.
bool rwmutex::withdraw_writer() {
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (waits(old) == 0) {
      // The last reader's post is made or about to be (I4): take it, so
      // the next writer finds none, and keep the lock.
      detail::semacquire(&writer_sem_, detail::wait_reason::sync_rwmutex_lock);
      return true;
    }
    uint32_t queued = restore(old);
    if (queued == UINT32_MAX) {
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    for (uint32_t i = 0; i < queued; i++) detail::semrelease(&reader_sem_);
    w_.unlock_raw();
    return false;
  }
}

bool rwmutex::try_lock_raw() {
  if (!w_.try_lock_raw()) return false;
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (readers(old) != 0 || has_slot_entries()) {
      w_.unlock_raw();
      return false;
    }
    // acquire: see what the departed readers and the last writer wrote;
    // seq_cst: S2, as in lock_until_raw.
    if (state_.compare_exchange_weak(old, (old & ~kWaitMask) | kWriter, std::memory_order_seq_cst,
                                     std::memory_order_relaxed))
      break;
  }
  // A reader came in through a slot since the check: back out as a timed
  // writer does (it keeps the lock if they have all left meanwhile).
  if (convert_slots(old) != 0 && !withdraw_writer()) return false;
  detail::race_acquire(&reader_sem_);
  detail::race_acquire(&writer_sem_);
  return true;
}

// Whether any reader holds this rwmutex through a slot (or a writer is
// converting one).
bool rwmutex::has_slot_entries() const {
  const uintptr_t self = reinterpret_cast<uintptr_t>(this);
  for (auto& line : g_slots)
    for (auto& slot : line.slot)
      if ((slot.load(std::memory_order_relaxed) & ~kConverting) == self) return true;
  return false;
}

void rwmutex::unlock_raw() noexcept {
  detail::race_release(&reader_sem_);
  uint64_t old = state_.load(std::memory_order_relaxed);
  uint32_t queued;
  for (;;) {
    if (!writer(old)) detail::fatal_exit(2, "sync: Unlock of unlocked RWMutex");
    // N = 0 here (I4), so every reader counted is queued.
    if ((queued = restore(old)) != UINT32_MAX) break;
    old = state_.load(std::memory_order_relaxed);
  }
  for (uint32_t i = 0; i < queued; i++) detail::semrelease(&reader_sem_);
  w_.unlock_raw();
}

// ---- the public operations: raw, or through the lock-order check ----

using detail::lock_kind;

void rwmutex::lock_shared_slow() {
  if (detail::lock_order_on()) [[unlikely]] {
    detail::lock_order_before_wait(this, lock_kind::rwmutex);
    (void)lock_shared_until_raw(kNoDeadline);
    detail::lock_order_acquired(this, lock_kind::rwmutex, true);
    return;
  }
  (void)lock_shared_until_raw(kNoDeadline);
}

bool rwmutex::lock_shared_until(int64_t deadline) {
  if (detail::lock_order_on()) [[unlikely]] {
    detail::lock_order_before_wait(this, lock_kind::rwmutex);
    if (!lock_shared_until_raw(deadline)) return false;
    detail::lock_order_acquired(this, lock_kind::rwmutex, true);
    return true;
  }
  return lock_shared_until_raw(deadline);
}

bool rwmutex::try_lock_shared() {
  if (!try_lock_shared_raw()) return false;
  if (detail::lock_order_on()) [[unlikely]] detail::lock_order_acquired(this, lock_kind::rwmutex, true);
  return true;
}

void rwmutex::unlock_shared_slow() noexcept {
  if (detail::lock_order_on()) [[unlikely]] detail::lock_order_released(this, true);
  unlock_shared_raw();
}

void rwmutex::lock() {
  if (detail::lock_order_on()) [[unlikely]] {
    detail::lock_order_before_wait(this, lock_kind::rwmutex);
    (void)lock_until_raw(kNoDeadline);
    detail::lock_order_acquired(this, lock_kind::rwmutex, false);
    return;
  }
  (void)lock_until_raw(kNoDeadline);
}

bool rwmutex::lock_until(int64_t deadline) {
  if (detail::lock_order_on()) [[unlikely]] {
    detail::lock_order_before_wait(this, lock_kind::rwmutex);
    if (!lock_until_raw(deadline)) return false;
    detail::lock_order_acquired(this, lock_kind::rwmutex, false);
    return true;
  }
  return lock_until_raw(deadline);
}

bool rwmutex::try_lock() {
  if (!try_lock_raw()) return false;
  if (detail::lock_order_on()) [[unlikely]] detail::lock_order_acquired(this, lock_kind::rwmutex, false);
  return true;
}

void rwmutex::unlock() noexcept {
  if (detail::lock_order_on()) [[unlikely]] detail::lock_order_released(this, false);
  unlock_raw();
}

}  // namespace goro
