// tests/unit/test_next_hop.cpp — outbound hop selection: sender account, then domain route, then
// smarthost or MX.
#include <gtest/gtest.h>

#include "route/next_hop.hpp"

namespace mk {
namespace {

Config relay_config(RelayConfig::Mode mode) {
    Config c;
    c.relay.mode = mode;
    c.relay.smarthost.host = "smtp.provider.example";
    c.relay.smarthost.port = 587;
    c.relay.smarthost.username = "family";
    RelaySenderConfig anna;
    anna.address = "anna@home.arpa";
    anna.rewrite_from = "anna.schmidt@provider.example";
    anna.hop.host = "mail.provider.example";
    anna.hop.port = 465;
    anna.hop.username = "anna.schmidt@provider.example";
    c.relay.senders = {anna};
    RouteConfig partner;
    partner.domain = "partner.example";
    partner.hop.host = "mx.partner.example";
    partner.hop.port = 25;
    c.relay.routes = {partner};
    c.relay.mx_port = 2525;
    return c;
}

TEST(NextHop, Table) {
    struct Case {
        RelayConfig::Mode mode;
        const char* sender;
        const char* rcpt;
        const char* key;
        bool mx;
        const char* rewrite;
    };
    const Case cases[] = {
        {RelayConfig::Mode::smarthost, "anna@home.arpa", "x@other.example", "mail.provider.example:465/anna.schmidt@provider.example", false, "anna.schmidt@provider.example"},
        {RelayConfig::Mode::smarthost, "ANNA@home.arpa", "x@partner.example", "mail.provider.example:465/anna.schmidt@provider.example", false, "anna.schmidt@provider.example"},
        {RelayConfig::Mode::smarthost, "ben@home.arpa", "x@Partner.Example", "mx.partner.example:25/", false, ""},
        {RelayConfig::Mode::smarthost, "ben@home.arpa", "x@other.example", "smtp.provider.example:587/family", false, ""},
        {RelayConfig::Mode::smarthost, "", "x@other.example", "smtp.provider.example:587/family", false, ""},
        {RelayConfig::Mode::direct, "ben@home.arpa", "x@other.example", "mx:other.example", true, ""},
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(std::string(k.sender) + " -> " + k.rcpt);
        Config c = relay_config(k.mode);
        NextHop h = next_hop(c, k.sender, k.rcpt);
        EXPECT_EQ(h.key, k.key);
        EXPECT_EQ(h.mx, k.mx);
        EXPECT_EQ(h.rewrite_from, k.rewrite);
        if (h.mx) {
            EXPECT_EQ(h.domain, "other.example");
            EXPECT_EQ(h.hop.port, 2525);
        }
    }
}

}  // namespace
}  // namespace mk

namespace mk {
namespace {

TEST(NextHop, LocalRecipientsInTheQueueGoDownstream) {
    Config c = relay_config(RelayConfig::Mode::smarthost);
    c.local_domains = {"home.arpa"};
    c.delivery.mode = DeliveryConfig::Mode::lmtp;
    c.delivery.host = "127.0.0.1";
    c.delivery.port = 24;
    NextHop h = next_hop(c, "anna@home.arpa", "ben@home.arpa");   // not anna's provider account
    EXPECT_EQ(h.key, "downstream:127.0.0.1:24");
    EXPECT_TRUE(h.lmtp);
    EXPECT_EQ(h.hop.tls, TlsMode::none);
    EXPECT_TRUE(h.rewrite_from.empty());
}

}  // namespace
}  // namespace mk

namespace mk {
namespace {

// Mail for a hold domain waits for ATRN: never the sender's provider, a route, the smarthost or an
// MX (which would be us), whatever the rules for other mail say.
TEST(NextHop, HoldDomainIsHeldForAtrn) {
    for (RelayConfig::Mode mode : {RelayConfig::Mode::smarthost, RelayConfig::Mode::direct}) {
        Config c = relay_config(mode);
        c.odmr.hold = {{"customer.example", "anna"}};
        RouteConfig route;   // even a route naming the domain does not take it
        route.domain = "customer.example";
        route.hop.host = "mx.customer.example";
        c.relay.routes.push_back(route);
        for (const char* sender : {"anna@home.arpa", "ben@home.arpa", "", "stranger@far.example"}) {
            SCOPED_TRACE(sender);
            NextHop h = next_hop(c, sender, "Someone@Customer.Example");
            EXPECT_TRUE(h.hold);
            EXPECT_FALSE(h.mx);
            EXPECT_EQ(h.key, "atrn:customer.example");
            EXPECT_EQ(h.key, hold_key("customer.example"));
            EXPECT_TRUE(h.hop.host.empty());
            EXPECT_TRUE(h.rewrite_from.empty());
        }
        // A subdomain, or another domain, is not held.
        EXPECT_FALSE(next_hop(c, "ben@home.arpa", "x@sub.customer.example").hold);
        EXPECT_FALSE(next_hop(c, "ben@home.arpa", "x@other.example").hold);
    }
}

}  // namespace
}  // namespace mk
