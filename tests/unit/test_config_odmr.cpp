// tests/unit/test_config_odmr.cpp — [[odmr.hold]], [odmr.client], [[etrn]] and the [[user]] key cram_md5:
// defaults, accepted forms, every error with its line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config_errors.hpp"
#include "core/config.hpp"

namespace mk {
namespace {

constexpr const char* kFile = "/etc/mailkeep/mailkeep.toml";
// doveadm pw -s CRAM-MD5 -p tanstaaftanstaaf (RFC 2195's example password).
constexpr const char* kTimCram = "{CRAM-MD5}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b";
constexpr const char* kTimHex = "d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b";

// Appended to every case, so that the case's own lines keep their numbers. anna logs in with a password,
// tim with CRAM-MD5 only, ben not at all.
const std::string kUsers = std::string(R"(
[[user]]
name = "anna"
password = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA"
addresses = ["anna@home.arpa", "postmaster@home.arpa"]
[[user]]
name = "tim"
cram_md5 = ")") + kTimCram + R"("
addresses = ["tim@home.arpa"]
[[user]]
name = "ben"
addresses = ["ben@home.arpa"]
[[route]]
domain = "routed.example"
host = "mx.routed.example"
)";

// parse - the case after the local domains (a top-level key, so before any table), then kUsers.
ConfigResult parse(const std::string& text) {
    return parse_config("local_domains = [\"home.arpa\", \"office.example\"]\n" + text + kUsers, kFile);
}

// hop_text - one hop in one line: "host:port tls [user=] [password=|command=]".
std::string hop_text(const HopConfig& h) {
    constexpr const char* kTls[] = {"starttls", "implicit", "none"};
    std::string s = h.host + ":" + std::to_string(h.port) + " " + kTls[static_cast<int>(h.tls)];
    if (!h.username.empty()) s += " user=" + h.username;
    if (!h.password.empty()) s += " password=" + h.password;
    if (!h.password_command.empty()) s += " command=" + h.password_command;
    return s;
}

// summary - everything these sections set, in one comparable string.
std::string summary(const Config& c) {
    std::string s;
    for (const OdmrHoldConfig& h : c.odmr.hold) s += "hold " + h.domain + " for " + h.user + " | ";
    if (c.odmr.client) {
        s += "client " + hop_text(c.odmr.client->hop) + " domains=";
        for (const std::string& d : c.odmr.client->domains) s += d + ",";
        s += " every " + std::to_string(c.odmr.client->interval.count()) + "s | ";
    }
    for (const EtrnConfig& e : c.etrn) s += "etrn " + e.domain + " at " + hop_text(e.hop) + " | ";
    return s;
}

// The line numbers below count from the case's first line; parse() puts one line in front.
TEST(ConfigOdmr, Valid) {
    struct Case {
        std::string text;
        std::string want;   // summary()
    };
    const Case cases[] = {
        {"", ""},
        // The issue's example, as real TOML.
        {R"([[odmr.hold]]
domain = "customer.example"
user = "anna"
[odmr.client]
host = "odmr.provider.example"
port = 366
tls = "starttls"
username = "office"
password = "secret"
domains = ["office.example"]
interval = "10m"
[[etrn]]
host = "mx.provider.example"
domain = "office.example"
)",
         "hold customer.example for anna | client odmr.provider.example:366 starttls user=office password=secret "
         "domains=office.example, every 600s | etrn office.example at mx.provider.example:25 starttls | "},
        // Defaults: port 366 in every TLS mode, interval 10m; a hold user with CRAM-MD5 only; case folded.
        {"[[odmr.hold]]\ndomain = \"Customer.EXAMPLE\"\nuser = \"tim\"\n[[odmr.hold]]\ndomain = \"b.example\"\nuser = \"tim\"\n"
         "[odmr.client]\nhost = \"p.example\"\ntls = \"implicit\"\nusername = \"u\"\npassword_command = \"pass odmr\"\n"
         "domains = [\"Home.Arpa\", \"office.example\"]\n",
         "hold customer.example for tim | hold b.example for tim | client p.example:366 implicit user=u command=pass odmr "
         "domains=home.arpa,office.example, every 600s | "},
        // tls = "none" to a loopback literal (a local test provider).
        {"[odmr.client]\nhost = \"127.0.0.1\"\ntls = \"none\"\nport = 2366\nusername = \"u\"\npassword = \"p\"\n"
         "domains = [\"home.arpa\"]\ninterval = \"30s\"\n",
         "client 127.0.0.1:2366 none user=u password=p domains=home.arpa, every 30s | "},
        {"[odmr.client]\nhost = \"::1\"\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"\ndomains = [\"home.arpa\"]\n",
         "client ::1:366 none user=u password=p domains=home.arpa, every 600s | "},
        // ETRN: port 25, 465 for implicit TLS; a login allowed (some providers want AUTH first); one domain
        // at several providers, several domains at one.
        {"[[etrn]]\nhost = \"mx.provider.example\"\ndomain = \"home.arpa\"\n"
         "[[etrn]]\nhost = \"mx.provider.example\"\ndomain = \"office.example\"\ntls = \"implicit\"\n"
         "[[etrn]]\nhost = \"backup.example\"\ndomain = \"home.arpa\"\nport = 587\nusername = \"u\"\npassword = \"p\"\n",
         "etrn home.arpa at mx.provider.example:25 starttls | etrn office.example at mx.provider.example:465 implicit | "
         "etrn home.arpa at backup.example:587 starttls user=u password=p | "},
    };
    for (const Case& c : cases) {
        ConfigResult r = parse(c.text);
        ASSERT_TRUE(r.config) << c.text << (r.errors.empty() ? "" : r.errors[0].to_string());
        EXPECT_EQ(summary(*r.config), c.want) << c.text;
    }
}

TEST(ConfigOdmr, HoldFor) {
    ConfigResult r = parse("[[odmr.hold]]\ndomain = \"customer.example\"\nuser = \"anna\"\n");
    ASSERT_TRUE(r.config);
    const OdmrHoldConfig* h = r.config->odmr.hold_for("customer.example");
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->user, "anna");
    EXPECT_EQ(r.config->odmr.hold_for("other.example"), nullptr);
    EXPECT_EQ(r.config->odmr.hold_for("home.arpa"), nullptr);
}

