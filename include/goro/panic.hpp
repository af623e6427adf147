// goro::panic_error: what Go's runtime panics become in goro.
//
// Misuse that Go answers with a run-time panic throws a goro::panic_error
// (or a type derived from it) whose what() is Go's exact message, so the
// text a Go programmer knows is the text they see:
//
//   "send on closed channel"            ch.send(v) on a closed channel
//   "close of closed channel"           ch.close() twice
//   "close of nil channel"              goro::chan<int>{}.close()
//   "sync: negative WaitGroup counter"  wg.done() once too often
//
// An exception (any exception) that escapes a goroutine's function ends the
// process with Go's panic report on stderr:
//
//   panic: send on closed channel
//
//   goroutine 7 [running]:
//   goro::detail::chan_send(goro::detail::hchan*, void*)
//   	/src/goro/src/chan/chan.cpp:300 +0x27
//   ...                                  (the stack at the throw, innermost first)
//   created by goroutine 1 at main.cpp:42 in worker_pool
//
// and exit status 2, as an unrecovered Go panic does. Catch it inside the
// goroutine to recover. The last line names the creator ("created by
// goro::run at ..." for goroutine 1, "created by a plain thread at ..."
// for a goroutine a plain thread started) and the call site of go(); the
// frames have source lines when goro found libdw and the code has debug
// info.
#pragma once

#include <stdexcept>
#include <string>

namespace goro {

// Base of every error goro throws for misuse that Go reports with a panic.
// Thread-safe: an immutable value.
class panic_error : public std::logic_error {
 public:
  explicit panic_error(const std::string& what) : std::logic_error(what) {}
  explicit panic_error(const char* what) : std::logic_error(what) {}
};

// Thrown when the runtime cannot get a resource it needs to start a
// goroutine (stack memory or address space, kernel memory maps). The caller
// can handle it and go on; nothing was started.
class resource_error : public std::runtime_error {
 public:
  explicit resource_error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace goro
