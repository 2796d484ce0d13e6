// tests/unit/test_config_account.cpp — [[account]] and [fetch]: defaults, accepted forms, every error with its line.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "config_errors.hpp"
#include "core/config.hpp"

namespace mk {
namespace {

constexpr const char* kFile = "/etc/mailkeep/mailkeep.toml";

// Appended to every case, so that the case's own lines keep their numbers. The Builder reads the
// users before the accounts, wherever they stand in the file.
constexpr const char* kUsers = R"(
[[user]]
name = "anna"
addresses = ["anna@home.arpa"]
[[user]]
name = "ben"
addresses = ["ben@home.arpa"]
[[user]]
name = "postmaster"
addresses = ["postmaster@home.arpa"]
)";
// The same without a user called "postmaster" (the address goes to anna): unknown_to's default is missing.
constexpr const char* kUsersWithoutPostmaster = R"(
[[user]]
name = "anna"
addresses = ["anna@home.arpa", "postmaster@home.arpa"]
)";

// dur - a duration the way the file writes it.
std::string dur(std::chrono::seconds d) {
    if (d.count() != 0 && d.count() % 86400 == 0) return std::to_string(d.count() / 86400) + "d";
    if (d.count() != 0 && d.count() % 3600 == 0) return std::to_string(d.count() / 3600) + "h";
    if (d.count() != 0 && d.count() % 60 == 0) return std::to_string(d.count() / 60) + "m";
    return std::to_string(d.count()) + "s";
}

// account_text - one account in one line: "name proto host:port [starttls] [noverify] [ca=] [plain]
// user= password=|command=|oauth2= single>USER | multidrop env= unknown= keep= cycle= size= timeout=
// interval= [folders= idle|noidle]".
std::string account_text(const AccountConfig& a) {
    constexpr const char* kProtocols[] = {"pop3", "pop3s", "imap", "imaps"};
    std::string s = a.name + " " + kProtocols[static_cast<int>(a.protocol)] + " " + a.host + ":" + std::to_string(a.port);
    if (a.starttls) s += " starttls";
    if (!a.tls_verify) s += " noverify";
    if (!a.ca_file.empty()) s += " ca=" + a.ca_file.string();
    if (a.allow_plaintext) s += " plain";
    s += " user=" + a.username;
    if (!a.password.empty()) s += " password=" + a.password;
    if (!a.password_command.empty()) s += " command=" + a.password_command;
    if (!a.oauth2_token_command.empty()) s += " oauth2=" + a.oauth2_token_command;
    if (a.mode == AccountConfig::Mode::single) s += " single>" + a.deliver_to;
    else s += " multidrop env=" + a.envelope_header + " unknown=" + a.unknown_to;
    s += " keep=" + (a.keep_for ? dur(*a.keep_for) : std::string("forever"));
    s += " cycle=" + std::to_string(a.max_per_cycle) + " size=" + std::to_string(a.max_size);
    s += " timeout=" + dur(a.timeout) + " interval=" + dur(a.interval);
    if (a.is_imap()) {
        s += " folders=";
        for (std::size_t i = 0; i < a.folders.size(); ++i) s += (i ? "," : "") + a.folders[i];
        s += a.idle ? " idle" : " noidle";
    }
    return s;
}

// summary - every account and [fetch], in one comparable string.
std::string summary(const Config& c) {
    std::string s;
    for (const AccountConfig& a : c.accounts) s += account_text(a) + " | ";
    const FetchConfig& f = c.fetch;
    return s + "fetch" + (f.on_login ? " on_login" : "") + " stale=" + dur(f.stale_after) + " wait=" + dur(f.login_wait);
}

constexpr const char* kFetchDefaults = "fetch on_login stale=5m wait=5s";
// The defaults of an account after the name, the protocol and the host.
constexpr const char* kRest = " keep=forever cycle=100 size=52428800 timeout=1m interval=10m";

