// tests/unit/test_header_rewrite.cpp — the outbound From: rewrite and header-end detection, as
// tables of {input, want}; the header is client-written text, so odd shapes are in the table.
#include <gtest/gtest.h>

#include "smtp/header_rewrite.hpp"

namespace mk::smtp {
namespace {

constexpr std::string_view kOld = "anna@home.arpa";
constexpr std::string_view kNew = "anna.schmidt@provider.example";

struct RewriteCase {
    std::string name;
    std::string header;
    std::string want;
    std::size_t replaced;
};

TEST(HeaderRewrite, Table) {
    const std::vector<RewriteCase> cases = {
        {"bare address", "From: anna@home.arpa\r\nTo: b@x\r\n\r\n",
         "From: anna.schmidt@provider.example\r\nTo: b@x\r\n\r\n", 1},
        {"angle address with display name", "From: Anna <anna@home.arpa>\r\n\r\n",
         "From: Anna <anna.schmidt@provider.example>\r\n\r\n", 1},
        {"case-insensitive address and field name", "FROM: Anna <Anna@Home.ARPA>\r\n\r\n",
         "FROM: Anna <anna.schmidt@provider.example>\r\n\r\n", 1},
        {"longer local part is another address", "From: <xanna@home.arpa>\r\n\r\n",
         "From: <xanna@home.arpa>\r\n\r\n", 0},
        {"longer domain is another address", "From: <anna@home.arpa.evil>\r\n\r\n",
         "From: <anna@home.arpa.evil>\r\n\r\n", 0},
        {"other fields untouched",
         "To: anna@home.arpa\r\nReply-To: anna@home.arpa\r\nX-From: anna@home.arpa\r\nFrom-Bad: anna@home.arpa\r\n"
         "From: anna@home.arpa\r\n\r\n",
         "To: anna@home.arpa\r\nReply-To: anna@home.arpa\r\nX-From: anna@home.arpa\r\nFrom-Bad: anna@home.arpa\r\n"
         "From: anna.schmidt@provider.example\r\n\r\n",
         1},
        {"folded field", "From: \"Anna\"\r\n <anna@home.arpa>\r\nSubject: x\r\n\r\n",
         "From: \"Anna\"\r\n <anna.schmidt@provider.example>\r\nSubject: x\r\n\r\n", 1},
        {"continuation of another field", "Subject: hi\r\n anna@home.arpa\r\nFrom: b@x\r\n\r\n",
         "Subject: hi\r\n anna@home.arpa\r\nFrom: b@x\r\n\r\n", 0},
        {"body untouched", "From: b@x\r\n\r\nFrom: anna@home.arpa\r\n",
         "From: b@x\r\n\r\nFrom: anna@home.arpa\r\n", 0},
        {"several mailboxes", "From: anna@home.arpa, Anna <anna@home.arpa>\r\n\r\n",
         "From: anna.schmidt@provider.example, Anna <anna.schmidt@provider.example>\r\n\r\n", 2},
        {"address quoted as display name too", "From: \"anna@home.arpa\" <anna@home.arpa>\r\n\r\n",
         "From: \"anna.schmidt@provider.example\" <anna.schmidt@provider.example>\r\n\r\n", 2},
        {"obsolete space before colon", "From : anna@home.arpa\r\n\r\n",
         "From : anna.schmidt@provider.example\r\n\r\n", 1},
        {"comment after address", "From: anna@home.arpa (Anna)\r\n\r\n",
         "From: anna.schmidt@provider.example (Anna)\r\n\r\n", 1},
        {"tab folding and no space after colon", "From:Anna\r\n\t<anna@home.arpa>\r\n\r\n",
         "From:Anna\r\n\t<anna.schmidt@provider.example>\r\n\r\n", 1},
        {"bare LF lines", "From: anna@home.arpa\nTo: b@x\n\n", "From: anna.schmidt@provider.example\nTo: b@x\n\n", 1},
        {"last line without line end", "From: anna@home.arpa", "From: anna.schmidt@provider.example", 1},
        {"header without empty line", "Subject: s\r\nFrom: <anna@home.arpa>\r\n",
         "Subject: s\r\nFrom: <anna.schmidt@provider.example>\r\n", 1},
        {"two From fields", "From: anna@home.arpa\r\nfrom: <ANNA@HOME.ARPA>\r\n\r\n",
         "From: anna.schmidt@provider.example\r\nfrom: <anna.schmidt@provider.example>\r\n\r\n", 2},
        {"empty header", "\r\nFrom: anna@home.arpa\r\n", "\r\nFrom: anna@home.arpa\r\n", 0},
        {"group syntax", "From: team: anna@home.arpa;\r\n\r\n", "From: team: anna.schmidt@provider.example;\r\n\r\n",
         1},
        {"no colon at all", "From anna@home.arpa\r\n\r\n", "From anna@home.arpa\r\n\r\n", 0},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        HeaderRewrite r = rewrite_from_header(c.header, kOld, kNew);
        EXPECT_EQ(r.header, c.want);
        EXPECT_EQ(r.replaced, c.replaced);
    }
}

TEST(HeaderRewrite, EmptyOldAddressChangesNothing) {
    std::string h = "From: anna@home.arpa\r\n\r\n";
    HeaderRewrite r = rewrite_from_header(h, "", kNew);
    EXPECT_EQ(r.header, h);
    EXPECT_EQ(r.replaced, 0u);
}

TEST(HeaderRewrite, ShorterReplacement) {
    HeaderRewrite r = rewrite_from_header("From: <anna.schmidt@provider.example>\r\n\r\n", kNew, "a@b.c");
    EXPECT_EQ(r.header, "From: <a@b.c>\r\n\r\n");
}

struct EndCase {
    std::string text;
    std::size_t want;
};

TEST(HeaderEnd, Table) {
    const std::size_t npos = std::string_view::npos;
    const std::vector<EndCase> cases = {
        {"A: b\r\n\r\nbody", 8},
        {"\r\nbody", 2},
        {"\nbody", 1},
        {"A: b\r\n", npos},
        {"A: b\r\nB: c", npos},
        {"A: b\n\nx", 6},
        {"", npos},
        {"A: b\r\n c\r\nB: d\r\n\r\n", 18},
        {"A: b\r\n\r\n\r\n", 8},
        {"A: b\r\n \r\nx", npos},   // a line of white space is a (bad) continuation, not the end
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(header_end(c.text), c.want);
    }
}

TEST(HeaderRewrite, LimitIsOneMebibyte) { EXPECT_EQ(kMaxHeaderBlock, 1024u * 1024u); }

}  // namespace
}  // namespace mk::smtp
