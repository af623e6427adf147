// goro::io_errc's category (goro/io.hpp): the messages are Go's io.EOF and
// io.ErrUnexpectedEOF strings. Immutable; no invariants, no locks.
#include <string>
#include <system_error>

#include "base/no_destructor.hpp"
#include "goro/io.hpp"

namespace goro {

namespace {

class io_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.io"; }
  std::string message(int ev) const override {
    switch (static_cast<io_errc>(ev)) {
      case io_errc::eof: return "EOF";
      case io_errc::unexpected_eof: return "unexpected EOF";
    }
    return "goro.io error " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& io_category() noexcept {
  // Never destroyed (base/no_destructor.hpp): errors are made and read
  // on the runtime's threads while exit() runs static destructors.
  static constinit const goro::detail::no_destructor<io_error_category> c;
  return c.value;
}

}  // namespace goro
