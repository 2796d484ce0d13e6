// tests/unit/test_config_relay.cpp — [relay], [[relay.sender]], [[route]] and [delivery]: defaults, accepted forms, every error with its line.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "config_errors.hpp"
#include "core/config.hpp"

namespace mk {
namespace {

constexpr const char* kFile = "/etc/mailkeep/mailkeep.toml";

// Appended to every case, so that the case's own lines keep their numbers. The Builder reads users
// before [relay], wherever they stand in the file.
constexpr const char* kUsers = R"(
[[user]]
name = "anna"
addresses = ["anna@home.arpa", "postmaster@home.arpa", "anna.s@home.arpa"]
cram_md5 = "{CRAM-MD5}0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
[[user]]
name = "ben"
addresses = ["ben@home.arpa"]
[[alias]]
address = "family@home.arpa"
to = ["anna", "ben"]
)";

// dur - a duration the way the file writes it.
std::string dur(std::chrono::seconds d) {
    if (d.count() % 86400 == 0) return std::to_string(d.count() / 86400) + "d";
    if (d.count() % 3600 == 0) return std::to_string(d.count() / 3600) + "h";
    if (d.count() % 60 == 0) return std::to_string(d.count() / 60) + "m";
    return std::to_string(d.count()) + "s";
}

// hop_text - one hop in one line: "host:port tls [noverify] [ca=] [user=] [password=|command=|oauth2=]".
std::string hop_text(const HopConfig& h) {
    constexpr const char* kTls[] = {"starttls", "implicit", "none"};
    std::string s = h.host + ":" + std::to_string(h.port) + " " + kTls[static_cast<int>(h.tls)];
    if (!h.tls_verify) s += " noverify";
    if (!h.ca_file.empty()) s += " ca=" + h.ca_file.string();
    if (!h.username.empty()) s += " user=" + h.username;
    if (!h.password.empty()) s += " password=" + h.password;
    if (!h.password_command.empty()) s += " command=" + h.password_command;
    if (!h.oauth2_token_command.empty()) s += " oauth2=" + h.oauth2_token_command;
    return s;
}

// summary - everything this file's sections set, in one comparable string.
std::string summary(const Config& c) {
    const RelayConfig& r = c.relay;
    std::string s = r.mode == RelayConfig::Mode::direct ? "direct" : "smarthost " + hop_text(r.smarthost);
    s += " retry=";
    for (std::size_t i = 0; i < r.retry.size(); ++i) s += (i ? "," : "") + dur(r.retry[i]);
    s += " warn=" + dur(r.warn_after) + " give_up=" + dur(r.give_up_after) + " probe=" + dur(r.probe_interval);
    if (!r.dns_server.empty()) s += " dns=" + r.dns_server;
    s += " mx=" + std::to_string(r.mx_port);
    for (const RelaySenderConfig& x : r.senders)
        s += " | sender " + x.address + (x.rewrite_from.empty() ? "" : " as " + x.rewrite_from) + " via " + hop_text(x.hop);
    for (const RouteConfig& x : r.routes) s += " | route " + x.domain + " via " + hop_text(x.hop);
    constexpr const char* kModes[] = {"maildir", "lmtp", "smtp"};
    const DeliveryConfig& d = c.delivery;
    s += " | delivery " + std::string(kModes[static_cast<int>(d.mode)]) + " " + d.host + ":" + std::to_string(d.port);
    return s;
}

constexpr const char* kDefaults = "direct retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25 | delivery maildir 127.0.0.1:24";

TEST(ConfigRelay, Valid) {
    struct Case {
        std::string text;
        std::string want;   // summary()
    };
    const Case cases[] = {
        {"", kDefaults},
        {"[relay]\n", kDefaults},
        {"[relay]\nmode = \"direct\"\n", kDefaults},
        // The issue's example, as real TOML.
        {R"([relay]
mode = "smarthost"
host = "smtp.provider.example"
port = 587
tls = "starttls"
tls_verify = true
username = "home@provider.example"
password = "secret"
retry = ["5m", "15m", "1h", "4h"]
warn_after = "4h"
give_up_after = "5d"
[[relay.sender]]
address = "anna@home.arpa"
rewrite_from = "anna.schmidt@provider.example"
host = "mail.provider.example"
port = 465
tls = "implicit"
username = "anna.schmidt@provider.example"
password_command = "pass show anna"
[[route]]
domain = "example.com"
host = "mx.partner.example"
port = 25
[delivery]
mode = "maildir"
host = "127.0.0.1"
port = 24
)",
         "smarthost smtp.provider.example:587 starttls user=home@provider.example password=secret "
         "retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25"
         " | sender anna@home.arpa as anna.schmidt@provider.example via mail.provider.example:465 implicit "
         "user=anna.schmidt@provider.example command=pass show anna"
         " | route example.com via mx.partner.example:25 starttls | delivery maildir 127.0.0.1:24"},
        // The port follows the TLS mode when absent: 587 / 465 / 25 for a smarthost.
        {"[relay]\nmode = \"smarthost\"\nhost = \"SMTP.Provider.Example\"\n",
         "smarthost smtp.provider.example:587 starttls retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25"
         " | delivery maildir 127.0.0.1:24"},
        {"[relay]\nmode = \"smarthost\"\nhost = \"s.example\"\ntls = \"implicit\"\n",
         "smarthost s.example:465 implicit retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25 | delivery maildir 127.0.0.1:24"},
        {"[relay]\nmode = \"smarthost\"\nhost = \"127.0.0.1\"\ntls = \"none\"\n",
         "smarthost 127.0.0.1:25 none retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25 | delivery maildir 127.0.0.1:24"},
        // A login without TLS only where it does not cross a network: a loopback address.
        {"[relay]\nmode = \"smarthost\"\nhost = \"127.0.0.2\"\ntls = \"none\"\nport = 2587\nusername = \"u\"\npassword = \"p\"\n",
         "smarthost 127.0.0.2:2587 none user=u password=p retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25"
         " | delivery maildir 127.0.0.1:24"},
        {"[relay]\nmode = \"smarthost\"\nhost = \"::1\"\nport = 2465\ntls = \"implicit\"\ntls_verify = false\n",
         "smarthost ::1:2465 implicit noverify retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25 | delivery maildir 127.0.0.1:24"},
        {"[relay]\nmode = \"smarthost\"\nhost = \"s.example\"\nca_file = \"tls/ca.pem\"\nusername = \"u\"\n"
         "oauth2_token_command = \"oauth2 token\"\n",
         "smarthost s.example:587 starttls ca=tls/ca.pem user=u oauth2=oauth2 token retry=5m,15m,1h,4h warn=4h "
         "give_up=5d probe=1m mx=25 | delivery maildir 127.0.0.1:24"},
        // Schedule, probing and the direct-mode test hooks.
        {"[relay]\nretry = [\"90s\"]\nwarn_after = \"30s\"\ngive_up_after = \"2m\"\nprobe_interval = \"5s\"\n"
         "dns_server = \"127.0.0.1:5353\"\nmx_port = 2525\n",
         "direct retry=90s warn=30s give_up=2m probe=5s dns=127.0.0.1:5353 mx=2525 | delivery maildir 127.0.0.1:24"},
        {"[relay]\ndns_server = \"[::1]:53\"\nwarn_after = \"1d\"\n",
         "direct retry=5m,15m,1h,4h warn=1d give_up=5d probe=1m dns=[::1]:53 mx=25 | delivery maildir 127.0.0.1:24"},
        // dns_server and mx_port are harmless in smarthost mode (unused), so they are accepted.
        {"[relay]\nmode = \"smarthost\"\nhost = \"s.example\"\nmx_port = 26\n",
         "smarthost s.example:587 starttls retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=26 | delivery maildir 127.0.0.1:24"},
        // Senders in direct mode; any address of a user, in any local domain; rewrite optional.
        {"local_domains = [\"home.arpa\", \"Example.ORG\"]\n[[user]]\nname = \"carl\"\n"
         "addresses = [\"carl@home.arpa\", \"carl@example.org\"]\n[[relay.sender]]\naddress = \"carl@EXAMPLE.org\"\n"
         "host = \"mail.provider.example\"\n[[relay.sender]]\naddress = \"ben@home.arpa\"\n"
         "rewrite_from = \"Ben@Provider.Example\"\nhost = \"smtp.other.example\"\ntls = \"none\"\n",
         "direct retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25"
         " | sender carl@example.org via mail.provider.example:587 starttls"
         " | sender ben@home.arpa as Ben@provider.example via smtp.other.example:25 none | delivery maildir 127.0.0.1:24"},
        // Routes: port 25 and STARTTLS by default, 465 with implicit TLS; domain lowercased.
        {"[[route]]\ndomain = \"Example.COM\"\nhost = \"mx.partner.example\"\n[[route]]\ndomain = \"b.example\"\n"
         "host = \"10.0.0.2\"\ntls = \"implicit\"\nusername = \"u\"\npassword = \"p\"\n",
         "direct retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25 | route example.com via mx.partner.example:25 starttls"
         " | route b.example via 10.0.0.2:465 implicit user=u password=p | delivery maildir 127.0.0.1:24"},
        // Delivery: 25 is the default port for a downstream SMTP server, 24 otherwise.
        {"[delivery]\nmode = \"lmtp\"\n", "direct retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25 | delivery lmtp 127.0.0.1:24"},
        {"[delivery]\nmode = \"smtp\"\nhost = \"Exchange.Office.Example\"\n",
         "direct retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25 | delivery smtp exchange.office.example:25"},
        {"[delivery]\nmode = \"smtp\"\nhost = \"::1\"\nport = 2525\n",
         "direct retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25 | delivery smtp ::1:2525"},
    };
    for (const Case& c : cases) {
        ConfigResult r = parse_config(c.text + kUsers, kFile);
        ASSERT_TRUE(r.errors.empty()) << c.text << r.errors[0].to_string();
        EXPECT_EQ(summary(*r.config), c.want) << c.text;
    }
}

