// goro::rate_limiter: the token bucket of Go's golang.org/x/time/rate,
// with the same arithmetic (float tokens, lazily advanced from `last`).
//
// State (rate_state), all guarded by `lock` (rank leaf: nothing else is
// taken while it is held; waiting happens after unlocking):
//   limit       tokens per second (inf: every event allowed; 0: the
//               bucket is never refilled)
//   burst       bucket size
//   tokens      tokens in the bucket at `last` (may be negative: reserved
//               from the future)
//   last        when tokens was last brought up to date (steady ns)
//   last_event  the latest time_to_act of any reservation
// Invariant: tokens <= burst after every advance.
//
// A wait reserves first, then waits for the reservation's time on a timer
// (or sleeps, when there is nothing to cancel it), so that an interrupted
// wait can give its tokens back (reservation::cancel) as Go's WaitN does.
#include <algorithm>
#include <cmath>

#include "base/lock.hpp"
#include "goro/rate.hpp"
#include "goro/select.hpp"
#include "goro/time.hpp"
#include "goro/timer.hpp"

namespace goro {

namespace detail {

namespace {
// a - b and a + b in nanoseconds, saturated (a sum at most kFarFutureNs).
// The _at forms take any time point, min() and max() included; Go's
// Time.Sub saturates, and so must the bucket's arithmetic, or a far-past
// `last` wraps into a negative refill that stalls the limiter.
int64_t sub_sat(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? INT64_MAX : INT64_MIN;
  return r;
}
int64_t add_sat(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b < 0 ? INT64_MIN : kFarFutureNs;
  return std::min(r, kFarFutureNs);
}
}  // namespace

struct rate_state {
  runtime_lock lock{lock_rank::leaf};
  double limit;
  int burst;
  double tokens;
  int64_t last;
  int64_t last_event = 0;

  rate_state(double l, int b, int64_t now) : limit(l), burst(b), tokens(b), last(now) {}

