// route/next_hop.cpp — outbound hop selection over the validated config.
#include "route/next_hop.hpp"

#include <fmt/format.h>

#include "core/address.hpp"

namespace mk {

namespace {

std::string hop_key(const HopConfig& h, std::string_view account) {
    return fmt::format("{}:{}/{}", lowercase_ascii(h.host), h.port, account);
}

std::string domain_of(std::string_view address) {
    auto at = address.rfind('@');
    return at == std::string_view::npos ? std::string() : lowercase_ascii(address.substr(at + 1));
}

}  // namespace

NextHop next_hop(const Config& config, std::string_view sender, std::string_view recipient) {
    NextHop n;
    const RelayConfig& relay = config.relay;
    std::string from = lowercase_ascii(sender);
    for (const RelaySenderConfig& s : relay.senders) {
        if (lowercase_ascii(s.address) != from) continue;
        n.hop = s.hop;
        n.rewrite_from = s.rewrite_from;
        n.key = hop_key(s.hop, s.hop.username.empty() ? s.address : s.hop.username);
        return n;
    }
    n.domain = domain_of(recipient);
    for (const RouteConfig& r : relay.routes) {
        if (r.domain != n.domain) continue;
        n.hop = r.hop;
        n.key = hop_key(r.hop, r.hop.username);
        return n;
    }
    if (relay.mode == RelayConfig::Mode::smarthost) {
        n.hop = relay.smarthost;
        n.key = hop_key(relay.smarthost, relay.smarthost.username);
        return n;
    }
    n.mx = true;
    n.hop.port = relay.mx_port;
    n.hop.tls = TlsMode::starttls;
    n.key = "mx:" + n.domain;
    return n;
}

}  // namespace mk