TEST(ConfigAccount, Valid) {
    struct Case {
        std::string text;
        std::string want;   // summary()
    };
    const std::string fetch = std::string(" | ") + kFetchDefaults;
    const Case cases[] = {
        {"", kFetchDefaults},
        {"[fetch]\n", kFetchDefaults},
        // Single, every default: POP3 over TLS, port 995, kept forever.
        {"[[account]]\nname = \"anna-gmx\"\nhost = \"POP.GMX.example\"\nusername = \"anna@gmx.example\"\n"
         "password = \"secret\"\ndeliver_to = \"anna\"\n",
         std::string("anna-gmx pop3s pop.gmx.example:995 user=anna@gmx.example password=secret single>anna") + kRest + fetch},
        // The default port follows the protocol; STLS/STARTTLS stay on the plain port.
        {"[[account]]\nname = \"a\"\nprotocol = \"imaps\"\nhost = \"imap.example\"\nusername = \"u\"\n"
         "oauth2_token_command = \"oauth2 anna\"\ndeliver_to = \"anna\"\n",
         std::string("a imaps imap.example:993 user=u oauth2=oauth2 anna single>anna") + kRest + " folders=INBOX idle" + fetch},
        {"[[account]]\nname = \"a\"\nprotocol = \"imap\"\nstarttls = true\nhost = \"imap.example\"\nusername = \"u\"\n"
         "password_command = \"pass x\"\ndeliver_to = \"ben\"\n",
         std::string("a imap imap.example:143 starttls user=u command=pass x single>ben") + kRest + " folders=INBOX idle" + fetch},
        {"[[account]]\nname = \"a\"\nprotocol = \"pop3\"\nstarttls = true\nhost = \"pop.example\"\nusername = \"u\"\n"
         "password = \"p\"\ndeliver_to = \"anna\"\n",
         std::string("a pop3 pop.example:110 starttls user=u password=p single>anna") + kRest + fetch},
        // Without TLS: to a loopback literal, or with allow_plaintext.
        {"[[account]]\nname = \"a\"\nprotocol = \"pop3\"\nhost = \"127.0.0.1\"\nport = 11110\nusername = \"u\"\n"
         "password = \"p\"\ndeliver_to = \"anna\"\n",
         std::string("a pop3 127.0.0.1:11110 user=u password=p single>anna") + kRest + fetch},
        {"[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"::1\"\nusername = \"u\"\npassword = \"p\"\n"
         "deliver_to = \"anna\"\nstarttls = false\n",
         std::string("a imap ::1:143 user=u password=p single>anna") + kRest + " folders=INBOX idle" + fetch},
        // An IPv4 loopback written v4-mapped is loopback too (core/ip, the sessions' rule).
        {"[[account]]\nname = \"a\"\nprotocol = \"pop3\"\nhost = \"::ffff:127.0.0.1\"\nusername = \"u\"\n"
         "password = \"p\"\ndeliver_to = \"anna\"\n",
         std::string("a pop3 ::ffff:127.0.0.1:110 user=u password=p single>anna") + kRest + fetch},
        {"[[account]]\nname = \"a\"\nprotocol = \"pop3\"\nhost = \"pop.lan.example\"\nallow_plaintext = true\n"
         "username = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n",
         std::string("a pop3 pop.lan.example:110 plain user=u password=p single>anna") + kRest + fetch},
        // Certificates.
        {"[[account]]\nname = \"a\"\nhost = \"10.0.0.5\"\nca_file = \"tls/ca.pem\"\nusername = \"u\"\npassword = \"p\"\n"
         "deliver_to = \"anna\"\n",
         std::string("a pop3s 10.0.0.5:995 ca=tls/ca.pem user=u password=p single>anna") + kRest + fetch},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\ntls_verify = false\nusername = \"u\"\npassword = \"p\"\n"
         "deliver_to = \"anna\"\n",
         std::string("a pop3s p.example:995 noverify user=u password=p single>anna") + kRest + fetch},
        // Multidrop: envelope header, unknown_to, the default postmaster.
        {"[[account]]\nname = \"family\"\nhost = \"pop.example\"\nusername = \"u\"\npassword = \"p\"\n"
         "mailbox = \"multidrop\"\n",
         std::string("family pop3s pop.example:995 user=u password=p multidrop env=auto unknown=postmaster") + kRest + fetch},
        {"[[account]]\nname = \"family\"\nhost = \"pop.example\"\nusername = \"u\"\npassword = \"p\"\n"
         "mailbox = \"multidrop\"\nenvelope_header = \"X-Original-To\"\nunknown_to = \"anna\"\n",
         std::string("family pop3s pop.example:995 user=u password=p multidrop env=X-Original-To unknown=anna") + kRest + fetch},
        {"[[account]]\nname = \"family\"\nhost = \"pop.example\"\nusername = \"u\"\npassword = \"p\"\n"
         "mailbox = \"multidrop\"\nenvelope_header = \"AUTO\"\n",
         std::string("family pop3s pop.example:995 user=u password=p multidrop env=auto unknown=postmaster") + kRest + fetch},
        // keep, limits, timing.
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n"
         "keep = \"delete\"\nmax_per_cycle = 10\nmax_size = \"10M\"\ntimeout = \"30s\"\ninterval = \"1m\"\n",
         "a pop3s p.example:995 user=u password=p single>anna keep=0s cycle=10 size=10485760 timeout=30s interval=1m" + fetch},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n"
         "keep = \"7d\"\nmax_size = 1000\n",
         "a pop3s p.example:995 user=u password=p single>anna keep=7d cycle=100 size=1000 timeout=1m interval=10m" + fetch},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n"
         "keep = \"forever\"\n",
         std::string("a pop3s p.example:995 user=u password=p single>anna") + kRest + fetch},
        // IMAP folders and IDLE; INBOX in any case, other names as written.
        {"[[account]]\nname = \"a\"\nprotocol = \"imaps\"\nhost = \"i.example\"\nusername = \"u\"\npassword = \"p\"\n"
         "deliver_to = \"anna\"\nfolders = [\"inbox\", \"Sent Items\", \"[Gmail]/All Mail\"]\nidle = false\n",
         std::string("a imaps i.example:993 user=u password=p single>anna") + kRest +
             " folders=inbox,Sent Items,[Gmail]/All Mail noidle" + fetch},
        // Two accounts, and [fetch].
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n"
         "[[account]]\nname = \"b\"\nhost = \"p.example\"\nusername = \"v\"\npassword = \"q\"\ndeliver_to = \"ben\"\n"
         "[fetch]\non_login = false\nstale_after = \"1h\"\nlogin_wait = \"2s\"\n",
         std::string("a pop3s p.example:995 user=u password=p single>anna") + kRest +
             " | b pop3s p.example:995 user=v password=q single>ben" + kRest + " | fetch stale=1h wait=2s"},
    };
    for (const Case& c : cases) {
        ConfigResult r = parse_config(c.text + kUsers, kFile);
        ASSERT_TRUE(r.errors.empty()) << c.text << r.errors[0].to_string();
        EXPECT_EQ(summary(*r.config), c.want) << c.text;
    }
}

