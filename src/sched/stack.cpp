// Goroutine stack pool and scavenger. Design and invariants in stack.hpp.
//
// Invariants (pool.lock held):
//  - reserved + ncaches * cache_max <= capacity whenever reserved > 0:
//    every goroutine that exists (started or not) holds a reservation, in
//    a P's credits or in `reserved` directly, and P caches (which only
//    their P's holder touches) hold at most cache_max stacks each, one cache
//    per P made, so a stack_bind on any P finds a stack it may take, on
//    the global lists or uncarved, without mapping memory. Only
//    reserve_locked raises `reserved`, and it maps chunks to keep this or
//    throws goro::resource_error to go()'s caller. The one exception: a P
//    made while no chunk can be mapped (stack_pool_add_p, e.g. a grant
//    for a detached goroutine) leaves it short by a cache until the next
//    reservation maps for it. (Go allocates the stack in newproc. Before
//    this room was kept, the bind of a goroutine that started on a P with
//    an empty cache, while the free stacks sat in another's, mapped a
//    chunk and ended the program if that failed.)
//  - capacity = free stacks (free_tops, released) + stacks bound to
//    goroutines + stacks in P caches + uncarved slots of mapped chunks
//    + stacks in the scavenger's batch (scav.todo). A bind that finds
//    nothing else maps a chunk, as before, and if that fails takes the
//    batch back (take_back_scavenger_batch).
//  - Stacks on any free list, and in the batch, have their guard page
//    installed.
//  - idle <= free_low <= free_tops.n: the entries below free_low have not
//    been taken since the scavenger's last period began; the entries below
//    idle are those of them the scavenger is to release this period.
//
// The scavenger (scav, guarded by scav.lock, rank scavenger, taken before
// the pool lock): one at a time, the scavenger thread (a slice at a time, try_lock
// only) or goro::free_os_memory (everything, for as long as it takes)
// moves free stacks out of free_tops into its batch under the pool lock,
// sorts them by address outside it, releases runs of neighbouring slots
// with one madvise each, and puts the released stacks on `released` under
// the pool lock again.
//
// Why this shape (issue 15, item 5): the monitor used to madvise every
// idle stack, one call each, inline in one round: after a burst of 300,000
// goroutines that held the monitor up for seconds (no retake, no overdue
// timer wake-up, no deadlock check meanwhile). Now the scavenger has a
// thread of its own (scavenger.cpp says why slices on the monitor were not
// enough) and gives back runs of neighbouring stacks with one call.
// Sorting: each madvise is a system call that edits the range's page
// tables and flushes the TLB; on the project's VMs a call on one stack
// with a page resident cost 75-160 us, one call on 1,000 neighbouring such
// stacks 3-15 us per stack. The thread sorts 4,096 stacks at a time
// (~60-200 us; all 300,000 would take ~25 ms), free_os_memory sorts its
// whole batch.
#include "sched/stack.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/big_memory.hpp"
#include "base/check.hpp"
#include "base/debug_env.hpp"
#include "base/futex.hpp"
#include "base/lock.hpp"
#include "base/no_destructor.hpp"
#include "base/prefetch.hpp"
#include "base/ptr_stack.hpp"
#include "goro/panic.hpp"
#include "goro/runtime.hpp"
#include "sched/sched.hpp"
#include "sched/test_hooks.hpp"

#if defined(GORO_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13; Debian 12's headers predate it
#endif
// process_madvise's pid file descriptor for the calling process
// (PIDFD_SELF_THREAD_GROUP, Linux 6.13; not in Debian 12's headers).
constexpr int kPidfdSelfProcess = -10001;

