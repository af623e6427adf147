// goro::select: Go's select statement, in two forms.
//
// The result form hands the chosen case and the received value back to
// the caller, so break, continue and return work as in Go:
//
//   for (;;) {
//     switch (auto s = goro::select(goro::case_recv(jobs),            // case j, ok := <-jobs
//                                   goro::case_send(results, r),      // case results <- r
//                                   goro::case_recv(ctx_done),        // case <-done
//                                   goro::case_default());            // default
//             s.index()) {
//       case 0:
//         if (!s.ok()) return;                 // jobs closed
//         run(std::move(s.get<0>()));          // the value, moved out
//         continue;
//       case 1: sent++; break;
//       case 2: return;
//       case 3: idle(); break;
//     }
//   }
//
// The handler form runs a callback for the chosen case and returns its
// position:
//
//   int i = goro::select(
//       goro::on_recv(jobs, [&](job j, bool ok) { if (ok) run(j); }),   // case j, ok := <-jobs
//       goro::on_send(results, r, [&] { sent++; }),                     // case results <- r
//       goro::on_recv(goro::after(1s), [] { timeout(); }),              // case <-time.After(1s)
//       goro::on_default([] { idle(); }));                              // default
//
// Both run exactly one case:
//  - If one or more cases are ready, one of them is chosen uniformly at
//    random and its operation is done (then, in the handler form, its
//    handler runs).
//  - Otherwise, with a default case, the default is chosen.
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
// Case objects refer to their channel and (for sends) to the value
// argument without copying, so they exist only inside the select call:
// they cannot be copied or moved, and select (and select_case) take them
// only as prvalues, written in the call's argument list. A case kept in a
// variable, whose temporary channel or value would be gone by the time it
// ran, does not compile:
//
//   auto c = goro::on_recv(goro::after(1s));   // the timer channel dies here
//   goro::select(c);                            // error: not a prvalue
//
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
#include <stdexcept>
#include <tuple>
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

// Lets select_case take over a case object, which is otherwise neither
// copyable nor movable (see the top of this file).
struct case_transfer {};

}  // namespace detail

// A receive case; made by on_recv.
template <class T, class F>
class recv_case {
 public:
  recv_case(detail::hchan* c, F f) : c_(c), f_(std::move(f)) {}
  recv_case(const recv_case&) = delete;
  recv_case& operator=(const recv_case&) = delete;
  // For select_case only, before use (no value inside).
  recv_case(detail::case_transfer, recv_case& o) : c_(o.c_), f_(std::move(o.f_)) {}
  // For goro::select only (how it reads and completes the case).
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
  send_case(const send_case&) = delete;
  send_case& operator=(const send_case&) = delete;
  // For select_case only, before use.
  send_case(detail::case_transfer, send_case& o) : c_(o.c_), p_(o.p_), own_(std::move(o.own_)), f_(std::move(o.f_)) {}
  // For goro::select only (how it reads and completes the case).
  void fill(detail::scase& s) {
    s.c = c_;
    s.elem = own_ ? std::addressof(*own_) : p_;
    s.is_send = true;
  }
  void complete(const detail::scase&) {
    sent_ = true;
    f_();
  }
  // Takes ownership of a referenced value (for select_case, which outlives
  // the full expression that made the case).
  void own() {
    if (!own_) own_.emplace(std::move(*p_));
  }
  // For select_case, whose list may be run again: the owned value, whether
  // it was sent (moved into the channel) since it was last set, and
  // setting it again.
  const T& owned_value() const { return *own_; }
  bool sent() const { return sent_; }
  void refill(const T& v) {
    own_.emplace(v);
    sent_ = false;
  }

 private:
  detail::hchan* c_;
  T* p_ = nullptr;
  std::optional<T> own_;
  bool sent_ = false;
  F f_;
};

// The default case; made by on_default.
template <class F>
class default_case {
 public:
  explicit default_case(F f) : f_(std::move(f)) {}
  default_case(const default_case&) = delete;
  default_case& operator=(const default_case&) = delete;
  // For select_case only.
  default_case(detail::case_transfer, default_case& o) : f_(std::move(o.f_)) {}
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
  return default_case<std::decay_t<F>>{std::forward<F>(f)};
}

