// The select engine: Go's selectgo (src/runtime/select.go), over the
// channel core of src/chan/.
//
//  1. Poll order: the non-nil cases in a uniformly random order (a table
//     permutation up to 5 cases, Fisher-Yates above; one per-thread
//     wyrand number per select), so that every ready case is equally
//     likely. Lock order: the same cases sorted by channel address, so that
//     two selects over the same channels never deadlock (lock rank `chan`
//     allows nesting only in increasing address order).
//  2. Pass 1, without holding several locks: each case's non-blocking
//     operation in poll order (lock-free on buffered channels). The first
//     that succeeds is the select's choice, linearized at that operation.
//  3. Pass 2, Go's: lock every channel, try the cases in poll order under
//     the locks (exact: at this instant no case was ready, or this one
//     was). With a default case, stop here, if no lock-free ring moved
//     during the pass (ring_positions); else pass 2 again.
//  4. Otherwise enqueue one sudog per case (on this stack, I3), all sharing
//     one select_ctl; set the waiter flags, let serve_locked() settle
//     lock-free channels (I2), and park with an unlock function that
//     releases every lock. The first waker wins select_ctl::done (I4) and
//     writes which case fired.
//  5. Woken: lock every channel again and unlink the sudogs that did not
//     fire, so no trace is left in other queues; `retry` starts over.
//
// Handlers (the typed layer) run after select_go returns, with no lock held.
// Who touches what: sudogs and select_ctl as in chan/hchan.hpp. Lock order:
// all channel locks of the select, by increasing address; none other.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>

#include "base/check.hpp"
#include "chan/hchan.hpp"
#include "goro/detail/chan_select.hpp"
#include "sched/park.hpp"
#include "sched/sched.hpp"
#include "sched/test_hooks.hpp"

namespace goro::detail {

namespace {

// wyrand (Wang Yi, public domain): one 64-bit multiply per number. The
// state is per thread; noinline so that a goroutine that migrated rereads
// the thread pointer (docs/design.md, TLS across migration). Initial-exec
// TLS: in the position-independent library a plain thread_local costs a
// call to __tls_get_addr per select.
__attribute__((tls_model("initial-exec"))) constinit thread_local uint64_t t_fastrand_state = 0;

__attribute__((noinline)) uint64_t fastrand64() {
  uint64_t& state = t_fastrand_state;
  if (state == 0) {
    state = reinterpret_cast<uintptr_t>(&state) ^
            static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^ 1;
  }
  state += 0xa0761d6478bd642fULL;
  __uint128_t m = static_cast<__uint128_t>(state) * (state ^ 0xe7037ed1a0b428dbULL);
  return static_cast<uint64_t>(m >> 64) ^ static_cast<uint64_t>(m);
}

// Uniform integers below small bounds, several from one 64-bit random
// number (batched ranged draws, Brackett-Rozinsky and Lemire 2024): the
// high half of r * bound is the draw, the low half the next r, so a
// shuffle costs one random number, not one per case (callgrind, 4-case
// selects: 30 instructions fewer per select than one fastrandn call per
// case, before the table below took over such selects). Without the paper's rejection
// step a draw is biased by at most the product of the bounds drawn from
// one r over 2^64; a fresh r is taken before that product passes 2^32,
// so the bias stays under 2^-32 (Go's fastrandn: bound / 2^32).
struct ranged_rand {
  uint64_t r = 0;
  uint64_t product = uint64_t{1} << 33;  // forces a fresh r at the first draw

