// The type-erased select engine as the typed select templates see it
// (src/select/select.cpp). Not part of the public API; see goro/select.hpp.
#pragma once

#include <cstdint>

#include <goro/detail/chan_core.hpp>

namespace goro::detail {

// One case of a select. Filled by the typed case, read and written by the
// engine.
struct scase {
  hchan* c = nullptr;    // null (a nil channel): never chosen
  void* elem = nullptr;  // send: the value (moved from if chosen); receive: storage for one
  bool is_send = false;
  bool ok = false;       // out, receive: true if elem now holds a value, false if closed
};

// Go's selectgo: runs one ready case chosen uniformly at random; if none is
// ready, returns -1 when !block, otherwise blocks until one is. Returns the
// index of the case that ran. Throws panic_error("send on closed channel")
// when the chosen send case's channel is closed, or what a move throws.
int select_go(scase* cases, int n, bool block);

}  // namespace goro::detail
