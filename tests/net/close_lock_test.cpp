// An operation that waits for its connection's read or write mutex while
// close() runs fails with errc::closed when it gets the mutex, as Go's
// fdMutex fails its lock once closing: it must not complete on data
// already queued, or put bytes on the wire of a closed connection. (Found
// by a review of the network layer, 2026-12-06.) White-box: the test
// holds the mutex itself (net/netfd.hpp) so that the operation is parked
// on it, with its reference taken, when close() runs.
#include <sys/ioctl.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#include "goro/chan.hpp"
#include "goro/debug.hpp"
#include "goro/goro.hpp"
#include "goro/net.hpp"
#include "net/netfd.hpp"
#include "net_util.hpp"

namespace {

using net_test::tcp_pair;

struct op_result {
  size_t n = 0;
  std::error_code err;
};

// Goroutines parked on a goro::mutex right now.
int64_t parked_on_mutexes() { return goro::debug::stats().waiting_on("sync.Mutex.Lock"); }

// Bytes queued to be read on fd.
int queued_bytes(int fd) {
  int n = 0;
  return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

// Parks `read` on the server end's read mutex (held here), queues
// `sent` for it, closes the connection, then lets the read have the
// mutex: it must fail with errc::closed, having read nothing.
template <class Read>
void read_waiting_for_the_lock_while_closed(const std::string& sent, Read read) {
  goro::run([&] {
    auto [client, server] = tcp_pair();
    goro::detail::netfd* fd = goro::detail::conn_netfd(server);
    auto result = goro::make_chan<op_result>(1);
    const int64_t before = parked_on_mutexes();
    // Unlocked by hand below, or on an assertion's early return.
    std::unique_lock held(fd->rmu);
    goro::go([server = server, result, &read] { result.send(read(server)); });
    ASSERT_TRUE(goro_test::wait_for([&] { return parked_on_mutexes() == before + 1; }));
    ASSERT_EQ(client.write(sent.data(), sent.size()).second, std::error_code());
    ASSERT_TRUE(goro_test::wait_for([&] { return queued_bytes(fd->sysfd) == static_cast<int>(sent.size()); }));
    server.close();  // the reader holds a reference: the fd stays open
    held.unlock();
    op_result r = result.recv();
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(r.err, goro::errc::closed) << "read " << r.n << " bytes of a closed connection";
  });
}

TEST(NetCloseLock, AReadWaitingForTheReadLockFailsAfterClose) {
  read_waiting_for_the_lock_while_closed("x", [](const goro::net::conn& c) {
    char buf[16];
    auto r = c.read(buf, sizeof buf);
    return op_result{r.first, r.second};
  });
}

TEST(NetCloseLock, AReadFullWaitingForTheReadLockFailsAfterClose) {
  read_waiting_for_the_lock_while_closed("abcd", [](const goro::net::conn& c) {
    char buf[4];
    auto r = c.read_full(buf, sizeof buf);
    return op_result{r.first, r.second};
  });
}

TEST(NetCloseLock, AWriteWaitingForTheWriteLockFailsAfterClose) {
  goro::run([] {
    auto [client, server] = tcp_pair();
    goro::detail::netfd* fd = goro::detail::conn_netfd(server);
    auto result = goro::make_chan<op_result>(1);
    const int64_t before = parked_on_mutexes();
    // Unlocked by hand below, or on an assertion's early return.
    std::unique_lock held(fd->wmu);
    goro::go([server = server, result] {
      auto r = server.write("late", 4);
      result.send({r.first, r.second});
    });
    ASSERT_TRUE(goro_test::wait_for([&] { return parked_on_mutexes() == before + 1; }));
    server.close();  // the writer holds a reference: the fd stays open
    held.unlock();
    op_result r = result.recv();
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(r.err, goro::errc::closed) << "wrote " << r.n << " bytes on a closed connection";
    // And nothing reached the peer: it sees the end of the stream.
    char buf[8];
    auto got = client.read(buf, sizeof buf);
    EXPECT_EQ(got.first, 0u);
    EXPECT_EQ(got.second, goro::io_errc::eof);
  });
}

}  // namespace
