// tests/unit/test_seven_bit.cpp — RFC 6152 downgrade of a queued 8-bit message: the result is all
// 7-bit, the 8-bit parts re-encoded and labelled, the rest and the header fields as they were.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "core/base64.hpp"
#include "mime/seven_bit.hpp"
#include "temp_dir.hpp"

namespace mk {
namespace {

using test::TempDir;

std::string read_all(const Fd& fd) {
    std::string out, chunk(4096, '\0');
    for (off_t at = 0;;) {
        ssize_t n = ::pread(fd.get(), chunk.data(), chunk.size(), at);
        if (n <= 0) return out;
        out.append(chunk.data(), static_cast<std::size_t>(n));
        at += n;
    }
}

bool seven_bit(const std::string& s) {
    return std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// decoded_part - the content of the part whose Content-Transfer-Encoding follows at, decoded from
// quoted-printable (RFC 2045 6.7) or base64 (6.8), whichever GMime chose; up to the next boundary.
std::string decoded_part(const std::string& msg, std::size_t at) {
    std::size_t eol = msg.find("\r\n", at);
    std::string cte = msg.substr(at, eol - at);
    std::size_t start = msg.find("\r\n\r\n", at) + 4;
    std::size_t end = msg.find("\r\n--", start);
    std::string body = msg.substr(start, end == std::string::npos ? std::string::npos : end - start + 2);
    if (cte.find("base64") != std::string::npos) {
        std::erase_if(body, [](char c) { return c == '\r' || c == '\n'; });
        return base64_decode(body).value_or("<bad base64>");
    }
    std::string out;
    for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] != '=') {
            out += body[i];
        } else if (body.compare(i + 1, 2, "\r\n") == 0) {
            i += 2;   // soft line break
        } else {
            out += static_cast<char>(std::stoi(body.substr(i + 1, 2), nullptr, 16));
            i += 2;
        }
    }
    return out;
}

struct Converted {
    std::optional<std::string> bytes;
    std::string why;
};

Converted convert(const std::string& queued, std::uint64_t skip = 0) {
    TempDir t("sevenbit");
    auto file = t.path / "m.eml";
    std::ofstream(file, std::ios::binary) << queued;
    Converted c;
    if (auto fd = to_seven_bit(file, skip, c.why)) c.bytes = read_all(*fd);
    return c;
}

const std::string kReturnPath = "Return-Path: <anna@home.arpa>\r\n";

TEST(SevenBit, SinglePartIsReencodedAndLabelled) {
    std::string msg = "From: Anna <anna@home.arpa>\r\nTo: ben@example.org\r\nSubject: Gr=?utf-8?q?=C3=BC?=sse\r\n"
                      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\n\r\nSch\xc3\xb6ne Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln.\r\n";
    Converted c = convert(kReturnPath + msg, kReturnPath.size());
    ASSERT_TRUE(c.bytes) << c.why;
    EXPECT_TRUE(seven_bit(*c.bytes));
    EXPECT_EQ(c.bytes->find("Return-Path:"), std::string::npos) << "the skipped bytes are not part of the message";
    std::size_t cte = c.bytes->find("Content-Transfer-Encoding: ");
    ASSERT_NE(cte, std::string::npos) << *c.bytes;
    EXPECT_EQ(c.bytes->find("Content-Transfer-Encoding: 8bit"), std::string::npos) << *c.bytes;
    EXPECT_EQ(decoded_part(*c.bytes, cte), "Sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln.\r\n") << *c.bytes;
    EXPECT_NE(c.bytes->find("Subject: Gr=?utf-8?q?=C3=BC?=sse\r\n"), std::string::npos) << "header fields as they were";
    EXPECT_NE(c.bytes->find("\r\n\r\n"), std::string::npos);
    EXPECT_EQ(c.bytes->find("\n\n"), std::string::npos) << "CRLF line ends throughout";
}

TEST(SevenBit, OnlyTheEightBitPartOfAMultipartChanges) {
    std::string msg = "From: anna@home.arpa\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
                      "--b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain ascii stays\r\n"
                      "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa4\xc3\xb6\xc3\xbc\r\n"
                      "--b--\r\n";
    Converted c = convert(msg);
    ASSERT_TRUE(c.bytes) << c.why;
    EXPECT_TRUE(seven_bit(*c.bytes));
    EXPECT_NE(c.bytes->find("\r\n\r\nplain ascii stays\r\n--b"), std::string::npos) << *c.bytes;
    std::size_t cte = c.bytes->find("Content-Transfer-Encoding: ");
    ASSERT_NE(cte, std::string::npos) << *c.bytes;
    // RFC 2046 5.1.1: the CRLF before a boundary belongs to the boundary, not to the part.
    EXPECT_EQ(decoded_part(*c.bytes, cte), "\xc3\xa4\xc3\xb6\xc3\xbc") << *c.bytes;
}

TEST(SevenBit, EightBitHeaderFieldsCannotBeConverted) {
    Converted c = convert("From: anna@home.arpa\r\nSubject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nbody \xc3\xa4\r\n");
    EXPECT_FALSE(c.bytes);
    EXPECT_NE(c.why.find("header"), std::string::npos) << c.why;
}

TEST(SevenBit, AMessageWithoutMimeHeadersIsStillConverted) {
    // 8-bit text with no MIME labels at all (what many old clients sent): it becomes a labelled part.
    Converted c = convert("From: anna@home.arpa\r\nSubject: x\r\n\r\nK\xc3\xb6ln\r\n");
    ASSERT_TRUE(c.bytes) << c.why;
    EXPECT_TRUE(seven_bit(*c.bytes));
    EXPECT_NE(c.bytes->find("Content-Transfer-Encoding:"), std::string::npos) << *c.bytes;
}

}  // namespace
}  // namespace mk
