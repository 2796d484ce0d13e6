// tests/unit/test_imap_response.cpp — the IMAP response parser: tables of {server bytes, want}, each
// fed whole and one byte at a time; literals split across reads; hostile inputs; the encoders.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/response.hpp"

namespace mk::imap {
namespace {

using namespace std::string_literals;

constexpr std::uint64_t kTestMaxLiteral = 1024 * 1024;

struct Outcome {
    bool complete = false;
    ParseError error = ParseError::none;
    std::size_t consumed = 0;
    Response response;
    std::string body;
    std::vector<BodyPiece> pieces;   // data views cleared (they point into the input)
    std::vector<std::size_t> piece_sizes;
    bool operator==(const Outcome& o) const {
        return complete == o.complete && error == o.error && consumed == o.consumed && response == o.response &&
               body == o.body;
    }
};

// feed_in - feed in chunks of at most chunk bytes (0: all at once) until the first response ends.
Outcome feed_in(std::string_view in, std::size_t chunk, std::uint64_t max_literal = kTestMaxLiteral) {
    Outcome o;
    ResponseParser p(max_literal);
    auto sink = [&](const BodyPiece& piece) {
        o.body.append(piece.data);
        BodyPiece meta = piece;
        meta.data = {};
        meta.item = {};
        o.pieces.push_back(meta);
        o.piece_sizes.push_back(piece.data.size());
    };
    std::size_t pos = 0;
    while (pos < in.size() && !p.done() && !p.failed()) {
        std::size_t n = chunk == 0 ? in.size() - pos : std::min(chunk, in.size() - pos);
        pos += p.feed(in.substr(pos, n), sink);
    }
    o.complete = p.done();
    o.error = p.error();
    o.consumed = pos;
    if (p.done()) o.response = p.take();
    return o;
}

// both - parse whole and byte by byte; the two must agree exactly.
Outcome both(std::string_view in, std::uint64_t max_literal = kTestMaxLiteral) {
    Outcome whole = feed_in(in, 0, max_literal);
    Outcome bytes = feed_in(in, 1, max_literal);
    EXPECT_EQ(whole, bytes) << "whole and byte-by-byte differ for: " << in.substr(0, 200);
    return whole;
}

struct Case {
    std::string input;
    ParseError error = ParseError::none;
    Kind kind = Kind::untagged;
    std::string tag = "";
    Status status = Status::none;
    std::string name = "";
    std::optional<std::uint32_t> number = std::nullopt;
    std::string code = "";
    std::optional<std::uint32_t> code_number = std::nullopt;
    std::string text = "";
    std::vector<std::string> caps = {};
};

std::vector<Case> cases() {
    return {
        // Greetings and status responses (RFC 3501 7.1).
        {"* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN] Dovecot ready.\r\n", ParseError::none,
         Kind::untagged, "", Status::ok, "OK", {}, "CAPABILITY", {}, "Dovecot ready.",
         {"IMAP4REV1", "SASL-IR", "STARTTLS", "AUTH=PLAIN"}},
        {"* PREAUTH IMAP4rev1 server logged in as Smith\r\n", ParseError::none, Kind::untagged, "", Status::preauth,
         "PREAUTH", {}, "", {}, "IMAP4rev1 server logged in as Smith"},
        {"* BYE Autologout; idle for too long\r\n", ParseError::none, Kind::untagged, "", Status::bye, "BYE", {}, "",
         {}, "Autologout; idle for too long"},
        {"* ok [uidvalidity 3857529045] UIDs valid\r\n", ParseError::none, Kind::untagged, "", Status::ok, "OK", {},
         "UIDVALIDITY", 3857529045u, "UIDs valid"},
        {"* OK [UIDNEXT 4392] Predicted next UID\r\n", ParseError::none, Kind::untagged, "", Status::ok, "OK", {},
         "UIDNEXT", 4392, "Predicted next UID"},
        {"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n", ParseError::none, Kind::untagged, "",
         Status::ok, "OK", {}, "PERMANENTFLAGS", {}, "Limited"},
        {"* NO [ALERT] Disk quota nearly exceeded\r\n", ParseError::none, Kind::untagged, "", Status::no, "NO", {},
         "ALERT", {}, "Disk quota nearly exceeded"},
        {"A001 OK [READ-WRITE] SELECT completed\r\n", ParseError::none, Kind::tagged, "A001", Status::ok, "OK", {},
         "READ-WRITE", {}, "SELECT completed"},
        {"A002 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", ParseError::none, Kind::tagged, "A002",
         Status::no, "NO", {}, "AUTHENTICATIONFAILED", {}, "Authentication failed."},
        {"A003 BAD Error in IMAP command received by server.\r\n", ParseError::none, Kind::tagged, "A003",
         Status::bad, "BAD", {}, "", {}, "Error in IMAP command received by server."},
        {"A004 OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] Logged in\r\n", ParseError::none, Kind::tagged, "A004",
         Status::ok, "OK", {}, "CAPABILITY", {}, "Logged in", {"IMAP4REV1", "IDLE", "UIDPLUS"}},
        {"A5 OK\r\n", ParseError::none, Kind::tagged, "A5", Status::ok, "OK"},             // no text: tolerated
        {"A6 OK [ALERT]\r\n", ParseError::none, Kind::tagged, "A6", Status::ok, "OK", {}, "ALERT"},
        // Status text is free text: braces, quotes and parentheses mean nothing there.
        {"* OK see {5}\r\n", ParseError::none, Kind::untagged, "", Status::ok, "OK", {}, "", {}, "see {5}"},
        {"A7 NO don\"t (worry\r\n", ParseError::none, Kind::tagged, "A7", Status::no, "NO", {}, "", {},
         "don\"t (worry"},
        {"* OK caf\xc3\xa9 ready\r\n", ParseError::none, Kind::untagged, "", Status::ok, "OK", {}, "", {},
         "caf\xc3\xa9 ready"},
        // Continuations (RFC 3501 7.5).
        {"+ idling\r\n", ParseError::none, Kind::continuation, "", Status::none, "", {}, "", {}, "idling"},
        {"+ dGVzdA==\r\n", ParseError::none, Kind::continuation, "", Status::none, "", {}, "", {}, "dGVzdA=="},
        {"+ \r\n", ParseError::none, Kind::continuation},
        {"+\r\n", ParseError::none, Kind::continuation},
        {"+ Ready for literal {5}\r\n", ParseError::none, Kind::continuation, "", Status::none, "", {}, "", {},
         "Ready for literal {5}"},
        // Data responses (RFC 3501 7.2-7.4).
        {"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n", ParseError::none, Kind::untagged, "", Status::none,
         "CAPABILITY", {}, "", {}, "", {"IMAP4REV1", "STARTTLS", "LOGINDISABLED"}},
        {"* CAPABILITY\r\n", ParseError::none, Kind::untagged, "", Status::none, "CAPABILITY"},
        {"* 23 EXISTS\r\n", ParseError::none, Kind::untagged, "", Status::none, "EXISTS", 23},
        {"* 0 EXISTS\r\n", ParseError::none, Kind::untagged, "", Status::none, "EXISTS", 0},
        {"* 5 recent\r\n", ParseError::none, Kind::untagged, "", Status::none, "RECENT", 5},
        {"* 44 EXPUNGE\r\n", ParseError::none, Kind::untagged, "", Status::none, "EXPUNGE", 44},
        {"* 4294967295 EXISTS\r\n", ParseError::none, Kind::untagged, "", Status::none, "EXISTS", 4294967295u},
        {"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n", ParseError::none, Kind::untagged, "",
         Status::none, "FLAGS"},
        {"* SEARCH 2 84 882 \r\n", ParseError::none, Kind::untagged, "", Status::none, "SEARCH"},
        {"* ID (\"name\" \"Dovecot\")\r\n", ParseError::none, Kind::untagged, "", Status::none, "ID"},
        // Broken framing.
        {"* OK bare lf\n", ParseError::bad_line_end},
        {"* OK bare\rcr\r\n", ParseError::bad_line_end},
        {"* OK nul \0 inside\r\n"s, ParseError::bad_character},
        // Broken grammar.
        {"\r\n", ParseError::bad_tag},
        {"(1 OK x\r\n", ParseError::bad_tag},
        {"A+1 OK x\r\n", ParseError::bad_tag},
        {"A1\r\n", ParseError::bad_tag},
        {"A1 PREAUTH x\r\n", ParseError::bad_status},
        {"A1 BYE x\r\n", ParseError::bad_status},
        {"A1 FETCH x\r\n", ParseError::bad_status},
        {"*\r\n", ParseError::bad_syntax},
        {"*  OK\r\n", ParseError::bad_syntax},
        {"* 3 EXISTS junk\r\n", ParseError::bad_syntax},
        {"* 4294967296 EXISTS\r\n", ParseError::bad_number},
        {"* 0 FETCH (UID 1)\r\n", ParseError::bad_number},
        {"* OK [UIDVALIDITY abc] x\r\n", ParseError::bad_response_code},
        {"* OK [UIDVALIDITY 0] x\r\n", ParseError::bad_response_code},
        {"* OK [UIDNEXT 4294967296] x\r\n", ParseError::bad_response_code},
        {"* OK [ALERT without end\r\n", ParseError::bad_response_code},
        {"* OK [] x\r\n", ParseError::bad_response_code},
        {"* FLAGS (\\Seen\r\n", ParseError::bad_syntax},
        {"* FLAGS \\Seen)\r\n", ParseError::bad_syntax},
        {"* CAPABILITY IMAP4rev1 (x)\r\n", ParseError::bad_syntax},
        {"* LIST () \"/ INBOX\r\n", ParseError::unterminated_quote},
        {"* LIST () \"\\a\" INBOX\r\n", ParseError::bad_quote_escape},
        {"* LIST () \"/\" {5} x\r\n", ParseError::bad_literal},     // "{5}" not at the line end: no literal
        {"* X {x}\r\n", ParseError::bad_literal},
        {"* 1 FETCH (UID 7 BODY[] \"x\" {x}\r\n", ParseError::bad_syntax},
    };
}

TEST(ImapResponse, Table) {
    for (const auto& c : cases()) {
        SCOPED_TRACE(c.input);
        Outcome o = both(c.input);
        EXPECT_EQ(o.error, c.error) << error_text(o.error);
        if (c.error != ParseError::none) {
            EXPECT_FALSE(o.complete);
            continue;
        }
        ASSERT_TRUE(o.complete);
        EXPECT_EQ(o.consumed, c.input.size());
        const Response& r = o.response;
        EXPECT_EQ(r.kind, c.kind);
        EXPECT_EQ(r.tag, c.tag);
        EXPECT_EQ(r.status, c.status);
        EXPECT_EQ(r.name, c.name);
        EXPECT_EQ(r.number, c.number);
        EXPECT_EQ(r.code.name, c.code);
        EXPECT_EQ(r.code.number, c.code_number);
        EXPECT_EQ(r.text, c.text);
        EXPECT_EQ(r.capabilities, c.caps);
    }
}

TEST(ImapResponse, StopsAtTheEndOfOneResponse) {
    std::string two = "* 3 EXISTS\r\n* 1 RECENT\r\n";
    Outcome o = both(two);
    ASSERT_TRUE(o.complete);
    EXPECT_EQ(o.consumed, 12u);
    EXPECT_EQ(o.response.number, 3u);

    // And goes on with the next one after take().
    ResponseParser p(kTestMaxLiteral);
    std::size_t used = p.feed(two, {});
    ASSERT_TRUE(p.done());
    EXPECT_EQ(p.feed("ignored", {}), 0u);   // nothing more is taken until take()
    Response first = p.take();
    EXPECT_EQ(first.name, "EXISTS");
    used += p.feed(std::string_view(two).substr(used), {});
    ASSERT_TRUE(p.done());
    EXPECT_EQ(used, two.size());
    EXPECT_EQ(p.take().name, "RECENT");
}

TEST(ImapResponse, FetchSizes) {
    Outcome o = both("* 12 FETCH (UID 4827313 RFC822.SIZE 44827 FLAGS (\\Seen $Forwarded))\r\n");
    ASSERT_TRUE(o.complete) << error_text(o.error);
    const Response& r = o.response;
    EXPECT_EQ(r.name, "FETCH");
    EXPECT_EQ(r.number, 12u);
    EXPECT_EQ(r.fetch_uid(), 4827313u);
    ASSERT_NE(r.item("RFC822.SIZE"), nullptr);
    EXPECT_EQ(r.item("RFC822.SIZE")->value.number, 44827u);
    const FetchItem* flags = r.item("FLAGS");
    ASSERT_NE(flags, nullptr);
    ASSERT_EQ(flags->value.kind, ValueKind::list);
    ASSERT_EQ(flags->value.list.size(), 2u);
    EXPECT_EQ(flags->value.list[0].text, "\\Seen");
    EXPECT_EQ(flags->value.list[1].text, "$Forwarded");
    // RFC 9051 number64 sizes; lower-case item names.
    Outcome big = both("* 1 FETCH (uid 1 rfc822.size 6000000000)\r\n");
    ASSERT_TRUE(big.complete);
    EXPECT_EQ(big.response.item("RFC822.SIZE")->value.number, 6000000000u);
    // Unsolicited flag changes have no UID.
    Outcome flags_only = both("* 3 FETCH (FLAGS (\\Deleted))\r\n");
    ASSERT_TRUE(flags_only.complete);
    EXPECT_FALSE(flags_only.response.fetch_uid());
    EXPECT_EQ(both("* 1 FETCH (UID 0)\r\n").error, ParseError::bad_number);
    EXPECT_EQ(both("* 1 FETCH (UID 4294967296)\r\n").error, ParseError::bad_number);
    EXPECT_EQ(both("* 1 FETCH (UID x)\r\n").error, ParseError::bad_number);
    EXPECT_EQ(both("* 1 FETCH (UID 1\r\n").error, ParseError::bad_syntax);
    EXPECT_EQ(both("* 1 FETCH (UID 1) x\r\n").error, ParseError::bad_syntax);
    EXPECT_EQ(both("* 1 FETCH UID 1\r\n").error, ParseError::bad_syntax);
}

TEST(ImapResponse, BodyLiteralGoesToTheSink) {
    std::string body = "From: a@example.org\r\nSubject: {5}\r\n\r\n(unbalanced \"quote\r\n* 3 EXISTS\r\n";
    std::string in = "* 2 FETCH (UID 9 BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + " FLAGS (\\Seen))\r\n";
    Outcome o = both(in);
    ASSERT_TRUE(o.complete) << error_text(o.error);
    EXPECT_EQ(o.consumed, in.size());
    EXPECT_EQ(o.body, body);
    const FetchItem* item = o.response.item("BODY[]");
    ASSERT_NE(item, nullptr);
    EXPECT_EQ(item->value.kind, ValueKind::body);
    EXPECT_EQ(item->value.number, body.size());
    EXPECT_TRUE(item->value.text.empty());   // never kept
    EXPECT_EQ(o.response.fetch_uid(), 9u);
    ASSERT_NE(o.response.item("FLAGS"), nullptr);
    // Fed byte by byte, one piece per byte, each saying where it belongs.
    Outcome bytes = feed_in(in, 1);
    ASSERT_EQ(bytes.pieces.size(), body.size());
    for (std::size_t i = 0; i < bytes.pieces.size(); ++i) {
        EXPECT_EQ(bytes.pieces[i].offset, i);
        EXPECT_EQ(bytes.pieces[i].size, body.size());
        EXPECT_EQ(bytes.pieces[i].seq, 2u);
        EXPECT_EQ(bytes.pieces[i].uid, 9u);
    }
}

TEST(ImapResponse, LiteralsSplitAcrossReads) {
    // 200 KB, more than kMaxInlineLiterals: it can only pass by being streamed.
    std::string body;
    for (int i = 0; body.size() < 200 * 1024; ++i) body += "line " + std::to_string(i) + " \xe4\xf6\xfc\r\n";
    std::string in = "* 1 FETCH (UID 3 BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + ")\r\nA9 OK done\r\n";
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 1000u, 4096u, 16384u, 65536u, 0u}) {
        SCOPED_TRACE(chunk);
        Outcome o = feed_in(in, chunk);
        ASSERT_TRUE(o.complete) << error_text(o.error);
        EXPECT_EQ(o.body, body);
        EXPECT_EQ(o.consumed, in.size() - std::string_view("A9 OK done\r\n").size());
        // Contiguous pieces, none larger than what one read delivered.
        std::uint64_t expect_offset = 0;
        for (std::size_t i = 0; i < o.pieces.size(); ++i) {
            EXPECT_EQ(o.pieces[i].offset, expect_offset);
            EXPECT_GT(o.piece_sizes[i], 0u);
            if (chunk != 0) {
                EXPECT_LE(o.piece_sizes[i], chunk);
            }
            expect_offset += o.piece_sizes[i];
        }
        EXPECT_EQ(expect_offset, body.size());
    }
    // Cut right after "{", inside the digits, between CR and LF of the marker.
    for (std::size_t cut = 20; cut < 40; ++cut) {
        ResponseParser p(kTestMaxLiteral);
        std::string got;
        auto sink = [&](const BodyPiece& piece) { got.append(piece.data); };
        std::size_t used = p.feed(std::string_view(in).substr(0, cut), sink);
        EXPECT_EQ(used, cut);
        used += p.feed(std::string_view(in).substr(cut), sink);
        ASSERT_TRUE(p.done()) << cut;
        EXPECT_EQ(got, body);
    }
}

