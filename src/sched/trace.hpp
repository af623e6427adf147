// The execution tracer's hooks (goro::trace, trace.cpp): the scheduler
// calls one of these at each event it traces. Off, each costs one relaxed
// load and a predictable branch; on, it records a 32-byte event in the
// calling thread's buffer (trace.cpp has the buffer protocol).
#pragma once

#include <cstdio>

#include <atomic>
#include <cstdint>

namespace goro::detail {

enum class trace_ev : uint32_t {
  go_create,   // gid: the new goroutine; arg: the creator's id (0: a plain thread)
  go_start,    // gid starts running on this thread
  go_block,    // gid parks; arg: its wait_reason
  go_yield,    // gid yields (or is preempted) and stays runnable
  go_end,      // gid returns
  go_unblock,  // gid is readied by this thread; arg: the current goroutine (0: none)
  m_park,      // this worker goes to sleep
  m_wake,      // this worker was woken and handed a P
  steal,       // gid was taken from P arg's queue by this worker
  timer_fire,  // a timer's callback runs on this thread
  steal_skip,  // this worker left P arg's queue alone (gid 0) or its runnext (gid: that goroutine)
  m_nap,       // this worker naps while spinning; arg: 1 it left work to its P, 2 it lingers
};

extern std::atomic<bool> g_trace_on;

// Records one event (the slow path of trace()); never inlined, so that the
// thread-local buffer it reads is looked up afresh on every call (code that
// calls it may resume on another thread after a switch).
[[gnu::noinline]] void trace_record(trace_ev ev, uint64_t gid, uint64_t arg);

// How many threads' buffers the tracer keeps (tests: a thread that exits
// leaves none once its events are written).
size_t trace_buffer_count();

inline void trace(trace_ev ev, uint64_t gid = 0, uint64_t arg = 0) {
  if (g_trace_on.load(std::memory_order_relaxed)) [[unlikely]]
    trace_record(ev, gid, arg);
}

// GORO_TRACE=path: starts a trace at runtime start, written at exit.
void trace_start_from_env();

// goro::trace::start on a stream already open for writing (it takes it
// over: stop() closes it, start() closes it when it returns false). For
// writers that must choose how the file is made, as the debug endpoint's
// private temporary file.
bool trace_start_stream(FILE* f);

}  // namespace goro::detail
