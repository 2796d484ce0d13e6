// tests/unit/test_listeners.cpp — the listener table: one row per [listen] key, each reading its own
// addresses from the config, with its protocol's TLS mode and refusal.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "server/listeners.hpp"

namespace mk {
namespace {

// find_role - the row for key, or null.
const ListenerRole* find_role(std::string_view key) {
    for (const ListenerRole& r : listener_roles())
        if (r.key == key) return &r;
    return nullptr;
}

TEST(Listeners, OneRowPerListenKey) {
    EXPECT_EQ(listener_roles().size(), listen_keys().size());
    for (std::string_view key : listen_keys()) {
        auto rows = std::count_if(listener_roles().begin(), listener_roles().end(),
                                  [&](const ListenerRole& r) { return r.key == key; });
        EXPECT_EQ(rows, 1) << key;
    }
}

TEST(Listeners, EachRowReadsItsOwnKey) {
    // One key set to a port of its own; the row must see that port and no other.
    for (const ListenerRole& role : listener_roles()) {
        std::string text = "[listen]\n" + std::string(role.key) + " = [\"127.0.0.9:4242\"]\n";
        ConfigResult r = parse_config(text, "t.toml");
        ASSERT_TRUE(r.errors.empty()) << role.key << ": " << r.errors[0].to_string();
        const std::vector<Endpoint>& eps = endpoints(*r.config, role);
        ASSERT_EQ(eps.size(), 1u) << role.key;
        EXPECT_EQ(eps[0].host, "127.0.0.9") << role.key;
        EXPECT_EQ(eps[0].port, 4242) << role.key;
    }
}

TEST(Listeners, TlsModeSessionAndRefusal) {
    struct Case {
        std::string_view key;
        ListenTls tls;
        std::string_view refusal;
    };
    const Case cases[] = {
        {"smtp", ListenTls::starttls, "421 4.7.0 too many connections, try again later\r\n"},
        {"submission", ListenTls::required, "421 4.7.0 too many connections, try again later\r\n"},
        {"submissions", ListenTls::implicit, "421 4.7.0 too many connections, try again later\r\n"},
        {"pop3", ListenTls::starttls, "-ERR [SYS/TEMP] too many connections, try again later\r\n"},
        {"pop3s", ListenTls::implicit, "-ERR [SYS/TEMP] too many connections, try again later\r\n"},
        {"imap", ListenTls::starttls, "* BYE [UNAVAILABLE] too many connections, try again later\r\n"},
        {"imaps", ListenTls::implicit, "* BYE [UNAVAILABLE] too many connections, try again later\r\n"},
        {"odmr", ListenTls::starttls, "421 4.7.0 too many connections, try again later\r\n"},
    };
    EXPECT_EQ(std::size(cases), listener_roles().size());
    for (const Case& c : cases) {
        const ListenerRole* role = find_role(c.key);
        ASSERT_NE(role, nullptr) << c.key;
        EXPECT_EQ(role->tls, c.tls) << c.key;
        EXPECT_EQ(role->refusal, c.refusal) << c.key;
        EXPECT_NE(role->session, nullptr) << c.key;
    }
}

TEST(Listeners, CertificateNeededOnlyWhereTlsIsRequired) {
    EXPECT_FALSE(needs_certificate(ListenTls::none));
    EXPECT_FALSE(needs_certificate(ListenTls::starttls));
    EXPECT_TRUE(needs_certificate(ListenTls::required));
    EXPECT_TRUE(needs_certificate(ListenTls::implicit));
}

}  // namespace
}  // namespace mk
