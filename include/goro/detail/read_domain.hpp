// read_domain: safe memory reclamation for lock-free readers (used by
// goro::sync_map), after Linux's SRCU: readers count themselves in striped
// counters of one of two phases; a reclaimer flips the phase and frees what
// was unpublished once both phases' counters have been seen at zero.
//
// Protocol.
//   Reader:   enter: c[ph][s] += 1 (ph: the phase it reads, s: its stripe);
//             then it may load published pointers and use what they name;
//             exit:  c[ph][s] -= 1 (the same counter, even if it moved to
//             another thread meanwhile).
//   Writer:   unpublishes a node (replaces every pointer to it), then
//             retire(node): pushes it on a lock-free list.
//   Reclaim:  takes the retired list as a batch; flips the phase; once the
//             old phase's counters all read 0, flips again; once the other
//             phase's counters all read 0, hands the batch to the caller,
//             who frees it (free_nodes) outside its own locks.
// Why it is safe (R1): a reader that holds a node of the batch loaded it
// before the node's unpublishing, and incremented its counter before that
// load. The reclaimer looks at both phases' counters after the
// unpublishing (the batch was pushed after it and taken before the first
// flip). Increments, pointer loads, unpublishing and looks are all
// seq_cst, so in their single total order: a look that read the counter
// as it was before the increment would come before the increment, hence
// before the reader's load; the unpublishing, before the look, would then
// come before that load too, which could not have found the node. So
// every look sees the reader counted until its exit (a release that the look reads: the
// reader's uses happen before the free).
// Why it progresses (R2): readers entering after a flip count in the new
// phase, so the old phase's counters only go down (but for readers that
// read the phase just before the flip), and neither wait is for readers
// that keep coming. The reclaimer never waits: reclaim() advances as far as
// the counters allow and returns; the next call goes on.
//
// Who touches what: the counters, any reader; phase_, read by readers and
// written by the reclaimer; retired_, pushed by any writer, taken by the
// reclaimer; batch_ and stage_, the reclaimer only: reclaim() must be
// called by one thread at a time (sync_map calls it under its mutex).
//
// Why in a public header: sync_map is a template in user code, which TSan
// instruments, and TSan sees these atomics there directly (the runtime
// under src/ is not instrumented and would need explicit annotations).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <utility>

namespace goro::detail {

// The id of the P the caller runs on, or -1 on a plain thread and inside
// goro::blocking (sched/current.cpp). A hint only: it may change at the
// caller's next park.
int32_t current_p_id() noexcept;

// A node that a read_domain may free once no reader can hold it.
struct retired_node {
  retired_node* next_retired = nullptr;
  void (*destroy)(retired_node*) = nullptr;  // frees the node (set by its maker)
};

class read_domain {
 public:
  static constexpr unsigned kStripes = 8;

  read_domain() = default;
  read_domain(const read_domain&) = delete;
  read_domain& operator=(const read_domain&) = delete;
  // Frees everything retired; no reader may be inside.
  ~read_domain() {
    free_list(batch_);
    free_list(retired_.load(std::memory_order_acquire));  // acquire: the pushes' nodes, complete
  }

  // A reader's critical section; nodes it loads stay allocated until it
  // ends. Sections may nest and may block (they only delay frees).
  class guard {
   public:
    explicit guard(read_domain& d) noexcept : c_(d.enter()) {}
    ~guard() {
      // release: the reader's uses of the nodes happen before a
      // reclaimer's look that sees the decrement, so before the free.
      c_->fetch_sub(1, std::memory_order_release);
    }
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;

   private:
    std::atomic<int64_t>* c_;
  };