namespace detail {
template <class C>
inline constexpr bool is_default_case = false;
template <class F>
inline constexpr bool is_default_case<default_case<F>> = true;
template <class C>
inline constexpr bool is_handler_case = is_default_case<C>;
template <class T, class F>
inline constexpr bool is_handler_case<recv_case<T, F>> = true;
template <class T, class F>
inline constexpr bool is_handler_case<send_case<T, F>> = true;

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
  (void)pos, (void)chosen;  // unused by select() with no cases
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

// The handler form: runs one ready case and its handler (see the top of
// this file); returns the case's position in the argument list. Blocks
// when no case is ready and there is no default. The cases are prvalues
// made by on_recv, on_send and on_default in this call's argument list.
template <class... Cases>
  requires(detail::is_handler_case<Cases> && ...)
int select(Cases... cases) {
  return detail::select_impl(std::index_sequence_for<Cases...>{}, cases...);
}

// ---- the result form -----------------------------------------------------
//
// case_recv, case_send and case_default make the cases of the result form
// (named after Go's `case` and `default`, and unlike recv/send not
// mistakable for the operations themselves). Like the handler form's, they
// exist only as prvalues in the select call's argument list.

// A receive case of the result form; made by case_recv.
template <class T>
class recv_op {
 public:
  using value_type = T;
  explicit recv_op(detail::hchan* c) noexcept : c_(c) {}
  recv_op(const recv_op&) = delete;
  recv_op& operator=(const recv_op&) = delete;
  detail::hchan* core() const noexcept { return c_; }

 private:
  detail::hchan* c_;
};

// A send case of the result form; made by case_send.
template <class T>
class send_op {
 public:
  send_op(detail::hchan* c, T* v) noexcept : c_(c), p_(v) {}
  send_op(detail::hchan* c, const T& v) : c_(c), own_(std::in_place, v) {}
  send_op(const send_op&) = delete;
  send_op& operator=(const send_op&) = delete;
  void fill(detail::scase& s) {
    s.c = c_;
    s.elem = own_ ? std::addressof(*own_) : p_;
    s.is_send = true;
  }

 private:
  detail::hchan* c_;
  T* p_ = nullptr;
  std::optional<T> own_;
};

// The default case of the result form; made by case_default.
class default_op {
 public:
  default_op() = default;
  default_op(const default_op&) = delete;
  default_op& operator=(const default_op&) = delete;
};

// case v, ok := <-ch (ch a chan<T> or recv_chan<T>): the value comes back
// in the select_result, moved in from the channel.
template <class T>
[[nodiscard]] recv_op<T> case_recv(const recv_chan<T>& ch) noexcept {
  return recv_op<T>(detail::chan_access::core(ch));
}
template <class T>
[[nodiscard]] recv_op<T> case_recv(const chan<T>& ch) noexcept {
  return recv_op<T>(detail::chan_access::core(ch));
}

// case ch <- v (ch a chan<T> or send_chan<T>). An rvalue v is moved from
// only if this case is chosen; an lvalue is copied when the case is made.
template <class T>
[[nodiscard]] send_op<T> case_send(const send_chan<T>& ch, std::type_identity_t<T>&& v) noexcept {
  return {detail::chan_access::core(ch), std::addressof(v)};
}
template <class T>
[[nodiscard]] send_op<T> case_send(const send_chan<T>& ch, const std::type_identity_t<T>& v) {
  return {detail::chan_access::core(ch), v};
}
template <class T>
[[nodiscard]] send_op<T> case_send(const chan<T>& ch, std::type_identity_t<T>&& v) noexcept {
  return {detail::chan_access::core(ch), std::addressof(v)};
}
template <class T>
[[nodiscard]] send_op<T> case_send(const chan<T>& ch, const std::type_identity_t<T>& v) {
  return {detail::chan_access::core(ch), v};
}

// default: chosen when no other case is ready (Go's default).
[[nodiscard]] inline default_op case_default() noexcept { return {}; }

namespace detail {
template <class C>
inline constexpr bool is_select_op = std::is_same_v<C, default_op>;
template <class T>
inline constexpr bool is_select_op<recv_op<T>> = true;
template <class T>
inline constexpr bool is_select_op<send_op<T>> = true;

template <class C>
struct op_slot {};  // send and default cases hold no value
template <class T>
struct op_slot<recv_op<T>> {
  recv_slot<T> s;
};
template <class C>
inline constexpr bool is_recv_op = false;
template <class T>
inline constexpr bool is_recv_op<recv_op<T>> = true;
// Whether moving a result's value for case C cannot throw (op_slot is raw
// storage, nothrow whatever T is: the value's own move decides).
template <class C>
inline constexpr bool nothrow_value_move = true;
template <class T>
inline constexpr bool nothrow_value_move<recv_op<T>> = std::is_nothrow_move_constructible_v<T>;
// Whether a T can be copied. std::is_copy_constructible says yes for a
// standard container of move-only elements (its copy constructor is not
// constrained), whose copy then does not compile: look at value_type too.
template <class T, class = void>
struct copyable_value : std::is_copy_constructible<T> {};
template <class T>
struct copyable_value<T, std::void_t<typename T::value_type>>
    : std::conjunction<std::is_copy_constructible<T>,
                       std::disjunction<std::is_same<std::remove_cv_t<typename T::value_type>, T>,
                                        copyable_value<std::remove_cv_t<typename T::value_type>>>> {};
}  // namespace detail

// What a result-form select returns: which case was chosen and, for a
// receive, the value, which the channel moved straight into this object.
//
//   switch (auto s = goro::select(goro::case_recv(a), goro::case_default()); s.index()) {
//     case 0:
//       if (s.ok()) use(std::move(s.get<0>()));
//       break;
//     case 1: break;
//   }
//
// Movable (the value moves along), not copyable. Not thread-safe: one
// owner, like any value.
template <class... Ops>
class select_result {
  static constexpr std::size_t n = sizeof...(Ops);
  template <std::size_t I>
  using op_t = std::tuple_element_t<I, std::tuple<Ops...>>;

