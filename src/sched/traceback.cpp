// Reading goroutines for reports. See traceback.hpp.
//
// The snapshot protocol: how the dump reads a parked goroutine's stack
// while the program runs, without stopping anyone (docs/design.md,
// "Reading a running program").
//
// A stack changes only while its goroutine runs, and every run starts in
// prepare_run (proc.cpp), which, before switching in, (W1) bumps
// g::run_gen, (W2) stores status = running and (W3) issues a release
// fence; only then does the goroutine write its stack. The dump (R) reads,
// for one g:
//   R1  status (acquire): waiting or runnable, else no stack to read;
//   R2  run_gen, the fields it reports (id, reason, wait_since, creation
//       site) and the saved stack pointer;
//   R3  a copy of the stack from the saved stack pointer up, made by the
//       kernel (process_vm_readv on our own pid): an address unmapped
//       meanwhile (a stack freed by an exiting goroutine) fails the copy
//       with EFAULT instead of faulting, and no sanitizer sees the reads.
//       Where process_vm_readv is refused (seccomp, qemu-user), the
//       kernel copies through a pipe instead (write(2) of the stack, read
//       back), which fails the same way; raw system calls, so that no
//       sanitizer's interceptor checks the parked frames' redzones. (It
//       used to unwind the live stack in place there, which faulted when
//       an exiting goroutine's own-size stack was unmapped under it.)
//   R4  an acquire fence, then status and run_gen again.
// It keeps the copy only if status is still waiting or runnable and
// run_gen is unchanged. That is a seqlock with run_gen as its sequence: if
// R3 saw any write the goroutine made after it was switched in, the
// stores W1/W2, ordered before that write by W3, are visible to R4, which
// then sees a new generation (Boehm, "Can seqlocks get along with
// programming language memory models?", 2012). A goroutine that parks
// again has a new generation too, so parking twice at the same stack
// depth is not mistaken for one park. The frames are then unwound from
// the copy, never from the live stack.
//
// What it does not stop: a waker may write into a parked goroutine's
// stack without running it (a channel send copies the value into the
// receiver's frame). Those writes touch data slots, never the saved
// registers, return addresses and frame links that unwinding reads, which
// only the goroutine itself writes.
//
// Why not the alternatives: a per-g "being inspected" lock that wakers
// respect would put a locked instruction back on every wake-up (ready()
// is a checked plain store, g.hpp); stopping the world needs every
// goroutine to reach a safe point, and a goroutine computing in C++ never
// does. The cost here is on the switch: one increment of a counter in a
// cache line prepare_run writes anyway, and a fence that is no
// instruction on x86-64 (a dmb on aarch64).
//
// A goroutine that runs again during each of kAttempts copies, and one
// running on another worker, are reported without a stack, as Go does
// for goroutines it cannot stop.
//
// Lock order: none taken here, nor in for_each_g (the deadlock report
// calls in holding sched.lock, a fatal error with any lock held).
#include "sched/traceback.hpp"

#include "sched/labels.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/check.hpp"
#include "sched/sched.hpp"

