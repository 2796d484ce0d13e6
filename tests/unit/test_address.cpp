// tests/unit/test_address.cpp — RFC 5321 path parsing: a table of {input, want}.
#include <gtest/gtest.h>

#include "core/address.hpp"

namespace mk {
namespace {

struct PathCase {
    const char* input;
    bool allow_null;
    bool utf8;
    PathError error;
    const char* local;
    const char* domain;
};

TEST(Address, PathTable) {
    const PathCase cases[] = {
        {"<anna@home.arpa>", false, false, PathError::none, "anna", "home.arpa"},
        {"<Anna@HOME.Arpa>", false, false, PathError::none, "Anna", "home.arpa"},
        {"<>", true, false, PathError::none, "", ""},
        {"<>", false, false, PathError::syntax, "", ""},
        {"<@relay.example,@b.example:user@other.example>", false, false, PathError::none, "user", "other.example"},
        {"<\"john doe\"@home.arpa>", false, false, PathError::none, "\"john doe\"", "home.arpa"},
        {"<\"user@other.example\"@home.arpa>", false, false, PathError::none, "\"user@other.example\"", "home.arpa"},
        {"<user%other.example@home.arpa>", false, false, PathError::none, "user%other.example", "home.arpa"},
        {"<user@other.example@home.arpa>", false, false, PathError::syntax, "", ""},
        {"<user@[127.0.0.1]>", false, false, PathError::none, "user", "[127.0.0.1]"},
        {"<a..b@home.arpa>", false, false, PathError::syntax, "", ""},
        {"<.a@home.arpa>", false, false, PathError::syntax, "", ""},
        {"<a@-home.arpa>", false, false, PathError::syntax, "", ""},
        {"<a@home..arpa>", false, false, PathError::syntax, "", ""},
        {"<a@home.arpa", false, false, PathError::syntax, "", ""},
        {"a@home.arpa", false, false, PathError::syntax, "", ""},
        {"<a b@home.arpa>", false, false, PathError::syntax, "", ""},
        {"<\"unterminated@home.arpa>", false, false, PathError::syntax, "", ""},
        {"<jörg@home.arpa>", false, false, PathError::utf8_not_allowed, "", ""},
        {"<jörg@home.arpa>", false, true, PathError::none, "jörg", "home.arpa"},
        {"<@:user@x>", false, false, PathError::syntax, "", ""},
    };
    for (const PathCase& c : cases) {
        SCOPED_TRACE(c.input);
        PathResult r = parse_path(c.input, c.allow_null, c.utf8);
        EXPECT_EQ(r.error, c.error);
        if (c.error == PathError::none) {
            EXPECT_EQ(r.address.local, c.local);
            EXPECT_EQ(r.address.domain, c.domain);
        }
    }
}

TEST(Address, LimitsFromRfc5321) {
    std::string local(kMaxLocalPart, 'a');
    EXPECT_EQ(parse_path("<" + local + "@x.example>", false, false).error, PathError::none);
    EXPECT_EQ(parse_path("<" + local + "a@x.example>", false, false).error, PathError::too_long);
    std::string label(63, 'b');
    std::string domain = label + "." + label + "." + label + "." + label;   // 255
    EXPECT_EQ(parse_path("<a@" + domain + ">", false, false).error, PathError::too_long);   // path > 256
}

TEST(Address, ConsumedStopsAtTheBracket) {
    PathResult r = parse_path("<a@b.example> SIZE=10", false, false);
    ASSERT_EQ(r.error, PathError::none);
    EXPECT_EQ(r.consumed, 13u);
}

TEST(Address, Mailbox) {
    EXPECT_TRUE(parse_mailbox("anna@home.arpa"));
    EXPECT_FALSE(parse_mailbox("anna"));
    EXPECT_FALSE(parse_mailbox("<anna@home.arpa>"));
    EXPECT_FALSE(parse_mailbox("anna@home.arpa>"));
    EXPECT_EQ(parse_mailbox("Anna@Home.ARPA")->str(), "Anna@home.arpa");
}

}  // namespace
}  // namespace mk
