// serve_mux (goro/http.hpp): Go's ServeMux before Go 1.22, exact paths
// and '/'-terminated subtrees, the longest pattern winning; a path with
// "." or ".." elements or doubled slashes is first redirected to its
// clean form, as Go's.
//
// The routes are a map from pattern to handler under impl::mu; a lookup
// copies the chosen handler out under the lock and calls it after, so a
// handler may register routes and a slow one holds no lock.
#include "http/util.hpp"

#include <cctype>
#include <map>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "goro/mutex.hpp"

namespace goro::http {

struct serve_mux::impl {
  goro::mutex mu{goro::mutex::never_biased_t{}};  // every request takes it
  std::map<std::string, handler, std::less<>> routes GORO_GUARDED_BY(mu);
};

namespace {

// Go's cleanPath: path.Clean (no "." or ".." elements, no doubled
// slashes; ".." stops at the root), the trailing slash kept.
std::string clean_path(std::string_view p) {
  if (p.empty()) return "/";
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t slash = p.find('/', i);
    if (slash == std::string_view::npos) slash = p.size();
    std::string_view part = p.substr(i, slash - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = slash + 1;
  }
  std::string out;
  for (std::string_view part : parts) {
    out += '/';
    out += part;
  }
  if (out.empty()) return "/";
  if (p.back() == '/') out += '/';
  return out;
}

// A decoded path as a Location: what is not plainly safe in a URL path
// percent-encoded again (a decoded '?' or '#' would change the URL).
std::string escape_path(std::string_view p) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : p) {
    auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) != 0 && u < 0x80) {
      out += ch;
    } else if (std::string_view("-._~/!$&'()*+,;=:@").find(ch) != std::string_view::npos) {
      out += ch;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace

serve_mux::serve_mux() : impl_(std::make_shared<impl>()) {}

void serve_mux::handle(std::string pattern, handler h) {
  if (pattern.empty() || pattern[0] != '/') throw std::invalid_argument("goro::http: invalid pattern \"" + pattern + "\"");
  if (!h) throw std::invalid_argument("goro::http: nil handler");
  mutex_lock lk(impl_->mu);
  if (!impl_->routes.emplace(pattern, std::move(h)).second)
    throw std::invalid_argument("goro::http: multiple registrations for " + pattern);
}

void serve_mux::operator()(response_writer& w, const request& r) const {
  // "/static/../secret" must not reach the "/static/" handler: send the
  // client to the clean path first (Go answers 301 to it). An empty path
  // (an absolute-form target without one) goes to "/" the same way.
  if (r.method != "CONNECT") {
    std::string clean = clean_path(r.path);
    if (clean != r.path) {
      std::string loc = escape_path(clean);
      if (!r.query.empty()) loc += "?" + r.query;
      w.header().set("Location", loc);
      w.write_header(301);
      return;
    }
  }
  handler h;
  bool redirect = false;
  {
    mutex_lock lk(impl_->mu);
    const std::string& path = r.path.empty() ? std::string("/") : r.path;
    size_t best = 0;
    for (const auto& [pat, hh] : impl_->routes) {
      bool match = pat.back() == '/' ? path.compare(0, pat.size(), pat) == 0 : path == pat;
      if (match && pat.size() > best) {
        best = pat.size();
        h = hh;
      }
    }
    // "/tree" with only "/tree/" registered: redirect, if nothing
    // longer matched the path as it is.
    if (path.back() != '/') {
      auto it = impl_->routes.find(path + "/");
      if (it != impl_->routes.end() && best < it->first.size()) redirect = true;
    }
  }
  if (redirect) {
    std::string loc = escape_path(r.path.empty() ? std::string("/") : r.path) + "/";
    if (!r.query.empty()) loc += "?" + r.query;
    w.header().set("Location", loc);
    w.write_header(301);
    return;
  }
  if (!h) {
    w.write_header(404);
    (void)w.write("404 page not found\n");
    return;
  }
  h(w, r);
}

}  // namespace goro::http
