// goro::net: TCP, UDP and Unix-domain sockets for goroutines (Go's net
// package). A goroutine that reads, writes, accepts or connects parks in
// "IO wait" until the socket is ready (the runtime's poller, goro/io.hpp,
// docs/design.md section 13): a server runs one goroutine per connection,
// thousands of them, on a few worker threads.
//
//   goro::run([] {
//     auto [ln, err] = goro::net::listen("tcp", "127.0.0.1:0");  // port 0: any free port
//     if (err) return;
//     goro::go([ln = ln] {              // (clang 14 cannot capture a binding)
//       for (;;) {
//         auto [c, e] = ln.accept();
//         if (e == goro::errc::closed) return;  // the listener was closed
//         if (e) continue;                      // e.g. out of fds: back off, retry
//         goro::go([c = c]() mutable {          // echo
//           char buf[4096];
//           for (;;) {
//             auto [n, re] = c.read(buf, sizeof buf);
//             if (n > 0 && c.write(buf, n).second) return;
//             if (re) return;                   // goro::io_errc::eof at the end
//           }
//         });
//       }
//     });
//     auto [c, e] = goro::net::dial("tcp", ln.addr().to_string());
//     ...
//   });
//
// Errors are std::error_code values, never exceptions (bad arguments
// included): goro::errc::closed for an operation on a closed socket (Go's
// "use of closed network connection"), goro::errc::deadline_exceeded when
// a deadline passed (Go's os.ErrDeadlineExceeded), goro::io_errc::eof at
// the end of a stream (Go's io.EOF), the context's error for dial_context,
// std::errc values for the system's errors (connection_refused,
// connection_reset, too_many_files_open, ...), and errors of
// goro::net::resolver_category() from name resolution (getaddrinfo).
// Results that come with an error are std::pair<T, std::error_code>, as
// goro::with_cancel returns a pair: `auto [c, err] = goro::net::dial(...)`.
//
// Handles: conn, listener and packet_conn are shared handles, like
// goro::context and Go's *net.TCPConn: copies name the same socket, so one
// goroutine may read while another writes through its own copy. The
// socket is closed by close() or, failing that, when its last handle is
// destroyed (so a forgotten close leaks no fd). Shared rather than unique
// ownership because a connection is routinely used by several goroutines
// at once (a reader, a writer, a watchdog that closes it), and each must
// keep the handle alive while it is inside an operation; the fd's own
// lifetime is counted separately, per operation (below).
//
// Closing is safe at any moment (Go's fdMutex): close() marks the socket
// closing, wakes every goroutine blocked on it (they return
// goro::errc::closed), and the descriptor itself is closed when the last
// operation in flight has returned, so its number is never reused under a
// read or write in progress.
//
// Deadlines (set_deadline & co.) are Go's: absolute times that apply to
// the operation in progress and every later one, until changed. An
// operation past its deadline returns goro::errc::deadline_exceeded, and
// a deadline moved into the past wakes a goroutine blocked at once.
//
// Thread-safety: every member function may be called from any goroutine
// or plain thread, at once with any other, on the same socket (through
// the same handle object too, except assigning to or destroying it while
// it is in use: like std::shared_ptr). Two reads at once (or two writes,
// two accepts) are serialized: each is done whole, one after the other,
// as Go does. Plain threads block in poll(2) instead of parking; close()
// and deadline changes wake them at once, as they wake goroutines.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include <goro/context.hpp>
#include <goro/detail/duration.hpp>
#include <goro/errc.hpp>
#include <goro/io.hpp>

namespace goro::detail {
struct netfd;
}

namespace goro::net {

// The category of name resolution errors (getaddrinfo's EAI_* codes;
// message() is gai_strerror's), e.g. for a host that does not exist.
const std::error_category& resolver_category() noexcept;

// A socket address: IPv4 or IPv6 address and port, or a Unix socket path
// (an abstract one is written with a leading '@'). Immutable; a value
// type, copy it freely.
class address {
 public:
  // No address: empty() is true, to_string() is "".
  address() noexcept = default;

