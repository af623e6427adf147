// goro::rate_limiter: a token bucket (Go's golang.org/x/time/rate.Limiter).
//
// The bucket holds up to `burst` tokens and fills at `limit` tokens per
// second; each event takes one token (n for the _n forms). Three ways to
// take them:
//  - allow() / allow_n(n): take now if there are enough, else false (drop
//    the event);
//  - reserve() / reserve_n(n): take them now, possibly from the future:
//    the reservation says how long to wait before acting (delay()), and
//    cancel() gives back what it has not used;
//  - wait() / wait_n(n): take them, blocking the caller (a goroutine parks,
//    a thread sleeps) until they are due.
//
//   goro::rate_limiter lim(10, 3);          // 10 events/s, bursts of 3
//   for (auto& req : requests) {
//     lim.wait();                           // at most 10 a second
//     handle(req);
//   }
//   if (!lim.allow()) reject();             // or drop instead of waiting
//
// limit and burst may change at run time (set_limit, set_burst);
// goro::rate_limiter::inf allows every event (burst is then ignored), and
// goro::every(d) is the limit of one event per d. A limit of 0 never adds
// tokens: only those in the bucket (it starts full) are allowed, and a
// wait for more lasts until its context ends (as Go's, since
// golang/go#68541); a wait without a context never ends. A later
// set_limit does not shorten a wait already under way, in Go either: it
// changes what later calls get.
//
// Times are steady_clock; the `_at` forms take "now" explicitly (tests,
// replays), as Go's AllowN(t, n) and ReserveN(t, n) do.
//
// Thread-safety: every member may be called from any number of goroutines
// and plain threads at once (an internal lock held for a few arithmetic
// operations). A reservation may be used from any thread, but not
// concurrently with itself.
//
// Context: wait(ctx) / wait_n(ctx, n) (Go's Wait(ctx), WaitN) give up when
// ctx is done, and fail at once if ctx's deadline comes before the tokens
// would. Both waits are built on one internal wait with a deadline and a
// cancellation channel (detail::rate_wait).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <system_error>

#include <goro/chan.hpp>
#include <goro/context.hpp>
#include <goro/detail/duration.hpp>

namespace goro {

class rate_limiter;

namespace detail {
struct rate_state;
int64_t steady_now_ns();
// The wait every wait overload is built on: takes n tokens, waiting until
// they are due, unless that would pass `deadline_ns` (steady ns; INT64_MAX:
// none; then std::errc::timed_out and nothing taken) or `cancel` becomes
// ready first (it receives or is closed: the tokens are given back, and
// std::errc::operation_canceled is returned). cancel may be the nil
// channel. The context overload maps these to ctx.err().
std::error_code rate_wait(rate_limiter& lim, int n, int64_t deadline_ns, const recv_chan<unit>& cancel);
}  // namespace detail

// The limit of one event every d (Go's rate.Every); d <= 0: inf.
//   goro::rate_limiter lim(goro::every(std::chrono::milliseconds(100)), 1);
template <class Rep, class Period>
double every(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) return std::numeric_limits<double>::infinity();
  return 1.0 / std::chrono::duration<double>(d).count();
}

// Tokens taken by reserve(): whether they could be (ok()), and when the
// event may act (delay()). Go's *rate.Reservation. A default-constructed
// reservation is not ok.
class reservation {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  reservation() = default;

  // Whether the limiter can provide the tokens within the maximum wait
  // (reserve: always, unless n > burst with a finite limit).
  bool ok() const noexcept { return ok_; }
  // How long to wait from now before acting; 0 if at once;
  // nanoseconds::max() if !ok().
  std::chrono::nanoseconds delay() const;
  std::chrono::nanoseconds delay_from(time_point now) const;
  // When the event may act (meaningful only if ok()).
  time_point time_to_act() const { return time_point(std::chrono::nanoseconds(time_to_act_ns_)); }
  // Gives back the tokens, as far as they are not yet needed by later
  // reservations (Go's Cancel): call it when the event will not happen.
  // Cancelling after time_to_act() does nothing, and so does cancelling
  // again: unlike Go's, whose second Cancel gives the tokens back again.
  void cancel();
  void cancel_at(time_point now);

