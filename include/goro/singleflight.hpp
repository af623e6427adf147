// goro::singleflight: Go's golang.org/x/sync/singleflight.Group.
//
// Duplicate calls for one key share one execution: while do_call(key, fn)
// runs fn, other do_call(key, ...) callers wait for it and get its result
// (or its exception) instead of running their own fn. Useful in front of a
// slow lookup that many requests ask for at once.
//
//   goro::singleflight<std::string, user> users;
//   auto [u, shared] = users.do_call(id, [&] { return db.load_user(id); });
//
// Results: do_call returns the value and whether it was given to more than
// one caller (Go's `shared`). If fn throws, every caller of that execution
// gets the same exception rethrown. do_chan(key, fn) starts (or joins) the
// execution without waiting and returns a channel that will receive one
// result. forget(key) makes the next call for key run fn again, even if
// the current execution has not finished.
//
// Requirements: K hashable with Hash and comparable with ==; V copyable
// (each caller gets its own copy). Thread-safety: every member may be
// called from any number of goroutines and plain threads at once. Not
// copyable or movable. The group may be destroyed while a do_chan
// execution still runs (its caller gave up waiting): the execution keeps
// what it needs, as Go's closure keeps the group.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <goro/chan.hpp>
#include <goro/mutex.hpp>
#include <goro/runtime.hpp>
#include <goro/wait_group.hpp>

namespace goro {

// Shares one execution of fn among concurrent calls for the same key (Go's
// singleflight.Group; see the top of this file).
template <class K, class V, class Hash = std::hash<K>>
class singleflight {
 public:
  // What do_call returns.
  struct result {
    V value;
    bool shared;  // the value was given to more than one caller
  };
  // What a do_chan channel receives: the value, or the exception fn threw.
  struct chan_result {
    std::optional<V> value;
    std::exception_ptr error;
    bool shared = false;
    // The value, or rethrows the exception.
    const V& get() const {
      if (error) std::rethrow_exception(error);
      return *value;
    }
  };

  // A group with no execution in flight. Throws std::bad_alloc.
  singleflight() = default;
  singleflight(const singleflight&) = delete;
  singleflight& operator=(const singleflight&) = delete;

  // Runs fn() (which returns something convertible to V) unless an
  // execution for key is in flight, in which case it waits for that one.
  // Rethrows fn's exception in every caller of the execution.
  template <class F>
  result do_call(const K& key, F&& fn) {
    std::unique_lock lk(st_->mu);
    auto it = st_->calls.find(key);
    if (it != st_->calls.end() && !it->second->finished) {
      std::shared_ptr<call> c = it->second;
      c->dups++;
      lk.unlock();
      c->wg.wait();
      if (c->error) std::rethrow_exception(c->error);
      return result{*c->value, true};
    }
    auto c = std::make_shared<call>();
    c->wg.add(1);
    std::shared_ptr<call> replaced;  // dropped after the unlock: its V's destructor is user code
    if (it != st_->calls.end()) {
      replaced = std::exchange(it->second, c);  // a finished call its run could not erase
    } else {
      st_->calls.emplace(key, c);
    }
    lk.unlock();
    run(*st_, key, c, std::forward<F>(fn));
    if (c->error) std::rethrow_exception(c->error);
    return result{*c->value, c->dups > 0};
  }

  // As do_call, but returns at once: the channel receives the result once
  // the execution (started here in a new goroutine, or already in flight)
  // ends.
  //   auto ch = group.do_chan(key, load);
  //   goro::select(goro::on_recv(ch, [](auto r) { use(r.get()); }),
  //                goro::on_recv(ctx.done()));
  template <class F>
  recv_chan<chan_result> do_chan(const K& key, F&& fn) {
    auto ch = make_chan<chan_result>(1);
    std::shared_ptr<call> replaced;  // a finished call its run could not erase; dropped after the unlock
    mutex_lock lk(st_->mu);
    auto found = st_->calls.find(key);
    if (found != st_->calls.end() && !found->second->finished) {
      found->second->chans.push_back(ch);
      found->second->dups++;
      return ch;
    }
    auto c = std::make_shared<call>();
    c->wg.add(1);
    c->chans.push_back(ch);
    // Everything that may throw (copies, the goroutine) before or undone
    // after the call is registered: a registered call that never runs
    // would hold every later caller of key for ever. The task holds the
    // state, not the group, which its caller may destroy meanwhile.
    auto task = [st = st_, key, c, fn = std::decay_t<F>(std::forward<F>(fn))]() mutable {
      run(*st, key, c, std::move(fn));
    };
    auto it = found;
    if (it != st_->calls.end()) {
      replaced = std::exchange(it->second, c);
    } else {
      it = st_->calls.emplace(key, c).first;
    }
    try {
      go(std::move(task));
    } catch (...) {
      // Nobody joined: mu is held.
      if (replaced) {
        it->second = std::move(replaced);
      } else {
        st_->calls.erase(it);
      }
      throw;
    }
    return ch;
  }

  // Forgets the execution in flight for key, if any: later calls run fn
  // again instead of waiting for it. Its current waiters still get its
  // result.
  void forget(const K& key) {
    std::shared_ptr<call> dropped;  // dropped after the unlock: a finished call's V is destroyed there
    mutex_lock lk(st_->mu);
    if (auto it = st_->calls.find(key); it != st_->calls.end()) {
      dropped = std::move(it->second);
      st_->calls.erase(it);
    }
  }

 private:
  struct call {
    wait_group wg;  // done when value/error are set
    std::optional<V> value;
    std::exception_ptr error;
    int dups = 0;                          // guarded by mu
    // Guarded by mu: the execution ended. Set as its run erases the call;
    // if that erase threw (Hash or == on the key), the call stays in the
    // map finished, and the next caller of key replaces it instead of
    // joining it (it would get the old result, and a do_chan's channel
    // would never be sent to).
    bool finished = false;
    std::vector<send_chan<chan_result>> chans;  // guarded by mu
  };
  // What an execution needs after its caller may be gone: shared with
  // every do_chan task.
  struct state {
    mutex mu{mutex::never_biased_t{}};  // shared by design: never worth a revocation
    std::unordered_map<K, std::shared_ptr<call>, Hash> calls;  // guarded by mu
  };

  template <class F>
  static void run(state& st, const K& key, const std::shared_ptr<call>& c, F&& fn) {
    try {
      c->value.emplace(std::forward<F>(fn)());
    } catch (...) {
      c->error = std::current_exception();
    }
    std::vector<send_chan<chan_result>> chans;
    bool shared;
    {
      mutex_lock lk(st.mu);
      c->finished = true;
      try {
        if (auto it = st.calls.find(key); it != st.calls.end() && it->second == c) st.calls.erase(it);
      } catch (...) {
        // Hash or == threw for a key they took before: the entry stays,
        // finished (later callers of key replace it), and the callers of
        // this execution are still given the result below.
      }
      chans.swap(c->chans);
      shared = c->dups > 0;
    }
    // Last, and after the last touch of the state through `st`, which a
    // do_call caller's group owns: a do_call that joined this execution
    // returns once woken, and its caller may destroy the group.
    c->wg.done();
    // Each channel has room for its one result: these sends never block.
    // A value whose copy throws reaches that receiver as the exception.
    for (auto& ch : chans) {
      chan_result r;
      try {
        r = chan_result{c->value, c->error, shared};
      } catch (...) {
        r = chan_result{std::nullopt, std::current_exception(), shared};
      }
      ch.send(std::move(r));
    }
  }

  std::shared_ptr<state> st_ = std::make_shared<state>();
};

}  // namespace goro
