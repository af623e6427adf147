// goro::errc: the errors goro returns as values (Go's error values such as
// context.Canceled), as std::error_code of goro's own category, so callers
// compare with ==:
//
//   if (ctx.err() == goro::errc::canceled) ...
//   std::error_code e = goro::errc::deadline_exceeded;
//   e.message();                          // "context deadline exceeded"
//
// Thread-safety: everything here is immutable; use it anywhere.
#pragma once

#include <system_error>
#include <type_traits>

namespace goro {

// goro's error values. 0 is "no error" (std::error_code's rule).
enum class errc : int {
  canceled = 1,           // Go's context.Canceled: "context canceled"
  deadline_exceeded = 2,  // Go's context.DeadlineExceeded: "context deadline exceeded"
  closed = 3,             // Go's poll.ErrFileClosing: "use of closed file" (a goro::wait_fd interrupted by goro::unwatch_fd)
};

// The category of goro::errc, named "goro". A single object: compare
// categories with ==.
const std::error_category& goro_category() noexcept;

// Makes an error_code of goro's category (found by ADL, so that
// `std::error_code e = goro::errc::canceled;` works).
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), goro_category()}; }

}  // namespace goro

template <>
struct std::is_error_code_enum<goro::errc> : std::true_type {};
