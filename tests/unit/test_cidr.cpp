// tests/unit/test_cidr.cpp — Cidr parsing (strict) and matching, including v4-mapped peers.
#include <gtest/gtest.h>

#include "core/cidr.hpp"

namespace mk {
namespace {

namespace ip = boost::asio::ip;

TEST(Cidr, Parse) {
    struct Case {
        const char* input;
        const char* want;   // to_string(), or nullptr when parse must fail
    };
    const Case cases[] = {
        {"127.0.0.0/8", "127.0.0.0/8"},
        {"10.1.2.3", "10.1.2.3/32"},           // bare address = host prefix
        {"0.0.0.0/0", "0.0.0.0/0"},
        {"192.168.1.0/24", "192.168.1.0/24"},
        {"::1", "::1/128"},
        {"::1/128", "::1/128"},
        {"fd00::/8", "fd00::/8"},
        {"2001:db8::/32", "2001:db8::/32"},
        {"::/0", "::/0"},
        {"::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"},
        {"", nullptr},
        {"/8", nullptr},
        {"10.0.0.0/", nullptr},
        {"10.0.0.0/33", nullptr},
        {"::/129", nullptr},
        {"10.0.0.0/08", nullptr},               // leading zero
        {"10.0.0.0/+8", nullptr},
        {"10.0.0.0/-1", nullptr},
        {"10.0.0.0/8 ", nullptr},
        {" 10.0.0.0/8", nullptr},
        {"10.0.0/8", nullptr},                  // inet_aton shorthands are not addresses here
        {"10.0.0.010/32", nullptr},
        {"10.0.0.0.0/8", nullptr},
        {"256.0.0.0/8", nullptr},
        {"192.168.1.7/16", nullptr},            // host bits set
        {"fe80::1%eth0/128", nullptr},          // zone
        {"fe80::1%eth0", nullptr},
        {"localhost", nullptr},
        {"10.0.0.0/8/8", nullptr},
    };
    for (const Case& c : cases) {
        auto got = Cidr::parse(c.input);
        if (!c.want) {
            EXPECT_FALSE(got) << c.input << " parsed as " << got->to_string();
        } else {
            ASSERT_TRUE(got) << c.input;
            EXPECT_EQ(got->to_string(), c.want) << c.input;
        }
    }
}

TEST(Cidr, Contains) {
    struct Case {
        const char* net;
        const char* addr;
        bool want;
    };
    const Case cases[] = {
        {"127.0.0.0/8", "127.0.0.1", true},
        {"127.0.0.0/8", "127.255.255.255", true},
        {"127.0.0.0/8", "128.0.0.1", false},
        {"127.0.0.0/8", "::ffff:127.0.0.1", true},   // v4-mapped peer of a dual-stack socket
        {"127.0.0.0/8", "::ffff:10.0.0.1", false},
        {"127.0.0.0/8", "::1", false},
        {"::1/128", "127.0.0.1", false},
        {"::1/128", "::1", true},
        {"192.168.0.0/23", "192.168.1.255", true},  // prefix not on a byte boundary
        {"192.168.0.0/23", "192.168.2.0", false},
        {"10.0.0.1", "10.0.0.1", true},
        {"10.0.0.1", "10.0.0.2", false},
        {"0.0.0.0/0", "203.0.113.9", true},
        {"fd00::/8", "fd12:3456::1", true},
        {"fd00::/8", "fe80::1", false},
        {"2001:db8::/33", "2001:db8:7fff::1", true},
        {"2001:db8::/33", "2001:db8:8000::1", false},
        {"::/0", "2001:db8::1", true},
        {"::/0", "10.0.0.1", false},
    };
    for (const Case& c : cases) {
        auto net = Cidr::parse(c.net);
        ASSERT_TRUE(net) << c.net;
        EXPECT_EQ(net->contains(ip::make_address(c.addr)), c.want) << c.net << " " << c.addr;
    }
}

TEST(Cidr, InAny) {
    std::vector<Cidr> nets{*Cidr::parse("127.0.0.0/8"), *Cidr::parse("::1/128")};
    EXPECT_TRUE(in_any(nets, ip::make_address("127.0.0.1")));
    EXPECT_TRUE(in_any(nets, ip::make_address("::1")));
    EXPECT_FALSE(in_any(nets, ip::make_address("192.0.2.1")));
    EXPECT_FALSE(in_any({}, ip::make_address("127.0.0.1")));
}

}  // namespace
}  // namespace mk
