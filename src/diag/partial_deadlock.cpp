// Partial deadlocks: goroutines parked on channels that nothing outside
// them can ever reach (docs/design.md section 7b; Go 1.26 finds the same
// leaks with its garbage collector, the goroutineleak profile).
//
// The question: which goroutines are parked forever on channel operations?
// A goroutine parked on a nil channel is (nobody can wake it), and so is a
// select whose every case's channel is nil (wait_reason::select_nil). For the
// others, with handle tracking on (chan/handles.cpp), this computes the
// greatest set S of channel-parked goroutines such that every channel a
// member of S waits on has all its references held by tracked handles
// that lie in the stacks or closures of members of S. Nobody else holds a
// handle, nobody else can make one (a handle is made only from a handle),
// and the members are parked: no operation on those channels can ever
// happen again. It starts from every channel-parked goroutine and removes,
// to a fixed point, each one that waits on a channel with a reference from
// outside S (a plain thread, the heap, a global, a goroutine not in S, an
// internal reference such as an after() timer's, or an untracked handle).
//
// Consistency without stopping the world. The facts are gathered at
// different times and checked to hold over one interval:
//  P1. For each tracked channel, under its lock: the goroutines queued on
//      it, their operations (a select's every case), their run_gen.
//  P2. Under the tracker's lock (one instant, t): every channel's
//      references and every tracked handle's address and value.
//  P3. For each goroutine from P1, under each of its channels' locks: its
//      sudog is still queued and its select unclaimed; then its run_gen is
//      unchanged and it is still waiting.
// A goroutine passing P3 was parked, in one park, from P1 to P3: a sudog is
// queued only by its goroutine (which then runs: new run_gen) and leaves
// the queue only by a waker's dequeue (which P3 sees). So at t its stack
// and closure were frozen (only a waker writes into a parked goroutine's
// frame, and it dequeues first), and the handles found there at t are what
// they are for good. Those that fail P3 leave the candidates.
//
// Why the handle tracker and not the stacks themselves: reading stack
// memory conservatively would count a stale copy of a channel pointer in a
// dead slot as a handle, and call a reachable channel unreachable. The
// tracker reads only fields of live handles (chan/handles.cpp, H1-H3).
//
// What it cannot see: a pointer or reference to a handle. A goroutine
// started with go([&] { ch.send(1); }) by a goroutine that then parks on
// ch holds no handle, only the parent's address. This file looks for such
// pointers in the closures of all other goroutines (a word pointing into a
// candidate's stack keeps that candidate, and its channels, reachable):
// conservative in the safe direction (a stale word only hides a report).
// Pointers from plain threads, heap objects and other goroutines' stacks
// are not seen: docs/design.md 7b lists what that misses and what it
// wrongly reports.
//
// Lock order: one channel lock at a time, the tracker's lock alone
// (for_each_g takes none). Runs on a report thread or a plain thread.
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "chan/handles.hpp"
#include "diag/diag.hpp"
#include "sched/sched.hpp"

