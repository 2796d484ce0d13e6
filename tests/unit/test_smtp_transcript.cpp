// tests/unit/test_smtp_transcript.cpp — the SMTP server session over the in-memory pipe: every verb in
// every state, pipelining, STARTTLS, AUTH, every limit and DATA's transparency and smuggling rules,
// each table fed whole and one byte at a time, with a real Intake in a private directory.
#include <gtest/gtest.h>

#include <array>

#include "core/base64.hpp"
#include "smtp/command.hpp"
#include "smtp/server_session.hpp"
#include "transcript.hpp"

namespace mk {
namespace {

using test::expect_transcript;
using test::Feed;
using test::SessionDriver;
using test::Step;
namespace ip = boost::asio::ip;

// What the tables' config sets, so that every limit is reached in a few lines.
constexpr std::uint64_t kMessageLimit = 4096;   // [limits] max_message_size, bytes
constexpr std::size_t kRecipientLimit = 3;      // [limits] max_recipients
// Postfix's smtpd_hard_error_limit, as the session has it (server_session.cpp kMaxBadCommands).
constexpr unsigned kBadCommandCap = 20;
// The session's cap on commands (server_session.cpp kMaxCommands).
constexpr unsigned kCommandCap = 10000;
// RFC 4954 4: the longest AUTH response line the session reads (server_session.cpp kMaxAuthLine).
constexpr std::size_t kAuthLineLimit = 12288;

const ip::address kRemoteClient = ip::make_address("192.0.2.7");   // RFC 5737 documentation address

using test::plain;

// The household behind an SMTP session, with limits reached in a few lines.
struct World : test::Household {
    explicit World(bool offer_tls = true) : Household(offer_tls) {
        config->limits.max_message_size = kMessageLimit;
        config->limits.max_recipients = kRecipientLimit;
    }
    SessionDriver::Session session(SmtpRole role) {
        return [this, role](Connection& c) { return test::served(smtp_session(c, services, role)); };
    }
};

const std::string kGreeting = "220 mx.test ESMTP mailkeep\r\n";

// ehlo - the EHLO answer; STARTTLS and AUTH are offered only where they would be accepted.
std::string ehlo(bool starttls, bool auth) {
    std::string s = "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 4096\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
                    "250-SMTPUTF8\r\n";
    s += starttls || auth ? "250-DSN\r\n" : "250 DSN\r\n";
    if (starttls) s += auth ? "250-STARTTLS\r\n" : "250 STARTTLS\r\n";
    if (auth) s += "250 AUTH PLAIN LOGIN\r\n";
    return s;
}

// ---- every verb in every state -------------------------------------------------------------------

enum StateIndex { kFresh, kGreeted, kMail, kRcpt };

struct VerbRow {
    const char* send;
    std::array<std::string, 4> want;   // fresh, greeted (EHLO), mail, rcpt
};

TEST(SmtpTranscript, EveryVerbInEveryState) {
    World w;
    // Before EHLO replies carry no enhanced status code (RFC 2034 3: only once the client said EHLO).
    const std::string first = "503 send HELO/EHLO first\r\n";
    const std::string seq = "503 5.5.1 bad sequence of commands\r\n";
    const std::string full_ehlo = ehlo(true, true);
    const VerbRow rows[] = {
        {"EHLO client.test\r\n", {full_ehlo, full_ehlo, full_ehlo, full_ehlo}},
        {"HELO client.test\r\n", {"250 mx.test\r\n", "250 mx.test\r\n", "250 mx.test\r\n", "250 mx.test\r\n"}},
        {"MAIL FROM:<ben@home.arpa>\r\n", {first, "250 2.1.0 ok\r\n", seq, seq}},
        {"RCPT TO:<anna@home.arpa>\r\n", {first, seq, "250 2.1.5 ok\r\n", "250 2.1.5 ok\r\n"}},
        {"DATA\r\n", {first, seq, seq, "354 end data with <CR><LF>.<CR><LF>\r\n"}},
        {"RSET\r\n", {"250 ok\r\n", "250 2.0.0 ok\r\n", "250 2.0.0 ok\r\n", "250 2.0.0 ok\r\n"}},
        {"NOOP\r\n", {"250 ok\r\n", "250 2.0.0 ok\r\n", "250 2.0.0 ok\r\n", "250 2.0.0 ok\r\n"}},
        {"VRFY anna\r\n",
         {"252 cannot VRFY user, but will accept message and attempt delivery\r\n",
          "252 2.5.0 cannot VRFY user, but will accept message and attempt delivery\r\n",
          "252 2.5.0 cannot VRFY user, but will accept message and attempt delivery\r\n",
          "252 2.5.0 cannot VRFY user, but will accept message and attempt delivery\r\n"}},
        {"EXPN family\r\n",
         {"502 command not implemented\r\n", "502 5.5.1 command not implemented\r\n",
          "502 5.5.1 command not implemented\r\n", "502 5.5.1 command not implemented\r\n"}},
        {"HELP\r\n",
         {"214 see RFC 5321; mailkeep\r\n", "214 2.0.0 see RFC 5321; mailkeep\r\n",
          "214 2.0.0 see RFC 5321; mailkeep\r\n", "214 2.0.0 see RFC 5321; mailkeep\r\n"}},
        {"STARTTLS\r\n", {first, "220 2.0.0 ready to start TLS\r\n", seq, seq}},
        {"AUTH PLAIN\r\n", {first, "334 \r\n", seq, seq}},
        {"BDAT 10 LAST\r\n",
         {"502 command not recognized\r\n", "502 5.5.1 command not recognized\r\n",
          "502 5.5.1 command not recognized\r\n", "502 5.5.1 command not recognized\r\n"}},
        {"FOO bar\r\n",
         {"500 command not recognized\r\n", "500 5.5.1 command not recognized\r\n",
          "500 5.5.1 command not recognized\r\n", "500 5.5.1 command not recognized\r\n"}},
        {"QUIT\r\n",
         {"221 mx.test closing connection\r\n", "221 2.0.0 mx.test closing connection\r\n",
          "221 2.0.0 mx.test closing connection\r\n", "221 2.0.0 mx.test closing connection\r\n"}},
    };
    const std::vector<Step> prefixes[] = {
        {},
        {{"EHLO client.test\r\n", full_ehlo}},
        {{"EHLO client.test\r\n", full_ehlo}, {"MAIL FROM:<ben@home.arpa>\r\n", "250 2.1.0 ok\r\n"}},
        {{"EHLO client.test\r\n", full_ehlo},
         {"MAIL FROM:<ben@home.arpa>\r\n", "250 2.1.0 ok\r\n"},
         {"RCPT TO:<anna@home.arpa>\r\n", "250 2.1.5 ok\r\n"}},
    };
    for (const VerbRow& row : rows) {
        for (int state : {kFresh, kGreeted, kMail, kRcpt}) {
            SCOPED_TRACE(testing::Message() << "state " << state << ", " << row.send);
            std::vector<Step> steps{{"", kGreeting}};
            steps.insert(steps.end(), prefixes[state].begin(), prefixes[state].end());
            steps.push_back({row.send, row.want[state]});
            expect_transcript(w.session(SmtpRole::mx), steps);
        }
    }
}

TEST(SmtpTranscript, QuitClosesAndOutOfSequenceCommandsCount) {
    World w;
    for (Feed f : {Feed::whole, Feed::bytewise}) {
        SessionDriver d(w.session(SmtpRole::mx));
        EXPECT_EQ(d.exchange("", f), kGreeting);
        EXPECT_EQ(d.exchange("QUIT\r\n", f), "221 mx.test closing connection\r\n");
        EXPECT_TRUE(d.ended());
        EXPECT_TRUE(d.closed());
    }
}

// ---- greeting, transaction, DATA ----------------------------------------------------------------

TEST(SmtpTranscript, GreetingAndEhloArguments) {
    World w;
    expect_transcript(w.session(SmtpRole::mx),
                      {
                          {"", kGreeting},
                          {"EHLO\r\n", "501 syntax: EHLO hostname\r\n"},
                          {"HELO\r\n", "501 syntax: HELO hostname\r\n"},
                          {"EHLO bad..name\r\n", "501 invalid domain name: a domain or an address literal, please\r\n"},
                          {"EHLO [192.0.2.1]\r\n", ehlo(true, true)},
                          {"HELO client.test\r\n", "250 mx.test\r\n"},
                          // After HELO (not EHLO) replies carry no enhanced status codes.
                          {"NOOP\r\n", "250 ok\r\n"},
                          {"EHLO client.test\r\n", ehlo(true, true)},
                          {"NOOP\r\n", "250 2.0.0 ok\r\n"},
                      });
}

TEST(SmtpTranscript, TransactionWithDotStuffingIsDelivered) {
    World w;
    // Lines that begin with a dot arrive stuffed (RFC 5321 4.5.2) and are stored unstuffed; a bare LF
    // ends a line and is stored as CRLF.
    const std::string body =
        "Subject: dots\r\n"
        "\r\n"
        "..leading dot\r\n"
        "...two dots\r\n"
        "..\r\n"
        "bare LF\n"
        "last\r\n"
        ".\r\n";
    expect_transcript(w.session(SmtpRole::mx),
                      {
                          {"", kGreeting},
                          {"EHLO client.test\r\n", ehlo(true, true)},
                          {"MAIL FROM:<ben@home.arpa> SIZE=200\r\n", "250 2.1.0 ok\r\n"},
                          {"RCPT TO:<anna@home.arpa>\r\n", "250 2.1.5 ok\r\n"},
                          {"RCPT TO:<nobody@home.arpa>\r\n", "550 5.1.1 no such user here\r\n"},
                          {"RCPT TO:<someone@example.org>\r\n", "554 5.7.1 relay access denied\r\n"},
                          {"DATA extra\r\n", "501 5.5.4 syntax: DATA\r\n"},
                          {"DATA\r\n", "354 end data with <CR><LF>.<CR><LF>\r\n"},
                          {body, "250 2.0.0 ok: queued as *\r\n"},
                          // The transaction is over: back to the greeted state.
                          {"RCPT TO:<anna@home.arpa>\r\n", "503 5.5.1 bad sequence of commands\r\n"},
                          {"QUIT\r\n", "221 2.0.0 mx.test closing connection\r\n"},
                      });
    std::vector<std::string> got = w.delivered("anna");
    ASSERT_EQ(got.size(), 2u);   // fed whole, and one byte at a time
    for (const std::string& m : got) {
        EXPECT_EQ(m.rfind("Return-Path: <ben@home.arpa>\r\nReceived: from client.test ([127.0.0.1])", 0), 0u) << m;
        const std::string stored = "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nbare LF\r\nlast\r\n";
        EXPECT_EQ(m.substr(m.size() - stored.size()), stored);
    }
}

TEST(SmtpTranscript, SmugglingSequencesAreRefusedAtTheRealEnd) {
    // CVE-2023-51766 and its kin: a lone dot next to a bare LF or CR never ends DATA; the message is
    // refused when the real end comes, and nothing inside it is read as a command.
    const char* smuggled[] = {"\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r", "\r.\r\n"};
    for (const char* s : smuggled) {
        SCOPED_TRACE(test::visible(s));
        World w;
        std::string body = std::string("Subject: x\r\n\r\nhello") + s + "MAIL FROM:<evil@example.org>\r\n" +
                           "RCPT TO:<anna@home.arpa>\r\nDATA\r\n\r\nsmuggled\r\n.\r\n";
        expect_transcript(w.session(SmtpRole::mx),
                          {
                              {"", kGreeting},
                              {"EHLO client.test\r\n", ehlo(true, true)},
                              {"MAIL FROM:<ben@home.arpa>\r\n", "250 2.1.0 ok\r\n"},
                              {"RCPT TO:<anna@home.arpa>\r\n", "250 2.1.5 ok\r\n"},
                              {"DATA\r\n", "354 end data with <CR><LF>.<CR><LF>\r\n"},
                              {body, "554 5.5.2 message contains a bare CR or LF next to a lone dot\r\n"},
                              {"NOOP\r\n", "250 2.0.0 ok\r\n"},
                          });
        EXPECT_TRUE(w.delivered("anna").empty());
    }
}

TEST(SmtpTranscript, PipelinedGroupsAreAnsweredTogether) {
    World w;
    // RFC 2920: the client sends a group without waiting; the server answers each command in order,
    // and (RFC 2920 3.2) holds its replies until the client has nothing more in flight.
    expect_transcript(w.session(SmtpRole::mx),
                      {
                          {"", kGreeting},
                          {"EHLO client.test\r\n", ehlo(true, true)},
                          {"MAIL FROM:<ben@home.arpa>\r\nRCPT TO:<anna@home.arpa>\r\nRCPT TO:<nobody@home.arpa>\r\n"
                           "RCPT TO:<ben@home.arpa>\r\nDATA\r\n",
                           "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user here\r\n250 2.1.5 ok\r\n"
                           "354 end data with <CR><LF>.<CR><LF>\r\n"},
                          // The end of the data, and the next commands in the same write.
                          {"Subject: p\r\n\r\nbody\r\n.\r\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<anna@home.arpa>\r\nQUIT\r\n",
                           "250 2.0.0 ok: queued as *\r\n250 2.0.0 ok\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n"
                           "221 2.0.0 mx.test closing connection\r\n"},
                      });
    EXPECT_EQ(w.delivered("anna").size(), 2u);
    EXPECT_EQ(w.delivered("ben").size(), 2u);

    // Fed whole, a group's replies leave in one write.
    SessionDriver d(w.session(SmtpRole::mx));
    d.exchange("EHLO client.test\r\n", Feed::whole);
    const std::uint64_t before = d.probe().writes(PipeEnd::server);
    EXPECT_EQ(d.exchange("MAIL FROM:<ben@home.arpa>\r\nRCPT TO:<anna@home.arpa>\r\nNOOP\r\nRSET\r\n", Feed::whole),
              "250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 ok\r\n250 2.0.0 ok\r\n");
    EXPECT_EQ(d.probe().writes(PipeEnd::server), before + 1);
}

TEST(SmtpTranscript, SubmissionNeedsAuthAndOwnSender) {
    World w;
    expect_transcript(w.session(SmtpRole::submission),
                      {
                          {"", kGreeting},
                          {"EHLO client.test\r\n", ehlo(true, true)},
                          {"MAIL FROM:<anna@home.arpa>\r\n", "530 5.7.0 authentication required\r\n"},
                          {"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n",
                           "235 2.7.0 authentication successful\r\n"},
                          {"EHLO client.test\r\n", ehlo(true, false)},   // AUTH is no longer offered
                          {"MAIL FROM:<ben@home.arpa>\r\n", "553 5.7.1 sender address not owned by you\r\n"},
                          {"MAIL FROM:<anna@home.arpa>\r\n", "250 2.1.0 ok\r\n"},
                          // Authenticated, remote recipients are relayed (queued).
                          {"RCPT TO:<someone@example.org>\r\n", "250 2.1.5 ok\r\n"},
                          {"DATA\r\n", "354 end data with <CR><LF>.<CR><LF>\r\n"},
                          {"Subject: out\r\n\r\nbye\r\n.\r\n", "250 2.0.0 ok: queued as *\r\n"},
                      });
}

// ---- AUTH ---------------------------------------------------------------------------------------

TEST(SmtpTranscript, AuthPlainAndLoginEdgeCases) {
    World w;
    const std::string greeted = "EHLO client.test\r\n";
    const std::vector<std::vector<Step>> cases = {
        // PLAIN with the initial response, then a second AUTH.
        {{"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n", "235 2.7.0 authentication successful\r\n"},
         {"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n", "503 5.5.1 already authenticated\r\n"}},
        // PLAIN after an empty challenge; the authorization identity may name the user itself.
        {{"AUTH PLAIN\r\n", "334 \r\n"},
         {plain("anna", "anna", "anna-secret") + "\r\n", "235 2.7.0 authentication successful\r\n"}},
        // Acting as someone else is refused.
        {{"AUTH PLAIN " + plain("ben", "anna", "anna-secret") + "\r\n", "501 5.5.2 malformed AUTH PLAIN response\r\n"}},
        // RFC 4954 4: "*" cancels.
        {{"AUTH PLAIN\r\n", "334 \r\n"}, {"*\r\n", "501 5.7.0 authentication cancelled\r\n"}},
        // Not base64; "=" (the empty response) holds no credentials.
        {{"AUTH PLAIN\r\n", "334 \r\n"}, {"not base64!\r\n", "501 5.5.2 malformed AUTH PLAIN response\r\n"}},
        {{"AUTH PLAIN =\r\n", "501 5.5.2 malformed AUTH PLAIN response\r\n"}},
        // A wrong password: 535 after the throttle's delay (zero here).
        {{"AUTH PLAIN " + plain("", "anna", "wrong") + "\r\n", "535 5.7.8 authentication credentials invalid\r\n"},
         {"NOOP\r\n", "250 2.0.0 ok\r\n"}},
        // LOGIN, asked step by step, by name and by address.
        {{"AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n"},
         {base64_encode("anna") + "\r\n", "334 UGFzc3dvcmQ6\r\n"},
         {base64_encode("anna-secret") + "\r\n", "235 2.7.0 authentication successful\r\n"}},
        {{"AUTH LOGIN " + base64_encode("anna@home.arpa") + "\r\n", "334 UGFzc3dvcmQ6\r\n"},
         {base64_encode("anna-secret") + "\r\n", "235 2.7.0 authentication successful\r\n"}},
        {{"AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n"}, {"*\r\n", "501 5.7.0 authentication cancelled\r\n"}},
        {{"AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n"},
         {base64_encode("anna") + "\r\n", "334 UGFzc3dvcmQ6\r\n"},
         {"*\r\n", "501 5.7.0 authentication cancelled\r\n"}},
        {{"AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n"},
         {"%%%\r\n", "334 UGFzc3dvcmQ6\r\n"},
         {base64_encode("anna-secret") + "\r\n", "501 5.5.2 malformed AUTH LOGIN response\r\n"}},
        {{"AUTH LOGIN " + base64_encode("anna") + "\r\n", "334 UGFzc3dvcmQ6\r\n"},
         {base64_encode("wrong") + "\r\n", "535 5.7.8 authentication credentials invalid\r\n"}},
        {{"AUTH CRAM-MD5\r\n", "504 5.5.4 unrecognized authentication mechanism\r\n"}},
        {{"auth plain " + plain("", "ben", "ben-secret") + "\r\n", "235 2.7.0 authentication successful\r\n"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.front().send);
        std::vector<Step> steps{{"", kGreeting}, {greeted, ehlo(true, true)}};
        steps.insert(steps.end(), c.begin(), c.end());
        expect_transcript(w.session(SmtpRole::submission), steps);
    }
}

TEST(SmtpTranscript, AuthResponseLineTooLongIsAnswered) {
    // RFC 4954 4: an AUTH response longer than the server accepts is refused with 500 5.5.6 (Postfix
    // answers it and goes on: the line was read to its end, so the client is still in step).
    World w;
    for (const char* mech : {"PLAIN", "LOGIN"}) {
        SCOPED_TRACE(mech);
        expect_transcript(w.session(SmtpRole::submission),
                          {
                              {"", kGreeting},
                              {"EHLO client.test\r\n", ehlo(true, true)},
                              {std::string("AUTH ") + mech + "\r\n", "334 *\r\n"},
                              {std::string(kAuthLineLimit + 1, 'A') + "\r\n",
                               "500 5.5.6 Authentication Exchange line is too long\r\n"},
                              {"NOOP\r\n", "250 2.0.0 ok\r\n"},
                              {"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n",
                               "235 2.7.0 authentication successful\r\n"},
                          });
    }
    // The longest line allowed is read (and here fails as base64 of nothing sensible).
    expect_transcript(w.session(SmtpRole::submission),
                      {
                          {"", kGreeting},
                          {"EHLO client.test\r\n", ehlo(true, true)},
                          {"AUTH PLAIN\r\n", "334 \r\n"},
                          {std::string(kAuthLineLimit, 'A') + "\r\n", "501 5.5.2 malformed AUTH PLAIN response\r\n"},
                      });
}

TEST(SmtpTranscript, WrongPasswordIsAnsweredAfterTheThrottleDelay) {
    World w;
    constexpr std::chrono::milliseconds kDelay{50};
    w.services.throttle = AuthThrottle(kDelay, kDelay);
    SessionDriver d(w.session(SmtpRole::submission));
    d.exchange("EHLO client.test\r\n", Feed::whole);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(d.exchange("AUTH PLAIN " + plain("", "anna", "wrong") + "\r\n", Feed::whole),
              "535 5.7.8 authentication credentials invalid\r\n");
    EXPECT_GE(std::chrono::steady_clock::now() - start, kDelay);
}

TEST(SmtpTranscript, AuthNeedsTlsFromARemoteClient) {
    World w;
    // Without TLS a password would cross the wire: AUTH is neither offered nor accepted.
    expect_transcript(w.session(SmtpRole::submission),
                      {
                          {"", kGreeting},
                          {"EHLO client.test\r\n", ehlo(true, false)},
                          {"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n",
                           "538 5.7.11 encryption required for requested authentication mechanism\r\n"},
                          {"STARTTLS\r\n", "220 2.0.0 ready to start TLS\r\n", false, true},
                          {"EHLO client.test\r\n", ehlo(false, true)},
                          {"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n",
                           "235 2.7.0 authentication successful\r\n"},
                      },
                      kRemoteClient, &w.tls.client);
}

// ---- STARTTLS -----------------------------------------------------------------------------------

TEST(SmtpTranscript, StartTlsStartsOver) {
    World w;
    // RFC 3207 4.2: after the handshake the server forgets the EHLO and the transaction.
    expect_transcript(w.session(SmtpRole::mx),
                      {
                          {"", kGreeting},
                          {"EHLO client.test\r\n", ehlo(true, true)},
                          {"STARTTLS now\r\n", "501 5.5.4 syntax: STARTTLS\r\n"},
                          {"STARTTLS\r\n", "220 2.0.0 ready to start TLS\r\n", false, true},
                          {"MAIL FROM:<ben@home.arpa>\r\n", "503 send HELO/EHLO first\r\n"},
                          {"EHLO client.test\r\n", ehlo(false, true)},
                          {"STARTTLS\r\n", "503 5.5.1 TLS already active\r\n"},
                          {"MAIL FROM:<ben@home.arpa>\r\n", "250 2.1.0 ok\r\n"},
                          {"RCPT TO:<anna@home.arpa>\r\n", "250 2.1.5 ok\r\n"},
                          {"DATA\r\n", "354 end data with <CR><LF>.<CR><LF>\r\n"},
                          {"Subject: tls\r\n\r\nsecret\r\n.\r\n", "250 2.0.0 ok: queued as *\r\n"},
                      },
                      ip::address_v4::loopback(), &w.tls.client);
    for (const std::string& m : w.delivered("anna")) EXPECT_NE(m.find("with ESMTPS id"), std::string::npos) << m;
}

TEST(SmtpTranscript, StartTlsForgetsAuthentication) {
    // RFC 3207 4.2: "discard any knowledge obtained from the client ... not obtained from the TLS
    // negotiation itself" — that includes a login made in plaintext (allowed from loopback).
    World w;
    expect_transcript(w.session(SmtpRole::submission),
                      {
                          {"", kGreeting},
                          {"EHLO client.test\r\n", ehlo(true, true)},
                          {"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n",
                           "235 2.7.0 authentication successful\r\n"},
                          {"STARTTLS\r\n", "220 2.0.0 ready to start TLS\r\n", false, true},
                          {"EHLO client.test\r\n", ehlo(false, true)},
                          {"MAIL FROM:<anna@home.arpa>\r\n", "530 5.7.0 authentication required\r\n"},
                          {"AUTH PLAIN " + plain("", "ben", "ben-secret") + "\r\n",
                           "235 2.7.0 authentication successful\r\n"},
                          {"MAIL FROM:<anna@home.arpa>\r\n", "553 5.7.1 sender address not owned by you\r\n"},
                      },
                      ip::address_v4::loopback(), &w.tls.client);
}

TEST(SmtpTranscript, StartTlsWithPipelinedCommandsIsRefused) {
    // CVE-2011-0411: plaintext sent behind STARTTLS would be read as if it came over TLS.
    World w;
    expect_transcript(w.session(SmtpRole::mx),
                      {
                          {"", kGreeting},
                          {"EHLO client.test\r\n", ehlo(true, true)},
                          {"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n",
                           "554 5.7.0 pipelined data after STARTTLS, closing\r\n", true},
                      });
    SessionDriver d(w.session(SmtpRole::mx));
    d.exchange("EHLO client.test\r\n", Feed::whole);
    d.exchange("STARTTLS\r\nNOOP\r\n", Feed::whole);
    EXPECT_TRUE(d.ended());
    EXPECT_TRUE(d.closed());
}

TEST(SmtpTranscript, StartTlsWithoutCertificateIsUnavailable) {
    World w(false);
    expect_transcript(w.session(SmtpRole::mx), {
                                                   {"", kGreeting},
                                                   {"EHLO client.test\r\n", ehlo(false, true)},
                                                   {"STARTTLS\r\n", "454 4.7.0 TLS not available\r\n"},
                                                   {"NOOP\r\n", "250 2.0.0 ok\r\n"},
                                               });
}

// ---- limits -------------------------------------------------------------------------------------

TEST(SmtpTranscript, CommandLineLimit) {
    World w;
    // RFC 5321 4.5.3.1.4: 512 octets with the CRLF. The longest line is answered; a longer one ends
    // the session (the client is out of step with us).
    const std::string longest = "NOOP " + std::string(smtp::kMaxCommandLine - 5, 'x') + "\r\n";
    const std::string too_long = "NOOP " + std::string(smtp::kMaxCommandLine - 4, 'x') + "\r\n";
    expect_transcript(w.session(SmtpRole::mx), {
                                                   {"", kGreeting},
                                                   {"EHLO client.test\r\n", ehlo(true, true)},
                                                   {longest, "250 2.0.0 ok\r\n"},
                                                   {too_long, "500 5.5.2 line too long\r\n"},
                                               });
}

TEST(SmtpTranscript, BadCommandCap) {
    World w;
    std::vector<Step> steps{{"", kGreeting}, {"EHLO client.test\r\n", ehlo(true, true)}};
    for (unsigned i = 1; i < kBadCommandCap; ++i) {
        // Unknown verbs, commands out of sequence and bad arguments all count.
        const char* bad[] = {"FOO\r\n", "RCPT TO:<anna@home.arpa>\r\n", "MAIL FROM:bad\r\n"};
        const char* answer[] = {"500 5.5.1 command not recognized\r\n", "503 5.5.1 bad sequence of commands\r\n",
                                "501 *\r\n"};
        steps.push_back({bad[i % 3], answer[i % 3]});
    }
    steps.push_back({"FOO\r\n", "500 5.5.1 command not recognized\r\n421 4.0.0 too many errors, closing\r\n"});
    steps.push_back({"NOOP\r\n", ""});
    expect_transcript(w.session(SmtpRole::mx), steps);
}

TEST(SmtpTranscript, CommandCap) {
    World w;
    std::string noops;
    for (unsigned i = 0; i < kCommandCap - 1; ++i) noops += "NOOP\r\n";
    std::string answers;
    for (unsigned i = 0; i < kCommandCap - 1; ++i) answers += "250 2.0.0 ok\r\n";
    // EHLO is the first command; the cap's worth of NOOPs passes, one more ends the session.
    for (Feed f : {Feed::whole, Feed::bytewise}) {
        SessionDriver d(w.session(SmtpRole::mx));
        EXPECT_EQ(d.exchange("EHLO client.test\r\n", f), kGreeting + ehlo(true, true));
        EXPECT_EQ(d.exchange(noops, f), answers);
        EXPECT_EQ(d.exchange("NOOP\r\n", f), "421 4.0.0 too many commands, closing\r\n");
        EXPECT_TRUE(d.closed());
    }
}

// The cap counts commands since the last accepted message: a provider handing thousands of messages
// over one session (ODMR) is not a client stuck in a loop.
TEST(SmtpTranscript, CommandCapRestartsWithEachMessage) {
    World w;
    std::string noops, answers;
    for (unsigned i = 0; i < kCommandCap; ++i) {
        noops += "NOOP\r\n";
        answers += "250 2.0.0 ok\r\n";
    }
    SessionDriver d(w.session(SmtpRole::mx));
    EXPECT_EQ(d.exchange("EHLO client.test\r\n", Feed::whole), kGreeting + ehlo(true, true));
    EXPECT_EQ(d.exchange(noops.substr(0, noops.size() - 24), Feed::whole), answers.substr(0, answers.size() - 56));
    d.exchange("MAIL FROM:<>\r\nRCPT TO:<anna@home.arpa>\r\nDATA\r\n", Feed::whole);
    std::string queued = d.exchange("Subject: x\r\n\r\ny\r\n.\r\n", Feed::whole);
    EXPECT_TRUE(queued.starts_with("250 2.0.0 ok: queued as ")) << queued;
    EXPECT_EQ(d.exchange(noops, Feed::whole), answers);   // a whole cap's worth again
    EXPECT_EQ(d.exchange("NOOP\r\n", Feed::whole), "421 4.0.0 too many commands, closing\r\n");
    EXPECT_TRUE(d.closed());
}

// Recipient harvesting: every refused RCPT is an error, kBadCommandCap of them end the session, and
// after the first three each refusal is answered Services::rcpt_tarpit late.
TEST(SmtpTranscript, RefusedRecipientsAreErrorsAndSlowedDown) {
    World w;
    std::vector<Step> steps{{"", kGreeting}, {"EHLO client.test\r\n", ehlo(true, true)}, {"MAIL FROM:<>\r\n", "250 2.1.0 ok\r\n"}};
    for (unsigned i = 1; i < kBadCommandCap; ++i)
        steps.push_back({fmt::format("RCPT TO:<nobody{}@home.arpa>\r\n", i), "550 5.1.1 no such user here\r\n"});
    steps.push_back({"RCPT TO:<last@home.arpa>\r\n", "550 5.1.1 no such user here\r\n421 4.0.0 too many errors, closing\r\n"});
    steps.push_back({"NOOP\r\n", ""});
    expect_transcript(w.session(SmtpRole::mx), steps);

    w.services.rcpt_tarpit = std::chrono::milliseconds(200);
    SessionDriver d(w.session(SmtpRole::mx));
    EXPECT_EQ(d.exchange("EHLO client.test\r\n", Feed::whole), kGreeting + ehlo(true, true));
    EXPECT_EQ(d.exchange("MAIL FROM:<>\r\n", Feed::whole), "250 2.1.0 ok\r\n");
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(d.exchange("RCPT TO:<x@home.arpa>\r\n", Feed::whole), "550 5.1.1 no such user here\r\n");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));   // the first three: at once
    EXPECT_EQ(d.exchange("RCPT TO:<x@home.arpa>\r\n", Feed::whole), "550 5.1.1 no such user here\r\n");
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));   // the fourth: late
    EXPECT_EQ(d.exchange("RCPT TO:<anna@home.arpa>\r\n", Feed::whole), "250 2.1.5 ok\r\n");   // a real one: at once
}

