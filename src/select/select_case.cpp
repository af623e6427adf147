// goro::select over a runtime-sized list of cases (Go's reflect.Select):
// collects the channel cases into the engine's scase array, remembering
// where each came from, and runs the engine (select.cpp).
//
// No invariants of its own; no locks. The vectors are per call: a
// runtime-sized select allocates, the variadic one does not.
#include <vector>

#include "goro/detail/chan_select.hpp"
#include "goro/panic.hpp"
#include "goro/select.hpp"

namespace goro {

int select(std::span<select_case> cases) {
  // As Go's reflect.Select, whose cases the engine's 16-bit indices match.
  if (cases.size() > 65536) throw panic_error("reflect.Select: too many cases (max 65536)");
  int def = -1;
  std::vector<detail::scase> sc;
  std::vector<int> from;
  sc.reserve(cases.size());
  from.reserve(cases.size());
  for (std::size_t i = 0; i < cases.size(); i++) {
    if (cases[i].is_default()) {
      if (def >= 0) throw panic_error("reflect.Select: multiple default cases");
      def = static_cast<int>(i);
      continue;
    }
    sc.emplace_back();
    cases[i].fill(sc.back());
    from.push_back(static_cast<int>(i));
  }
  int chosen = detail::select_go(sc.data(), static_cast<int>(sc.size()), def < 0);
  if (chosen < 0) {
    cases[def].run_default();
    return def;
  }
  cases[from[chosen]].complete(sc[chosen]);
  return from[chosen];
}

}  // namespace goro