 public:
  // The chosen case's position in the select's argument list (the
  // default case included), as the handler form returns.
  int index() const noexcept { return index_; }

  // Go's ok in `case v, ok := <-ch`: true if the chosen case is a receive
  // that got a value from a send, or a send; false if it is a receive from
  // a closed and drained channel (get() then gives T{}), or the default.
  bool ok() const noexcept { return ok_; }

  // The value received by case I, a case_recv; only if index() == I
  // (otherwise throws std::logic_error). When the channel was closed and
  // drained it is T{} (ok() is false); for a T with no default
  // constructor it is then absent and get throws std::logic_error too.
  // Move it out to keep it: std::move(s.get<0>()).
  template <std::size_t I>
  auto& get() & {
    static_assert(I < n, "goro::select_result::get: no such case");
    static_assert(detail::is_recv_op<op_t<I>>, "goro::select_result::get: case I is not a case_recv");
    if (index_ != static_cast<int>(I) || !full_)
      throw std::logic_error("goro::select_result::get: that case was not chosen, or has no value");
    return std::get<I>(slots_).s.get();
  }
  template <std::size_t I>
  auto&& get() && {
    return std::move(get<I>());
  }

  // Moves the received value, if any; throws what its move throws.
  select_result(select_result&& o) noexcept((detail::nothrow_value_move<Ops> && ...))
      : index_(o.index_), ok_(o.ok_) {
    if (o.full_) take_value(o, std::index_sequence_for<Ops...>{});
  }
  select_result(const select_result&) = delete;
  select_result& operator=(const select_result&) = delete;
  select_result& operator=(select_result&&) = delete;
  ~select_result() { destroy_value(std::index_sequence_for<Ops...>{}); }

 private:
  template <class... C>
    requires(sizeof...(C) > 0 && (detail::is_select_op<C> && ...))
  friend select_result<C...> select(C... ops);

  // Runs the select (the same engine as the handler form).
  explicit select_result(Ops&... ops) { run(std::index_sequence_for<Ops...>{}, ops...); }

  template <std::size_t... I>
  void run(std::index_sequence<I...>, Ops&... ops) {
    constexpr std::array<bool, n> is_def{std::is_same_v<Ops, default_op>...};
    constexpr int n_def = (0 + ... + (std::is_same_v<Ops, default_op> ? 1 : 0));
    static_assert(n_def <= 1, "goro::select: more than one case_default");
    constexpr auto pos = [&] {
      std::array<int, n> p{};
      int k = 0;
      for (std::size_t i = 0; i < n; i++) p[i] = is_def[i] ? -1 : k++;
      return p;
    }();
    constexpr int nc = static_cast<int>(n) - n_def;
    detail::scase sc[nc > 0 ? nc : 1];
    (
        [&] {
          if constexpr (detail::is_recv_op<Ops>) {
            sc[pos[I]].c = ops.core();
            sc[pos[I]].elem = std::get<I>(slots_).s.addr();
            sc[pos[I]].is_send = false;
          } else if constexpr (!std::is_same_v<Ops, default_op>) {
            ops.fill(sc[pos[I]]);
          }
        }(),
        ...);
    int chosen = detail::select_go(sc, nc, n_def == 0);
    (
        [&] {
          if constexpr (std::is_same_v<Ops, default_op>) {
            if (chosen < 0) index_ = static_cast<int>(I);
          } else if (chosen == pos[I]) {
            index_ = static_cast<int>(I);
            if constexpr (detail::is_recv_op<Ops>) {
              using T = typename Ops::value_type;
              ok_ = sc[pos[I]].ok;
              if (ok_) {
                full_ = true;
              } else if constexpr (std::is_default_constructible_v<T>) {
                ::new (std::get<I>(slots_).s.addr()) T{};  // Go's zero value
                full_ = true;
              }
            } else {
              ok_ = true;
            }
          }
        }(),
        ...);
  }