namespace goro::detail {

namespace {

constexpr int kAttempts = 4;
// At most this much of a stack is copied (from the saved stack pointer
// up); a deeper stack shows its innermost frames only.
constexpr size_t kMaxCopy = 256 * 1024;

// A field of a g that its owner writes with plain stores: read as an
// atomic so that our side of the race is defined (the seqlock above
// decides whether the value is kept).
template <class T>
T racy_read(const T& field) {
  T v;
  __atomic_load(&field, &v, __ATOMIC_RELAXED);
  return v;
}

}  // namespace

// process_vm_readv is refused in some sandboxes (seccomp) and under
// qemu-user: then stacks are copied through a pipe (copy_through_pipe).
std::atomic<bool> g_no_kernel_copy{false};  // relaxed: a sticky hint

namespace test_hooks {
std::atomic<void (*)(const void*)> dump_before_stack_copy{nullptr};
void dump_force_no_kernel_copy(bool on) { g_no_kernel_copy.store(on, std::memory_order_relaxed); }
}  // namespace test_hooks

namespace {

void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

traceback_level traceback_setting(traceback_level fallback) {
  const char* v = getenv("GORO_TRACEBACK");
  if (v == nullptr) return fallback;
  if (strcmp(v, "none") == 0 || strcmp(v, "0") == 0) return traceback_level::none;
  if (strcmp(v, "single") == 0 || strcmp(v, "1") == 0) return traceback_level::single;
  // Go's "system" and "crash" show more than all; goro has nothing more.
  if (strcmp(v, "all") == 0 || strcmp(v, "2") == 0 || strcmp(v, "system") == 0 || strcmp(v, "crash") == 0)
    return traceback_level::all;
  return fallback;
}

int64_t traceback_now() { return sched.coarse_now.load(std::memory_order_relaxed); }

// getpid is a system call here (glibc caches nothing), as dear as the
// copy itself on this VM: read once per inspector.
g_inspector::g_inspector() : pid_(getpid()) {}
g_inspector::~g_inspector() {
  if (pipe_[0] >= 0) {
    close(pipe_[0]);
    close(pipe_[1]);
  }
}

void g_inspector::set_caller(const g* self, void* const* pcs, int n) {
  caller_ = self;
  caller_n_ = std::min(n, kTracebackMax);
  for (int i = 0; i < caller_n_; i++) caller_pcs_[i] = pcs[i];
}

bool g_inspector::copy_stack(const char* from, size_t len) {
  if (scratch_.size() < len) scratch_.resize(len);
  iovec local{scratch_.data(), len};
  iovec remote{const_cast<char*>(from), len};
  ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
  if (n == static_cast<ssize_t>(len)) return true;
  if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
    g_no_kernel_copy.store(true, std::memory_order_relaxed);
    return copy_through_pipe(from, len);
  }
  return false;
}

// The kernel's copy where process_vm_readv is refused: write(2) reads the
// stack into a pipe (EFAULT, not a fault, if it was unmapped meanwhile),
// read(2) takes it back, a pipe's capacity at a time. False if any of it
// could not be read (the pipe is left empty).
bool g_inspector::copy_through_pipe(const char* from, size_t len) {
  if (pipe_[0] < 0 && pipe2(pipe_, O_CLOEXEC) != 0) {
    pipe_[0] = pipe_[1] = -1;
    return false;  // no descriptors left: no stack this time
  }
  if (scratch_.size() < len) scratch_.resize(len);
  constexpr size_t kChunk = 64 * 1024;  // the default pipe capacity
  size_t done = 0;
  bool whole = true;
  while (done < len && whole) {
    size_t want = std::min(kChunk, len - done);
    long w = syscall(SYS_write, pipe_[1], from + done, want);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      break;
    }
    // Take back exactly what went in, so the pipe is empty for the next.
    size_t got = 0;
    while (got < static_cast<size_t>(w)) {
      long r = syscall(SYS_read, pipe_[0], scratch_.data() + done + got, static_cast<size_t>(w) - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        whole = false;  // cannot happen with our own pipe; stop using it
        break;
      }
      got += static_cast<size_t>(r);
    }
    done += got;
  }
  return whole && done == len;
}