  // "tcp", "udp" or "unix" (the socket's kind), "" if empty.
  std::string network() const;
  // "127.0.0.1:8080", "[::1]:8080", "/tmp/sock", "@abstract", or "" (an
  // unnamed Unix socket, or an empty address).
  std::string to_string() const;
  // The IP address without the port ("::1"), or the Unix path. An
  // IPv4-mapped IPv6 address (an IPv4 peer of a dual-stack socket) is
  // written as IPv4, as Go does: "127.0.0.1".
  std::string host() const;
  // The port, 0 for Unix sockets.
  uint16_t port() const noexcept;
  // True for no address: default-constructed, or from_native given a null,
  // zero-length or oversized sockaddr.
  bool empty() const noexcept { return len_ == 0; }

  // The system's form, for setsockopt-level work. native_size() is 0 if
  // empty.
  const sockaddr* native() const noexcept { return reinterpret_cast<const sockaddr*>(&ss_); }
  socklen_t native_size() const noexcept { return len_; }
  // An address from the system's form; sotype is SOCK_STREAM or
  // SOCK_DGRAM (it decides network()).
  static address from_native(const sockaddr* sa, socklen_t len, int sotype) noexcept;

 private:
  sockaddr_storage ss_{};
  socklen_t len_ = 0;
  int sotype_ = 0;
};

// Resolves "host:port" for network ("tcp", "tcp4", "tcp6", "udp",
// "udp4", "udp6", "unix") to its first address (Go's ResolveTCPAddr and
// friends). A host name is looked up with getaddrinfo inside
// goro::blocking; an IP literal is not looked up. For "unix", `addr` is
// the path.
std::pair<address, std::error_code> resolve_addr(std::string_view network, std::string_view addr);

// Clears a deadline: set_deadline(goro::net::no_deadline).
struct no_deadline_t {
  explicit constexpr no_deadline_t() = default;
};
inline constexpr no_deadline_t no_deadline{};

namespace detail {
// 0: none; a nanotime() (steady clock) otherwise, at least 1.
template <class Clock, class Duration>
int64_t deadline_ns(std::chrono::time_point<Clock, Duration> t) {
  int64_t ns = goro::detail::deadline_ns_of(t);
  return ns > 0 ? ns : 1;  // the epoch itself, or before: long past
}
// What the handles share: the fd state of src/net/netfd.hpp.
enum dl_mode : int { dl_read = 1, dl_write = 2 };
std::error_code set_deadline(goro::detail::netfd* fd, int modes, int64_t ns);
// Makes handles from fd states (src/net).
struct access;
}  // namespace detail

// What conn, listener and packet_conn have in common: the shared handle
// (the top of this file), deadlines, close() and the descriptor.
//
// Deadlines (a listener's read deadline bounds accept) apply to the
// operations in progress and to every later one, until set again: an
// operation that would block past the deadline returns
// goro::errc::deadline_exceeded, also at once if it has passed (even
// with data waiting, as in Go). Any clock works (converted once, at the
// call). The setters return goro::errc::closed on a closed socket.
class socket_handle {
 public:
  // Read and write deadline (Go's SetDeadline).
  template <class Clock, class Duration>
  std::error_code set_deadline(std::chrono::time_point<Clock, Duration> t) const {
    return detail::set_deadline(fd_.get(), detail::dl_read | detail::dl_write, detail::deadline_ns(t));
  }
  std::error_code set_deadline(no_deadline_t) const {
    return detail::set_deadline(fd_.get(), detail::dl_read | detail::dl_write, 0);
  }
  // Reads (and accepts) only (Go's SetReadDeadline).
  template <class Clock, class Duration>
  std::error_code set_read_deadline(std::chrono::time_point<Clock, Duration> t) const {
    return detail::set_deadline(fd_.get(), detail::dl_read, detail::deadline_ns(t));
  }
  std::error_code set_read_deadline(no_deadline_t) const { return detail::set_deadline(fd_.get(), detail::dl_read, 0); }
  // Writes only (Go's SetWriteDeadline).
  template <class Clock, class Duration>
  std::error_code set_write_deadline(std::chrono::time_point<Clock, Duration> t) const {
    return detail::set_deadline(fd_.get(), detail::dl_write, detail::deadline_ns(t));
  }
  std::error_code set_write_deadline(no_deadline_t) const {
    return detail::set_deadline(fd_.get(), detail::dl_write, 0);
  }

  // True if the handle names a socket (open or closed); false for a
  // default-constructed one, on which every operation returns
  // std::errc::bad_file_descriptor.
  explicit operator bool() const noexcept { return fd_ != nullptr; }

