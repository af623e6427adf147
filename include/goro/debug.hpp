// Seeing a running program: goroutine dumps (Go's runtime.Stack(all) and
// pprof's goroutine profile) and goroutine leak checks (uber-go/goleak).
//
//   goro::debug::dump(std::cerr);                     // every goroutine
//   goro::debug::dump(std::cerr, {.grouped = true});  // identical ones counted
//   for (const auto& g : goro::debug::goroutines())
//     if (g.state == goro::debug::goroutine_state::waiting) ...
//
// The dump looks like Go's:
//
//   goroutine 7 [chan receive, 12 minutes]:
//   ...
//   goro::chan<int>::recv() const
//   	/src/goro/include/goro/chan.hpp:463 (inlined)
//   worker(goro::chan<int>)
//   	/src/main.cpp:12 +0x3c
//   ...
//   	created by goroutine 1 at /src/main.cpp:30 in main::{lambda()#1}
//
// A goroutine parked (waiting) or queued (runnable) shows its stack; one
// running on another worker is shown as [running] without a stack, as Go
// does for goroutines it cannot stop; the goroutine that asks for the dump
// shows its own stack. Reading stacks never stops or delays the program's
// goroutines (docs/design.md, "Reading a running program"); a goroutine
// that keeps running while the dump reads it may be shown without a stack.
//
// The same report is printed to stderr when the process gets SIGQUIT
// (exit status 2, as Go), limited by $GORO_TRACEBACK: `none` (no
// goroutines), `single` (the main goroutines of goro::run only) or `all`
// (the default). docs/debugging.md maps Go's tools to goro's.
//
// Cost: each goroutine's stack is copied and unwound with the DWARF
// call-frame information, and each distinct frame symbolized once per
// call: milliseconds for a few goroutines, seconds for a million (use
// the grouped form there). Every function here may be called from
// goroutines and plain threads; from a goroutine, the work runs on a
// helper thread (symbolizing needs more stack than a goroutine may have)
// inside a goro::blocking section.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace goro::debug {

// What a goroutine was doing when it was read (goroutine_info::state).
enum class goroutine_state {
  runnable,  // queued, waiting for a worker
  running,   // on a worker
  waiting,   // parked: see wait_reason
};

// "runnable", "running" or "waiting".
const char* to_string(goroutine_state s);

// One goroutine as a dump sees it.
struct goroutine_info {
  // Its id, as goro::goroutine_id() returns it and the dump prints it
  // ("goroutine 7").
  uint64_t id = 0;
  // What it was doing when read; the goroutine that asks is running.
  goroutine_state state = goroutine_state::running;
  // Why it is parked, in Go's words ("chan receive", "chan send",
  // "select", "sync.Mutex.Lock", "sync.WaitGroup.Wait", "sleep", ...);
  // empty unless waiting.
  std::string wait_reason;
  // How long it has been parked (waiting only), from a coarse clock the
  // runtime's monitor keeps: up to 10 ms short.
  std::chrono::nanoseconds wait_duration{0};
  // Its labels (goro/labels.hpp), sorted by key; the dump shows them as
  // Go's goroutine profile does: labels: {"handler":"checkout"}.
  std::vector<std::pair<std::string, std::string>> labels;
  // Where it was started: "file:line in function" of the call to go()
  // (or goro::run), as far as the debug information tells.
  std::string created_by;
  // The goroutine that started it; 0 for a goroutine started from a plain
  // thread and for goro::run's main goroutine.
  uint64_t creator_id = 0;
  bool is_main = false;  // goro::run's main goroutine
  // Started by a timer: the function of a goro::after_func, whose call
  // site created_by names (Go: "created by time.goFunc").
  bool by_timer = false;
  // Its frames, innermost first, each "function\n\tfile:line +0xoffset"
  // as Go prints them; a call the compiler inlined is a frame of its own,
  // "function\n\tfile:line (inlined)", and its caller's line is the
  // call's. Empty when stack_known is false.
  std::vector<std::string> stack;
  // false: running on another worker, or running again during every
  // attempt to read it; its stack is not shown.
  bool stack_known = false;
  // Non-empty: the goroutine is parked forever, and why (a partial
  // deadlock, see find_partial_deadlocks): "blocked on a nil channel", or
  // "no handle of its channels outside goroutines blocked on them". The
  // dump shows it as [chan send, leaked] followed by a "leaked:" line.
  std::string leaked;
};

// Every live goroutine, ordered by id. See the top of this file for the
// cost. Nobody is stopped: the goroutines are walked again while some
// are created during the walk (8 walks at most). If no walk was free of
// them (a program that starts goroutines all the time), the answer is
// every goroutine the walks saw, each with what the last walk that saw
// it found: a goroutine alive through the whole call is missed only if
// every walk missed it.
std::vector<goroutine_info> goroutines();