  // Hands an unpublished node over: freed once no reader can hold it.
  // Lock-free (a Treiber push; the list is only ever taken whole, so no
  // ABA).
  void retire(retired_node* n) noexcept {
    retired_node* head = retired_.load(std::memory_order_relaxed);  // a guess; the CAS checks it
    do {
      n->next_retired = head;
      // release: the reclaimer's exchange sees the node's link, and the
      // unpublishing before it (R1).
    } while (!retired_.compare_exchange_weak(head, n, std::memory_order_release, std::memory_order_relaxed));
    backlog_.fetch_add(1, std::memory_order_relaxed);  // a statistic: when to reclaim
  }

  // Nodes retired and not yet freed.
  std::size_t backlog() const noexcept { return backlog_.load(std::memory_order_relaxed); }

  // Moves the grace period on and returns the nodes no reader can hold
  // any more (null if none yet), for free_nodes; never waits. One caller
  // at a time; call it outside any guard of this domain, or the caller's
  // own count holds its batch back. Freeing is separate because a node's
  // destroy may run user code (a value's destructor): the caller frees
  // outside its own locks.
  [[nodiscard]] retired_node* reclaim() noexcept {
    retired_node* out = nullptr;  // the batches done so far, chained
    for (;;) {
      if (stage_ == 0) {
        // acq_rel: sees every retire's node and what preceded it (R1).
        batch_ = retired_.exchange(nullptr, std::memory_order_acq_rel);
        if (batch_ == nullptr) return out;
        flip();
        stage_ = 1;
      }
      if (stage_ == 1) {
        // relaxed: only the reclaimer writes phase_ (flip).
        if (!drained(phase_.load(std::memory_order_relaxed) ^ 1)) return out;
        flip();
        stage_ = 2;
      }
      if (!drained(phase_.load(std::memory_order_relaxed) ^ 1)) return out;
      retired_node* tail = batch_;
      while (tail->next_retired != nullptr) tail = tail->next_retired;
      tail->next_retired = out;
      out = std::exchange(batch_, nullptr);
      stage_ = 0;
    }
  }

  // Frees nodes reclaim returned (any thread, no lock needed: they are the
  // caller's alone).
  void free_nodes(retired_node* n) noexcept {
    if (n != nullptr) backlog_.fetch_sub(free_list(n), std::memory_order_relaxed);
  }

 private:
  struct alignas(64) counter {
    std::atomic<int64_t> n{0};
  };

  std::atomic<int64_t>* enter() noexcept {
    // relaxed: either phase is safe (R1); the phase only decides which
    // counters drain (R2).
    unsigned ph = phase_.load(std::memory_order_relaxed);
    std::atomic<int64_t>* c = &count_[ph][stripe()].n;
    c->fetch_add(1, std::memory_order_seq_cst);  // before every load the section makes (R1)
    return c;
  }

  static unsigned stripe() noexcept {
    int32_t id = current_p_id();
    if (id >= 0) return static_cast<unsigned>(id) % kStripes;
    std::size_t h = std::hash<std::thread::id>{}(std::this_thread::get_id());
    return static_cast<unsigned>(h ^ (h >> 12) ^ (h >> 20)) % kStripes;
  }

  // relaxed load: the reclaimer is phase_'s only writer.
  void flip() noexcept { phase_.store(phase_.load(std::memory_order_relaxed) ^ 1, std::memory_order_seq_cst); }

  bool drained(unsigned ph) const noexcept {
    for (const counter& c : count_[ph])
      if (c.n.load(std::memory_order_seq_cst) != 0) return false;
    return true;
  }

  static std::size_t free_list(retired_node* n) noexcept {
    std::size_t freed = 0;
    while (n != nullptr) {
      retired_node* next = n->next_retired;
      n->destroy(n);
      n = next;
      freed++;
    }
    return freed;
  }

  counter count_[2][kStripes];
  std::atomic<unsigned> phase_{0};
  std::atomic<retired_node*> retired_{nullptr};
  std::atomic<std::size_t> backlog_{0};
  retired_node* batch_ = nullptr;  // reclaimer only: waiting for its grace period
  int stage_ = 0;                  // reclaimer only: 0 idle, 1 first flip done, 2 second
};

}  // namespace goro::detail