TEST(ImapResponse, BodyForms) {
    // Empty literal, quoted string, NIL, a section with a partial origin.
    Outcome empty = both("* 1 FETCH (UID 5 BODY[] {0}\r\n)\r\n");
    ASSERT_TRUE(empty.complete) << error_text(empty.error);
    EXPECT_EQ(empty.response.item("BODY[]")->value.kind, ValueKind::body);
    EXPECT_EQ(empty.response.item("BODY[]")->value.number, 0u);
    EXPECT_TRUE(empty.body.empty());

    Outcome quoted = both("* 1 FETCH (BODY[] \"Subject: \\\"hi\\\"\" UID 5)\r\n");
    ASSERT_TRUE(quoted.complete) << error_text(quoted.error);
    EXPECT_EQ(quoted.body, "Subject: \"hi\"");
    ASSERT_EQ(quoted.pieces.size(), 1u);
    EXPECT_EQ(quoted.pieces[0].uid, 5u);   // the whole FETCH is known before a quoted body is handed over

    Outcome nil = both("* 1 FETCH (UID 5 BODY[] NIL)\r\n");
    ASSERT_TRUE(nil.complete);
    EXPECT_EQ(nil.response.item("BODY[]")->value.kind, ValueKind::nil);

    Outcome section = both("* 1 FETCH (UID 5 BODY[HEADER.FIELDS (From \"X-A]\")]<0> {3}\r\nabc)\r\n");
    ASSERT_TRUE(section.complete) << error_text(section.error);
    EXPECT_NE(section.response.item("BODY[HEADER.FIELDS (FROM \"X-A]\")]<0>"), nullptr);
    EXPECT_EQ(section.body, "abc");

    Outcome rfc822 = both("* 1 FETCH (RFC822 {2}\r\nhi UID 5)\r\n");
    ASSERT_TRUE(rfc822.complete);
    EXPECT_EQ(rfc822.body, "hi");
    ASSERT_EQ(rfc822.pieces.size(), 1u);
    EXPECT_FALSE(rfc822.pieces[0].uid);   // UID after the body: the caller checks it at the end

    EXPECT_EQ(both("* 1 FETCH (BODY[] 12)\r\n").error, ParseError::bad_syntax);
}