// R1 and R2 for one g: its state and the fields reported; false if it
// holds no live goroutine. Sets it->len to the bytes of stack to copy (0:
// none).
bool g_inspector::read_fields(g* gp, g_record* r, bool want_stack, pending* it) {
  g_status s1 = gp->status.load(std::memory_order_acquire);  // R1
  if (s1 == g_status::idle || s1 == g_status::dead) return false;
  it->gen1 = gp->run_gen.load(std::memory_order_relaxed);  // R2
  r->id = racy_read(gp->id);
  r->parent_id = racy_read(gp->parent_id);
  r->created_pc = racy_read(gp->created_pc);
  r->is_main = racy_read(gp->is_main);
  r->by_timer = racy_read(gp->by_timer);
  r->reason = racy_read(gp->reason);
  r->wait_since = racy_read(gp->wait_since);
  r->status = s1;
  r->labels.clear();
  if (__atomic_load_n(&gp->labels, __ATOMIC_RELAXED) != nullptr) {
    // Under labels.hpp's rule: the set cannot be freed while read.
    labels_read_begin();
    r->labels = labels_read(gp);
    labels_read_end();
  }
  r->is_caller = gp == caller_ && s1 == g_status::running;
  r->stack_known = false;
  r->npcs = 0;
  it->sp = racy_read(gp->ctx.sp);
  it->lo = racy_read(gp->stack_lo);
  it->hi = racy_read(gp->stack_hi);
  it->parked = s1 == g_status::waiting || s1 == g_status::runnable;
  it->len = 0;
  if (want_stack && it->parked && it->sp != nullptr && it->lo != nullptr && static_cast<char*>(it->sp) >= it->lo &&
      static_cast<char*>(it->sp) < it->hi)
    it->len = std::min(static_cast<size_t>(it->hi - static_cast<char*>(it->sp)), kMaxCopy);
  return true;
}

// R4 for one g, after the acquire fence: whether what was read (and the
// copy at `image`, if copied) is kept; then the frames. Returns false if
// the goroutine moved meanwhile (the caller tries again).
bool g_inspector::finish(g* gp, g_record* r, bool want_stack, const pending& it, const char* image) {
  g_status s1 = r->status;
  g_status s2 = gp->status.load(std::memory_order_relaxed);
  uint32_t gen2 = gp->run_gen.load(std::memory_order_relaxed);
  bool s2_parked = s2 == g_status::waiting || s2 == g_status::runnable;
  if (gen2 != it.gen1 || !(s2 == s1 || (it.parked && s2_parked))) return false;
  if (!want_stack) {
    r->stack_known = false;
  } else if (r->is_caller) {
    r->npcs = caller_n_;
    for (int i = 0; i < caller_n_; i++) r->pcs[i] = caller_pcs_[i];
    r->stack_known = true;
  } else if (image != nullptr) {
    r->npcs = fiber_stack_pcs(it.sp, it.sp, static_cast<char*>(it.sp) + it.len, r->pcs, kTracebackMax, image, &sym_);
    drop_switch_frame(r);
    r->stack_known = true;
  } else if (it.parked && it.sp == nullptr) {
    r->stack_known = true;  // not started yet: no frames, nothing hidden
  }
  return true;
}

bool g_inspector::snapshot(g* gp, g_record* r, bool want_stack) {
  for (int attempt = 0;; attempt++) {
    pending it;
    if (!read_fields(gp, r, want_stack, &it)) return false;
    bool copied = false;
    if (it.len > 0) {
      if (auto hook = test_hooks::dump_before_stack_copy.load(std::memory_order_relaxed)) hook(it.sp);
      if (g_no_kernel_copy.load(std::memory_order_relaxed))
        copied = copy_through_pipe(static_cast<const char*>(it.sp), it.len);  // R3
      else
        copied = copy_stack(static_cast<const char*>(it.sp), it.len);  // R3
    }
    std::atomic_thread_fence(std::memory_order_acquire);  // R4
    if (finish(gp, r, want_stack, it, copied ? scratch_.data() : nullptr)) return true;
    if (attempt + 1 < kAttempts) continue;
    // Kept moving: report what it is now, without a stack.
    g_status s2 = gp->status.load(std::memory_order_relaxed);
    if (s2 == g_status::idle || s2 == g_status::dead) return false;
    r->status = s2;
    if (s2 != g_status::waiting) r->reason = wait_reason::none;
    r->npcs = 0;
    r->stack_known = false;
    return true;
  }
}

