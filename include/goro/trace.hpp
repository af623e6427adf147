// Execution trace: what every goroutine and worker did, for Perfetto
// (https://ui.perfetto.dev) or chrome://tracing, as Go's runtime/trace is
// for `go tool trace`.
//
//   goro::trace::start("/tmp/app.trace.json");
//   ... run the workload ...
//   goro::trace::stop();   // writes the file
//
// or run the program with GORO_TRACE=/tmp/app.trace.json (the trace then
// covers the whole run and is written at exit).
//
// The file is Chrome's trace event JSON: one track per worker thread (and
// per plain thread that readied or started goroutines), a slice per
// stretch a goroutine ran ("g17", with the reason it stopped: "chan
// receive", "yield", "end", ...), flow arrows from the goroutine or thread
// that readied (or created) a goroutine to where it next ran, and instant
// events for workers parking, waking and stealing, and timers firing.
//
// Cost: off, one relaxed load and a branch per traced event; on, a clock
// read and a 32-byte record per event in the thread's own buffer
// (docs/benchmarks.md, "Execution trace", has the measured cost: on these
// VMs mostly the first touch of the buffers). Events stay in memory
// until stop(), which sorts them and writes the file.
//
// Thread-safety: start and stop may be called from any goroutine or
// thread; they are serialized with each other.
#pragma once

#include <string>

namespace goro::trace {

// Starts recording. Returns false if a trace is already running or `path`
// cannot be opened for writing (the file is created or truncated now, so
// a bad path is reported here, not at stop).
bool start(const std::string& path);

// Stops recording and writes the trace to the path given to start().
// Returns false if no trace was running or the write failed.
bool stop();

// Whether a trace is being recorded.
bool running();

}  // namespace goro::trace