  // The socket's descriptor, for setsockopt and the like (Go's
  // SyscallConn), or -1. Do not close it, and do not use it after close().
  int fd() const noexcept;

  // Closes the socket (see the top of this file): goroutines and threads
  // blocked on it return goro::errc::closed, as does every later
  // operation. A second close returns goro::errc::closed. A Unix listener
  // removes its socket file, as Go's does.
  std::error_code close() const;

  // True if both handles name the same socket (copies of one handle), as
  // Go compares two net.Conn values; the descriptor number is no identity
  // (a closed socket's number is reused by the next one).
  //
  //   std::erase(listeners, ln);
  friend bool operator==(const socket_handle& a, const socket_handle& b) noexcept { return a.fd_ == b.fd_; }

 protected:
  socket_handle() noexcept = default;
  explicit socket_handle(std::shared_ptr<goro::detail::netfd> fd) noexcept : fd_(std::move(fd)) {}
  std::shared_ptr<goro::detail::netfd> fd_;
};

// A stream connection: TCP or a Unix stream socket (or a connected UDP
// socket from dial("udp", ...)). Go's net.Conn.
class conn : public socket_handle {
 public:
  // No connection (operator bool is false).
  conn() noexcept = default;

  // Reads up to n bytes into buf, blocking until at least one byte, the
  // end of the stream, an error, a deadline or close(). Returns the count
  // and {}, or {0, goro::io_errc::eof} at the end of a stream (n = 0
  // returns {0, {}} at once). A datagram socket returns each datagram,
  // also an empty one, as {size, {}}.
  std::pair<size_t, std::error_code> read(void* buf, size_t n) const;

  // Reads exactly n bytes (Go's io.ReadFull): {n, {}}, or with fewer
  // bytes read, the error: goro::io_errc::eof if none were read,
  // goro::io_errc::unexpected_eof if the stream ended part way. One
  // operation: other reads of this conn wait until it returns, so two
  // goroutines calling read_full at once each get a contiguous run of
  // the stream (whole records of a fixed size, say).
  std::pair<size_t, std::error_code> read_full(void* buf, size_t n) const;

  // Writes all n bytes, blocking while the send buffer is full (Go's
  // Write: it returns fewer than n only with an error, e.g.
  // std::errc::broken_pipe or connection_reset if the peer is gone;
  // never SIGPIPE).
  std::pair<size_t, std::error_code> write(const void* buf, size_t n) const;
  std::pair<size_t, std::error_code> write(std::string_view s) const { return write(s.data(), s.size()); }
  // The same as write (which already writes everything, as Go's does);
  // named to read well beside read_full.
  std::pair<size_t, std::error_code> write_all(const void* buf, size_t n) const { return write(buf, n); }
  std::pair<size_t, std::error_code> write_all(std::string_view s) const { return write(s.data(), s.size()); }

  // Shuts down the sending side (shutdown(SHUT_WR), Go's CloseWrite): the
  // peer reads the end of the stream once it has read everything sent
  // before; this side can still read. Writes after it fail.
  std::error_code close_write() const;
  // Shuts down the receiving side (shutdown(SHUT_RD), Go's CloseRead).
  std::error_code close_read() const;

  // This side's and the peer's address (empty for a default handle).
  address local_addr() const;
  address remote_addr() const;

 private:
  explicit conn(std::shared_ptr<goro::detail::netfd> fd) noexcept : socket_handle(std::move(fd)) {}
  friend struct detail::access;
};

// A listening stream socket (Go's net.Listener).
class listener : public socket_handle {
 public:
  // No listener (operator bool is false).
  listener() noexcept = default;

  // Waits for the next connection and returns it. Errors leave the
  // listener usable, except goro::errc::closed (the listener was closed,
  // before or during the wait). Running out of descriptors returns
  // std::errc::too_many_files_open (EMFILE) or
  // too_many_files_open_in_system (ENFILE), with the connection left
  // waiting in the backlog: sleep a little and accept again, as Go's
  // http.Server does:
  //
  //   auto [c, e] = ln.accept();
  //   if (e == std::errc::too_many_files_open || e == std::errc::too_many_files_open_in_system) {
  //     goro::sleep_for(backoff);   // 5 ms, doubling to 1 s
  //     continue;
  //   }
  std::pair<conn, std::error_code> accept() const;

