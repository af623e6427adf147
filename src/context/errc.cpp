// goro's error category (goro/errc.hpp): the messages are Go's error
// strings, so a translated program prints what the Go one did. Immutable;
// no invariants beyond that, no locks.
#include <string>
#include <system_error>

#include "base/no_destructor.hpp"
#include "goro/errc.hpp"

namespace goro {

namespace {

class goro_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::canceled: return "context canceled";
      case errc::deadline_exceeded: return "context deadline exceeded";
      case errc::closed: return "use of closed file";
    }
    return "goro error " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& goro_category() noexcept {
  // Never destroyed (base/no_destructor.hpp): errors are made and read
  // on the runtime's threads while exit() runs static destructors.
  static constinit const goro::detail::no_destructor<goro_error_category> c;
  return c.value;
}

}  // namespace goro
