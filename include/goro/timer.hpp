// Timers and tickers: goro::timer, goro::ticker, goro::after_func,
// goro::tick (Go's time.Timer, time.Ticker, time.AfterFunc, time.Tick).
//
//   goro::timer t = goro::new_timer(50ms);
//   goro::select(goro::on_recv(results, [&](int r) { use(r); }),
//                goro::on_recv(t.c(), [] { slow(); }));
//   t.stop();
//
//   goro::ticker tk = goro::new_ticker(1s);
//   for (int i = 0; i < 3; i++) tk.c().recv();   // three ticks, a second apart
//   tk.stop();
//
// Semantics are Go 1.23's:
//  - A timer or ticker channel reports len() and cap() 0, and behaves as
//    if unbuffered: the timer's value waits for a receiver, and stop() or
//    reset() withdraws a value not yet received. After stop() or reset()
//    returns, no value from before the call is received.
//  - A ticker keeps at most one tick waiting: a slow receiver misses the
//    ticks it was too slow for, and the ticker stays on its period (ticks
//    at start + k * period, never bunched).
//  - A timer or ticker that no handle names any more (neither its own
//    handle nor a handle of its channel) is cancelled at once and freed:
//    dropping a million unfired timers frees them. One stopped before
//    (stop() takes no lock when it can) is freed a little later: when its
//    worker's timers next pass it, or when the monitor reaps stopped
//    timers (once they are a large share of a worker's). An after_func timer is
//    the exception, as in Go: its function still runs when the last
//    handle is gone (keep the handle only to stop it).
//  - Once the clock is past a deadline, every receive sees the value, a
//    non-blocking one too (try_recv, a select with on_default): a receive
//    that finds none runs a timer its worker has not fired yet, as Go's
//    do. A deadline is never early.
//  - Values are the deadline the value was due at, on the steady clock (a
//    tick's own: start + k * period), as Go sends: a late fire or a late
//    receive does not change it.
//  - A huge duration is clamped: the timer never fires (it does not wrap).
//
// Representation (docs/design.md, "Timers"): each timer is one record
// with its channel, about 200 bytes, and a 16-byte entry on its worker's
// timer heap (Go 1.19's NewTimer: 223-226 bytes).
//
// Thread-safety: all operations may be called from any number of
// goroutines and plain OS threads at once, on one handle or on copies.
// Handles are like shared_ptr: copying one names the same timer; assign
// to one handle object from one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

#include <goro/chan.hpp>
#include <goro/detail/duration.hpp>
#include <goro/panic.hpp>

namespace goro {

namespace detail {

struct timer_rec;
int64_t steady_now_ns();

// How an after_func record runs and destroys the function it stores.
struct timer_func_ops {
  void (*invoke)(void* storage);
  void (*destroy)(void* storage) noexcept;
};

// A channel timer (period 0) or ticker armed for `when` (steady ns). One
// reference, the caller's.
timer_rec* timer_new_chan(int64_t when, int64_t period);
// An after_func record with room for a function of `size` bytes; not armed
// (timer_start_func arms it once *storage holds the function, or
// timer_discard frees it if constructing the function threw).
timer_rec* timer_new_func(std::size_t size, std::size_t align, const timer_func_ops* ops, void** storage);
void timer_start_func(timer_rec* t, int64_t when) noexcept;
void timer_discard(timer_rec* t) noexcept;
void timer_rec_retain(timer_rec* t) noexcept;
void timer_rec_release(timer_rec* t) noexcept;
// The timer's channel (made with the record), with a new reference;
// null for an after_func timer.
hchan* timer_channel(timer_rec* t);
// Go's Stop and Reset (period > 0: a ticker's Reset). See timer::stop.
bool timer_stop(timer_rec* t) noexcept;
bool timer_reset(timer_rec* t, int64_t when, int64_t period) noexcept;
[[noreturn]] void timer_throw_nil(const char* what);

template <class Rep, class Period>
int64_t deadline_in(std::chrono::duration<Rep, Period> d) {
  return deadline_after(steady_now_ns(), saturated_ns(d));
}

// The shared handle: one reference on the record.
class timer_handle {
 public:
  timer_handle() noexcept = default;
  timer_handle(const timer_handle& o) noexcept : t_(o.t_) {
    if (t_) timer_rec_retain(t_);
  }
  timer_handle(timer_handle&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  timer_handle& operator=(const timer_handle& o) noexcept {
    timer_handle(o).swap(*this);
    return *this;
  }
  timer_handle& operator=(timer_handle&& o) noexcept {
    timer_handle(std::move(o)).swap(*this);
    return *this;
  }
  ~timer_handle() {
    if (t_) timer_rec_release(t_);
  }
  // Public in timer and ticker: swap() exchanges the timers two handles
  // name (no reference count changes); == (and !=) is true when two handles
  // name the same timer or both are null; h == nullptr tests for null.
  void swap(timer_handle& o) noexcept { std::swap(t_, o.t_); }
  friend bool operator==(const timer_handle& a, const timer_handle& b) noexcept { return a.t_ == b.t_; }
  friend bool operator==(const timer_handle& a, std::nullptr_t) noexcept { return a.t_ == nullptr; }

 protected:
  explicit timer_handle(timer_rec* adopt) noexcept : t_(adopt) {}
  // The timer's channel; the nil channel for a null handle, as a zero
  // Go Timer's or Ticker's C field is nil.
  recv_chan<std::chrono::steady_clock::time_point> chan_of() const {
    if (!t_) return {};
    return chan_access::adopt<recv_chan<std::chrono::steady_clock::time_point>>(timer_channel(t_));
  }
  timer_rec* t_ = nullptr;
};

template <class F>
struct timer_func_closure {
  F fn;
  static void invoke(void* p) { std::invoke(static_cast<timer_func_closure*>(p)->fn); }
  static void destroy(void* p) noexcept { static_cast<timer_func_closure*>(p)->~timer_func_closure(); }
  static constexpr timer_func_ops ops{&invoke, &destroy};
};

}  // namespace detail

// A single event in the future (Go's *time.Timer): made by new_timer(d),
// which delivers the time on c() once d has passed, or by after_func(d, f),
// which runs f in a goroutine of its own instead (its c() is the nil
// channel). A default-constructed timer is null: stop() and reset() throw
// goro::panic_error, and c() is the nil channel (Go's zero Timer).
//
// Thread-safety: see the top of this header (any goroutine or thread).
class timer : public detail::timer_handle {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // The null timer.
  timer() noexcept = default;