  double tokens_from_duration(int64_t ns) const {
    if (limit <= 0) return 0;
    return static_cast<double>(ns) / 1e9 * limit;
  }
  // kFarFutureNs for "never" (Go's InfDuration).
  int64_t duration_from_tokens(double t) const {
    if (limit <= 0) return kFarFutureNs;
    double ns = t / limit * 1e9;
    if (!(ns < static_cast<double>(kFarFutureNs))) return kFarFutureNs;
    return static_cast<int64_t>(ns);
  }
  // Go's advance: the tokens at `now` (not stored).
  double advance(int64_t& now) const {
    int64_t from = std::min(last, now);
    double t = tokens;
    if (std::isinf(limit)) {
      t = burst;
    } else {
      t += tokens_from_duration(sub_sat(now, from));
    }
    return std::min(t, static_cast<double>(burst));
  }
};

namespace {

struct reserved {
  bool ok;
  int tokens;
  int64_t time_to_act;
  double limit;
};

// Go's reserveN.
reserved reserve_locked(rate_state& s, int64_t now, int n, int64_t max_wait) {
  // An inf reservation records limit 0, as Go's leaves it unset: were the
  // limit finite again when it is cancelled, inf would make its arithmetic
  // NaN (0 * inf) and the bucket's tokens with it.
  if (std::isinf(s.limit)) return {true, n, now, 0};
  // A limit of 0 takes the bucket's tokens and adds none (Go since
  // golang/go#68541: it used to spend the burst itself, which set_limit
  // could not give back).
  double tokens = s.advance(now) - n;
  int64_t wait = tokens < 0 ? s.duration_from_tokens(-tokens) : 0;
  bool ok = n <= s.burst && wait <= max_wait;
  reserved r{ok, 0, 0, s.limit};
  if (ok) {
    r.tokens = n;
    r.time_to_act = add_sat(now, wait);
    s.last = now;
    s.tokens = tokens;
    s.last_event = r.time_to_act;
  }
  return r;
}

int64_t ns_of(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::error_code rate_wait(rate_limiter& lim, int n, int64_t deadline_ns, const recv_chan<unit>& cancel) {
  const std::shared_ptr<rate_state>& s = lim.s_;
  int64_t now = steady_now_ns();
  reserved r;
  {
    lock_guard lk(s->lock);
    if (n > s->burst && !std::isinf(s->limit)) return std::make_error_code(std::errc::invalid_argument);
    int64_t max_wait = deadline_ns == INT64_MAX ? INT64_MAX : deadline_ns - now;
    r = reserve_locked(*s, now, n, max_wait);
  }
  if (!r.ok) return std::make_error_code(std::errc::timed_out);
  int64_t delay = r.time_to_act - now;
  if (delay <= 0) return {};
  // The reservation, to give back if the wait does not run its course:
  // cancelled, or out of memory for its timer (the tokens are not spent).
  reservation res;
  res.lim_ = s;
  res.ok_ = true;
  res.tokens_ = r.tokens;
  res.time_to_act_ns_ = r.time_to_act;
  res.limit_ = r.limit;
  try {
    if (cancel.is_nil()) {
      sleep_until(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(r.time_to_act)));
      return {};
    }
    timer t = new_timer(std::chrono::nanoseconds(delay));
    bool canceled = false;
    select(on_recv(t.c(), [] {}), on_recv(cancel, [&] { canceled = true; }));
    if (!canceled) return {};
    t.stop();
  } catch (...) {
    res.cancel();
    throw;
  }
  res.cancel();
  return std::make_error_code(std::errc::operation_canceled);
}

}  // namespace detail

// ------------------------------------------------------------ reservation

std::chrono::nanoseconds reservation::delay() const { return delay_from(std::chrono::steady_clock::now()); }

std::chrono::nanoseconds reservation::delay_from(time_point now) const {
  if (!ok_) return std::chrono::nanoseconds::max();
  int64_t d = detail::sub_sat(time_to_act_ns_, detail::ns_of(now));
  return std::chrono::nanoseconds(d > 0 ? d : 0);
}

void reservation::cancel() { cancel_at(std::chrono::steady_clock::now()); }

// Go's CancelAt: give back the tokens not yet claimed by later
// reservations (those made after this one moved last_event on).
void reservation::cancel_at(time_point at) {
  if (!ok_ || !lim_) return;
  detail::rate_state& s = *lim_;
  int64_t now = detail::ns_of(at);
  detail::lock_guard lk(s.lock);
  if (std::isinf(s.limit) || tokens_ == 0 || time_to_act_ns_ < now) return;
  double restore = tokens_ - (limit_ <= 0 ? 0 : static_cast<double>(detail::sub_sat(s.last_event, time_to_act_ns_)) / 1e9 * limit_);
  if (restore <= 0) return;
  double tokens = s.advance(now) + restore;
  s.last = now;
  s.tokens = std::min(tokens, static_cast<double>(s.burst));
  if (time_to_act_ns_ == s.last_event) {
    // (Clamped: a tiny limit makes the duration overflow int64.)
    double back = limit_ <= 0 ? 0 : std::min(tokens_ / limit_ * 1e9, static_cast<double>(detail::kFarFutureNs));
    int64_t prev = detail::sub_sat(time_to_act_ns_, static_cast<int64_t>(back));
    if (prev >= now) s.last_event = prev;
  }
  tokens_ = 0;  // a second cancel gives nothing back
}

// ----------------------------------------------------------- rate_limiter

rate_limiter::rate_limiter(double limit, int burst)
    : s_(std::make_shared<detail::rate_state>(limit, burst, detail::steady_now_ns())) {}

double rate_limiter::limit() const {
  detail::lock_guard lk(s_->lock);
  return s_->limit;
}

int rate_limiter::burst() const {
  detail::lock_guard lk(s_->lock);
  return s_->burst;
}

double rate_limiter::tokens() const { return tokens_at(std::chrono::steady_clock::now()); }

double rate_limiter::tokens_at(time_point now) const {
  int64_t t = detail::ns_of(now);
  detail::lock_guard lk(s_->lock);
  return s_->advance(t);
}

bool rate_limiter::allow_n(int n) { return allow_n_at(std::chrono::steady_clock::now(), n); }

bool rate_limiter::allow_n_at(time_point now, int n) {
  detail::lock_guard lk(s_->lock);
  return detail::reserve_locked(*s_, detail::ns_of(now), n, 0).ok;
}

reservation rate_limiter::reserve_n(int n) { return reserve_n_at(std::chrono::steady_clock::now(), n); }

reservation rate_limiter::reserve_n_at(time_point now, int n) {
  detail::reserved r;
  {
    detail::lock_guard lk(s_->lock);
    r = detail::reserve_locked(*s_, detail::ns_of(now), n, INT64_MAX);
  }
  reservation res;
  res.lim_ = s_;
  res.ok_ = r.ok;
  res.tokens_ = r.tokens;
  res.time_to_act_ns_ = r.time_to_act;
  res.limit_ = r.limit;
  return res;
}

std::error_code rate_limiter::wait_n(int n) { return detail::rate_wait(*this, n, INT64_MAX, recv_chan<unit>{}); }

void rate_limiter::set_limit(double limit) { set_limit_at(std::chrono::steady_clock::now(), limit); }

void rate_limiter::set_limit_at(time_point now, double limit) {
  int64_t t = detail::ns_of(now);
  detail::lock_guard lk(s_->lock);
  s_->tokens = s_->advance(t);
  s_->last = t;
  s_->limit = limit;
}

void rate_limiter::set_burst(int burst) { set_burst_at(std::chrono::steady_clock::now(), burst); }

void rate_limiter::set_burst_at(time_point now, int burst) {
  int64_t t = detail::ns_of(now);
  detail::lock_guard lk(s_->lock);
  s_->tokens = s_->advance(t);
  s_->last = t;
  s_->burst = burst;
}

}  // namespace goro