namespace goro::detail {

namespace {

// 128 KiB, as Boost.Fiber's default: the page tables a parked goroutine
// costs are its slot's share of a 2 MiB page-table page (slot / 512 bytes:
// 264 B here, 522 B at 256 KiB), and a stack commits only the pages it
// touches. Sanitizers grow frames (redzones, fake stacks): twice as much.
#if defined(GORO_ASAN) || defined(GORO_TSAN)
constexpr size_t kDefaultStack = 256 * 1024;
#else
constexpr size_t kDefaultStack = 128 * 1024;
#endif
constexpr size_t kMinStack = 16 * 1024;
// The largest stack a goroutine may ask for: far beyond any real need (Go
// stops a stack at 1 GB), and small enough that rounding it up to pages
// and adding its guard cannot wrap around (SIZE_MAX used to become a
// 16 KiB or 0-byte stack).
constexpr size_t kMaxStack = size_t{1} << 40;
constexpr size_t kChunkBytes = size_t{256} << 20;  // virtual bytes per pool chunk
constexpr int64_t kCreditBatch = 32;
constexpr int kStackPrefetchAhead = 4;  // binds ahead (stack_bind)

enum class guard_mode { unknown, madvise, mprotect };

// Free stack tops (base/ptr_stack.hpp: never freed, so the pool stays
// usable while the process exits and the monitor may be scavenging).
using top_list = ptr_stack<void>;

struct stack_pool {
  runtime_lock lock{lock_rank::stack_pool};
  size_t page = 4096;
  // Usable bytes per stack. Written at start-up and by
  // set_default_stack_size under the lock, but only until the first chunk
  // is mapped (`frozen`); fixed from then on. go() reads it without the
  // lock (stack_default_size, stack_size_is_pooled) while
  // set_default_stack_size may write it, hence atomic. Relaxed is enough:
  // code that turns it into addresses (carving, bind, release, the
  // scavenger) works on a slot it got through the pool lock after the
  // chunk was mapped, so that lock already orders its read after the last
  // write; go()'s reads only compare sizes, and a go() racing with
  // set_default_stack_size may see either value, as either call may be
  // taken to have come first (if it sees the old one just before the pool
  // freezes at the new one, its goroutine gets a pooled stack of the new
  // size; gp->stack_size only records what was asked).
  std::atomic<size_t> size{kDefaultStack};
  size_t slot = 0;              // guard + size
  // Uncarved parts of mapped chunks, carved one slot at a time on demand
  // (installing a guard page and faulting in the top page costs
  // microseconds: never do it for slots nobody needs yet).
  struct region {
    char* next;
    char* end;
  };
  std::vector<region> uncarved;
  // Free stacks, by their tops. free_tops is a LIFO (the back is the most
  // recently freed, the hottest); released holds stacks whose pages were
  // given back to the kernel (stack_scavenge), used only when free_tops is
  // empty. Arrays, not lists linked through the stacks: the scavenger
  // must not touch a page to find the next stack.
  top_list free_tops;
  top_list released;
  size_t free_low = 0;          // lowest free_tops.n since the scavenger's last period began
  size_t idle = 0;              // free_tops[0, idle): to be released this period
  int64_t capacity = 0;
  int64_t reserved = 0;
  int64_t ncaches = 0;          // Ps made, each with a stack cache (stack_pool_add_p)
  // How many stacks a P's cache holds at most: kStackCacheMax, fewer for
  // big stacks (cache_max_for). Set with `size`; read without the lock by
  // stack_release (relaxed: the value is fixed before any stack exists).
  std::atomic<int> cache_max{kStackCacheMax};
  bool frozen = false;          // size fixed once the first chunk is mapped
  guard_mode guards = guard_mode::unknown;
  int64_t mprotect_guards = 0;
  int64_t mprotect_budget = 0;
  bool warned_no_guard = false;
};

// Never destroyed (base/no_destructor.hpp): workers bind and release
// stacks, and the monitor scavenges, while exit() runs static destructors.
constinit no_destructor<stack_pool> pool_storage;
constinit stack_pool& pool = pool_storage.value;

// stack_scavenge_counted. Relaxed: statistics, they order nothing.
std::atomic<uint64_t> g_released{0};
std::atomic<uint64_t> g_madvise_calls{0};
std::atomic<int64_t> g_longest_step_ns{0};
std::atomic<int64_t> g_longest_step_cpu_ns{0};

size_t pooled_size() { return pool.size.load(std::memory_order_relaxed); }

// A P's stack cache holds up to 16 MiB of stacks (64 of the default 256
// KiB), and 2 at least: every reservation keeps room for a full cache per
// P (the first invariant), and 64 stacks of 32 MiB per P would have each
// go() need 4 GiB of address space per P first, which a process under
// RLIMIT_AS, or with vm.overcommit_memory=2, may not have.
constexpr size_t kCacheBytes = size_t{16} << 20;
int cache_max_for(size_t size) {
  size_t n = kCacheBytes / (size != 0 ? size : 1);
  return static_cast<int>(std::clamp<size_t>(n, 2, kStackCacheMax));
}
std::atomic<size_t> g_default_size{0};  // set_default_stack_size; 0 = pooled_size()

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// Makes `guard` (one page) fault on access. False if no guard could be had.
//
// Without MADV_GUARD_INSTALL (Linux before 6.13) the guard is mprotect'ed,
// which splits the mapping around it: a pooled stack's guard costs two of
// the kernel's maps for as long as the process lives (the chunk is never
// unmapped), so those are counted against a budget of a quarter of the
// maps (`budgeted`). A dedicated stack's guard is not: it costs its one
// extra map only while the stack lives, and goes with it (it used to be
// counted and never given back, so after some 16,000 goroutines with
// stacks of their own over a program's life no new stack had a guard).
constexpr int64_t kMapsPerGuard = 2;

bool install_guard(char* guard, bool budgeted) {
  if (pool.guards != guard_mode::mprotect) {
    if (madvise(guard, pool.page, MADV_GUARD_INSTALL) == 0) {
      pool.guards = guard_mode::madvise;
      return true;
    }
    if (pool.guards == guard_mode::unknown && (errno == EINVAL || errno == ENOSYS || errno == EPERM))
      pool.guards = guard_mode::mprotect;
  }
  if (pool.guards == guard_mode::mprotect &&
      (!budgeted || pool.mprotect_guards + kMapsPerGuard <= pool.mprotect_budget)) {
    if (mprotect(guard, pool.page, PROT_NONE) == 0) {
      if (budgeted) pool.mprotect_guards += kMapsPerGuard;
      return true;
    }
  }
  if (!pool.warned_no_guard) {
    pool.warned_no_guard = true;
    print_stderr(
        "goro: stack guard pages unavailable (no MADV_GUARD_INSTALL and the mprotect budget of %lld "
        "maps is spent): new goroutine stacks have no overflow guard\n",
        static_cast<long long>(pool.mprotect_budget));
  }
  return false;
}

// Carves the next uncarved slot; returns its stack top, or null. The
// caller installs its guard (install_guards_locked).
void* carve_locked() {
  while (!pool.uncarved.empty()) {
    auto& r = pool.uncarved.back();
    if (r.next == r.end) {
      pool.uncarved.pop_back();
      continue;
    }
    char* slot = r.next;
    r.next += pool.slot;
    return slot + pool.slot;
  }
  return nullptr;
}

// Installs the guards of freshly carved stacks (by their tops). With
// MADV_GUARD_INSTALL, one process_madvise for the batch: a guard costs the
// kernel ~0.5 us either way, but one system call each (and one take of
// the address space lock each, which the other worker's page faults then
// wait behind) made a burst of new goroutines in a fresh process pay
// 1.4-1.8 us more per goroutine than with no guard at all (goro-bench
// toolkit/ctx_tree, 100,000 watchers: 5.0-5.9 us each against 3.5-4.1;
// docs/design.md section 4). Where the batch is refused, one at a time
// (install_guard, which also picks mprotect on older kernels).
std::atomic<bool> g_guard_batch_off{false};

void install_guards_locked(void* const* tops, int n) {
#if defined(SYS_process_madvise)
  if (pool.guards != guard_mode::mprotect && !g_guard_batch_off.load(std::memory_order_relaxed) && n > 1) {
    iovec v[kStackCacheMax];
    n = std::min(n, kStackCacheMax);
    for (int i = 0; i < n; i++) v[i] = iovec{static_cast<char*>(tops[i]) - pool.slot, pool.page};
    long r = syscall(SYS_process_madvise, kPidfdSelfProcess, v, static_cast<size_t>(n), MADV_GUARD_INSTALL, 0u);
    if (r == static_cast<long>(static_cast<size_t>(n) * pool.page)) {
      pool.guards = guard_mode::madvise;
      return;
    }
    if (r < 0) g_guard_batch_off.store(true, std::memory_order_relaxed);
    // A partial batch: installing a guard twice is harmless.
  }
#endif
  for (int i = 0; i < n; i++) install_guard(static_cast<char*>(tops[i]) - pool.slot, true);
}

// Committing stack tops ahead of their first run. A goroutine's first
// write to a fresh (or scavenged) stack faults its top page in; on the
// project's VMs that fault costs ~10 us, and a burst of new goroutines
// (100,000 context watchers, a server's accept storm) spends most of its
// time there. One process_madvise(MADV_POPULATE_WRITE) over the tops of a
// batch of stacks the P is about to bind commits them for ~0.8 us each
// (and the first write then costs the VM's own ~4.7 us instead of 10):
// docs/design.md section 4. It needs a kernel whose process_madvise takes
// any advice for the calling process (Linux 6.13) and the PIDFD_SELF
// sentinels (this machine's 6.18 has both). Where the call is refused
// (EINVAL, EBADF, ENOSYS, EPERM under seccomp) it turns itself off and
// first writes fault as before; GORO_DEBUG=stackpopulate=0 turns it off
// too (to measure it). ENOMEM and the like are left to the first write.
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif
constexpr int kCarveBatch = 16;             // slots carved at once into a P's cache
std::atomic<bool> g_populate_off{false};
std::atomic<uint64_t> g_populated{0};  // stack tops committed ahead (stack_populated_count)

void populate_tops(void* const* tops, int n) {
  if (n <= 0 || g_populate_off.load(std::memory_order_relaxed)) return;
#if defined(SYS_process_madvise)
  iovec v[kStackCacheMax];
  n = std::min(n, kStackCacheMax);
  for (int i = 0; i < n; i++) v[i] = iovec{static_cast<char*>(tops[i]) - pool.page, pool.page};
  long r = syscall(SYS_process_madvise, kPidfdSelfProcess, v, static_cast<size_t>(n), MADV_POPULATE_WRITE, 0u);
  if (r >= 0) {
    g_populated.fetch_add(static_cast<uint64_t>(r) / pool.page, std::memory_order_relaxed);
    return;
  }
  int e = errno;
  if (e == EINVAL || e == EBADF || e == ENOSYS || e == EPERM || e == ESRCH) g_populate_off.store(true, std::memory_order_relaxed);
#else
  (void)tops;
  g_populate_off.store(true, std::memory_order_relaxed);
#endif
}

// Maps a new chunk (address space only). Throws goro::resource_error when
// the kernel says no.
void map_chunk_locked() {
  size_t nslots = kChunkBytes / pool.slot;
  if (nslots == 0) nslots = 1;
  size_t bytes = nslots * pool.slot;
  // The free lists never hold more than every stack there is: with room
  // for that, freeing a stack (on a goroutine's exit path) never allocates.
  // Grown first, with the chunk's region entry: once the chunk is mapped
  // nothing can fail, so the capacity never counts stacks the lists have
  // no room for (a failed growth after the count used to end the program
  // later, when the stacks came back).
  const size_t grown = static_cast<size_t>(pool.capacity) + nslots;
  bool lists = pool.free_tops.reserve(grown) && pool.released.reserve(grown) &&
               !test_hooks::stack_lists_grow_fails.load(std::memory_order_relaxed);
  if (lists) {
    try {
      pool.uncarved.reserve(pool.uncarved.size() + 1);
    } catch (const std::bad_alloc&) {
      lists = false;
    }
  }
  if (!lists) throw goro::resource_error("goro: out of memory for the stack pool's free lists");
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    int err = errno;
    throw goro::resource_error(std::string("goro: cannot map goroutine stacks: ") + strerror(err));
  }
  madvise(mem, bytes, MADV_NOHUGEPAGE);  // a huge page would commit 2 MiB per stack top
  pool.frozen = true;
  char* base = static_cast<char*>(mem);
  pool.uncarved.push_back(stack_pool::region{base, base + bytes});  // room reserved above
  pool.capacity += static_cast<int64_t>(nslots);
}

// Stacks that can be had for new reservations: what the capacity holds
// beyond every reservation and every P cache (the first invariant).
int64_t reservable_locked() {
  return pool.capacity - pool.reserved - pool.ncaches * pool.cache_max.load(std::memory_order_relaxed);
}

void reserve_locked(int64_t n) {
  while (reservable_locked() < n) map_chunk_locked();
  pool.reserved += n;
}

#if defined(GORO_TSAN)
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line);
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);

