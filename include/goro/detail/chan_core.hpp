// The type-erased channel core as the typed templates see it: an opaque
// `hchan` (src/chan/hchan.hpp) that knows its element's size, alignment and
// how to move and destroy one (like Go's hchan knows its elemtype), and the
// operations on it. Not part of the public API; see goro/chan.hpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace goro::detail {

struct hchan;

// What the core knows about an element type.
struct elem_type {
  uint32_t size;
  uint32_t align;
  // True when T's move constructor is noexcept: buffered channels of such
  // types use the lock-free ring; others take the channel lock for every
  // operation so that a throwing move can leave everything as it was.
  bool nothrow_move;
  // Move-constructs a T at dst from the T at src (src stays alive).
  void (*move)(void* dst, void* src);
  // move, then destroys the T at src. If the move throws, src is untouched.
  void (*relocate)(void* dst, void* src);
  void (*destroy)(void* p) noexcept;
  // True when T is trivially copyable: the core may then copy its bytes
  // itself instead of calling move/relocate (not under TSan, which should
  // see the user's value accessed by instrumented code).
  bool trivial;
};

template <class T>
struct elem_type_of {
  static void move(void* dst, void* src) { ::new (dst) T(std::move(*static_cast<T*>(src))); }
  static void relocate(void* dst, void* src) {
    T* s = static_cast<T*>(src);
    ::new (dst) T(std::move(*s));
    s->~T();
  }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
  static constexpr elem_type value{static_cast<uint32_t>(sizeof(T)), static_cast<uint32_t>(alignof(T)),
                                   std::is_nothrow_move_constructible_v<T>, &move, &relocate, &destroy,
                                   std::is_trivially_copyable_v<T>};
};

// The outcome of a channel operation.
enum class op_result : uint8_t {
  ok,           // the value was sent / received
  closed,       // receive: the channel is closed and drained
  would_block,  // non-blocking operation: nothing could be done now
};

// Creation and references. chan_make throws std::bad_alloc, or
// goro::panic_error("makechan: size out of range").
hchan* chan_make(const elem_type* et, int64_t cap);
void chan_retain(hchan* c) noexcept;
void chan_release(hchan* c) noexcept;

// Handle tracking, for the partial-deadlock report (chan/handles.cpp,
// docs/design.md section 7b). Off by default; turned on, once and for
// good, by goro::debug::track_channel_handles() or GORO_DEBUG=chanleak=1.
// While on, every handle object (chan_handle) registers the address of its
// hchan* field when constructed and removes it when destroyed; the report
// reads those fields to find who holds each channel. Off, a hook costs one
// relaxed load and a predictable branch, as the trace hooks do.
// relaxed: a handle that misses the switch is simply not tracked, which
// the report treats as a holder outside every blocked goroutine.
extern std::atomic<bool> handle_tracking_on;
[[gnu::noinline]] void track_handle(hchan* const* slot) noexcept;
[[gnu::noinline]] void untrack_handle(hchan* const* slot) noexcept;
inline void handle_made(hchan* const* slot) noexcept {
  if (handle_tracking_on.load(std::memory_order_relaxed)) [[unlikely]]
    track_handle(slot);
}
inline void handle_gone(hchan* const* slot) noexcept {
  if (handle_tracking_on.load(std::memory_order_relaxed)) [[unlikely]]
    untrack_handle(slot);
}

// Blocking send of the T at src (moved from on success). c may be null
// (blocks forever). Throws goro::panic_error("send on closed channel"), or
// whatever T's move constructor throws.
void chan_send(hchan* c, void* src);
// Blocking receive into the uninitialized storage dst. Returns ok (dst now
// holds a T) or closed (dst untouched). c may be null (blocks forever).
op_result chan_recv(hchan* c, void* dst);
// Non-blocking forms: would_block instead of blocking.
op_result chan_try_send(hchan* c, void* src);
op_result chan_try_recv(hchan* c, void* dst);
// Throws goro::panic_error("close of nil channel" / "close of closed channel").
void chan_close(hchan* c);
int64_t chan_len(const hchan* c) noexcept;
int64_t chan_cap(const hchan* c) noexcept;

// goro::after: a channel (element std::chrono::steady_clock::time_point)
// that receives the time once, at deadline_ns (steady clock).
hchan* chan_after(int64_t deadline_ns);

}  // namespace goro::detail