// The default is "direct" with the built-in schedule, and the file without the section says so.
TEST(ConfigRelay, DefaultsMatchTheHeader) {
    ConfigResult r = parse_config("", kFile);
    ASSERT_TRUE(r.config);
    EXPECT_EQ(summary(*r.config), kDefaults);
    EXPECT_TRUE(r.config->relay.smarthost.host.empty());
}

// ca_file is kept as written and resolved against data_dir like the [tls] files.
TEST(ConfigRelay, CaFileIsRelativeToDataDir) {
    ConfigResult r = parse_config(
        "data_dir = \"/srv/mk\"\n[relay]\nmode = \"smarthost\"\nhost = \"s.example\"\nca_file = \"tls/ca.pem\"\n"
        "[[route]]\ndomain = \"x.example\"\nhost = \"mx.x.example\"\nca_file = \"/etc/ssl/x.pem\"\n",
        kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    EXPECT_EQ(r.config->resolve(r.config->relay.smarthost.ca_file), "/srv/mk/tls/ca.pem");
    EXPECT_EQ(r.config->resolve(r.config->relay.routes[0].hop.ca_file), "/etc/ssl/x.pem");
}

// uncomment_relay_example - the default text with the example lines from "# [relay]" on made live.
std::string uncomment_relay_example(const std::string& text) {
    static const std::regex live(R"(^# (\[|[a-z_0-9]+ = ))");
    std::istringstream in(text);
    std::string out, line;
    bool in_example = false;
    while (std::getline(in, line)) {
        if (line == "# [relay]") in_example = true;
        if (in_example && std::regex_search(line, live)) line = line.substr(2);
        out += line + "\n";
    }
    return out;
}

TEST(ConfigRelay, DefaultTextExampleIsValidWhenUncommented) {
    std::string text = default_config_text("/var/lib/mailkeep");
    for (const char* key : {"# [relay]", "# [[relay.sender]]", "# [[route]]", "# [delivery]", "mode", "tls_verify",
                            "ca_file", "password_command", "oauth2_token_command", "retry", "warn_after",
                            "give_up_after", "probe_interval", "rewrite_from"})
        EXPECT_NE(text.find(key), std::string::npos) << key;
    // As written, everything is commented: the default stays direct.
    ConfigResult r = parse_config(text, kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    EXPECT_EQ(summary(*r.config), kDefaults);

    std::string live = uncomment_relay_example(text);
    ASSERT_NE(live, text);
    r = parse_config(live + kUsers, kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string() << "\n" << live;
    ASSERT_EQ(r.config->odmr.hold.size(), 1u);   // the ODMR provider's example too
    EXPECT_EQ(r.config->odmr.hold[0].domain, "customer.example");
    EXPECT_EQ(r.config->odmr.hold[0].user, "anna");
    EXPECT_EQ(summary(*r.config),
              "smarthost smtp.provider.example:587 starttls ca=tls/provider-ca.pem user=home@provider.example "
              "command=pass show provider retry=5m,15m,1h,4h warn=4h give_up=5d probe=1m mx=25"
              " | sender anna@home.arpa as anna.schmidt@provider.example via mail.provider.example:465 implicit "
              "user=anna.schmidt@provider.example command=pass show anna-provider"
              " | route example.com via mx.partner.example:25 starttls | delivery maildir 127.0.0.1:24");
}

// Each case has exactly one mistake; the error must name its line and say what is wrong.
TEST(ConfigRelay, ErrorsHaveTheRightLine) {
    struct Case {
        std::string text;
        std::size_t line;
        const char* what;
    };
    const std::string smarthost = "[relay]\nmode = \"smarthost\"\nhost = \"s.example\"\n";   // lines 1-3
    const std::string sender = "[[relay.sender]]\naddress = \"anna@home.arpa\"\nhost = \"m.example\"\n";   // 1-3
    const std::string route = "[[route]]\ndomain = \"example.com\"\nhost = \"mx.example\"\n";   // 1-3
    const Case cases[] = {
        // unknown keys and wrong shapes
        {"[relay]\nmode = \"direct\"\nretries = [\"5m\"]\n", 3, "unknown key 'retries' in [relay]"},
        {"[relay]\n\"\" = 1\n", 2, "unknown key '' in [relay]"},   // the key lists have no empty slot
        {sender + "rewrite = \"a@b.example\"\n", 4, "unknown key 'rewrite' in [[relay.sender]]"},
        {route + "mx = true\n", 4, "unknown key 'mx' in [[route]]"},
        {"[delivery]\nmode = \"lmtp\"\nsocket = \"/run/lmtp\"\n", 3, "unknown key 'socket' in [delivery]"},
        {"[relay]\nmode = \"smarthost\"\nhost = \"s.example\"\nusername = \"u\"\npassword = \"p\"\nsender = 1\n", 6,
         "sender must be written as [[relay.sender]] tables"},
        {"[relay.sender]\naddress = \"anna@home.arpa\"\n", 1, "sender must be written as [[relay.sender]] tables"},
        {"[route]\ndomain = \"example.com\"\n", 1, "route must be written as [[route]] tables"},
        {"relay = \"smarthost\"\n", 1, "relay must be a table"},
        {"delivery = \"lmtp\"\n", 1, "delivery must be a table"},
        // [relay] mode and the smarthost
        {"[relay]\nmode = \"mx\"\n", 2, "mode 'mx' must be \"smarthost\" or \"direct\""},
        {"[relay]\nmode = 1\n", 2, "mode must be a string"},
        {"[relay]\n\nmode = \"smarthost\"\n", 3, "mode = \"smarthost\" needs a host in [relay]"},
        {"[relay]\nhost = \"smtp.provider.example\"\n", 2, "host in [relay] is only used with mode = \"smarthost\""},
        {"[relay]\nmode = \"direct\"\nport = 587\n", 3, "port in [relay] is only used with mode = \"smarthost\""},
        {"[relay]\nusername = \"u\"\n", 2, "username in [relay] is only used with mode = \"smarthost\""},
        {"[relay]\nmode = \"smarthost\"\nhost = \"smtp provider\"\n", 3,
         "host 'smtp provider' is not a host name or IP address in [relay]"},
        {"[relay]\nmode = \"smarthost\"\nhost = \"\"\n", 3, "is not a host name or IP address"},
        {"[relay]\nmode = \"smarthost\"\nhost = \"[127.0.0.1]\"\n", 3, "is not a host name or IP address"},
        {"[relay]\nmode = \"smarthost\"\nhost = \"fe80::1%eth0\"\n", 3, "is not a host name or IP address"},
        {smarthost + "port = 0\n", 4, "port must be a port number from 1 to 65535"},
        {smarthost + "port = 65536\n", 4, "port must be a port number from 1 to 65535"},
        {smarthost + "port = \"587\"\n", 4, "port must be a port number from 1 to 65535"},
        {smarthost + "tls = \"ssl\"\n", 4, "tls 'ssl' must be \"starttls\", \"implicit\" or \"none\""},
        {smarthost + "tls = true\n", 4, "tls must be a string"},
        {smarthost + "tls_verify = \"yes\"\n", 4, "tls_verify must be true or false"},
        {smarthost + "ca_file = \"\"\n", 4, "ca_file is empty in [relay]"},
        {smarthost + "tls = \"none\"\nca_file = \"ca.pem\"\n", 5, "ca_file has no use with tls = \"none\""},
        {smarthost + "tls = \"none\"\ntls_verify = true\n", 5, "tls_verify has no use with tls = \"none\""},
        {smarthost + "tls_verify = false\nca_file = \"ca.pem\"\n", 5, "ca_file has no use with tls_verify = false"},
        // logging in at a hop
        {smarthost + "username = \"u\"\npassword = \"p\"\npassword_command = \"pass x\"\n", 6,
         "password_command and password (line 5) exclude each other in [relay]"},
        {smarthost + "username = \"u\"\noauth2_token_command = \"tok\"\npassword = \"p\"\n", 6,
         "password and oauth2_token_command (line 5) exclude each other"},
        {smarthost + "password = \"p\"\n", 4, "password needs a username in [relay]"},
        {smarthost + "oauth2_token_command = \"tok\"\n", 4, "oauth2_token_command needs a username"},
        {smarthost + "username = \"u\"\n", 4, "username needs a password, password_command or oauth2_token_command"},
        {smarthost + "username = \"\"\npassword = \"p\"\n", 4, "username is empty in [relay]"},
        {smarthost + "username = \"u\"\npassword = \"\"\n", 5, "password is empty in [relay]"},
        {smarthost + "username = \"u\"\npassword_command = 5\n", 5, "password_command must be a string"},
        {smarthost + "tls = \"none\"\nusername = \"u\"\npassword = \"p\"\n", 5,
         "username with tls = \"none\" would send the credentials in clear text"},
        {"[[route]]\ndomain = \"example.com\"\nhost = \"10.0.0.1\"\ntls = \"none\"\nusername = \"u\"\n"
         "password_command = \"x\"\n", 5, "username with tls = \"none\" would send the credentials in clear text in [[route]]"},
        {"[[route]]\ndomain = \"example.com\"\nhost = \"localhost\"\ntls = \"none\"\nusername = \"u\"\n"
         "password = \"x\"\n", 5, "in clear text"},   // a name may resolve anywhere: only literals count
        // the schedule
        {"[relay]\nretry = \"5m\"\n", 2, "retry must be a list of durations"},
        {"[relay]\nretry = []\n", 2, "retry is empty"},
        {"[relay]\nretry = [\n  \"5m\",\n  \"soon\",\n]\n", 4, "retry must be a duration like"},
        {"[relay]\nretry = [\"0s\"]\n", 2, "retry must be a duration like"},
        {"[relay]\nretry = [300]\n", 2, "retry must be a duration like"},
        {"[relay]\nwarn_after = \"4H\"\n", 2, "warn_after must be a duration like"},
        {"[relay]\nprobe_interval = \"0\"\n", 2, "probe_interval must be a duration like"},
        {"[relay]\ngive_up_after = \"1h\"\n", 2, "give_up_after (1h) must be longer than warn_after (4h)"},
        {"[relay]\nwarn_after = \"6d\"\n", 2, "give_up_after (5d) must be longer than warn_after (6d)"},
        {"[relay]\nwarn_after = \"2h\"\ngive_up_after = \"120m\"\n", 3, "must be longer than warn_after (2h)"},
        {"[relay]\ndns_server = \"localhost:53\"\n", 2, "bad dns_server 'localhost:53'"},
        {"[relay]\ndns_server = \"127.0.0.1\"\n", 2, "bad dns_server"},
        {"[relay]\nmx_port = 0\n", 2, "mx_port must be a port number"},
        // [[relay.sender]]
        {"[[relay.sender]]\naddress = \"anna\"\nhost = \"m.example\"\n", 2, "relay sender 'anna' is not a valid address"},
        {"[[relay.sender]]\naddress = \"anna@gmail.com\"\nhost = \"m.example\"\n", 2,
         "relay sender 'anna@gmail.com' is not in a local domain"},
        {"[[relay.sender]]\naddress = \"family@home.arpa\"\nhost = \"m.example\"\n", 2,
         "relay sender 'family@home.arpa' is not an address of any [[user]]"},
        {"[[relay.sender]]\naddress = \"Anna@home.arpa\"\nhost = \"m.example\"\n", 2,
         "'Anna@home.arpa' is not an address of any [[user]]"},   // local parts are exact
        {sender + "[[relay.sender]]\naddress = \"anna@HOME.arpa\"\nhost = \"n.example\"\n", 5,
         "relay sender 'anna@home.arpa' is already configured at line 2"},
        {"\n[[relay.sender]]\nhost = \"m.example\"\n", 2, "[[relay.sender]] without an address"},
        {"[[relay.sender]]\naddress = \"anna@home.arpa\"\n", 1, "[[relay.sender]] without a host"},
        {sender + "rewrite_from = \"anna@home.arpa\"\n", 4,
         "rewrite_from 'anna@home.arpa' is in a local domain: give the provider address"},
        {sender + "rewrite_from = \"anna.schmidt\"\n", 4, "rewrite_from 'anna.schmidt' is not a valid address"},
        {sender + "tls = \"tls\"\n", 4, "tls 'tls' must be"},
        {sender + "password_command = \"x\"\n", 4, "password_command needs a username in [[relay.sender]]"},
        // [[route]]
        {"[[route]]\nhost = \"mx.example\"\n", 1, "[[route]] without a domain"},
        {"[[route]]\ndomain = \"example.com\"\n", 1, "[[route]] without a host"},
        {"[[route]]\ndomain = \"bad domain\"\nhost = \"mx.example\"\n", 2, "route domain 'bad domain' is not a domain name"},
        {"[[route]]\ndomain = \"Home.Arpa\"\nhost = \"mx.example\"\n", 2,
         "route domain 'home.arpa' is a local domain: its mail never leaves"},
        {route + "[[route]]\ndomain = \"EXAMPLE.com\"\nhost = \"mx2.example\"\n", 5,
         "route for 'example.com' is already defined at line 2"},
        {route + "port = 99999\n", 4, "port must be a port number"},
        {route + "username = \"u\"\n", 4, "username needs a password, password_command or oauth2_token_command in [[route]]"},
        // [delivery]
        {"[delivery]\nmode = \"pipe\"\n", 2, "mode 'pipe' must be \"maildir\", \"lmtp\" or \"smtp\""},
        {"[delivery]\nmode = \"lmtp\"\nhost = \"dovecot host\"\n", 3, "host 'dovecot host' is not a host name or IP address in [delivery]"},
        {"[delivery]\nmode = \"lmtp\"\nport = -24\n", 3, "port must be a port number"},
    };
    for (const Case& c : cases) expect_one_error(parse_config(c.text + kUsers, kFile), kFile, c.line, c.what, c.text);
}

TEST(ConfigRelay, EveryErrorIsReportedInFileOrder) {
    const char* text = R"([relay]
mode = "smarthost"
tls = "starttls"
password = "p"
retry = ["5m", "never"]
[[relay.sender]]
address = "nobody@home.arpa"
[[route]]
domain = "home.arpa"
[delivery]
mode = "nfs"
)";
    ConfigResult r = parse_config(std::string(text) + kUsers, kFile);
    std::vector<std::size_t> lines;
    for (const ConfigError& e : r.errors) lines.push_back(e.line);
    // 2: no host; 4: password without username; 5: "never"; 6: sender without a host, 7: not a user;
    // 8: route without a host, 9: local domain; 11: mode.
    EXPECT_EQ(lines, (std::vector<std::size_t>{2, 4, 5, 6, 7, 8, 9, 11}));
}

}  // namespace
}  // namespace mk