// A reused stack still carries, in TSan's shadow memory, the accesses of
// the goroutine that last ran on it; the next goroutine's accesses would
// look like races with them. Go resets the shadow (racemalloc in
// stackalloc); here, mapping fresh memory over the stack while TSan ignores
// this thread's accesses makes its mmap interceptor reset the range.
void tsan_reset_stack(char* lo, size_t size) {
  AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  void* r = mmap(lo, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
  AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  if (r != lo) fatal("runtime: cannot remap a goroutine stack for TSan (mmap: %s)", strerror(errno));
  // The chunk's own advice, so that the kernel merges the new mapping back
  // into its neighbours: without it each stack in use cost a map of its
  // own and split its guard page off, three maps a goroutine, and some
  // 21,000 parked goroutines ran out of vm.max_map_count.
  madvise(lo, size, MADV_NOHUGEPAGE);
}
#endif

}  // namespace

void stack_pool_init() {
  if (debug_setting("stackpopulate", 1) == 0) g_populate_off.store(true, std::memory_order_relaxed);
  long pg = sysconf(_SC_PAGESIZE);
  pool.page = pg > 0 ? static_cast<size_t>(pg) : 4096;
  if (const char* v = getenv("GORO_STACK_SIZE"); v != nullptr && *v != '\0') {
    char* end = nullptr;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno == ERANGE) n = 0;
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K') shift = 10, end++;
    else if (*end == 'm' || *end == 'M') shift = 20, end++;
    if (n > (kMaxStack >> shift)) n = 0;  // over the limit: refused below
    n <<= shift;
    if (*end != '\0' || n == 0)
      print_stderr("goro: ignoring GORO_STACK_SIZE=%s (want bytes up to 1 TiB, e.g. 262144 or 256k)\n", v);
    else
      pool.size.store(round_up(std::max<size_t>(n, kMinStack), pool.page), std::memory_order_relaxed);
  }
  pool.slot = pooled_size() + pool.page;
  pool.cache_max.store(cache_max_for(pooled_size()), std::memory_order_relaxed);
  long maps = 65530;
  if (FILE* f = fopen("/proc/sys/vm/max_map_count", "r")) {
    if (fscanf(f, "%ld", &maps) != 1) maps = 65530;
    fclose(f);
  }
  pool.mprotect_budget = maps / 4;  // in maps: a quarter of them at most for guards
}

