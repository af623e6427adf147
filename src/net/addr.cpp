// goro::net::address, "host:port" parsing and name resolution (Go's
// ipsock.go SplitHostPort and the resolver, reduced to getaddrinfo).
//
// An IP literal and a numeric port are converted without a lookup; a host
// name or a service name goes to getaddrinfo inside goro::blocking (it may
// block on DNS), and its EAI_* errors are reported in resolver_category().
// No state, no locks.
#include "base/no_destructor.hpp"
#include "net/resolve.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "goro/runtime.hpp"

namespace goro::net {

namespace {

class resolver_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int ev) const override { return gai_strerror(ev); }
};

}  // namespace

const std::error_category& resolver_category() noexcept {
  // Never destroyed (base/no_destructor.hpp): errors are made and read
  // on the runtime's threads while exit() runs static destructors.
  static constinit const goro::detail::no_destructor<resolver_error_category> c;
  return c.value;
}

address address::from_native(const sockaddr* sa, socklen_t len, int sotype) noexcept {
  address a;
  if (sa == nullptr || len == 0 || len > sizeof a.ss_) return a;
  std::memcpy(&a.ss_, sa, len);
  a.len_ = len;
  a.sotype_ = sotype;
  return a;
}

std::string address::network() const {
  if (len_ == 0) return "";
  if (ss_.ss_family == AF_UNIX) return "unix";
  return sotype_ == SOCK_DGRAM ? "udp" : "tcp";
}

std::string address::host() const {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {};
  if (len_ == 0) return "";
  switch (ss_.ss_family) {
    case AF_INET: {
      auto* in = reinterpret_cast<const sockaddr_in*>(&ss_);
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
      return buf;
    }
    case AF_INET6: {
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss_);
      if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {  // an IPv4 peer of a dual-stack socket: Go prints it as IPv4
        inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, sizeof buf);
        return buf;
      }
      inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
      std::string s = buf;
      if (in6->sin6_scope_id != 0) s += "%" + std::to_string(in6->sin6_scope_id);
      return s;
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(&ss_);
      size_t n = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
      if (n == 0) return "";
      if (un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, n - 1);  // abstract
      return std::string(un->sun_path, strnlen(un->sun_path, n));
    }
  }
  return "";
}

uint16_t address::port() const noexcept {
  if (len_ == 0) return 0;
  if (ss_.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_port);
  if (ss_.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_port);
  return 0;
}

std::string address::to_string() const {
  if (len_ == 0) return "";
  if (ss_.ss_family == AF_UNIX) return host();
  std::string h = host();
  std::string p = std::to_string(port());
  if (h.find(':') != std::string::npos) return "[" + h + "]:" + p;
  return h + ":" + p;
}

}  // namespace goro::net

namespace goro::detail {

using goro::net::address;

bool parse_network(std::string_view network, net_kind* k) {
  struct entry {
    std::string_view name;
    net_kind kind;
  };
  static const entry table[] = {
      {"tcp", {SOCK_STREAM, AF_UNSPEC}},  {"tcp4", {SOCK_STREAM, AF_INET}}, {"tcp6", {SOCK_STREAM, AF_INET6}},
      {"udp", {SOCK_DGRAM, AF_UNSPEC}},   {"udp4", {SOCK_DGRAM, AF_INET}},  {"udp6", {SOCK_DGRAM, AF_INET6}},
      {"unix", {SOCK_STREAM, AF_UNIX}},
  };
  for (const entry& e : table)
    if (e.name == network) {
      *k = e.kind;
      return true;
    }
  return false;
}

std::error_code split_host_port(std::string_view hostport, std::string* host, std::string* port) {
  const auto bad = std::make_error_code(std::errc::invalid_argument);
  if (!hostport.empty() && hostport.front() == '[') {
    size_t end = hostport.find(']');
    if (end == std::string_view::npos) return bad;  // missing ']'
    if (end + 1 >= hostport.size() || hostport[end + 1] != ':') return bad;  // missing port
    *host = std::string(hostport.substr(1, end - 1));
    *port = std::string(hostport.substr(end + 2));
  } else {
    size_t colon = hostport.rfind(':');
    if (colon == std::string_view::npos) return bad;  // missing port
    if (hostport.substr(0, colon).find(':') != std::string_view::npos) return bad;  // too many colons
    *host = std::string(hostport.substr(0, colon));
    *port = std::string(hostport.substr(colon + 1));
  }
  return {};  // an empty port is port 0, as in Go
}

namespace {

// A port as Go's parsePort reads it: empty is port 0; decimal digits
// (after an optional sign) are a number, which must lie in 0-65535 (Go's
// "invalid port": getaddrinfo would take 70000 as 4464); anything else is
// a service name for getaddrinfo ("http").
enum class port_syntax { number, name, invalid };

port_syntax parse_port(const std::string& s, uint16_t* out) {
  // glibc's getaddrinfo reads a service with leading blanks as a number
  // (strtoul) and truncates it: " 70000" is port 4464. Go: unknown port.
  if (!s.empty() && std::isspace(static_cast<unsigned char>(s[0]))) return port_syntax::invalid;
  size_t i = 0;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    i = 1;
  }
  uint32_t v = 0;
  for (; i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') return port_syntax::name;
    v = v * 10 + static_cast<uint32_t>(s[i] - '0');
    if (v > 65535) v = 65536;  // stays out of range, never wraps
  }
  if ((negative && v != 0) || v > 65535) return port_syntax::invalid;
  *out = static_cast<uint16_t>(v);
  return port_syntax::number;
}

address make_v4(const in_addr& a, uint16_t port, int sotype) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr = a;
  sin.sin_port = htons(port);
  return address::from_native(reinterpret_cast<const sockaddr*>(&sin), sizeof sin, sotype);
}

