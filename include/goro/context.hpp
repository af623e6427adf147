// goro::context: Go's context package. A context carries a cancellation
// signal, a deadline and request-scoped values down a tree of calls and
// goroutines:
//
//   void handle_request(goro::context ctx, request r) {
//     auto [ctx2, cancel] = goro::with_timeout(ctx, 100ms);   // ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
//     goro::go([ctx2 = ctx2, r] { lookup(ctx2, r); });  // (clang 14 cannot capture a binding)
//     goro::select(goro::on_recv(results, [&](reply rep) { answer(rep); }),
//                  goro::on_recv(ctx2.done(), [ctx2 = ctx2] { fail(ctx2.err()); }));  // case <-ctx.Done()
//     cancel();                                                // defer cancel()
//   }
//
// A context is a handle, like a Go interface value: copying it is cheap (a
// reference count) and the copies name the same context; the last handle
// frees it. Semantics are Go's:
//  - A context is done when it is cancelled (its cancel function is called),
//    its deadline passes, or its parent is done. done() is a channel that is
//    closed then, exactly once; err() then returns errc::canceled or
//    errc::deadline_exceeded and keeps returning it. err() is set before
//    done() is closed, so a receive that returns because done() closed sees
//    the error.
//  - Cancelling a context cancels every context derived from it, at once
//    and before cancel returns (their err() is set and their done() closed;
//    one narrow exception, a deadline firing inside the subtree while
//    another cancel of it is under way, is in src/context/context.cpp);
//    functions registered with context_after_func are then started, each in
//    a goroutine of its own. Whoever sees a derived context done by that
//    cancellation sees err() set on the cancelled one too: err() of a
//    context whose cancellation is under way waits for it to finish.
//  - A context that is cancelled, or whose last handle (and cancel
//    function) is dropped, is detached from its parent: a long-lived parent
//    with many short-lived children keeps none of them.
//  - Values: with_value adds one key/value pair; value() looks it up
//    through the chain of parents, nearest first.
//
// Lifetime: a cancel function keeps its context alive; a pending deadline
// timer keeps its context alive until the deadline or until it is
// cancelled; so does a pending context_after_func registration. Call the
// cancel function when done with a context (Go's rule, which `go vet`
// checks), so that its timer and its place in the parent go at once.
//
// Thread-safety: every operation may be called from goroutines and plain
// threads at once, including cancelling one context from several. A single
// handle object is like a shared_ptr: copy it per user rather than
// assigning to one handle concurrently.
#pragma once

#include <chrono>
#include <concepts>
#include <csignal>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>

#include <goro/chan.hpp>
#include <goro/detail/duration.hpp>
#include <goro/errc.hpp>

