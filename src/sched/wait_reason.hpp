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
  run_main,               // "run" (a plain thread waiting in goro::run)
};

// The number of wait reasons (keep run_main last, or update this).
inline constexpr int kWaitReasonCount = static_cast<int>(wait_reason::run_main) + 1;

inline const char* wait_reason_string(wait_reason r) {
  switch (r) {
    case wait_reason::none: return "";
    case wait_reason::chan_receive: return "chan receive";
    case wait_reason::chan_send: return "chan send";
    case wait_reason::chan_receive_nil: return "chan receive (nil chan)";
    case wait_reason::chan_send_nil: return "chan send (nil chan)";
    case wait_reason::select: return "select";
    case wait_reason::select_no_cases: return "select (no cases)";
    case wait_reason::sleep: return "sleep";
    case wait_reason::sync_wait_group_wait: return "sync.WaitGroup.Wait";
    case wait_reason::sync_mutex_lock: return "sync.Mutex.Lock";
    case wait_reason::sync_rwmutex_rlock: return "sync.RWMutex.RLock";
    case wait_reason::sync_rwmutex_lock: return "sync.RWMutex.Lock";
    case wait_reason::sync_cond_wait: return "sync.Cond.Wait";
    case wait_reason::semacquire: return "semacquire";
    case wait_reason::io_wait: return "IO wait";
    case wait_reason::run_main: return "run";
  }
  return "?";
}

}  // namespace goro::detail
