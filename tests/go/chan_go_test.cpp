// Ports of Go's own channel tests (semantics, not code): from
// go/test/chan/{sieve1,powser1,doubleselect,nonblock,select3}.go, the
// "daisy chain" of Go's concurrency talks, and runtime/chan_test.go
// (TestNonblockRecvRace, TestMultiConsumer, TestSelectDuplicateChannel,
// TestSelectStress, TestPseudoRandomSend, TestSelfSelect is in
// tests/chan/select_test.cpp). Each runs at 1, 2 and 4 Ps.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "goro/select.hpp"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

using goro_test::for_procs;

// Go's versions of the next two leave their goroutines blocked forever;
// these stop them when `done` is closed (a select against done at every
// channel operation), so the test leaks nothing.
struct stopped {};
struct pipeline {
  goro::chan<goro::unit> done = goro::make_chan<goro::unit>();
  goro::wait_group wg;

  template <class T>
  T get(goro::recv_chan<T> c) {
    T v{};
    if (goro::select(goro::on_recv(c, [&](T x) { v = x; }), goro::on_recv(done)) == 1) throw stopped{};
    return v;
  }
  template <class T>
  void put(goro::send_chan<T> c, T v) {
    if (goro::select(goro::on_send(c, v), goro::on_recv(done)) == 1) throw stopped{};
  }
  template <class F>
  void go(F f) {
    wg.go([f]() mutable {
      try {
        f();
      } catch (stopped) {
      }
    });
  }
  void stop() {
    done.close();
    wg.wait();
  }
};

// ---- test/chan/sieve1.go: the concurrent prime sieve.

TEST(GoChan, Sieve) {
  for_procs([] {
    pipeline p;
    auto ch = goro::make_chan<int>();
    p.go([&p, ch] {
      for (int i = 2;; i++) p.put<int>(ch, i);
    });
    std::vector<int> primes;
    goro::recv_chan<int> in = ch;
    for (int i = 0; i < 100; i++) {
      int prime = in.recv();
      primes.push_back(prime);
      auto out = goro::make_chan<int>();
      p.go([&p, in, out, prime] {
        for (;;) {
          int v = p.get(in);
          if (v % prime != 0) p.put<int>(out, v);
        }
      });
      in = out;
    }
    p.stop();
    EXPECT_EQ(primes[0], 2);
    EXPECT_EQ(primes[24], 97);
    EXPECT_EQ(primes[99], 541);
  });
}

// ---- test/chan/powser1.go, in spirit: power series as channels of
// rational coefficients, copied with a select-driven split (each send case
// disabled by setting its channel to nil once done) and defined by
// feedback: exp = 1 + integral(exp).

struct rat {
  int64_t num = 0, den = 1;
};
rat mk(int64_t n, int64_t d) {
  int64_t g = std::gcd(n, d);
  if (d < 0) g = -g;
  return {n / g, d / g};
}
rat add(rat a, rat b) { return mk(a.num * b.den + b.num * a.den, a.den * b.den); }
rat mul(rat a, rat b) { return mk(a.num * b.num, a.den * b.den); }

using series = goro::chan<rat>;

// Copies every coefficient of in to both outputs, in whichever order the
// consumers are ready (Go's split).
void split(pipeline& p, series in, series a, series b) {
  p.go([&p, in, a, b] {
    for (;;) {
      rat r = p.get<rat>(in);
      goro::chan<rat> x = a, y = b;
      for (int sent = 0; sent < 2;) {
        int i = goro::select(goro::on_send(x, r, [&] { x = {}; sent++; }),
                             goro::on_send(y, r, [&] { y = {}; sent++; }), goro::on_recv(p.done));
        if (i == 2) throw stopped{};
      }
    }
  });
}

series integ(pipeline& p, rat c0, series in) {
  auto out = goro::make_chan<rat>();
  p.go([&p, c0, in, out] {
    p.put<rat>(out, c0);
    for (int64_t n = 1;; n++) p.put<rat>(out, mul(p.get<rat>(in), mk(1, n)));
  });
  return out;
}

series exp_series(pipeline& p) {
  auto fb = goro::make_chan<rat>(), out = goro::make_chan<rat>();
  auto e = integ(p, mk(1, 1), fb);
  split(p, e, out, fb);
  return out;
}

series mul_series(pipeline& p, series f, series g) {
  auto out = goro::make_chan<rat>();
  p.go([&p, f, g, out] {
    std::vector<rat> fs, gs;
    for (;;) {
      fs.push_back(p.get<rat>(f));
      gs.push_back(p.get<rat>(g));
      rat s{0, 1};
      size_t n = fs.size() - 1;
      for (size_t i = 0; i <= n; i++) s = add(s, mul(fs[i], gs[n - i]));
      p.put<rat>(out, s);
    }
  });
  return out;
}

