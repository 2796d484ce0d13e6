// tests/unit/test_pop3_command.cpp — unit tests of the POP3 command parser and response encoders; tables of
// {input, want}, encoders fed whole and one byte at a time.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/dot_stuffer.hpp"
#include "pop3/command.hpp"

namespace mk::pop3 {
namespace {

using namespace std::string_literals;

struct ParseCase {
    std::string input;
    ParseError error;
    Verb verb = Verb::noop;                      // checked when error == none
    std::vector<std::string> args = {};
    std::optional<std::uint64_t> msg = std::nullopt;
    std::uint64_t lines = 0;
};

// parse_cases - the parser table: one row per behaviour worth pinning down.
std::vector<ParseCase> parse_cases() {
    const std::string max_user = "USER " + std::string(kMaxCommandText - 5, 'a');
    const std::string over_user = "USER " + std::string(kMaxCommandText - 4, 'a');
    return {
        // Every verb, in its plain form.
        {"USER alice", ParseError::none, Verb::user, {"alice"}},
        {"PASS secret", ParseError::none, Verb::pass, {"secret"}},
        {"AUTH PLAIN", ParseError::none, Verb::auth, {"PLAIN"}},
        {"AUTH PLAIN AGFsaWNlAHNlY3JldA==", ParseError::none, Verb::auth, {"PLAIN", "AGFsaWNlAHNlY3JldA=="}},
        {"AUTH PLAIN =", ParseError::none, Verb::auth, {"PLAIN", "="}},
        {"STAT", ParseError::none, Verb::stat},
        {"LIST", ParseError::none, Verb::list},
        {"LIST 3", ParseError::none, Verb::list, {"3"}, 3},
        {"RETR 1", ParseError::none, Verb::retr, {"1"}, 1},
        {"DELE 42", ParseError::none, Verb::dele, {"42"}, 42},
        {"NOOP", ParseError::none, Verb::noop},
        {"RSET", ParseError::none, Verb::rset},
        {"QUIT", ParseError::none, Verb::quit},
        {"TOP 1 10", ParseError::none, Verb::top, {"1", "10"}, 1, 10},
        {"TOP 2 0", ParseError::none, Verb::top, {"2", "0"}, 2, 0},
        {"UIDL", ParseError::none, Verb::uidl},
        {"UIDL 7", ParseError::none, Verb::uidl, {"7"}, 7},
        {"CAPA", ParseError::none, Verb::capa},
        {"STLS", ParseError::none, Verb::stls},
        // Keywords are case-insensitive (RFC 1939 3); arguments keep their case.
        {"user Alice", ParseError::none, Verb::user, {"Alice"}},
        {"rEtR 5", ParseError::none, Verb::retr, {"5"}, 5},
        {"top 1 2", ParseError::none, Verb::top, {"1", "2"}, 1, 2},
        {"capa", ParseError::none, Verb::capa},
        {"auth plain", ParseError::none, Verb::auth, {"plain"}},
        // PASS takes the rest of the line, spaces and all (RFC 1939 7).
        {"PASS two words", ParseError::none, Verb::pass, {"two words"}},
        {"PASS  lead", ParseError::none, Verb::pass, {" lead"}},
        {"PASS trail ", ParseError::none, Verb::pass, {"trail "}},
        {"PASS p\xc3\xa4ss", ParseError::none, Verb::pass, {"p\xc3\xa4ss"}},   // UTF-8 passwords pass
        {"PASS", ParseError::missing_argument},
        {"PASS ", ParseError::missing_argument},
        // Empty, spacing and characters.
        {"", ParseError::empty},
        {" STAT", ParseError::bad_spacing},
        {"LIST  1", ParseError::bad_spacing},
        {"TOP 1  2", ParseError::bad_spacing},
        {"STAT ", ParseError::none, Verb::stat},          // trailing space tolerated
        {"LIST 1 ", ParseError::none, Verb::list, {"1"}, 1},
        {"STAT\t", ParseError::bad_character},
        {"LIST\t1", ParseError::bad_character},
        {"USER a\rb", ParseError::bad_character},
        {"USER a\0b"s, ParseError::bad_character},
        {"PASS x\x7f", ParseError::bad_character},
        {"STAT\r", ParseError::bad_character},            // a bare CR left over by the line reader
        // Keywords.
        {"ST", ParseError::bad_keyword},
        {"STATS", ParseError::bad_keyword},
        {"RETR1", ParseError::bad_keyword},
        {"ST4T", ParseError::bad_keyword},
        {"\xc3\xa4TAT", ParseError::bad_keyword},
        {"APOP mrose c4c9334bac560ecc979e58001b3e22fb", ParseError::unknown_command},
        {"XTND XMIT", ParseError::unknown_command},
        {"HELO", ParseError::unknown_command},
        {"EHLO x", ParseError::unknown_command},
        // Missing and extra arguments.
        {"USER", ParseError::missing_argument},
        {"USER a b", ParseError::extra_argument},
        {"AUTH", ParseError::missing_argument},
        {"AUTH PLAIN a b", ParseError::extra_argument},
        {"STAT 1", ParseError::extra_argument},
        {"NOOP x", ParseError::extra_argument},
        {"QUIT now", ParseError::extra_argument},
        {"CAPA x", ParseError::extra_argument},
        {"STLS x", ParseError::extra_argument},
        {"LIST 1 2", ParseError::extra_argument},
        {"RETR", ParseError::missing_argument},
        {"RETR 1 2", ParseError::extra_argument},
        {"DELE", ParseError::missing_argument},
        {"TOP", ParseError::missing_argument},
        {"TOP 1", ParseError::missing_argument},
        {"TOP 1 2 3", ParseError::extra_argument},
        {"UIDL 1 2", ParseError::extra_argument},
        // Message numbers: 1..N, plain decimal, overflow detected.
        {"RETR 0", ParseError::no_such_message},
        {"RETR 00", ParseError::no_such_message},
        {"RETR 007", ParseError::none, Verb::retr, {"007"}, 7},
        {"RETR -1", ParseError::bad_number},
        {"RETR +1", ParseError::bad_number},
        {"RETR 1a", ParseError::bad_number},
        {"RETR 0x10", ParseError::bad_number},
        {"RETR 1.0", ParseError::bad_number},
        {"RETR \xd9\xa1", ParseError::bad_number},           // ARABIC-INDIC DIGIT ONE is not a digit here
        {"DELE 18446744073709551615", ParseError::none, Verb::dele, {"18446744073709551615"},
         std::numeric_limits<std::uint64_t>::max()},
        {"DELE 18446744073709551616", ParseError::no_such_message},
        {"DELE 99999999999999999999999999999999999999", ParseError::no_such_message},
        {"DELE 99999999999999999999x", ParseError::bad_number},
        {"LIST 0", ParseError::no_such_message},
        {"UIDL -3", ParseError::bad_number},
        {"TOP 0 1", ParseError::no_such_message},
        {"TOP 1 -1", ParseError::bad_number},
        {"TOP 1 +1", ParseError::bad_number},
        {"TOP x 1", ParseError::bad_number},
        {"TOP 1 18446744073709551616", ParseError::number_too_large},
        {"TOP 1 18446744073709551615", ParseError::none, Verb::top, {"1", "18446744073709551615"}, 1,
         std::numeric_limits<std::uint64_t>::max()},
        // Length: 255 octets with CRLF (RFC 2449 4), so 253 without.
        {max_user, ParseError::none, Verb::user, {max_user.substr(5)}},
        {over_user, ParseError::too_long},
        {"PASS " + std::string(kMaxCommandText - 5, 'p'), ParseError::none, Verb::pass,
         {std::string(kMaxCommandText - 5, 'p')}},
        {"PASS " + std::string(kMaxCommandText, 'p'), ParseError::too_long},
        {std::string(100000, 'A'), ParseError::too_long},
        {"AUTH PLAIN " + std::string(kMaxCommandText, 'A'), ParseError::too_long},
    };
}

TEST(Pop3Parse, Table) {
    for (const auto& c : parse_cases()) {
        SCOPED_TRACE(::testing::PrintToString(c.input));
        ParseResult r = parse_command(c.input);
        EXPECT_EQ(r.error, c.error) << "got " << error_text(r.error);
        if (c.error != ParseError::none || r.error != ParseError::none) continue;
        EXPECT_EQ(r.command.verb, c.verb) << verb_name(r.command.verb);
        EXPECT_EQ(r.command.args, c.args);
        EXPECT_EQ(r.command.msg, c.msg);
        EXPECT_EQ(r.command.lines, c.lines);
    }
}

TEST(Pop3Parse, LimitConstants) {
    EXPECT_EQ(kMaxCommandLine, 255u);       // RFC 2449 4
    EXPECT_EQ(kMaxCommandText, 253u);
    EXPECT_GE(kMaxAuthLine, kMaxCommandLine);
    EXPECT_EQ(kMaxUniqueId, 70u);           // RFC 1939 7
    // Every keyword is within kMinKeyword..kMaxKeyword and survives a round trip through the parser.
    for (Verb v : {Verb::user, Verb::pass, Verb::auth, Verb::stat, Verb::list, Verb::retr, Verb::dele,
                   Verb::noop, Verb::rset, Verb::quit, Verb::top, Verb::uidl, Verb::capa, Verb::stls}) {
        std::string_view name = verb_name(v);
        EXPECT_GE(name.size(), kMinKeyword);
        EXPECT_LE(name.size(), kMaxKeyword);
        ParseResult r = parse_command(name);
        EXPECT_TRUE(r.error == ParseError::none || r.error == ParseError::missing_argument) << name;
        if (r.ok()) {
            EXPECT_EQ(r.command.verb, v);
        }
    }
}

struct NumberCase {
    std::string input;
    ParseError error;
    std::uint64_t value = 0;
};

TEST(Pop3Parse, Numbers) {
    const std::vector<NumberCase> cases = {
        {"0", ParseError::none, 0},
        {"1", ParseError::none, 1},
        {"0042", ParseError::none, 42},
        {"18446744073709551615", ParseError::none, std::numeric_limits<std::uint64_t>::max()},
        {"18446744073709551616", ParseError::number_too_large},
        {"18446744073709551620", ParseError::number_too_large},
        {"184467440737095516150", ParseError::number_too_large},
        {std::string(300, '9'), ParseError::number_too_large},
        {"", ParseError::bad_number},
        {"-0", ParseError::bad_number},
        {"+5", ParseError::bad_number},
        {" 5", ParseError::bad_number},
        {"5 ", ParseError::bad_number},
        {"1e3", ParseError::bad_number},
        {std::string(300, '9') + "x", ParseError::bad_number},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.input);
        NumberResult r = parse_number(c.input);
        EXPECT_EQ(r.error, c.error);
        if (c.error == ParseError::none) {
            EXPECT_EQ(r.value, c.value);
        }
    }
}

TEST(Pop3Parse, ErrorTextsAreShortAndDistinct) {
    for (ParseError e : {ParseError::empty, ParseError::too_long, ParseError::bad_keyword,
                         ParseError::unknown_command, ParseError::bad_spacing, ParseError::bad_character,
                         ParseError::missing_argument, ParseError::extra_argument, ParseError::bad_number,
                         ParseError::no_such_message, ParseError::number_too_large}) {
        std::string_view t = error_text(e);
        EXPECT_FALSE(t.empty());
        EXPECT_LT(t.size(), 80u);
    }
    EXPECT_EQ(error_text(ParseError::too_long), "line too long");
    EXPECT_EQ(error_text(ParseError::no_such_message), "no such message");
}

struct ReplyCase {
    Reply reply;
    std::string want;
};

TEST(Pop3Reply, Format) {
    const std::vector<ReplyCase> cases = {
        {Reply::success("mailkeep POP3 ready"), "+OK mailkeep POP3 ready\r\n"},
        {Reply::success(""), "+OK\r\n"},
        {Reply::failure("no such message"), "-ERR no such message\r\n"},
        {Reply::failure("invalid credentials", RespCode::auth), "-ERR [AUTH] invalid credentials\r\n"},
        {Reply::failure("maildrop already locked", RespCode::in_use), "-ERR [IN-USE] maildrop already locked\r\n"},
        {Reply::failure("message gone", RespCode::sys_temp), "-ERR [SYS/TEMP] message gone\r\n"},
        {Reply::failure("x", RespCode::sys_perm), "-ERR [SYS/PERM] x\r\n"},
        {Reply::failure("x", RespCode::login_delay), "-ERR [LOGIN-DELAY] x\r\n"},
        // A code on +OK is meaningless and not sent; CR/LF cannot forge a second line.
        {Reply{true, RespCode::auth, "ok"}, "+OK ok\r\n"},
        {Reply::failure("a\r\n+OK b"), "-ERR a  +OK b\r\n"},
    };
    for (const auto& c : cases) EXPECT_EQ(format_reply(c.reply), c.want);
}

struct TopCase {
    std::string input;
    std::uint64_t lines;
    std::string want;   // dot-stuffed and terminated
};

std::string top_bytewise(std::string_view in, std::uint64_t lines) {
    TopFilter f(lines);
    DotStuffer s;
    std::string out;
    for (char c : in) {
        if (f.done()) break;
        s.feed(f.feed(std::string_view(&c, 1)), out);
    }
    s.finish(out);
    return out;
}

TEST(Pop3Top, Table) {
    const std::string msg = "From: a\r\nSubject: s\r\n\r\nl1\r\n.l2\r\nl3\r\n";
    const std::vector<TopCase> cases = {
        {msg, 0, "From: a\r\nSubject: s\r\n\r\n.\r\n"},
        {msg, 1, "From: a\r\nSubject: s\r\n\r\nl1\r\n.\r\n"},
        {msg, 2, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\n.\r\n"},
        {msg, 3, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n"},
        {msg, 4, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n"},   // more than the body: all
        {msg, std::numeric_limits<std::uint64_t>::max(), dot_stuff(msg)},
        {"From: a\r\n\r\nb1\r\nb2", 5, "From: a\r\n\r\nb1\r\nb2\r\n.\r\n"},      // last line without CRLF
        {"From: a\r\n\r\nb1\r\nb2", 2, "From: a\r\n\r\nb1\r\nb2\r\n.\r\n"},
        {"From: a\r\n\r\nb1\r\nb2", 1, "From: a\r\n\r\nb1\r\n.\r\n"},
        {"From: a\r\n", 0, "From: a\r\n.\r\n"},                                  // no body at all
        {"From: a", 0, "From: a\r\n.\r\n"},
        {"", 0, ".\r\n"},
        {"", 3, ".\r\n"},
        {"\r\nbody\r\n", 0, "\r\n.\r\n"},                                         // empty header
        {"\r\nbody\r\n", 1, "\r\nbody\r\n.\r\n"},
        {"A: b\n\nc\nd\n", 1, "A: b\r\n\r\nc\r\n.\r\n"},                           // bare LF message
        {"A: b\r\n \r\nc\r\n\r\nd\r\n", 0, "A: b\r\n \r\nc\r\n\r\n.\r\n"},          // " " is not blank
        {"A: b\r\n\r\n\r\n\r\nx\r\n", 2, "A: b\r\n\r\n\r\n\r\n.\r\n"},              // blank body lines count
        {"A: b\r\n\r\r\nc\r\n\r\nd\r\n", 0, "A: b\r\n\r\r\nc\r\n\r\n.\r\n"},        // "\r\r\n" is not blank
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(::testing::PrintToString(c.input) + " n=" + std::to_string(c.lines));
        EXPECT_EQ(top_of(c.input, c.lines), c.want);
        EXPECT_EQ(top_bytewise(c.input, c.lines), c.want);
    }
}

TEST(Pop3Top, StopsReading) {
    TopFilter f(1);
    EXPECT_EQ(f.feed("H: v\r\n\r\nb1\r\nb2\r\n"), "H: v\r\n\r\nb1\r\n");
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.feed("more\r\n"), "");
}

struct UidCase {
    std::string uid;
    bool verbatim;
};

TEST(Pop3UniqueId, ValidPassesInvalidIsHashedStably) {
    const std::vector<UidCase> cases = {
        {"1700000000.M123456P42Q1.mail", true},
        {std::string(70, 'x'), true},
        {"!~", true},
        {std::string(71, 'x'), false},
        {"", false},
        {"has space", false},
        {"tab\there", false},
        {"caf\xc3\xa9", false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.uid);
        std::string id = unique_id(c.uid);
        if (c.verbatim) {
            EXPECT_EQ(id, c.uid);
        }
        EXPECT_FALSE(id.empty());
        EXPECT_LE(id.size(), kMaxUniqueId);
        for (char ch : id) {
            EXPECT_GE(static_cast<unsigned char>(ch), 0x21);
            EXPECT_LE(static_cast<unsigned char>(ch), 0x7e);
        }
        EXPECT_EQ(unique_id(c.uid), id);   // stable
    }
    EXPECT_NE(unique_id(std::string(71, 'x')), unique_id(std::string(72, 'x')));
    // Pinned: a client keeps UIDLs across sessions and upgrades, so the digest must never change.
    EXPECT_EQ(unique_id("has space"), "h87b63736d44503497e4086ce50cb4c32");
}

}  // namespace
}  // namespace mk::pop3
