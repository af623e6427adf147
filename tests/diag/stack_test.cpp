// goro::debug::stack(), Go's debug.Stack: the calling goroutine's (or
// plain thread's) stack in the dump's format, labels and creation site
// included.
#include <gtest/gtest.h>

#include <string>

#include "goro/goro.hpp"

namespace {

[[gnu::noinline]] std::string stack_test_helper() {
  std::string s = goro::debug::stack();
  asm volatile("" ::: "memory");  // not a tail call
  return s;
}

// The first frame after the header (and labels) line: two lines.
std::string first_frame(const std::string& s) {
  size_t at = s.find('\n') + 1;
  if (s.compare(at, 8, "\tlabels:") == 0) at = s.find('\n', at) + 1;
  size_t end = s.find('\n', s.find('\n', at) + 1);
  return s.substr(at, end - at);
}

TEST(DebugStack, IsTheCallersStackInTheDumpsFormat) {
  goro::run([] {
    std::string main_stack = stack_test_helper();
    EXPECT_EQ(main_stack.rfind("goroutine " + std::to_string(goro::goroutine_id()) + " [running]:\n", 0), 0u)
        << main_stack;
    EXPECT_NE(first_frame(main_stack).find("stack_test_helper"), std::string::npos) << main_stack;
    EXPECT_NE(main_stack.find("\tcreated by goro::run at "), std::string::npos) << main_stack;
    EXPECT_EQ(main_stack.find("goro::debug::stack"), std::string::npos) << main_stack;

    uint64_t parent = goro::goroutine_id();
    goro::chan<std::string> got = goro::make_chan<std::string>(1);
    goro::do_with_labels(goro::background(), {{"job", "7"}}, [&](const goro::context&) {
      goro::go([got] { got.send(stack_test_helper()); });
    });
    std::string child = got.recv();
    EXPECT_NE(child.find(" [running]:\n\tlabels: {\"job\":\"7\"}\n"), std::string::npos) << child;
    EXPECT_NE(first_frame(child).find("stack_test_helper"), std::string::npos) << child;
    EXPECT_NE(child.find("\tcreated by goroutine " + std::to_string(parent) + " at "), std::string::npos) << child;
  });
  // A plain thread: its thread id, its frames, no creation site.
  std::string t = stack_test_helper();
  EXPECT_EQ(t.rfind("thread ", 0), 0u) << t;
  EXPECT_NE(first_frame(t).find("stack_test_helper"), std::string::npos) << t;
  EXPECT_EQ(t.find("created by"), std::string::npos) << t;
}

}  // namespace