TEST(ImapResponse, InlineLiterals) {
    // A literal that is not a body is kept, CR LF and NUL included.
    std::string in = "* LIST (\\HasNoChildren) \"/\" {6}\r\nIN\"B\0X\r\n"s;
    Outcome o = both(in);
    ASSERT_TRUE(o.complete) << error_text(o.error);
    ASSERT_EQ(o.response.values.size(), 3u);
    EXPECT_EQ(o.response.values[2].kind, ValueKind::string);
    EXPECT_EQ(o.response.values[2].text, "IN\"B\0X"s);
    EXPECT_TRUE(o.body.empty());
    // Literals inside a FETCH that are not body items (ENVELOPE strings) are kept too.
    Outcome env = both("* 1 FETCH (ENVELOPE (NIL {4}\r\nSubj NIL) UID 2)\r\n");
    ASSERT_TRUE(env.complete) << error_text(env.error);
    ASSERT_NE(env.response.item("ENVELOPE"), nullptr);
    EXPECT_EQ(env.response.item("ENVELOPE")->value.list.at(1).text, "Subj");
    EXPECT_TRUE(env.body.empty());
    // Two literals in one response.
    Outcome two = both("* 1 FETCH (UID 2 BODY[1] {1}\r\na BODY[2] {2}\r\nbc)\r\n");
    ASSERT_TRUE(two.complete) << error_text(two.error);
    EXPECT_EQ(two.body, "abc");
}

