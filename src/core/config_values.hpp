// core/config_values.hpp — values that several config sections accept, from their text: endpoints,
// domain names, host names; internal to core/config*.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/config.hpp"

namespace mk::config_detail {

// How an endpoint is written, for the errors about [listen] and dns_server.
inline constexpr const char* kListenForm = " (want \"a.b.c.d:port\" or \"[v6]:port\")";

// parse_endpoint - "1.2.3.4:25" or "[::1]:25"; the host must be a literal address.
std::optional<Endpoint> parse_endpoint(std::string_view text);
// parse_domain - a lowercased domain name, judged by the mailbox grammar's domain rule.
std::optional<std::string> parse_domain(std::string_view d);
// parse_host - a literal IPv4/IPv6 address (no brackets, no zone) or a domain name, lowercased.
std::optional<std::string> parse_host(std::string_view h);
// loopback_literal - host is a literal loopback address (core/ip's rule, v4-mapped included). A name
// ("localhost") may resolve anywhere, so only literals count.
bool loopback_literal(const std::string& host);

}  // namespace mk::config_detail