  // The address listened on, with the port the system chose for port 0.
  address addr() const;

 private:
  explicit listener(std::shared_ptr<goro::detail::netfd> fd) noexcept : socket_handle(std::move(fd)) {}
  friend struct detail::access;
};

// What packet_conn::read_from returns: the datagram's size (bytes beyond
// the buffer are dropped, as recvfrom does), its sender, and the error.
struct packet {
  size_t n = 0;
  address from;
  std::error_code err;
};

// A datagram socket (UDP) bound by listen_packet (Go's net.PacketConn).
class packet_conn : public socket_handle {
 public:
  // No socket (operator bool is false).
  packet_conn() noexcept = default;

  // Receives one datagram into buf, blocking until one arrives, a
  // deadline passes or the socket is closed.
  //   auto [n, from, err] = pc.read_from(buf, sizeof buf);
  packet read_from(void* buf, size_t n) const;
  // Sends buf as one datagram to `to` (blocking only while the send
  // buffer is full). Returns the bytes sent.
  std::pair<size_t, std::error_code> write_to(const void* buf, size_t n, const address& to) const;

  // The address the socket is bound to (Go's LocalAddr); empty on error.
  address local_addr() const;

 private:
  explicit packet_conn(std::shared_ptr<goro::detail::netfd> fd) noexcept : socket_handle(std::move(fd)) {}
  friend struct detail::access;
};

// Listens on a stream socket (Go's net.Listen). network: "tcp" (IPv4 or
// IPv6 by the address; an empty host listens on every address, both
// families), "tcp4", "tcp6", or "unix" (addr is a path of at most 107
// bytes; "@name" is an abstract socket, at most 108 bytes with the '@';
// "" lets the system pick an abstract name, "@" and five hex digits on
// Linux, as Go's listener does). addr: "host:port", "[::1]:port",
// ":port"; port 0 picks a free port (listener::addr() tells it, and the
// Unix name picked for ""). Sets SO_REUSEADDR, as Go does.
//
//   auto [ln, err] = goro::net::listen("tcp", "127.0.0.1:0");
//   auto [ln6, err6] = goro::net::listen("tcp6", "[::1]:0");
//   auto [uln, uerr] = goro::net::listen("unix", "/tmp/app.sock");
std::pair<listener, std::error_code> listen(std::string_view network, std::string_view addr);

// Binds a datagram socket (Go's net.ListenPacket): "udp", "udp4", "udp6".
std::pair<packet_conn, std::error_code> listen_packet(std::string_view network, std::string_view addr);

// Connects to addr (Go's net.DialContext): "tcp", "tcp4", "tcp6", "udp",
// "udp4", "udp6" (a connected datagram socket) or "unix". A host name is
// resolved with getaddrinfo inside goro::blocking, and each of its
// addresses (IPv4 first for "tcp") is tried in turn until one connects;
// the error returned is the first one's. With a deadline, each address
// but the last gets an equal share of the time left (at least 2 s), as
// Go's dialer gives it, so one that never answers does not use up the
// rest's time. Blocks the calling goroutine (or
// thread) while connecting; a context cancelled or past its deadline ends
// the attempt with ctx.err(). TCP connections have TCP_NODELAY set, as in
// Go.
//
//   auto [ctx, cancel] = goro::with_timeout(goro::background(), 2s);
//   auto [c, err] = goro::net::dial_context(ctx, "tcp", "127.0.0.1:8080");
//   cancel();
//   if (err == std::errc::connection_refused) ...
std::pair<conn, std::error_code> dial_context(const context& ctx, std::string_view network, std::string_view addr);

// dial_context without a context (Go's net.Dial): connects until the
// system gives up.
inline std::pair<conn, std::error_code> dial(std::string_view network, std::string_view addr) {
  return dial_context(background(), network, addr);
}

// dial_context with a timeout (Go's net.DialTimeout); a zero timeout is
// none, as Go's.
template <class Rep, class Period>
std::pair<conn, std::error_code> dial_timeout(std::string_view network, std::string_view addr,
                                             std::chrono::duration<Rep, Period> timeout) {
  if (timeout == timeout.zero()) return dial(network, addr);
  auto ctx_cancel = with_timeout(background(), timeout);
  auto r = dial_context(ctx_cancel.first, network, addr);
  ctx_cancel.second();
  return r;
}

}  // namespace goro::net
