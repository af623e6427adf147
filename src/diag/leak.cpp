// goro::debug::find_leaks: goroutines that outlive what should have ended
// them (uber-go/goleak's Find, for goro). See include/goro/debug.hpp.
//
// It looks at the live goroutines, drops the caller and the expected ones
// (options), and while some remain and the grace period lasts, sleeps
// with a doubling backoff (1 us to 100 ms) and looks again: a program
// with nothing left returns at the first look, one whose goroutines are
// finishing returns as soon as they have. Each look is cheap (ids and
// states only, no stacks) unless some goroutine can only be judged by its
// stack or creation site (ignore_functions, ignore_created_at); the final
// answer carries full dump entries.
//
// Invariants: no lock is held across a sleep; the sleep is goro's own
// (a goroutine caller parks, a thread sleeps).
// Lock order: none (for_each_g takes none either).
#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "diag/diag.hpp"
#include "goro/debug.hpp"
#include "goro/runtime.hpp"
#include "goro/time.hpp"
#include "sched/sched.hpp"

namespace goro::debug {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whether `path` names `file`: equal, or ending in it after a '/' (so
// "a.cpp" is not "data.cpp").
bool names_file(std::string_view path, std::string_view file) {
  if (file.empty() || path.size() < file.size() || path.substr(path.size() - file.size()) != file) return false;
  return path.size() == file.size() || path[path.size() - file.size() - 1] == '/';
}

// A creation site ("path:line in function") against a pattern "file" or
// "file:line": the file at a path boundary, the line exactly (it used to
// be any substring: "x.cpp:1" matched line 10, "a.cpp" data.cpp).
bool site_matches(const std::string& created_by, const std::string& pattern) {
  std::string_view site = created_by;
  site = site.substr(0, site.find(" in "));
  std::string_view file = pattern, line;
  if (size_t colon = pattern.rfind(':'); colon != std::string::npos && all_digits(file.substr(colon + 1))) {
    line = file.substr(colon + 1);
    file = file.substr(0, colon);
  }
  size_t colon = site.rfind(':');
  if (colon == std::string_view::npos) return false;
  if (!line.empty() && site.substr(colon + 1) != line) return false;
  return names_file(site.substr(0, colon), file);
}

bool expected(const goroutine_info& g, const leak_options& o) {
  if (std::binary_search(o.ignore_ids.begin(), o.ignore_ids.end(), g.id)) return true;
  for (const std::string& s : o.ignore_created_at)
    if (site_matches(g.created_by, s)) return true;
  // Each stack entry is "function\n\tfile:line": only the function's
  // line is matched (paths used to match too).
  for (const std::string& s : o.ignore_functions)
    for (const std::string& f : g.stack)
      if (std::string_view(f).substr(0, f.find('\n')).find(s) != std::string_view::npos) return true;
  return false;
}

// The unexpected goroutines now, from one walk. *complete: the walk saw
// every goroutine that lived through it (diag::walk_goroutine_ids); an
// empty answer that is not complete proves nothing. Without full, stops
// at the first one it can decide on from ids alone (the cheap poll) and
// returns that one.
std::vector<goroutine_info> look(const leak_options& o, uint64_t self, bool full, bool* complete) {
  bool need_stacks = full || !o.ignore_functions.empty() || !o.ignore_created_at.empty();
  std::vector<goroutine_info> found;
  if (!need_stacks) {
    for (uint64_t id : goro::diag::walk_goroutine_ids(complete)) {
      if (id == self || std::binary_search(o.ignore_ids.begin(), o.ignore_ids.end(), id)) continue;
      goroutine_info g;
      g.id = id;
      found.push_back(g);
      break;
    }
    return found;
  }
  for (goroutine_info& g : goro::diag::walk_goroutines(complete))
    if (g.id != self && !expected(g, o)) found.push_back(std::move(g));
  return found;
}

}  // namespace

std::vector<goroutine_info> find_leaks(const leak_options& options) {
  leak_options o = options;
  std::sort(o.ignore_ids.begin(), o.ignore_ids.end());
  uint64_t self = goro::goroutine_id();
  auto deadline = std::chrono::steady_clock::now() + o.grace;
  auto backoff = std::chrono::microseconds(1);
  bool complete = false;
  for (;;) {
    if (look(o, self, false, &complete).empty() && complete) return {};
    if (std::chrono::steady_clock::now() >= deadline) break;
    goro::sleep_for(backoff);
    backoff = std::min<std::chrono::microseconds>(backoff * 2, std::chrono::milliseconds(100));
  }
  // The answer: a walk that found some, or one that saw everything (a
  // relay of goroutines created during each walk is missed by some walks;
  // a bounded number more, as goroutines() does).
  std::vector<goroutine_info> found;
  for (int tries = 0; tries < 64; tries++) {
    found = look(o, self, true, &complete);
    if (!found.empty() || complete) break;
  }
  return found;
}

std::string describe_leaks(const std::vector<goroutine_info>& leaks) {
  if (leaks.empty()) return {};
  size_t forever = 0;
  for (const goroutine_info& g : leaks) forever += g.leaked.empty() ? 0 : 1;
  std::string out = "found " + std::to_string(leaks.size()) + " unexpected goroutine" +
                    (leaks.size() == 1 ? "" : "s");
  if (forever > 0)
    out += " (" + std::to_string(forever) + " leaked forever: parked on channels nothing else can reach)";
  out += ":\n\n";
  for (const goroutine_info& g : leaks) out += format(g);
  return out;
}

}  // namespace goro::debug
