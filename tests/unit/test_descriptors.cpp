// tests/unit/test_descriptors.cpp — the descriptor budget: how many connections a limit serves beside
// what the daemon needs for its listeners, the relay and each fetch account.
#include <gtest/gtest.h>

#include "server/descriptors.hpp"

namespace mk {
namespace {

TEST(Descriptors, ConnectionsWithinALimit) {
    const Config plain = *parse_config("", "t.toml").config;   // five listeners, max_connections 200, no accounts
    AccountConfig pop3;
    pop3.name = "pop";
    AccountConfig imap;
    imap.name = "imap";
    imap.protocol = AccountConfig::Protocol::imaps;
    imap.folders = {"INBOX", "Sent", "Lists"};
    Config fetching = plain;
    fetching.accounts = {pop3, imap};
    struct Case {
        const Config* config;
        rlim_t limit;
        std::size_t want;
    };
    // The daemon's own: 32 + 7 listeners + 8 deliveries x 4 = 71; a POP3 account 1 + 2 x 32 = 65,
    // an IMAP account with IDLE on three folders 68.
    const Case cases[] = {
        {&plain, 20000, 200},   // fits: the configured cap stays
        {&plain, 128, 19},      // (128 - 71) / 3
        {&plain, 74, 1},
        {&plain, 73, 0},
        {&plain, 64, 0},
        {&fetching, 20000, 200},
        {&fetching, 256, 17},   // (256 - 71 - 65 - 68) / 3
        {&fetching, 204, 0},
    };
    for (const Case& c : cases)
        EXPECT_EQ(connections_within(*c.config, c.limit), c.want) << c.limit << " with " << c.config->accounts.size();
}

}  // namespace
}  // namespace mk
