// no_destructor<T>: a T that is built like any other object but whose
// destructor never runs.
//
// For the runtime's globals that are touched by its own threads. Those
// threads are never joined: when main returns, exit() runs the static
// destructors while workers may still be running goroutines, the monitor
// scavenging, a tracer recording. A global the runtime's threads use must
// therefore outlive static destruction. A union member's destructor only
// runs when called by name, and this union's own destructor does nothing.
// The constructor is constexpr, so a global whose T can be constant
// initialized still is (declare it constinit to be sure): no static
// initialization order to worry about.
//
//   constinit no_destructor<pool_state> pool_storage;
//   constinit pool_state& pool = pool_storage.value;
#pragma once

#include <utility>

namespace goro::detail {

template <class T>
union no_destructor {
  T value;

  template <class... Args>
  constexpr explicit no_destructor(Args&&... args) : value(std::forward<Args>(args)...) {}
  no_destructor(const no_destructor&) = delete;
  no_destructor& operator=(const no_destructor&) = delete;
  ~no_destructor() {}
};

}  // namespace goro::detail
