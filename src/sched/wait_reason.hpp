// Why a goroutine is parked: one closed enum whose strings are Go's exact
// words, so a goroutine dump reads like Go's ("goroutine 7 [chan receive]").
#pragma once

#include <cstdint>

namespace goro::detail {

enum class wait_reason : uint8_t {
  none,
  chan_receive,           // "chan receive"
  chan_send,              // "chan send"
  chan_receive_nil,       // "chan receive (nil chan)"
  chan_send_nil,          // "chan send (nil chan)"
  select,                 // "select"
  select_no_cases,        // "select (no cases)"
  sleep,                  // "sleep"
  sync_wait_group_wait,   // "sync.WaitGroup.Wait"
  sync_mutex_lock,        // "sync.Mutex.Lock"
  sync_rwmutex_rlock,     // "sync.RWMutex.RLock"
  sync_rwmutex_lock,      // "sync.RWMutex.Lock"
  sync_cond_wait,         // "sync.Cond.Wait"
  semacquire,             // "semacquire"
  io_wait,                // "IO wait"
  select_nil,             // "select": every case's channel is nil, so parked for good
  run_main,               // "run" (a plain thread waiting in goro::run)
};

// The number of wait reasons (keep run_main last, or update this).
inline constexpr int kWaitReasonCount = static_cast<int>(wait_reason::run_main) + 1;

// Indexed by wait_reason. A table rather than a switch so that a debugger
// reads the words from a core file too (src/diag/goro-gdb.py).
inline constexpr const char* kWaitReasonNames[kWaitReasonCount] = {
    "",                         // none
    "chan receive",             // chan_receive
    "chan send",                // chan_send
    "chan receive (nil chan)",  // chan_receive_nil
    "chan send (nil chan)",     // chan_send_nil
    "select",                   // select
    "select (no cases)",        // select_no_cases
    "sleep",                    // sleep
    "sync.WaitGroup.Wait",      // sync_wait_group_wait
    "sync.Mutex.Lock",          // sync_mutex_lock
    "sync.RWMutex.RLock",       // sync_rwmutex_rlock
    "sync.RWMutex.Lock",        // sync_rwmutex_lock
    "sync.Cond.Wait",           // sync_cond_wait
    "semacquire",               // semacquire
    "IO wait",                  // io_wait
    "select",                   // select_nil (Go's words: a select is a select)
    "run",                      // run_main
};

inline const char* wait_reason_string(wait_reason r) {
  auto i = static_cast<unsigned>(r);
  return i < static_cast<unsigned>(kWaitReasonCount) ? kWaitReasonNames[i] : "?";
}

}  // namespace goro::detail
