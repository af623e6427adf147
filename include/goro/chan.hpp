// goro::chan<T>: Go's channels.
//
//   goro::chan<int> jobs = goro::make_chan<int>(100);   // make(chan int, 100)
//   goro::chan<goro::unit> done = goro::make_chan<goro::unit>();
//   goro::go([=] {
//     for (int j : jobs) process(j);                    // for j := range jobs
//     done.send({});
//   });
//   for (int i = 0; i < 10; i++) jobs.send(i);          // jobs <- i
//   jobs.close();
//   done.recv();                                        // <-done
//
// A chan<T> is a handle, like a Go channel value: copying it is cheap and
// both copies name the same channel (it is reference-counted and freed with
// its last handle). A default-constructed chan<T> is the nil channel.
// send_chan<T> and recv_chan<T> are the directional views (Go's chan<- T
// and <-chan T), made implicitly from a chan<T>; each lacks the other
// direction's operations, so misuse does not compile.
//
// Semantics are Go's (the Go spec and memory model):
//  - send blocks until a receiver takes the value or there is room in the
//    buffer; a receive blocks until there is a value. A value is handed
//    directly to a parked receiver (and taken directly from a parked
//    sender), bypassing the buffer. Values from one sender arrive in order.
//  - close: later sends throw goro::panic_error("send on closed channel"),
//    and so do sends blocked at the time of the close; receives drain the
//    buffer, then return at once with T{} (ok == false). Closing a closed
//    or nil channel throws ("close of closed channel", "close of nil
//    channel").
//  - Nil channels: send and receive block forever (the deadlock detector
//    sees them: "chan send (nil chan)"); select never chooses them.
//  - Memory model: a send happens before the matching receive completes;
//    close happens before a receive that returns because of it; on an
//    unbuffered channel the receive happens before the send completes; the
//    k-th receive on a channel of capacity C happens before the (k+C)-th
//    send completes. ThreadSanitizer is told about these edges.
//  - Works between goroutines, plain std::threads and across the two: a
//    goroutine parks, a thread sleeps on a futex.
//
// Element types: any type that is move-constructible (move-only types such
// as std::unique_ptr too) and nothrow-destructible; recv() also needs a
// default constructor (Go's zero value). goro::unit is the `struct{}` of
// signal channels. An element is moved (never copied) by the channel: once
// into the buffer and once out, or once from a parked sender to a
// receiver. T's move constructor must not block.
//
// Exceptions from T's move constructor (exception guarantee): the
// operation that was moving the value throws it and has no effect; the
// value stays where it was (with the sender, or in the buffer), the
// channel stays consistent, and a parked peer the value was meant for is
// left parked as if it had not been matched. One move is outside that
// guarantee: after a receive has taken the value from the channel (the
// sender's send has returned), it is moved once more, into the object the
// receive returns (recv's T, recv_ok's recv_result, recv_opt's optional,
// try_recv's result; a range-for's loop variable, from the iterator's
// slot); if that move throws, the value is destroyed and the receive
// throws. C++ gives no way to construct a returned object in place from
// type-erased storage. Buffered channels of such
// types take the channel lock on every operation (nothrow-movable types
// use a lock-free buffer).
//
// Thread-safety: a channel may be used by any number of goroutines and
// threads at once. A single handle object is like a shared_ptr: copy it
// per user rather than assigning to one handle concurrently. Operations
// are const member functions (they act on the channel, not the handle), so
// a lambda that captures channels by value ([=]) can use them.
#pragma once

#include <chrono>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <goro/detail/chan_core.hpp>
#include <goro/detail/duration.hpp>
#include <goro/panic.hpp>

