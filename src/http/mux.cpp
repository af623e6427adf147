// serve_mux (goro/http.hpp): Go's ServeMux before Go 1.22, exact paths
// and '/'-terminated subtrees, the longest pattern winning.
//
// The routes are a map from pattern to handler under impl::mu; a lookup
// copies the chosen handler out under the lock and calls it after, so a
// handler may register routes and a slow one holds no lock.
#include "http/util.hpp"

#include <map>
#include <stdexcept>

#include "goro/mutex.hpp"

namespace goro::http {

struct serve_mux::impl {
  goro::mutex mu{goro::mutex::never_biased_t{}};  // every request takes it
  std::map<std::string, handler, std::less<>> routes GORO_GUARDED_BY(mu);
};

serve_mux::serve_mux() : impl_(std::make_shared<impl>()) {}

void serve_mux::handle(std::string pattern, handler h) {
  if (pattern.empty() || pattern[0] != '/') throw std::invalid_argument("goro::http: invalid pattern \"" + pattern + "\"");
  if (!h) throw std::invalid_argument("goro::http: nil handler");
  mutex_lock lk(impl_->mu);
  if (!impl_->routes.emplace(pattern, std::move(h)).second)
    throw std::invalid_argument("goro::http: multiple registrations for " + pattern);
}

void serve_mux::operator()(response_writer& w, const request& r) const {
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
    std::string loc = (r.path.empty() ? std::string("/") : r.path) + "/";
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
