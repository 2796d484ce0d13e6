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

std::string hold_key(std::string_view domain) { return fmt::format("atrn:{}", domain); }

NextHop next_hop(const Config& config, std::string_view sender, std::string_view recipient) {
    NextHop n;
    const RelayConfig& relay = config.relay;
    n.domain = domain_of(recipient);
    if (config.is_local_domain(n.domain)) {
        // Only [delivery] lmtp/smtp queues local recipients: that server is the final hop.
        n.hop.host = config.delivery.host;
        n.hop.port = config.delivery.port;
        n.hop.tls = TlsMode::none;
        n.lmtp = config.delivery.mode == DeliveryConfig::Mode::lmtp;
        n.key = fmt::format("downstream:{}:{}", n.hop.host, n.hop.port);
        return n;
    }
    // We are the hold domain's MX: its mail goes to its site only, never to a smarthost or an MX
    // (which would be us again), whatever [[relay.sender]] or [[route]] say.
    if (config.odmr.hold_for(n.domain)) {
        n.hold = true;
        n.key = hold_key(n.domain);
        return n;
    }
    std::string from = lowercase_ascii(sender);
    for (const RelaySenderConfig& s : relay.senders) {
        if (lowercase_ascii(s.address) != from) continue;
        n.hop = s.hop;
        n.rewrite_from = s.rewrite_from;
        n.key = hop_key(s.hop, s.hop.username.empty() ? s.address : s.hop.username);
        return n;
    }
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