TEST(ImapResponse, QuotedStrings) {
    Outcome o = both("* LIST () \"a\\\"b\\\\c\" \"\"\r\n");
    ASSERT_TRUE(o.complete) << error_text(o.error);
    ASSERT_EQ(o.response.values.size(), 3u);
    EXPECT_EQ(o.response.values[1].text, "a\"b\\c");
    EXPECT_EQ(o.response.values[2].text, "");
    EXPECT_EQ(o.response.values[2].kind, ValueKind::string);
    Outcome nil = both("* X NIL nil \"NIL\" 42 atom\r\n");
    ASSERT_TRUE(nil.complete);
    ASSERT_EQ(nil.response.values.size(), 5u);
    EXPECT_EQ(nil.response.values[0].kind, ValueKind::nil);
    EXPECT_EQ(nil.response.values[1].kind, ValueKind::nil);
    EXPECT_EQ(nil.response.values[2].kind, ValueKind::string);
    EXPECT_EQ(nil.response.values[3].kind, ValueKind::number);
    EXPECT_EQ(nil.response.values[4].kind, ValueKind::atom);
    // A quoted string may not continue over a line end, even before a "literal".
    EXPECT_EQ(both("* X \"abc {3}\r\nabc\"\r\n").error, ParseError::unterminated_quote);
    EXPECT_EQ(both("* X \"abc\\\r\n").error, ParseError::unterminated_quote);
}