TEST(ConfigOdmr, CramMd5IsStoredNormalised) {
    const std::string forms[] = {kTimCram, kTimHex, "{cram-md5}D06D4E1B26FCCAA4B0B61801132340A354B21152711FB604CA3E035E7015116B"};
    for (const std::string& form : forms) {
        ConfigResult r = parse_config("[[user]]\nname = \"tim\"\ncram_md5 = \"" + form + "\"\naddresses = [\"postmaster@home.arpa\"]\n",
                                      kFile);
        ASSERT_TRUE(r.config) << form << (r.errors.empty() ? "" : r.errors[0].to_string());
        EXPECT_EQ(r.config->users.at(0).cram_md5, kTimHex) << form;
        EXPECT_TRUE(r.config->users.at(0).password_hash.empty());
    }
    ConfigResult none = parse_config("[[user]]\nname = \"tim\"\naddresses = [\"postmaster@home.arpa\"]\n", kFile);
    ASSERT_TRUE(none.config);
    EXPECT_TRUE(none.config->users.at(0).cram_md5.empty());
}

TEST(ConfigOdmr, ErrorsHaveTheRightLine) {
    struct Case {
        std::string text;
        std::size_t line;   // in the file: the case's first line is line 2
        std::string what;   // a part of the message
    };
    const std::string client = "[odmr.client]\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndomains = [\"home.arpa\"]\n";
    const std::string etrn = "[[etrn]]\nhost = \"mx.provider.example\"\ndomain = \"home.arpa\"\n";
    const Case cases[] = {
        // [odmr] itself
        {"odmr = 1\n", 2, "odmr must be a table [odmr]"},
        {"[odmr]\nholds = []\n", 3, "unknown key 'holds' in [odmr]"},
        {"[odmr]\nhold = 1\n", 3, "hold must be written as [[odmr.hold]] tables"},
        {"[odmr]\nclient = 1\n", 3, "client must be written as an [odmr.client] table"},
        {"etrn = \"mx.provider.example\"\n", 2, "etrn must be written as [[etrn]] tables"},
        // [[odmr.hold]]
        {"[[odmr.hold]]\nuser = \"anna\"\n", 2, "[[odmr.hold]] without a domain"},
        {"[[odmr.hold]]\ndomain = \"customer.example\"\n", 2, "[[odmr.hold]] without a user"},
        {"[[odmr.hold]]\ndomain = \"customer.example\"\nuser = \"anna\"\nusers = [\"ben\"]\n", 5,
         "unknown key 'users' in [[odmr.hold]]"},
        {"[[odmr.hold]]\ndomain = \"customer example\"\nuser = \"anna\"\n", 3,
         "hold domain 'customer example' is not a domain name"},
        {"[[odmr.hold]]\ndomain = 5\nuser = \"anna\"\n", 3, "domain must be a string"},
        {"[[odmr.hold]]\ndomain = \"Home.Arpa\"\nuser = \"anna\"\n", 3,
         "hold domain 'home.arpa' is a local domain: its mail is delivered here, not held"},
        {"[[odmr.hold]]\ndomain = \"routed.example\"\nuser = \"anna\"\n", 3,
         "hold domain 'routed.example' also has a [[route]] (line"},
        {"[[odmr.hold]]\ndomain = \"c.example\"\nuser = \"anna\"\n[[odmr.hold]]\ndomain = \"C.example\"\nuser = \"tim\"\n", 6,
         "hold domain 'c.example' is already held at line 3"},
        {"[[odmr.hold]]\ndomain = \"c.example\"\nuser = \"carla\"\n", 4, "hold user 'carla' is not a user in [[odmr.hold]]"},
        {"[[odmr.hold]]\ndomain = \"c.example\"\nuser = \"ben\"\n", 4,
         "hold user 'ben' has neither a password nor cram_md5: ATRN needs a login"},
        // [odmr.client]
        {"[odmr.client]\nusername = \"u\"\npassword = \"p\"\ndomains = [\"home.arpa\"]\n", 2, "[odmr.client] without a host"},
        {"[odmr.client]\nhost = \"p.example\"\ndomains = [\"home.arpa\"]\n", 2,
         "[odmr.client] without a username and a password or password_command: ATRN needs a login"},
        {"[odmr.client]\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\n", 2,
         "[odmr.client] without domains, the local domains to pull"},
        {client + "interval = \"0s\"\n", 7, "interval must be a duration"},
        {client + "domain = \"home.arpa\"\n", 7, "unknown key 'domain' in [odmr.client]"},
        {"[odmr.client]\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndomains = []\n", 6,
         "domains is empty in [odmr.client]"},
        {"[odmr.client]\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndomains = \"home.arpa\"\n", 6,
         "domains must be a list of strings"},
        {"[odmr.client]\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndomains = [\"home arpa\"]\n", 6,
         "domain 'home arpa' is not a domain name in [odmr.client]"},
        {"[odmr.client]\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndomains = [\"customer.example\"]\n", 6,
         "domain 'customer.example' is not a local domain in [odmr.client]"},
        {"[odmr.client]\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndomains = [\"home.arpa\",\n\"HOME.arpa\"]\n", 7,
         "domain 'home.arpa' is listed twice (first at line 6) in [odmr.client]"},
        {"[odmr.client]\nhost = \"p.example\"\nusername = \"u\"\noauth2_token_command = \"t\"\ndomains = [\"home.arpa\"]\n", 5,
         "oauth2_token_command has no use in [odmr.client]: ODMR logs in with CRAM-MD5 or PLAIN"},
        {"[odmr.client]\nhost = \"p.example\"\nusername = \"u\"\ndomains = [\"home.arpa\"]\n", 4,
         "username needs a password, password_command or oauth2_token_command in [odmr.client]"},
        {client + "tls = \"ssl\"\n", 7, "tls 'ssl' must be \"starttls\", \"implicit\" or \"none\""},
        {client + "port = 0\n", 7, "port must be a port number"},
        // [[etrn]]
        {"[[etrn]]\ndomain = \"home.arpa\"\n", 2, "[[etrn]] without a host"},
        {"[[etrn]]\nhost = \"mx.provider.example\"\n", 2, "[[etrn]] without a domain"},
        {etrn + "domains = [\"home.arpa\"]\n", 5, "unknown key 'domains' in [[etrn]]"},
        {"[[etrn]]\nhost = \"mx.provider.example\"\ndomain = \"#home\"\n", 4,
         "domain '#home' must be a domain name in [[etrn]] (RFC 1985's \"#queue\" and \"@domain\" forms are not supported)"},
        {"[[etrn]]\nhost = \"mx.provider.example\"\ndomain = \"@home.arpa\"\n", 4, "forms are not supported"},
        {"[[etrn]]\nhost = \"mx.provider.example\"\ndomain = \"home..arpa\"\n", 4,
         "domain 'home..arpa' is not a domain name in [[etrn]]"},
        {"[[etrn]]\nhost = \"mx.provider.example\"\ndomain = \"customer.example\"\n", 4,
         "domain 'customer.example' is not a local domain in [[etrn]]"},
        {etrn + "[[etrn]]\nhost = \"MX.provider.example\"\ndomain = \"Home.arpa\"\n", 7,
         "ETRN for 'home.arpa' to 'mx.provider.example' is already configured at line 4"},
        {etrn + "username = \"u\"\n", 5, "username needs a password"},
        {etrn + "tls = \"none\"\nusername = \"u\"\npassword = \"p\"\n", 6,
         "username with tls = \"none\" would send the credentials in clear text in [[etrn]]"},
        {etrn + "port = 65536\n", 5, "port must be a port number"},
        // [[user]] cram_md5
        {"[[user]]\nname = \"carla\"\ncram_md5 = \"tanstaaftanstaaf\"\n", 4,
         "cram_md5 is not a CRAM-MD5 secret (\"{CRAM-MD5}\" and 64 hex digits); `mailkeep passwd --cram-md5` makes one"},
        {"[[user]]\nname = \"carla\"\ncram_md5 = \"\"\n", 4, "cram_md5 is not a CRAM-MD5 secret"},
        {"[[user]]\nname = \"carla\"\ncram_md5 = \"{CRAM-MD5}\"\n", 4, "cram_md5 is not a CRAM-MD5 secret"},
        {"[[user]]\nname = \"carla\"\ncram_md5 = \"{PLAIN}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b\"\n", 4,
         "cram_md5 is not a CRAM-MD5 secret"},
        {"[[user]]\nname = \"carla\"\ncram_md5 = \"{CRAM-MD5}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116\"\n", 4,
         "cram_md5 is not a CRAM-MD5 secret"},
        {"[[user]]\nname = \"carla\"\ncram_md5 = \"{CRAM-MD5}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116bb\"\n", 4,
         "cram_md5 is not a CRAM-MD5 secret"},
        {"[[user]]\nname = \"carla\"\ncram_md5 = \"{CRAM-MD5}g06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b\"\n", 4,
         "cram_md5 is not a CRAM-MD5 secret"},
        {"[[user]]\nname = \"carla\"\ncram_md5 = 1\n", 4, "cram_md5 must be a string"},
    };
    for (const Case& c : cases) expect_one_error(parse(c.text), kFile, c.line, c.what, c.text);
}

