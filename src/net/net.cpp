// goro::net's operations (goro/net.hpp): listen, dial, accept, read,
// write, and the datagram calls, on the netfd of netfd.hpp.
//
// Every operation follows Go's internal/poll shape: take a reference on
// the fd (fails once closing: errc::closed), take the direction's mutex
// (readers, writers are serialized), then loop { deadline passed?
// syscall; EAGAIN: wait (park in IO wait, or poll on a plain thread) }.
// The system call is tried before waiting, so an edge the poller
// reported while nobody waited is never needed, and an accept that failed
// with EMFILE finds its connection still in the backlog next time. The
// one exception: a goroutine's TCP receive after a short one waits first
// (netpoll_short_read_drains in netpoll.hpp says why that is sound).
//
// dial_context: a non-blocking connect, then a wait for writable and
// SO_ERROR (Go's netFD.connect). The context reaches the wait as the
// fd's write deadline (its deadline) and, for a cancel, through
// context_after_func, which moves the write deadline into the past: the
// poller wakes the connecting goroutine. If that function started, the
// dial waits for it to finish and reports ctx.err(), so it never touches
// the fd after dial returns. dial_addrs tries a name's addresses in turn,
// each but the last under a share of the deadline (Go's partialDeadline).
//
// No state of its own; locks: the netfd's (netfd.hpp).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "base/futex.hpp"
#include "goro/chan.hpp"
#include "goro/context.hpp"
#include "goro/net.hpp"
#include "net/netfd.hpp"
#include "net/resolve.hpp"
#include "sched/park.hpp"
#include "sched/test_hooks.hpp"

namespace goro::net::detail {

struct access {
  template <class H>
  static H make(std::shared_ptr<goro::detail::netfd> fd) {
    return H(std::move(fd));
  }
  static goro::detail::netfd* fd_of(const conn& c) { return c.fd_.get(); }
};

std::error_code set_deadline(goro::detail::netfd* fd, int modes, int64_t ns) {
  using namespace goro::detail;
  fd_ref ref(fd);
  if (!ref) return no_ref_error(fd);
  // Each mirror is written with the poller's copy, under its lock: two
  // calls at once leave both copies as one of them set them.
  auto* seam = test_hooks::net_set_deadline_before_poller.load(std::memory_order_relaxed);
  if (modes & dl_read) {
    if (seam != nullptr) seam();
    netpoll_set_deadline(fd->pd, poll_mode::read, ns, &fd->rd);
  }
  if (modes & dl_write) {
    if (seam != nullptr) seam();
    netpoll_set_deadline(fd->pd, poll_mode::write, ns, &fd->wd);
  }
  return {};
}

}  // namespace goro::net::detail