TEST(SmtpTranscript, RecipientLimit) {
    World w;
    expect_transcript(w.session(SmtpRole::mx), {
                                                   {"", kGreeting},
                                                   {"EHLO client.test\r\n", ehlo(true, true)},
                                                   {"MAIL FROM:<>\r\n", "250 2.1.0 ok\r\n"},
                                                   {"RCPT TO:<anna@home.arpa>\r\n", "250 2.1.5 ok\r\n"},
                                                   {"RCPT TO:<ben@home.arpa>\r\n", "250 2.1.5 ok\r\n"},
                                                   {"RCPT TO:<postmaster@home.arpa>\r\n", "250 2.1.5 ok\r\n"},
                                                   // RFC 5321 4.5.3.1.10: 452, the client may go on later.
                                                   {"RCPT TO:<anna@home.arpa>\r\n", "452 4.5.3 too many recipients\r\n"},
                                                   {"DATA\r\n", "354 end data with <CR><LF>.<CR><LF>\r\n"},
                                                   {"\r\nx\r\n.\r\n", "250 2.0.0 ok: queued as *\r\n"},
                                               });
}

TEST(SmtpTranscript, MessageSizeLimit) {
    World w;
    // RFC 1870: SIZE= over the limit is refused at MAIL; a message that turns out larger is read to its
    // end, kept nowhere, and refused with the same code.
    std::string big = "Subject: big\r\n\r\n";
    while (big.size() <= kMessageLimit) big += std::string(98, 'x') + "\r\n";
    big += ".\r\n";
    expect_transcript(w.session(SmtpRole::mx), {
                                                   {"", kGreeting},
                                                   {"EHLO client.test\r\n", ehlo(true, true)},
                                                   {"MAIL FROM:<ben@home.arpa> SIZE=4097\r\n",
                                                    "552 5.3.4 message size exceeds fixed limit\r\n"},
                                                   {"MAIL FROM:<ben@home.arpa> SIZE=4000\r\n", "250 2.1.0 ok\r\n"},
                                                   {"RCPT TO:<anna@home.arpa>\r\n", "250 2.1.5 ok\r\n"},
                                                   {"DATA\r\n", "354 end data with <CR><LF>.<CR><LF>\r\n"},
                                                   {big, "552 5.3.4 message size exceeds fixed limit\r\n"},
                                                   {"NOOP\r\n", "250 2.0.0 ok\r\n"},
                                               });
    EXPECT_TRUE(w.delivered("anna").empty());
}

