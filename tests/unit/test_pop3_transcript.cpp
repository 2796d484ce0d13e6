// tests/unit/test_pop3_transcript.cpp — the POP3 server session over the in-memory pipe: every verb in
// both states, pipelining, STLS, AUTH PLAIN edge cases, the maildrop lock and every limit, each table
// fed whole and one byte at a time, over a maildrop filled through a real Intake.
#include <gtest/gtest.h>

#include <array>

#include "core/base64.hpp"
#include "pop3/command.hpp"
#include "pop3/server_session.hpp"
#include "transcript.hpp"

namespace mk {
namespace {

using test::expect_transcript;
using test::Feed;
using test::SessionDriver;
using test::Step;
namespace ip = boost::asio::ip;

// Dovecot's bad-command cap, as the session has it (server_session.cpp kMaxBadCommands).
constexpr unsigned kBadCommandCap = 10;

const ip::address kRemoteClient = ip::make_address("192.0.2.7");   // RFC 5737 documentation address

// The two messages in anna's maildrop: the first has lines that RETR must dot-stuff.
const std::string kFirst = "Subject: one\r\n\r\n.starts with a dot\r\n..two\r\nbody\r\n";
const std::string kSecond = "Subject: two\r\n\r\nsecond\r\n";
const std::string kFirstStuffed = "Subject: one\r\n\r\n..starts with a dot\r\n...two\r\nbody\r\n.\r\n";

const std::string kGreeting = "+OK mailkeep POP3 ready\r\n";
const std::string kNotNow = "-ERR command not valid in this state\r\n";

using test::plain;

// The household behind a POP3 session, with two messages waiting for anna.
struct World : test::Household {
    explicit World(bool offer_tls = true) : Household(offer_tls) {
        deliver("anna", kFirst);
        deliver("anna", kSecond);
    }
    SessionDriver::Session session() {
        return [this](Connection& c) { return pop3_session(c, services); };
    }
};

// drop - "N messages (M octets)" as the session summarises a maildrop.
std::string drop(std::size_t n, std::size_t octets) { return fmt::format("{} messages ({} octets)", n, octets); }

const std::string kLoggedIn = "+OK maildrop has " + drop(2, kFirst.size() + kSecond.size()) + "\r\n";

// capa - the CAPA answer; USER and SASL only where a password may be sent, STLS only before TLS and login.
std::string capa(bool secure, bool stls) {
    std::string s = "+OK capability list follows\r\nTOP\r\nUIDL\r\n";
    if (secure) s += "USER\r\n";
    s += "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
    if (secure) s += "SASL PLAIN\r\n";
    if (stls) s += "STLS\r\n";
    return s + "IMPLEMENTATION mailkeep\r\n.\r\n";
}

const std::vector<Step> kLogin = {{"USER anna\r\n", "+OK send PASS\r\n"}, {"PASS anna-secret\r\n", kLoggedIn}};

// ---- every verb in both states ------------------------------------------------------------------

struct VerbRow {
    const char* send;
    std::array<std::string, 2> want;   // AUTHORIZATION, TRANSACTION
};

TEST(Pop3Transcript, EveryVerbInBothStates) {
    World w;
    const std::string list = "+OK " + drop(2, kFirst.size() + kSecond.size()) +
                             fmt::format("\r\n1 {}\r\n2 {}\r\n.\r\n", kFirst.size(), kSecond.size());
    const VerbRow rows[] = {
        {"USER anna\r\n", {"+OK send PASS\r\n", kNotNow}},
        {"PASS anna-secret\r\n", {"-ERR USER first\r\n", kNotNow}},
        {"AUTH PLAIN\r\n", {"+ \r\n", kNotNow}},
        // RFC 2595 4: STLS only in AUTHORIZATION, so no login can come before it.
        {"STLS\r\n", {"+OK begin TLS negotiation\r\n", kNotNow}},
        {"CAPA\r\n", {capa(true, true), capa(true, false)}},
        {"STAT\r\n", {kNotNow, fmt::format("+OK 2 {}\r\n", kFirst.size() + kSecond.size())}},
        {"LIST\r\n", {kNotNow, list}},
        {"LIST 2\r\n", {kNotNow, fmt::format("+OK 2 {}\r\n", kSecond.size())}},
        {"RETR 1\r\n", {kNotNow, fmt::format("+OK {} octets\r\n", kFirst.size()) + kFirstStuffed}},
        {"TOP 1 0\r\n", {kNotNow, "+OK top of message follows\r\nSubject: one\r\n\r\n.\r\n"}},
        {"DELE 1\r\n", {kNotNow, "+OK message 1 deleted\r\n"}},
        {"NOOP\r\n", {kNotNow, "+OK\r\n"}},
        {"RSET\r\n", {kNotNow, kLoggedIn}},
        {"UIDL\r\n", {kNotNow, "+OK unique-id listing follows\r\n1 *\r\n2 *\r\n.\r\n"}},
        {"UIDL 1\r\n", {kNotNow, "+OK 1 *\r\n"}},
        {"APOP anna 0123456789abcdef0123456789abcdef\r\n", {"-ERR unknown command\r\n", "-ERR unknown command\r\n"}},
        {"QUIT\r\n", {"+OK mailkeep POP3 signing off\r\n", "+OK mailkeep POP3 signing off (0 messages deleted, 2 left)\r\n"}},
    };
    for (const VerbRow& row : rows) {
        for (int state : {0, 1}) {
            SCOPED_TRACE(testing::Message() << (state ? "TRANSACTION, " : "AUTHORIZATION, ") << row.send);
            std::vector<Step> steps{{"", kGreeting}};
            if (state == 1) steps.insert(steps.end(), kLogin.begin(), kLogin.end());
            steps.push_back({row.send, row.want[state]});
            expect_transcript(w.session(), steps);
        }
    }
    // Nothing was deleted: DELE without QUIT removes nothing (RFC 1939 6).
    EXPECT_EQ(w.delivered("anna").size(), 2u);
}

TEST(Pop3Transcript, DeletionHappensAtQuit) {
    const std::vector<Step> steps{
                                       {"", kGreeting},
                                       {"USER anna\r\n", "+OK send PASS\r\n"},
                                       {"PASS anna-secret\r\n", kLoggedIn},
                                       {"DELE 1\r\n", "+OK message 1 deleted\r\n"},
                                       {"DELE 1\r\n", "-ERR message deleted\r\n"},
                                       {"RETR 1\r\n", "-ERR message deleted\r\n"},
                                       {"RETR 3\r\n", "-ERR no such message\r\n"},
                                       {"STAT\r\n", fmt::format("+OK 1 {}\r\n", kSecond.size())},
                                       {"LIST\r\n", "+OK " + drop(1, kSecond.size()) +
                                                        fmt::format("\r\n2 {}\r\n.\r\n", kSecond.size())},
                                       {"RSET\r\n", kLoggedIn},
                                       {"DELE 2\r\n", "+OK message 2 deleted\r\n"},
                                       {"QUIT\r\n", "+OK mailkeep POP3 signing off (1 messages deleted, 1 left)\r\n"},
                                   };
    for (Feed f : {Feed::whole, Feed::bytewise}) {
        World w;   // each feed over a maildrop of its own: this one changes it
        test::run_transcript(w.session(), steps, f);
        EXPECT_EQ(w.delivered("anna"), std::vector<std::string>{kFirst});
    }
}

TEST(Pop3Transcript, PipelinedCommandsAreAnsweredInOrder) {
    // RFC 2449 6.6: the client may send many commands at once; the answers come in order.
    const std::vector<Step> steps{
                          {"", kGreeting},
                          {"USER anna\r\nPASS anna-secret\r\nSTAT\r\nLIST 1\r\nUIDL 2\r\nTOP 2 1\r\nNOOP\r\n",
                           "+OK send PASS\r\n" + kLoggedIn +
                               fmt::format("+OK 2 {}\r\n+OK 1 {}\r\n", kFirst.size() + kSecond.size(), kFirst.size()) +
                               "+OK 2 *\r\n+OK top of message follows\r\n" + kSecond + ".\r\n+OK\r\n"},
                          {"RETR 2\r\nDELE 2\r\nQUIT\r\n",
                           fmt::format("+OK {} octets\r\n", kSecond.size()) + kSecond +
                               ".\r\n+OK message 2 deleted\r\n+OK mailkeep POP3 signing off (1 messages deleted, 1 left)\r\n"},
    };
    for (Feed f : {Feed::whole, Feed::bytewise}) {
        World w;
        test::run_transcript(w.session(), steps, f);
        EXPECT_EQ(w.delivered("anna"), std::vector<std::string>{kFirst});
    }
}

// ---- AUTH and the maildrop lock -----------------------------------------------------------------

TEST(Pop3Transcript, AuthPlainEdgeCases) {
    World w;
    const std::vector<std::vector<Step>> cases = {
        {{"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n", kLoggedIn}},
        {{"AUTH PLAIN\r\n", "+ \r\n"}, {plain("", "anna@home.arpa", "anna-secret") + "\r\n", kLoggedIn}},
        // The authorization identity may name the user itself, by name or address; no one else.
        {{"AUTH PLAIN " + plain("anna@home.arpa", "anna", "anna-secret") + "\r\n", kLoggedIn}},
        {{"AUTH PLAIN " + plain("ben", "anna", "anna-secret") + "\r\n", "-ERR [AUTH] invalid credentials\r\n"}},
        {{"AUTH PLAIN\r\n", "+ \r\n"}, {"*\r\n", "-ERR authentication cancelled\r\n"}},
        {{"AUTH PLAIN\r\n", "+ \r\n"}, {"not base64!\r\n", "-ERR invalid SASL response\r\n"}},
        {{"AUTH PLAIN =\r\n", "-ERR invalid SASL response\r\n"}},
        {{"AUTH PLAIN " + plain("", "anna", "wrong") + "\r\n", "-ERR [AUTH] invalid credentials\r\n"},
         {"USER anna\r\n", "+OK send PASS\r\n"},
         {"PASS wrong\r\n", "-ERR [AUTH] invalid credentials\r\n"},
         // RFC 1939 7: after a PASS, right or wrong, the next attempt starts again with USER.
         {"PASS anna-secret\r\n", "-ERR USER first\r\n"}},
        {{"AUTH LOGIN\r\n", "-ERR unsupported authentication mechanism\r\n"}},
        // RFC 5034 4 sets no limit; the session reads 12288 octets, as RFC 4954 4 allows SMTP.
        {{"AUTH PLAIN\r\n", "+ \r\n"},
         {std::string(pop3::kMaxAuthLine + 1, 'A') + "\r\n", "-ERR line too long\r\n"},
         {"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n", kLoggedIn}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.front().send.substr(0, 40));
        std::vector<Step> steps{{"", kGreeting}};
        steps.insert(steps.end(), c.begin(), c.end());
        expect_transcript(w.session(), steps);
    }
}

TEST(Pop3Transcript, WrongPasswordIsAnsweredAfterTheThrottleDelay) {
    World w;
    constexpr std::chrono::milliseconds kDelay{50};
    w.services.throttle = AuthThrottle(kDelay, kDelay);
    SessionDriver d(w.session());
    d.exchange("USER anna\r\n", Feed::whole);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(d.exchange("PASS wrong\r\n", Feed::whole), "-ERR [AUTH] invalid credentials\r\n");
    EXPECT_GE(std::chrono::steady_clock::now() - start, kDelay);
}

TEST(Pop3Transcript, OneSessionPerMaildrop) {
    World w;
    // RFC 1939 8 / RFC 2449 8.1.1: a second login to a locked maildrop gets [IN-USE].
    SessionDriver first(w.session());
    EXPECT_EQ(first.exchange("USER anna\r\nPASS anna-secret\r\n", Feed::whole), kGreeting + "+OK send PASS\r\n" + kLoggedIn);
    SessionDriver second(w.session());
    EXPECT_EQ(second.exchange("USER anna\r\nPASS anna-secret\r\n", Feed::whole),
              kGreeting + "+OK send PASS\r\n-ERR [IN-USE] maildrop already locked\r\n");
    EXPECT_EQ(first.exchange("QUIT\r\n", Feed::whole), "+OK mailkeep POP3 signing off (0 messages deleted, 2 left)\r\n");
    EXPECT_EQ(second.exchange("USER anna\r\nPASS anna-secret\r\n", Feed::whole), "+OK send PASS\r\n" + kLoggedIn);
}

TEST(Pop3Transcript, PasswordsNeedTlsFromARemoteClient) {
    World w;
    expect_transcript(w.session(),
                      {
                          {"", kGreeting},
                          {"CAPA\r\n", capa(false, true)},
                          {"USER anna\r\n", "-ERR [AUTH] plaintext authentication disallowed without TLS\r\n"},
                          {"AUTH PLAIN " + plain("", "anna", "anna-secret") + "\r\n",
                           "-ERR [AUTH] plaintext authentication disallowed without TLS\r\n"},
                          {"STLS\r\n", "+OK begin TLS negotiation\r\n", false, true},
                          {"CAPA\r\n", capa(true, false)},
                          {"USER anna\r\n", "+OK send PASS\r\n"},
                          {"PASS anna-secret\r\n", kLoggedIn},
                      },
                      kRemoteClient, &w.tls.client);
}

// ---- STLS ---------------------------------------------------------------------------------------

TEST(Pop3Transcript, StlsStartsAuthorizationAfresh) {
    World w;
    // RFC 2595 4: nothing said in plaintext carries over; the USER given before is forgotten.
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"USER anna\r\n", "+OK send PASS\r\n"},
                                       {"STLS\r\n", "+OK begin TLS negotiation\r\n", false, true},
                                       {"PASS anna-secret\r\n", "-ERR USER first\r\n"},
                                       {"STLS\r\n", "-ERR already using TLS\r\n"},
                                       {"USER anna\r\n", "+OK send PASS\r\n"},
                                       {"PASS anna-secret\r\n", kLoggedIn},
                                   },
                      ip::address_v4::loopback(), &w.tls.client);
}