namespace goro {

// The empty value of signal channels (Go's struct{}).
struct unit {
  friend constexpr bool operator==(unit, unit) { return true; }
};

// What a comma-ok receive returns: the value and whether it came from a
// send (false: the channel is closed and drained, value is T{}).
//
//   auto [v, ok] = ch.recv_ok();     // v, ok := <-ch
template <class T>
struct recv_result {
  T value;
  bool ok;
};

// What a non-blocking receive saw.
enum class recv_status : uint8_t {
  received,     // a value was received
  would_block,  // nothing to receive now (a receive would block)
  closed,       // the channel is closed and drained
};

// The result of try_recv(): a value, or why there is none.
//
//   if (auto r = ch.try_recv()) use(*r);
//   else if (r.closed()) return;
template <class T>
class try_recv_result {
 public:
  // A result with no value (status would_block or closed), or a received
  // value taken from v (v must hold one: the status is received either way).
  explicit try_recv_result(recv_status s) : status_(s) {}
  explicit try_recv_result(std::optional<T>&& v) : status_(recv_status::received), value_(std::move(v)) {}
  // A received value, moved in once (what try_recv uses).
  try_recv_result(std::in_place_t, T&& v) : status_(recv_status::received), value_(std::in_place, std::move(v)) {}
  // What the receive saw: status(), or one test per status; true (as a
  // bool) only when a value was received.
  recv_status status() const { return status_; }
  bool received() const { return status_ == recv_status::received; }
  bool would_block() const { return status_ == recv_status::would_block; }
  bool closed() const { return status_ == recv_status::closed; }
  explicit operator bool() const { return received(); }
  // The value; only when received().
  T& operator*() & { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  T& value() & { return value_.value(); }
  T&& value() && { return std::move(value_.value()); }

 private:
  recv_status status_;
  std::optional<T> value_;
};

template <class T>
class chan;
template <class T>
class send_chan;
template <class T>
class recv_chan;

namespace detail {

// Raw storage for one T that the core moves a value into.
template <class T>
struct recv_slot {
  alignas(T) unsigned char buf[sizeof(T)];
  void* addr() { return buf; }
  T& get() { return *std::launder(reinterpret_cast<T*>(buf)); }
  // Moves the value out into an optional (destroying the slot's copy).
  void take_into(std::optional<T>& out) {
    destroy_guard g{this};
    out.emplace(std::move(get()));
  }
  // Destroys the slot's value when the scope ends (after it was moved out,
  // or if moving it out threw).
  struct destroy_guard {
    recv_slot* s;
    ~destroy_guard() { s->get().~T(); }
  };
};

struct chan_access;

// What every handle shares: the reference to the core and the operations;
// the public classes choose which to expose.
template <class T>
class chan_handle {
  static_assert(!std::is_reference_v<T> && !std::is_void_v<T> && !std::is_const_v<T>,
                "goro::chan<T>: T must be an object type (use goro::unit for signals)");
  static_assert(std::is_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                "goro::chan<T>: T must be move-constructible and nothrow-destructible");

 public:
  using value_type = T;

  // Every constructor and the destructor tell the handle tracker (off by
  // default: one predictable branch; chan_core.hpp). Assignment and swap
  // change only the field the tracker already knows.
  chan_handle() noexcept { handle_made(&c_); }
  chan_handle(const chan_handle& o) noexcept : c_(o.c_) {
    if (c_) chan_retain(c_);
    handle_made(&c_);
  }
  chan_handle(chan_handle&& o) noexcept : c_(std::exchange(o.c_, nullptr)) { handle_made(&c_); }
  chan_handle& operator=(const chan_handle& o) noexcept {
    chan_handle(o).swap(*this);
    return *this;
  }
  chan_handle& operator=(chan_handle&& o) noexcept {
    chan_handle(std::move(o)).swap(*this);
    return *this;
  }
  ~chan_handle() {
    handle_gone(&c_);  // before the release: the tracker never counts a released reference
    if (c_) chan_release(c_);
  }
  // Exchanges the channels two handles name (no reference count changes).
  void swap(chan_handle& o) noexcept { std::swap(c_, o.c_); }

  // Number of values buffered now (Go's len(ch)); 0 for nil and
  // unbuffered channels. Never blocks.
  int64_t len() const noexcept { return chan_len(c_); }
  // Capacity (Go's cap(ch)); 0 for nil and unbuffered channels. Never blocks.
  int64_t cap() const noexcept { return chan_cap(c_); }
  // True for the nil channel (Go's ch == nil).
  bool is_nil() const noexcept { return c_ == nullptr; }
  // Two handles are equal if they name the same channel (or both are nil),
  // whatever their direction; std::hash agrees, so channels key maps:
  //   std::unordered_map<goro::chan<int>, std::string> names;
  friend bool operator==(const chan_handle& a, const chan_handle& b) noexcept { return a.c_ == b.c_; }
  // The nil test, Go's ch == nil (and ch != nil):
  //   if (ch == nullptr) ...
  friend bool operator==(const chan_handle& a, std::nullptr_t) noexcept { return a.c_ == nullptr; }

 protected:
  explicit chan_handle(hchan* adopt) noexcept : c_(adopt) { handle_made(&c_); }

