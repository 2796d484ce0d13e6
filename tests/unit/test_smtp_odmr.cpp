// tests/unit/test_smtp_odmr.cpp — the SMTP server session's odmr role (RFC 2645, the provider side)
// over the in-memory pipe: EHLO, AUTH before ATRN, every ATRN refusal, bytes pipelined behind ATRN,
// and the reversal: after 250 the queue's hook runs as the client on the same connection. The queue is
// a fake (Services::odmr) that records what it was asked.
#include <gtest/gtest.h>

#include <stdexcept>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/cidr.hpp"
#include "smtp/server_session.hpp"
#include "transcript.hpp"

namespace mk {
namespace {

using namespace std::chrono_literals;
using test::expect_transcript;
using test::Feed;
using test::SessionDriver;
using test::Step;
namespace ip = boost::asio::ip;

const ip::address kRemoteClient = ip::make_address("192.0.2.7");   // RFC 5737 documentation address
const std::string kGreeting = "220 mx.test ESMTP mailkeep\r\n";
constexpr auto kHookTimeout = 30s;   // the fake client's reads; the driver fails a stuck test first

// plain - an AUTH PLAIN initial response for user and password.
std::string plain(std::string_view user, std::string_view password) {
    std::string raw;
    raw += '\0';
    raw += user;
    raw += '\0';
    raw += password;
    return base64_encode(raw);
}

const std::string kAuthAnna = "AUTH PLAIN " + plain("anna", "anna-secret") + "\r\n";
const std::string kAuthOk = "235 2.7.0 authentication successful\r\n";

// ehlo - the odmr role's EHLO answer: ATRN, STARTTLS where it would be accepted, and AUTH with
// mechs unless the client has logged in (CRAM-MD5 always: no password crosses the wire; PLAIN under
// TLS or from loopback).
std::string ehlo(bool starttls, std::string_view mechs) {
    std::string s = "250-mx.test\r\n250-ENHANCEDSTATUSCODES\r\n";
    s += starttls || !mechs.empty() ? "250-ATRN\r\n" : "250 ATRN\r\n";
    if (starttls) s += mechs.empty() ? "250 STARTTLS\r\n" : "250-STARTTLS\r\n";
    if (!mechs.empty()) s += fmt::format("250 AUTH {}\r\n", mechs);
    return s;
}
constexpr std::string_view kBoth = "CRAM-MD5 PLAIN";

// FakeQueue - what the hooks were asked, and what held_count answers.
struct FakeQueue {
    std::size_t held = 2;
    bool count_fails = false;
    std::vector<std::vector<std::string>> counted;   // the domains of each held_count
    unsigned turns = 0;
    std::string user;
    std::vector<std::string> domains;
    Connection* conn = nullptr;
    bool tls = false;
    std::string peer_greeting, peer_bye;   // what the customer said to the fake client
};

// World - a household holding mail as MX for two domains of anna's and one of ben's.
struct World : test::Household {
    FakeQueue q;
    Connection* session_conn = nullptr;

