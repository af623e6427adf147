// Networks and addresses for goro::net (addr.cpp): which socket a network
// name asks for, and "host:port" to addresses. Stateless.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

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

// Go's SplitHostPort: "host:port", "[v6]:port", ":port".
std::error_code split_host_port(std::string_view hostport, std::string* host, std::string* port);

// A Unix socket address for path ("@name": abstract).
std::error_code unix_address(std::string_view path, goro::net::address* out);

// The addresses addr names for k, in the order to try them. passive: for
// listening (an empty host is every address).
std::error_code resolve(const net_kind& k, std::string_view addr, bool passive,
                        std::vector<goro::net::address>* out);

}  // namespace goro::detail