// ---- Hostile servers ----

TEST(ImapResponse, HugeLiteralSizes) {
    EXPECT_EQ(both("* 1 FETCH (BODY[] {99999999999999999999999999}\r\n").error, ParseError::literal_too_large);
    EXPECT_EQ(both("* 1 FETCH (BODY[] {18446744073709551616}\r\n").error, ParseError::literal_too_large);
    EXPECT_EQ(both("* 1 FETCH (BODY[] {18446744073709551615}\r\n").error, ParseError::literal_too_large);
    // Over the caller's limit, at the limit.
    EXPECT_EQ(both("* 1 FETCH (BODY[] {101}\r\n", 100).error, ParseError::literal_too_large);
    std::string at_limit = "* 1 FETCH (BODY[] {100}\r\n" + std::string(100, 'x') + ")\r\n";
    EXPECT_TRUE(both(at_limit, 100).complete);
    // A literal that is not a body is bounded by kMaxInlineLiterals, whatever the caller allows.
    std::string too_big = "* LIST () \"/\" {" + std::to_string(kMaxInlineLiterals + 1) + "}\r\n";
    EXPECT_EQ(both(too_big).error, ParseError::literal_too_large);
    std::string fits = "* LIST () \"/\" {" + std::to_string(kMaxInlineLiterals) + "}\r\n" +
                       std::string(kMaxInlineLiterals, 'm') + "\r\n";
    Outcome ok = feed_in(fits, 4096);
    ASSERT_TRUE(ok.complete) << error_text(ok.error);
    // The budget is for all of a response's literals together.
    std::string split = "* X {40000}\r\n" + std::string(40000, 'a') + " {40000}\r\n";
    EXPECT_EQ(feed_in(split, 4096).error, ParseError::literal_too_large);
}

