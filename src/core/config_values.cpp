// core/config_values.cpp — endpoints, domain names and host names as the config writes them; strict.
#include "core/config_values.hpp"

#include <charconv>
#include <cstdint>

#include <boost/asio/ip/address.hpp>

#include "core/address.hpp"
#include "core/ip.hpp"

namespace mk::config_detail {

namespace ip = boost::asio::ip;

namespace {

// parse_port - 1..65535 in plain decimal; 0 would make bind pick a port nobody knows.
std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s[0] == '0') return std::nullopt;
    std::uint16_t port = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return port;
}

}  // namespace

// parse_endpoint - "1.2.3.4:25" or "[::1]:25"; the host must be a literal address.
std::optional<Endpoint> parse_endpoint(std::string_view text) {
    bool v6 = text.starts_with('[');
    auto sep = v6 ? text.find("]:") : text.find(':');
    if (sep == std::string_view::npos) return std::nullopt;
    std::string host(v6 ? text.substr(1, sep - 1) : text.substr(0, sep));
    auto port = parse_port(text.substr(sep + (v6 ? 2 : 1)));
    if (!port || host.find('%') != std::string::npos) return std::nullopt;
    boost::system::error_code ec;
    ip::address addr = v6 ? ip::address(ip::make_address_v6(host, ec))
                          : ip::address(ip::make_address_v4(host, ec));
    if (ec) return std::nullopt;
    return Endpoint{addr.to_string(), *port};
}

// parse_domain - a lowercased domain name, judged by the mailbox grammar's domain rule.
std::optional<std::string> parse_domain(std::string_view d) {
    auto m = parse_mailbox("postmaster@" + std::string(d));
    if (!m || d.starts_with('[')) return std::nullopt;   // an address literal is no domain name
    return m->domain;
}

// parse_host - a server's name: a literal IPv4/IPv6 address (no brackets, no zone) or a domain name, lowercased.
std::optional<std::string> parse_host(std::string_view h) {
    boost::system::error_code ec;
    ip::address addr = ip::make_address(std::string(h), ec);
    if (!ec && h.find('%') == std::string_view::npos) return addr.to_string();
    return parse_domain(h);
}

bool loopback_literal(const std::string& host) {
    boost::system::error_code ec;
    ip::address literal = ip::make_address(host, ec);
    return !ec && is_loopback(literal);
}

}  // namespace mk::config_detail
