// goro::select: Go's select statement.
//
//   int i = goro::select(
//       goro::on_recv(jobs, [&](job j, bool ok) { if (ok) run(j); }),   // case j, ok := <-jobs
//       goro::on_send(results, r, [] { sent++; }),                      // case results <- r
//       goro::on_recv(goro::after(1s), [] { timeout(); }),              // case <-time.After(1s)
//       goro::on_default([] { idle(); }));                              // default
//
// select runs exactly one case and returns its position in the argument
// list (default included):
//  - If one or more cases are ready, one of them is chosen uniformly at
//    random and its operation is done; then its handler runs.
//  - Otherwise, with an on_default case, the default handler runs.
//  - Otherwise select blocks until a case is ready (parking the goroutine,
//    or sleeping the thread, wait reason "select"). A select with no cases
//    (goro::select()) or only nil channels blocks forever.
// Nil channels are never chosen. The same channel may appear in several
// cases. A blocked select wakes for exactly one case and leaves nothing
// behind in the other channels' queues. Handlers run after every channel
// lock is released, so they may use the same channels.
//
// Receive handlers are called with (T value, bool ok), (T value) or ();
// ok is false when the channel is closed and drained (value is T{}).
// Send handlers and default handlers take no argument. Handlers are
// optional. Exceptions: a chosen send case on a closed channel throws
// goro::panic_error("send on closed channel"); a handler's exception
// propagates (the case's operation has happened); a throwing move of T
// propagates with the guarantee described in goro/chan.hpp.
//
// Case objects refer to their channel and (for on_send) to the value
// argument without copying; build them in the select call's argument list.
// A send case moves from its value only if it is chosen (an lvalue is
// copied first). For lists whose size is known only at run time (Go's
// reflect.Select), put the cases in a std::vector<goro::select_case>.
//
// Callable from goroutines and plain threads.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include <goro/chan.hpp>
#include <goro/detail/chan_select.hpp>

namespace goro {

namespace detail {

template <class F, class T>
void invoke_recv_handler(F& f, T&& v, bool ok) {
  if constexpr (std::is_invocable_v<F&, T&&, bool>) {
    f(std::move(v), ok);
  } else if constexpr (std::is_invocable_v<F&, T&&>) {
    f(std::move(v));
  } else {
    static_assert(std::is_invocable_v<F&>, "on_recv: the handler must take (T, bool), (T) or ()");
    f();
  }
}

struct no_handler {
  template <class... A>
  void operator()(A&&...) const {}
};

}  // namespace detail

// A receive case; made by on_recv.
template <class T, class F>
class recv_case {
 public:
  recv_case(detail::hchan* c, F f) : c_(c), f_(std::move(f)) {}
  recv_case(recv_case&& o) : c_(o.c_), f_(std::move(o.f_)) {}  // before use only (no value inside)
  void fill(detail::scase& s) {
    s.c = c_;
    s.elem = slot_.addr();
    s.is_send = false;
  }
  void complete(const detail::scase& s) {
    if (s.ok) {
      std::optional<T> v;
      slot_.take_into(v);
      detail::invoke_recv_handler(f_, std::move(*v), true);
    } else {
      if constexpr (std::is_default_constructible_v<T>) {
        detail::invoke_recv_handler(f_, T{}, false);
      } else {
        static_assert(std::is_invocable_v<F&>, "on_recv: T has no default value; use a handler taking ()");
        f_();
      }
    }
  }

 private:
  detail::hchan* c_;
  F f_;
  detail::recv_slot<T> slot_;
};

// A send case; made by on_send.
template <class T, class F>
class send_case {
 public:
  send_case(detail::hchan* c, T* v, F f) : c_(c), p_(v), f_(std::move(f)) {}
  send_case(detail::hchan* c, const T& v, F f) : c_(c), own_(std::in_place, v), f_(std::move(f)) {}
  send_case(send_case&& o) : c_(o.c_), p_(o.p_), own_(std::move(o.own_)), f_(std::move(o.f_)) {}
  void fill(detail::scase& s) {
    s.c = c_;
    s.elem = own_ ? std::addressof(*own_) : p_;
    s.is_send = true;
  }
  void complete(const detail::scase&) { f_(); }
  // Takes ownership of a referenced value (for select_case, which outlives
  // the full expression that made the case).
  void own() {
    if (!own_) own_.emplace(std::move(*p_));
  }

 private:
  detail::hchan* c_;
  T* p_ = nullptr;
  std::optional<T> own_;
  F f_;
};

// The default case; made by on_default.
template <class F>
class default_case {
 public:
  explicit default_case(F f) : f_(std::move(f)) {}
  void run() { f_(); }

