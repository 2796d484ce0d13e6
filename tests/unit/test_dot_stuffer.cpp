// tests/unit/test_dot_stuffer.cpp — the transparency encoding shared by SMTP DATA and POP3 RETR/TOP
// (net/dot_stuffer): a table fed whole, byte by byte and cut at every point, and a large message.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/dot_stuffer.hpp"

namespace mk {
namespace {

// stuff_whole / stuff_bytewise / stuff_chunks - the same DotStuffer fed three ways.
std::string stuff_whole(std::string_view in) { return dot_stuff(in); }

std::string stuff_bytewise(std::string_view in) {
    std::string out;
    DotStuffer s;
    for (char c : in) s.feed(std::string_view(&c, 1), out);
    s.finish(out);
    return out;
}

std::string stuff_chunks(std::string_view in, std::size_t cut) {
    std::string out;
    DotStuffer s;
    s.feed(in.substr(0, cut), out);
    s.feed({}, out);   // an empty chunk changes nothing
    s.feed(in.substr(cut), out);
    s.finish(out);
    return out;
}

struct StuffCase {
    std::string input;
    std::string want;
};

TEST(DotStuffer, WholeBytewiseAndEverySplitAgree) {
    const std::vector<StuffCase> cases = {
        {"", ".\r\n"},
        {"a\r\n", "a\r\n.\r\n"},
        {"a", "a\r\n.\r\n"},                                   // final line without CRLF gets one
        {"a\r\nb", "a\r\nb\r\n.\r\n"},
        {".foo\r\n", "..foo\r\n.\r\n"},
        {"..\r\n", "...\r\n.\r\n"},
        {".\r\n", "..\r\n.\r\n"},                              // a lone "." is not the terminator
        {".", "..\r\n.\r\n"},                                  // ... nor without its CRLF
        {"x\r\n.\r\ny\r\n", "x\r\n..\r\ny\r\n.\r\n"},
        {"x\r\n.", "x\r\n..\r\n.\r\n"},
        {"a.b\r\n .c\r\n", "a.b\r\n .c\r\n.\r\n"},             // only a leading dot is stuffed
        {"\r\n", "\r\n.\r\n"},
        {"\r\n\r\n.\r\n", "\r\n\r\n..\r\n.\r\n"},
        {"a\r", "a\r\n.\r\n"},                                 // a trailing CR is completed, not doubled
        {"a\nb\n", "a\r\nb\r\n.\r\n"},                          // bare LF becomes CRLF
        {"x\n.\n", "x\r\n..\r\n.\r\n"},                         // the \n.\n smuggling shape
        {"x\n.\r\n", "x\r\n..\r\n.\r\n"},
        {"a\rb\r\n", "a\rb\r\n.\r\n"},                          // a bare CR inside a line is data
        {"\n", "\r\n.\r\n"},
        {"Subject: t\r\n\r\n.\r\n..\r\n...\r\nend", "Subject: t\r\n\r\n..\r\n...\r\n....\r\nend\r\n.\r\n"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(::testing::PrintToString(c.input));
        EXPECT_EQ(stuff_whole(c.input), c.want);
        EXPECT_EQ(stuff_bytewise(c.input), c.want);
        for (std::size_t cut = 0; cut <= c.input.size(); ++cut) EXPECT_EQ(stuff_chunks(c.input, cut), c.want) << cut;
    }
}

TEST(DotStuffer, LargeMessageInChunks) {
    // 64 KiB chunks, as the senders read them, with dots and CRLFs straddling chunk borders.
    std::string msg = "Subject: big\r\n\r\n";
    for (int i = 0; msg.size() < 300 * 1024; ++i) msg += (i % 3 == 0 ? ".line " : "line ") + std::to_string(i) + "\r\n";
    const std::string want = dot_stuff(msg);
    for (std::size_t chunk : {std::size_t{64 * 1024}, std::size_t{7}, std::size_t{65537}}) {
        std::string out;
        DotStuffer s;
        for (std::size_t i = 0; i < msg.size(); i += chunk) s.feed(std::string_view(msg).substr(i, chunk), out);
        s.finish(out);
        EXPECT_EQ(out, want) << chunk;
    }
    EXPECT_EQ(want.substr(want.size() - 5), "\r\n.\r\n");
}

}  // namespace
}  // namespace mk
