// tests/unit/test_cram_md5.cpp — MD5 (RFC 1321), HMAC-MD5 from a stored context (RFC 2104, RFC 2202),
// Dovecot's CRAM-MD5 secrets, and CRAM-MD5 (RFC 2195) on both sides: challenge, response, check, login.
#include <gtest/gtest.h>

#include <string>

#include "core/base64.hpp"
#include "core/config.hpp"
#include "core/cram_md5.hpp"
#include "core/password.hpp"
#include "net/sasl.hpp"

namespace mk {
namespace {

// RFC 2195 2's example.
constexpr const char* kChallenge = "<1896.697170952@postoffice.reston.mci.net>";
constexpr const char* kResponse = "tim b913a602c7eda7a495b4e6e7334d3890";
constexpr const char* kPassword = "tanstaaftanstaaf";
// doveadm pw -s CRAM-MD5 -p tanstaaftanstaaf (Dovecot 2.3).
constexpr const char* kDovecotTim = "{CRAM-MD5}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b";

std::string bytes(std::size_t n, char c) { return std::string(n, c); }

TEST(Md5, Rfc1321TestSuite) {
    struct Case {
        std::string in, want;
    };
    const Case cases[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(digest_hex(md5(c.in)), c.want) << c.in;
        Md5 h;   // the same one byte at a time: every buffer boundary
        for (char ch : c.in) h.update(std::string_view(&ch, 1));
        EXPECT_EQ(digest_hex(h.finish()), c.want) << c.in;
    }
    // Padding edges: 55, 56, 63, 64 and 65 bytes (the length field fits, or needs another block).
    EXPECT_EQ(digest_hex(md5(bytes(55, 'a'))), "ef1772b6dff9a122358552954ad0df65");
    EXPECT_EQ(digest_hex(md5(bytes(56, 'a'))), "3b0c8ac703f828b04c6c197006d17218");
    EXPECT_EQ(digest_hex(md5(bytes(63, 'a'))), "b06521f39153d618550606be297466d5");
    EXPECT_EQ(digest_hex(md5(bytes(64, 'a'))), "014842d480b571495a4a0363793f7367");
    EXPECT_EQ(digest_hex(md5(bytes(65, 'a'))), "c743a45e0d2e6a95cb859adae0248435");
}

// RFC 2202 2: HMAC-MD5 test cases 1, 2, 3 and 6 (a key longer than a block is hashed first).
TEST(HmacMd5, Rfc2202TestCases) {
    struct Case {
        std::string key, data, want;
    };
    const Case cases[] = {
        {bytes(16, '\x0b'), "Hi There", "9294727a3638bb1c13f48ef8158bfc9d"},
        {"Jefe", "what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"},
        {bytes(16, '\xaa'), bytes(50, '\xdd'), "56be34521d144c88dbb8c733f0e8b3f6"},
        {bytes(80, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First", "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
    };
    for (const Case& c : cases) EXPECT_EQ(digest_hex(hmac_md5(cram_md5_context(c.key), c.data)), c.want) << c.data;
}

// The contexts are Dovecot's byte for byte (doveadm pw -s CRAM-MD5 -p ...).
TEST(CramMd5, ContextIsDovecots) {
    struct Case {
        std::string password, want;
    };
    const Case cases[] = {
        {kPassword, kDovecotTim},
        {bytes(64, 'y'), "{CRAM-MD5}94254a98b700c70e5e4b39694074f3b760b437b03ab8ef74bf7a4de1fd7c593e"},
        {bytes(70, 'x'), "{CRAM-MD5}8103bb3a2a4b96a9ca9cce4efecc8d22ebe7163dff7401afb5aa16d4edcf9f1f"},
        {"\xc3\xa9", "{CRAM-MD5}8eea865cc54690f0f8439d623e4fee9aca31fb5a66e7b9594fa90871e9c02c76"},
    };
    for (const Case& c : cases)
        EXPECT_EQ(std::string(kCramMd5Prefix) + cram_md5_hex(cram_md5_context(c.password)), c.want) << c.password;
}

TEST(CramMd5, SecretForms) {
    const std::string hex = std::string(kDovecotTim).substr(kCramMd5Prefix.size());
    auto want = cram_md5_context(kPassword);
    for (std::string form : {std::string(kDovecotTim), hex, "{cram-md5}" + hex, "{CRAM-MD5}" + std::string("D06D4E1B26FCCAA4B0B61801132340A354B21152711FB604CA3E035E7015116B")}) {
        auto c = parse_cram_md5_secret(form);
        ASSERT_TRUE(c) << form;
        EXPECT_EQ(*c, want) << form;
    }
    for (std::string bad : {std::string(), std::string("{CRAM-MD5}"), hex.substr(1), hex + "0", "{CRAM-MD5} " + hex,
                            "{PLAIN}" + hex, "{CRAM-MD5}{CRAM-MD5}" + hex, hex.substr(0, 63) + "g", " " + hex})
        EXPECT_FALSE(parse_cram_md5_secret(bad)) << bad;
}

// RFC 2195 2: the server's check from Dovecot's stored context, and the client's answer from the password.
TEST(CramMd5, Rfc2195Example) {
    auto r = decode_cram_md5(base64_encode(kResponse));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->user, "tim");
    EXPECT_EQ(digest_hex(r->digest), "b913a602c7eda7a495b4e6e7334d3890");
    auto stored = parse_cram_md5_secret(kDovecotTim);
    ASSERT_TRUE(stored);
    EXPECT_TRUE(verify_cram_md5(*stored, kChallenge, *r));
    EXPECT_FALSE(verify_cram_md5(*stored, "<1897.697170952@postoffice.reston.mci.net>", *r));
    EXPECT_FALSE(verify_cram_md5(cram_md5_context("tanstaaftanstaag"), kChallenge, *r));
    EXPECT_EQ(cram_md5_response("tim", kPassword, kChallenge), kResponse);
}

TEST(CramMd5, Challenge) {
    EXPECT_EQ(cram_md5_challenge(1896, 697170952, "postoffice.reston.mci.net"), kChallenge);
    EXPECT_EQ(cram_md5_challenge(18446744073709551615ull, 0, "mail.home.arpa"), "<18446744073709551615.0@mail.home.arpa>");
}

TEST(CramMd5, ResponseParsing) {
    struct Case {
        std::string raw;
        const char* user;   // nullptr: refused
    };
    const std::string d = "b913a602c7eda7a495b4e6e7334d3890";
    const Case cases[] = {
        {"tim " + d, "tim"},
        {"tim B913A602C7EDA7A495B4E6E7334D3890", "tim"},   // upper-case hex accepted
        {"tim@home.arpa " + d, "tim@home.arpa"},
        {"Tim Berners " + d, "Tim Berners"},               // the last space separates
        {"tim  " + d, "tim "},
        {" " + d, nullptr},                                // no user
        {d, nullptr},                                      // no space
        {"tim " + d.substr(1), nullptr},                   // 31 digits
        {"tim " + d + "0", nullptr},                       // 33
        {"tim " + d + " ", nullptr},
        {"tim " + d.substr(0, 31) + "g", nullptr},
        {"tim\r\nRSET " + d, nullptr},                     // control characters in the user
        {std::string("ti\0m ", 5) + d, nullptr},
        {bytes(kMaxCramMd5User, 'u') + " " + d, "u"},
        {bytes(kMaxCramMd5User + 1, 'u') + " " + d, nullptr},
        {"", nullptr},
    };
    for (const Case& c : cases) {
        auto r = decode_cram_md5(base64_encode(c.raw));
        if (!c.user) {
            EXPECT_FALSE(r) << c.raw;
            continue;
        }
        ASSERT_TRUE(r) << c.raw;
        if (std::string(c.user) == "u") EXPECT_EQ(r->user.size(), kMaxCramMd5User);
        else EXPECT_EQ(r->user, c.user);
    }
    EXPECT_FALSE(decode_cram_md5("="));
    EXPECT_FALSE(decode_cram_md5("*"));
    EXPECT_FALSE(decode_cram_md5("dGlt!"));
}

TEST(CramMd5, AuthenticateByNameOrAddress) {
    Config config;
    config.local_domains = {"home.arpa"};
    config.users.push_back({"tim", "", {"tim@home.arpa"}, {}, true, cram_md5_hex(cram_md5_context(kPassword))});
    config.users.push_back({"anna", hash_password("anna-pw"), {"anna@home.arpa"}});   // no CRAM-MD5 secret
    auto digest = [](std::string_view password) {
        return hmac_md5(cram_md5_context(password), kChallenge);
    };
    const UserConfig* u = authenticate_cram_md5(config, "tim", kChallenge, digest(kPassword));
    ASSERT_NE(u, nullptr);
    EXPECT_EQ(u->name, "tim");
    EXPECT_NE(authenticate_cram_md5(config, "tim@HOME.arpa", kChallenge, digest(kPassword)), nullptr);
    EXPECT_EQ(authenticate_cram_md5(config, "tim", kChallenge, digest("wrong")), nullptr);
    EXPECT_EQ(authenticate_cram_md5(config, "tim", "<other@x>", digest(kPassword)), nullptr);
    EXPECT_EQ(authenticate_cram_md5(config, "TIM", kChallenge, digest(kPassword)), nullptr);
    EXPECT_EQ(authenticate_cram_md5(config, "carl", kChallenge, digest(kPassword)), nullptr);
    // A user without a secret never logs in this way, not even with the HMAC of the empty context.
    EXPECT_EQ(authenticate_cram_md5(config, "anna", kChallenge, digest("anna-pw")), nullptr);
    EXPECT_EQ(authenticate_cram_md5(config, "anna", kChallenge, hmac_md5(CramMd5Context{}, kChallenge)), nullptr);
}

TEST(CramMd5, SameDigestComparesEveryByte) {
    Md5Digest a = md5("x");
    for (std::size_t i = 0; i < a.size(); ++i) {
        Md5Digest b = a;
        b[i] ^= 0x01;
        EXPECT_FALSE(same_digest(a, b)) << i;
    }
    EXPECT_TRUE(same_digest(a, md5("x")));
}

}  // namespace
}  // namespace mk
