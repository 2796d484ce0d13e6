// tests/unit/test_router.cpp — recipient resolution and relay permission over a config built in code.
#include <span>
#include <string_view>

#include <gtest/gtest.h>

#include "core/enhanced_status.hpp"
#include "route/router.hpp"

namespace mk {
namespace {

Config household() {
    Config c;
    c.local_domains = {"home.arpa"};
    c.postmaster = "anna@home.arpa";
    c.users = {
        {"anna", "", {"anna@home.arpa", "mum@home.arpa"}, {}, true},
        {"ben", "", {"ben@home.arpa"}, {"ben@provider.example"}, true},
        {"carl", "", {"carl@home.arpa"}, {"carl@provider.example", "anna"}, false},
    };
    c.aliases = {
        {"family@home.arpa", {"anna", "ben"}},
        {"kids@home.arpa", {"ben@home.arpa", "family@home.arpa"}},
        {"loop1@home.arpa", {"loop2@home.arpa"}},
        {"loop2@home.arpa", {"loop1@home.arpa"}},
    };
    return c;
}

Target mb(const char* u) { return {Target::Kind::mailbox, u}; }
Target q(const char* a) { return {Target::Kind::queue, a}; }
// via - a queue target reached through an alias or a forward of the address written.
Target via(const char* a, const char* written) { return {Target::Kind::queue, a, written}; }

struct Case {
    const char* rcpt;
    bool relay_allowed;
    int code;
    std::vector<Target> targets;
};

// expect_rows - each row routed over c gives its code and targets; refusal_esc, when given, is the
// enhanced status every refusal must carry.
void expect_rows(const Config& c, std::span<const Case> cases, std::string_view refusal_esc = {}) {
    for (const Case& k : cases) {
        SCOPED_TRACE(k.rcpt);
        auto a = parse_mailbox(k.rcpt);
        ASSERT_TRUE(a);
        RouteResult r = route_recipient(c, *a, k.relay_allowed);
        EXPECT_EQ(r.code, k.code);
        EXPECT_EQ(r.targets, k.targets);
        if (!r.accepted() && !refusal_esc.empty()) EXPECT_EQ(r.esc, refusal_esc);
    }
}

TEST(Router, Table) {
    Config c = household();
    const Case cases[] = {
        {"anna@home.arpa", false, 250, {mb("anna")}},
        {"ANNA@Home.Arpa", false, 250, {mb("anna")}},
        {"mum@home.arpa", false, 250, {mb("anna")}},
        {"ben@home.arpa", false, 250, {mb("ben"), via("ben@provider.example", "ben@home.arpa")}},
        {"carl@home.arpa", false, 250, {via("carl@provider.example", "carl@home.arpa"), mb("anna")}},
        {"family@home.arpa", false, 250, {mb("anna"), mb("ben"), via("ben@provider.example", "family@home.arpa")}},
        {"kids@home.arpa", false, 250, {mb("ben"), via("ben@provider.example", "kids@home.arpa"), mb("anna")}},
        {"postmaster@home.arpa", false, 250, {mb("anna")}},
        {"nobody@home.arpa", false, 550, {}},
        {"someone@other.example", false, 554, {}},
        {"someone@other.example", true, 250, {q("someone@other.example")}},
        {"loop1@home.arpa", false, 554, {}},
        // Relay tricks stay local: they name a local domain, so they are local (and unknown) users.
        {"user%other.example@home.arpa", false, 550, {}},
        {"\"user@other.example\"@home.arpa", false, 550, {}},
    };
    expect_rows(c, cases);
}

TEST(Router, CatchAllTakesUnknownLocalOnly) {
    Config c = household();
    c.catch_all = "anna";
    EXPECT_EQ(route_recipient(c, *parse_mailbox("nobody@home.arpa"), false).targets, std::vector<Target>{mb("anna")});
    EXPECT_EQ(route_recipient(c, *parse_mailbox("x@other.example"), false).code, 554);
}

}  // namespace
}  // namespace mk

namespace mk {
namespace {

TEST(Router, DownstreamDeliveryQueuesLocalUsersByTheirFirstAddress) {
    Config c = household();
    c.delivery.mode = DeliveryConfig::Mode::lmtp;
    c.catch_all = "anna";
    EXPECT_EQ(route_recipient(c, *parse_mailbox("anna@home.arpa"), false).targets, std::vector<Target>{q("anna@home.arpa")});
    EXPECT_EQ(route_recipient(c, *parse_mailbox("mum@home.arpa"), false).targets,
              std::vector<Target>{via("anna@home.arpa", "mum@home.arpa")});
    EXPECT_EQ(route_recipient(c, *parse_mailbox("family@home.arpa"), false).targets,
              (std::vector<Target>{via("anna@home.arpa", "family@home.arpa"), via("ben@home.arpa", "family@home.arpa"),
                                   via("ben@provider.example", "family@home.arpa")}));
    EXPECT_EQ(route_recipient(c, *parse_mailbox("nobody@home.arpa"), false).targets,
              std::vector<Target>{via("anna@home.arpa", "nobody@home.arpa")});
}

}  // namespace
}  // namespace mk

namespace mk {
namespace {

// We are the MX of a hold domain: its mail is accepted from anyone and queued (to be held for
// ATRN), and that opens no relay: other remote domains, subdomains included, are still refused.
TEST(Router, HoldDomainIsAcceptedFromAnyoneAndNothingElse) {
    Config c = household();
    c.odmr.hold = {{"customer.example", "anna"}};
    const Case cases[] = {
        {"someone@customer.example", false, 250, {q("someone@customer.example")}},
        {"Someone@Customer.Example", false, 250, {q("Someone@customer.example")}},
        {"postmaster@customer.example", false, 250, {q("postmaster@customer.example")}},
        {"someone@customer.example", true, 250, {q("someone@customer.example")}},
        {"someone@sub.customer.example", false, 554, {}},
        {"someone@customer.example.evil", false, 554, {}},
        {"someone@other.example", false, 554, {}},
        // Relay tricks naming another domain inside a hold domain's local part go to the hold
        // domain's site as written, not to the other domain.
        {"user%other.example@customer.example", false, 250, {q("user%other.example@customer.example")}},
        {"anna@home.arpa", false, 250, {mb("anna")}},
    };
    expect_rows(c, cases, esc::kRelayDenied);
}

}  // namespace
}  // namespace mk