size_t stack_default_size() {
  size_t s = g_default_size.load(std::memory_order_relaxed);
  return s != 0 ? s : pooled_size();
}

bool stack_size_is_pooled(size_t size) { return size == pooled_size(); }

size_t stack_round(size_t size) {
  if (size > kMaxStack) return size;  // refused by stack_alloc_dedicated; rounding could wrap
  return round_up(std::max(size, kMinStack), pool.page);
}

size_t stack_guard_size() { return pool.page; }

void stack_reserve(p* pp) {
  if (pp != nullptr && pp->gcache.stack_credits > 0) {
    pp->gcache.stack_credits--;
    return;
  }
  int64_t batch = pp != nullptr ? kCreditBatch : 1;
  {
    lock_guard lk(pool.lock);
    if (batch > 1 && reservable_locked() < batch) {
      // A batch would map a new chunk: if that fails, the one stack asked
      // for may still be free (a go() from a goroutine used to throw while
      // up to 31 stacks were left, where a plain thread's got one).
      try {
        reserve_locked(batch);
      } catch (const goro::resource_error&) {
        if (reservable_locked() < 1) throw;
        batch = 1;
        pool.reserved += 1;
      }
    } else {
      reserve_locked(batch);
    }
  }
  if (pp != nullptr) pp->gcache.stack_credits += batch - 1;
}

