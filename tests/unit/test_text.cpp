// tests/unit/test_text.cpp — UTF-8 validation and log-safe copies (core/text), and that a queue
// envelope round-trips every byte value in every string field (issue 9, item 1).
#include <gtest/gtest.h>

#include "core/text.hpp"
#include "store/envelope.hpp"

namespace mk {
namespace {

TEST(Text, Utf8Validation) {
    struct Row {
        std::string_view in;
        bool want;
    };
    const Row rows[] = {
        {"", true},
        {"plain ascii", true},
        {"grüße", true},
        {"\xe2\x82\xac", true},              // U+20AC
        {"\xf0\x9f\x93\xa8", true},          // U+1F4E8
        {"\xf4\x8f\xbf\xbf", true},          // U+10FFFF, the last
        {"\xff", false},
        {"caf\xc3", false},                  // truncated
        {"\xc0\xaf", false},                 // overlong '/'
        {"\xe0\x80\xaf", false},             // overlong, 3 bytes
        {"\xf0\x80\x80\xaf", false},         // overlong, 4 bytes
        {"\xed\xa0\x80", false},             // a surrogate, U+D800
        {"\xf4\x90\x80\x80", false},         // above U+10FFFF
        {"\x80", false},                     // a continuation byte alone
        {"a\xe2\x82", false},
    };
    for (const Row& r : rows) EXPECT_EQ(valid_utf8(r.in), r.want) << testing::PrintToString(std::string(r.in));
}

TEST(Text, PrintableEscapesControlsAndBrokenUtf8Only) {
    EXPECT_EQ(printable("nobody\nINJECTED"), "nobody\\x0aINJECTED");
    EXPECT_EQ(printable("a\rb\tc\x7f"), "a\\x0db\\x09c\\x7f");
    EXPECT_EQ(printable(std::string_view("n\0l", 3)), "n\\x00l");
    EXPECT_EQ(printable("bad\xffhelo"), "bad\\xffhelo");
    EXPECT_EQ(printable("caf\xc3"), "caf\\xc3");
    EXPECT_EQ(printable("grüße ok"), "grüße ok");
    for (int b = 0; b < 256; ++b) {
        std::string out = printable(std::string(1, static_cast<char>(b)));
        EXPECT_EQ(out.find_first_of("\r\n"), std::string::npos) << b;
        EXPECT_TRUE(valid_utf8(out)) << b;
    }
}

TEST(Text, AsciiCaseWithoutALocale) {
    struct Row {
        std::string_view a, b;
        bool equal;
    };
    const Row rows[] = {
        {"EHLO", "ehlo", true},
        {"Mail", "mAIL", true},
        {"", "", true},
        {"PLAIN", "PLAI", false},
        {"a@", "A`", false},                 // '@' and '`' sit next to 'A' and 'a': not letters
        {"gr\xc3\xbc\xc3\x9f", "GR\xc3\xbc\xc3\x9f", true},   // UTF-8 bytes compare as they are
        {"\xc3\xbc", "\xc3\x9c", false},   // no case folding beyond ASCII (u-umlaut vs U-umlaut)
    };
    for (const Row& r : rows) EXPECT_EQ(iequals(r.a, r.b), r.equal) << r.a << " / " << r.b;
    EXPECT_EQ(lowercase_ascii("Anna.Schmidt@Example.ORG"), "anna.schmidt@example.org");
    EXPECT_EQ(uppercase_ascii("auth=plain \xc3\xa4"), "AUTH=PLAIN \xc3\xa4");
    for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (letter) continue;
        EXPECT_EQ(ascii_lower(c), c) << b;
        EXPECT_EQ(ascii_upper(c), c) << b;
    }
}

TEST(Text, ControlCharacters) {
    EXPECT_FALSE(has_control("plain text with spaces and \xc3\xa4"));
    EXPECT_TRUE(has_control("line\r\nbreak"));
    EXPECT_TRUE(has_control(std::string_view("n\0l", 3)));
    EXPECT_TRUE(has_control("tab\there"));
    EXPECT_TRUE(has_control("del\x7f"));
    EXPECT_FALSE(has_control(""));
}

TEST(Envelope, EveryByteOfEveryStringFieldRoundTrips) {
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    Envelope e;
    e.id = "ID" + all;
    e.sender = "s" + all;
    e.mailboxes = {"m" + all};
    e.remote = {{"r" + all, 6, "rfc822;" + all}};
    e.ret = all;
    e.envid = all;
    e.client = "bad\xffhelo[127.0.0.1]" + all;
    e.auth_user = all;
    e.received_at = 1700000000;
    e.return_path_length = 42;
    auto back = envelope_from_json(envelope_to_json(e));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, e);
}

}  // namespace
}  // namespace mk