TEST(SmtpTranscript, DataLineLimit) {
    World w;
    // RFC 5321 4.5.3.1.6: 1000 octets with the CRLF. The longest line passes; a longer one refuses the
    // message and ends the session.
    const std::string longest = std::string(998, 'y') + "\r\n";
    const std::string too_long = std::string(999, 'y') + "\r\n";
    const std::vector<Step> start{
        {"", kGreeting},
        {"EHLO client.test\r\n", ehlo(true, true)},
        {"MAIL FROM:<ben@home.arpa>\r\nRCPT TO:<anna@home.arpa>\r\nDATA\r\n",
         "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 end data with <CR><LF>.<CR><LF>\r\n"},
    };
    std::vector<Step> ok = start;
    ok.push_back({"\r\n" + longest + ".\r\n", "250 2.0.0 ok: queued as *\r\n"});
    expect_transcript(w.session(SmtpRole::mx), ok);
    std::vector<Step> refused = start;
    refused.push_back({"\r\n" + too_long + ".\r\n", "554 5.6.0 message has a line longer than 1000 octets\r\n"});
    expect_transcript(w.session(SmtpRole::mx), refused);
    EXPECT_EQ(w.delivered("anna").size(), 2u);   // the longest line, fed two ways
}

TEST(SmtpTranscript, DrainingDaemonSaysGoodbye) {
    World w;
    w.services.draining = true;
    SessionDriver d(w.session(SmtpRole::mx));
    EXPECT_EQ(d.exchange("", Feed::whole), kGreeting + "421 mx.test shutting down\r\n");
    EXPECT_TRUE(d.closed());
}

TEST(SmtpTranscript, ClientThatVanishesMidDataLeavesNothing) {
    World w;
    {
        SessionDriver d(w.session(SmtpRole::mx));
        d.exchange("EHLO client.test\r\nMAIL FROM:<ben@home.arpa>\r\nRCPT TO:<anna@home.arpa>\r\nDATA\r\n", Feed::whole);
        d.exchange("Subject: half\r\n\r\nhalf a mess", Feed::whole);
    }
    EXPECT_TRUE(w.delivered("anna").empty());
    EXPECT_TRUE(std::filesystem::is_empty(w.dir.path / "spool"));
}

}  // namespace
}  // namespace mk