void stack_pool_add_p() {
  lock_guard lk(pool.lock);
  pool.ncaches++;
  if (pool.reserved == 0) return;  // the first reservation maps for it
  // Goroutines exist: keep the first invariant for them now if memory
  // allows; if not, the next reservation maps for it or throws.
  try {
    while (reservable_locked() < 0) map_chunk_locked();
  } catch (const goro::resource_error&) {
  }
}

void stack_cache_flush(p* pp) {
  lock_guard lk(pool.lock);
  pool.free_tops.push_n(pp->stack_cache, static_cast<size_t>(pp->nstack_cache));  // room: capacity (map_chunk_locked)
  pp->nstack_cache = 0;
  pool.reserved -= pp->gcache.stack_credits;
  pp->gcache.stack_credits = 0;
}

void stack_unreserve(p* pp) {
  if (pp != nullptr) {
    if (++pp->gcache.stack_credits > 2 * kCreditBatch) {
      pp->gcache.stack_credits -= kCreditBatch;
      lock_guard lk(pool.lock);
      pool.reserved -= kCreditBatch;
    }
    return;
  }
  lock_guard lk(pool.lock);
  pool.reserved--;
}

stack_pool_counts stack_pool_counted() {
  lock_guard lk(pool.lock);
  return {pooled_size(), pool.reserved, static_cast<int64_t>(pool.free_tops.n), static_cast<int64_t>(pool.released.n)};
}

int64_t stack_reserved_count() {
  lock_guard lk(pool.lock);
  return pool.reserved;
}

void stack_alloc_dedicated(g* gp, size_t size) {
  if (size > kMaxStack)
    throw goro::resource_error("goro: a goroutine stack of " + std::to_string(size) +
                               " bytes is over the limit of 1 TiB");
  size = round_up(std::max(size, kMinStack), pool.page);
  size_t bytes = size + pool.page;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    int err = errno;
    throw goro::resource_error(std::string("goro: cannot map a goroutine stack: ") + strerror(err));
  }
  {
    lock_guard lk(pool.lock);
    install_guard(static_cast<char*>(mem), false);
  }
  gp->stack_lo = static_cast<char*>(mem) + pool.page;
  gp->stack_hi = gp->stack_lo + size;
  gp->stack_pooled = false;
}

void take_back_scavenger_batch();  // below, with the scavenger

// Starts loading, for writing, the top of a cached stack that a bind will
// hand out soon: its first frames are written there. Cached stacks are cold
// once many goroutines exist (a TLB miss and a cache miss each); the
// prefetch also walks the page table. A released stack's page is absent and
// the prefetch is dropped, without a fault.
inline void prefetch_stack_top(void* top) {
  prefetch_for_write(static_cast<char*>(top) - 64);
  prefetch_for_write(static_cast<char*>(top) - 128);
}

void stack_bind(p* pp, g* gp) {
  if (gp->stack_lo != nullptr) return;  // dedicated stack, mapped at go()
  int released_tops = 0;  // stack_cache[0, released_tops): tops without a page
  bool batch_taken_back = false;
  while (pp->nstack_cache == 0) {
    {
      lock_guard lk(pool.lock);
      // Refill the P's cache with up to half its size from the global
      // lists: released stacks below, kept ones (the hottest last) on top.
      const int cache_max = pool.cache_max.load(std::memory_order_relaxed);
      size_t want = static_cast<size_t>(cache_max / 2);
      size_t kept = std::min(want, pool.free_tops.n);
      size_t released = std::min(want - kept, pool.released.n);
      pool.released.pop_n(pp->stack_cache, released);
      pool.free_tops.pop_n(pp->stack_cache + released, kept);
      pp->nstack_cache = static_cast<int>(released + kept);
      pool.free_low = std::min(pool.free_low, pool.free_tops.n);
      pool.idle = std::min(pool.idle, pool.free_tops.n);
      for (int i = std::max(0, pp->nstack_cache - 1 - kStackPrefetchAhead); i < pp->nstack_cache - 1; i++)
        prefetch_stack_top(pp->stack_cache[i]);
      released_tops = static_cast<int>(released);
      if (pp->nstack_cache > 0) break;
      // Nothing free on the lists: carve a batch of fresh slots into the
      // cache.
      while (pp->nstack_cache < std::min(kCarveBatch, cache_max)) {
        void* t = carve_locked();
        if (t == nullptr) break;
        pp->stack_cache[pp->nstack_cache++] = t;
      }
      install_guards_locked(pp->stack_cache, pp->nstack_cache);
      if (pp->nstack_cache == 0) {
        // Every free stack is in other Ps' caches or the scavenger's
        // batch. Map a chunk, as before the first invariant; if that
        // fails, the batch is taken back below (which may wait for a
        // free_os_memory to finish: hence not first); if there is still
        // nothing, a P was added while no chunk could be mapped
        // (stack_pool_add_p), and the program ends.
        try {
          map_chunk_locked();
          continue;
        } catch (const goro::resource_error& e) {
          if (batch_taken_back)
            fatal("%s (while starting goroutine %llu)", e.what(), static_cast<unsigned long long>(gp->id));
        }
      }
      // Bound lowest address first (the cache pops from its end), the
      // order slots carved one at a time were bound in before the batch.
      std::reverse(pp->stack_cache, pp->stack_cache + pp->nstack_cache);
      released_tops = pp->nstack_cache;
    }
    if (pp->nstack_cache > 0) break;
    // No chunk could be mapped: take the scavenger's batch back (outside
    // the pool lock, which ranks after the scavenger's).
    take_back_scavenger_batch();
    batch_taken_back = true;
  }
  // Fresh and scavenged stacks have no page: commit their tops in one call
  // (populate_tops), outside the pool lock.
  populate_tops(pp->stack_cache, released_tops);
  void* top = pp->stack_cache[--pp->nstack_cache];
  if (pp->nstack_cache >= kStackPrefetchAhead) prefetch_stack_top(pp->stack_cache[pp->nstack_cache - kStackPrefetchAhead]);
  gp->stack_hi = static_cast<char*>(top);
  gp->stack_lo = gp->stack_hi - pooled_size();
  gp->stack_pooled = true;
#if defined(GORO_TSAN)
  tsan_reset_stack(gp->stack_lo, pooled_size());
#endif
}

