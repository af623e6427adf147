// goro::wait_fd, unwatch_fd, close_fd (goro/io.hpp): the poller for fds
// that the user owns, found by number in a table.
//
// The table maps an fd number to its poll_desc. A record is referenced by
// the table (until unwatch_fd) and by each wait_fd call inside it; the
// last reference returns it to the poller's cache (netpoll_free), so a
// goroutine woken by unwatch_fd still reads its own record's `closing`
// when it resumes, never a record reused for another fd.
//
// Invariants:
//  - table[fd] is the record registered for fd, or null; its `refs`
//    counts the table's reference plus the calls inside wait_fd_ns.
//  - A record out of the table is closing (netpoll_close ran or is about
//    to) and is freed when refs reaches 0.
//
// Lock order: the table's lock (rank poll_fds) is held to look up, to
// register a new fd (epoll_ctl, and the cache's leaf lock), to count
// references and to claim a direction, and by unwatch_fd across
// netpoll_close (which takes the record's lock, rank poll_desc, after it,
// and readies the waiters); never while waiting.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "goro/io.hpp"
#include "goro/panic.hpp"
#include "netpoll/netpoll.hpp"
#include "sched/sched.hpp"

namespace goro::detail {

namespace {

struct fd_entry {
  poll_desc* pd = nullptr;
  int32_t refs = 0;  // guarded by the table's lock
  // A goroutine inside wait_fd_ns for reading [0] / writing [1], guarded by
  // the table's lock: a second one is refused before it touches the
  // record's deadline, which is the first one's (it used to move the
  // deadline, then clear it on its way out with the panic).
  bool goroutine_waiting[2] = {false, false};
};

struct fd_table {
  runtime_lock lock{lock_rank::poll_fds};
  std::vector<fd_entry*> by_fd;  // guarded by lock; null: not registered
};

fd_table& table() {
  static fd_table* t = new fd_table();  // never destroyed: used until exit
  return *t;
}

void entry_release(fd_entry* e) {
  fd_table& t = table();
  bool last;
  {
    lock_guard lk(t.lock);
    last = --e->refs == 0;
  }
  if (last) {
    netpoll_free(e->pd);
    delete e;
  }
}

// The entry for fd with a reference taken, or null: *always_ready for a
// file epoll cannot watch, else *err.
fd_entry* entry_acquire(int fd, bool* always_ready, int* err) {
  fd_table& t = table();
  lock_guard lk(t.lock);
  if (static_cast<size_t>(fd) < t.by_fd.size() && t.by_fd[fd] != nullptr) {
    fd_entry* e = t.by_fd[fd];
    e->refs++;
    return e;
  }
  int e_no = 0;
  poll_desc* pd = netpoll_open(fd, &e_no);
  if (pd == nullptr) {
    if (e_no == EPERM) *always_ready = true;  // a regular file or a directory
    *err = e_no;
    return nullptr;
  }
  if (static_cast<size_t>(fd) >= t.by_fd.size()) t.by_fd.resize(static_cast<size_t>(fd) + 1 + t.by_fd.size() / 2);
  auto* e = new fd_entry{pd, 2};  // the table's reference and ours
  t.by_fd[fd] = e;
  return e;
}

}  // namespace

std::error_code wait_fd_ns(int fd, io mode, int64_t deadline_ns) {
  if (fd < 0) return std::make_error_code(std::errc::bad_file_descriptor);
  if (deadline_ns != 0 && deadline_ns <= nanotime()) return errc::deadline_exceeded;
  bool always_ready = false;
  int err = 0;
  fd_entry* e = entry_acquire(fd, &always_ready, &err);
  if (e == nullptr) {
    if (always_ready) return {};
    return {err, std::generic_category()};
  }
  const poll_mode pm = mode == io::read ? poll_mode::read : poll_mode::write;
  if (!in_goroutine()) {
    // A plain thread blocks in ppoll on the fd and its own eventfd, which
    // unwatch_fd writes; the deadline is this call's, not the record's
    // (goroutines set theirs there).
    int err = 0;
    poll_err r = netpoll_wait_thread(e->pd, pm, deadline_ns, false, &err);
    entry_release(e);
    if (err != 0) return {err, std::generic_category()};
    return poll_err_code(r);
  }
  const int dir = pm == poll_mode::read ? 0 : 1;
  bool second = false;
  {
    lock_guard lk(table().lock);
    second = e->goroutine_waiting[dir];
    e->goroutine_waiting[dir] = true;
  }
  if (second) {
    entry_release(e);
    throw panic_error(pm == poll_mode::read ? "goro: two goroutines wait to read the same fd at once"
                                            : "goro: two goroutines wait to write the same fd at once");
  }
  struct releaser {
    fd_entry* e;
    poll_mode pm;
    int dir;
    bool deadline;
    ~releaser() {
      if (deadline) netpoll_set_deadline(e->pd, pm, 0);
      {
        lock_guard lk(table().lock);
        e->goroutine_waiting[dir] = false;
      }
      entry_release(e);
    }
  } rel{e, pm, dir, deadline_ns != 0};
  if (deadline_ns != 0) netpoll_set_deadline(e->pd, pm, deadline_ns);
  return poll_err_code(netpoll_wait(e->pd, pm));  // may throw (a second waiter): rel cleans up
}

}  // namespace goro::detail

namespace goro {

void unwatch_fd(int fd) {
  using namespace detail;
  if (fd < 0) return;
  fd_table& t = table();
  fd_entry* e = nullptr;
  {
    lock_guard lk(t.lock);
    if (static_cast<size_t>(fd) < t.by_fd.size()) {
      e = t.by_fd[fd];
      t.by_fd[fd] = nullptr;
    }
    // Under the table's lock: a wait_fd that registers the fd anew after
    // this finds the old registration gone from epoll (it was refused with
    // EEXIST when it came between the two).
    if (e != nullptr) netpoll_close(e->pd);
  }
  if (e == nullptr) return;
  entry_release(e);  // the table's reference
}

std::error_code close_fd(int fd) {
  unwatch_fd(fd);
  if (::close(fd) != 0) return {errno, std::generic_category()};
  return {};
}

}  // namespace goro