namespace goro::detail {

netfd* conn_netfd(const goro::net::conn& c) { return goro::net::detail::access::fd_of(c); }

namespace {

using goro::net::address;

address sock_name(int fd, int sotype, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return address();
  return address::from_native(reinterpret_cast<sockaddr*>(&ss), len, sotype);
}

void set_int_opt(int fd, int level, int opt, int v) { (void)::setsockopt(fd, level, opt, &v, sizeof v); }

// The read loop of every receive: a reference, the read mutex, then
// syscall-or-wait. op() returns the result or -errno.
// read_locked: the caller holds a reference and rmu already.
template <class Op>
std::pair<long, std::error_code> read_locked(netfd* fd, Op op) {
  if (fd->closing()) return {0, errc::closed};
  for (;;) {
    if (deadline_passed(fd, poll_mode::read)) return {0, errc::deadline_exceeded};
    long n = op();
    if (n >= 0) return {n, {}};
    if (n == -EINTR) continue;
    if (n != -EAGAIN) return {0, errno_code(n)};
    if (std::error_code e = fd_wait(fd, poll_mode::read)) return {0, e};
  }
}

// A stream conn's receive (the caller holds a reference and rmu): with
// the io_uring variant (netpoll.hpp), a goroutine's recv is a completion
// it parks for; otherwise, and on plain threads, recv-or-wait.
std::pair<long, std::error_code> recv_locked(netfd* fd, void* buf, size_t n) {
  if (fd->closing()) return {0, errc::closed};
  if (netpoll_uring() && in_goroutine()) {
    for (;;) {
      if (deadline_passed(fd, poll_mode::read)) return {0, errc::deadline_exceeded};
      poll_err pe = poll_err::none;
      long r = netpoll_recv(fd->pd, buf, n, &pe);
      if (pe == poll_err::closing) return {0, errc::closed};
      if (pe == poll_err::timeout) return {0, errc::deadline_exceeded};
      if (r >= 0) return {r, {}};
      // ECANCELED that we did not ask for: the kernel cancelled it (the
      // submitting thread exited, say): receive again.
      if (r != -EINTR && r != -EAGAIN && r != -ECANCELED) return {0, errno_code(r)};
    }
  }
  // TCP on a goroutine: after a short read, wait for an edge before the
  // next recv instead of a recv that says EAGAIN (a third of the system
  // calls of a request-response exchange).
  const bool drain_hint = (fd->family == AF_INET || fd->family == AF_INET6) && in_goroutine();
  if (fd->read_drained && drain_hint && netpoll_short_read_drains(fd->pd)) {
    fd->read_drained = false;
    if (deadline_passed(fd, poll_mode::read)) return {0, errc::deadline_exceeded};
    if (std::error_code e = fd_wait(fd, poll_mode::read)) return {0, e};
  }
  return read_locked(fd, [&] {
    long r = sys_recv(fd->sysfd, buf, n, 0);
    fd->read_drained = r > 0 && static_cast<size_t>(r) < n;
    if (r == -EAGAIN) fd->eagain_reads++;
    return r;
  });
}

template <class Op>
std::pair<long, std::error_code> read_loop(netfd* fd, Op op) {
  fd_ref ref(fd);
  if (!ref) return {0, no_ref_error(fd)};
  goro::mutex_lock lk(fd->rmu);
  return read_locked(fd, op);
}

// The write loop: all of [buf, buf+n) (Go's FD.Write), or with `once`
// one datagram.
template <class Op>
std::pair<size_t, std::error_code> write_loop(netfd* fd, size_t n, bool once, Op op) {
  fd_ref ref(fd);
  if (!ref) return {0, no_ref_error(fd)};
  goro::mutex_lock lk(fd->wmu);
  if (fd->closing()) return {0, errc::closed};
  size_t done = 0;
  for (;;) {
    if (deadline_passed(fd, poll_mode::write)) return {done, errc::deadline_exceeded};
    long w = op(done);
    if (w >= 0) {
      done += static_cast<size_t>(w);
      if (once || done >= n) return {done, {}};
      continue;
    }
    if (w == -EINTR) continue;
    if (w != -EAGAIN) return {done, errno_code(w)};
    if (std::error_code e = fd_wait(fd, poll_mode::write)) return {done, e};
  }
}

// A new socket of kind k for address a, registered with the poller.
// stream_conn: to be connected (dial), not to listen.
std::shared_ptr<netfd> new_socket(int family, int sotype, std::error_code* err, bool stream_conn = false) {
  long s = sys_socket(family, sotype);
  if (s < 0) {
    *err = errno_code(s);
    return nullptr;
  }
  netfd* fd = netfd_new(static_cast<int>(s), family, sotype, err, stream_conn);
  if (fd == nullptr) return nullptr;
  return std::shared_ptr<netfd>(fd);
}

// No host, or an unspecified address: every address of the machine.
bool unspecified_host(const std::string& host) {
  if (host.empty()) return true;
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return a4.s_addr == htonl(INADDR_ANY);
  return inet_pton(AF_INET6, host.c_str(), &a6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&a6);
}

// Binds (and for streams listens on) one address.
std::shared_ptr<netfd> bind_one(const net_kind& k, const address& a, bool wildcard_dual, std::error_code* err) {
  const int family = a.native()->sa_family;
  std::shared_ptr<netfd> fd = new_socket(family, k.sotype, err);
  if (!fd) return nullptr;
  // Streams only, as Go: two UDP sockets that both set it may bind the
  // same address and port on Linux, and a second listen_packet would
  // succeed and share the datagrams.
  if (family != AF_UNIX && k.sotype == SOCK_STREAM) set_int_opt(fd->sysfd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (family == AF_INET6) set_int_opt(fd->sysfd, IPPROTO_IPV6, IPV6_V6ONLY, wildcard_dual ? 0 : 1);
  long r = sys_bind_listen(fd->sysfd, a.native(), a.native_size(), k.sotype == SOCK_STREAM);
  if (r < 0) {
    *err = errno_code(r);
    return nullptr;  // the netfd's destructor closes the socket
  }
  fd->laddr = sock_name(fd->sysfd, k.sotype, false);
  if (family == AF_UNIX) {
    // getsockname may shorten a name; Go reports the name given. No name
    // (listen("unix", "")): the one the system chose, getsockname's.
    std::string path = a.host();
    if (!path.empty()) fd->laddr = a;
    if (!path.empty() && path.front() != '@' && k.sotype == SOCK_STREAM) fd->unlink_path = path;
  }
  return fd;
}

std::shared_ptr<netfd> listen_any(std::string_view network, std::string_view addr, bool stream,
                                  std::error_code* err) {
  net_kind k;
  if (!parse_network(network, &k) || (k.sotype == SOCK_STREAM) != stream) {
    *err = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  // "tcp"/"udp" on a wildcard (no host, 0.0.0.0 or ::): one IPv6 socket
  // taking IPv4 too, as Go's listener on an unspecified address; IPv4
  // only where the machine has no IPv6.
  std::string host, port;
  const bool wildcard = k.family == AF_UNSPEC && !split_host_port(addr, &host, &port) && unspecified_host(host);
  std::vector<address> addrs;
  if ((*err = resolve(k, wildcard ? ":" + port : std::string(addr), true, &addrs))) return nullptr;
  // A service name's lookup may give the IPv4 wildcard first.
  if (wildcard)
    std::stable_partition(addrs.begin(), addrs.end(),
                          [](const address& x) { return x.native()->sa_family == AF_INET6; });
  std::shared_ptr<netfd> fd = bind_one(k, addrs.front(), wildcard, err);
  // IPv4 alone only where the machine cannot do IPv6: a port in use (by
  // an IPv6-only socket, say) is the answer, not a reason to listen on
  // IPv4 only without a word.
  if (!fd && wildcard && addrs.front().native()->sa_family == AF_INET6 && *err != std::errc::address_in_use &&
      *err != std::errc::permission_denied) {
    net_kind k4 = k;
    k4.family = AF_INET;
    std::vector<address> v4;
    if (!resolve(k4, ":" + port, true, &v4)) fd = bind_one(k4, v4.front(), false, err);
  }
  return fd;
}

// Go's netFD.connect: a connected netfd, or the error (ctx.err() when
// the context ended it).
std::shared_ptr<netfd> connect_one(const context& ctx, const net_kind& k, const address& a, std::error_code* err) {
  std::shared_ptr<netfd> fd = new_socket(a.native()->sa_family, k.sotype, err, k.sotype == SOCK_STREAM);
  if (!fd) return nullptr;
  long r = sys_connect(fd->sysfd, a.native(), a.native_size());
  if (r < 0 && r != -EINPROGRESS && r != -EINTR && r != -EALREADY) {
    *err = errno_code(r);
    return nullptr;
  }
  if (r < 0) {
    // In progress: wait for writable, bounded by the context.
    if (std::optional<std::chrono::steady_clock::time_point> d = ctx.deadline())
      goro::net::detail::set_deadline(fd.get(), goro::net::detail::dl_write, goro::net::detail::deadline_ns(*d));
    goro::chan<goro::unit> interrupted;
    goro::after_func_stop stop;
    if (!ctx.done().is_nil()) {
      interrupted = goro::make_chan<goro::unit>();
      stop = goro::context_after_func(ctx, [fd, interrupted] {
        goro::net::detail::set_deadline(fd.get(), goro::net::detail::dl_write, 1);  // long ago
        interrupted.close();
      });
    }
    std::error_code e;
    for (;;) {
      e = fd_wait(fd.get(), poll_mode::write);
      if (e) break;
      long so = sys_so_error(fd->sysfd);
      if (so == -EINPROGRESS || so == -EALREADY || so == -EINTR) continue;
      if (so < 0) {
        e = errno_code(so);
        break;
      }
      // SO_ERROR 0 and writable: connected, unless the wake-up was early
      // (Go checks getpeername the same way).
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      if (::getpeername(fd->sysfd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) break;
    }
    if (!interrupted.is_nil() && !stop()) {
      interrupted.recv();  // the interrupt ran (or runs): wait, then report the context's error
      if (std::error_code ce = ctx.err()) e = ce;
    }
    if (e == errc::deadline_exceeded || e == errc::closed) {
      if (std::error_code ce = ctx.err()) e = ce;
    }
    if (e) {
      *err = e;
      return nullptr;
    }
    goro::net::detail::set_deadline(fd.get(), goro::net::detail::dl_write, 0);
  }
  if (k.sotype == SOCK_STREAM && a.native()->sa_family != AF_UNIX) set_int_opt(fd->sysfd, IPPROTO_TCP, TCP_NODELAY, 1);
  fd->laddr = sock_name(fd->sysfd, k.sotype, false);
  fd->raddr = a.native()->sa_family == AF_UNIX ? a : sock_name(fd->sysfd, k.sotype, true);
  return fd;
}

}  // namespace
}  // namespace goro::detail

namespace goro::net {

using goro::detail::errno_code;
using goro::detail::fd_ref;
using goro::detail::netfd;
using goro::detail::poll_mode;

int socket_handle::fd() const noexcept { return fd_ ? fd_->sysfd : -1; }

std::error_code socket_handle::close() const {
  if (!fd_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (!fd_->close()) return errc::closed;
  return {};
}

// ---- conn ------------------------------------------------------------------

std::pair<size_t, std::error_code> conn::read(void* buf, size_t n) const {
  netfd* fd = fd_.get();
  // A zero-byte read returns at once, for any socket (Go's FD.Read): a
  // datagram socket's recv of 0 bytes would wait for a datagram and
  // throw it away.
  if (n == 0 && fd != nullptr) {
    fd_ref ref(fd);
    if (!ref) return {0, goro::detail::no_ref_error(fd)};
    return {0, {}};
  }
  std::pair<long, std::error_code> r;
  if (fd != nullptr && fd->sotype == SOCK_STREAM) {
    fd_ref ref(fd);
    if (!ref) return {0, goro::detail::no_ref_error(fd)};
    goro::mutex_lock lk(fd->rmu);
    r = goro::detail::recv_locked(fd, buf, n);
  } else {
    r = goro::detail::read_loop(fd, [&] { return goro::detail::sys_recv(fd->sysfd, buf, n, 0); });
  }
  if (r.second) return {0, r.second};
  if (r.first == 0 && fd->sotype == SOCK_STREAM) return {0, io_errc::eof};
  return {static_cast<size_t>(r.first), {}};
}

std::pair<size_t, std::error_code> conn::read_full(void* buf, size_t n) const {
  // One operation: the read lock is held throughout, so two goroutines
  // calling read_full at once each get a contiguous run of the stream.
  netfd* fd = fd_.get();
  fd_ref ref(fd);
  if (!ref) return {0, goro::detail::no_ref_error(fd)};
  goro::mutex_lock lk(fd->rmu);
  size_t got = 0;
  auto* p = static_cast<char*>(buf);
  while (got < n) {
    auto r = fd->sotype == SOCK_STREAM
                 ? goro::detail::recv_locked(fd, p + got, n - got)
                 : goro::detail::read_locked(fd, [&] { return goro::detail::sys_recv(fd->sysfd, p + got, n - got, 0); });
    if (r.second) return {got, r.second};
    if (r.first == 0 && fd->sotype == SOCK_STREAM) return {got, got > 0 ? io_errc::unexpected_eof : io_errc::eof};
    got += static_cast<size_t>(r.first);
  }
  return {got, {}};
}

std::pair<size_t, std::error_code> conn::write(const void* buf, size_t n) const {
  netfd* fd = fd_.get();
  auto* p = static_cast<const char*>(buf);
  const bool dgram = fd != nullptr && fd->sotype == SOCK_DGRAM;
  return goro::detail::write_loop(fd, n, dgram || n == 0,
                                  [&](size_t done) { return goro::detail::sys_send(fd->sysfd, p + done, n - done); });
}

namespace {
std::error_code shut(netfd* fd, int how) {
  fd_ref ref(fd);
  if (!ref) return goro::detail::no_ref_error(fd);
  long r = goro::detail::sys_shutdown(fd->sysfd, how);
  return r < 0 ? errno_code(r) : std::error_code();
}
}  // namespace

std::error_code conn::close_write() const { return shut(fd_.get(), SHUT_WR); }
std::error_code conn::close_read() const { return shut(fd_.get(), SHUT_RD); }

address conn::local_addr() const { return fd_ ? fd_->laddr : address(); }
address conn::remote_addr() const { return fd_ ? fd_->raddr : address(); }

// ---- listener --------------------------------------------------------------

std::pair<conn, std::error_code> listener::accept() const {
  netfd* fd = fd_.get();
  sockaddr_storage from{};
  socklen_t len = 0;
  auto r = goro::detail::read_loop(fd, [&]() -> long {
    for (;;) {
      long s = goro::detail::sys_accept(fd->sysfd, &from, &len);
      if (s == -ECONNABORTED) continue;  // the peer gave up while queued: take the next
      return s;
    }
  });
  if (r.second) return {conn(), r.second};
  std::error_code err;
  netfd* nfd = goro::detail::netfd_new(static_cast<int>(r.first), fd->family, SOCK_STREAM, &err, true);
  if (nfd == nullptr) return {conn(), err};
  std::shared_ptr<netfd> c(nfd);
  if (fd->family != AF_UNIX) {
    int one = 1;
    (void)::setsockopt(c->sysfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->raddr = address::from_native(reinterpret_cast<sockaddr*>(&from), len, SOCK_STREAM);
  } else {
    c->raddr = goro::detail::sock_name(c->sysfd, SOCK_STREAM, true);
  }
  c->laddr = goro::detail::sock_name(c->sysfd, SOCK_STREAM, false);
  return {detail::access::make<conn>(std::move(c)), {}};
}

address listener::addr() const { return fd_ ? fd_->laddr : address(); }

// ---- packet_conn -----------------------------------------------------------

packet packet_conn::read_from(void* buf, size_t n) const {
  netfd* fd = fd_.get();
  sockaddr_storage from{};
  socklen_t len = 0;
  auto r = goro::detail::read_loop(fd, [&] { return goro::detail::sys_recvfrom(fd->sysfd, buf, n, &from, &len); });
  packet p;
  if (r.second) {
    p.err = r.second;
    return p;
  }
  p.n = static_cast<size_t>(r.first);
  p.from = address::from_native(reinterpret_cast<sockaddr*>(&from), len, SOCK_DGRAM);
  return p;
}

std::pair<size_t, std::error_code> packet_conn::write_to(const void* buf, size_t n, const address& to) const {
  netfd* fd = fd_.get();
  if (to.empty()) return {0, std::make_error_code(std::errc::destination_address_required)};
  return goro::detail::write_loop(fd, n, true, [&](size_t) {
    return goro::detail::sys_sendto(fd->sysfd, buf, n, to.native(), to.native_size());
  });
}

address packet_conn::local_addr() const { return fd_ ? fd_->laddr : address(); }

// ---- listen and dial -------------------------------------------------------

std::pair<listener, std::error_code> listen(std::string_view network, std::string_view addr) {
  std::error_code err;
  std::shared_ptr<netfd> fd = goro::detail::listen_any(network, addr, true, &err);
  if (!fd) return {listener(), err};
  return {detail::access::make<listener>(std::move(fd)), {}};
}

std::pair<packet_conn, std::error_code> listen_packet(std::string_view network, std::string_view addr) {
  std::error_code err;
  std::shared_ptr<netfd> fd = goro::detail::listen_any(network, addr, false, &err);
  if (!fd) return {packet_conn(), err};
  return {detail::access::make<packet_conn>(std::move(fd)), {}};
}

std::pair<conn, std::error_code> dial_context(const context& ctx, std::string_view network, std::string_view addr) {
  goro::detail::net_kind k;
  if (!goro::detail::parse_network(network, &k)) return {conn(), std::make_error_code(std::errc::invalid_argument)};
  if (std::error_code e = ctx.err()) return {conn(), e};
  std::vector<address> addrs;
  if (std::error_code e = goro::detail::resolve(k, addr, false, &addrs)) return {conn(), e};
  return goro::detail::dial_addrs(ctx, k, addrs);
}

}  // namespace goro::net

namespace goro::detail {

std::pair<goro::net::conn, std::error_code> dial_addrs(const goro::context& ctx, const net_kind& k,
                                                       const std::vector<goro::net::address>& addrs) {
  // Go's saneMinimum: a share shorter than this is not worth the split.
  constexpr std::chrono::steady_clock::duration kMinShare = std::chrono::seconds(2);
  std::error_code first;
  for (size_t i = 0; i < addrs.size(); i++) {
    std::error_code e;
    std::shared_ptr<netfd> fd;
    const size_t remaining = addrs.size() - i;
    std::optional<std::chrono::steady_clock::time_point> d = ctx.deadline();
    if (remaining > 1 && d) {
      auto now = std::chrono::steady_clock::now();
      auto share = (*d - now) / static_cast<int64_t>(remaining);
      if (share < kMinShare) share = std::min(kMinShare, *d - now);
      auto [sub, cancel] = goro::with_deadline(ctx, now + share);
      fd = connect_one(sub, k, addrs[i], &e);
      cancel();
    } else {
      fd = connect_one(ctx, k, addrs[i], &e);
    }
    if (fd) return {goro::net::detail::access::make<goro::net::conn>(std::move(fd)), {}};
    if (!first) first = e;
    if (std::error_code ce = ctx.err()) return {goro::net::conn(), ce};
  }
  return {goro::net::conn(), first};
}

}  // namespace goro::detail
