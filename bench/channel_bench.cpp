// The channel suite: crossbeam-channel's benchmark matrix as the Go anchor
// runs it (../shared/bench/README.md), on goro::chan<std::uint64_t>.
//
// Kinds: bounded0 (make_chan<T>()), bounded1 (make_chan<T>(1)), bounded_n
// (make_chan<T>(MESSAGES)). Cases: seq (bounded_n only), spsc, mpsc, mpmc,
// select_rx, select_both; 4 senders/receivers, static 4-way goro::select.
// Timed region: from just before the channels are made until every sender
// and receiver has finished (wait_group::wait); it includes making the
// channels and starting the goroutines. Then: exactly MESSAGES values
// received, summing to MESSAGES*(MESSAGES-1)/2, none left in a channel.
#include <array>
#include <cstdint>
#include <cstring>

#include "goro/chan.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/wait_group.hpp"
#include "harness.hpp"

namespace goro_bench {

namespace {

using msg = std::uint64_t;
using chan = goro::chan<msg>;
using chans = std::array<chan, kThreads>;

int64_t messages() { return cfg().messages; }

double chan_seq(int64_t capacity, tally& t) {
  const int64_t m = messages();
  stopwatch sw;
  chan ch = goro::make_chan<msg>(capacity);
  for (int64_t i = 0; i < m; i++) ch.send(static_cast<msg>(i));
  uint64_t sum = 0;
  for (int64_t i = 0; i < m; i++) sum += ch.recv();
  double secs = sw.seconds();
  t.add(m, sum);
  t.left += ch.len();
  return secs;
}

void sender(goro::send_chan<msg> ch, range r, goro::wait_group& wg) {
  for (int64_t i = r.lo; i < r.hi; i++) ch.send(static_cast<msg>(i));
  wg.done();
}

void receiver(goro::recv_chan<msg> ch, int64_t quota, tally& t, goro::wait_group& wg) {
  uint64_t sum = 0;
  for (int64_t i = 0; i < quota; i++) sum += ch.recv();
  t.add(quota, sum);
  wg.done();
}

// n_send senders and n_recv receivers on one channel.
double chan_pipe(int64_t capacity, int n_send, int n_recv, tally& t) {
  const int64_t m = messages();
  goro::wait_group wg;
  stopwatch sw;
  chan ch = goro::make_chan<msg>(capacity);
  wg.add(n_send + n_recv);
  for (int s = 0; s < n_send; s++) goro::go(sender, goro::send_chan<msg>(ch), share(m, n_send, s), std::ref(wg));
  for (int r = 0; r < n_recv; r++) {
    range q = share(m, n_recv, r);
    goro::go(receiver, goro::recv_chan<msg>(ch), q.hi - q.lo, std::ref(t), std::ref(wg));
  }
  wg.wait();
  double secs = sw.seconds();
  t.left += ch.len();
  return secs;
}

chans make_chans(int64_t capacity) {
  chans cs;
  for (auto& c : cs) c = goro::make_chan<msg>(capacity);
  return cs;
}

void select_receiver(chans cs, int64_t quota, tally& t, goro::wait_group& wg) {
  uint64_t sum = 0;
  for (int64_t i = 0; i < quota; i++) {
    msg v = 0;
    goro::select(goro::on_recv(cs[0], [&](msg x) { v = x; }),  //
                 goro::on_recv(cs[1], [&](msg x) { v = x; }),  //
                 goro::on_recv(cs[2], [&](msg x) { v = x; }),  //
                 goro::on_recv(cs[3], [&](msg x) { v = x; }));
    sum += v;
  }
  t.add(quota, sum);
  wg.done();
}

void select_sender(chans cs, range r, goro::wait_group& wg) {
  for (int64_t i = r.lo; i < r.hi; i++) {
    msg v = static_cast<msg>(i);
    goro::select(goro::on_send(cs[0], v), goro::on_send(cs[1], v),  //
                 goro::on_send(cs[2], v), goro::on_send(cs[3], v));
  }
  wg.done();
}

// Sender s sends its share on its own channel; one receiver selects over
// all of them.
double chan_select_rx(int64_t capacity, tally& t) {
  const int64_t m = messages();
  goro::wait_group wg;
  stopwatch sw;
  chans cs = make_chans(capacity);
  wg.add(kThreads + 1);
  for (int s = 0; s < kThreads; s++) goro::go(sender, goro::send_chan<msg>(cs[s]), share(m, kThreads, s), std::ref(wg));
  goro::go(select_receiver, cs, m, std::ref(t), std::ref(wg));
  wg.wait();
  double secs = sw.seconds();
  for (auto& c : cs) t.left += c.len();
  return secs;
}

// Every sender selects over all channels to send, every receiver selects
// over all channels to receive.
double chan_select_both(int64_t capacity, tally& t) {
  const int64_t m = messages();
  goro::wait_group wg;
  stopwatch sw;
  chans cs = make_chans(capacity);
  wg.add(2 * kThreads);
  for (int s = 0; s < kThreads; s++) goro::go(select_sender, cs, share(m, kThreads, s), std::ref(wg));
  for (int r = 0; r < kThreads; r++) {
    range q = share(m, kThreads, r);
    goro::go(select_receiver, cs, q.hi - q.lo, std::ref(t), std::ref(wg));
  }
  wg.wait();
  double secs = sw.seconds();
  for (auto& c : cs) t.left += c.len();
  return secs;
}

// handle_copy: copy a channel handle and destroy the copy, 10,000,000
// times on one thread (a reference count up and down, uncontended, plus
// the handle tracker's check: off here, on with GORO_DEBUG=chanleak=1).
void handle_copy() {
  constexpr int64_t n = 10'000'000;
  chan c = goro::make_chan<msg>();
  stopwatch sw;
  for (int64_t i = 0; i < n; i++) {
    chan copy(c);
    asm volatile("" : : "r"(&copy) : "memory");
  }
  emit("channel", "handle_copy", "-", sw.seconds(), n);
}

}  // namespace

void channel_suite() {
  if (selected("channel", "handle_copy", "-")) handle_copy();
  struct kind {
    const char* name;
    int64_t capacity;
  };
  const kind kinds[] = {{"bounded0", 0}, {"bounded1", 1}, {"bounded_n", messages()}};
  const char* cases[] = {"seq", "spsc", "mpsc", "mpmc", "select_rx", "select_both"};
  for (const kind& k : kinds) {
    for (const char* c : cases) {
      bool seq = std::strcmp(c, "seq") == 0;
      if (seq && k.capacity < messages()) continue;  // would deadlock: seq needs room for every message
      if (!selected("channel", c, k.name)) continue;
      tally t;
      double secs = 0;
      if (seq) {
        secs = chan_seq(k.capacity, t);
      } else if (std::strcmp(c, "spsc") == 0) {
        secs = chan_pipe(k.capacity, 1, 1, t);
      } else if (std::strcmp(c, "mpsc") == 0) {
        secs = chan_pipe(k.capacity, kThreads, 1, t);
      } else if (std::strcmp(c, "mpmc") == 0) {
        secs = chan_pipe(k.capacity, kThreads, kThreads, t);
      } else if (std::strcmp(c, "select_rx") == 0) {
        secs = chan_select_rx(k.capacity, t);
      } else {
        secs = chan_select_both(k.capacity, t);
      }
      t.check(c, k.name);
      emit("channel", c, k.name, secs, messages());
    }
  }
}

}  // namespace goro_bench