  void send_impl(T&& v) const { chan_send(c_, std::addressof(v)); }
  void send_impl(const T& v) const {
    T tmp(v);
    chan_send(c_, std::addressof(tmp));
  }
  bool try_send_impl(T&& v) const { return chan_try_send(c_, std::addressof(v)) == op_result::ok; }
  bool try_send_impl(const T& v) const {
    T tmp(v);
    return chan_try_send(c_, std::addressof(tmp)) == op_result::ok;
  }
  // Each receive moves the value once after the channel operation, from
  // the slot the core filled straight into the returned object (returned
  // as a prvalue, so no further move: the exception guarantee above).
  T recv_impl() const {
    recv_slot<T> s;
    if (chan_recv(c_, s.addr()) != op_result::ok) return T{};
    typename recv_slot<T>::destroy_guard g{&s};
    return std::move(s.get());
  }
  recv_result<T> recv_ok_impl() const {
    recv_slot<T> s;
    if (chan_recv(c_, s.addr()) != op_result::ok) return {T{}, false};
    typename recv_slot<T>::destroy_guard g{&s};
    return {std::move(s.get()), true};
  }
  std::optional<T> recv_opt_impl() const {
    recv_slot<T> s;
    if (chan_recv(c_, s.addr()) != op_result::ok) return std::nullopt;
    typename recv_slot<T>::destroy_guard g{&s};
    return std::optional<T>(std::in_place, std::move(s.get()));
  }
  try_recv_result<T> try_recv_impl() const {
    recv_slot<T> s;
    switch (chan_try_recv(c_, s.addr())) {
      case op_result::ok: {
        typename recv_slot<T>::destroy_guard g{&s};
        return try_recv_result<T>(std::in_place, std::move(s.get()));
      }
      case op_result::closed: return try_recv_result<T>(recv_status::closed);
      default: return try_recv_result<T>(recv_status::would_block);
    }
  }

  hchan* c_ = nullptr;
  friend struct chan_access;
};

struct chan_access {
  template <class T>
  static hchan* core(const chan_handle<T>& h) noexcept {
    return h.c_;
  }
  template <class Ch>
  static Ch adopt(hchan* c) noexcept {
    return Ch(c);
  }
};

// The iterator of range-for and std::ranges over a channel: a
// std::input_iterator whose sentinel is std::default_sentinel. It receives
// lazily: the first `*it` or `it == end` after a `++it` (or after begin())
// does the blocking receive, so `std::views::take(ch, 3)` receives exactly 3
// values. `*it` is an rvalue reference to the received value (as
// std::move_iterator's), so the loop variable takes it by moving: move-only
// elements work, and `for (auto v : ch)` moves rather than copies. Bind it
// with `auto`, `auto&&` or `const auto&` (`auto&` does not compile).
template <class T>
class chan_iterator {
 public:
  using iterator_concept = std::input_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using reference = T&&;

  chan_iterator() noexcept = default;
  explicit chan_iterator(const chan_handle<T>& h) noexcept : ch_(h) {}
  chan_iterator(const chan_iterator& o)
    requires std::copy_constructible<T>
      : ch_(o.ch_), state_(o.state_) {
    if (state_ == state::full) ::new (slot_.addr()) T(o.slot_.get());
  }
  // The channel moves after the value: a value move that throws leaves
  // the source iterator as it was.
  chan_iterator(chan_iterator&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : state_(o.state_) {
    if (state_ == state::full) ::new (slot_.addr()) T(std::move(o.slot_.get()));
    ch_.swap(o.ch_);
  }
  chan_iterator& operator=(chan_iterator o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    drop();
    if (o.state_ == state::full) ::new (slot_.addr()) T(std::move(o.slot_.get()));
    state_ = o.state_;
    ch_.swap(o.ch_);
    return *this;
  }
  ~chan_iterator() { drop(); }

  // The received value, receiving it first if needed (blocks as recv()).
  // Only before the end: on a closed and drained channel `it == end` holds.
  T&& operator*() const {
    fetch();
    return std::move(slot_.get());
  }
  // Moves on to the next value (received by the next `*it` or `== end`).
  chan_iterator& operator++() {
    fetch();  // a ++ without a * still consumes a value
    drop();
    return *this;
  }
  void operator++(int) { ++*this; }
  // True once the channel is closed and drained (receives, blocking, to
  // find out).
  friend bool operator==(const chan_iterator& it, std::default_sentinel_t) {
    it.fetch();
    return it.state_ == state::done;
  }

 private:
  enum class state : uint8_t { empty, full, done };
  void fetch() const {
    if (state_ != state::empty) return;
    state_ = chan_recv(chan_access::core(ch_), slot_.addr()) == op_result::ok ? state::full : state::done;
  }
  void drop() noexcept {
    if (state_ == state::full) slot_.get().~T();
    if (state_ != state::done) state_ = state::empty;
  }

  // A handle of its own, as Go's range evaluates its channel once: the
  // loop goes on over that channel whatever becomes of the handle it was
  // begun from (`ch = {}` in the body used to free the channel under it).
  chan_handle<T> ch_;
  // Filled by a receive straight from the channel: no extra move.
  mutable recv_slot<T> slot_;
  mutable state state_ = state::empty;
};

}  // namespace detail

// The receive-only view of a channel (Go's <-chan T). Made implicitly from
// a chan<T>; has no send, try_send or close (sending does not compile).
template <class T>
class recv_chan : public detail::chan_handle<T> {
  using base = detail::chan_handle<T>;

