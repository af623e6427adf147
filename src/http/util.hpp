// Helpers shared by the HTTP server and client (src/http/): case-blind
// comparison, percent-decoding, feeding a Boost.Beast parser from a
// buffer of our own, and the small bits of wire format both sides write.
//
// Beast is used for parsing only, never with Asio sockets: bytes read
// from a goro::net::conn go into a std::string, and parser.put() takes
// what it can from the front of it (the whole header at once, then body
// bytes as they come; eager() so one put parses as much as there is).
// No state; no locks.
#pragma once

// Beast's string_view is std::string_view (every file of src/http/
// includes this header first, so they agree).
#ifndef BOOST_BEAST_USE_STD_STRING_VIEW
#define BOOST_BEAST_USE_STD_STRING_VIEW 1
#endif
#include <boost/beast/http.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "goro/http.hpp"
#include "goro/net.hpp"

namespace goro::http::detail {

namespace bhttp = boost::beast::http;

bool iequals(std::string_view a, std::string_view b) noexcept;
// Whether the comma-separated header value list contains token (any case).
bool has_token(std::string_view list, std::string_view token) noexcept;
// A header field name is a token (RFC 9110 5.1: letters, digits and
// !#$%&'*+-.^_`|~), not empty.
bool valid_header_name(std::string_view name) noexcept;
// A header field value holds no control character but tab (no CR or LF
// that would end the line early: Go's httpguts.ValidHeaderFieldValue).
bool valid_header_value(std::string_view value) noexcept;
// Whether s holds a control character (DEL included) or a space: what a
// request line's method and target must not (Go's url.Parse refuses
// control characters in a URL, CVE-2019-9741).
bool has_ctl_or_space(std::string_view s) noexcept;
// The most bytes a body may hold unparsed after its header: Beast parses a
// chunk-size line (with its extensions) or the trailer section only once
// all of it is in, so without a bound a peer that never ends the line
// grows the buffer without end. Go refuses chunk lines over 4096 bytes;
// trailers may use the header limit.
inline size_t max_unparsed_body_bytes(size_t header_limit) { return header_limit > 4096 ? header_limit : 4096; }
// %XX decoding; '+' becomes ' ' when plus_is_space (query strings).
std::string percent_decode(std::string_view s, bool plus_is_space);
// "Thu, 03 Dec 2026 14:42:31 GMT" (the Date header), now.
std::string http_date();

// Feeds buf to p: returns the bytes consumed (erase them from the front),
// setting ec (need_more means: read more and call again).
template <class Parser>
size_t feed(Parser& p, const std::string& buf, boost::system::error_code& ec) {
  ec = {};
  if (buf.empty()) {
    ec = bhttp::error::need_more;
    return 0;
  }
  return p.put(boost::asio::const_buffer(buf.data(), buf.size()), ec);
}

// Reads once from c, appending up to 16 KiB to buf.
std::error_code read_more(const net::conn& c, std::string& buf);

}  // namespace goro::http::detail
