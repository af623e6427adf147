// Networks and addresses for goro::net (addr.cpp): which socket a network
// name asks for, and "host:port" to addresses. Stateless.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "goro/context.hpp"
#include "goro/net.hpp"

namespace goro::detail {

// What a network name ("tcp6", "udp", "unix") asks for: AF_UNSPEC means
// either IP family, decided by the address.
struct net_kind {
  int sotype = SOCK_STREAM;
  int family = AF_UNSPEC;
};

// False for an unknown network.
bool parse_network(std::string_view network, net_kind* k);

// Go's SplitHostPort: "host:port", "[v6]:port", ":port"; the port may be
// empty (port 0 to resolve, as in Go).
std::error_code split_host_port(std::string_view hostport, std::string* host, std::string* port);

// A Unix socket address for path ("@name": abstract, up to 108 bytes
// with the '@'; a path up to 107; "": the family alone, for the system to
// name the socket when it is bound).
std::error_code unix_address(std::string_view path, goro::net::address* out);

// The addresses addr names for k, in the order to try them. passive: for
// listening (an empty host is every address, an empty Unix name one the
// system picks; not passive, the latter is invalid_argument).
std::error_code resolve(const net_kind& k, std::string_view addr, bool passive,
                        std::vector<goro::net::address>* out);

// Dials addrs in turn (net.cpp; dial_context after resolving), as Go's
// dialSerial: the first connection made wins; with a context deadline,
// each address but the last gets an equal share of the time left (at
// least 2 s, or all of it if less is left: Go's partialDeadline), so an
// address that does not answer cannot use up the others' time. Returns
// the first address's error if none connects, or ctx.err() once ctx ends.
std::pair<goro::net::conn, std::error_code> dial_addrs(const goro::context& ctx, const net_kind& k,
                                                       const std::vector<goro::net::address>& addrs);

}  // namespace goro::detail