address make_v6(const in6_addr& a, uint16_t port, uint32_t scope, int sotype) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = a;
  sin6.sin6_port = htons(port);
  sin6.sin6_scope_id = scope;
  return address::from_native(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6, sotype);
}

// getaddrinfo, outside the scheduler's count (DNS may take seconds).
std::error_code lookup(const std::string& host, const std::string& port, const net_kind& k, bool passive,
                       std::vector<address>* out) {
  addrinfo hints{};
  hints.ai_family = k.family;
  hints.ai_socktype = k.sotype;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  int sys_err = 0;
  int rc = goro::blocking([&] {
    int r = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
    if (r == EAI_SYSTEM) sys_err = errno;  // read in the call's own thread
    return r;
  });
  if (rc == EAI_SYSTEM) return {sys_err, std::generic_category()};
  if (rc != 0) return {rc, goro::net::resolver_category()};
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next)
    if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
      out->push_back(address::from_native(ai->ai_addr, ai->ai_addrlen, k.sotype));
  freeaddrinfo(res);
  if (out->empty()) return {EAI_NONAME, goro::net::resolver_category()};
  return {};
}

}  // namespace

std::error_code unix_address(std::string_view path, address* out) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  // Go's SockaddrUnix: a path needs room for its terminating NUL, an
  // abstract name ("@...") has none and may fill sun_path. An empty name
  // is the family alone: bound so, a socket gets an abstract name the
  // system picks (Linux's autobind).
  const bool abstract = !path.empty() && path.front() == '@';
  if (path.size() > sizeof un.sun_path || (path.size() == sizeof un.sun_path && !abstract))
    return std::make_error_code(std::errc::invalid_argument);
  std::memcpy(un.sun_path, path.data(), path.size());
  if (abstract) un.sun_path[0] = '\0';  // no file, no terminator
  const size_t nul = abstract || path.empty() ? 0 : 1;
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + nul);
  *out = address::from_native(reinterpret_cast<const sockaddr*>(&un), len, SOCK_STREAM);
  return {};
}

std::error_code resolve(const net_kind& k, std::string_view addr, bool passive, std::vector<address>* out) {
  if (k.family == AF_UNIX) {
    // Only a listener may leave the name to the system (Go's dial:
    // "missing address").
    if (addr.empty() && !passive) return std::make_error_code(std::errc::invalid_argument);
    address a;
    if (std::error_code e = unix_address(addr, &a)) return e;
    out->push_back(a);
    return {};
  }
  std::string host, port;
  if (std::error_code e = split_host_port(addr, &host, &port)) return e;
  uint16_t p = 0;
  const port_syntax ps = parse_port(port, &p);
  if (ps == port_syntax::invalid) return std::make_error_code(std::errc::invalid_argument);
  const bool num_port = ps == port_syntax::number;
  if (num_port) port = std::to_string(p);  // what getaddrinfo is given: "" and "+80" are Go's
  if (host.empty()) {
    // Listening: every address (both families for "tcp", with
    // IPV6_V6ONLY off: listen() does that). Dialing: this machine.
    if (num_port) {
      if (passive) {
        if (k.family == AF_INET)
          out->push_back(make_v4(in_addr{htonl(INADDR_ANY)}, p, k.sotype));
        else
          out->push_back(make_v6(in6addr_any, p, 0, k.sotype));
      } else {
        if (k.family == AF_INET6)
          out->push_back(make_v6(in6addr_loopback, p, 0, k.sotype));
        else
          out->push_back(make_v4(in_addr{htonl(INADDR_LOOPBACK)}, p, k.sotype));
      }
      return {};
    }
    return lookup(host, port, k, passive, out);
  }
  in_addr a4{};
  in6_addr a6{};
  std::string h6 = host;
  uint32_t scope = 0;
  if (size_t pct = host.find('%'); pct != std::string::npos) {
    h6 = host.substr(0, pct);
    std::string zone = host.substr(pct + 1);
    unsigned z = 0;
    auto [zp, zec] = std::from_chars(zone.data(), zone.data() + zone.size(), z);
    scope = zec == std::errc() && zp == zone.data() + zone.size() ? z : if_nametoindex(zone.c_str());
  }
  if (num_port && inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    if (k.family == AF_INET6) return {EAI_ADDRFAMILY, goro::net::resolver_category()};
    out->push_back(make_v4(a4, p, k.sotype));
    return {};
  }
  if (num_port && inet_pton(AF_INET6, h6.c_str(), &a6) == 1) {
    if (k.family == AF_INET) return {EAI_ADDRFAMILY, goro::net::resolver_category()};
    out->push_back(make_v6(a6, p, scope, k.sotype));
    return {};
  }
  std::error_code e = lookup(host, port, k, passive, out);
  if (e) return e;
  // IPv4 first when both came back (Go's dialer tries its primaries so).
  std::stable_partition(out->begin(), out->end(),
                        [](const address& x) { return x.native()->sa_family == AF_INET; });
  return {};
}

}  // namespace goro::detail

namespace goro::net {

std::pair<address, std::error_code> resolve_addr(std::string_view network, std::string_view addr) {
  goro::detail::net_kind k;
  if (!goro::detail::parse_network(network, &k)) return {address(), std::make_error_code(std::errc::invalid_argument)};
  std::vector<address> all;
  if (std::error_code e = goro::detail::resolve(k, addr, false, &all)) return {address(), e};
  return {all.front(), {}};
}

}  // namespace goro::net