// The ids of the live goroutines, ordered, without reading their stacks
// (cheap: a snapshot point for find_leaks). Walked as goroutines() is, up
// to 64 times.
std::vector<uint64_t> goroutine_ids();

// The goroutine's entry as dump() prints it, ending with a blank line.
std::string format(const goroutine_info& g);

// The calling goroutine's stack as the dump prints it, as Go's
// debug.Stack(): "goroutine 7 [running]:", its labels, its frames from
// the caller of stack() outwards (inlined calls included), and where it
// was created. On a plain thread: "thread 4242 [running]:" and its
// frames. For logging where an error is caught:
//
//   catch (const std::exception& e) {
//     log("handler failed: ", e.what(), "\n", goro::debug::stack());
//   }
//
// Costs a symbolization of each frame (milliseconds: the debug
// information is read for each call); not for hot paths.
std::string stack();

// How dump() writes the goroutines.
struct dump_options {
  // Collapse goroutines with the same state, wait reason, stack and
  // creation site into one entry with a count, as pprof's goroutine
  // profile with debug=1:
  //   1000 goroutines [chan receive, up to 3 minutes]: (ids 9 10 11 ... 1008)
  bool grouped = false;
};

// Writes every live goroutine to os, Go's format.
void dump(std::ostream& os, dump_options options = {});

// ---- partial deadlocks (Go 1.26's goroutineleak profile) ----------------

// Turns on channel handle tracking, for good: from now on every channel
// handle (chan, send_chan, recv_chan) made is recorded with where it lies,
// so that find_partial_deadlocks, the dump and find_leaks can tell which
// goroutines are parked on channels that no other goroutine or thread can
// reach. GORO_DEBUG=chanleak=1 does the same before main. Call it before
// the goroutines of interest start: a handle made earlier is unknown and
// keeps its channel reachable (no false report, a missed one). Costs
// while on: a lock and a hash-set update per handle made or destroyed.
// Never blocks (but briefly on the tracker's lock); callable anywhere.
void track_channel_handles() noexcept;
// Whether tracking is on.
bool channel_handles_tracked() noexcept;

// The goroutines parked forever on channels now, with goroutine_info::
// leaked saying why:
//  - parked on a nil channel, or in a select whose every channel is nil
//    (always found);
//  - with tracking on: parked on channel operations (send, receive,
//    select) where every handle of every channel they wait on lies in the
//    stack or the go() closure of a goroutine of that same blocked set
//    (the first article's leakySearch: a sender whose receiver returned;
//    two goroutines each waiting on a channel only the other holds).
// A handle held anywhere else (a plain thread, the heap, a global, a
// goroutine running or parked on anything but those channels) or made
// before tracking keeps its channel reachable, and so does an after() or
// timer channel. Not found (missed): channels whose last handles sit in
// heap objects reachable only from the blocked goroutines. Wrongly
// reported: a blocked goroutine whose handle a plain thread or heap object
// uses through a pointer or reference (pointers from go() closures are
// looked for and do keep it reachable). docs/design.md section 7b.
// Costs as goroutines() (it reads every stack), plus a walk of the
// tracked handles. Callable from goroutines and plain threads.
std::vector<goroutine_info> find_partial_deadlocks();

// ---- leak checks (goleak's Find / VerifyNone) -------------------------

// What find_leaks waits for, and which goroutines it expects (ignores).
struct leak_options {
  // How long goroutines still running are given to finish: find_leaks
  // looks again, with a backoff from 1 us to 100 ms, until none is
  // unexpected or this much time has passed. It returns at once when
  // nothing leaks.
  std::chrono::milliseconds grace{2000};
  // Goroutines created at one of these sites are expected: "file" or
  // "file:line", the file a path or its last components ("pool.cpp",
  // "src/pool.cpp"; not "ool.cpp"), the line exact.
  std::vector<std::string> ignore_created_at;
  // Goroutines with a frame (any frame: goleak's IgnoreAnyFunction) whose
  // function name contains one of these strings are expected, e.g.
  // "my::poller::loop" (the name only, not the frame's file).
  std::vector<std::string> ignore_functions;
  // Goroutines with these ids are expected: pass goroutine_ids() taken at
  // a snapshot point to ignore the goroutines that existed then.
  std::vector<uint64_t> ignore_ids;
};

// The goroutines that are still alive once the grace period is over,
// other than the caller and the expected ones (see leak_options). Empty
// if none. Those parked forever (find_partial_deadlocks) have
// goroutine_info::leaked set. Blocks for up to options.grace (a goroutine or thread alike).
std::vector<goroutine_info> find_leaks(const leak_options& options = {});

// find_leaks' result as a report: "found N unexpected goroutines:" and
// each one's dump entry. Empty for none.
std::string describe_leaks(const std::vector<goroutine_info>& leaks);

}  // namespace goro::debug
