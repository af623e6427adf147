// goro::run: run a program's main goroutine and wait for it on the calling
// thread (Go's runtime.main, minus the process exit).
//
// The calling thread parks as a plain-thread waiter (wait reason "run")
// until the main goroutine returns. sched.nrun_waiting counts run() calls
// whose main goroutine has not returned: the deadlock detector only fires
// while one exists, as Go's does only while main has not returned.
#include <mutex>

#include "base/check.hpp"
#include "base/lock.hpp"
#include "goro/runtime.hpp"
#include "sched/sched.hpp"

namespace goro::detail {

namespace {

struct run_record {
  void (*invoke)(void*, int*);
  void* ctx;
  int status = 0;
  runtime_lock lock{lock_rank::wait_list};
  bool done = false;     // guarded by lock
  g* waiter = nullptr;   // guarded by lock: set when the caller parked
};

bool unlock_run(g*, void* arg) {
  static_cast<run_record*>(arg)->lock.unlock();
  return true;
}

}  // namespace

int run_main(void (*invoke)(void* ctx, int* status), void* ctx) {
  // run() is inlined into its caller: this return address is there.
  const void* created_pc = __builtin_extract_return_addr(__builtin_return_address(0));
  if (in_goroutine()) {
    int status = 0;
    invoke(ctx, &status);
    return status;
  }
  ensure_runtime();
  run_record rec;
  rec.invoke = invoke;
  rec.ctx = ctx;
  sched.nrun_waiting.fetch_add(1, std::memory_order_acq_rel);
  auto body = [&rec] {
    current_m()->curg->is_main = true;
    rec.invoke(rec.ctx, &rec.status);
    sched.nrun_waiting.fetch_sub(1, std::memory_order_acq_rel);
    g* w;
    {
      lock_guard lk(rec.lock);
      rec.done = true;
      w = rec.waiter;
    }
    if (w != nullptr) ready(w);
  };
  try {
    spawn(0, created_pc, body);
  } catch (...) {
    // No main goroutine (no stack, no memory): no run() waits, and the
    // deadlock check, armed by the count, must not stay armed.
    sched.nrun_waiting.fetch_sub(1, std::memory_order_acq_rel);
    throw;
  }
  rec.lock.lock();
  if (!rec.done) {
    rec.waiter = current_waiter();
    park(wait_reason::run_main, unlock_run, &rec);
  } else {
    rec.lock.unlock();
  }
  // Another goroutine is dying loudly (its report is being written):
  // returning would let main end the process with status 0 under it. As
  // Go's main parks when it finds a panic in progress.
  if (process_dying()) wait_for_dying_report();
  // Registered again at the first return, later than any static object
  // the program made before it (a function-local static pool first used
  // in run()), so that exit() marks the process exiting before their
  // destructors too.
  static std::once_flag exiting_noted;
  std::call_once(exiting_noted, note_process_exiting_at_exit);
  return rec.status;
}

}  // namespace goro::detail