 public:
  // The nil channel.
  recv_chan() noexcept = default;
  recv_chan(const chan<T>& c) noexcept : base(c) {}   // NOLINT: implicit, as in Go
  recv_chan(chan<T>&& c) noexcept : base(std::move(c)) {}  // NOLINT

  // Receives a value, blocking until one is sent or the channel is closed
  // and drained; then returns T{} at once (Go's v := <-ch). Blocks forever
  // on the nil channel. Throws what T's move constructor throws.
  T recv() const
    requires std::default_initializable<T>
  {
    return this->recv_impl();
  }
  // Comma-ok receive (Go's v, ok := <-ch): ok is false when the channel is
  // closed and drained (value is then T{}). Blocks as recv().
  //   auto [v, ok] = ch.recv_ok();
  recv_result<T> recv_ok() const
    requires std::default_initializable<T>
  {
    return this->recv_ok_impl();
  }
  // Comma-ok receive for any T: the value, or nullopt when closed and
  // drained. Blocks as recv().
  std::optional<T> recv_opt() const { return this->recv_opt_impl(); }
  // Non-blocking receive: a value, would_block, or closed (Go's select with
  // a default case). Never blocks, and never switches goroutines (not a
  // safe point: a loop that polls with it calls goro::preempt_point()); on
  // the nil channel: would_block.
  try_recv_result<T> try_recv() const { return this->try_recv_impl(); }

  // for (T v : ch) receives until the channel is closed and drained (Go's
  // for v := range ch); so do std::ranges algorithms and views (the
  // channel is a std::ranges::input_range; detail::chan_iterator says how
  // the loop variable binds):
  //   for (auto v : ch) use(std::move(v));
  //   for (int v : ch | std::views::take(3)) use(v);   // exactly 3 receives
  detail::chan_iterator<T> begin() const { return detail::chan_iterator<T>(*this); }
  std::default_sentinel_t end() const { return {}; }

 private:
  explicit recv_chan(detail::hchan* adopt) noexcept : base(adopt) {}
  friend struct detail::chan_access;
};

// The send-only view of a channel (Go's chan<- T). Made implicitly from a
// chan<T>; has no receive (receiving does not compile).
template <class T>
class send_chan : public detail::chan_handle<T> {
  using base = detail::chan_handle<T>;

 public:
  // The nil channel.
  send_chan() noexcept = default;
  send_chan(const chan<T>& c) noexcept : base(c) {}   // NOLINT: implicit, as in Go
  send_chan(chan<T>&& c) noexcept : base(std::move(c)) {}  // NOLINT

  // Sends v (Go's ch <- v), blocking until a receiver takes it or the
  // buffer has room; v is moved from only if the send happens. Blocks
  // forever on the nil channel. Throws goro::panic_error("send on closed
  // channel") if the channel is closed, also when the close happens while
  // blocked; or what T's move (copy, for an lvalue) constructor throws.
  void send(T&& v) const { this->send_impl(std::move(v)); }
  void send(const T& v) const
    requires std::copy_constructible<T>
  {
    this->send_impl(v);
  }
  // Non-blocking send: true if sent, false if it would block (v untouched).
  // Throws as send() on a closed channel. On the nil channel: false. Never
  // switches goroutines (not a safe point, as try_recv).
  bool try_send(T&& v) const { return this->try_send_impl(std::move(v)); }
  bool try_send(const T& v) const
    requires std::copy_constructible<T>
  {
    return this->try_send_impl(v);
  }
  // Closes the channel (Go's close(ch)). Parked receivers get T{}, ok ==
  // false once the buffer is drained; parked senders throw. Throws
  // goro::panic_error("close of closed channel" / "close of nil channel").
  void close() const { detail::chan_close(this->c_); }
};

// A channel (Go's chan T): send, receive, close, len, cap, range-for.
// Every operation is documented on send_chan and recv_chan.
template <class T>
class chan : public detail::chan_handle<T> {
  using base = detail::chan_handle<T>;

