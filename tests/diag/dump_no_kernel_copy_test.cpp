// The dump where process_vm_readv is refused (seccomp, qemu-user): stacks
// are still copied by the kernel (through a pipe), so a goroutine that
// exits between the dump's checks and its copy, taking a stack of its own
// size with it (unmapped at exit), fails the copy instead of faulting the
// dump. The dump used to unwind the live stack in place there.
//
// The seam test_hooks::dump_before_stack_copy stops the dump at that point
// while the goroutine is released and exits; the test waits until the
// stack's page is unmapped (mincore fails). Before the fix the dump then
// read the unmapped page and the process died of SIGSEGV.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
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
std::atomic<bool> g_saw_unmapped{false};  // the copy came after the unmap

bool unmapped(const void* p) {
  auto page = reinterpret_cast<uintptr_t>(p) & ~static_cast<uintptr_t>(sysconf(_SC_PAGESIZE) - 1);
  unsigned char vec = 0;
  return mincore(reinterpret_cast<void*>(page), 1, &vec) != 0 && errno == ENOMEM;
}

void before_copy(const void* sp) {
  if (!g_armed.exchange(false)) return;
  g_hook_calls++;
  g_release.store(true);
  g_saw_unmapped.store(goro_test::spin_until([sp] { return unmapped(sp); }));
}

struct no_kernel_copy {
  no_kernel_copy() { hooks::dump_force_no_kernel_copy(true); }
  ~no_kernel_copy() {
    hooks::dump_before_stack_copy.store(nullptr);
    hooks::dump_force_no_kernel_copy(false);
  }
};

}  // namespace

TEST(DumpNoKernelCopy, AStackUnmappedBeforeItsCopyIsNotRead) {
  no_kernel_copy mode;
  goro::set_maxprocs(2);
  g_armed = g_release = g_saw_unmapped = false;  // (--gtest_repeat)
  g_hook_calls = 0;
  goro::run([] {
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
    EXPECT_TRUE(hit);
    EXPECT_TRUE(g_saw_unmapped.load()) << "the seam stopped another goroutine's copy";
    // The dump still works afterwards.
    std::ostringstream out;
    goro::debug::dump(out);
    EXPECT_NE(out.str().find("goroutine " + std::to_string(goro::goroutine_id()) + " ["), std::string::npos) << out.str();
  });
}
