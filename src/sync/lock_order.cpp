// The lock-order detector for goro::mutex and goro::rwmutex (issue 18): a
// potential deadlock is reported when a goroutine (or thread) acquires
// locks in an order that contradicts an order seen before, even if the two
// orders never met in time, as lockdep and Abseil's deadlock detection do.
//
// The graph. Nodes are lock instances (their address); an edge A -> B says
// "some goroutine acquired B while holding A". Before an acquisition that
// may wait, every lock the caller holds gives an edge to the lock being
// acquired; an edge that would close a cycle (B already reaches A) is an
// inversion: it is reported with the stack of the current acquisition and
// the stack recorded with each edge of the path B -> ... -> A, and is not
// added (the graph stays acyclic, so the search below always ends).
//
// Why instances and not acquisition sites. A node per acquisition site
// (the caller's return address) keeps the graph small, but cannot see the
// classic inversion: `a.lock(); b.lock();` on lines 10-11 and
// `b.lock(); a.lock();` on lines 20-21 give the edges 10 -> 11 and
// 20 -> 21, with no cycle, since nothing says that the lock taken at 11 is
// the one taken at 20; and one helper `lock_both(x, y)` called with (a, b)
// and (b, a) gives one edge twice. Joining sites by the lock they take
// needs a record per instance anyway. So nodes are instances, and the
// graph is kept small another way:
//  - only locks that are held while another is taken, or taken while
//    another is held, get a node: a million locks that never nest cost
//    nothing; each node and edge is made once, at its first occurrence;
//  - a lock's node goes when the lock is destroyed (~mutex, ~rwmutex call
//    lock_order_forget once the graph has had a node), so a new lock at a
//    reused address does not inherit old edges (a false report);
//  - at most kMaxNodes nodes and kMaxEdges edges: beyond that, new orders
//    are not recorded (said once on stderr), old ones are still checked.
// Instances also keep hand-over-hand locking (node i, then i+1, across
// many instances of one kind of lock) free of false reports: the edges
// form a chain, which has no cycle.
//
// What it does not report: an edge into a try_lock (it never waits, and
// "lock A, try_lock B, back off on failure" is how code takes locks
// against the order); re-acquiring a lock the caller already holds (a
// goro::mutex may be unlocked by another goroutine, so lock; lock is a
// legal hand-off; a real self-deadlock is the deadlock detector's);
// orders through other kinds of waits (channels, wait_groups, conds).
// Read locks count as locks: goro's rwmutex prefers writers, so two
// readers that take two rwmutexes in opposite orders deadlock once a
// writer waits on each.
//
// Held lists. Each goroutine has one (g::held_locks, made on first use
// and kept by the g record, which is never freed; entries are tagged with
// the goroutine's id, so a record's next goroutine starts empty), each
// plain thread a thread-local one. Not a thread-local for goroutines: a
// goroutine that parks may resume on another worker. Because a goro lock
// may be released by another goroutine than the one that took it, a
// release that finds nothing in the caller's list looks through every
// list (rare); so lists are read and written only under the detector's
// lock, never by their owner alone.
//
// Invariants (under det.mu):
//  L1. The graph has no cycle (an edge that would close one is refused).
//  L2. by_addr maps exactly the live nodes; a node's serial is unique for
//      the life of the process, and an edge whose to_serial differs from
//      its target's serial points to a forgotten lock and is ignored.
//  L3. An entry for an exclusive hold is in exactly one list (removed
//      before the lock is released, so the next holder's entry comes
//      after it).
//
// Lock order: det.mu is a leaf spinlock, not a goro::mutex (that would
// recurse) and not a runtime_lock (those tell TSan about happens-before,
// which would hide races between goroutines in TSan builds). Nothing is
// acquired under it but malloc's locks; the report is printed after
// releasing it (symbolizing takes milliseconds), under print_mu, a second
// leaf spinlock.
//
// Cost when off: each lock operation reads lock_order_state (one relaxed
// byte load and a predictable branch, inline); destructors the same.
// When on: every acquisition and release takes det.mu; a new edge also
// captures a stack (backtrace) and searches the graph. A tool for tests
// and debug builds, not production.
#include "sync/lock_order.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/check.hpp"
#include "base/debug_env.hpp"
#include "base/spinlock.hpp"
#include "base/symbolize.hpp"
#include "goro/detail/lock_order.hpp"
#include "goro/lock_order.hpp"
#include "sched/g.hpp"
#include "sched/sched.hpp"
#include "sched/test_hooks.hpp"