  // The channel the timer's value arrives on (Go's t.C): receive from it,
  // or use it as a select case. len() and cap() are 0. Every call returns
  // a handle of the same channel. The nil channel for an after_func timer
  // (as Go's), and for a null timer (as a zero Go Timer's C: a receive
  // blocks forever). Never blocks.
  //
  //   auto t = goro::new_timer(10ms);
  //   auto when = t.c().recv();   // at least 10 ms from new_timer
  recv_chan<time_point> c() const { return chan_of(); }
  // The same as c().
  recv_chan<time_point> chan() const { return c(); }

  // Prevents the timer from firing (Go's Stop). Returns true if the call
  // stopped it: the timer was pending, or (channel timers) its value had
  // not been received yet; that value is withdrawn, so no receive after
  // stop() returns sees it. Returns false if the value was already
  // received (or f already started) or the timer was stopped. For
  // after_func: true means f will not run for this arming; stop() does not
  // wait for an f that has started. Never blocks (beyond a short internal
  // lock). Throws panic_error("time: Stop called on uninitialized Timer")
  // on a null timer.
  //
  //   if (!t.stop()) { /* it fired, and its value was received */ }
  bool stop() const {
    if (!t_) detail::timer_throw_nil("time: Stop called on uninitialized Timer");
    return detail::timer_stop(t_);
  }

  // Re-arms the timer for d from now (Go's Reset), first withdrawing a
  // value not yet received. Returns what stop() would have returned. An
  // after_func timer runs f again (in a new goroutine) when d has passed.
  // Zero or negative d fires at once. Never blocks. Throws panic_error on a
  // null timer. Running out of memory while queueing the timer (its
  // worker's timer queue cannot grow) ends the program (std::terminate).
  //
  //   t.reset(100ms);   // restart an idle timeout
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) const {
    if (!t_) detail::timer_throw_nil("time: Reset called on uninitialized Timer");
    return detail::timer_reset(t_, detail::deadline_in(d), 0);
  }