  uint32_t below(uint32_t bound) {
    product *= bound;
    if (product > (uint64_t{1} << 32)) {
      r = fastrand64();
      product = bound;
    }
    __uint128_t m = static_cast<__uint128_t>(r) * bound;
    r = static_cast<uint64_t>(m);
    return static_cast<uint32_t>(m >> 64);
  }
};

// Every permutation of 2 to 5 cases, four bits per position: a select of
// up to 5 cases takes its poll order from one random number and one table
// entry (callgrind, 4-case selects: 34 instructions fewer per select than
// Fisher-Yates with ranged_rand).
constexpr int kMaxTabled = 5;

template <int N>
constexpr auto make_perms() {
  constexpr int count = [] {
    int f = 1;
    for (int i = 2; i <= N; i++) f *= i;
    return f;
  }();
  std::array<uint8_t, N> a{};
  for (int i = 0; i < N; i++) a[i] = static_cast<uint8_t>(i);
  std::array<uint32_t, count> out{};
  int k = 0;
  do {
    uint32_t packed = 0;
    for (int i = 0; i < N; i++) packed |= static_cast<uint32_t>(a[i]) << (4 * i);
    out[k++] = packed;
  } while (std::next_permutation(a.begin(), a.end()));
  return out;
}

constexpr auto kPerms2 = make_perms<2>();
constexpr auto kPerms3 = make_perms<3>();
constexpr auto kPerms4 = make_perms<4>();
constexpr auto kPerms5 = make_perms<5>();

// A uniformly random permutation of n (2..5) cases, packed as above.
uint32_t random_perm(int n) {
  const uint32_t* table;
  uint64_t count;
  switch (n) {
    case 2: table = kPerms2.data(), count = kPerms2.size(); break;
    case 3: table = kPerms3.data(), count = kPerms3.size(); break;
    case 4: table = kPerms4.data(), count = kPerms4.size(); break;
    default: table = kPerms5.data(), count = kPerms5.size(); break;
  }
  // Lemire's reduction of 64 random bits: bias count / 2^64.
  return table[static_cast<uint64_t>((static_cast<__uint128_t>(fastrand64()) * count) >> 64)];
}

struct lock_set {
  scase* cs;
  uint16_t* lockorder;
  int n;