namespace goro::diag {

using namespace goro::detail;

namespace {

template <class T>
T racy_read(const T& field) {
  T v;
  __atomic_load(&field, &v, __ATOMIC_RELAXED);
  return v;
}

struct candidate {
  g* gp = nullptr;
  uint64_t id = 0;
  uint32_t gen = 0;
  const char* stack_lo = nullptr;
  const char* stack_hi = nullptr;
  const char* closure_lo = nullptr;
  const char* closure_hi = nullptr;
  std::vector<chan_wait> ops;
  bool in = true;  // still in S
};

// The candidate whose stack or closure holds addr, or -1.
struct range {
  const char* lo;
  const char* hi;
  int who;
};
int owner_of(const std::vector<range>& rs, const void* addr) {
  const char* a = static_cast<const char*>(addr);
  auto it = std::upper_bound(rs.begin(), rs.end(), a, [](const char* x, const range& r) { return x < r.lo; });
  if (it == rs.begin()) return -1;
  --it;
  return a < it->hi ? it->who : -1;
}

// Copies n bytes at p through the kernel: a closure freed meanwhile fails
// with EFAULT instead of faulting, and no sanitizer sees the read.
// 1 copied, 0 gone (EFAULT), -1 the kernel refuses (sandbox).
int kernel_copy(void* dst, const void* p, size_t n) {
  iovec local{dst, n};
  iovec remote{const_cast<void*>(p), n};
  ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  if (r == static_cast<ssize_t>(n)) return 1;
  return r < 0 && (errno == EPERM || errno == ENOSYS) ? -1 : 0;
}

constexpr size_t kMaxClosureScan = 64 * 1024;

}  // namespace

std::unordered_map<uint64_t, const char*> find_leaked() {
  std::unordered_map<uint64_t, const char*> out;
  static const char* kNil = "blocked on a nil channel";
  static const char* kCycle = "no handle of its channels outside goroutines blocked on them";

  // Nil channels: parked forever, tracking or not. The reason is written
  // before the park and never cleared, as such a goroutine never resumes.
  for_each_g(
      [](g* gp, void* arg) {
        if (gp->is_thread || gp->status.load(std::memory_order_acquire) != g_status::waiting) return;
        wait_reason r = racy_read(gp->reason);
        if (r == wait_reason::chan_receive_nil || r == wait_reason::chan_send_nil || r == wait_reason::select_nil)
          static_cast<std::unordered_map<uint64_t, const char*>*>(arg)->emplace(racy_read(gp->id), kNil);
      },
      &out);

  std::vector<hchan*> chans;
  tracked_channels(chans);  // retained: alive until released below
  if (chans.empty()) return out;

  // P1.
  std::vector<chan_waiter> ws;
  for (hchan* c : chans) chan_waiters(c, ws);
  std::vector<candidate> cs;
  std::unordered_map<g*, int> index;
  for (chan_waiter& w : ws) {
    auto [it, fresh] = index.emplace(w.gp, -1);
    if (!fresh) {
      if (w.claimed && it->second >= 0) cs[static_cast<size_t>(it->second)].in = false;
      continue;
    }
    g* gp = w.gp;
    // Queued and we held the lock it parked with: it is waiting (park
    // stores waiting before the unlock), its fields are its park's.
    candidate k;
    k.gp = gp;
    k.id = racy_read(gp->id);
    k.gen = gp->run_gen.load(std::memory_order_relaxed);
    k.stack_lo = racy_read(gp->stack_lo);
    k.stack_hi = racy_read(gp->stack_hi);
    auto* cl = static_cast<const char*>(racy_read(gp->closure));
    k.closure_lo = cl;
    k.closure_hi = cl != nullptr ? cl + racy_read(gp->closure_size) : nullptr;
    k.ops = std::move(w.ops);
    k.in = !w.claimed && gp->status.load(std::memory_order_acquire) == g_status::waiting;
    it->second = static_cast<int>(cs.size());
    cs.push_back(std::move(k));
  }

  // P2.
  handle_census census;
  take_handle_census(chans, census);

  // P3.
  for (candidate& k : cs) {
    if (!k.in) continue;
    for (const chan_wait& op : k.ops) {
      // A channel with no tracked handle: unknown, reachable as far as we
      // know (and not retained: do not lock it, it may be gone).
      if (!std::binary_search(chans.begin(), chans.end(), op.c) || !chan_still_waiting(op.c, op.s)) {
        k.in = false;
        break;
      }
    }
    if (k.in && (k.gp->run_gen.load(std::memory_order_acquire) != k.gen ||
                 k.gp->status.load(std::memory_order_acquire) != g_status::waiting))
      k.in = false;
  }

  // Where each handle lies.
  std::vector<range> rs;
  for (size_t i = 0; i < cs.size(); i++) {
    if (!cs[i].in) continue;
    int who = static_cast<int>(i);
    if (cs[i].stack_lo != nullptr) rs.push_back({cs[i].stack_lo, cs[i].stack_hi, who});
    if (cs[i].closure_lo != nullptr && cs[i].closure_hi > cs[i].closure_lo)
      rs.push_back({cs[i].closure_lo, cs[i].closure_hi, who});
  }
  std::sort(rs.begin(), rs.end(), [](const range& a, const range& b) { return a.lo < b.lo; });

  // Pointers into a candidate's stack or closure from other goroutines'
  // closures (go([&] {...})): pointed_by[i] lists who points into
  // candidate i; -2 is a goroutine outside the candidates. A closure is
  // pointed into when a goroutine started inside a goroutine captures the
  // outer lambda's captures by reference (go([c = make_chan<int>()] {
  // go([&] { c.send(1); }); ... })): the inner closure holds the address of
  // the outer's handle (found by a review, 2026-12-07: such a receiver was
  // reported leaked, then received).
  std::vector<std::vector<int>> pointed_by(cs.size());
  if (!rs.empty()) {
    struct scan_ctx {
      std::vector<candidate>* cs;
      std::unordered_map<g*, int>* index;
      std::vector<range>* rs;
      std::vector<std::vector<int>>* pointed_by;
      std::vector<uintptr_t> buf;
      bool refused = false;
    } sc{&cs, &index, &rs, &pointed_by, {}, false};
    for_each_g(
        [](g* gp, void* arg) {
          auto* s = static_cast<scan_ctx*>(arg);
          g_status st = gp->status.load(std::memory_order_acquire);
          if (gp->is_thread || st == g_status::idle || st == g_status::dead) return;
          const void* cl = racy_read(gp->closure);
          size_t n = std::min<size_t>(racy_read(gp->closure_size), kMaxClosureScan) / sizeof(uintptr_t);
          if (cl == nullptr || n == 0) return;
          auto it = s->index->find(gp);
          int self = it != s->index->end() ? it->second : -2;
          s->buf.resize(n);
          int r = kernel_copy(s->buf.data(), cl, n * sizeof(uintptr_t));
          if (r < 0) s->refused = true;
          if (r <= 0) return;
          for (uintptr_t w : s->buf) {
            int o = owner_of(*s->rs, reinterpret_cast<const void*>(w));
            if (o < 0 || o == self) continue;
            (*s->pointed_by)[static_cast<size_t>(o)].push_back(self);
          }
        },
        &sc);
    if (sc.refused) {
      // Cannot look for pointers: report no cycle rather than guess.
      for (candidate& k : cs) k.in = false;
    }
  }

  // Per channel: its references, its handles, their holders.
  std::unordered_map<hchan*, size_t> chan_at;
  for (size_t i = 0; i < chans.size(); i++) chan_at.emplace(chans[i], i);
  std::vector<uint64_t> nhandles(chans.size(), 0);
  std::vector<std::vector<int>> holders(chans.size());
  for (const auto& h : census.handles) {
    size_t ci = chan_at.at(h.second);
    nhandles[ci]++;
    holders[ci].push_back(owner_of(rs, h.first));  // -1: outside every candidate
  }

  // The fixed point.
  for (bool changed = true; changed;) {
    changed = false;
    for (candidate& k : cs) {
      if (!k.in) continue;
      bool keep = true;
      for (int o : pointed_by[static_cast<size_t>(&k - cs.data())])
        if (o < 0 || !cs[static_cast<size_t>(o)].in) keep = false;
      for (size_t j = 0; keep && j < k.ops.size(); j++) {
        size_t ci = chan_at.at(k.ops[j].c);
        if (census.refs[ci] == UINT64_MAX || nhandles[ci] != census.refs[ci]) keep = false;
        for (int o : holders[ci])
          if (o < 0 || !cs[static_cast<size_t>(o)].in) keep = false;
      }
      if (!keep) {
        k.in = false;
        changed = true;
      }
    }
  }
  for (const candidate& k : cs)
    if (k.in) out.emplace(k.id, kCycle);

  for (hchan* c : chans) chan_release(c);
  return out;
}

}  // namespace goro::diag