namespace goro {

class context;

namespace detail {

struct ctx_node;
struct ctx_afunc;

// What a context_after_func registration runs (in a goroutine of its own).
struct ctx_fn {
  virtual void run() = 0;
  virtual ~ctx_fn() = default;
};
template <class F>
struct ctx_fn_of final : ctx_fn {
  explicit ctx_fn_of(F&& f) : f(std::move(f)) {}
  explicit ctx_fn_of(const F& f) : f(f) {}
  void run() override { f(); }
  F f;
};

// The shim between the templates below and src/context/context.cpp. A
// null ctx_node* is background(). Functions returning a node return it
// with one reference, which the caller adopts.
void ctx_retain(ctx_node* n) noexcept;
void ctx_release(ctx_node* n) noexcept;
ctx_node* ctx_todo() noexcept;
ctx_node* ctx_with_cancel(ctx_node* parent);
// deadline_ns on the steady clock (steady_now_ns); INT64_MAX: none. cause
// 0: deadline_exceeded.
ctx_node* ctx_with_deadline(ctx_node* parent, int64_t deadline_ns, std::error_code cause);
ctx_node* ctx_with_value(ctx_node* parent, const void* key, void* value, void (*destroy)(void*) noexcept);
ctx_node* ctx_without_cancel(ctx_node* parent);
ctx_node* ctx_with_stop_token(ctx_node* parent, std::stop_token st);
// Cancels n (a node made by ctx_with_cancel/deadline/stop_token) with
// errc::canceled and the given cause (0: errc::canceled).
void ctx_cancel(ctx_node* n, std::error_code cause) noexcept;
hchan* ctx_done(ctx_node* n);  // a new reference, or null (never done)
std::error_code ctx_err(ctx_node* n) noexcept;
std::error_code ctx_cause(ctx_node* n) noexcept;
int64_t ctx_deadline(ctx_node* n) noexcept;  // INT64_MAX: none
const void* ctx_value(ctx_node* n, const void* key) noexcept;
// Registers fn (ownership taken, also on throw) to run when n is done.
ctx_afunc* ctx_after_func(ctx_node* n, ctx_fn* fn);
// The registration's handle references (after_func_stop copies).
bool ctx_afunc_stop(ctx_afunc* a) noexcept;
void ctx_afunc_retain(ctx_afunc* a) noexcept;
void ctx_afunc_release(ctx_afunc* a) noexcept;
int64_t steady_now_ns();

// For tests: how many children (and pending context_after_func
// registrations) hang off the nearest cancellable context of ctx.
int64_t context_child_count(const context& ctx) noexcept;

struct ctx_access;

// A reference-counted pointer to a node.
class ctx_ref {
 public:
  ctx_ref() noexcept = default;
  static ctx_ref adopt(ctx_node* n) noexcept {
    ctx_ref r;
    r.n_ = n;
    return r;
  }
  ctx_ref(const ctx_ref& o) noexcept : n_(o.n_) {
    if (n_ != nullptr) ctx_retain(n_);
  }
  ctx_ref(ctx_ref&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  ctx_ref& operator=(ctx_ref o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~ctx_ref() {
    if (n_ != nullptr) ctx_release(n_);
  }
  ctx_node* get() const noexcept { return n_; }

 private:
  ctx_node* n_ = nullptr;
};

}  // namespace detail

// The identity of a context value: its address. Declare one object per
// key, usually at namespace scope; T is the type of the values it keys, so
// a lookup cannot get the type wrong (Go's unexported key type idiom):
//
//   inline constexpr goro::context_key<std::string> request_id;
//   auto ctx = goro::with_value(parent, request_id, std::string("r-42"));
//   if (const std::string* id = ctx.value(request_id)) log(*id);
//
// Not copyable or movable (a copy would be another key).
template <class T>
class context_key {
 public:
  constexpr context_key() noexcept = default;
  context_key(const context_key&) = delete;
  context_key& operator=(const context_key&) = delete;

 private:
  char unused_ = 0;  // gives each key an address of its own
};

// A context (Go's context.Context). Default-constructed: background().
class context {
 public:
  // background(): never cancelled, no deadline, no values.
  context() noexcept = default;

  // A channel closed when the context is done (Go's ctx.Done()), usable in
  // select and recv:
  //   goro::select(goro::on_recv(jobs, run), goro::on_recv(ctx.done()));
  //   ctx.done().recv();                  // <-ctx.Done()
  // For a context that can never be done (background(), todo(),
  // without_cancel()) it is the nil channel, which blocks forever and is
  // never chosen by select. Successive calls return the same channel.
  // Never blocks; throws std::bad_alloc (the channel is made on first use).
  recv_chan<unit> done() const { return detail::chan_access::adopt<recv_chan<unit>>(detail::ctx_done(ref_.get())); }

  // Why the context is done (Go's ctx.Err()): errc::canceled or
  // errc::deadline_exceeded; an empty error_code (false) while it is not
  // done. Once set it never changes, and done() is closed by then (Go's
  // rule). Waits only while a cancellation of this context is being
  // published (its descendants first, then its done channel closed: a
  // moment), as Go's Err waits for its canceller.
  //   if (ctx.err()) return ctx.err();
  std::error_code err() const noexcept { return detail::ctx_err(ref_.get()); }

  // When the context will be done by its deadline (Go's ctx.Deadline()),
  // or nullopt if it has none. A deadline later than about 292 years after
  // boot is clamped there. Never blocks.
  std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept {
    int64_t ns = detail::ctx_deadline(ref_.get());
    if (ns == INT64_MAX) return std::nullopt;
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
  }

  // The value for key, from the nearest with_value in this context's chain
  // (Go's ctx.Value(key)), or nullptr. The pointee lives as long as any
  // context that holds it; it is const (values are shared by every
  // derived context and goroutine). Never blocks.
  template <class T>
  const T* value(const context_key<T>& key) const noexcept {
    return static_cast<const T*>(detail::ctx_value(ref_.get(), &key));
  }

