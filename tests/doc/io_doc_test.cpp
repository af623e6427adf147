// The example in the comment of goro/io.hpp, compiled and run, so that it
// cannot drift from the API.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "goro/goro.hpp"

namespace {

// io.hpp's example: read what there is, waiting in the poller.
[[gnu::noinline]] ssize_t read_or_errno(int fd, void* buf, size_t n) {
  ssize_t r = ::read(fd, buf, n);
  return r < 0 ? -errno : r;
}

std::error_code read_some(int fd, char* buf, size_t cap, ssize_t* got) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  for (;;) {
    ssize_t n = read_or_errno(fd, buf, cap);
    if (n >= 0) {  // data (or 0: end of file)
      *got = n;
      return {};
    }
    if (n != -EAGAIN) throw std::system_error(static_cast<int>(-n), std::generic_category());
    if (std::error_code e = goro::wait_fd(fd, goro::io::read, std::chrono::seconds(5)))
      return e;  // goro::errc::deadline_exceeded, or closed
  }
}

TEST(IoDoc, ReadSome) {
  goro::run([] {
    int fd[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0);
    goro::go([w = fd[1]] {
      goro::sleep_for(std::chrono::milliseconds(1));
      ASSERT_EQ(::write(w, "hi", 2), 2);
    });
    char buf[512];
    ssize_t got = -1;
    EXPECT_FALSE(read_some(fd[0], buf, sizeof buf, &got));
    EXPECT_EQ(got, 2);
    goro::close_fd(fd[0]);  // wakes waiters, then close(2)
    goro::close_fd(fd[1]);
  });
}

}  // namespace