 private:
  F f_;
};

// case v, ok := <-ch: receive from ch (a chan<T> or recv_chan<T>); then
// call f(v, ok), f(v) or f().
template <class T, class F = detail::no_handler>
recv_case<T, std::decay_t<F>> on_recv(const recv_chan<T>& ch, F&& f = {}) {
  return {detail::chan_access::core(ch), std::forward<F>(f)};
}
template <class T, class F = detail::no_handler>
recv_case<T, std::decay_t<F>> on_recv(const chan<T>& ch, F&& f = {}) {
  return {detail::chan_access::core(ch), std::forward<F>(f)};
}

// case ch <- v: send v on ch (a chan<T> or send_chan<T>); then call f().
// An rvalue v is moved from only if this case is chosen; an lvalue is
// copied when the case is made.
template <class T, class F = detail::no_handler>
send_case<T, std::decay_t<F>> on_send(const send_chan<T>& ch, std::type_identity_t<T>&& v, F&& f = {}) {
  return {detail::chan_access::core(ch), std::addressof(v), std::forward<F>(f)};
}
template <class T, class F = detail::no_handler>
send_case<T, std::decay_t<F>> on_send(const send_chan<T>& ch, const std::type_identity_t<T>& v, F&& f = {}) {
  return {detail::chan_access::core(ch), v, std::forward<F>(f)};
}
template <class T, class F = detail::no_handler>
send_case<T, std::decay_t<F>> on_send(const chan<T>& ch, std::type_identity_t<T>&& v, F&& f = {}) {
  return {detail::chan_access::core(ch), std::addressof(v), std::forward<F>(f)};
}
template <class T, class F = detail::no_handler>
send_case<T, std::decay_t<F>> on_send(const chan<T>& ch, const std::type_identity_t<T>& v, F&& f = {}) {
  return {detail::chan_access::core(ch), v, std::forward<F>(f)};
}

// default: run f() if no other case is ready.
template <class F = detail::no_handler>
default_case<std::decay_t<F>> on_default(F&& f = {}) {
  return default_case<std::decay_t<F>>(std::forward<F>(f));
}

namespace detail {
template <class C>
inline constexpr bool is_default_case = false;
template <class F>
inline constexpr bool is_default_case<default_case<F>> = true;

template <class... C, std::size_t... I>
int select_impl(std::index_sequence<I...>, C&... cases) {
  constexpr std::size_t n = sizeof...(C);
  constexpr std::array<bool, n> is_def{is_default_case<C>...};
  constexpr int n_def = (0 + ... + (is_default_case<C> ? 1 : 0));
  static_assert(n_def <= 1, "goro::select: more than one on_default case");
  // pos[i]: index of pack element i among the channel cases (-1: default).
  constexpr auto pos = [&] {
    std::array<int, n> p{};
    int k = 0;
    for (std::size_t i = 0; i < n; i++) p[i] = is_def[i] ? -1 : k++;
    return p;
  }();
  constexpr int nc = static_cast<int>(n) - n_def;
  scase sc[nc > 0 ? nc : 1];
  (
      [&] {
        if constexpr (!is_default_case<C>) cases.fill(sc[pos[I]]);
      }(),
      ...);
  int chosen = select_go(sc, nc, n_def == 0);
  int ran = -1;
  (
      [&] {
        if constexpr (is_default_case<C>) {
          if (chosen < 0) {
            ran = static_cast<int>(I);
            cases.run();
          }
        } else {
          if (chosen == pos[I]) {
            ran = static_cast<int>(I);
            cases.complete(sc[pos[I]]);
          }
        }
      }(),
      ...);
  return ran;
}
}  // namespace detail

// Runs one ready case (see the top of this file); returns its position in
// the argument list. Blocks when no case is ready and there is no default.
template <class... Cases>
int select(Cases&&... cases) {
  return detail::select_impl(std::index_sequence_for<Cases...>{}, cases...);
}

// A case of any type, for a select over a list whose size is known only at
// run time (Go's reflect.Select). Made from on_recv, on_send or
// on_default; it keeps its channel alive and owns the value to send.
//
//   std::vector<goro::select_case> cases;
//   for (auto& ch : inputs) cases.emplace_back(goro::on_recv(ch, [&](int v) { sum += v; }));
//   cases.emplace_back(goro::on_default());
//   int i = goro::select(cases);
class select_case {
 public:
  template <class T, class F>
  select_case(recv_case<T, F>&& c) : p_(new model<recv_case<T, F>>(std::move(c))) {}  // NOLINT
  template <class T, class F>
  select_case(send_case<T, F>&& c) : p_(new model<send_case<T, F>>(std::move(c))) {  // NOLINT
    static_cast<model<send_case<T, F>>*>(p_.get())->c.own();
  }
  template <class F>
  select_case(default_case<F>&& c) : p_(new default_model<F>(std::move(c))) {}  // NOLINT

  bool is_default() const { return p_->is_default(); }
  void fill(detail::scase& s) { p_->fill(s); }
  void complete(const detail::scase& s) { p_->complete(s); }
  void run_default() { p_->run_default(); }

 private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual bool is_default() const { return false; }
    virtual void fill(detail::scase&) {}
    virtual void complete(const detail::scase&) {}
    virtual void run_default() {}
  };
  template <class C>
  struct model : concept_t {
    explicit model(C&& cc) : c(std::move(cc)) {
      detail::scase s;
      c.fill(s);
      hold = s.c;
      if (hold) detail::chan_retain(hold);
    }
    ~model() override {
      if (hold) detail::chan_release(hold);
    }
    void fill(detail::scase& s) override { c.fill(s); }
    void complete(const detail::scase& s) override { c.complete(s); }
    C c;
    detail::hchan* hold = nullptr;  // keeps the channel alive as long as the case
  };
  template <class F>
  struct default_model : concept_t {
    explicit default_model(default_case<F>&& cc) : c(std::move(cc)) {}
    bool is_default() const override { return true; }
    void run_default() override { c.run(); }
    default_case<F> c;
  };
  std::unique_ptr<concept_t> p_;
};

// Runs one ready case of `cases` (as the variadic select) and returns its
// index. At most one default case; more throw goro::panic_error(
// "reflect.Select: multiple default cases"). An empty list blocks forever.
int select(std::span<select_case> cases);
inline int select(std::vector<select_case>& cases) { return select(std::span<select_case>(cases)); }

}  // namespace goro