  template <std::size_t... I>
  void take_value(select_result& o, std::index_sequence<I...>) {
    (
        [&] {
          if constexpr (detail::is_recv_op<op_t<I>>) {
            if (index_ == static_cast<int>(I)) {
              using T = typename op_t<I>::value_type;
              ::new (std::get<I>(slots_).s.addr()) T(std::move(std::get<I>(o.slots_).s.get()));
              full_ = true;
            }
          }
        }(),
        ...);
  }

  template <std::size_t... I>
  void destroy_value(std::index_sequence<I...>) noexcept {
    if (!full_) return;
    (
        [&] {
          if constexpr (detail::is_recv_op<op_t<I>>) {
            using T = typename op_t<I>::value_type;
            if (index_ == static_cast<int>(I)) std::get<I>(slots_).s.get().~T();
          }
        }(),
        ...);
  }

  int index_ = -1;
  bool ok_ = false;
  bool full_ = false;  // the chosen receive case's slot holds a T
  // Where each receive case's value lands (the engine writes straight
  // into it): one slot per receive case, as every case is armed at once.
  std::tuple<detail::op_slot<Ops>...> slots_;
};

// The result form: runs one ready case (see the top of this file) and
// returns which, with the received value. Blocks when no case is ready and
// there is no case_default. The cases are prvalues made by case_recv,
// case_send and case_default in this call's argument list.
template <class... Ops>
  requires(sizeof...(Ops) > 0 && (detail::is_select_op<Ops> && ...))
select_result<Ops...> select(Ops... ops) {
  return select_result<Ops...>(ops...);
}

// Mixing the forms in one select does not compile.
template <class... Cases>
  requires((detail::is_select_op<Cases> || detail::is_handler_case<Cases>) && ...) &&
          (!(detail::is_select_op<Cases> && ...)) && (!(detail::is_handler_case<Cases> && ...))
void select(Cases... cases) = delete;

// A case of any type, for a select over a list whose size is known only at
// run time (Go's reflect.Select). Made from on_recv, on_send or
// on_default; it keeps its channel alive and owns the value to send. A
// list may be run again; a send case then sends the same value again (it
// keeps a copy, which holds what the value owns for as long as the case
// lives; a value that cannot be copied can be sent once, and a later
// select using that case throws std::logic_error).
//
//   std::vector<goro::select_case> cases;
//   for (auto& ch : inputs) cases.push_back(goro::on_recv(ch, [&](int v) { sum += v; }));
//   cases.push_back(goro::on_default());
//   int i = goro::select(cases);
class select_case {
 public:
  // From a prvalue case (on_recv, on_send, on_default), as in select.
  template <class T, class F>
  select_case(recv_case<T, F> c) : p_(new model<recv_case<T, F>>(c)) {}  // NOLINT
  template <class T, class F>
  select_case(send_case<T, F> c) : p_(new send_model<T, F>(c)) {}  // NOLINT
  template <class F>
  select_case(default_case<F> c) : p_(new default_model<F>(c)) {}  // NOLINT

  // For goro::select only (how it reads and runs the case), not for use.
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
    explicit model(C& cc) : c(detail::case_transfer{}, cc) {
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
  // A send case may be run again, as a []reflect.SelectCase is, and sends
  // the same value each time: a copy of it is kept for that (one copy of
  // T when the case is made). A move-only value cannot be sent twice: a
  // select that would use the case again throws std::logic_error.
  template <class T, class F>
  struct send_model : model<send_case<T, F>> {
    explicit send_model(send_case<T, F>& cc) : model<send_case<T, F>>(cc) {
      this->c.own();
      if constexpr (detail::copyable_value<T>::value) kept.emplace(this->c.owned_value());
    }
    void fill(detail::scase& s) override {
      if (this->c.sent()) {
        if constexpr (detail::copyable_value<T>::value) {
          this->c.refill(*kept);
        } else {
          throw std::logic_error("goro::select: a select_case whose move-only value was sent is used again");
        }
      }
      this->c.fill(s);
    }
    std::optional<T> kept;
  };
  template <class F>
  struct default_model : concept_t {
    explicit default_model(default_case<F>& cc) : c(detail::case_transfer{}, cc) {}
    bool is_default() const override { return true; }
    void run_default() override { c.run(); }
    default_case<F> c;
  };
  std::unique_ptr<concept_t> p_;
};

// Runs one ready case of `cases` (as the variadic select) and returns its
// index. At most one default case; more throw goro::panic_error(
// "reflect.Select: multiple default cases"), and so do more than 65,536
// cases ("reflect.Select: too many cases (max 65536)"). An empty list
// blocks forever.
int select(std::span<select_case> cases);
inline int select(std::vector<select_case>& cases) { return select(std::span<select_case>(cases)); }

}  // namespace goro