void stack_release(p* pp, g* gp) {
  if (!gp->stack_pooled) {
    if (gp->stack_lo != nullptr) munmap(gp->stack_lo - pool.page, static_cast<size_t>(gp->stack_hi - gp->stack_lo) + pool.page);
    gp->stack_lo = gp->stack_hi = nullptr;
    return;
  }
#if defined(GORO_ASAN)
  // The dead goroutine's frames never returned, so their redzones are still
  // poisoned; the next goroutine on this stack must start clean.
  __asan_unpoison_memory_region(gp->stack_lo, pooled_size());
#endif
  void* top = gp->stack_hi;
  gp->stack_lo = gp->stack_hi = nullptr;
  gp->stack_pooled = false;
  const int cache_max = pool.cache_max.load(std::memory_order_relaxed);
  if (pp->nstack_cache >= cache_max) {
    // Give the oldest half away (the newest are the hottest here).
    const int half = cache_max / 2;
    {
      lock_guard lk(pool.lock);
      pool.free_tops.push_n(pp->stack_cache, static_cast<size_t>(half));
    }
    move_entries(pp->stack_cache, pp->stack_cache + half, static_cast<size_t>(pp->nstack_cache - half));  // not memmove: base/race.hpp
    pp->nstack_cache -= half;
  }
  pp->stack_cache[pp->nstack_cache++] = top;
  stack_unreserve(pp);
}

// ---- the scavenger ------------------------------------------------------

namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kStepSlice = 4096;               // stacks the scavenger takes and sorts at a time
constexpr size_t kStepBytes = 64 * kMiB;          // stack range per step, at most
constexpr size_t kMinPiece = 256 * 1024;           // the scavenger's madvise range: from one default stack
constexpr int64_t kCallNs = 250'000;               // to 64 MiB, as calls take less or more CPU than this
constexpr size_t kAllPieceBytes = 256 * kMiB;     // free_os_memory: range per madvise, at most
constexpr size_t kAllTakeAtOnce = 16384;          // free_os_memory: stacks moved per pool-lock hold

struct scavenger {
  runtime_lock lock{lock_rank::scavenger};
  // The batch (scav.lock): stacks taken out of free_tops to be released,
  // by their tops, todo.v[done, todo.n); todo.v[done, sorted) is in
  // address order. If `cursor` is set, the part of todo.v[done]'s stack
  // below it is released already (a range cut short by the budget).
  top_list todo;
  size_t done = 0;
  size_t sorted = 0;
  char* cursor = nullptr;
  // The scavenger thread's pacing (scav.lock): the stack range of its next
  // madvise, doubled after a call that took less than half of
  // kCallNs of the thread's CPU time, halved after one that took
  // more. A call's cost is a fixed part (~75 us on the project's VMs) plus
  // a part per resident page, neither known in advance. Measured in CPU
  // time, not wall time: on a loaded machine the thread is descheduled in
  // the middle of calls, and a wall-time rule (or a per-MiB estimate fed
  // by small calls, whose fixed part dominates) shrank the ranges to a
  // stack or two per call, per-stack madvise again.
  size_t piece = 4 * kMiB;
};
constinit no_destructor<scavenger> scav_storage;  // as pool_storage
constinit scavenger& scav = scav_storage.value;

char* todo_top(size_t i) { return static_cast<char*>(scav.todo.v[i]); }

// CPU time of the calling thread (a system call).
int64_t thread_cpu_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Drops the released part of the batch and makes room for `more` stacks
// after the rest. False if there is no memory for it. scav.lock held.
bool todo_make_room(size_t more) {
  if (scav.done > 0) {
    memmove(scav.todo.v, scav.todo.v + scav.done, (scav.todo.n - scav.done) * sizeof(void*));
    scav.todo.n -= scav.done;
    scav.sorted -= scav.done;
    scav.done = 0;
  }
  return scav.todo.reserve(scav.todo.n + more);
}

