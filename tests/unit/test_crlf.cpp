// tests/unit/test_crlf.cpp — bare LF becomes CRLF, whatever the split of the input.
#include <gtest/gtest.h>

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
    for (const Row& r : rows) EXPECT_EQ(whole(r.in), r.want) << r.in;
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

}  // namespace
}  // namespace mk