TEST(ConfigAccount, Helpers) {
    ConfigResult r = parse_config(
        "data_dir = \"/srv/mk\"\n[[account]]\nname = \"a\"\nprotocol = \"imap\"\nstarttls = true\nhost = \"i.example\"\n"
        "ca_file = \"tls/ca.pem\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n"
        "[[account]]\nname = \"b\"\nprotocol = \"pop3\"\nhost = \"127.0.0.1\"\nusername = \"u\"\npassword = \"p\"\n"
        "deliver_to = \"anna\"\n" + std::string(kUsers),
        kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    const Config& c = *r.config;
    ASSERT_NE(c.find_account("a"), nullptr);
    EXPECT_EQ(c.find_account("b"), &c.accounts[1]);
    EXPECT_EQ(c.find_account("c"), nullptr);
    EXPECT_TRUE(c.accounts[0].is_imap());
    EXPECT_TRUE(c.accounts[0].uses_tls());   // by STARTTLS
    EXPECT_FALSE(c.accounts[1].is_imap());
    EXPECT_FALSE(c.accounts[1].uses_tls());
    EXPECT_EQ(c.resolve(c.accounts[0].ca_file), "/srv/mk/tls/ca.pem");   // like the [tls] files
}

// uncomment_account_example - the default text with the example lines of the accounts block made live.
std::string uncomment_account_example(const std::string& text) {
    static const std::regex live(R"(^# (\[|[a-z_0-9]+ = ))");
    std::istringstream in(text);
    std::string out, line;
    bool in_example = false;
    while (std::getline(in, line)) {
        if (line.starts_with("# Collecting mail from providers")) in_example = true;
        if (line.starts_with("# Outbound mail")) in_example = false;
        if (in_example && std::regex_search(line, live)) line = line.substr(2);
        out += line + "\n";
    }
    return out;
}

TEST(ConfigAccount, DefaultTextExampleIsValidWhenUncommented) {
    std::string text = default_config_text("/var/lib/mailkeep");
    for (const char* key : {"# [[account]]", "# [fetch]", "protocol", "starttls", "allow_plaintext", "deliver_to",
                            "envelope_header", "unknown_to", "keep", "max_per_cycle", "max_size", "timeout",
                            "interval", "folders", "idle", "on_login", "stale_after", "login_wait"})
        EXPECT_NE(text.find(key), std::string::npos) << key;
    ConfigResult r = parse_config(text, kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    EXPECT_TRUE(r.config->accounts.empty());

    std::string live = uncomment_account_example(text);
    ASSERT_NE(live, text);
    r = parse_config(live + kUsers, kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string() << "\n" << live;
    EXPECT_EQ(summary(*r.config),
              "anna-provider imaps imap.provider.example:993 ca=tls/provider-ca.pem user=anna.schmidt@provider.example "
              "command=pass show anna-provider single>anna keep=7d cycle=100 size=52428800 timeout=1m interval=10m "
              "folders=INBOX idle"
              " | family pop3s pop.provider.example:995 user=family@provider.example password=secret multidrop env=auto "
              "unknown=postmaster keep=forever cycle=100 size=52428800 timeout=1m interval=10m"
              " | fetch on_login stale=5m wait=5s");
}

// Each case has exactly one mistake; the error must name its line and say what is wrong.
TEST(ConfigAccount, ErrorsHaveTheRightLine) {
    struct Case {
        std::string text;
        std::size_t line;
        const char* what;
        const char* users = kUsers;
    };
    // lines 1-6, a valid single POP3S account
    const std::string pop = "[[account]]\nname = \"a\"\nhost = \"pop.example\"\nusername = \"u\"\npassword = \"p\"\n"
                            "deliver_to = \"anna\"\n";
    // lines 1-7, a valid single IMAPS account
    const std::string imap = "[[account]]\nname = \"a\"\nprotocol = \"imaps\"\nhost = \"imap.example\"\nusername = \"u\"\n"
                             "password = \"p\"\ndeliver_to = \"anna\"\n";
    // lines 1-6, a valid multidrop account
    const std::string multi = "[[account]]\nname = \"m\"\nhost = \"pop.example\"\nusername = \"u\"\npassword = \"p\"\n"
                              "mailbox = \"multidrop\"\n";
    // lines 1-5: no protocol line yet (a case adds it), host and login
    const std::string plain = "[[account]]\nname = \"a\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n";
    const Case cases[] = {
        // unknown keys and wrong shapes
        {pop + "passwd = \"x\"\n", 7, "unknown key 'passwd' in [[account]]"},
        {pop + "tls = \"implicit\"\n", 7, "unknown key 'tls' in [[account]]"},   // accounts say protocol
        {"[account]\nname = \"a\"\n", 1, "account must be written as [[account]] tables"},
        {"account = \"a\"\n", 1, "account must be written as [[account]] tables"},
        {"fetch = true\n", 1, "fetch must be a table [fetch]"},
        {"[fetch]\non_login = true\ninterval = \"5m\"\n", 3, "unknown key 'interval' in [fetch]"},
        // name
        {"\n[[account]]\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n", 2,
         "[[account]] without a name"},
        {"[[account]]\nname = \"Anna GMX\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n",
         2, "account name 'Anna GMX' must be [a-z0-9._-]+"},
        {"[[account]]\nname = \"../x\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n",
         2, "must be [a-z0-9._-]+"},
        {"[[account]]\nname = 1\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n", 2,
         "name must be a string"},
        {pop + pop, 8, "duplicate account 'a' (first at line 2)"},
        // protocol, TLS and port
        {plain + "host = \"p.example\"\nprotocol = \"pop\"\n", 7, "protocol 'pop' must be \"pop3\", \"pop3s\", \"imap\" or \"imaps\""},
        {plain + "host = \"p.example\"\nprotocol = \"imaps\"\nstarttls = true\n", 8,
         "starttls has no use with protocol = \"imaps\" (TLS from the start)"},
        {pop + "starttls = false\n", 7, "starttls has no use with protocol = \"pop3s\""},
        {plain + "host = \"127.0.0.1\"\nprotocol = \"imap\"\nstarttls = \"yes\"\n", 8, "starttls must be true or false"},
        {"[[account]]\nname = \"a\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"anna\"\n", 1,
         "[[account]] without a host"},
        {plain + "host = \"pop example\"\n", 6, "host 'pop example' is not a host name or IP address in [[account]]"},
        {pop + "port = 0\n", 7, "port must be a port number from 1 to 65535"},
        {pop + "port = \"995\"\n", 7, "port must be a port number"},
        {pop + "tls_verify = \"no\"\n", 7, "tls_verify must be true or false"},
        {pop + "ca_file = \"\"\n", 7, "ca_file is empty in [[account]]"},
        {pop + "tls_verify = false\nca_file = \"ca.pem\"\n", 8, "ca_file has no use with tls_verify = false in [[account]]"},
        {plain + "host = \"127.0.0.1\"\nprotocol = \"pop3\"\nca_file = \"ca.pem\"\n", 8,
         "ca_file has no use with protocol = \"pop3\" without starttls in [[account]]"},
        {plain + "host = \"127.0.0.1\"\nprotocol = \"imap\"\ntls_verify = true\n", 8,
         "tls_verify has no use with protocol = \"imap\" without starttls"},
        // logging in: exactly one way, with a username
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\ndeliver_to = \"anna\"\n", 1,
         "[[account]] without a username and a password, password_command or oauth2_token_command"},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\npassword = \"p\"\ndeliver_to = \"anna\"\n", 4,
         "password needs a username in [[account]]"},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\ndeliver_to = \"anna\"\n", 4,
         "username needs a password, password_command or oauth2_token_command in [[account]]"},
        {pop + "password_command = \"pass x\"\n", 7, "password_command and password (line 5) exclude each other in [[account]]"},
        {pop + "oauth2_token_command = \"tok\"\n", 7, "oauth2_token_command and password (line 5) exclude each other"},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"\"\npassword = \"p\"\ndeliver_to = \"anna\"\n", 4,
         "username is empty in [[account]]"},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"\"\ndeliver_to = \"anna\"\n", 5,
         "password is empty in [[account]]"},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword_command = 1\ndeliver_to = \"anna\"\n",
         5, "password_command must be a string"},
        // passwords do not cross a network in the clear
        {plain + "host = \"pop.example\"\nprotocol = \"pop3\"\n", 7,
         "protocol = \"pop3\" without starttls would send the credentials to 'pop.example' in clear text: set "
         "starttls = true, use \"pop3s\", or set allow_plaintext = true in [[account]]"},
        {plain + "protocol = \"imap\"\nhost = \"10.1.1.1\"\nstarttls = false\n", 6, "use \"imaps\", or set allow_plaintext"},
        {plain + "protocol = \"imap\"\nhost = \"localhost\"\n", 6, "in clear text"},   // a name may resolve anywhere
        {plain + "protocol = \"pop3\"\nhost = \"p.example\"\nallow_plaintext = false\n", 6, "in clear text"},
        {pop + "allow_plaintext = true\n", 7, "allow_plaintext has no use with TLS (protocol = \"pop3s\") in [[account]]"},
        {plain + "host = \"p.example\"\nprotocol = \"imap\"\nstarttls = true\nallow_plaintext = true\n", 9,
         "allow_plaintext has no use with TLS (protocol = \"imap\" with starttls)"},
        {plain + "host = \"127.0.0.1\"\nprotocol = \"pop3\"\nallow_plaintext = \"yes\"\n", 8,
         "allow_plaintext must be true or false"},
        // single and multidrop
        {pop + "mailbox = \"shared\"\n", 7, "mailbox 'shared' must be \"single\" or \"multidrop\""},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\n", 1,
         "mailbox = \"single\" needs deliver_to, the user who gets this account's mail in [[account]]"},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\nmailbox = \"single\"\n", 6,
         "mailbox = \"single\" needs deliver_to"},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\ndeliver_to = \"nobody\"\n", 6,
         "deliver_to 'nobody' is not a user in [[account]]"},
        {"[[account]]\nname = \"a\"\nhost = \"p.example\"\nusername = \"u\"\npassword = \"p\"\n"
         "deliver_to = \"anna@home.arpa\"\n", 6, "deliver_to 'anna@home.arpa' is not a user"},
        {pop + "envelope_header = \"Delivered-To\"\n", 7, "envelope_header is only used with mailbox = \"multidrop\""},
        {pop + "unknown_to = \"anna\"\n", 7, "unknown_to is only used with mailbox = \"multidrop\""},
        {multi + "deliver_to = \"anna\"\n", 7, "deliver_to has no use with mailbox = \"multidrop\""},
        {multi + "envelope_header = \"X Original To\"\n", 7,
         "envelope_header 'X Original To' must be \"auto\" or a header field name"},
        {multi + "envelope_header = \"Delivered-To:\"\n", 7, "must be \"auto\" or a header field name"},
        {multi + "envelope_header = \"\"\n", 7, "must be \"auto\" or a header field name"},
        {multi + "unknown_to = \"ghost\"\n", 7, "unknown_to 'ghost' is not a user in [[account]]"},
        {multi, 6,
         "unknown_to is not set and its default 'postmaster' is not a user: name the user who gets mail for unknown "
         "recipients in [[account]]",
         kUsersWithoutPostmaster},
        // keep, limits, timing
        {pop + "keep = \"never\"\n", 7, "keep must be \"delete\", \"forever\" or a duration like \"7d\", above zero"},
        {pop + "keep = \"0d\"\n", 7, "keep must be"},
        {pop + "keep = 7\n", 7, "keep must be"},
        {pop + "keep = \"Delete\"\n", 7, "keep must be"},
        {pop + "max_per_cycle = 0\n", 7, "max_per_cycle must be a positive integer"},
        {pop + "max_size = \"50MB\"\n", 7, "max_size must be a size like \"25M\" or a positive number of bytes"},
        {pop + "max_size = 0\n", 7, "max_size must be a size"},
        {pop + "timeout = \"0s\"\n", 7, "timeout must be a duration like"},
        {pop + "interval = \"soon\"\n", 7, "interval must be a duration like"},
        // IMAP only
        {pop + "folders = [\"INBOX\"]\n", 7, "folders is only used with protocol \"imap\" or \"imaps\""},
        {pop + "idle = true\n", 7, "idle is only used with protocol \"imap\" or \"imaps\""},
        {imap + "folders = []\n", 8, "folders is empty: give at least one"},
        {imap + "folders = \"INBOX\"\n", 8, "folders must be a list of strings"},
        {imap + "folders = [\n  \"INBOX\",\n  \"\",\n]\n", 10, "folder name is empty"},
        {imap + "folders = [\n  \"INBOX\",\n  \"Inbox\",\n]\n", 10, "folder 'Inbox' is listed twice (first at line 9)"},
        {imap + "folders = [\"Sent\", \"Sent\"]\n", 8, "folder 'Sent' is listed twice"},
        {imap + "folders = [\"Sent\\r\\nA1 DELETE INBOX\"]\n", 8, "has a control character"},
        {imap + "idle = \"yes\"\n", 8, "idle must be true or false"},
        // [fetch]
        {"[fetch]\non_login = \"yes\"\n", 2, "on_login must be true or false"},
        {"[fetch]\nstale_after = \"0m\"\n", 2, "stale_after must be a duration like"},
        {"[fetch]\nlogin_wait = \"5S\"\n", 2, "login_wait must be a duration like"},
    };
    for (const Case& c : cases) expect_one_error(parse_config(c.text + c.users, kFile), kFile, c.line, c.what, c.text);
}

TEST(ConfigAccount, EveryErrorIsReportedInFileOrder) {
    const char* text = R"([[account]]
name = "A"
protocol = "pop3"
host = "pop.example"
username = "u"
password = "p"
password_command = "x"
mailbox = "multidrop"
deliver_to = "anna"
folders = ["INBOX"]
[[account]]
name = "b"
protocol = "imap4"
[fetch]
login_wait = "later"
)";
    ConfigResult r = parse_config(std::string(text) + kUsers, kFile);
    std::vector<std::size_t> lines;
    for (const ConfigError& e : r.errors) lines.push_back(e.line);
    // 2: name; 3: clear text; 7: two ways to log in; 9: deliver_to with multidrop; 10: folders with POP3;
    // 11: no host, no username, no deliver_to; 13: protocol; 15: login_wait.
    EXPECT_EQ(lines, (std::vector<std::size_t>{2, 3, 7, 9, 10, 11, 11, 11, 13, 15}));
}

}  // namespace
}  // namespace mk