 public:
  // The nil channel.
  chan() noexcept = default;

  void send(T&& v) const { this->send_impl(std::move(v)); }
  void send(const T& v) const
    requires std::copy_constructible<T>
  {
    this->send_impl(v);
  }
  bool try_send(T&& v) const { return this->try_send_impl(std::move(v)); }
  bool try_send(const T& v) const
    requires std::copy_constructible<T>
  {
    return this->try_send_impl(v);
  }
  T recv() const
    requires std::default_initializable<T>
  {
    return this->recv_impl();
  }
  recv_result<T> recv_ok() const
    requires std::default_initializable<T>
  {
    return this->recv_ok_impl();
  }
  std::optional<T> recv_opt() const { return this->recv_opt_impl(); }
  try_recv_result<T> try_recv() const { return this->try_recv_impl(); }
  void close() const { detail::chan_close(this->c_); }
  detail::chan_iterator<T> begin() const { return detail::chan_iterator<T>(*this); }
  std::default_sentinel_t end() const { return {}; }

 private:
  explicit chan(detail::hchan* adopt) noexcept : base(adopt) {}
  friend struct detail::chan_access;
};

// Makes an unbuffered channel (Go's make(chan T)).
// Throws std::bad_alloc.
template <class T>
chan<T> make_chan() {
  return detail::chan_access::adopt<chan<T>>(detail::chan_make(&detail::elem_type_of<T>::value, 0));
}

// Makes a channel with a buffer of n values (Go's make(chan T, n)); n == 0
// is unbuffered. The buffer's pages are touched only as they are used.
// Throws goro::panic_error("makechan: size out of range") for n < 0 or too
// large, std::bad_alloc if memory runs out.
template <class T>
chan<T> make_chan(int64_t n) {
  return detail::chan_access::adopt<chan<T>>(detail::chan_make(&detail::elem_type_of<T>::value, n));
}

namespace detail {
int64_t steady_now_ns();
}

// Go's time.After: a channel that receives the current time once, when d
// has passed (at least d after the call). As in Go 1.23 its len() and cap()
// read 0. Usable as a select case for timeouts:
//
//   goro::select(goro::on_recv(results, [&](int r) { use(r); }),
//                goro::on_recv(goro::after(1s), [] { timed_out(); }));
//
// Dropping every handle before the timer fires cancels the timer and frees
// both at once (Go 1.23 collects an unreferenced timer), so an after() per
// round of a select loop costs nothing once the round is over. Never
// blocks; callable from goroutines and plain threads.
template <class Rep, class Period>
recv_chan<std::chrono::steady_clock::time_point> after(std::chrono::duration<Rep, Period> d) {
  // A huge d is clamped (never fires), as Go's time.After(math.MaxInt64).
  return detail::chan_access::adopt<recv_chan<std::chrono::steady_clock::time_point>>(
      detail::chan_after(detail::deadline_after(detail::steady_now_ns(), detail::saturated_ns(d))));
}

}  // namespace goro

// std::hash of a channel handle: the same for every handle of one channel
// (chan<T>, send_chan<T> and recv_chan<T> alike), as equality is.
template <class T>
struct std::hash<goro::chan<T>> {
  std::size_t operator()(const goro::chan<T>& c) const noexcept {
    return std::hash<const void*>{}(goro::detail::chan_access::core(c));
  }
};
template <class T>
struct std::hash<goro::send_chan<T>> {
  std::size_t operator()(const goro::send_chan<T>& c) const noexcept {
    return std::hash<const void*>{}(goro::detail::chan_access::core(c));
  }
};
template <class T>
struct std::hash<goro::recv_chan<T>> {
  std::size_t operator()(const goro::recv_chan<T>& c) const noexcept {
    return std::hash<const void*>{}(goro::detail::chan_access::core(c));
  }
};
