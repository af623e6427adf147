// Waiting for a file descriptor: goro::wait_fd, for adapting non-blocking
// libraries (a database driver, a TLS library) to goroutines.
//
// A goroutine that calls wait_fd parks in "IO wait" (the goroutine dump's
// word) until the fd is ready, its deadline passes, or the fd is
// unwatched; its worker runs other goroutines meanwhile, and an idle
// worker waits in the runtime's poller (epoll) for the fd. So thousands of
// goroutines may each wait on their own socket, with no thread per socket
// and no goro::blocking section.
//
// The pattern: make the fd non-blocking, try the operation, and wait only
// when it says EAGAIN. wait_fd may resume the goroutine on another
// thread, and errno is thread-local with an accessor glibc declares
// const, so a compiler may reuse, after the wait, the errno address it
// computed before it: read errno in a function of its own that also makes
// the call (docs/guide.md, "What a goroutine may not assume"):
//
//   [[gnu::noinline]] ssize_t read_or_errno(int fd, void* buf, size_t n) {
//     ssize_t r = ::read(fd, buf, n);
//     return r < 0 ? -errno : r;
//   }
//
//   fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
//   char buf[512];
//   for (;;) {
//     ssize_t n = read_or_errno(fd, buf, sizeof buf);
//     if (n >= 0) break;                        // data (or 0: end of file)
//     if (n != -EAGAIN) throw std::system_error(static_cast<int>(-n), std::generic_category());
//     if (std::error_code e = goro::wait_fd(fd, goro::io::read, std::chrono::seconds(5)))
//       return e;                               // goro::errc::deadline_exceeded, or closed
//   }
//   ...
//   goro::close_fd(fd);                         // wakes waiters, then close(2)
//
// A ready fd is a hint, not a promise (the wait may also end for a
// wake-up another goroutine consumed): always retry the operation, and
// wait again on EAGAIN.
//
// The first wait on an fd registers it with the poller (edge-triggered),
// and it stays registered until goro::unwatch_fd(fd) or
// goro::close_fd(fd). Call one of them before the fd is closed: the poller
// keeps a record per fd number, and a new file that reuses the number of
// an fd closed without it would never be reported ready. (An fd closed by
// a library behind goro's back is the case to watch for.)
//
// From a plain thread (not a goroutine), wait_fd registers the fd the
// same way and blocks the thread in poll(2), with the same results:
// unwatch_fd and close_fd wake it with goro::errc::closed at once. Any
// number of threads may wait on one fd.
//
// Thread-safety: any goroutine or thread may call these, on any fd; at
// most one goroutine may wait for each direction of an fd at a time (a
// second one at once throws goro::panic_error, as Go's runtime reports a
// double wait; Go's own net.Conn serializes its readers).
#pragma once

#include <chrono>
#include <cstdint>
#include <system_error>
#include <type_traits>

#include <goro/detail/duration.hpp>
#include <goro/errc.hpp>

namespace goro {

// The direction to wait for: readable (data, end of file, a hang-up or an
// error pending) or writable (room in the send buffer, or an error).
enum class io : uint8_t { read = 1, write = 2 };

namespace detail {
// deadline_ns: nanotime() (the steady clock), 0 for none.
std::error_code wait_fd_ns(int fd, io mode, int64_t deadline_ns);
}  // namespace detail

// Blocks the calling goroutine (or thread) until fd is ready for `mode`.
// Returns:
//   {}                                  ready: retry the operation;
//   goro::errc::closed                  unwatch_fd/close_fd(fd) was called
//                                       during the wait (a wait that
//                                       starts afterwards registers the
//                                       fd number again);
//   std::errc::bad_file_descriptor      fd is not open;
//   another errno (generic_category)    registering fd with the poller
//                                       failed (epoll_ctl: ENOSPC at the
//                                       user's epoll watch limit, ENOMEM,
//                                       EEXIST if goro::net already
//                                       watches the fd), or, on a plain
//                                       thread, ppoll(2) failed.
// A regular file or directory is always ready (epoll cannot watch one):
// {} at once, unless a deadline (the overloads below) has already passed
// (then deadline_exceeded: that is checked first).
inline std::error_code wait_fd(int fd, io mode) { return detail::wait_fd_ns(fd, mode, 0); }

// As above, giving up at `deadline` with goro::errc::deadline_exceeded
// (also at once if it has passed). Clocks other than steady_clock are
// converted once, at the call.
template <class Clock, class Duration>
std::error_code wait_fd(int fd, io mode, std::chrono::time_point<Clock, Duration> deadline) {
  int64_t ns = detail::deadline_ns_of(deadline);
  if (ns == 0) ns = 1;  // the epoch itself: long past
  return detail::wait_fd_ns(fd, mode, ns);
}

// As above, with a timeout from now: goro::errc::deadline_exceeded after
// `timeout` (at once if it is zero or negative).
template <class Rep, class Period>
std::error_code wait_fd(int fd, io mode, std::chrono::duration<Rep, Period> timeout) {
  int64_t now = detail::saturated_ns(std::chrono::steady_clock::now().time_since_epoch());
  int64_t ns = detail::deadline_after(now, detail::saturated_ns(timeout));
  return detail::wait_fd_ns(fd, mode, ns > 0 ? ns : 1);
}

// End-of-stream errors (Go's io.EOF and io.ErrUnexpectedEOF), returned by
// goro::net's reads: eof when a stream ends where a read would start,
// unexpected_eof when it ends part way through a read_full. Compare with
// ==:  if (err == goro::io_errc::eof) ...
enum class io_errc : int {
  eof = 1,             // "EOF"
  unexpected_eof = 2,  // "unexpected EOF"
};

// The category of io_errc, named "goro.io". A single object.
const std::error_category& io_category() noexcept;

// Makes io_errc values error_codes (found by ADL), so err == io_errc::eof
// and std::error_code e = io_errc::eof work.
inline std::error_code make_error_code(io_errc e) noexcept { return {static_cast<int>(e), io_category()}; }

// Forgets fd: every goroutine waiting on it, or about to, returns
// goro::errc::closed; a wait that starts afterwards registers the fd
// number afresh. Call it just before closing the fd. Does nothing for an
// fd not registered.
void unwatch_fd(int fd);

// unwatch_fd(fd), then close(2). Returns close's error, if any.
std::error_code close_fd(int fd);

}  // namespace goro

template <>
struct std::is_error_code_enum<goro::io_errc> : std::true_type {};