// A body may arrive as a literal, a quoted string or NIL (RFC 3501 9: nstring); the caller's limit
// holds for every form alike, and a body over it is the same error whichever form it came in,
// with nothing handed to the sink.
TEST(ImapResponse, BodyLimitHoldsForEveryForm) {
    const std::string at(100, 'q'), over(101, 'q');
    Outcome literal_at = both("* 1 FETCH (BODY[] {100}\r\n" + at + ")\r\n", 100);
    ASSERT_TRUE(literal_at.complete) << error_text(literal_at.error);
    EXPECT_EQ(literal_at.body, at);
    Outcome quoted_at = both("* 1 FETCH (BODY[] \"" + at + "\")\r\n", 100);
    ASSERT_TRUE(quoted_at.complete) << error_text(quoted_at.error);
    EXPECT_EQ(quoted_at.body, at);

    for (const std::string& body_item : {"BODY[]"s, "BODY[TEXT]"s, "RFC822"s, "BINARY[]"s}) {
        SCOPED_TRACE(body_item);
        Outcome literal_over = both("* 1 FETCH (" + body_item + " {101}\r\n" + over + ")\r\n", 100);
        EXPECT_EQ(literal_over.error, ParseError::literal_too_large);
        EXPECT_TRUE(literal_over.body.empty());
        Outcome quoted_over = both("* 1 FETCH (UID 3 " + body_item + " \"" + over + "\")\r\n", 100);
        EXPECT_FALSE(quoted_over.complete);
        EXPECT_EQ(quoted_over.error, ParseError::literal_too_large);
        EXPECT_TRUE(quoted_over.body.empty());
    }
    // A quoted body within the limit is not handed over when a later one in the response is over it.
    Outcome second_over = both("* 1 FETCH (BODY[1] \"ok\" BODY[2] \"" + over + "\")\r\n", 100);
    EXPECT_EQ(second_over.error, ParseError::literal_too_large);
    EXPECT_TRUE(second_over.body.empty());
    // NIL has no octets: within any limit.
    EXPECT_TRUE(both("* 1 FETCH (UID 3 BODY[] NIL)\r\n", 0).complete);
    // fuzz_imap_response's find (seed quoted_body_over_limit): a 4-octet quoted body, limit 0.
    EXPECT_EQ(both("* 1 FETCH (UI? 4 BODY[] \"/((\x1d\")\r\nh ", 0).error, ParseError::literal_too_large);
    // literal8 (RFC 3516 "~{n}") is never asked for (the client fetches BODY.PEEK[]): it is refused.
    Outcome literal8 = both("* 1 FETCH (BINARY[] ~{101}\r\n" + over + ")\r\n", 100);
    EXPECT_FALSE(literal8.complete);
    EXPECT_TRUE(literal8.body.empty());
}