void g_inspector::snapshot_many(g* const* gps, int n, g_record* rs, bool* live, bool want_stack) {
  // The protocol of snapshot(), with R3 for the whole batch in one
  // process_vm_readv: a system call costs as much as the copy of a small
  // stack here, and a dump of a million goroutines made two million. The
  // kernel copies the iovecs in order and stops at the first that fails
  // (a stack unmapped meanwhile), so the bytes it returns say which
  // copies are whole; the rest, and any g that moved, go through
  // snapshot() alone.
  GORO_CHECK(n <= kBatch);
  pending its[kBatch];
  iovec local[kBatch], remote[kBatch];
  int nio = 0;
  size_t total = 0;
  bool kernel_copy = want_stack && !g_no_kernel_copy.load(std::memory_order_relaxed);
  for (int i = 0; i < n; i++) {
    live[i] = read_fields(gps[i], &rs[i], want_stack, &its[i]);
    its[i].offset = SIZE_MAX;
    if (!live[i] || its[i].len == 0 || !kernel_copy || total + its[i].len > kBatchBytes) continue;
    its[i].offset = total;
    remote[nio] = iovec{its[i].sp, its[i].len};
    total += its[i].len;
    nio++;
  }
  size_t copied = 0;
  if (nio > 0) {
    if (batch_scratch_.size() < total) batch_scratch_.resize(total);
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (its[i].offset == SIZE_MAX) continue;
      local[k++] = iovec{batch_scratch_.data() + its[i].offset, its[i].len};
    }
    ssize_t got = process_vm_readv(pid_, local, static_cast<unsigned long>(nio), remote, static_cast<unsigned long>(nio), 0);
    if (got > 0) copied = static_cast<size_t>(got);
    if (got < 0 && (errno == ENOSYS || errno == EPERM)) g_no_kernel_copy.store(true, std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_acquire);  // R4
  for (int i = 0; i < n; i++) {
    if (!live[i]) continue;
    bool whole = its[i].offset != SIZE_MAX && its[i].offset + its[i].len <= copied;
    bool needs_copy = its[i].len > 0;
    if ((!needs_copy || whole) &&
        finish(gps[i], &rs[i], want_stack, its[i], whole ? batch_scratch_.data() + its[i].offset : nullptr))
      continue;
    live[i] = snapshot(gps[i], &rs[i], want_stack);  // moved, or not copied: alone
  }
}

const char* g_inspector::site_of(const void* created_pc) {
  auto it = sites_.find(created_pc);
  if (it == sites_.end()) {
    char site[400];
    describe_call_site(created_pc, site, sizeof site, &sym_);
    it = sites_.emplace(created_pc, site).first;
  }
  return it->second.c_str();
}

void g_inspector::drop_switch_frame(g_record* r) {
  if (switch_hi_ == 0) {
    if (!function_range(reinterpret_cast<const void*>(&mcall_on), &switch_lo_, &switch_hi_, &sym_))
      switch_lo_ = switch_hi_ = 1;
  }
  if (r->npcs < 2) return;
  auto pc = reinterpret_cast<uintptr_t>(r->pcs[0]);
  if (pc < switch_lo_ || pc >= switch_hi_) return;
  // The next frame becomes the innermost: print_frames takes that one's
  // pc as exact, so step it back into its call instruction.
  for (int i = 1; i < r->npcs; i++) r->pcs[i - 1] = r->pcs[i];
  r->npcs--;
  r->pcs[0] = static_cast<char*>(r->pcs[0]) - 1;
}

void g_inspector::creator(bool is_main, uint64_t parent_id, bool by_timer, char* buf, size_t n) {
  if (is_main)
    snprintf(buf, n, "created by goro::run");
  else if (parent_id != 0)
    snprintf(buf, n, "created by goroutine %llu", static_cast<unsigned long long>(parent_id));
  else if (by_timer)
    snprintf(buf, n, "created by goro::after_func");
  else
    snprintf(buf, n, "created by a plain thread");
}

void g_inspector::created_by(const g_record& r, char* buf, size_t n) {
  char who[64];
  creator(r.is_main, r.parent_id, r.by_timer, who, sizeof who);
  snprintf(buf, n, "%s at %s", who, site_of(r.created_pc));
}

