// netfd: the reference count and closing protocol, waiting, deadlines and
// the system call wrappers of goro::net. Design and invariants in
// netfd.hpp; the model is Go's internal/poll (fd_mutex.go's closing bit
// and reference count, fd_poll_runtime.go's prepare/wait/deadline split),
// reduced: a reference count instead of fdMutex's packed read/write
// queues, and a goro::mutex per direction for serializing readers and
// writers.
#include "net/netfd.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "base/futex.hpp"
#include "base/race.hpp"
#include "sched/park.hpp"

namespace goro::detail {

// ---- references and closing --------------------------------------------

bool netfd::incref() {
  // seq_cst with close's fetch_or: an operation that got its reference
  // before the closing bit is counted, so close cannot free under it; one
  // that comes after sees the bit.
  uint64_t s = state.load(std::memory_order_seq_cst);
  for (;;) {
    if (s & kClosing) return false;
    if (state.compare_exchange_weak(s, s + kRef, std::memory_order_seq_cst)) return true;
  }
}

void netfd::decref() {
  // acq_rel: the last dropper sees every other user's accesses to the fd
  // before it closes it.
  // TSan does not see the runtime's atomics (race.hpp): the edge from
  // every operation to the close(2) is told to it, or it reports the
  // close as racing with the last recv.
  race_release(&state);
  if (state.fetch_sub(kRef, std::memory_order_acq_rel) - kRef == kClosing) {
    race_acquire(&state);
    destroy();
  }
}

bool netfd::close() {
  uint64_t s = state.fetch_or(kClosing, std::memory_order_seq_cst);
  if (s & kClosing) return false;
  // Wakes parked goroutines with poll_err::closing; later waits fail so.
  // The fd is still open (our "open" reference).
  if (pd != nullptr) netpoll_close(pd);
  // Go's UnixListener removes its file at Close, before the fd goes.
  if (!unlink_path.empty()) ::unlink(unlink_path.c_str());
  decref();  // the "open" reference
  return true;
}

// Runs once (the count reaches zero once). sysfd and pd keep their stale
// values: fd() may read sysfd meanwhile, and nothing else can.
void netfd::destroy() {
  netpoll_free(pd);
  ::close(sysfd);
}

netfd::~netfd() {
  // The last handle is gone: nobody is inside an operation.
  close();
}

netfd* netfd_new(int fd, int family, int sotype, std::error_code* err, bool stream_conn) {
  int e = 0;
  poll_desc* pd = netpoll_open(fd, &e, stream_conn);
  if (pd == nullptr) {
    ::close(fd);
    *err = {e, std::generic_category()};
    return nullptr;
  }
  return new netfd(fd, pd, family, sotype);
}

std::error_code no_ref_error(const netfd* fd) {
  if (fd == nullptr) return std::make_error_code(std::errc::bad_file_descriptor);
  return errc::closed;
}

// ---- waiting -----------------------------------------------------------

bool deadline_passed(const netfd* fd, poll_mode mode) {
  int64_t d = (mode == poll_mode::read ? fd->rd : fd->wd).load(std::memory_order_acquire);
  return d != 0 && d <= nanotime();
}

std::error_code fd_wait(netfd* fd, poll_mode mode) {
  poll_err r;
  if (in_goroutine()) {
    r = netpoll_wait(fd->pd, mode);
  } else {
    // A plain thread blocks in ppoll; close and deadline changes wake it.
    int err = 0;
    r = netpoll_wait_thread(fd->pd, mode, 0, true, &err);
    if (err != 0) return {err, std::generic_category()};
  }
  return poll_err_code(r);
}

// ---- system calls --------------------------------------------------------

long sys_recv(int fd, void* buf, size_t n, int flags) {
  ssize_t r = ::recv(fd, buf, n, flags);
  return r < 0 ? -errno : r;
}

long sys_send(int fd, const void* buf, size_t n) {
  ssize_t r = ::send(fd, buf, n, MSG_NOSIGNAL);
  return r < 0 ? -errno : r;
}

long sys_recvfrom(int fd, void* buf, size_t n, sockaddr_storage* from, socklen_t* len) {
  *len = sizeof *from;
  ssize_t r = ::recvfrom(fd, buf, n, 0, reinterpret_cast<sockaddr*>(from), len);
  return r < 0 ? -errno : r;
}

long sys_sendto(int fd, const void* buf, size_t n, const sockaddr* to, socklen_t len) {
  ssize_t r = ::sendto(fd, buf, n, MSG_NOSIGNAL, to, len);
  return r < 0 ? -errno : r;
}

long sys_accept(int fd, sockaddr_storage* from, socklen_t* len) {
  *len = sizeof *from;
  int r = ::accept4(fd, reinterpret_cast<sockaddr*>(from), len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return r < 0 ? -errno : r;
}

long sys_connect(int fd, const sockaddr* sa, socklen_t len) {
  int r = ::connect(fd, sa, len);
  return r < 0 ? -errno : r;
}

long sys_socket(int family, int sotype) {
  int r = ::socket(family, sotype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return r < 0 ? -errno : r;
}

long sys_so_error(int fd) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len) != 0) return -errno;
  return -v;
}

long sys_shutdown(int fd, int how) {
  int r = ::shutdown(fd, how);
  return r < 0 ? -errno : r;
}

long sys_bind_listen(int fd, const sockaddr* sa, socklen_t len, bool listen) {
  if (::bind(fd, sa, len) != 0) return -errno;
  // The kernel caps the backlog at net.core.somaxconn, as Go reads it.
  if (listen && ::listen(fd, 4096) != 0) return -errno;
  return 0;
}

}  // namespace goro::detail