// Moves up to `max` of the stacks the scavenger is to release this period
// (the top of the idle region) into the batch. Costs the copy of the
// stacks freed since the period began (the entries above the idle
// region), usually few. scav.lock held; room in the batch.
size_t take_idle(size_t max) {
  lock_guard lk(pool.lock);
  size_t k = std::min({max, pool.idle, scav.todo.cap - scav.todo.n});
  if (k == 0) return 0;
  top_list& f = pool.free_tops;
  size_t from = pool.idle - k;
  memcpy(scav.todo.v + scav.todo.n, f.v + from, k * sizeof(void*));
  memmove(f.v + from, f.v + pool.idle, (f.n - pool.idle) * sizeof(void*));
  scav.todo.n += k;
  f.n -= k;
  pool.idle -= k;
  pool.free_low -= k;  // (free_low >= idle >= k) the entries above moved down by k
  return k;
}

// Moves up to `max` free stacks, the newest first, into the batch.
// scav.lock held; room in the batch.
size_t take_free(size_t max) {
  lock_guard lk(pool.lock);
  size_t k = std::min({max, pool.free_tops.n, scav.todo.cap - scav.todo.n});
  pool.free_tops.pop_n(scav.todo.v + scav.todo.n, k);
  scav.todo.n += k;
  pool.free_low = std::min(pool.free_low, pool.free_tops.n);
  pool.idle = std::min(pool.idle, pool.free_tops.n);
  return k;
}

void sort_todo() {
  // A stack half released (cursor) stays first: the next range starts there.
  size_t from = scav.done + (scav.cursor != nullptr ? 1 : 0);
  if (from < scav.todo.n) std::sort(scav.todo.v + from, scav.todo.v + scav.todo.n, std::less<>());
  scav.sorted = scav.todo.n;
}

void madvise_counted(char* lo, char* hi) {
  madvise(lo, static_cast<size_t>(hi - lo), MADV_DONTNEED);
  g_madvise_calls.fetch_add(1, std::memory_order_relaxed);
}

// Releases, with one madvise, the range from the cursor (or the bottom of
// the batch's next stack) through as many of the following stacks as are
// neighbours (consecutive slots) and fit in `max_bytes` (whole pages, at
// least one), and puts the stacks it finished on the released list.
// Returns the bytes of the range. scav.lock held; done < sorted.
size_t release_next(size_t max_bytes) {
  const size_t size = pooled_size();
  const size_t slot = size + pool.page;
  char* lo = scav.cursor != nullptr ? scav.cursor : todo_top(scav.done) - size;
  size_t last = scav.done;  // the last stack the range reaches
  char* hi = todo_top(last);
  if (static_cast<size_t>(hi - lo) > max_bytes) {
    hi = lo + max_bytes;  // part of one stack
  } else {
    while (last + 1 < scav.sorted && todo_top(last + 1) == hi + slot &&
           static_cast<size_t>(todo_top(last + 1) - lo) <= max_bytes)
      hi = todo_top(++last);
  }
  // The range holds the guard pages between the stacks: MADV_DONTNEED
  // leaves guard markers (MADV_GUARD_INSTALL) in place, and PROT_NONE
  // guards have no pages to drop. Should the kernel refuse the range
  // anyway, each stack goes on its own.
  if (madvise(lo, static_cast<size_t>(hi - lo), MADV_DONTNEED) == 0 || last == scav.done) {
    g_madvise_calls.fetch_add(1, std::memory_order_relaxed);
  } else {
    madvise_counted(lo, todo_top(scav.done));
    for (size_t i = scav.done + 1; i <= last; i++) madvise_counted(todo_top(i) - size, todo_top(i));
  }
  size_t finished = last - scav.done + 1;
  if (hi != todo_top(last)) {
    finished = 0;
    scav.cursor = hi;
  } else {
    scav.cursor = nullptr;
  }
  if (finished > 0) {
    {
      lock_guard lk(pool.lock);
      pool.released.push_n(scav.todo.v + scav.done, finished);
    }
    scav.done += finished;
    g_released.fetch_add(finished, std::memory_order_relaxed);
  }
  return static_cast<size_t>(hi - lo);
}

}  // namespace

// The scavenger's batch back on the free list, for a bind that found no
// other stack (the first invariant at the top). Waits for a scavenger
// step, or a free_os_memory, in progress. The stacks finished are on
// `released` already; the rest go to free_tops whatever was released of
// them: a stack's pages fault back in as it grows.
void take_back_scavenger_batch() {
  lock_guard lk(scav.lock);
  lock_guard pl(pool.lock);
  pool.free_tops.push_n(scav.todo.v + scav.done, scav.todo.n - scav.done);  // room: capacity (map_chunk_locked)
  scav.todo.n = scav.done = scav.sorted = 0;
  scav.cursor = nullptr;
}