 private:
  explicit context(detail::ctx_ref r) noexcept : ref_(std::move(r)) {}
  detail::ctx_ref ref_;
  friend struct detail::ctx_access;
};

// The function that cancels a context (Go's context.CancelFunc): calling it
// cancels the context (err() errc::canceled) and everything derived from
// it, stops its timer and detaches it from its parent. Later calls do
// nothing. Copyable (the copies cancel the same context); keeps the
// context alive. Callable from any goroutine or thread, at once with
// others.
//
//   auto [ctx, cancel] = goro::with_cancel(parent);
//   ...
//   cancel();
class cancel_func {
 public:
  cancel_func() noexcept = default;  // cancels nothing
  void operator()() const noexcept {
    if (ref_.get() != nullptr) detail::ctx_cancel(ref_.get(), {});
  }

 private:
  explicit cancel_func(detail::ctx_ref r) noexcept : ref_(std::move(r)) {}
  detail::ctx_ref ref_;
  friend struct detail::ctx_access;
};

// Go's context.CancelCauseFunc: as cancel_func, and the first call records
// cause (returned by goro::cause; an empty cause records errc::canceled).
//
//   auto [ctx, cancel] = goro::with_cancel_cause(parent);
//   cancel(std::make_error_code(std::errc::connection_reset));
//   goro::cause(ctx);   // connection_reset; ctx.err() is errc::canceled
class cancel_cause_func {
 public:
  cancel_cause_func() noexcept = default;  // cancels nothing
  void operator()(std::error_code cause) const noexcept {
    if (ref_.get() != nullptr) detail::ctx_cancel(ref_.get(), cause);
  }

 private:
  explicit cancel_cause_func(detail::ctx_ref r) noexcept : ref_(std::move(r)) {}
  detail::ctx_ref ref_;
  friend struct detail::ctx_access;
};

// The stop function of context_after_func (Go's `stop func() bool`):
// returns true if the call stopped f from being run, false if f has
// already been started or stop was already called. It does not wait for a
// started f to finish. Copyable; callable from any goroutine or thread.
// Like Go's stop closure, it keeps the context's record alive while held.
class after_func_stop {
 public:
  after_func_stop() noexcept = default;
  after_func_stop(const after_func_stop& o) noexcept : a_(o.a_) {
    if (a_ != nullptr) detail::ctx_afunc_retain(a_);
  }
  after_func_stop(after_func_stop&& o) noexcept : a_(std::exchange(o.a_, nullptr)) {}
  after_func_stop& operator=(after_func_stop o) noexcept {
    std::swap(a_, o.a_);
    return *this;
  }
  ~after_func_stop() {
    if (a_ != nullptr) detail::ctx_afunc_release(a_);
  }
  bool operator()() const noexcept { return a_ != nullptr && detail::ctx_afunc_stop(a_); }

