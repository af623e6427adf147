// The channel side of the partial-deadlock report (diag/partial_deadlock.cpp):
// the handle tracker's table, and reading who is queued on a channel.
// chan/handles.cpp has the protocol; docs/design.md section 7b the design.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "chan/hchan.hpp"

namespace goro::detail {

// Turns handle tracking on (for good); idempotent.
void handle_tracking_start() noexcept;

// Every channel that some tracked handle names now, sorted, each retained
// once for the caller (give each back with chan_release).
void tracked_channels(std::vector<hchan*>& out);

// One channel operation a goroutine is parked in: the channel and the
// sudog it queued there (compared by address, dereferenced only while
// found in the queue under the channel's lock).
struct chan_wait {
  hchan* c;
  const sudog* s;
};

// A goroutine found queued on a channel, with every operation it waits in
// (a select: each of its cases).
struct chan_waiter {
  g* gp = nullptr;
  // A waker has claimed its select already: it is being woken.
  bool claimed = false;
  std::vector<chan_wait> ops;
};

// Appends the goroutines (not plain threads, not timer sudogs) queued on
// c, read under c's lock.
void chan_waiters(hchan* c, std::vector<chan_waiter>& out);

// Under c's lock: whether s is still queued on c and, for a select, not
// yet claimed by a waker.
bool chan_still_waiting(hchan* c, const sudog* s);

// What the tracker knows at one instant (read under its lock): for each
// channel of `chans` (sorted), its reference count less the caller's one
// (UINT64_MAX for timer channels, whose handles count on their timer
// record), and every tracked handle that names one of them: the handle's
// field address and the channel.
struct handle_census {
  std::vector<uint64_t> refs;
  std::vector<std::pair<const void*, hchan*>> handles;
};
void take_handle_census(const std::vector<hchan*>& chans, handle_census& out);

}  // namespace goro::detail