#if !defined(GORO_LOCKORDER_DEFAULT)
#define GORO_LOCKORDER_DEFAULT 0
#endif

namespace goro::detail {

namespace {
constexpr int kDefaultMode = GORO_LOCKORDER_DEFAULT;

constexpr int kMaxHeld = 32;        // locks one goroutine holds that are tracked
constexpr int kStackDepth = 32;     // frames kept per edge
constexpr size_t kMaxNodes = 1 << 16;
constexpr size_t kMaxEdges = 1 << 16;

std::atomic<uint64_t> g_reports{0};

int current_mode() {
  uint8_t st = lock_order_state.load(std::memory_order_relaxed);
  if ((st & kLockOrderOn) == 0) return 0;
  return (st & kLockOrderFatal) != 0 ? 2 : 1;
}


#if defined(GORO_TSAN)
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#endif

// Holds a spinlock. Under TSan it also makes the thread's malloc and free
// invisible for its scope: the spinlock's atomics are not instrumented (the
// runtime is not), so TSan would take the detector's memory, allocated on
// one goroutine and freed on another, for a race; ordering them through
// race_acquire/release instead would order every two goroutines that
// lock anything while the check is on, and hide their real races.
struct spin_guard {
  explicit spin_guard(spinlock& l) : l_(l) {
    l_.lock();
#if defined(GORO_TSAN)
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
  }
  ~spin_guard() {
#if defined(GORO_TSAN)
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#endif
    l_.unlock();
  }
  spin_guard(const spin_guard&) = delete;
  spin_guard& operator=(const spin_guard&) = delete;
  spinlock& l_;
};

struct held_entry {
  const void* lock;
  lock_kind kind;
  bool shared;
};

// One goroutine's or thread's held locks, innermost last.
struct held_list {
  held_list* next = nullptr;  // the registry (det.lists), for foreign releases
  held_list* prev = nullptr;
  uint64_t life = 0;          // the goroutine id the entries belong to; 0 on a thread
  int n = 0;
  int untracked = 0;          // acquisitions beyond kMaxHeld, not recorded
  held_entry e[kMaxHeld];
};

// Who acquired, for reports.
struct owner_id {
  uint64_t goid = 0;  // 0: a plain thread
  int tid = 0;
};

struct stack_rec {
  void* pcs[kStackDepth];
  int n = 0;
  owner_id who;
  const void* from = nullptr;  // held
  const void* to = nullptr;    // acquired
};

struct edge {
  uint32_t to;
  uint64_t to_serial;
  uint32_t rec;  // index in det.recs: the stack that made the edge
};

struct node {
  const void* addr = nullptr;
  uint64_t serial = 0;  // 0: free slot
  lock_kind kind = lock_kind::mutex;
  std::vector<edge> out;
  // Search scratch: the epoch of the last visit, and the edge it came by.
  uint64_t stamp = 0;
  uint32_t via_node = 0;
  uint32_t via_rec = 0;
};

struct detector {
  spinlock mu;
  held_list* lists = nullptr;  // every held list (guarded by mu, as are all below)
  std::unordered_map<const void*, uint32_t> by_addr;
  std::vector<node> nodes;
  std::vector<uint32_t> free_nodes;
  std::vector<stack_rec> recs;
  std::vector<uint32_t> free_recs;
  size_t live_nodes = 0, live_edges = 0;
  uint64_t next_serial = 1;
  uint64_t epoch = 0;
  std::set<std::pair<uint64_t, uint64_t>> reported;  // (held, acquired) serials already reported
  bool full_said = false;
};

// Immortal: the destructors of static locks call into it at exit.
detector& det() {
  static detector* d = new detector;
  return *d;
}

spinlock print_mu;

const char* kind_name(lock_kind k) { return k == lock_kind::mutex ? "mutex" : "rwmutex"; }

void list_link(detector& d, held_list* l) {
  l->next = d.lists;
  if (d.lists != nullptr) d.lists->prev = l;
  d.lists = l;
}

void list_unlink(detector& d, held_list* l) {
  if (l->prev != nullptr) l->prev->next = l->next;
  else d.lists = l->next;
  if (l->next != nullptr) l->next->prev = l->prev;
}

// A plain thread's list, registered on first use, dropped at thread exit
// (a goro lock the thread still holds is then released by someone else,
// whose release finds no entry and is ignored).
//
// After the destructor the thread is untracked (`gone`): thread-local
// destructors that run later (and, on the main thread, the static
// destructors after exit()'s thread-local ones) may still lock goro
// mutexes, and used to write into the freed list.
struct thread_held {
  held_list* l = nullptr;
  bool gone = false;
  ~thread_held() {
    gone = true;
    // In a forked child det.mu may be held by a thread that is gone.
    if (l == nullptr || in_forked_child()) return;
    detector& d = det();
    spin_guard g(d.mu);
    list_unlink(d, l);
    delete l;
    l = nullptr;
  }
};
thread_local thread_held t_held;

// The caller's held list (made if `make`), and who the caller is. Under
// d.mu. A goroutine does not switch inside the detector, so its M and g
// stay put for the call.
held_list* my_list(detector& d, bool make, owner_id* who) {
  m* mp = current_m();
  if (mp != nullptr && mp->curg != nullptr) {
    g* gp = mp->curg;
    if (who != nullptr) who->goid = gp->id;
    auto* l = static_cast<held_list*>(gp->held_locks);
    if (l == nullptr) {
      if (!make) return nullptr;
      l = new held_list;
      list_link(d, l);
      gp->held_locks = l;
    }
    if (l->life != gp->id) {  // the record's previous goroutine's locks
      l->life = gp->id;
      l->n = 0;
      l->untracked = 0;
    }
    return l;
  }
  if (who != nullptr) who->tid = static_cast<int>(syscall(SYS_gettid));
  if (t_held.gone) return nullptr;
  if (t_held.l == nullptr && make) {
    t_held.l = new held_list;
    list_link(d, t_held.l);
  }
  return t_held.l;
}

node* find_node(detector& d, const void* lock) {
  auto it = d.by_addr.find(lock);
  return it == d.by_addr.end() ? nullptr : &d.nodes[it->second];
}

// The node of `lock`, made if needed; UINT32_MAX when the graph is full.
uint32_t node_of(detector& d, const void* lock, lock_kind kind) {
  auto it = d.by_addr.find(lock);
  if (it != d.by_addr.end()) return it->second;
  if (d.live_nodes >= kMaxNodes) return UINT32_MAX;
  uint32_t i;
  if (!d.free_nodes.empty()) {
    i = d.free_nodes.back();
    d.free_nodes.pop_back();
  } else {
    i = static_cast<uint32_t>(d.nodes.size());
    d.nodes.emplace_back();
  }
  node& nd = d.nodes[i];
  nd.addr = lock;
  nd.serial = d.next_serial++;
  nd.kind = kind;
  nd.out.clear();
  d.by_addr.emplace(lock, i);
  d.live_nodes++;
  if ((lock_order_state.load(std::memory_order_relaxed) & kLockOrderNodes) == 0)
    lock_order_state.fetch_or(kLockOrderNodes, std::memory_order_relaxed);
  return i;
}

void free_rec(detector& d, uint32_t r) {
  d.free_recs.push_back(r);
  d.live_edges--;
}

bool edge_live(const detector& d, const edge& e) { return d.nodes[e.to].serial == e.to_serial; }

// Whether from -> to is in the graph; drops from's edges to forgotten
// locks on the way.
bool has_edge(detector& d, uint32_t from, uint32_t to) {
  std::vector<edge>& out = d.nodes[from].out;
  bool found = false;
  for (size_t k = 0; k < out.size();) {
    if (!edge_live(d, out[k])) {
      free_rec(d, out[k].rec);
      out[k] = out.back();
      out.pop_back();
      continue;
    }
    if (out[k].to == to) found = true;
    k++;
  }
  return found;
}

// Whether `from` reaches `target`; if so, the path's nodes carry via_node
// and via_rec back to `from`.
bool reaches(detector& d, uint32_t from, uint32_t target) {
  uint64_t ep = ++d.epoch;
  std::vector<uint32_t> work{from};
  d.nodes[from].stamp = ep;
  while (!work.empty()) {
    uint32_t u = work.back();
    work.pop_back();
    for (const edge& e : d.nodes[u].out) {
      if (!edge_live(d, e)) continue;
      node& v = d.nodes[e.to];
      if (v.stamp == ep) continue;
      v.stamp = ep;
      v.via_node = u;
      v.via_rec = e.rec;
      if (e.to == target) return true;
      work.push_back(e.to);
    }
  }
  return false;
}

// One inversion, copied out of the graph to be printed without det.mu.
struct report {
  stack_rec cur;                 // now: holding cur.from, acquiring cur.to
  lock_kind from_kind = lock_kind::mutex, to_kind = lock_kind::mutex;
  std::vector<stack_rec> path;   // earlier: cur.to -> ... -> cur.from, in order
  std::vector<std::pair<lock_kind, lock_kind>> path_kinds;
};

void print_who(const owner_id& w) {
  if (w.goid != 0)
    print_stderr("goroutine %" PRIu64, w.goid);
  else
    print_stderr("thread %d", w.tid);
}

void print_report(void* arg) {
  auto* r = static_cast<report*>(arg);
  const bool fatal_mode = current_mode() == 2;
  write_stderr(fatal_mode ? "fatal error: lock order inversion (potential deadlock)\n\n"
                          : "WARNING: lock order inversion (potential deadlock)\n\n");
  print_who(r->cur.who);
  print_stderr(" acquires %s %p while holding %s %p:\n", kind_name(r->to_kind), r->cur.to, kind_name(r->from_kind),
               r->cur.from);
  print_return_frames(2, r->cur.pcs, r->cur.n);
  for (size_t i = 0; i < r->path.size(); i++) {
    const stack_rec& s = r->path[i];
    write_stderr("\nearlier, ");
    print_who(s.who);
    print_stderr(" acquired %s %p while holding %s %p:\n", kind_name(r->path_kinds[i].second), s.to,
                 kind_name(r->path_kinds[i].first), s.from);
    print_return_frames(2, s.pcs, s.n);
  }
  write_stderr(fatal_mode ? "\n" : "\n(report mode: each inverted pair of locks is reported once; the program goes on)\n\n");
}

}  // namespace

void lock_order_before_wait(const void* lock, lock_kind kind) {
  // In a forked child the detector is the parent's: its spinlock may be
  // held for good by a thread fork() left behind (test
  // Fork.ChildLocksAMutexWhileTheLockOrderCheckIsHeld). Unchecked there.
  if (in_forked_child()) return;
  detector& d = det();
  held_entry held[kMaxHeld];
  int nheld = 0;
  owner_id who;
  {
    spin_guard g(d.mu);
    held_list* l = my_list(d, false, &who);
    if (l == nullptr || l->n == 0) return;
    // Re-acquiring a lock the caller holds (a mutex another goroutine
    // will hand over by unlocking it, a recursive read lock) orders
    // nothing: an edge from each other lock held to it would be reversed
    // by the one its first acquisition recorded, and the two reported as
    // an inversion with the same goroutine on both sides.
    for (int i = 0; i < l->n; i++)
      if (l->e[i].lock == lock) return;
    node* to = find_node(d, lock);
    for (int i = 0; i < l->n; i++) {
      node* from = find_node(d, l->e[i].lock);
      if (to != nullptr && from != nullptr) {
        auto fi = static_cast<uint32_t>(from - d.nodes.data());
        auto ti = static_cast<uint32_t>(to - d.nodes.data());
        // A known order, or an inversion reported already.
        if (has_edge(d, fi, ti) || d.reported.count({from->serial, to->serial}) != 0) continue;
      }
      held[nheld++] = l->e[i];
    }
  }
  if (nheld == 0) return;

  // A new order (or one to look at again): capture the stack without the
  // lock, then record or report.
  stack_rec cur;
  cur.n = stack_pcs(cur.pcs, kStackDepth, 1);  // from our caller (lock_checked, rwmutex::lock)
  cur.who = who;
  cur.to = lock;
  std::vector<report*> reports;
  {
    spin_guard g(d.mu);
    uint32_t to = node_of(d, lock, kind);
    for (int i = 0; i < nheld && to != UINT32_MAX; i++) {
      uint32_t from = node_of(d, held[i].lock, held[i].kind);
      if (from == UINT32_MAX) break;
      if (has_edge(d, from, to)) continue;
      if (reaches(d, to, from)) {
        // Inversion: to -> ... -> from exists; from -> to would close it.
        if (!d.reported.emplace(d.nodes[from].serial, d.nodes[to].serial).second) continue;
        auto* r = new report;
        r->cur = cur;
        r->cur.from = held[i].lock;
        r->from_kind = d.nodes[from].kind;
        r->to_kind = d.nodes[to].kind;
        std::vector<uint32_t> back;  // from, ..., to (following via)
        for (uint32_t v = from; v != to; v = d.nodes[v].via_node) {
          r->path.push_back(d.recs[d.nodes[v].via_rec]);
          r->path_kinds.emplace_back(d.nodes[d.nodes[v].via_node].kind, d.nodes[v].kind);
        }
        // Collected from the end of the path: put it in order to -> from.
        std::reverse(r->path.begin(), r->path.end());
        std::reverse(r->path_kinds.begin(), r->path_kinds.end());
        reports.push_back(r);
        continue;
      }
      if (d.live_edges >= kMaxEdges) {
        if (!d.full_said) {
          d.full_said = true;
          print_stderr("goro: lock order check: %zu orders recorded, the limit; later new orders are not checked\n",
                       d.live_edges);
        }
        break;
      }
      uint32_t r;
      if (!d.free_recs.empty()) {
        r = d.free_recs.back();
        d.free_recs.pop_back();
      } else {
        r = static_cast<uint32_t>(d.recs.size());
        d.recs.emplace_back();
      }
      d.recs[r] = cur;
      d.recs[r].from = held[i].lock;
      d.live_edges++;
      d.nodes[from].out.push_back(edge{to, d.nodes[to].serial, r});
    }
    if (to == UINT32_MAX && !d.full_said) {
      d.full_said = true;
      print_stderr("goro: lock order check: %zu locks recorded, the limit; later new orders are not checked\n",
                   d.live_nodes);
    }
  }
  for (report* r : reports) {
    g_reports.fetch_add(1, std::memory_order_relaxed);
    if (current_mode() == 2) mark_process_dying();
    {
      spin_guard g(print_mu);
      run_on_report_thread(print_report, r);
    }
    delete r;
    if (current_mode() == 2) _exit(2);
  }
}

void lock_order_acquired(const void* lock, lock_kind kind, bool shared) {
  if (in_forked_child()) return;  // as lock_order_before_wait
  detector& d = det();
  spin_guard g(d.mu);
  if (auto hook = test_hooks::lock_order_recording.load(std::memory_order_relaxed)) hook();
  // The caller saw the check on before it waited for the lock; it may have
  // been switched off since (set_mode clears every list under d.mu). An
  // entry added now would never be released (releases are not recorded
  // while off) and would stand for a lock not held once the check is on
  // again: false inversions. Look again under d.mu.
  if (!lock_order_on()) return;
  held_list* l = my_list(d, true, nullptr);
  if (l == nullptr) return;  // a thread past its thread-local destructors
  if (l->n == kMaxHeld) {
    l->untracked++;
    return;
  }
  l->e[l->n++] = held_entry{lock, kind, shared};
}

namespace {
bool remove_entry(held_list* l, const void* lock, bool shared) {
  for (int i = l->n - 1; i >= 0; i--) {
    if (l->e[i].lock != lock || l->e[i].shared != shared) continue;
    for (int k = i; k + 1 < l->n; k++) l->e[k] = l->e[k + 1];
    l->n--;
    return true;
  }
  return false;
}
}  // namespace

void lock_order_released(const void* lock, bool shared) noexcept {
  if (in_forked_child()) return;  // as lock_order_before_wait
  detector& d = det();
  spin_guard g(d.mu);
  held_list* mine = my_list(d, false, nullptr);
  if (mine != nullptr && remove_entry(mine, lock, shared)) return;
  // One of ours that a full list did not record (before any other list's:
  // taking another's entry would leave it standing for a lock not held).
  if (mine != nullptr && mine->untracked > 0) {
    mine->untracked--;
    return;
  }
  // Released by another goroutine or thread than the one that took it
  // (Go allows it). One holder: its entry. Several readers: which one's
  // hold this ends cannot be told, and a guess that is wrong leaves an
  // entry for a lock its goroutine no longer holds, whose later orders are
  // then false inversions. So every reader's entry goes: a reader that
  // still holds it is unchecked for it from here (orders missed, never
  // invented).
  held_list* holder = nullptr;
  int holders = 0;
  for (held_list* l = d.lists; l != nullptr; l = l->next) {
    if (l == mine) continue;
    for (int i = 0; i < l->n; i++) {
      if (l->e[i].lock == lock && l->e[i].shared == shared) {
        holder = l;
        holders++;
        break;
      }
    }
  }
  if (holders == 1) {
    remove_entry(holder, lock, shared);
    return;
  }
  for (held_list* l = d.lists; l != nullptr; l = l->next)
    if (l != mine)
      while (remove_entry(l, lock, shared)) {
      }
}

void lock_order_forget(const void* lock) noexcept {
  if (in_forked_child()) return;  // as lock_order_before_wait
  detector& d = det();
  spin_guard g(d.mu);
  auto it = d.by_addr.find(lock);
  if (it == d.by_addr.end()) return;
  node& nd = d.nodes[it->second];
  for (const edge& e : nd.out) free_rec(d, e.rec);
  nd.out.clear();
  nd.out.shrink_to_fit();
  nd.serial = 0;  // edges into it are now stale (L2)
  nd.addr = nullptr;
  d.free_nodes.push_back(it->second);
  d.by_addr.erase(it);
  d.live_nodes--;
}

namespace {
void set_mode(int m) {
  if (m < 0 || m > 2) m = m < 0 ? 0 : 2;
  detector& d = det();
  spin_guard g(d.mu);
  if (m == 2)
    lock_order_state.fetch_or(kLockOrderFatal, std::memory_order_relaxed);
  else
    lock_order_state.fetch_and(static_cast<uint8_t>(~kLockOrderFatal), std::memory_order_relaxed);
  if (m != 0) {
    lock_order_state.fetch_or(kLockOrderOn, std::memory_order_relaxed);
  } else {
    lock_order_state.fetch_and(static_cast<uint8_t>(~kLockOrderOn), std::memory_order_relaxed);
    // Held entries would go stale while nobody records releases.
    for (held_list* l = d.lists; l != nullptr; l = l->next) {
      l->n = 0;
      l->untracked = 0;
    }
  }
}

// $GORO_DEBUG=lockorder=N overrides the build's default, before main.
__attribute__((constructor)) void lock_order_from_env() {
  int m = debug_setting("lockorder", kDefaultMode);
  if (m != kDefaultMode) set_mode(m);
}
}  // namespace

}  // namespace goro::detail

namespace goro::debug {

void set_lock_order_check(lock_order_mode mode) { detail::set_mode(static_cast<int>(mode)); }

lock_order_mode lock_order_check() { return static_cast<lock_order_mode>(detail::current_mode()); }

uint64_t lock_order_reports() { return detail::g_reports.load(std::memory_order_relaxed); }

}  // namespace goro::debug
