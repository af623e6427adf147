// Goroutine leak checks for GoogleTest, in the spirit of uber-go/goleak:
// a test fails, listing every goroutine that outlived it with its dump
// entry (state, wait reason, stack, and the line that started it).
//
// Header-only, and included by nothing else in goro: a program that does
// not use GoogleTest never sees gtest through goro. (find_leaks itself,
// in goro/debug.hpp, needs no test framework.)
//
// Check every test of a binary (one line at namespace scope in any of its
// test files; works with gtest_main):
//
//   static const bool leak_checked = goro::testing::install_leak_check();
//
// or one test, at its end:
//
//   goro::testing::expect_no_leaks();
//
// Goroutines alive when a test starts are not blamed on it (the listener
// takes goroutine_ids() then), and each check waits up to the grace
// period (leak_options::grace) for goroutines that are finishing.
// Tests that leave goroutines on purpose ignore them through the options
// (ignore_created_at: a file name, or "file.cpp:123").
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "goro/debug.hpp"

namespace goro::testing {

// Adds a non-fatal failure to the running test naming every leaked
// goroutine; returns whether there were none.
inline bool expect_no_leaks(const debug::leak_options& options = {}) {
  std::vector<debug::goroutine_info> leaks = debug::find_leaks(options);
  if (leaks.empty()) return true;
  ADD_FAILURE() << "goroutine leak check: " << debug::describe_leaks(leaks);
  return false;
}

// Fails each test that leaves goroutines behind (skipped tests and tests
// that failed already are not checked: their goroutines may well be
// stuck, and the first failure is the one to read).
class leak_check_listener : public ::testing::EmptyTestEventListener {
 public:
  explicit leak_check_listener(debug::leak_options options = {}) : options_(std::move(options)) {}

  void OnTestStart(const ::testing::TestInfo&) override { at_start_ = debug::goroutine_ids(); }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    const ::testing::TestResult* r = info.result();
    if (r != nullptr && (r->Skipped() || r->Failed())) return;
    debug::leak_options o = options_;
    o.ignore_ids.insert(o.ignore_ids.end(), at_start_.begin(), at_start_.end());
    expect_no_leaks(o);
  }

 private:
  debug::leak_options options_;
  std::vector<uint64_t> at_start_;
};

// Appends a leak_check_listener to GoogleTest's listeners (which own it).
// Call before RUN_ALL_TESTS, e.g. from a namespace-scope initializer.
inline bool install_leak_check(debug::leak_options options = {}) {
  ::testing::UnitTest::GetInstance()->listeners().Append(new leak_check_listener(std::move(options)));
  return true;
}

}  // namespace goro::testing