    World() {
        config->odmr.hold = {{"customer.example", "anna"}, {"second.example", "anna"}, {"bens.example", "ben"}};
        services.odmr.held_count = [this](std::vector<std::string> domains) -> boost::asio::awaitable<std::size_t> {
            q.counted.push_back(domains);
            if (q.count_fails) throw std::runtime_error("queue index unreadable");
            co_return q.held;
        };
        // The reversed connection: the fake reads the customer's 220 and says QUIT, as the relay's
        // SMTP client would after delivering.
        services.odmr.turn = [this](Connection& conn, std::string user,
                                    std::vector<std::string> domains) -> boost::asio::awaitable<AtrnOutcome> {
            ++q.turns;
            q.user = user;
            q.domains = domains;
            q.conn = &conn;
            q.tls = conn.tls();
            LineResult greeting = co_await conn.read_line(512, kHookTimeout);
            q.peer_greeting = std::string(greeting.line);
            co_await conn.write("QUIT\r\n", kHookTimeout);
            LineResult bye = co_await conn.read_line(512, kHookTimeout);
            q.peer_bye = std::string(bye.line);
            co_return AtrnOutcome{2, 0, 0, {}};
        };
    }
    SessionDriver::Session session(SmtpRole role = SmtpRole::odmr) {
        return [this, role](Connection& c) {
            session_conn = &c;
            return test::served(smtp_session(c, services, role));
        };
    }
};

TEST(SmtpOdmr, EhloAuthAndEveryRefusal) {
    World w;
    const std::string not_here = "502 5.5.1 command not implemented\r\n";
    const std::string refused = "450 4.7.1 ATRN request refused\r\n";
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"ATRN customer.example\r\n", "503 send HELO/EHLO first\r\n"},
                                       {"EHLO customer.test\r\n", ehlo(true, kBoth)},
                                       // RFC 2645 5.2.1: AUTH first.
                                       {"ATRN customer.example\r\n", "530 5.7.0 Authentication required\r\n"},
                                       {"ATRN\r\n", "530 5.7.0 Authentication required\r\n"},
                                       // Not an MTA port: no mail transaction here.
                                       {"MAIL FROM:<ben@home.arpa>\r\n", not_here},
                                       {"RCPT TO:<anna@home.arpa>\r\n", not_here},
                                       {"DATA\r\n", not_here},
                                       {"VRFY anna\r\n", not_here},
                                       {"BDAT 10 LAST\r\n", "502 5.5.1 command not recognized\r\n"},
                                       {"NOOP\r\n", "250 2.0.0 ok\r\n"},
                                       {"AUTH LOGIN\r\n", "504 5.5.4 unrecognized authentication mechanism\r\n"},
                                       {kAuthAnna, kAuthOk},
                                       {"EHLO customer.test\r\n", ehlo(true, "")},
                                       {"ATRN other.example\r\n", refused},
                                       {"ATRN bens.example\r\n", refused},
                                       {"ATRN customer.example,bens.example\r\n", refused},
                                       {"ATRN home.arpa\r\n", refused},   // a local domain is never held
                                       {"ATRN customer.example,,second.example\r\n",
                                        "501 5.5.4 syntax: ATRN [domain[,domain...]]\r\n"},
                                       {"ATRN [192.0.2.1]\r\n", "501 5.5.4 syntax: ATRN [domain[,domain...]]\r\n"},
                                       {"ATRN customer.example, second.example\r\n",
                                        "501 5.5.4 syntax: ATRN [domain[,domain...]]\r\n"},
                                       {"QUIT\r\n", "221 2.0.0 mx.test closing connection\r\n"},
                                   });
    EXPECT_TRUE(w.q.counted.empty());   // nothing refused reached the queue
    EXPECT_EQ(w.q.turns, 0u);
}

TEST(SmtpOdmr, MailRolesDoNotHaveAtrn) {
    World w;
    for (SmtpRole role : {SmtpRole::mx, SmtpRole::submission}) {
        SessionDriver d(w.session(role));
        EXPECT_EQ(d.exchange("", Feed::whole), kGreeting);
        d.exchange("EHLO client.test\r\n", Feed::whole);
        EXPECT_EQ(d.exchange(kAuthAnna, Feed::whole), kAuthOk);
        EXPECT_EQ(d.exchange("ATRN customer.example\r\n", Feed::whole), "502 5.5.1 command not implemented\r\n");
    }
    EXPECT_EQ(w.q.turns, 0u);
}

