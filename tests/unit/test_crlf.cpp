// tests/unit/test_crlf.cpp — bare LF becomes CRLF, whatever the split of the input; measure() is the
// size of that, which is what POP3's RETR sends for a Maildir file of any line ends.
#include <gtest/gtest.h>

#include "net/dot_stuffer.hpp"
#include "pop3/command.hpp"
#include "store/crlf.hpp"

namespace mk {
namespace {

std::string whole(std::string_view in) {
    CrlfNormalizer n;
    std::string out;
    n.feed(in, out);
    return out;
}

TEST(Crlf, Table) {
    struct Row {
        std::string in, want;
    } rows[] = {
        {"", ""},
        {"a\r\nb\r\n", "a\r\nb\r\n"},
        {"a\nb\n", "a\r\nb\r\n"},
        {"\n\n", "\r\n\r\n"},
        {"a\rb\n", "a\rb\r\n"},          // a lone CR stays
        {"a\r\r\n", "a\r\r\n"},
        {"no end", "no end"},
        {"x\r", "x\r"},
    };
    for (const Row& r : rows) {
        EXPECT_EQ(whole(r.in), r.want) << r.in;
        EXPECT_EQ(CrlfNormalizer().measure(r.in), r.want.size()) << r.in;
    }
}

TEST(Crlf, EverySplitGivesTheSameBytes) {
    const std::string in = "a\r\nb\nc\r\rd\n\r\n\ne\r";
    const std::string want = whole(in);
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
        CrlfNormalizer n;
        std::string out;
        n.feed(std::string_view(in).substr(0, cut), out);
        n.feed(std::string_view(in).substr(cut), out);
        EXPECT_EQ(out, want) << "cut at " << cut;
    }
    CrlfNormalizer n;
    std::string out;
    for (char c : in) n.feed(std::string_view(&c, 1), out);
    EXPECT_EQ(out, want) << "byte by byte";
}

TEST(Crlf, MeasureIsTheSizeOfTheOutputWhateverTheSplit) {
    const std::string in = "\na\r\nb\nc\r\rd\n\r\n\ne\r\n\r";
    const std::uint64_t want = whole(in).size();
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
        CrlfNormalizer n;
        std::uint64_t size = n.measure(std::string_view(in).substr(0, cut));
        size += n.measure(std::string_view(in).substr(cut));
        EXPECT_EQ(size, want) << "cut at " << cut;
    }
    CrlfNormalizer n;
    std::uint64_t size = 0;
    for (char c : in) size += n.measure(std::string_view(&c, 1));
    EXPECT_EQ(size, want) << "byte by byte";
}

// The POP3 size of a Maildir file is measured by this rule (store/maildir), and RETR converts with
// the DotStuffer: the two must agree byte for byte. (A last line without a line end gets one from
// the stuffer as part of the terminator, uncounted, as Dovecot does: none of these end so.)
TEST(Crlf, MeasureIsWhatRetrSends) {
    const std::string messages[] = {
        "", "a\r\n", "a\n", "\n\n", "a\rb\n", "a\r\r\n", ".\n..\r\n.x\n", "x\n.\n", "mixed\r\nlf\nboth\r\n\n",
        "Subject: t\n\nline\n.leading dot\n\r\n",
    };
    for (const std::string& m : messages) {
        std::optional<std::string> sent = pop3::dot_unstuff(dot_stuff(m));
        ASSERT_TRUE(sent) << m;
        EXPECT_EQ(*sent, whole(m)) << m;
        EXPECT_EQ(CrlfNormalizer().measure(m), sent->size()) << m;
    }
}

}  // namespace
}  // namespace mk
