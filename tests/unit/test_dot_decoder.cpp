// tests/unit/test_dot_decoder.cpp — DATA decoding fed whole and one byte at a time.
#include <gtest/gtest.h>

#include "smtp/dot_decoder.hpp"

namespace mk::smtp {
namespace {

struct Outcome {
    bool done = false;
    std::size_t consumed = 0;
    std::string out;
    bool smuggling = false;
    bool too_long = false;
    bool operator==(const Outcome&) const = default;
};

Outcome whole(std::string_view in) {
    DotDecoder d;
    Outcome o;
    o.consumed = d.feed(in, o.out);
    o.done = d.done();
    o.smuggling = d.smuggling();
    o.too_long = d.line_too_long();
    return o;
}

Outcome bytewise(std::string_view in) {
    DotDecoder d;
    Outcome o;
    for (std::size_t i = 0; i < in.size() && !d.done(); ++i) o.consumed += d.feed(in.substr(i, 1), o.out);
    o.done = d.done();
    o.smuggling = d.smuggling();
    o.too_long = d.line_too_long();
    return o;
}

struct Case {
    std::string input;
    bool done;
    std::string out;
    bool smuggling;
    std::size_t consumed;   // 0 = all of the input
};

TEST(DotDecoder, Table) {
    const Case cases[] = {
        {"Subject: x\r\n\r\nhello\r\n.\r\n", true, "Subject: x\r\n\r\nhello\r\n", false, 0},
        {".\r\n", true, "", false, 0},
        {"..leading dot\r\n.\r\n", true, ".leading dot\r\n", false, 0},
        {"a\r\n.\r\nQUIT\r\n", true, "a\r\n", false, 6},
        {"bare\nlf\r\n.\r\n", true, "bare\r\nlf\r\n", false, 0},
        {"bare\rcr\r\n.\r\n", true, "bare\rcr\r\n", false, 0},
        // SMTP smuggling (CVE-2023-51766): none of these end the data, all are flagged.
        {"a\n.\nMAIL FROM:<x@y>\r\n.\r\n", true, "a\r\n\r\nMAIL FROM:<x@y>\r\n", true, 0},
        {"a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", true, "a\r\n\r\nMAIL FROM:<x@y>\r\n", true, 0},
        {"a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", true, "a\r\n\r\nMAIL FROM:<x@y>\r\n", true, 0},
        {"a\r.\rMAIL FROM:<x@y>\r\n.\r\n", true, "a\r.\rMAIL FROM:<x@y>\r\n", true, 0},
        {"a\r.\r\nMAIL FROM:<x@y>\r\n.\r\n", true, "a\r.\r\nMAIL FROM:<x@y>\r\n", true, 0},
        {"no end\r\n", false, "no end\r\n", false, 0},
        {"no end\r\n.", false, "no end\r\n", false, 0},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.input);
        Outcome w = whole(c.input);
        EXPECT_EQ(w.done, c.done);
        EXPECT_EQ(w.out, c.out);
        EXPECT_EQ(w.smuggling, c.smuggling);
        EXPECT_EQ(w.consumed, c.consumed ? c.consumed : c.input.size());
        EXPECT_EQ(bytewise(c.input), w);
    }
}

TEST(DotDecoder, LineLengthLimitIsRfc5321) {
    std::string ok(kMaxTextLine, 'x');
    EXPECT_FALSE(whole(ok + "\r\n.\r\n").too_long);
    EXPECT_TRUE(whole(ok + "x\r\n.\r\n").too_long);
    EXPECT_TRUE(whole(ok + "x\r\n.\r\n").done);
    EXPECT_EQ(bytewise(ok + "x\r\n.\r\n"), whole(ok + "x\r\n.\r\n"));
}

// RFC 5321 4.5.2: the dot a client prepends to a line that begins with "." is transparency, not
// content, so a 998-octet line beginning with "." is legal though it is 1001 octets on the wire.
TEST(DotDecoder, StuffedDotIsNotCountedInTheLineLimit) {
    const std::string longest = "." + std::string(kMaxTextLine - 1, 'd');   // 998 octets of content
    const std::string wire = "." + longest + "\r\n.\r\n";                   // 999 + CRLF, then the end
    Outcome w = whole(wire);
    EXPECT_TRUE(w.done);
    EXPECT_FALSE(w.too_long);
    EXPECT_EQ(w.out, longest + "\r\n");
    EXPECT_EQ(bytewise(wire), w);

    const std::string over = "." + longest + "d\r\n.\r\n";                  // 999 octets of content
    EXPECT_TRUE(whole(over).too_long);
    EXPECT_TRUE(whole(over).done);
    EXPECT_EQ(bytewise(over), whole(over));
}

// The limit counts the content whatever ends the line: a line ended by a bare LF is stored with
// CRLF, so 999 octets before the LF would be a stored line of 1001.
TEST(DotDecoder, LineEndedByBareLfHasTheSameLimit) {
    const std::string ok(kMaxTextLine, 'x');
    const std::string tail = "\nz\r\n.\r\n";   // a CRLF line after the bare LF, then the end
    Outcome w = whole(ok + tail);
    EXPECT_TRUE(w.done);
    EXPECT_FALSE(w.too_long);
    EXPECT_EQ(w.out, ok + "\r\nz\r\n");
    EXPECT_TRUE(whole(ok + "x" + tail).too_long);
    EXPECT_EQ(bytewise(ok + "x" + tail), whole(ok + "x" + tail));
    EXPECT_FALSE(whole("." + ok + tail).too_long);
    EXPECT_TRUE(whole("." + ok + "x" + tail).too_long);
}

}  // namespace
}  // namespace mk::smtp