 private:
  friend class rate_limiter;
  friend std::error_code detail::rate_wait(rate_limiter&, int, int64_t, const recv_chan<unit>&);
  std::shared_ptr<detail::rate_state> lim_;
  bool ok_ = false;
  int tokens_ = 0;
  int64_t time_to_act_ns_ = 0;
  double limit_ = 0;  // the limit when reserved
};

// A token bucket. See the top of this header. Not copyable (share it by
// reference or pointer, as Go shares *rate.Limiter); movable.
class rate_limiter {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  // The limit that allows every event (Go's rate.Inf).
  static constexpr double inf = std::numeric_limits<double>::infinity();

  // A limiter of `limit` events per second with bursts of `burst`; it
  // starts full (burst tokens). Throws std::bad_alloc.
  rate_limiter(double limit, int burst);
  rate_limiter(rate_limiter&&) noexcept = default;
  rate_limiter& operator=(rate_limiter&&) noexcept = default;
  ~rate_limiter() = default;

  // The rate in tokens per second (Go's Limiter.Limit), and the bucket's
  // size (Limiter.Burst), as last set.
  double limit() const;
  int burst() const;
  // Tokens available now (negative while reservations are outstanding).
  double tokens() const;
  double tokens_at(time_point now) const;

  // Takes one (n) token(s) if available now; never blocks.
  bool allow() { return allow_n(1); }
  bool allow_n(int n);
  bool allow_n_at(time_point now, int n);

  // Takes one (n) token(s) now, from the future if need be; the
  // reservation says when to act. Not ok() (and nothing taken) if n exceeds
  // the burst with a finite limit. Never blocks.
  //   auto r = lim.reserve();
  //   goro::sleep_for(r.delay());
  reservation reserve() { return reserve_n(1); }
  reservation reserve_n(int n);
  reservation reserve_n_at(time_point now, int n);

  // Blocks the caller until one (n) token(s) can be taken, and takes them.
  // Returns std::errc::invalid_argument (taking nothing, at once) if n
  // exceeds the burst with a finite limit (Go: "rate: Wait(n=%d) exceeds
  // limiter's burst %d"); otherwise {}. Callable from goroutines (parks,
  // wait reason "sleep") and plain threads (sleeps).
  std::error_code wait() { return wait_n(1); }
  std::error_code wait_n(int n);

  // Go's Wait(ctx) / WaitN(ctx, n): as wait_n, but returns ctx.err() (taking
  // nothing, or giving the tokens back) if ctx is done before or while it
  // waits, and std::errc::timed_out at once, taking nothing, if the tokens
  // would come after ctx's deadline (Go: "rate: Wait(n) would exceed
  // context deadline"). n above the burst is std::errc::invalid_argument,
  // checked first, as in Go.
  //   if (auto err = lim.wait(ctx)) return err;   // ctx done, or too late
  std::error_code wait(const context& ctx) { return wait_n(ctx, 1); }
  std::error_code wait_n(const context& ctx, int n) {
    if (n > burst() && limit() != std::numeric_limits<double>::infinity())
      return std::make_error_code(std::errc::invalid_argument);
    if (std::error_code done = ctx.err()) return done;
    auto dl = ctx.deadline();
    int64_t dl_ns = dl ? std::chrono::duration_cast<std::chrono::nanoseconds>(dl->time_since_epoch()).count()
                       : std::numeric_limits<int64_t>::max();
    std::error_code e = detail::rate_wait(*this, n, dl_ns, ctx.done());
    if (e == std::errc::operation_canceled) {
      if (std::error_code done = ctx.err()) return done;
    }
    return e;
  }

  // Change the limit or burst from now on (Go's SetLimit, SetBurst); tokens
  // accrued so far at the old limit are kept.
  void set_limit(double limit);
  void set_limit_at(time_point now, double limit);
  void set_burst(int burst);
  void set_burst_at(time_point now, int burst);

 private:
  friend std::error_code detail::rate_wait(rate_limiter&, int, int64_t, const recv_chan<unit>&);
  std::shared_ptr<detail::rate_state> s_;
};


}  // namespace goro