TEST(GoChan, PowerSeries) {
  for_procs([] {
    pipeline p;
    auto e = exp_series(p);
    int64_t fact = 1;
    for (int n = 0; n < 15; n++) {
      if (n) fact *= n;
      rat r = e.recv();
      EXPECT_EQ(r.num, 1) << n;
      EXPECT_EQ(r.den, fact) << n;
    }
    // exp(x)^2 = exp(2x): coefficients 2^n / n!.
    auto sq = mul_series(p, exp_series(p), exp_series(p));
    fact = 1;
    for (int n = 0; n < 12; n++) {
      if (n) fact *= n;
      rat r = sq.recv();
      rat want = mk(int64_t{1} << n, fact);
      EXPECT_EQ(r.num, want.num) << n;
      EXPECT_EQ(r.den, want.den) << n;
    }
    p.stop();
  });
}

// ---- The daisy chain ("whispers"): 10,000 goroutines each pass one
// value, plus one, from right to left.

TEST(GoChan, DaisyChain10000) {
  for_procs([] {
#if defined(GORO_TSAN)
    // TSan allows 8128 live fibers (Go's race detector: 8128 goroutines),
    // and each costs milliseconds to start (goro_test::goroutines): 3 x
    // 1,000 took 46 s on a busy machine.
    const int n = 500;
#else
    const int n = 10000;
#endif
    auto leftmost = goro::make_chan<int>();
    auto left = leftmost;
    for (int i = 0; i < n; i++) {
      auto right = goro::make_chan<int>();
      goro::go([](goro::send_chan<int> l, goro::recv_chan<int> r) { l.send(1 + r.recv()); }, left, right);
      left = right;
    }
    goro::go([](goro::send_chan<int> c) { c.send(1); }, left);
    EXPECT_EQ(leftmost.recv(), n + 1);
  });
}

// ---- test/chan/doubleselect.go: a sender selects over 4 channels; the
// receivers (some selecting, some plain) must see every value once.

TEST(GoChan, DoubleSelect) {
  for_procs([] {
    const int n = 5000;
    auto c1 = goro::make_chan<int>(), c2 = goro::make_chan<int>(), c3 = goro::make_chan<int>(),
         c4 = goro::make_chan<int>();
    goro::go([=]() mutable {
      for (int i = 1; i <= n; i++) {
        goro::select(goro::on_send(c1, i), goro::on_send(c2, i), goro::on_send(c3, i), goro::on_send(c4, i));
      }
      c1.close();
      c2.close();
      c3.close();
      c4.close();
    });
    auto cmux = goro::make_chan<int>(10);
    goro::wait_group wg;
    auto mux = [&](goro::chan<int> in) {
      wg.add(1);
      goro::go([in, cmux, &wg]() mutable {
        for (int v : in) cmux.send(v);
        wg.done();
      });
    };
    mux(c1);
    mux(c2);
    mux(c3);
    mux(c4);
    goro::go([&] {
      wg.wait();
      cmux.close();
    });
    std::vector<bool> seen(n + 1);
    int count = 0;
    for (int v : cmux) {
      ASSERT_FALSE(seen[v]) << "duplicate " << v;
      seen[v] = true;
      count++;
    }
    EXPECT_EQ(count, n);
  });
}

// ---- test/chan/nonblock.go: non-blocking operations on empty, full and
// ready channels of every capacity.

TEST(GoChan, NonBlock) {
  for_procs([] {
    for (int cap : {0, 1, 4}) {
      auto c = goro::make_chan<int>(cap);
      EXPECT_TRUE(c.try_recv().would_block());
      EXPECT_EQ(goro::select(goro::on_recv(c), goro::on_default()), 1);
      for (int i = 0; i < cap; i++) EXPECT_TRUE(c.try_send(i));
      EXPECT_FALSE(c.try_send(9));
      EXPECT_EQ(goro::select(goro::on_send(c, 9), goro::on_default()), 1);
      // A receiver waiting makes a non-blocking send succeed (eventually).
      auto got = goro::make_chan<int>(100);
      goro::go([=]() mutable {
        for (int i = 0; i < cap + 1; i++) got.send(c.recv());
      });
      int tries = 0;
      while (!c.try_send(42)) {
        goro::yield();
        ASSERT_LT(++tries, 1000000);
      }
      for (int i = 0; i < cap; i++) EXPECT_EQ(got.recv(), i);
      EXPECT_EQ(got.recv(), 42);
      // A sender waiting makes a non-blocking receive succeed (eventually).
      goro::go([=]() mutable { c.send(7); });
      std::optional<int> v;
      while (!v) {
        if (auto r = c.try_recv()) v = *r;
        else goro::yield();
      }
      EXPECT_EQ(*v, 7);
    }
  });
}

// ---- runtime/chan_test.go TestNonblockRecvRace: a value or a close is
// there before the select starts, so default must never run.

TEST(GoChan, NonblockRecvRace) {
  for_procs([] {
    for (int i = 0; i < 200; i++) {
      auto c = goro::make_chan<int>(1);
      c.send(1);
      auto bad = goro::make_chan<bool>(1);
      goro::go([=]() mutable {
        bool def = false;
        goro::select(goro::on_recv(c), goro::on_default([&] { def = true; }));
        bad.send(def);
      });
      c.close();
      c.recv();
      EXPECT_FALSE(bad.recv()) << "chan is not ready";
    }
  });
}

