// The dump where process_vm_readv is refused (seccomp, qemu-user): stacks
// are still copied by the kernel (through a pipe), so a goroutine that
// exits between the dump's checks and its copy, taking a stack of its own
// size with it (unmapped at exit), fails the copy instead of faulting the
// dump. The dump used to unwind the live stack in place there.
//
// The seam test_hooks::dump_before_stack_copy stops the dump at that point
// while the goroutine is released and exits; the test waits until the
// goroutine is gone (its stack is unmapped before it leaves the count) and
// then holds the page at its saved stack pointer with an inaccessible
// mapping of its own, so that nothing else maps readable memory there
// before the copy. Before the fix the dump then read that page and the
// process died of SIGSEGV.
//
// Why the hold: another thread may map the freed range first. A worker
// thread's stack (1 MiB and a guard page) fits the goroutine's exactly, and
// the kernel hands out the highest free range, so a worker started at that
// moment took it (seen in 6 of 160 ASan runs beside CPU hogs, when the
// monitor started a worker during the dump). Such an attempt proves
// nothing and is made again, up to kAttempts times.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <thread>

#include "goro/debug.hpp"
#include "goro/goro.hpp"
#include "sched/test_hooks.hpp"
#include "test_util.hpp"

namespace hooks = goro::detail::test_hooks;

namespace {

std::atomic<bool> g_armed{false};
std::atomic<bool> g_release{false};  // the helper thread frees the goroutine
std::atomic<int> g_hook_calls{0};
std::atomic<bool> g_saw_unmapped{false};  // the copy comes after the unmap
std::atomic<bool> g_lost{false};          // another mapping took the range first
std::atomic<void*> g_held{nullptr};       // the page the test holds

size_t page_size() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

void* page_of(const void* p) {
  return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) & ~static_cast<uintptr_t>(page_size() - 1));
}

bool unmapped(void* page) {
  unsigned char vec = 0;
  return mincore(page, 1, &vec) != 0 && errno == ENOMEM;
}

void before_copy(const void* sp) {
  if (!g_armed.exchange(false)) return;
  g_hook_calls++;
  g_release.store(true);
  // The dumping goroutine is the only one left once the released one has
  // exited: its stack is unmapped before it leaves the count (after_switch).
  if (!goro_test::spin_until([] { return goro::num_goroutine() == 1; })) return;
  void* page = page_of(sp);
  if (!unmapped(page)) {
    g_lost.store(true);
    return;
  }
  void* held = mmap(page, page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (held != page) {  // mapped by another thread since (or an old kernel's hint)
    if (held != MAP_FAILED) munmap(held, page_size());
    g_lost.store(true);
    return;
  }
  g_held.store(held);
  g_saw_unmapped.store(true);
}

struct no_kernel_copy {
  no_kernel_copy() { hooks::dump_force_no_kernel_copy(true); }
  ~no_kernel_copy() {
    hooks::dump_before_stack_copy.store(nullptr);
    hooks::dump_force_no_kernel_copy(false);
  }
};

// One goroutine parked, released mid-dump; true if the dump ran into the
// seam (hit).
bool dump_while_a_goroutine_exits() {
  g_armed = g_release = g_saw_unmapped = g_lost = false;
  g_hook_calls = 0;
  auto c = goro::make_chan<int>();
  auto parked = goro::make_chan<int>(1);
  goro::go_with({.stack_size = 1 << 20}, [c, parked] {
    parked.send(1);
    c.recv();  // parked here when the dump looks, released mid-dump
  });
  parked.recv();
  // A plain thread releases it when the seam says so: its send readies
  // the goroutine for an idle worker, while this one stays in the dump.
  std::thread releaser([c] {
    goro_test::spin_until([] { return g_release.load(); });
    c.send(1);
  });
  hooks::dump_before_stack_copy.store(before_copy);
  // The goroutine may still be on its way into c.recv(): dump until the
  // seam has seen it parked once.
  bool hit = goro_test::spin_until([] {
    g_armed.store(true);
    std::ostringstream out;
    goro::debug::dump(out);
    return g_hook_calls.load() > 0;
  });
  hooks::dump_before_stack_copy.store(nullptr);
  g_armed.store(false);
  g_release.store(true);
  goro::blocking([&] { releaser.join(); });
  if (void* held = g_held.exchange(nullptr)) munmap(held, page_size());
  // Wait for the goroutine to be gone before the next attempt counts.
  goro_test::spin_until([] { return goro::num_goroutine() == 1; });
  return hit;
}

constexpr int kAttempts = 5;

}  // namespace

TEST(DumpNoKernelCopy, AStackUnmappedBeforeItsCopyIsNotRead) {
  no_kernel_copy mode;
  goro::set_maxprocs(2);
  goro::run([] {
    int lost = 0;
    for (int attempt = 0; attempt < kAttempts; attempt++) {
      ASSERT_TRUE(dump_while_a_goroutine_exits());
      if (g_saw_unmapped.load()) break;
      ASSERT_TRUE(g_lost.load()) << "the goroutine did not exit, or the seam stopped another goroutine's copy";
      lost++;
    }
    if (lost > 0) std::fprintf(stderr, "attempts lost to another mapping of the stack's range: %d\n", lost);
    EXPECT_TRUE(g_saw_unmapped.load()) << "in each of " << lost << " attempts another mapping took the stack's range";
    // The dump still works afterwards.
    std::ostringstream out;
    goro::debug::dump(out);
    EXPECT_NE(out.str().find("goroutine " + std::to_string(goro::goroutine_id()) + " ["), std::string::npos) << out.str();
  });
}