bool stack_scavenge_step(bool new_period, int64_t deadline) {
  if (new_period) {
    lock_guard lk(pool.lock);
    pool.idle = pool.free_low;
    pool.free_low = pool.free_tops.n;
  }
  // free_os_memory holds it while it releases everything, idle stacks
  // included: nothing to do for the scavenger thread then.
  if (!scav.lock.try_lock()) return false;
  const int64_t start = nanotime();
  const int64_t start_cpu = thread_cpu_ns();
  // The last reading: one per madvise, a system call (12-15 us on the
  // loaded VM, where a madvise costs 75 us or more).
  int64_t cpu = start_cpu;
  bool more = true;
  size_t round_bytes = 0;
  for (;;) {
    if (scav.done == scav.sorted) {
      if (scav.done == scav.todo.n && (!todo_make_room(kStepSlice) || take_idle(kStepSlice) == 0)) {
        more = false;  // (or no memory for the batch: next period)
        break;
      }
      sort_todo();
      cpu = thread_cpu_ns();
    }
    if (nanotime() >= deadline || round_bytes >= kStepBytes) break;
    round_bytes += release_next(std::min(scav.piece, kStepBytes - round_bytes));
    int64_t now_cpu = thread_cpu_ns();
    int64_t took = now_cpu - cpu;
    cpu = now_cpu;
    if (took < kCallNs / 2)
      scav.piece = std::min(scav.piece * 2, kStepBytes);
    else if (took > kCallNs)
      scav.piece = std::max(scav.piece / 2, kMinPiece);
  }
  scav.lock.unlock();
  int64_t took = nanotime() - start;
  int64_t took_cpu = cpu - start_cpu;  // to the last call (the rest is a few loads)
  // (Only the scavenger thread writes them.)
  if (took > g_longest_step_ns.load(std::memory_order_relaxed)) g_longest_step_ns.store(took, std::memory_order_relaxed);
  if (took_cpu > g_longest_step_cpu_ns.load(std::memory_order_relaxed))
    g_longest_step_cpu_ns.store(took_cpu, std::memory_order_relaxed);
  return more;
}

void stack_scavenge_all() {
  lock_guard lk(scav.lock);
  size_t want = 0, capacity = 0;
  {
    lock_guard pl(pool.lock);
    want = pool.free_tops.n;
    capacity = static_cast<size_t>(pool.capacity);
  }
  // Room for every stack there is, if there is memory for it; else as many
  // as fit (the rest wait for the next call or the scavenger thread).
  if (!todo_make_room(capacity)) todo_make_room(0);
  // In pieces, so goroutines starting meanwhile wait little for the lock;
  // at most as many as were free at the call (others keep freeing).
  while (want > 0) {
    size_t k = take_free(std::min(want, kAllTakeAtOnce));
    if (k == 0) break;
    want -= k;
  }
  sort_todo();
  while (scav.done < scav.todo.n) release_next(kAllPieceBytes);
  scav.todo.n = scav.done = scav.sorted = 0;
}

stack_scavenge_counts stack_scavenge_counted() {
  return {g_released.load(std::memory_order_relaxed), g_madvise_calls.load(std::memory_order_relaxed),
          g_longest_step_ns.load(std::memory_order_relaxed), g_longest_step_cpu_ns.load(std::memory_order_relaxed)};
}

uint64_t stack_populated_count() { return g_populated.load(std::memory_order_relaxed); }
bool stack_populate_off() { return g_populate_off.load(std::memory_order_relaxed); }

bool stack_is_guard_hit(const g* gp, const void* addr) {
  if (gp == nullptr || gp->stack_lo == nullptr) return false;
  auto a = reinterpret_cast<uintptr_t>(addr);
  auto lo = reinterpret_cast<uintptr_t>(gp->stack_lo);
  return a < lo && a >= lo - pool.page;
}

}  // namespace goro::detail

namespace goro {

void free_os_memory() {
  detail::ensure_runtime();
  // It may take a while (seconds after a burst of a few 100,000
  // goroutines): on a goroutine, a blocking section lets the monitor give
  // its P to others that wait.
  detail::enter_blocking();
  detail::stack_scavenge_all();
  detail::big_memory_scavenge_all();
  detail::record_pool_release_all();
  detail::exit_blocking();
}

std::size_t set_default_stack_size(std::size_t bytes) {
  using namespace detail;
  ensure_runtime();
  if (bytes > kMaxStack)
    throw std::invalid_argument("goro::set_default_stack_size: " + std::to_string(bytes) +
                                " bytes is over the limit of 1 TiB");
  lock_guard lk(pool.lock);
  size_t old = g_default_size.load(std::memory_order_relaxed);
  if (old == 0) old = pooled_size();
  size_t want = round_up(std::max(bytes, kMinStack), pool.page);
  if (!pool.frozen) {
    pool.size.store(want, std::memory_order_relaxed);
    pool.slot = want + pool.page;
    pool.cache_max.store(cache_max_for(want), std::memory_order_relaxed);
  }
  // Once pooled stacks exist at one size, goroutines of another default
  // size get dedicated stacks (see stack_default_size()).
  g_default_size.store(want, std::memory_order_relaxed);
  return old;
}

}  // namespace goro
