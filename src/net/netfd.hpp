// The state behind goro::net's handles: one socket, its poller record, its
// deadlines, and the count that keeps its descriptor open while an
// operation uses it (Go's netFD, poll.FD and fdMutex, reduced).
//
// Lifetime, in two layers:
//  - The netfd object is owned by std::shared_ptr, one per handle copy
//    (goro/net.hpp): the handle a caller calls through keeps it alive for
//    the call. Its destructor closes the socket if nobody did.
//  - The descriptor (and the poll_desc) live until the socket is closed
//    AND no operation is inside it: `state` counts one reference for
//    "open" plus one per operation in progress, and a closing bit. An
//    operation takes a reference only while the bit is clear; close()
//    sets the bit, wakes the waiters (netpoll_close), and drops the
//    "open" reference; whoever drops the last reference closes the fd and
//    frees the poll_desc. So close(2) never runs under a read or write in
//    progress, and the fd number is not reused under one.
//
// Invariants:
//  - refs (state >> 1) >= 1 while the closing bit is clear (the "open"
//    reference); it reaches 0 once, after closing, and then the fd is
//    closed (destroy()).
//  - At most one goroutine waits per direction on pd: reads, accepts and
//    read_froms hold rmu across their waits, writes, write_tos and the
//    connect wait hold wmu (or run before the handle is published), so
//    netpoll_wait's double-wait panic cannot fire.
//  - rd/wd mirror the deadlines given to netpoll_set_deadline, which
//    stores them under the poll_desc's lock with its own copy, so two
//    set_deadline calls at once leave both copies as one of them set them
//    (the poller wakes parked goroutines; the pre-operation check reads
//    the atomics).
//
// Who touches what: sysfd, pd, family, sotype, laddr, raddr and
// unlink_path are written before the netfd is shared and never after
// (except sysfd/pd being released by destroy(), after the last
// reference). state, rd and wd are atomics. rmu and wmu are goro::mutex
// (goroutines park on them; plain threads sleep).
//
// Lock order: rmu or wmu (never both, never nested with another netfd's),
// then a poll_desc's lock (inside the netpoll calls).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <system_error>

#include "goro/mutex.hpp"
#include "goro/net.hpp"
#include "netpoll/netpoll.hpp"

namespace goro::detail {

struct netfd {
  netfd(int fd, poll_desc* p, int fam, int sot) : sysfd(fd), pd(p), family(fam), sotype(sot) {}
  ~netfd();
  netfd(const netfd&) = delete;
  netfd& operator=(const netfd&) = delete;

  int sysfd;
  poll_desc* pd;
  int family;
  int sotype;
  goro::net::address laddr;
  goro::net::address raddr;
  std::string unlink_path;  // a Unix listener's socket file, removed at close

  // Bit 0: closing. Bits 1..: references (the "open" one plus one per
  // operation in progress).
  static constexpr uint64_t kClosing = 1;
  static constexpr uint64_t kRef = 2;
  std::atomic<uint64_t> state{kRef};

  // Deadlines, nanotime(); 0 none. Stored with release and loaded with
  // acquire: only the value itself is published (the poller's copy has
  // its own lock), so no stronger order is needed.
  std::atomic<int64_t> rd{0};  // read deadline
  std::atomic<int64_t> wd{0};  // write deadline

  // Never biased: a conn is often read by one goroutine and closed or
  // read by another (the HTTP server's background read), and the bias
  // would save ~10 ns against a system call's microsecond while its
  // revocation costs a membarrier (sync/mutex_bias.cpp).
  goro::mutex rmu{goro::mutex::never_biased_t{}};
  goro::mutex wmu{goro::mutex::never_biased_t{}};

  // Guarded by rmu. read_drained: the last recv on this TCP socket
  // returned fewer bytes than asked, so the next goroutine read waits for
  // readiness first (netpoll_short_read_drains, netpoll.hpp).
  // eagain_reads: receives that returned EAGAIN (for the tests).
  bool read_drained = false;
  uint64_t eagain_reads = 0;

  // Whether close() has begun. An operation checks it once it holds its
  // direction's mutex: one that waited for the mutex while close() ran
  // fails with errc::closed rather than completing on data already queued
  // or on room in the send buffer (Go's fdMutex fails its lock so).
  bool closing() const { return (state.load(std::memory_order_seq_cst) & kClosing) != 0; }
  // Takes a reference for an operation; false once closing.
  bool incref();
  // Drops one; the last one after closing closes the fd.
  void decref();
  // Go's Close: false if already closing.
  bool close();

 private:
  void destroy();
};

// Makes a netfd for an open non-blocking socket: registers it with the
// poller (stream_conn: netpoll_open's, a connected or connecting stream
// socket). On failure closes fd and returns null with *err set.
netfd* netfd_new(int fd, int family, int sotype, std::error_code* err, bool stream_conn = false);

// An operation's reference, dropped at scope exit.
class fd_ref {
 public:
  explicit fd_ref(netfd* fd) : fd_(fd != nullptr && fd->incref() ? fd : nullptr) {}
  ~fd_ref() {
    if (fd_ != nullptr) fd_->decref();
  }
  fd_ref(const fd_ref&) = delete;
  fd_ref& operator=(const fd_ref&) = delete;
  explicit operator bool() const { return fd_ != nullptr; }

 private:
  netfd* fd_;
};

// The error for an operation on a handle without a reference: no socket
// (bad_file_descriptor) or a closed one (errc::closed).
std::error_code no_ref_error(const netfd* fd);

// Whether the deadline for `mode` has passed.
bool deadline_passed(const netfd* fd, poll_mode mode);

// The record behind a connection (null for a default handle): for
// white-box tests.
netfd* conn_netfd(const goro::net::conn& c);

// Waits until fd may be ready for `mode` (the caller holds a reference and
// the direction's mutex, and retries its operation on {}): parks a
// goroutine in the poller; a plain thread blocks in ppoll, woken at once
// by close and deadline changes (netpoll_wait_thread). Returns
// errc::closed or errc::deadline_exceeded (or ppoll's error).
std::error_code fd_wait(netfd* fd, poll_mode mode);

// System calls that return the result or -errno (never inlined: errno is
// read on the thread that made the call, see goro/io.hpp).
[[gnu::noinline]] long sys_recv(int fd, void* buf, size_t n, int flags);
[[gnu::noinline]] long sys_send(int fd, const void* buf, size_t n);
[[gnu::noinline]] long sys_recvfrom(int fd, void* buf, size_t n, sockaddr_storage* from, socklen_t* len);
[[gnu::noinline]] long sys_sendto(int fd, const void* buf, size_t n, const sockaddr* to, socklen_t len);
[[gnu::noinline]] long sys_accept(int fd, sockaddr_storage* from, socklen_t* len);
[[gnu::noinline]] long sys_connect(int fd, const sockaddr* sa, socklen_t len);
[[gnu::noinline]] long sys_socket(int family, int sotype);
[[gnu::noinline]] long sys_so_error(int fd);
[[gnu::noinline]] long sys_shutdown(int fd, int how);
[[gnu::noinline]] long sys_bind_listen(int fd, const sockaddr* sa, socklen_t len, bool listen);

inline std::error_code errno_code(long neg) { return {static_cast<int>(-neg), std::generic_category()}; }

}  // namespace goro::detail
