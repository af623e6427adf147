// The scavenger: a background thread of the runtime, holding no P, that
// gives the pages of goroutine stacks and kept big channel buffers that
// stayed unused for a whole period (5 s, $GORO_SCAVENGE_MS) back to the
// kernel (stack_scavenge_step, big_memory_scavenge_step).
//
// Why a thread of its own, not a slice of each monitor round (issue 15,
// item 5): a single madvise(MADV_DONTNEED) of one stack took up to 1.5 ms
// of CPU on the project's 2-vCPU VMs while another thread of the process
// computed on the other CPU (the call waits in the kernel for the TLB
// shootdown to be acknowledged by that CPU, and a vCPU answers late), and
// 5.5 ms once; the monitor must not wait for that, since a goroutine
// queued behind a computing one waits for the monitor's retake. Here
// nothing the monitor does waits for the scavenger: they share no lock.
//
// Pacing, as Go's background scavenger (scavengePercent): while it
// releases a burst, the scavenger uses at most 1% of the CPU time of the
// process's Ps (2% of one CPU at maxprocs 2; $GORO_SCAVENGE_PERCENT, in
// percent of one CPU, overrides), and none otherwise. It works in slices
// of about 1 ms (stack_scavenge_step's deadline) and after each sleeps
// long enough to keep that share. Why so little (it used half a CPU):
// memory given back and wanted again costs more than it saved. On the
// project's VMs a released stack costs ~3 us of the scavenger's CPU to
// give back and ~10 us to fault in again, so a program that bursts
// every 10-30 s paid both, every time; at 1%, a burst's stacks drain over
// tens of seconds (300,000 in about a minute here), the hottest last (the
// free list is a LIFO), and a new burst meanwhile takes the warm ones.
// goro::free_os_memory() gives everything back at once when asked.
//
// The thread is registered as a runtime thread (it never readies a
// goroutine), so the deadlock check does not wait for it.
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "base/big_memory.hpp"
#include "base/futex.hpp"
#include "goro/runtime.hpp"
#include "sched/sched.hpp"
#include "sched/stack.hpp"
#include "sync/mutex_bias.hpp"

namespace goro::detail {

namespace {

constexpr int64_t kSliceNs = 1'000'000;
constexpr int64_t kMinPauseNs = 100'000;

// The pause after a slice that took `slice_ns`, for a share of
// `percent` percent of one CPU: slice / (slice + pause) = percent / 100.
int64_t pause_after(int64_t slice_ns, int percent) {
  int64_t pause = slice_ns * (100 - percent) / percent;
  return std::max(pause, kMinPauseNs);
}

// The share of one CPU the release may use, in percent.
int release_percent() {
  static const int fixed = env_int("GORO_SCAVENGE_PERCENT", 0 /* unset */, 100);
  if (fixed > 0) return fixed;
  return std::clamp(goro::maxprocs(), 1, 100);  // 1% per P
}

void* scavenger_main(void* started) {
  prctl(PR_SET_NAME, "goro-scavenge", 0, 0, 0);
  runtime_thread_register(static_cast<int>(syscall(SYS_gettid)));
  static_cast<note*>(started)->wake();
  // Its first period is seconds away: time for a registration that may
  // take tens of milliseconds (sync/mutex_bias.cpp, "Deciding").
  mutex_bias_decide();
  // Stacks that stay free for one to two periods are given back.
  const int64_t period = int64_t{env_int("GORO_SCAVENGE_MS", 5000, 3'600'000)} * 1'000'000;
  note never;  // nobody wakes it: a timed sleep on the runtime's one clock
  int64_t next = nanotime() + period;
  for (;;) {
    while (nanotime() < next) never.sleep_until(next);
    next += period;
    bool new_period = true;
    for (;;) {
      int64_t start = nanotime();
      bool more = stack_scavenge_step(new_period, start + kSliceNs);
      more = big_memory_scavenge_step(new_period, start + kSliceNs) || more;
      new_period = false;
      if (!more) break;
      int64_t pause = pause_after(nanotime() - start, release_percent());
      int64_t until = nanotime() + pause;
      while (nanotime() < until) never.sleep_until(until);
    }
  }
  return nullptr;
}

}  // namespace

void scavenger_start() {
  // It sorts arrays in place and calls madvise: little stack. (Only
  // touched pages are committed; the sanitizers want room, though.)
  start_runtime_thread(scavenger_main, 256 << 10, "scavenger");
}

}  // namespace goro::detail