TEST(ImapResponse, TooManyLiterals) {
    std::string in = "* X";
    for (std::size_t i = 0; i < kMaxLiterals; ++i) in += " {1}\r\na";
    Outcome ok = feed_in(in + "\r\n", 0);
    ASSERT_TRUE(ok.complete) << error_text(ok.error);
    EXPECT_EQ(ok.response.values.size(), kMaxLiterals);
    EXPECT_EQ(feed_in(in + " {1}\r\na\r\n", 0).error, ParseError::bad_literal);
}

TEST(ImapResponse, LongLines) {
    std::string fits = "* OK " + std::string(kMaxLine - 5, 'x') + "\r\n";
    Outcome ok = feed_in(fits, 0);
    ASSERT_TRUE(ok.complete);
    EXPECT_EQ(ok.response.text.size(), kMaxLine - 5);
    std::string over = "* OK " + std::string(kMaxLine - 4, 'x') + "\r\n";
    Outcome whole = feed_in(over, 0);
    Outcome pieces = feed_in(over, 1000);
    EXPECT_EQ(whole.error, ParseError::line_too_long);
    EXPECT_EQ(whole, pieces);
    EXPECT_EQ(whole.consumed, kMaxLine);
    // The bound is on the response, not per line: literals do not reset it.
    std::string many = "* X";
    while (many.size() < kMaxLine) many += " " + std::string(1000, 'a') + " {0}\r\n";
    EXPECT_EQ(feed_in(many + "\r\n", 0).error, ParseError::line_too_long);
    // A server that never ends its line is cut off at the bound, not buffered.
    ResponseParser p(kTestMaxLiteral);
    std::string chunk(16384, 'z');
    std::size_t fed = 0;
    for (int i = 0; i < 100 && !p.failed(); ++i) fed += p.feed(chunk, {});
    EXPECT_TRUE(p.failed());
    EXPECT_EQ(p.error(), ParseError::line_too_long);
    EXPECT_EQ(fed, kMaxLine);
}