TEST(Pop3Transcript, StlsWithPipelinedCommandsIsRefused) {
    World w;
    // Bytes sent behind STLS would be read as if they came over TLS: STLS is refused and the session
    // stays in plaintext, where the pipelined command is answered as plaintext.
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"STLS\r\nNOOP\r\n", "-ERR pipelined commands after STLS refused\r\n" + kNotNow, true},
                                       {"CAPA\r\n", capa(true, true)},
                                   });
}

TEST(Pop3Transcript, StlsWithoutCertificateIsUnavailable) {
    World w(false);
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"CAPA\r\n", capa(true, false)},
                                       {"STLS\r\n", "-ERR STLS not available\r\n"},
                                       {"USER anna\r\n", "+OK send PASS\r\n"},
                                   });
}

// ---- limits and malformed commands --------------------------------------------------------------

TEST(Pop3Transcript, CommandLineLimitAndMalformedCommands) {
    World w;
    // RFC 2449 4: 255 octets with the CRLF. The longest line is parsed; a longer one is refused and
    // the session goes on.
    const std::string longest = "USER " + std::string(pop3::kMaxCommandText - 5, 'x') + "\r\n";
    const std::string too_long = "USER " + std::string(pop3::kMaxCommandText - 4, 'x') + "\r\n";
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {longest, "+OK send PASS\r\n"},
                                       {too_long, "-ERR line too long\r\n"},
                                       {"\r\n", "-ERR empty command\r\n"},
                                       {"US3R x\r\n", "-ERR bad command keyword\r\n"},
                                       {"USER  anna\r\n", "-ERR syntax error: arguments take one space\r\n"},
                                       {"USER an\tna\r\n", "-ERR syntax error: control character in command\r\n"},
                                       {"USER\r\n", "-ERR missing argument\r\n"},
                                       {"user anna\r\n", "+OK send PASS\r\n"},
                                   });
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"user anna\r\n", "+OK send PASS\r\n"},
                                       {"PASS anna-secret\r\n", kLoggedIn},
                                       {"RETR 0\r\n", "-ERR no such message\r\n"},
                                       {"RETR x\r\n", "-ERR invalid number\r\n"},
                                       {"TOP 1 99999999999999999999\r\n", "-ERR number too large\r\n"},
                                       {"STAT 1\r\n", "-ERR too many arguments\r\n"},
                                       {"LIST 1 2\r\n", "-ERR too many arguments\r\n"},
                                   });
}

TEST(Pop3Transcript, BadCommandCap) {
    World w;
    std::vector<Step> steps{{"", kGreeting}};
    for (unsigned i = 1; i < kBadCommandCap; ++i) steps.push_back({"XTND\r\n", "-ERR unknown command\r\n"});
    // The cap replaces the answer to the last bad command, then the session ends.
    steps.push_back({"STAT\r\n", "-ERR too many errors\r\n"});
    steps.push_back({"NOOP\r\n", ""});
    expect_transcript(w.session(), steps);
}

TEST(Pop3Transcript, ClientThatVanishesDeletesNothing) {
    World w;
    {
        SessionDriver d(w.session());
        d.exchange("USER anna\r\nPASS anna-secret\r\nDELE 1\r\nDELE 2\r\n", Feed::whole);
    }
    // RFC 1939 6: no QUIT, no UPDATE.
    EXPECT_EQ(w.delivered("anna").size(), 2u);
    // And the lock went with the session.
    SessionDriver d(w.session());
    EXPECT_EQ(d.exchange("USER anna\r\nPASS anna-secret\r\n", Feed::whole), kGreeting + "+OK send PASS\r\n" + kLoggedIn);
}

}  // namespace
}  // namespace mk