// The customer's side after its ATRN's 250 (SmtpRole::turned): the provider is a stranger delivering
// our mail, as on the MX port, but it may not relay even from a trusted network, and it has neither
// AUTH nor STARTTLS (the customer settled the connection's security as a client).
TEST(SmtpOdmr, TurnedRoleTakesOurMailFromTheProviderAndNothingElse) {
    World w;
    w.config->trusted_networks = {*Cidr::parse("127.0.0.0/8")};   // the provider's address: still no relay
    SessionDriver d(w.session(SmtpRole::turned));
    EXPECT_EQ(d.exchange("", Feed::whole), kGreeting);
    std::string ehlo_reply = d.exchange("EHLO provider.example\r\n", Feed::whole);
    EXPECT_NE(ehlo_reply.find("250-PIPELINING\r\n"), std::string::npos) << ehlo_reply;
    EXPECT_EQ(ehlo_reply.find("STARTTLS"), std::string::npos) << ehlo_reply;
    EXPECT_EQ(ehlo_reply.find("AUTH"), std::string::npos) << ehlo_reply;
    EXPECT_EQ(d.exchange("STARTTLS\r\n", Feed::whole), "502 5.5.1 command not implemented\r\n");
    EXPECT_EQ(d.exchange(kAuthAnna, Feed::whole), "502 5.5.1 command not implemented\r\n");
    EXPECT_EQ(d.exchange("ATRN customer.example\r\n", Feed::whole), "502 5.5.1 command not implemented\r\n");
    EXPECT_EQ(d.exchange("MAIL FROM:<someone@far.example>\r\n", Feed::whole), "250 2.1.0 ok\r\n");
    EXPECT_EQ(d.exchange("RCPT TO:<friend@far.example>\r\n", Feed::whole), "554 5.7.1 relay access denied\r\n");
    EXPECT_EQ(d.exchange("RCPT TO:<anna@home.arpa>\r\n", Feed::whole), "250 2.1.5 ok\r\n");
    EXPECT_EQ(d.exchange("DATA\r\n", Feed::whole), "354 end data with <CR><LF>.<CR><LF>\r\n");
    std::string queued = d.exchange("Subject: held\r\n\r\nfor anna\r\n.\r\n", Feed::whole);
    EXPECT_TRUE(queued.starts_with("250 2.0.0 ok: queued as ")) << queued;
    EXPECT_EQ(d.exchange("QUIT\r\n", Feed::whole), "221 2.0.0 mx.test closing connection\r\n");
    auto anna = w.delivered("anna");
    ASSERT_EQ(anna.size(), 1u);
    EXPECT_TRUE(anna[0].ends_with("Subject: held\r\n\r\nfor anna\r\n")) << anna[0];
    EXPECT_NE(anna[0].find("Received: from provider.example ([127.0.0.1])"), std::string::npos) << anna[0];
}

TEST(SmtpOdmr, NothingHeldIs453AndTheDomainsAskedAreTheUsers) {
    World w;
    w.q.held = 0;
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"EHLO customer.test\r\n", ehlo(true, kBoth)},
                                       {kAuthAnna, kAuthOk},
                                       {"ATRN\r\n", "453 4.0.0 You have no mail\r\n"},
                                       {"ATRN Customer.Example,customer.example.\r\n", "453 4.0.0 You have no mail\r\n"},
                                   });
    // Each feed: no argument is every hold domain of anna's; names are lowercased, each once.
    const std::vector<std::string> all = {"customer.example", "second.example"};
    const std::vector<std::string> one = {"customer.example"};
    ASSERT_EQ(w.q.counted.size(), 4u);
    EXPECT_EQ(w.q.counted[0], all);
    EXPECT_EQ(w.q.counted[1], one);
    EXPECT_EQ(w.q.turns, 0u);
}

TEST(SmtpOdmr, UserWithoutHoldDomainsIsRefused) {
    World w;
    w.config->odmr.hold = {{"customer.example", "anna"}};
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"EHLO customer.test\r\n", ehlo(true, kBoth)},
                                       {"AUTH PLAIN " + plain("ben", "ben-secret") + "\r\n", kAuthOk},
                                       {"ATRN\r\n", "450 4.7.1 ATRN request refused\r\n"},
                                   });
    EXPECT_TRUE(w.q.counted.empty());
}

TEST(SmtpOdmr, TemporaryProblemsAre451) {
    const std::string unable = "451 4.3.0 Unable to process ATRN request now\r\n";
    {
        World w;
        w.q.count_fails = true;
        expect_transcript(w.session(), {
                                           {"", kGreeting},
                                           {"EHLO customer.test\r\n", ehlo(true, kBoth)},
                                           {kAuthAnna, kAuthOk},
                                           {"ATRN customer.example\r\n", unable},
                                           {"NOOP\r\n", "250 2.0.0 ok\r\n"},   // the session goes on
                                       });
        EXPECT_EQ(w.q.turns, 0u);
    }
    {
        // A daemon whose queue does not serve held mail (the hooks not wired).
        World w;
        w.services.odmr = {};
        expect_transcript(w.session(), {
                                           {"", kGreeting},
                                           {"EHLO customer.test\r\n", ehlo(true, kBoth)},
                                           {kAuthAnna, kAuthOk},
                                           {"ATRN customer.example\r\n", unable},
                                       });
    }
}