TEST(ImapResponse, DeepNesting) {
    auto nested = [](std::size_t depth) {
        return "* X " + std::string(depth, '(') + "a" + std::string(depth, ')') + "\r\n";
    };
    EXPECT_TRUE(both(nested(kMaxDepth)).complete);
    EXPECT_EQ(both(nested(kMaxDepth + 1)).error, ParseError::too_deep);
    EXPECT_EQ(both(nested(10000)).error, ParseError::too_deep);
    // Inside FETCH the item list itself is the first level.
    std::string fetch = "* 1 FETCH (X " + std::string(kMaxDepth, '(') + std::string(kMaxDepth, ')') + ")\r\n";
    EXPECT_EQ(both(fetch).error, ParseError::too_deep);
    std::string unbalanced = "* X " + std::string(60000, '(') + "\r\n";
    EXPECT_EQ(feed_in(unbalanced, 0).error, ParseError::too_deep);
}

TEST(ImapResponse, GarbageNeverCrashes) {
    // Deterministic pseudo-random bytes biased towards IMAP's special characters, fed in odd chunks.
    const std::string alphabet = "* ()[]{}\"\\\r\n0123456789+AOKNFETCHUIDBODY<>.\0\xff"s;
    std::uint32_t x = 12345;
    for (int round = 0; round < 2000; ++round) {
        std::string in;
        std::size_t len = 1 + round % 200;
        for (std::size_t i = 0; i < len; ++i) {
            x = x * 1103515245 + 12345;
            in += alphabet[(x >> 16) % alphabet.size()];
        }
        Outcome a = feed_in(in, 0);
        Outcome b = feed_in(in, 1 + round % 5);
        EXPECT_EQ(a, b);
        EXPECT_LE(a.consumed, in.size());
    }
}

// ---- Encoders ----

TEST(ImapEncode, Quote) {
    EXPECT_EQ(quote("anna"), "\"anna\"");
    EXPECT_EQ(quote(""), "\"\"");
    EXPECT_EQ(quote("p\"a\\ss word"), "\"p\\\"a\\\\ss word\"");
    EXPECT_EQ(quote("a\rb"), std::nullopt);
    EXPECT_EQ(quote("a\nb"), std::nullopt);
    EXPECT_EQ(quote("a\0b"s), std::nullopt);
    EXPECT_EQ(quote("p\xc3\xa4ss"), std::nullopt);
    EXPECT_TRUE(needs_literal("p\xc3\xa4ss"));
    EXPECT_FALSE(needs_literal("plain"));
    EXPECT_FALSE(needs_literal("p\xc3\xa4ss\r\n"));
}

TEST(ImapEncode, Mailbox) {
    EXPECT_EQ(encode_mailbox("INBOX"), "INBOX");
    EXPECT_EQ(encode_mailbox("Tom & Jerry"), "Tom &- Jerry");
    EXPECT_EQ(encode_mailbox("Entw\xc3\xbcrfe"), "Entw&APw-rfe");
    // RFC 3501 5.1.3's own example.
    EXPECT_EQ(encode_mailbox("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
              "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    EXPECT_EQ(encode_mailbox("\xf0\x9f\x93\xa7"), "&2D3c5w-");   // outside the BMP: a surrogate pair
    EXPECT_EQ(encode_mailbox("a\rb"), std::nullopt);
    EXPECT_EQ(encode_mailbox("\xc3"), std::nullopt);          // truncated
    EXPECT_EQ(encode_mailbox("\xc0\xaf"), std::nullopt);      // overlong "/"
    EXPECT_EQ(encode_mailbox("\xed\xa0\x80"), std::nullopt);  // a surrogate
    EXPECT_EQ(encode_mailbox("\xf4\x90\x80\x80"), std::nullopt);
}

TEST(ImapEncode, UidSet) {
    EXPECT_EQ(uid_set({}), "");
    EXPECT_EQ(uid_set({7}), "7");
    EXPECT_EQ(uid_set({3, 1, 2, 2, 7, 9, 8}), "1:3,7:9");
    EXPECT_EQ(uid_set({1, 3, 5}), "1,3,5");
    EXPECT_EQ(uid_set({4294967295u, 4294967294u}), "4294967294:4294967295");
}

}  // namespace
}  // namespace mk::imap
