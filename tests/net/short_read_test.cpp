// A goroutine's TCP receive after a short one waits for readiness before
// calling recv again (net.cpp's recv_locked, netpoll.hpp's
// netpoll_short_read_drains): request-response traffic makes no recv that
// says EAGAIN, and the cases where a short TCP read leaves bytes behind
// (the urgent mark, the peer's FIN) still deliver every byte.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>

#include "goro/chan.hpp"
#include "goro/goro.hpp"
#include "goro/net.hpp"
#include "net/netfd.hpp"
#include "net_util.hpp"

namespace {

using namespace std::chrono_literals;
using net_test::tcp_pair;

// Runs send() on this plain thread while a goroutine spins on the only P,
// so the poller is not polled until send() returned: the sends' edges
// reach a parked reader as one wake-up. Returns once the spinner ended.
template <class Send>
void while_the_only_p_spins(Send send) {
  std::atomic<int> spinner{0};  // 1: spinning; 2: told to stop
  auto ended = goro::make_chan<int>(1);
  goro::go([&] {
    spinner = 1;
    while (spinner.load() != 2) {
    }
    ended.send(1);
  });
  while (spinner.load() != 1) std::this_thread::yield();
  send();
  spinner = 2;
  ended.recv();
}

// A plain thread sends a request and reads the echo, kRounds times; the
// server goroutine reads into a 4 KiB buffer (every read is short) and
// echoes. Asking recv again after each short read would be told EAGAIN
// once per round: the client has not sent the next request yet.
TEST(NetShortRead, PingPongWaitsForReadinessInsteadOfAskingAgain) {
  auto [client, server] = tcp_pair();
  constexpr int kRounds = 400;
  auto done = goro::make_chan<int>(1);
  goro::go([&, server = server] {
    char buf[4096];
    for (;;) {
      auto [n, e] = server.read(buf, sizeof buf);
      if (e) break;
      if (server.write(buf, n).second) break;
    }
    done.send(1);
  });
  char msg[64], echo[64];
  for (int i = 0; i < kRounds; i++) {
    std::memset(msg, 'a' + i % 26, sizeof msg);
    ASSERT_FALSE(client.write(msg, sizeof msg).second);
    ASSERT_FALSE(client.read_full(echo, sizeof echo).second);
    ASSERT_EQ(0, std::memcmp(msg, echo, sizeof msg)) << "round " << i;
  }
  client.close();
  done.recv();  // the server's last read saw the end of the stream
  uint64_t eagain = goro::detail::conn_netfd(server)->eagain_reads;
  RecordProperty("eagain_reads", static_cast<int>(eagain));
  EXPECT_LE(eagain, static_cast<uint64_t>(kRounds / 10)) << "receives that returned EAGAIN in " << kRounds << " rounds";
  server.close();
}

struct read_result {
  std::string bytes;
  std::error_code err;
};

// Starts a goroutine that reads `server` into a 4 KiB buffer until it has
// `want` bytes or a read fails, then sends what it read. *id gets its
// goroutine id.
goro::chan<read_result> start_reader(goro::net::conn server, size_t want, std::atomic<uint64_t>* id) {
  auto out = goro::make_chan<read_result>(1);
  goro::go([server, want, id, out] {
    *id = goro::goroutine_id();
    read_result r;
    char buf[4096];
    while (r.bytes.size() < want && !r.err) {
      auto [n, e] = server.read(buf, sizeof buf);
      r.bytes.append(buf, n);
      r.err = e;
    }
    out.send(std::move(r));
  });
  return out;
}

// recv stops at the urgent mark with bytes still queued behind it, and no
// new edge comes for them. The poller notes EPOLLPRI, so the reader asks
// recv again. The reader is parked when the three sends come, and their
// edges reach it as one wake-up that it consumes before its recv
// (while_the_only_p_spins): without the note it would then wait for an
// edge that never comes (the read deadline ends the test with the bytes
// missing).
TEST(NetShortRead, UrgentDataLeavesNoBytesStranded) {
  int prev = goro::set_maxprocs(1);
  auto [client, server] = tcp_pair();
  ASSERT_FALSE(server.set_read_deadline(std::chrono::steady_clock::now() + 60s));
  std::atomic<uint64_t> reader{0};
  auto got = start_reader(server, 7, &reader);
  const int peer = client.fd();
  ASSERT_EQ(1, ::send(peer, "1", 1, 0));  // read short (the hint set) before or with the rest
  ASSERT_TRUE(net_test::await_parked(reader)) << "the reader never waited";
  while_the_only_p_spins([&] {
    EXPECT_EQ(3, ::send(peer, "abc", 3, 0));
    EXPECT_EQ(1, ::send(peer, "x", 1, MSG_OOB));  // out of band: not in the stream
    EXPECT_EQ(3, ::send(peer, "def", 3, 0));
  });
  read_result r = got.recv();
  EXPECT_EQ(r.bytes, "1abcdef");
  EXPECT_FALSE(r.err) << r.err.message();
  client.close();
  server.close();
  goro::set_maxprocs(prev);
}

// The peer's data and FIN come in one wake-up: the read stops short at
// the FIN, and the next read must still see the end of the stream.
TEST(NetShortRead, EndOfStreamAfterAShortReadIsSeen) {
  int prev = goro::set_maxprocs(1);
  auto [client, server] = tcp_pair();
  ASSERT_FALSE(server.set_read_deadline(std::chrono::steady_clock::now() + 60s));
  std::atomic<uint64_t> reader{0};
  auto got = start_reader(server, 100, &reader);  // more than is sent: reads to the end
  ASSERT_EQ(1, ::send(client.fd(), "1", 1, 0));
  ASSERT_TRUE(net_test::await_parked(reader)) << "the reader never waited";
  while_the_only_p_spins([&, client = client] {
    EXPECT_EQ(3, ::send(client.fd(), "abc", 3, 0));
    EXPECT_FALSE(client.close_write());
  });
  read_result r = got.recv();
  EXPECT_EQ(r.bytes, "1abc");
  EXPECT_EQ(r.err, goro::io_errc::eof) << r.err.message();
  client.close();
  server.close();
  goro::set_maxprocs(prev);
}

}  // namespace