// tls = "none" to a remote provider: refused on the tls line, and the login over it on its own line.
TEST(ConfigOdmr, ClientWithoutTlsOnlyToLoopback) {
    ConfigResult r = parse("[odmr.client]\nhost = \"192.0.2.7\"\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"\n"
                           "domains = [\"home.arpa\"]\n");
    ASSERT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 2u);
    EXPECT_EQ(r.errors[0].line, 4u);
    EXPECT_NE(r.errors[0].what.find("tls = \"none\" is only allowed to a loopback address in [odmr.client]"),
              std::string::npos) << r.errors[0].to_string();
    EXPECT_EQ(r.errors[1].line, 5u);
    EXPECT_NE(r.errors[1].what.find("would send the credentials in clear text"), std::string::npos);
    for (const char* host : {"localhost", "odmr.provider.example", "10.0.0.1"}) {
        ConfigResult n = parse(std::string("[odmr.client]\nhost = \"") + host + "\"\ntls = \"none\"\nusername = \"u\"\n"
                               "password = \"p\"\ndomains = [\"home.arpa\"]\n");
        EXPECT_FALSE(n.config) << host;
    }
}

// A secret is never repeated in a message: cram_md5 is password-equivalent.
TEST(ConfigOdmr, CramMd5ErrorDoesNotRepeatTheValue) {
    ConfigResult r = parse("[[user]]\nname = \"carla\"\ncram_md5 = \"my-secret-password\"\n");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].what.find("my-secret-password"), std::string::npos);
}

}  // namespace
}  // namespace mk