// ---- TestMultiConsumer: 4 consumers share one channel; the sum and count
// of what they received match what was sent.

TEST(GoChan, MultiConsumer) {
  for_procs([] {
    const int nwork = 23, niter = 27100;
    auto q = goro::make_chan<int>(nwork * 3);
    auto r = goro::make_chan<int>(nwork * 3);
    goro::wait_group wg;
    for (int i = 0; i < nwork; i++) {
      wg.add(1);
      goro::go([=, &wg]() mutable {
        for (int v : q) {
          if (v % 1000 == 0) goro::yield();
          r.send(v);
        }
        wg.done();
      });
    }
    long expect = 0;
    std::atomic<long> n{0}, s{0};
    auto done = goro::make_chan<goro::unit>();
    goro::go([=, &n, &s]() mutable {
      for (int v : r) {
        n++;
        s += v;
      }
      done.send({});
    });
    for (int i = 0; i < niter; i++) {
      int v = (i * 23) % 1000 + 1;
      expect += v;
      q.send(v);
    }
    q.close();
    wg.wait();
    r.close();
    done.recv();
    EXPECT_EQ(n.load(), niter);
    EXPECT_EQ(s.load(), expect);
  });
}

// ---- TestSelectDuplicateChannel: a select with the same channel twice
// must be dequeued cleanly from both places.

TEST(GoChan, SelectDuplicateChannel) {
  for_procs([] {
    auto c = goro::make_chan<int>(), d = goro::make_chan<int>(), e = goro::make_chan<int>();
    goro::go([=]() mutable {
      goro::select(goro::on_recv(c), goro::on_recv(c), goro::on_recv(d));
      e.send(9);
    });
    goro::sleep_for(1ms);  // let it block
    goro::go([=]() mutable { c.recv(); });
    goro::sleep_for(1ms);
    d.send(7);  // wakes the select
    e.recv();
    c.send(8);  // wakes the plain receiver; must not find the stale select entry
  });
}

// ---- TestSelectStress: 4 channels (2 unbuffered, 2 buffered), senders and
// receivers all selecting, cases disabled (nil) as they finish.

TEST(GoChan, SelectStress) {
  for_procs([] {
    const int n = 2000;
    goro::chan<int> c[4] = {goro::make_chan<int>(), goro::make_chan<int>(), goro::make_chan<int>(2),
                            goro::make_chan<int>(3)};
    goro::wait_group wg;
    for (int k = 0; k < 4; k++) {  // a plain sender and a plain receiver per channel
      wg.add(2);
      goro::go([&wg, ch = c[k]]() mutable {
        for (int i = 0; i < n; i++) ch.send(i);
        wg.done();
      });
      goro::go([&wg, ch = c[k]]() mutable {
        for (int i = 0; i < n; i++) ch.recv();
        wg.done();
      });
    }
    wg.add(2);
    goro::go([&] {  // a selecting sender over all four
      goro::chan<int> cs[4] = {c[0], c[1], c[2], c[3]};
      int cnt[4] = {};
      for (int i = 0; i < 4 * n; i++) {
        auto sent = [&](int k) {
          return [&, k] {
            if (++cnt[k] == n) cs[k] = {};
          };
        };
        goro::select(goro::on_send(cs[3], i, sent(3)), goro::on_send(cs[1], i, sent(1)),
                     goro::on_send(cs[0], i, sent(0)), goro::on_send(cs[2], i, sent(2)));
      }
      wg.done();
    });
    goro::go([&] {  // a selecting receiver over all four
      goro::chan<int> cs[4] = {c[0], c[1], c[2], c[3]};
      int cnt[4] = {};
      for (int i = 0; i < 4 * n; i++) {
        auto got = [&](int k) {
          return [&, k] {
            if (++cnt[k] == n) cs[k] = {};
          };
        };
        goro::select(goro::on_recv(cs[0], got(0)), goro::on_recv(cs[3], got(3)), goro::on_recv(cs[2], got(2)),
                     goro::on_recv(cs[1], got(1)));
      }
      wg.done();
    });
    wg.wait();
  });
}

// ---- TestPseudoRandomSend: two send cases on one channel; both values
// must show up a fair share of the time.

TEST(GoChan, PseudoRandomSend) {
  for_procs([] {
    for (int cap : {0, 100}) {
      const int n = 100;
      auto c = goro::make_chan<int>(cap);
      std::vector<int> got(n);
      auto done = goro::make_chan<goro::unit>();
      goro::go([=, &got]() mutable {
        for (int i = 0; i < n; i++) got[i] = c.recv();
        done.send({});
      });
      for (int i = 0; i < n; i++) goro::select(goro::on_send(c, 0), goro::on_send(c, 1));
      done.recv();
      int ones = std::accumulate(got.begin(), got.end(), 0);
      EXPECT_GT(ones, n / 10);
      EXPECT_LT(ones, n - n / 10);
    }
  });
}

}  // namespace
