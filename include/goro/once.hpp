// goro::once, once_func, once_value: Go's sync.Once, OnceFunc and OnceValue.
//
//   goro::once init;
//   config* cfg;
//
//   config& get() {
//     init.call([] { cfg = load_config(); });
//     return *cfg;
//   }
//
//   auto get_config = goro::once_value([] { return load_config(); });
//   config c = get_config();  // loads on the first call only
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <goro/mutex.hpp>

namespace goro {

// Declared first for detail::once_done, which class once befriends.
class once;
namespace detail {
inline bool once_done(const once& o) noexcept;
}  // namespace detail

// Runs a function exactly once (Go's sync.Once).
//
// call(f) runs f if no call() on this once has run one yet; concurrent
// callers wait (parked, [sync.Mutex.Lock]) until that first f has returned.
// Memory model: the return of the one f happens before every call()
// returns.
//
// If f throws, the exception reaches the caller that ran f, and the once
// is done all the same: later calls return at once without running
// anything (Go's Do after a panic). This differs from std::call_once,
// where an exception leaves the flag unset and the next caller runs its
// function. Recursion deadlocks: f must not call call() on the same once.
//
// Thread-safety: call() may be used concurrently from goroutines and plain
// threads. Not copyable or movable.
class once {
 public:
  // A once that has not run anything yet.
  constexpr once() noexcept = default;
  once(const once&) = delete;
  once& operator=(const once&) = delete;

  // Runs f(args...) if this is the first call; see above.
  //
  //   static goro::once o;
  //   o.call(init_tables, 64);
  template <class F, class... Args>
  void call(F&& f, Args&&... args) {
    // acquire: pairs with the release store below, so a caller that sees
    // done_ also sees what f wrote.
    if (done_.load(std::memory_order_acquire) != 0) [[likely]]
      return;
    call_slow(std::forward<F>(f), std::forward<Args>(args)...);
  }

 private:
  template <class F, class... Args>
  void call_slow(F&& f, Args&&... args) {
    mutex_lock lock(m_);
    if (done_.load(std::memory_order_relaxed) != 0) return;
    struct mark_done {  // also when f throws
      std::atomic<uint32_t>& done;
      ~mark_done() { done.store(1, std::memory_order_release); }
    } mark{done_};
    std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
  }

  friend bool detail::once_done(const once& o) noexcept;

  std::atomic<uint32_t> done_{0};
  mutex m_;
};

namespace detail {
// Whether o's call has finished (acquire, as call's own check): once_func
// and once_value take their slow path only before that.
inline bool once_done(const once& o) noexcept { return o.done_.load(std::memory_order_acquire) != 0; }

template <class F>
struct once_func_state {
  explicit once_func_state(F f) : fn(std::move(f)) {}
  once o;
  std::optional<F> fn;  // released after the call, as Go drops f
  std::exception_ptr err;
};

template <class F, class T>
struct once_value_state : once_func_state<F> {
  using once_func_state<F>::once_func_state;
  std::optional<T> value;
};

// The first call of once_func's or once_value's function: run(state, f)
// calls f under the state's once; its exception is kept for every call.
// f is moved out of the state under the once and destroyed only after the
// once is done and unlocked (as Go drops f, which runs no code): its
// destructor is the user's, and may wait for a goroutine that calls this
// very function, which must find the call done. `keep` is the caller's
// own reference: f may destroy the function that holds the other.
template <class State, class Run>
void once_first_call(const std::shared_ptr<State>& keep, Run run) {
  std::remove_reference_t<decltype(keep->fn)> taken;  // destroyed last, after call() returns
  keep->o.call([&keep, &run, &taken] {
    try {
      taken.emplace(std::move(*keep->fn));
      keep->fn.reset();
      run(*keep, *taken);
    } catch (...) {
      keep->err = std::current_exception();
    }
  });
}
}  // namespace detail

// Returns a function that calls f() the first time it is called and does
// nothing later (Go 1.21's sync.OnceFunc). If f throws, every call of the
// returned function throws the same exception object (std::rethrow_exception
// of the one caught), not only the first. Unlike Go's, the report of such
// an exception that nobody catches shows the stack from the returned
// function's call, not from f's throw: C++ cannot keep the exception for
// later calls without catching it, which unwinds f's frames.
//
// The returned function is copyable; copies share the one call. Calls may
// come concurrently from goroutines and plain threads: they wait for the
// first to finish.
//
//   auto close_once = goro::once_func([&] { conn.close(); });
//   close_once(); close_once();  // closes once
template <class F>
auto once_func(F f) {
  auto s = std::make_shared<detail::once_func_state<F>>(std::move(f));
  return [s] {
    if (!detail::once_done(s->o)) [[unlikely]] {
      // f may destroy the last copy of this function (and with it `s`):
      // the first call holds the state itself until it is done with it.
      auto keep = s;
      detail::once_first_call(keep, [](auto&, auto& fn) { std::invoke(std::move(fn)); });
      if (keep->err) std::rethrow_exception(keep->err);
      return;
    }
    if (s->err) std::rethrow_exception(s->err);
  };
}

// Returns a function that calls f() the first time and returns its result
// then and on every later call, by copy (Go 1.21's sync.OnceValue). If f
// throws, every call throws the same exception object. Copyable and
// callable concurrently, as once_func's.
//
//   auto table = goro::once_value([] { return build_crc_table(); });
//   uint32_t crc = table()[b];
template <class F>
auto once_value(F f) {
  using T = std::decay_t<std::invoke_result_t<F&>>;
  static_assert(!std::is_void_v<T>, "goro::once_value: f returns nothing; use goro::once_func");
  auto s = std::make_shared<detail::once_value_state<F, T>>(std::move(f));
  return [s]() -> T {
    if (!detail::once_done(s->o)) [[unlikely]] {
      auto keep = s;  // as once_func's: f may destroy this function
      detail::once_first_call(keep, [](auto& st, auto& fn) { st.value.emplace(std::invoke(std::move(fn))); });
      if (keep->err) std::rethrow_exception(keep->err);
      return *keep->value;
    }
    if (s->err) std::rethrow_exception(s->err);
    return *s->value;
  };
}

}  // namespace goro