TEST(SmtpOdmr, BytesPipelinedBehindAtrnAreRefused) {
    // After 250 the next bytes must come from the customer as a server; bytes it sent before seeing our
    // answer are out of step: refused, the connection closed, nothing handed to the queue.
    World w;
    SessionDriver d(w.session());
    EXPECT_EQ(d.exchange("", Feed::whole), kGreeting);
    d.exchange("EHLO customer.test\r\n", Feed::whole);
    EXPECT_EQ(d.exchange(kAuthAnna, Feed::whole), kAuthOk);
    EXPECT_EQ(d.exchange("ATRN customer.example\r\n220 customer.test ESMTP\r\n", Feed::whole),
              "554 5.7.0 pipelined data after ATRN, closing\r\n");
    EXPECT_TRUE(d.ended());
    EXPECT_TRUE(d.closed());
    EXPECT_EQ(w.q.turns, 0u);
}

TEST(SmtpOdmr, AtrnReversesTheSameConnection) {
    for (Feed feed : {Feed::whole, Feed::bytewise}) {
        World w;
        SessionDriver d(w.session());
        const std::vector<Step> steps = {
            {"", kGreeting},
            {"EHLO customer.test\r\n", ehlo(true, kBoth)},
            {kAuthAnna, kAuthOk},
            {"ATRN second.example,customer.example\r\n", "250 2.0.0 OK now reversing the connection\r\n"},
            // Roles reversed: we are the customer's server now, the session the client.
            {"220 customer.test ESMTP\r\n", "QUIT\r\n"},
            {"221 customer.test bye\r\n", ""},
        };
        for (const Step& s : steps) EXPECT_EQ(d.exchange(s.send, feed), s.want) << test::feed_name(feed);
        EXPECT_TRUE(d.ended());   // the session ends when the hook returns
        EXPECT_TRUE(d.closed());
        EXPECT_EQ(w.q.turns, 1u);
        EXPECT_EQ(w.q.user, "anna");
        EXPECT_EQ(w.q.domains, (std::vector<std::string>{"second.example", "customer.example"}));
        EXPECT_EQ(w.q.conn, w.session_conn);   // the very connection the customer dialled
        EXPECT_FALSE(w.q.tls);
        EXPECT_EQ(w.q.peer_greeting, "220 customer.test ESMTP");
        EXPECT_EQ(w.q.peer_bye, "221 customer.test bye");
        if (d.error()) std::rethrow_exception(d.error());
    }
}

TEST(SmtpOdmr, ReversalKeepsTls) {
    World w;
    expect_transcript(w.session(),
                      {
                          {"", kGreeting},
                          {"EHLO customer.test\r\n", ehlo(true, "CRAM-MD5")},
                          {"AUTH PLAIN " + plain("anna", "anna-secret") + "\r\n",
                           "538 5.7.11 encryption required for requested authentication mechanism\r\n"},
                          {"STARTTLS\r\n", "220 2.0.0 ready to start TLS\r\n", false, true},
                          {"EHLO customer.test\r\n", ehlo(false, kBoth)},
                          {kAuthAnna, kAuthOk},
                          {"ATRN customer.example\r\n", "250 2.0.0 OK now reversing the connection\r\n"},
                          {"220 customer.test ESMTP\r\n", "QUIT\r\n"},
                          {"221 customer.test bye\r\n", ""},
                      },
                      kRemoteClient, &w.tls.client);
    EXPECT_EQ(w.q.turns, 2u);   // fed whole, then one byte at a time
    EXPECT_TRUE(w.q.tls);
    EXPECT_EQ(w.q.domains, std::vector<std::string>{"customer.example"});
}

TEST(SmtpOdmr, AHookThatFailsEndsTheSession) {
    World w;
    w.services.odmr.turn = [](Connection&, std::string, std::vector<std::string>) -> boost::asio::awaitable<AtrnOutcome> {
        throw std::runtime_error("customer went away");
        co_return AtrnOutcome{};
    };
    SessionDriver d(w.session());
    d.exchange("", Feed::whole);
    d.exchange("EHLO customer.test\r\n", Feed::whole);
    EXPECT_EQ(d.exchange(kAuthAnna, Feed::whole), kAuthOk);
    EXPECT_EQ(d.exchange("ATRN customer.example\r\n", Feed::whole), "250 2.0.0 OK now reversing the connection\r\n");
    EXPECT_TRUE(d.ended());
    EXPECT_FALSE(d.error());   // logged, not thrown out of the session
}

}  // namespace
}  // namespace mk
