// goro::errgroup: Go's golang.org/x/sync/errgroup. A group of goroutines
// working on subtasks of one task; wait() waits for them all and reports
// the first failure.
//
//   auto [g, ctx] = goro::errgroup_with_context(parent);  // g, ctx := errgroup.WithContext(parent)
//   g.set_limit(8);                                        // at most 8 at a time
//   for (const auto& url : urls)
//     g.go([ctx = ctx, url]() -> std::error_code { return fetch(ctx, url); });
//   if (std::error_code e = g.wait()) return e;           // the first failure
//
// A task is a callable taking no argument that returns void or
// std::error_code. It fails by returning a non-zero error_code or by
// throwing; the first failure wins: wait() returns that error_code, or
// rethrows that exception (later failures are dropped, as Go drops later
// errors). A group made by errgroup_with_context cancels its context on
// the first failure (cause: the error_code, or errc::canceled for an
// exception) and when wait() returns, as Go's does.
//
// errgroup is a handle: copies name the same group (Go's *Group), so a
// task may start more tasks through a copy. Every member function may be
// called from any goroutine or plain thread; set_limit(n >= 0) only while
// no task started under a limit is running (set_limit(n < 0), which turns
// the limit off, at any time: tasks already running keep the slots they
// took). A default-constructed group has no limit and no context (Go's
// zero Group).
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include <goro/chan.hpp>
#include <goro/context.hpp>
#include <goro/mutex.hpp>
#include <goro/panic.hpp>
#include <goro/runtime.hpp>
#include <goro/wait_group.hpp>

namespace goro {

// A group of goroutines whose wait() reports the first failure (Go's
// errgroup.Group; a handle, see the top of this file).
class errgroup {
 public:
  // A new group with no limit and no context (Go's zero Group). Throws
  // std::bad_alloc.
  errgroup() : s_(std::make_shared<state>()) {}

  // Starts f in a new goroutine (Go's g.Go). With a limit, blocks until
  // fewer than the limit are running (parking the caller, wait reason
  // "chan send"). Throws what goro::go throws.
  template <class F>
  void go(F&& f) {
    chan<unit> slot = s_->limit();
    if (!slot.is_nil()) slot.send(unit{});
    start(std::forward<F>(f), std::move(slot));
  }

  // Starts f only if the limit allows it now (Go's g.TryGo): true if
  // started, false (f not called) if limit tasks are running. Never waits
  // for a slot (it takes the group's internal goro::mutex, held only
  // briefly, and starts a goroutine).
  template <class F>
  bool try_go(F&& f) {
    chan<unit> slot = s_->limit();
    if (!slot.is_nil() && !slot.try_send(unit{})) return false;
    start(std::forward<F>(f), std::move(slot));
    return true;
  }

  // At most n tasks at a time from now on; n < 0: no limit, at any time
  // (Go's g.SetLimit; tasks already running keep their slots). For n >= 0,
  // throws goro::panic_error("errgroup: modify limit while N goroutines in
  // the group are still active") if tasks started under a limit are
  // running, as Go panics.
  void set_limit(int64_t n) {
    chan<unit> fresh = n < 0 ? chan<unit>{} : make_chan<unit>(n);
    mutex_lock hold(s_->sem_mu);
    if (n >= 0 && !s_->sem.is_nil() && s_->sem.len() != 0)
      throw panic_error("errgroup: modify limit while " + std::to_string(s_->sem.len()) +
                        " goroutines in the group are still active");
    s_->sem = std::move(fresh);
  }

  // Waits for every task started so far (Go's g.Wait), then cancels the
  // group's context if it has one, and reports the first failure: returns
  // its error_code (empty if none failed), or rethrows its exception.
  std::error_code wait() {
    s_->wg.wait();
    // Every task's write of the failure happens before wg.wait returns.
    s_->cancel(s_->err ? s_->err : std::error_code(errc::canceled));
    if (s_->ex) std::rethrow_exception(s_->ex);
    return s_->err;
  }

 private:
  struct state {
    wait_group wg;
    // The limit: nil for none, else a slot per running task. Read and
    // replaced under sem_mu (a task may start tasks while another
    // goroutine turns the limit off); each task keeps the channel it took
    // its slot from and gives the slot back there.
    mutex sem_mu;
    chan<unit> sem GORO_GUARDED_BY(sem_mu);
    chan<unit> limit() {
      mutex_lock hold(sem_mu);
      return sem;
    }
    std::atomic<bool> failed{false};
    std::error_code err;    // the first failure's, written by its claimer
    std::exception_ptr ex;  // the first failure's exception
    cancel_cause_func cancel;  // cancels nothing for a zero group
  };

  // Starts f; slot is the channel f's slot was taken from (nil: none).
  template <class F>
  void start(F&& f, chan<unit> slot) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    static_assert(std::is_void_v<R> || std::is_same_v<R, std::error_code>,
                  "errgroup: a task returns void or std::error_code");
    s_->wg.add(1);
    try {
      goro::go([s = s_, slot, f = std::optional<std::decay_t<F>>(std::in_place, std::forward<F>(f))]() mutable {
        try {
          if constexpr (std::is_void_v<R>) {
            (*f)();
          } else {
            if (std::error_code e = (*f)()) fail(*s, e, nullptr);
          }
        } catch (...) {
          fail(*s, {}, std::current_exception());
        }
        // The task and what it captured go before wait() may return: a
        // capture's destructor may touch the waiter's frame.
        f.reset();
        if (!slot.is_nil()) slot.recv();
        s->wg.done();
      });
    } catch (...) {
      if (!slot.is_nil()) slot.recv();
      s_->wg.done();
      throw;
    }
  }

  static void fail(state& s, std::error_code e, std::exception_ptr ex) {
    bool expected = false;
    if (!s.failed.compare_exchange_strong(expected, true)) return;  // not the first
    s.err = e;
    s.ex = std::move(ex);
    s.cancel(e ? e : std::error_code(errc::canceled));
  }

  std::shared_ptr<state> s_;
  friend std::pair<errgroup, context> errgroup_with_context(const context& parent);
};

// A group and a child context of parent that the group cancels on its
// first failure and when wait() returns (Go's errgroup.WithContext).
// Throws std::bad_alloc.
//
//   auto [g, ctx] = goro::errgroup_with_context(goro::background());
inline std::pair<errgroup, context> errgroup_with_context(const context& parent) {
  errgroup g;
  auto [ctx, cancel] = with_cancel_cause(parent);
  g.s_->cancel = cancel;
  return {g, ctx};
}

}  // namespace goro
