// tests/unit/test_password.cpp — hashing, verification and authenticate() by name and by address.
#include <gtest/gtest.h>

#include <crypt.h>
#include <cstdlib>
#include <memory>

#include "core/config.hpp"
#include "core/password.hpp"

namespace mk {
namespace {

TEST(Password, HashThenVerify) {
    std::string hash = hash_password("correct horse");
    EXPECT_TRUE(hash.starts_with("$y$")) << hash;
    EXPECT_NE(hash, hash_password("correct horse"));   // fresh salt each time

    struct Case {
        std::string password;
        bool want;
    };
    const Case cases[] = {
        {"correct horse", true},
        {"correct horsf", false},
        {"Correct horse", false},
        {"correct horse ", false},
        {"", false},
        {std::string("correct horse\0x", 15), false},   // NUL must not cut the password short
    };
    for (const Case& c : cases) EXPECT_EQ(verify_password(c.password, hash), c.want) << c.password;
}

TEST(Password, EmptyPasswordHashes) {
    std::string hash = hash_password("");
    EXPECT_TRUE(verify_password("", hash));
    EXPECT_FALSE(verify_password("x", hash));
}

TEST(Password, HashRefusesNul) {
    EXPECT_THROW(hash_password(std::string("a\0b", 3)), std::invalid_argument);
}

TEST(Password, GarbageHashIsFalse) {
    const char* hashes[] = {
        "",
        "*",
        "*0",
        "!",
        "plaintext",
        "$y$",
        "$y$j9T$",
        "$y$j9T$abc$",
        "$1$",
        "$6$salt$",
        "$y$j9T$YWC1d6rek4iwvKybsy.eN.$g6OjcDMA75sSqD9tsznwUAXASw2gYdzXn5FmbntaKl",   // truncated
    };
    for (const char* h : hashes) {
        EXPECT_FALSE(verify_password("", h)) << h;
        EXPECT_FALSE(verify_password("plaintext", h)) << h;
    }
}

TEST(Password, OtherCryptMethodsVerify) {
    // SHA-512 crypt of "secret", salt "saltsalt" (made with crypt(3)): older hashes keep working.
    const std::string sha512 =
        "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
    EXPECT_TRUE(verify_password("secret", sha512));
    EXPECT_FALSE(verify_password("Secret", sha512));
}

// Every method libxcrypt can make a hash with: its hash is usable, the bare setting and a hash one
// character short or long are not (issue 9, item 12: check-config refuses those).
TEST(Password, HashProblemKnowsEveryMethod) {
    for (const char* prefix : {"$y$", "$gy$", "$7$", "$2b$", "$2a$", "$2y$", "$6$", "$5$", "$1$", "$sha1$", "$md5", "$3$",
                               "_", ""}) {
        std::unique_ptr<char, decltype(&std::free)> setting(crypt_gensalt_ra(prefix, 0, nullptr, 0), &std::free);
        ASSERT_TRUE(setting) << prefix;
        crypt_data data{};
        std::string hash = crypt_r("pw", setting.get(), &data);
        ASSERT_NE(hash[0], '*') << prefix;
        EXPECT_EQ(password_hash_problem(hash), std::nullopt) << hash;
        EXPECT_NE(password_hash_problem(setting.get()), std::nullopt) << setting.get();
        EXPECT_NE(password_hash_problem(hash.substr(0, hash.size() - 1)), std::nullopt) << hash;
        EXPECT_NE(password_hash_problem(hash + "a"), std::nullopt) << hash;
    }
    // bcrypt's $2x$ (hashes made by the buggy pre-2011 code) is still verified, though never made.
    EXPECT_EQ(password_hash_problem("$2x$05$abcdefghijklmnopqrstuuHVKHuiUz6KHE0ggCdY5ppWWI430N4.G"), std::nullopt);
}

TEST(Password, HashProblemSaysWhy) {
    EXPECT_EQ(password_hash_problem("plain password"), "is not a crypt(3) hash");
    EXPECT_EQ(password_hash_problem("$6$saltsalt"), "is not a crypt(3) hash");
    EXPECT_EQ(password_hash_problem(""), "is empty");
}

TEST(Password, RandomPassword) {
    std::string a = random_password(), b = random_password();
    EXPECT_EQ(a.size(), 24u);   // 18 bytes, base64 without padding
    EXPECT_NE(a, b);
    for (char c : a) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << a;
}

class Authenticate : public ::testing::Test {
protected:
    void SetUp() override {
        config.local_domains = {"home.arpa", "example.org"};
        config.users.push_back({"anna", hash_password("anna-pw"), {"anna@home.arpa", "Anna.S@example.org"}});
        config.users.push_back({"ben", hash_password("ben-pw"), {"ben@home.arpa"}});
        config.users.push_back({"nopw", "", {"nopw@home.arpa"}});
    }
    Config config;
};

TEST_F(Authenticate, ByNameAndAddress) {
    struct Case {
        const char* login;
        const char* password;
        const char* want;   // user name, or nullptr
    };
    const Case cases[] = {
        {"anna", "anna-pw", "anna"},
        {"anna@home.arpa", "anna-pw", "anna"},
        {"anna@HOME.Arpa", "anna-pw", "anna"},            // domain case-insensitive
        {"Anna.S@example.org", "anna-pw", "anna"},
        {"Anna.S@EXAMPLE.ORG", "anna-pw", "anna"},
        {"anna.s@example.org", "anna-pw", nullptr},       // local part exact
        {"ANNA", "anna-pw", nullptr},                     // names are exact
        {"anna", "ben-pw", nullptr},
        {"ben", "ben-pw", "ben"},
        {"ben@home.arpa", "anna-pw", nullptr},
        {"carl", "anna-pw", nullptr},
        {"carl@home.arpa", "", nullptr},
        {"", "", nullptr},
        {"nopw", "", nullptr},                            // empty hash: cannot log in
        {"nopw@home.arpa", "anything", nullptr},
    };
    for (const Case& c : cases) {
        const UserConfig* got = authenticate(config, c.login, c.password);
        if (!c.want) EXPECT_EQ(got, nullptr) << c.login << " / " << c.password;
        else {
            ASSERT_NE(got, nullptr) << c.login << " / " << c.password;
            EXPECT_EQ(got->name, c.want);
        }
    }
}

}  // namespace
}  // namespace mk