void g_inspector::state_text(const g_record& r, int64_t now, char* buf, size_t n) {
  if (r.status == g_status::waiting) {
    // Go shows the wait only from one minute on, in whole minutes.
    int64_t mins = (now - r.wait_since) / 60'000'000'000LL;
    if (mins >= 1)
      snprintf(buf, n, "%s, %lld minutes", wait_reason_string(r.reason), static_cast<long long>(mins));
    else
      snprintf(buf, n, "%s", wait_reason_string(r.reason));
  } else {
    snprintf(buf, n, "%s", g_status_string(r.status));
  }
}

void g_inspector::header(const g_record& r, int64_t now, char* buf, size_t n) {
  char state[96];
  state_text(r, now, state, sizeof state);
  snprintf(buf, n, "goroutine %llu [%s]:", static_cast<unsigned long long>(r.id), state);
}

void g_inspector::print(int fd, const g_record& r, int64_t now) {
  char line[768];
  header(r, now, line, sizeof line - 1);
  size_t len = strlen(line);
  line[len++] = '\n';
  write_all(fd, line, len);
  if (!r.labels.empty()) {
    std::string text = "\tlabels: " + labels_text(r.labels) + "\n";
    write_all(fd, text.data(), text.size());
  }
  if (r.stack_known && r.npcs > 0) {
    print_frames(fd, r.pcs, r.npcs, &sym_);
  } else if (!r.stack_known && r.status == g_status::running) {
    const char* s = "\t(running on another worker: its stack cannot be read)\n";
    write_all(fd, s, strlen(s));
  } else if (!r.stack_known) {
    const char* s = "\t(it kept running while the dump read it: stack not shown)\n";
    write_all(fd, s, strlen(s));
  }
  char created[512];
  created_by(r, created, sizeof created);
  int n = snprintf(line, sizeof line, "\t%s\n\n", created);
  if (n > 0) write_all(fd, line, std::min(static_cast<size_t>(n), sizeof line - 1));
}

namespace {

struct fd_dump {
  g_inspector* ins;
  int fd;
  int64_t now;
  traceback_level level;
  uint64_t skip_id;
};

void dump_one(g* gp, void* arg) {
  auto* d = static_cast<fd_dump*>(arg);
  g_record r;
  if (!d->ins->snapshot(gp, &r)) return;
  if (d->level == traceback_level::single && !r.is_main) return;
  if (d->skip_id != 0 && r.id == d->skip_id) return;
  d->ins->print(d->fd, r, d->now);
}

}  // namespace

__attribute__((noinline)) void capture_dump_caller(dump_caller* c, int skip) {
  c->gp = nullptr;
  c->n = 0;
  if (m* mp = current_m(); mp != nullptr && mp->curg != nullptr) {
    c->gp = mp->curg;
    c->n = stack_pcs(c->pcs, kTracebackMax, 1 + skip);
    // Return addresses all, but print_frames takes the innermost as an
    // exact pc: step it back into its call (after a call that does not
    // return it is past the function's end: "??").
    if (c->n > 0) c->pcs[0] = static_cast<char*>(c->pcs[0]) - 1;
  }
}

void dump_goroutines(int fd, traceback_level level, uint64_t skip_id, const dump_caller* caller) {
  if (level == traceback_level::none) return;
  g_inspector ins;
  // The caller, if a goroutine, cannot be unwound from outside: its own
  // stack, captured on its thread (by the caller of a dump on a report
  // thread, where there is no current goroutine: fatal errors).
  dump_caller here;
  if (caller == nullptr) {
    capture_dump_caller(&here, 1);
    caller = &here;
  }
  if (caller->gp != nullptr) ins.set_caller(caller->gp, caller->pcs, caller->n);
  fd_dump d{&ins, fd, traceback_now(), level, skip_id};
  for_each_g(dump_one, &d);
}

}  // namespace goro::detail
