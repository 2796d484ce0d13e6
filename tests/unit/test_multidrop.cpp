// tests/unit/test_multidrop.cpp — multidrop recipients from untrusted header sections, over a config built in code.
#include <gtest/gtest.h>

#include <random>

#include "route/multidrop.hpp"

namespace mk {
namespace {

constexpr const char* kOwn = "fetch+family@mail.home.arpa";   // what mailkeep writes: a loop when seen again

Config household() {
    Config c;
    c.local_domains = {"home.arpa", "example.org"};
    c.postmaster = "postmaster@home.arpa";
    c.users = {
        {"anna", "", {"anna@home.arpa", "mum@home.arpa"}, {}, true},
        {"ben", "", {"ben@home.arpa", "ben@example.org"}, {}, true},
        {"carl", "", {"carl@home.arpa"}, {"carl@provider.example"}, false},   // forwards everything away
        {"dora", "", {"dora@home.arpa"}, {"anna"}, true},                     // and a copy to anna
        {"postmaster", "", {"postmaster@home.arpa"}, {}, true},
    };
    c.aliases = {
        {"family@home.arpa", {"anna", "ben"}},
        {"friends@home.arpa", {"ben", "grandma@elsewhere.example"}},
        {"loop1@home.arpa", {"loop2@home.arpa"}},
        {"loop2@home.arpa", {"loop1@home.arpa"}},
    };
    return c;
}

// summary - the result in one comparable line.
std::string summary(const MultidropResult& r) {
    std::string s = "users=";
    for (std::size_t i = 0; i < r.users.size(); ++i) s += (i ? "," : "") + r.users[i];
    if (r.unknown) s += " unknown";
    if (r.loop) s += " loop";
    s += " source=" + r.source;
    if (!r.remote.empty()) {
        s += " remote=";
        for (std::size_t i = 0; i < r.remote.size(); ++i) s += (i ? "," : "") + r.remote[i].name;
    }
    return s;
}

struct Case {
    const char* what;
    std::string headers;
    std::string want;                      // summary()
    std::string envelope_header = "auto";
};

TEST(Multidrop, Table) {
    const Config config = household();
    const Case cases[] = {
        {"Delivered-To present wins over To",
         "Return-Path: <x@other.example>\r\nDelivered-To: anna@home.arpa\r\nFrom: x@other.example\r\n"
         "To: ben@home.arpa\r\nSubject: hi\r\n",
         "users=anna source=Delivered-To"},
        {"Delivered-To naming only the provider account: the next envelope header",
         "Delivered-To: family@provider.example\r\nX-Original-To: ben@home.arpa\r\nTo: anna@home.arpa\r\n",
         "users=ben source=X-Original-To"},
        {"only X-Original-To, in brackets and another case",
         "X-Original-To: <Ben@Home.ARPA>\r\nTo: undisclosed-recipients:;\r\n", "users=ben source=X-Original-To"},
        {"Envelope-To (Exim)", "Envelope-To: ben@example.org\r\nTo: anna@home.arpa\r\n", "users=ben source=Envelope-To"},
        {"X-Envelope-To", "X-Envelope-To: mum@home.arpa\r\n", "users=anna source=X-Envelope-To"},
        {"only Received for, folded, after a Received for a foreign address",
         "Received: from mx.provider.example (mx.provider.example [192.0.2.1])\r\n"
         "\tby pop.provider.example (Postfix) with ESMTPS id 4Abc\r\n"
         "\tfor <list-owner@lists.example>; Mon, 3 Mar 2025 10:00:01 +0100\r\n"
         "Received: from mail.sender.example (mail.sender.example [198.51.100.7])\r\n"
         "\tby mx.provider.example with ESMTPS id 4Abb\r\n\tfor <ben@home.arpa>; Mon, 3 Mar 2025 10:00:00 +0100\r\n"
         "To: anna@home.arpa\r\n",
         "users=ben source=Received"},
        {"Received FOR without brackets; a comment that says for is not the clause",
         "Received: from a.example (for <carl@home.arpa>) by b.example (8.15/8.15) with SMTP id x1 FOR "
         "anna@home.arpa; Tue, 4 Mar 2025 09:00:00 +0000\r\n",
         "users=anna source=Received"},
        {"Received with a for in the date part only is no clause",
         "Received: by b.example; Tue, 4 Mar 2025 for anna@home.arpa\r\nTo: ben@home.arpa\r\n", "users=ben source=To"},
        {"To and Cc, foreign and local mixed",
         "From: Someone <someone@other.example>\r\nTo: Someone Else <else@other.example>, anna@home.arpa\r\n"
         "Cc: ben@home.arpa, x@gmail.example\r\n",
         "users=anna,ben source=To/Cc"},
        {"Resent-To", "To: x@other.example\r\nResent-To: ben@home.arpa\r\n", "users=ben source=Resent-To"},
        {"Resent-Cc and To", "To: anna@home.arpa\r\nResent-Cc: ben@home.arpa\r\n", "users=anna,ben source=To/Resent-Cc"},
        {"an unknown local envelope recipient", "Delivered-To: nobody@home.arpa\r\nTo: anna@home.arpa\r\n",
         "users= unknown source=Delivered-To"},
        {"a known and an unknown local recipient", "To: anna@home.arpa, nobody@example.org\r\n",
         "users=anna unknown source=To"},
        {"an alias loop counts as unknown", "To: loop1@home.arpa\r\n", "users= unknown source=To"},
        {"two local recipients, each once, however often named",
         "To: anna@home.arpa, mum@home.arpa, ANNA@home.arpa\r\nCc: ben@home.arpa, Anna <anna@home.arpa>\r\n",
         "users=anna,ben source=To/Cc"},
        {"alias expansion", "Delivered-To: family@home.arpa\r\n", "users=anna,ben source=Delivered-To"},
        {"alias with a remote member", "To: friends@home.arpa\r\n", "users=ben source=To remote=grandma@elsewhere.example"},
        {"a forward with a copy", "To: dora@home.arpa\r\n", "users=dora,anna source=To"},
        {"a forward without a copy: known, but no local mailbox", "Delivered-To: carl@home.arpa\r\n",
         "users= source=Delivered-To remote=carl@provider.example"},
        {"postmaster goes where config.postmaster says", "To: postmaster@example.org\r\n", "users=postmaster source=To"},
        {"encoded display names",
         "To: =?UTF-8?B?w4RubmEgU2NobWlkdA==?= <anna@home.arpa>,\r\n =?ISO-8859-1?Q?J=F6rg_M=FCller?= <ben@home.arpa>\r\n",
         "users=anna,ben source=To"},
        {"an encoded word where an address should be is no address",
         "To: =?UTF-8?B?YW5uYUBob21lLmFycGE=?=\r\nCc: ben@home.arpa\r\n", "users=ben source=Cc"},
        {"group syntax", "To: Family: anna@home.arpa, Ben <ben@home.arpa>;, other@x.example\r\n",
         "users=anna,ben source=To"},
        {"empty group and a quoted display name with a comma",
         "To: undisclosed-recipients:;\r\nCc: \"Smith, Anna\" <anna@home.arpa>\r\n", "users=anna source=Cc"},
        {"comments around an address", "To: anna@home.arpa (Anna at home), (nobody) <ben@home.arpa>\r\n",
         "users=anna,ben source=To"},
        {"our own Delivered-To: a loop", "Delivered-To: anna@home.arpa\r\nDelivered-To: fetch+family@mail.home.arpa\r\n",
         "users= loop source=Delivered-To"},
        {"our own Delivered-To in brackets and another case",
         "To: anna@home.arpa\r\nDelivered-To: <FETCH+family@Mail.Home.Arpa>\r\n", "users= loop source=Delivered-To"},
        {"our own address in To is no loop", "To: fetch+family@mail.home.arpa, anna@home.arpa\r\n",
         "users=anna source=To"},
        {"LF line ends", "Delivered-To: ben@home.arpa\nTo: anna@home.arpa\nSubject: x\n", "users=ben source=Delivered-To"},
        {"LF line ends, folded", "To: Someone\n  <someone@other.example>,\n\tBen\n <ben@home.arpa>\n",
         "users=ben source=To"},
        {"folded CRLF header lines",
         "To: Someone Else\r\n <someone@other.example>,\r\n\tBen\r\n <ben@home.arpa>\r\nSubject: a\r\n long one\r\n",
         "users=ben source=To"},
        {"the block may end with its blank line, a body after it is not read",
         "To: anna@home.arpa\r\n\r\nTo: ben@home.arpa\r\n", "users=anna source=To"},
        {"the last line may lack its line end", "To: anna@home.arpa", "users=anna source=To"},
        {"header names in any case", "DELIVERED-TO: ben@home.arpa\r\nto: anna@home.arpa\r\n",
         "users=ben source=Delivered-To"},
        {"no local address anywhere", "To: a@other.example\r\nCc: b@other.example\r\n", "users= source="},
        {"an address without a domain is none", "To: anna\r\n", "users= source="},
        {"a named envelope header that is absent falls back to To/Cc",
         "Delivered-To: anna@home.arpa\r\nTo: ben@home.arpa\r\n", "users=ben source=To", "X-Envelope-To"},
        {"a named envelope header is the only one read",
         "Delivered-To: anna@home.arpa\r\nX-Envelope-To: ben@home.arpa\r\nTo: anna@home.arpa\r\n",
         "users=ben source=X-Envelope-To", "X-Envelope-To"},
        {"a named envelope header in another case",
         "x-envelope-to: ben@home.arpa\r\n", "users=ben source=X-Envelope-To", "X-Envelope-To"},
        {"Received named: read by its for clause",
         "Received: from a by b for <anna@home.arpa>; Tue, 4 Mar 2025 09:00:00 +0000\r\nTo: ben@home.arpa\r\n",
         "users=anna source=Received", "Received"},
        {"loops are found whatever envelope_header says", "Delivered-To: fetch+family@mail.home.arpa\r\n",
         "users= loop source=Delivered-To", "X-Original-To"},
        {"empty block", "", "users= source="},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        EXPECT_EQ(summary(multidrop_recipients(config, c.headers, c.envelope_header, kOwn)), c.want);
    }
}

// Without own_delivered_to nothing is a loop.
TEST(Multidrop, NoOwnDeliveredToNoLoop) {
    EXPECT_EQ(summary(multidrop_recipients(household(), "Delivered-To: anna@home.arpa\r\n", "auto", "")),
              "users=anna source=Delivered-To");
}

// With a downstream server, route_recipient names local users by queue targets; users still come by name.
TEST(Multidrop, UsersByNameWithDownstreamDelivery) {
    Config c = household();
    c.delivery.mode = DeliveryConfig::Mode::lmtp;
    EXPECT_EQ(summary(multidrop_recipients(c, "To: family@home.arpa, carl@home.arpa\r\n", "auto", kOwn)),
              "users=anna,ben source=To remote=carl@provider.example");
}

// With a catch_all, route_recipient takes unknown local recipients there: they are no longer unknown.
TEST(Multidrop, CatchAllTakesUnknown) {
    Config c = household();
    c.catch_all = "postmaster";
    EXPECT_EQ(summary(multidrop_recipients(c, "To: nobody@home.arpa\r\n", "auto", kOwn)), "users=postmaster source=To");
}

// The limits, each at its edge.
TEST(Multidrop, Limits) {
    const Config config = household();
    struct Limit {
        const char* what;
        std::string headers;
        std::string want;
    };
    const std::string to_anna = "To: anna@home.arpa\r\n";
    std::string pad;   // X-Pad lines filling kMaxMultidropHeaderBytes but for the room of to_anna
    const std::size_t room = kMaxMultidropHeaderBytes - to_anna.size();
    while (pad.size() + 200 <= room) pad += "X-Pad: " + std::string(91, 'p') + "\r\n";
    pad += "X-Pad: " + std::string(room - pad.size() - 9, 'p') + "\r\n";
    EXPECT_EQ(pad.size() + to_anna.size(), kMaxMultidropHeaderBytes);
    std::string received;   // kMaxReceivedScanned Received: fields without a local for clause
    for (std::size_t i = 0; i < kMaxReceivedScanned; ++i)
        received += "Received: by hop" + std::to_string(i) + ".example\r\n";
    const std::string for_ben = "Received: by x for <ben@home.arpa>\r\n" + to_anna;
    std::string many = "To: ";   // kMaxLocalAddresses unknown local addresses, then anna
    for (std::size_t i = 0; i < kMaxLocalAddresses; ++i) many += "n" + std::to_string(i) + "@home.arpa, ";
    const Limit limits[] = {
        {"a field ending at the byte limit is read", pad + to_anna, "users=anna source=To"},
        {"a field past the byte limit is not", pad + "X-P: 1\r\n" + to_anna, "users= source="},
        {"the last Received scanned", received.substr(received.find("\r\n") + 2) + for_ben, "users=ben source=Received"},
        {"one Received too many", received + for_ben, "users=anna source=To"},
        {"local addresses past the limit are not resolved", many + "anna@home.arpa\r\n", "users= unknown source=To"},
        {"the last local address resolved",
         many.substr(0, many.rfind("n" + std::to_string(kMaxLocalAddresses - 1) + "@")) + "anna@home.arpa\r\n",
         "users=anna unknown source=To"},
    };
    for (const Limit& l : limits) {
        SCOPED_TRACE(l.what);
        EXPECT_EQ(summary(multidrop_recipients(config, l.headers, "auto", kOwn)), l.want);
    }
}

// Garbage in: no crash, no recipient invented, and whatever is found is a local user.
TEST(Multidrop, GarbageBytes) {
    const Config config = household();
    std::vector<std::string> inputs = {
        std::string("\0\0\0\0", 4),
        "\xff\xfe\xfd:::\r\n\r\n",
        ":\r\n:\r\n",
        "To:\r\nCc: ,,,,;;;<<<>>>\"\"\"\r\n",
        "To: \"unterminated <anna@home.arpa>\r\n",
        "To: <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\r\n",
        "To: " + std::string(10000, '(') + "anna@home.arpa\r\n",
        "Received: " + std::string(10000, '(') + " for <anna@home.arpa>\r\n",
        "Received: for\r\nReceived: for <\r\nReceived: for <>\r\nReceived: FOR    \r\n",
        "To: a:b:c:d:;;;e@home.arpa\r\n",
        "To: =?UTF-8?B?====?= =?x?q?=ZZ?= <=?utf-8?q?anna?=@home.arpa>\r\n",
        std::string("Delivered-To: anna@home.arpa\0ben@home.arpa\r\n", 44),
        "From nobody Mon Jan  1 00:00:00 2025\r\nTo: anna@home.arpa\r\n",
        std::string(200000, 'a'),
        std::string(200000, '\n'),
    };
    std::mt19937 rng(20250303);   // fixed seed: the same bytes every run
    for (int i = 0; i < 200; ++i) {
        std::string s(rng() % 2000, '\0');
        for (char& c : s) c = static_cast<char>(rng());
        if (i % 2) s = "To: anna@home.arpa, " + s;
        inputs.push_back(std::move(s));
    }
    for (const std::string& in : inputs) {
        for (const char* envelope : {"auto", "Received", "To"}) {
            MultidropResult r = multidrop_recipients(config, in, envelope, kOwn);
            for (const std::string& u : r.users) EXPECT_NE(config.find_user(u), nullptr) << u;
            EXPECT_LE(r.users.size(), config.users.size());
        }
    }
}

}  // namespace
}  // namespace mk