 private:
  detail::ctx_afunc* a_ = nullptr;
  friend struct detail::ctx_access;
};

namespace detail {
struct ctx_access {
  static context make(ctx_node* n) noexcept { return context(ctx_ref::adopt(n)); }
  static ctx_node* node(const context& c) noexcept { return c.ref_.get(); }
  static std::pair<context, cancel_func> pair(ctx_node* n) noexcept {
    ctx_ref r = ctx_ref::adopt(n);
    return {context(r), cancel_func(r)};
  }
  static std::pair<context, cancel_cause_func> cause_pair(ctx_node* n) noexcept {
    ctx_ref r = ctx_ref::adopt(n);
    return {context(r), cancel_cause_func(r)};
  }
  static after_func_stop stop(ctx_afunc* a) noexcept {
    after_func_stop s;
    s.a_ = a;
    return s;
  }
};

}  // namespace detail

// The root context (Go's context.Background()): never cancelled, no
// deadline, no values; done() is the nil channel. Free; never blocks.
inline context background() noexcept { return context(); }

// A root context like background() (Go's context.TODO()), for code that
// has not been given a context yet. Free; never blocks.
inline context todo() noexcept { return detail::ctx_access::make(detail::ctx_todo()); }

// A child of parent with its own cancel function (Go's WithCancel). If
// parent is already done, the child is done at once with parent's error
// and cause. Throws std::bad_alloc.
//
//   auto [ctx, cancel] = goro::with_cancel(goro::background());
//   goro::go([ctx] { worker(ctx); });
//   cancel();                      // worker's ctx.done() closes
inline std::pair<context, cancel_func> with_cancel(const context& parent) {
  return detail::ctx_access::pair(detail::ctx_with_cancel(detail::ctx_access::node(parent)));
}

// with_cancel whose cancel function takes a cause (Go's WithCancelCause);
// goro::cause(ctx) returns it once cancelled. Throws std::bad_alloc.
inline std::pair<context, cancel_cause_func> with_cancel_cause(const context& parent) {
  return detail::ctx_access::cause_pair(detail::ctx_with_cancel(detail::ctx_access::node(parent)));
}

// A child of parent that is also done at deadline d, with
// errc::deadline_exceeded (Go's WithDeadline). If parent's deadline is
// earlier, the child keeps that one (it is with_cancel then). A deadline
// already past makes the child done at once. The deadline is a per-P
// runtime timer, stopped by cancel. d may be of any clock (converted to
// the steady clock at the call). Throws std::bad_alloc.
//
//   auto [ctx, cancel] = goro::with_deadline(parent, std::chrono::steady_clock::now() + 2s);
template <class Clock, class Dur>
std::pair<context, cancel_func> with_deadline(const context& parent, std::chrono::time_point<Clock, Dur> d) {
  return detail::ctx_access::pair(
      detail::ctx_with_deadline(detail::ctx_access::node(parent), detail::deadline_ns_of(d), {}));
}

// with_deadline whose deadline, when it passes, records cause (returned by
// goro::cause; err() is still errc::deadline_exceeded) (Go's
// WithDeadlineCause). The cancel function records errc::canceled.
template <class Clock, class Dur>
std::pair<context, cancel_func> with_deadline_cause(const context& parent, std::chrono::time_point<Clock, Dur> d,
                                                    std::error_code cause) {
  return detail::ctx_access::pair(
      detail::ctx_with_deadline(detail::ctx_access::node(parent), detail::deadline_ns_of(d), cause));
}

// with_deadline(parent, now + timeout) (Go's WithTimeout). A huge timeout
// saturates (never comes) rather than wrapping. Throws std::bad_alloc.
//
//   auto [ctx, cancel] = goro::with_timeout(parent, 100ms);
template <class Rep, class Period>
std::pair<context, cancel_func> with_timeout(const context& parent, std::chrono::duration<Rep, Period> timeout) {
  return detail::ctx_access::pair(detail::ctx_with_deadline(
      detail::ctx_access::node(parent), detail::deadline_after(detail::steady_now_ns(), detail::saturated_ns(timeout)),
      {}));
}

// with_timeout recording cause when the timeout passes (Go's
// WithTimeoutCause).
template <class Rep, class Period>
std::pair<context, cancel_func> with_timeout_cause(const context& parent, std::chrono::duration<Rep, Period> timeout,
                                                   std::error_code cause) {
  return detail::ctx_access::pair(detail::ctx_with_deadline(
      detail::ctx_access::node(parent), detail::deadline_after(detail::steady_now_ns(), detail::saturated_ns(timeout)),
      cause));
}

// A child of parent carrying value under key (Go's WithValue); it is done
// when parent is. value is moved (or copied) into the context and stays
// there, const, as long as any context derived from it lives. Throws
// std::bad_alloc, or what T's constructor throws. T's destructor runs
// where the last reference goes: in the goroutine or thread that drops it,
// or, if a deadline's timer held the last one, in a goroutine of its own
// (never on a scheduler stack), so it may block like any other code.
//
//   inline constexpr goro::context_key<int> user_id;
//   auto ctx = goro::with_value(parent, user_id, 42);
//   *ctx.value(user_id);   // 42
template <class T, class V>
  requires std::constructible_from<T, V&&>
context with_value(const context& parent, const context_key<T>& key, V&& value) {
  T* boxed = new T(std::forward<V>(value));
  return detail::ctx_access::make(detail::ctx_with_value(detail::ctx_access::node(parent), &key, boxed,
                                                         [](void* p) noexcept { delete static_cast<T*>(p); }));
}

// A child of parent that is never cancelled when parent is (Go's
// WithoutCancel): no deadline, err() empty, done() the nil channel; values
// are still parent's. Throws std::bad_alloc.
inline context without_cancel(const context& parent) {
  return detail::ctx_access::make(detail::ctx_without_cancel(detail::ctx_access::node(parent)));
}

// Why ctx is done (Go's context.Cause): the cause given to the cancel
// function of the nearest with_cancel_cause (or the _cause deadline) that
// cancelled it, else ctx.err(); empty while ctx is not done. Waits only
// while a cancellation of ctx is being published, as err() does.
inline std::error_code cause(const context& ctx) noexcept { return detail::ctx_cause(detail::ctx_access::node(ctx)); }

// Runs f in a goroutine of its own once ctx is done (Go's
// context.AfterFunc); at once if it is done already; never for a context
// that cannot be done. Returns the stop function (after_func_stop). Each
// call registers f separately. Throws std::bad_alloc; on a context done
// already, also what go() throws when f's goroutine cannot be started
// (goro::resource_error), and then f never runs.
//
//   auto stop = goro::context_after_func(ctx, [conn] { conn.close(); });
//   ...
//   if (stop()) { /* f will not run */ }
template <class F>
after_func_stop context_after_func(const context& ctx, F&& f) {
  auto* fn = new detail::ctx_fn_of<std::decay_t<F>>(std::forward<F>(f));
  return detail::ctx_access::stop(detail::ctx_after_func(detail::ctx_access::node(ctx), fn));
}

// A child of parent cancelled (errc::canceled) when a stop is requested on
// st, at once if one already was (C++20 interop: a context from a
// std::stop_token, e.g. a std::jthread's). The cancel function also
// cancels it; the registration with st (a std::stop_callback) goes with
// the context's last handle. Throws std::bad_alloc.
//
//   std::jthread t([](std::stop_token st) {
//     auto [ctx, cancel] = goro::with_stop_token(goro::background(), st);
//     serve(ctx);
//   });
inline std::pair<context, cancel_func> with_stop_token(const context& parent, std::stop_token st) {
  return detail::ctx_access::pair(detail::ctx_with_stop_token(detail::ctx_access::node(parent), std::move(st)));
}

// A std::stop_source whose stop is requested when ctx is done (C++20
// interop: a stop_token from a context, for std::jthread,
// std::condition_variable_any and other stop_token users). The request is
// made in a goroutine of its own shortly after ctx is done (as
// context_after_func runs f), so stop callbacks never run inside a cancel
// function. Requesting stop on the source does not cancel ctx. The
// registration lasts until ctx is done: for a long-lived ctx, prefer a
// child context cancelled when the work is over. Throws std::bad_alloc.
//
//   std::stop_token st = goro::make_stop_source(ctx).get_token();
inline std::stop_source make_stop_source(const context& ctx) {
  std::stop_source src;
  if (ctx.err()) {
    src.request_stop();
  } else if (!ctx.done().is_nil()) {
    context_after_func(ctx, [src]() mutable { src.request_stop(); });
  }
  return src;
}

// A child of parent cancelled when one of the signals arrives (Go's
// signal.NotifyContext), for graceful shutdown:
//
//   auto [ctx, stop] = goro::signal_notify_context(goro::background(), {SIGINT, SIGTERM});
//   serve(ctx);           // returns once ctx.done() is closed
//   stop();               // a second Ctrl-C now ends the program
//
// From the call on, the runtime takes these signals: a handler hands each
// one to a runtime thread, which cancels every context registered for it
// (errc::canceled). Calling the returned function (stop) cancels the
// context and unregisters it; once no context is registered for a
// signal, the action it had before the first registration (usually the
// default: terminate) is restored, as Go's signal.Stop does. The signals
// goro/signal.hpp's signal_notify takes, and as there, none listed means
// all of them. Throws std::system_error(EINVAL) for a signal that cannot
// be taken, std::bad_alloc. Callable from goroutines and plain threads.
// signal_reset (goro/signal.hpp) undoes this registration too.
std::pair<context, cancel_func> signal_notify_context(const context& parent, std::initializer_list<int> signals);

}  // namespace goro
