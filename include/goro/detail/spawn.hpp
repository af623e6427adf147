// Type-erased goroutine creation: the thin shim between goro::go's template
// and the scheduler (src/sched/spawn.cpp). Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

namespace goro::detail {

struct g;

// How a goroutine's function is stored and run. invoke() runs it (on the
// goroutine's stack); destroy() destroys it (after invoke, or instead of it
// if the goroutine never starts).
struct closure_ops {
  void (*invoke)(void* storage);
  void (*destroy)(void* storage) noexcept;
};

// Reserves a goroutine (a g record and the promise of a stack) with room for
// a closure of `size` bytes aligned to `align`, and returns it; *storage
// receives where to construct the closure. Throws goro::resource_error when
// stack memory or kernel maps are exhausted. Usable from goroutines and
// plain threads; starts the runtime on first use.
g* g_reserve(std::size_t size, std::size_t align, std::size_t stack_size, void** storage);

// Makes a reserved goroutine runnable. `created_pc` is where it was
// created: a return address in the code that called go() (symbolized by
// the reports that show it). Returns its goroutine id.
uint64_t g_start(g* gp, const closure_ops* ops, const void* created_pc);

// Gives back a reserved goroutine whose closure could not be constructed.
void g_unreserve(g* gp) noexcept;

template <class F, class... Args>
struct go_closure {
  F fn;
  std::tuple<Args...> args;

  static void invoke(void* p) {
    auto* c = static_cast<go_closure*>(p);
    std::apply([c](Args&... a) { std::invoke(std::move(c->fn), std::move(a)...); }, c->args);
  }
  static void destroy(void* p) noexcept { static_cast<go_closure*>(p)->~go_closure(); }
  static constexpr closure_ops ops{&invoke, &destroy};
};

template <class F, class... Args>
uint64_t spawn(std::size_t stack_size, const void* created_pc, F&& f, Args&&... args) {
  using closure = go_closure<std::decay_t<F>, std::decay_t<Args>...>;
  static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                "goro::go: the function cannot be called with these arguments");
  void* storage = nullptr;
  g* gp = g_reserve(sizeof(closure), alignof(closure), stack_size, &storage);
  try {
    ::new (storage) closure{std::forward<F>(f), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)};
  } catch (...) {
    g_unreserve(gp);
    throw;
  }
  return g_start(gp, &closure::ops, created_pc);
}

// spawn() recording its own return address as the creation site. Called
// from always-inlined functions (go, go_with, wait_group::go), so that the
// address lies in their caller's code; the symbolizer then names the
// inlined function's call site (symbolize.hpp, describe_call_site).
template <class F, class... Args>
[[gnu::noinline]] uint64_t spawn_here(std::size_t stack_size, F&& f, Args&&... args) {
  return spawn(stack_size, __builtin_extract_return_addr(__builtin_return_address(0)), std::forward<F>(f),
               std::forward<Args>(args)...);
}

}  // namespace goro::detail