 private:
  explicit timer(detail::timer_rec* adopt) noexcept : timer_handle(adopt) {}
  template <class Rep, class Period>
  friend timer new_timer(std::chrono::duration<Rep, Period> d);
  template <class Rep, class Period, class F>
  friend timer after_func(std::chrono::duration<Rep, Period> d, F&& f);
};

// A new timer that delivers the time on its channel once d has passed
// (Go's time.NewTimer): the deadline, now + d. Zero or negative d: at once. Never blocks;
// callable from goroutines and plain threads. Throws std::bad_alloc.
//
//   goro::timer t = goro::new_timer(1s);
//   t.c().recv();
template <class Rep, class Period>
timer new_timer(std::chrono::duration<Rep, Period> d) {
  return timer(detail::timer_new_chan(detail::deadline_in(d), 0));
}

// Runs f() in a goroutine of its own once d has passed (Go's
// time.AfterFunc). The returned timer's stop() prevents it (true if f will
// not run), and reset(d) runs it again later. f runs even if every handle
// of the timer is dropped. f is stored (moved or copied) once and called as
// an lvalue each time the timer fires, possibly concurrently if reset()
// re-arms it while a previous call still runs. An exception escaping f
// ends the program as one escaping any goroutine does. Never blocks;
// callable from goroutines and plain threads. Throws std::bad_alloc (for
// the record) or what copying/moving f throws; running out of memory
// while queueing the timer ends the program (std::terminate).
//
//   auto debounce = goro::after_func(200ms, [] { save(); });
//   debounce.reset(200ms);   // another edit: push the save back
//
// Inlined always, so that the goroutines it starts name its caller's line
// in dumps ("created by goro::after_func at file.cpp:42").
template <class Rep, class Period, class F>
[[gnu::always_inline]] inline timer after_func(std::chrono::duration<Rep, Period> d, F&& f) {
  using closure = detail::timer_func_closure<std::decay_t<F>>;
  static_assert(std::is_invocable_v<std::decay_t<F>&>, "goro::after_func: f must be callable with no arguments");
  void* storage = nullptr;
  detail::timer_rec* t = detail::timer_new_func(sizeof(closure), alignof(closure), &closure::ops, &storage);
  try {
    ::new (storage) closure{std::forward<F>(f)};
  } catch (...) {
    detail::timer_discard(t);
    throw;
  }
  detail::timer_start_func(t, detail::deadline_in(d));
  return timer(t);
}

// Delivers the time on its channel every period (Go's *time.Ticker). The
// channel holds at most one tick: ticks a slow receiver misses are dropped,
// and later ticks stay on the period. Stop it when done, or drop every
// handle of it and of its channel (which stops it too). A
// default-constructed ticker is null: its operations throw panic_error.
//
// Thread-safety: see the top of this header (any goroutine or thread).
class ticker : public detail::timer_handle {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // The null ticker.
  ticker() noexcept = default;

  // The ticks (Go's t.C); len() and cap() are 0. The same channel every
  // time; the nil channel for a null ticker.
  recv_chan<time_point> c() const { return chan_of(); }
  // The same as c().
  recv_chan<time_point> chan() const { return c(); }

  // Turns the ticker off (Go's Stop): no tick is sent after stop() returns,
  // and a tick not yet received is withdrawn. The channel is not closed.
  // Never blocks. On a null ticker it does nothing, as Go's Ticker.Stop
  // (which, unlike Timer.Stop, has never panicked there: Go issue 21874).
  void stop() const {
    if (t_) detail::timer_stop(t_);
  }

  // Stops the ticker and restarts it with period d (Go's Reset): the next
  // tick comes d from now. Works on a stopped ticker too. Throws
  // panic_error("non-positive interval for Ticker.Reset") for d <= 0, or on
  // a null ticker; running out of memory while queueing the timer ends
  // the program (std::terminate).
  template <class Rep, class Period>
  void reset(std::chrono::duration<Rep, Period> d) const {
    if (d <= d.zero()) throw panic_error("non-positive interval for Ticker.Reset");
    if (!t_) detail::timer_throw_nil("time: Reset called on uninitialized Ticker");
    int64_t period = detail::saturated_ns(d);
    detail::timer_reset(t_, detail::deadline_after(detail::steady_now_ns(), period), period);
  }

 private:
  explicit ticker(detail::timer_rec* adopt) noexcept : timer_handle(adopt) {}
  template <class Rep, class Period>
  friend ticker new_ticker(std::chrono::duration<Rep, Period> d);
};

// A new ticker with period d (Go's time.NewTicker); the first tick comes d
// from now. Throws panic_error("non-positive interval for NewTicker") for
// d <= 0, std::bad_alloc. Never blocks; callable from goroutines and plain
// threads.
//
//   goro::ticker tk = goro::new_ticker(100ms);
//   for (int i = 0; i < 10; i++) tk.c().recv();
//   tk.stop();
template <class Rep, class Period>
ticker new_ticker(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) throw panic_error("non-positive interval for NewTicker");
  int64_t period = detail::saturated_ns(d);
  return ticker(detail::timer_new_chan(detail::deadline_after(detail::steady_now_ns(), period), period));
}

// The channel of a new ticker with period d (Go's time.Tick); the nil
// channel for d <= 0 (as Go's). The ticker lives as long as a handle of the
// channel does: drop them all to stop it. Throws std::bad_alloc.
//
//   for (auto t : goro::tick(1s)) poll();   // forever, once a second
template <class Rep, class Period>
recv_chan<std::chrono::steady_clock::time_point> tick(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) return {};
  return new_ticker(d).c();
}

}  // namespace goro
