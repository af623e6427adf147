// The value types of goro/http.hpp (header_map, request::query_value),
// the error category, status texts, and util.hpp's helpers.
// No state; no locks.
#include <time.h>

#include <cctype>
#include <cstdio>

#include "base/no_destructor.hpp"
#include "http/util.hpp"

namespace goro::http {

namespace {

class http_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.http"; }
  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::invalid_url: return "invalid URL";
      case error::unsupported_scheme: return "unsupported protocol scheme";
      case error::malformed_response: return "malformed HTTP response";
      case error::header_too_large: return "HTTP header too large";
      case error::body_too_large: return "HTTP body too large";
      case error::content_length_exceeded: return "wrote more than the declared Content-Length";
      case error::body_not_allowed: return "request method or response status code does not allow body";
      case error::server_closed: return "Server closed";
      case error::invalid_method: return "invalid method";
      case error::invalid_header: return "invalid header field";
    }
    return "unknown goro.http error";
  }
};

}  // namespace

const std::error_category& http_category() noexcept {
  // Never destroyed (base/no_destructor.hpp): errors are made and read
  // on the runtime's threads while exit() runs static destructors.
  static constinit const goro::detail::no_destructor<http_category_impl> cat;
  return cat.value;
}

std::string_view status_text(int code) noexcept {
  switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
  }
  return "";
}

std::string_view header_map::get(std::string_view name) const noexcept {
  for (const auto& f : fields_)
    if (detail::iequals(f.first, name)) return f.second;
  return {};
}

std::vector<std::string_view> header_map::values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields_)
    if (detail::iequals(f.first, name)) out.emplace_back(f.second);
  return out;
}

bool header_map::has(std::string_view name) const noexcept {
  for (const auto& f : fields_)
    if (detail::iequals(f.first, name)) return true;
  return false;
}

void header_map::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

void header_map::add(std::string_view name, std::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

void header_map::remove(std::string_view name) {
  std::erase_if(fields_, [name](const field& f) { return detail::iequals(f.first, name); });
}

std::string request::query_value(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    size_t eq = part.find('=');
    std::string key = detail::percent_decode(part.substr(0, eq), true);
    if (key == name) return eq == std::string_view::npos ? std::string() : detail::percent_decode(part.substr(eq + 1), true);
  }
  return {};
}

namespace detail {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

bool valid_header_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (char ch : name) {
    auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) != 0 && u < 0x80) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos) continue;
    return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) noexcept {
  for (char ch : value) {
    auto u = static_cast<unsigned char>(ch);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return false;
  }
  return true;
}

bool has_ctl_or_space(std::string_view s) noexcept {
  for (char ch : s) {
    auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7f) return true;
  }
  return false;
}

bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view t = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (iequals(t, token)) return true;
  }
  return false;
}

namespace {
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string http_date() {
  time_t t = ::time(nullptr);
  struct tm tm;
  ::gmtime_r(&t, &tm);
  char buf[64];
  size_t n = ::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::error_code read_more(const net::conn& c, std::string& buf) {
  size_t old = buf.size();
  buf.resize(old + 16384);
  auto [n, err] = c.read(buf.data() + old, 16384);
  buf.resize(old + n);
  if (n > 0) return {};
  return err ? err : std::error_code(goro::io_errc::eof);
}

}  // namespace detail
}  // namespace goro::http