  void lock() {
    for (int i = 0; i < n; i++) {
      hchan* c = cs[lockorder[i]].c;
      if (i == 0 || c != cs[lockorder[i - 1]].c) c->lock_.lock();
    }
  }
  void unlock() {
    for (int i = n - 1; i >= 0; i--) {
      hchan* c = cs[lockorder[i]].c;
      if (i == 0 || c != cs[lockorder[i - 1]].c) c->lock_.unlock();
    }
  }
  // Calls f(c) once per distinct channel.
  template <class F>
  void each_chan(F f) {
    for (int i = 0; i < n; i++) {
      hchan* c = cs[lockorder[i]].c;
      if (i == 0 || c != cs[lockorder[i - 1]].c) f(c);
    }
  }
};

// The sum of the ring positions of the select's lock-free channels. Their
// fast paths do not take the lock, so pass 2 holding every lock does not
// stop them: a select with a default case reads this before and after its
// pass, and decides "nothing is ready" only if it did not change. head_
// and tail_ only grow (tail_'s closed mark too), so an unchanged sum means
// that no position moved between its two reads; then at an instant between
// the last read of the first sum and the first of the second, every ring
// was as its case found it (each case's result depends only on the
// positions: an operation in flight is waited out), and the locked
// channels were held still by their locks: Go's single instant.
//
// Only the position that can end a case's "would block" is counted: tail_
// for a receive (a push, or the closed mark, makes it ready), head_ for a
// send (a pop makes room). In a case's would-block state the other
// position cannot move either (an empty ring's head_ equals its tail_; a
// full ring's tail_ cannot pass head_ + cap), so an unchanged sum still
// means every case stayed as found from its check to the second read:
// then they all would block at that instant. Counting both made the
// select's own work look like a move: pass 2 filling the slot a lock-free
// receive had just freed from a parked sender (tail_) cost another pass
// every time.
uint64_t ring_positions(const scase* cs, const uint16_t* order, int n) {
  uint64_t sum = 0;
  for (int i = 0; i < n; i++) {
    const scase& sc = cs[order[i]];
    if (!sc.c->lock_free()) continue;
    // seq_cst loads. Without the park bit (chan/ring.hpp): a waiter
    // parking or leaving moves no value (the closed mark stays: a close
    // makes a receive ready).
    const hchan_ring* r = sc.c->ring();
    sum += (sc.is_send ? r->head_.load() : r->tail_.load()) & ~r->park_bit_;
  }
  return sum;
}

bool unlock_all(g*, void* arg) {
  static_cast<lock_set*>(arg)->unlock();
  return true;
}

[[noreturn]] void block_forever(wait_reason why) {
  park(why, [](g*, void*) { return true; }, nullptr);
  fatal("select with no ready case was woken");
}

// Pass 1: case k's non-blocking operation.
op_result try_case(scase& sc) {
  return sc.is_send ? chan_try_send(sc.c, sc.elem) : chan_try_recv(sc.c, sc.elem);
}

}  // namespace

int select_go(scase* cs, int n, bool block) {
  // Scratch: poll order and lock order. Selects are small; rarely heap.
  constexpr int small = 16;
  uint16_t order_small[2 * small];
  // Constructed when used; never destroyed: only sudog::error has a
  // destructor, and it is always empty when we leave (moved out above).
  alignas(sudog) unsigned char sg_small[small * sizeof(sudog)];
  std::unique_ptr<uint16_t[]> order_heap;
  std::unique_ptr<sudog[]> sg_heap;
  uint16_t* pollorder = order_small;
  sudog* sgs = reinterpret_cast<sudog*>(sg_small);
  if (n > small) {
    GORO_CHECK(n <= 65536);  // case indices are 16-bit; goro::select(span) refuses more
    order_heap.reset(new uint16_t[2 * n]);
    sg_heap.reset(new sudog[n]);
    pollorder = order_heap.get();
    sgs = sg_heap.get();
  }

  // 1. Poll order over the non-nil cases. Up to kMaxTabled cases: a table
  // permutation of all of them, nil ones left out (what remains is a
  // uniformly random order of the live ones). More: Fisher-Yates.
  int np = 0;
  if (n <= kMaxTabled) {
    uint32_t perm = n >= 2 ? random_perm(n) : 0;
    for (int i = 0; i < n; i++) {
      uint16_t k = static_cast<uint16_t>((perm >> (4 * i)) & 15);
      if (cs[k].c) pollorder[np++] = k;
    }
  } else {
    ranged_rand rnd;
    for (int i = 0; i < n; i++) {
      if (!cs[i].c) continue;
      uint32_t j = np == 0 ? 0 : rnd.below(static_cast<uint32_t>(np + 1));
      pollorder[np] = pollorder[j];
      pollorder[j] = static_cast<uint16_t>(i);
      np++;
    }
  }
  if (np == 0) {
    if (!block) {
      preempt_check();  // a safe point, as a channel operation's end
      return -1;
    }
    // One case: Go's compiler makes it the channel operation itself, which
    // parks as "chan receive (nil chan)" or "chan send (nil chan)".
    block_forever(n == 0   ? wait_reason::select_no_cases
                  : n == 1 ? (cs[0].is_send ? wait_reason::chan_send_nil : wait_reason::chan_receive_nil)
                           : wait_reason::select_nil);
  }

  // 2. Pass 1: each case alone, no lock held across cases.
  for (int i = 0; i < np; i++) {
    scase& sc = cs[pollorder[i]];
    op_result r = try_case(sc);
    if (r != op_result::would_block) {
      sc.ok = r == op_result::ok;
      // A safe point, as the end of a send or receive: a loop of selects
      // that always find a case ready yields when the monitor asks.
      preempt_check();
      return pollorder[i];
    }
  }

  // Lock order, needed from here on only (pass 1 usually succeeds under
  // load). A select's few cases are sorted by a plain insertion sort:
  // std::sort's, for 4 cases, went through memmove calls.
  uint16_t* lockorder = pollorder + np;
  auto by_chan = [cs](uint16_t a, uint16_t b) { return cs[a].c < cs[b].c; };
  if (np <= small) {
    for (int i = 0; i < np; i++) {
      uint16_t k = pollorder[i];
      int j = i;
      for (; j > 0 && by_chan(k, lockorder[j - 1]); j--) lockorder[j] = lockorder[j - 1];
      lockorder[j] = k;
    }
  } else {
    std::copy(pollorder, pollorder + np, lockorder);
    std::sort(lockorder, lockorder + np, by_chan);
  }
  lock_set locks{cs, lockorder, np};

  g* self = current_waiter();
  for (;;) {
    // 3. Pass 2: every lock held, poll order.
    ready_list rl;
    if (auto hook = test_hooks::select_pass2_round.load(std::memory_order_relaxed)) hook();
    locks.lock();
    const uint64_t positions = block ? 0 : ring_positions(cs, pollorder, np);
    for (int i = 0; i < np; i++) {
      scase& sc = cs[pollorder[i]];
      op_result r;
      try {
        r = sc.is_send ? send_locked(sc.c, sc.elem, rl) : recv_locked(sc.c, sc.elem, rl);
      } catch (...) {
        locks.unlock();
        rl.ready_all();
        throw;
      }
      if (r != op_result::would_block) {
        locks.unlock();
        rl.ready_all();
        sc.ok = r == op_result::ok;
        return pollorder[i];
      }
    }
    if (!block) {
      bool still = ring_positions(cs, pollorder, np) == positions;
      locks.unlock();
      rl.ready_all();
      if (still) {
        preempt_check();  // a polling loop (select with a default) yields when asked
        return -1;
      }
      // A ring moved meanwhile in a way that could have made a case ready:
      // look again (each round follows another goroutine's progress), at a
      // safe point first, so that a long run of them yields when asked.
      preempt_check();
      continue;
    }

    // 4. Enqueue on every channel, settle lock-free rings, park.
    select_ctl sel;
    sel.sgs = sgs;
    sel.n = np;
    for (int i = 0; i < np; i++) {
      int k = lockorder[i];
      sudog* s = ::new (&sgs[i]) sudog{};
      s->gp = self;
      s->elem = cs[k].elem;
      s->c = cs[k].c;
      s->sel = &sel;
      s->case_index = static_cast<uint32_t>(k);
      s->is_send = cs[k].is_send;
      (s->is_send ? s->c->sendq_ : s->c->recvq_).enqueue(s);
    }
    locks.each_chan([](hchan* c) { c->sync_flags(); });
    locks.each_chan([&](hchan* c) {
      if (c->lock_free() && sel.done.load() == 0) serve_locked(c, self, rl);
    });
    bool parked = false;
    if (sel.done.load() == 0 && rl.empty()) {
      park_waiter(self, wait_reason::select, unlock_all, &locks);
      parked = true;
    }

    // 5. Unlink what did not fire (after waking: lock again).
    if (parked) locks.lock();
    for (int i = 0; i < np; i++) {
      sudog* s = &sgs[i];
      (s->is_send ? s->c->sendq_ : s->c->recvq_).remove(s);
    }
    locks.each_chan([](hchan* c) { c->sync_flags(); });
    locks.unlock();
    rl.ready_all();

    sudog* f = sel.fired;
    if (!f || f->result == wake::retry) continue;  // served others, or a peer's move threw
    if (f->result == wake::failed) {
      std::exception_ptr e = std::move(f->error);  // leaves every sudog's error empty
      std::rethrow_exception(e);
    }
    scase& sc = cs[f->case_index];
    if (f->result == wake::closed) {
      if (sc.is_send) throw_send_on_closed();
      race_acquire(&f->c->closed_);  // close happens before this receive (chan.cpp)
      sc.ok = false;
    } else {
      sc.ok = true;
    }
    return static_cast<int>(f->case_index);
  }
}

}  // namespace goro::detail
