// goro::io_errc's category (goro/io.hpp): the messages are Go's io.EOF and
// io.ErrUnexpectedEOF strings. Immutable; no invariants, no locks.
#include <string>
#include <system_error>

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
  static const io_error_category c;
  return c;
}

}  // namespace goro
