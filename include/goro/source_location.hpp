// goro::source_location: a call site (file, line, function), for code that
// wants to record where it was called from. (goroutine creation sites are
// recorded as return addresses instead: see goro::go in goro/runtime.hpp.)
//
// The same idea as std::source_location, built on the __builtin_FILE /
// __builtin_LINE / __builtin_FUNCTION intrinsics that both g++ 12 and
// clang 14 provide (clang 14 cannot compile libstdc++ 12's
// std::source_location). As a defaulted parameter it records the caller:
//
//   void log(goro::source_location loc = goro::source_location::current());
#pragma once

namespace goro {

// A call site, as std::source_location (see the top of this file). A
// default-constructed one is "" / "" / line 0.
struct source_location {
  // The location of the call that evaluates this default argument.
  static constexpr source_location current(const char* file = __builtin_FILE(),
                                           const char* function = __builtin_FUNCTION(),
                                           unsigned line = __builtin_LINE()) noexcept {
    source_location loc;
    loc.file_ = file;
    loc.function_ = function;
    loc.line_ = line;
    return loc;
  }
  // The file, the enclosing function's name and the line of that call.
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr const char* function_name() const noexcept { return function_; }
  constexpr unsigned line() const noexcept { return line_; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  unsigned line_ = 0;
};

}  // namespace goro
