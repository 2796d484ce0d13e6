// tests/unit/test_config.cpp — mailkeep.toml loading: defaults, the first-run text, every error with its line.
#include <gtest/gtest.h>

#include <fstream>

#include <toml++/toml.h>

#include "core/config.hpp"

namespace mk {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFile = "/etc/mailkeep/mailkeep.toml";

// With users present postmaster must be delivered; a remote postmaster keeps cases to one error.
constexpr const char* kRemotePostmaster = "postmaster = \"root@elsewhere.example\"\n";   // line 1

std::string endpoints(const std::vector<Endpoint>& eps) {
    std::string out;
    for (const Endpoint& e : eps) out += (out.empty() ? "" : " ") + e.host + "|" + std::to_string(e.port);
    return out;
}

TEST(Config, EmptyFileGivesDefaults) {
    ConfigResult r = parse_config("", kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    const Config& c = *r.config;
    EXPECT_EQ(c.source, kFile);
    EXPECT_EQ(c.hostname, "mail.home.arpa");
    EXPECT_EQ(c.data_dir, "/etc/mailkeep/mailkeep-data");   // relative to the file's directory
    EXPECT_EQ(c.local_domains, std::vector<std::string>{"home.arpa"});
    EXPECT_EQ(c.postmaster, "postmaster@home.arpa");
    ASSERT_EQ(c.trusted_networks.size(), 2u);
    EXPECT_EQ(c.trusted_networks[0].to_string(), "127.0.0.0/8");
    EXPECT_EQ(c.trusted_networks[1].to_string(), "::1/128");
    EXPECT_EQ(c.run_as, "");
    EXPECT_EQ(endpoints(c.listen.smtp), "127.0.0.1|2525");
    EXPECT_EQ(endpoints(c.listen.submission), "127.0.0.1|2587");
    EXPECT_EQ(endpoints(c.listen.submissions), "127.0.0.1|2465");
    EXPECT_EQ(endpoints(c.listen.pop3), "127.0.0.1|2110");
    EXPECT_EQ(endpoints(c.listen.pop3s), "127.0.0.1|2995");
    EXPECT_EQ(endpoints(c.listen.odmr), "");   // off unless configured: a provider's listener
    EXPECT_EQ(c.tls_cert, "tls/cert.pem");
    EXPECT_EQ(c.resolve(c.tls_key), "/etc/mailkeep/mailkeep-data/tls/key.pem");
    EXPECT_EQ(c.limits.max_message_size, 25u * 1024 * 1024);
    EXPECT_EQ(c.limits.max_recipients, 100u);
    EXPECT_EQ(c.limits.max_connections, 200u);
    EXPECT_EQ(c.limits.max_connections_per_ip, 20u);
    EXPECT_TRUE(c.users.empty());
    EXPECT_TRUE(c.aliases.empty());
    EXPECT_EQ(c.catch_all, "");
}

TEST(Config, DefaultTextParsesToTheDefaults) {
    ConfigResult want = parse_config("", kFile);
    for (const char* dir : {"/var/lib/mailkeep", "/tmp/odd \"dir\\with\" quotes"}) {
        ConfigResult r = parse_config(default_config_text(dir), kFile);
        ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
        const Config& c = *r.config;
        EXPECT_EQ(c.data_dir, dir);
        EXPECT_EQ(c.hostname, want.config->hostname);
        EXPECT_EQ(c.local_domains, want.config->local_domains);
        EXPECT_EQ(c.postmaster, want.config->postmaster);
        EXPECT_EQ(c.trusted_networks.size(), want.config->trusted_networks.size());
        for (auto field : {&ListenConfig::smtp, &ListenConfig::submission, &ListenConfig::submissions,
                           &ListenConfig::pop3, &ListenConfig::pop3s})
            EXPECT_EQ(endpoints(c.listen.*field), endpoints(want.config->listen.*field));
        EXPECT_EQ(c.tls_cert, want.config->tls_cert);
        EXPECT_EQ(c.tls_key, want.config->tls_key);
        EXPECT_EQ(c.limits.max_message_size, want.config->limits.max_message_size);
        EXPECT_EQ(c.limits.max_recipients, want.config->limits.max_recipients);
        EXPECT_EQ(c.limits.max_connections, want.config->limits.max_connections);
        EXPECT_EQ(c.limits.max_connections_per_ip, want.config->limits.max_connections_per_ip);
    }
}

TEST(Config, DefaultTextShowsEveryKey) {
    std::string text = default_config_text("/var/lib/mailkeep");
    for (const char* key : {"hostname", "data_dir", "local_domains", "postmaster", "trusted_networks", "run_as",
                            "catch_all", "[listen]", "smtp", "submission", "submissions", "pop3", "pop3s",
                            "[tls]", "cert", "key", "[limits]", "max_message_size", "max_recipients",
                            "max_connections", "max_connections_per_ip", "# [[user]]", "# [[alias]]",
                            "forward_to", "keep_copy"})
        EXPECT_NE(text.find(key), std::string::npos) << key;
}

TEST(Config, FullExample) {
    const char* text = R"(hostname = "MX.Home.Arpa"
data_dir = "data"
local_domains = ["home.arpa", "Example.ORG"]
postmaster = "postmaster@HOME.arpa"
trusted_networks = ["192.168.0.0/16", "fd00::/8"]
run_as = "mailkeep"
catch_all = "anna"
[listen]
smtp = ["0.0.0.0:25", "[::]:25"]
submission = []
pop3s = ["[::1]:995"]
[tls]
cert = "/etc/ssl/mail.pem"
[limits]
max_message_size = 1048576
max_recipients = 5
[[user]]
name = "anna"
password = "$y$j9T$EcArzCubVFec9hMl.QycA.$Xg2ogAZaw4ewIucBL3y6.zwSPsin7lh5snn09aBzQR0"
addresses = ["anna@HOME.ARPA", "postmaster@home.arpa", "Anna@example.org"]
forward_to = ["anna@Remote.Example"]
keep_copy = false
[[user]]
name = "ben.b-2_x"
[[alias]]
address = "family@home.arpa"
to = ["anna", "ben.b-2_x", "grandma@elsewhere.example"]
)";
    ConfigResult r = parse_config(text, kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    const Config& c = *r.config;
    EXPECT_EQ(c.hostname, "mx.home.arpa");
    EXPECT_EQ(c.data_dir, "/etc/mailkeep/data");
    EXPECT_EQ(c.local_domains, (std::vector<std::string>{"home.arpa", "example.org"}));
    EXPECT_EQ(c.postmaster, "postmaster@home.arpa");
    EXPECT_EQ(c.trusted_networks[1].to_string(), "fd00::/8");
    EXPECT_EQ(c.run_as, "mailkeep");
    EXPECT_EQ(c.catch_all, "anna");
    EXPECT_EQ(endpoints(c.listen.smtp), "0.0.0.0|25 ::|25");
    EXPECT_TRUE(c.listen.submission.empty());                       // empty list = off
    EXPECT_EQ(endpoints(c.listen.submissions), "127.0.0.1|2465");   // absent = default
    EXPECT_EQ(endpoints(c.listen.pop3s), "::1|995");
    EXPECT_EQ(c.resolve(c.tls_cert), "/etc/ssl/mail.pem");
    EXPECT_EQ(c.resolve(c.tls_key), "/etc/mailkeep/data/tls/key.pem");
    EXPECT_EQ(c.limits.max_message_size, 1048576u);
    EXPECT_EQ(c.limits.max_recipients, 5u);
    ASSERT_EQ(c.users.size(), 2u);
    EXPECT_EQ(c.users[0].password_hash, "$y$j9T$EcArzCubVFec9hMl.QycA.$Xg2ogAZaw4ewIucBL3y6.zwSPsin7lh5snn09aBzQR0");
    EXPECT_EQ(c.users[0].addresses,
              (std::vector<std::string>{"anna@home.arpa", "postmaster@home.arpa", "Anna@example.org"}));
    EXPECT_EQ(c.users[0].forward_to, std::vector<std::string>{"anna@remote.example"});
    EXPECT_FALSE(c.users[0].keep_copy);
    EXPECT_TRUE(c.users[1].keep_copy);
    ASSERT_EQ(c.aliases.size(), 1u);
    EXPECT_EQ(c.aliases[0].to, (std::vector<std::string>{"anna", "ben.b-2_x", "grandma@elsewhere.example"}));
    EXPECT_EQ(c.find_user("ben.b-2_x"), &c.users[1]);
    EXPECT_EQ(c.find_user("Anna"), nullptr);
    EXPECT_TRUE(c.is_local_domain("example.org"));
    EXPECT_FALSE(c.is_local_domain("elsewhere.example"));
}

TEST(Config, CatchAllWrittenInsideAnAliasTable) {
    const char* text = R"(local_domains = ["home.arpa"]
[[user]]
name = "anna"
addresses = ["anna@home.arpa"]
[[alias]]
address = "family@home.arpa"
to = ["anna"]
catch_all = "anna"
)";
    ConfigResult r = parse_config(text, kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    EXPECT_EQ(r.config->catch_all, "anna");   // and it delivers the postmaster address
    ASSERT_EQ(r.config->aliases.size(), 1u);
    EXPECT_EQ(r.config->aliases[0].address, "family@home.arpa");

    r = parse_config("[[user]]\nname = \"anna\"\n[[alias]]\ncatch_all = \"anna\"\n", kFile);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    EXPECT_EQ(r.config->catch_all, "anna");
    EXPECT_TRUE(r.config->aliases.empty());   // a table with only catch_all is no alias
}

TEST(Config, DataDir) {
    struct Case {
        std::string text, file, want;
    };
    const Case cases[] = {
        {"data_dir = \"/srv/mail\"", kFile, "/srv/mail"},
        {"data_dir = \"../spool\"", kFile, "/etc/spool"},
        {"data_dir = \"./d\"", "mailkeep.toml", "d"},   // no directory in the name: the current one
        {"", "conf/mailkeep.toml", "conf/mailkeep-data"},
    };
    for (const Case& c : cases) {
        ConfigResult r = parse_config(c.text, c.file);
        ASSERT_TRUE(r.config) << c.text;
        EXPECT_EQ(r.config->data_dir, c.want) << c.text;
    }
}

// Each case has exactly one mistake; the error must name its line and say what is wrong.
TEST(Config, ErrorsHaveTheRightLine) {
    struct Case {
        std::string text;
        std::size_t line;
        const char* what;
    };
    const std::string pm = kRemotePostmaster;
    const Case cases[] = {
        // unknown keys, at every level
        {"hostname = \"a.b\"\nhostnme = \"a.b\"\n", 2, "unknown key 'hostnme'"},
        {"[listen]\nsmtp = []\nimap4 = []\n", 3, "unknown key 'imap4' in [listen]"},
        {"[tls]\ncert = \"c\"\nchain = \"x\"\n", 3, "unknown key 'chain' in [tls]"},
        {"[limits]\n\nmax_size = 1\n", 3, "unknown key 'max_size' in [limits]"},
        {pm + "[[user]]\nname = \"a\"\npasswd = \"x\"\n", 4, "unknown key 'passwd' in [[user]]"},
        {pm + "[[user]]\nname = \"a\"\n[[alias]]\naddress = \"x@home.arpa\"\nto = [\"a\"]\nfrom = 1\n", 7,
         "unknown key 'from' in [[alias]]"},
        {"[smtp]\nport = 25\n", 1, "unknown key 'smtp'"},
        // wrong types
        {"hostname = 5\n", 1, "hostname must be a string"},
        {"\nrun_as = true\n", 2, "run_as must be a string"},
        {"local_domains = \"home.arpa\"\n", 1, "local_domains must be a list of strings"},
        {"local_domains = [\n  \"home.arpa\",\n  7,\n]\n", 3, "local_domains must be a list of strings"},
        {"listen = 5\n", 1, "listen must be a table"},
        {"[listen]\nsmtp = \"127.0.0.1:25\"\n", 2, "smtp must be a list of strings"},
        {"[limits]\nmax_recipients = 0\n", 2, "max_recipients must be a positive integer"},
        {"[limits]\nmax_connections = \"200\"\n", 2, "max_connections must be a positive integer"},
        {"[limits]\nmax_connections_per_ip = -1\n", 2, "max_connections_per_ip must be a positive integer"},
        {pm + "[[user]]\nname = \"a\"\nkeep_copy = \"yes\"\n", 4, "keep_copy must be true or false"},
        {pm + "[[user]]\nname = \"a\"\naddresses = \"a@home.arpa\"\n", 4, "addresses must be a list"},
        {pm + "[[user]]\nname = 7\n", 3, "name must be a string"},
        {"user = \"anna\"\n", 1, "must be written as [[user]] tables"},
        {"[user]\nname = \"anna\"\n", 1, "must be written as [[user]] tables"},
        // bad values
        {"trusted_networks = [\n  \"10.0.0.0/8\",\n  \"10.0.0.1/8\",\n]\n", 3, "bad CIDR '10.0.0.1/8'"},
        {"trusted_networks = [\"localhost\"]\n", 1, "bad CIDR 'localhost'"},
        {"[listen]\npop3 = [\"127.0.0.1\"]\n", 2, "bad listen address '127.0.0.1'"},
        {"[listen]\nsmtp = [\"localhost:25\"]\n", 2, "bad listen address"},
        {"[listen]\nsmtp = [\"::1:25\"]\n", 2, "bad listen address"},
        {"[listen]\nsmtp = [\"[::1]25\"]\n", 2, "bad listen address"},
        {"[listen]\nsmtp = [\"127.0.0.1:0\"]\n", 2, "bad listen address"},
        {"[listen]\nsmtp = [\"127.0.0.1:65536\"]\n", 2, "bad listen address"},
        {"[listen]\nsubmissions = [\"[127.0.0.1]:465\"]\n", 2, "bad listen address"},
        {"[limits]\nmax_message_size = \"25MB\"\n", 2, "max_message_size must be a size"},
        {"[limits]\nmax_message_size = 0\n", 2, "max_message_size must be a size"},
        {"[limits]\nmax_message_size = 2.5\n", 2, "max_message_size must be a size"},
        {"hostname = \"mail..home\"\n", 1, "is not a domain name"},
        {"local_domains = [\"home.arpa\", \"bad domain\"]\n", 1, "local domain 'bad domain' is not a domain name"},
        {"data_dir = \"\"\n", 1, "data_dir is empty"},
        // users and aliases
        {pm + "[[user]]\nname = \"anna\"\n[[user]]\nname = \"anna\"\n", 5, "duplicate user 'anna' (first at line 3)"},
        {pm + "[[user]]\nname = \"Anna\"\n", 3, "user name 'Anna' must be [a-z0-9._-]+"},
        {pm + "[[user]]\nname = \"an na\"\n", 3, "must be [a-z0-9._-]+"},
        {pm + "[[user]]\nname = \"..\"\n", 3, "must be [a-z0-9._-]+"},
        {pm + "[[user]]\nname = \"\"\n", 3, "must be [a-z0-9._-]+"},
        {pm + "[[user]]\nname = \"" + std::string(kMaxUserName + 1, 'a') + "\"\n", 3, "must be [a-z0-9._-]+"},
        {pm + "\n[[user]]\naddresses = []\n", 3, "[[user]] without a name"},
        {pm + "[[user]]\nname = \"a\"\naddresses = [\"x@home.arpa\"]\n[[user]]\nname = \"b\"\n"
              "addresses = [\"y@home.arpa\",\n  \"x@HOME.arpa\"]\n",
         8, "address 'x@home.arpa' is already used at line 4"},
        {pm + "[[user]]\nname = \"a\"\naddresses = [\"x@home.arpa\", \"x@home.arpa\"]\n", 4, "already used at line 4"},
        {pm + "[[user]]\nname = \"a\"\naddresses = [\"x@home.arpa\"]\n[[alias]]\naddress = \"x@home.arpa\"\n"
              "to = [\"a\"]\n",
         6, "address 'x@home.arpa' is already used at line 4"},
        {pm + "[[user]]\nname = \"a\"\naddresses = [\"a@gmail.com\"]\n", 4, "'a@gmail.com' is not in a local domain"},
        {pm + "[[user]]\nname = \"a\"\naddresses = [\"not-an-address\"]\n", 4, "is not a valid address"},
        {pm + "[[user]]\nname = \"a\"\nforward_to = [\"a@b@c\"]\n", 4, "forward_to 'a@b@c' is not a valid address"},
        {pm + "[[user]]\nname = \"anna\"\n[[alias]]\naddress = \"f@home.arpa\"\nto = [\n  \"anna\",\n  \"nobody\",\n]\n",
         8, "alias target 'nobody' is neither a user nor an address"},
        {pm + "[[user]]\nname = \"a\"\n[[alias]]\nto = [\"a\"]\n", 4, "[[alias]] without an address"},
        {pm + "[[user]]\nname = \"a\"\n[[alias]]\naddress = \"f@home.arpa\"\n", 4, "without a 'to' list"},
        {pm + "[[user]]\nname = \"a\"\n[[alias]]\naddress = \"f@home.arpa\"\nto = []\n", 6, "'to' list is empty"},
        {pm + "[[alias]]\naddress = \"f@gmail.com\"\nto = [\"x@y.example\"]\n", 3, "not in a local domain"},
        {pm + "[[user]]\nname = \"a\"\n\ncatch_all = \"b\"\n", 5, "unknown key 'catch_all' in [[user]]"},
        {"catch_all = \"nobody\"\n[[user]]\nname = \"a\"\n", 1, "catch_all 'nobody' is not a user"},
        {pm + "[[user]]\nname = \"a\"\n[[alias]]\naddress = \"f@home.arpa\"\nto = [\"a\"]\ncatch_all = \"ghost\"\n",
         7, "catch_all 'ghost' is not a user"},
        {pm + "catch_all = \"a\"\n[[user]]\nname = \"a\"\n[[alias]]\ncatch_all = \"a\"\n", 6,
         "catch_all is already set at line 2"},
        // postmaster and local domains
        {"postmaster = \"\"\n", 1, "postmaster address missing"},
        {"\npostmaster = \"root\"\n", 2, "postmaster 'root' is not a valid address"},
        {"[[user]]\nname = \"anna\"\naddresses = [\"anna@home.arpa\"]\n", 0,
         "postmaster address 'postmaster@home.arpa' missing"},
        {"postmaster = \"pm@home.arpa\"\n[[user]]\nname = \"a\"\naddresses = [\"PM@home.arpa\"]\n", 1,
         "postmaster address 'pm@home.arpa' missing"},   // local parts are exact
        {"local_domains = []\n", 1, "local_domains is empty"},
        // TOML syntax errors carry the parser's line
        {"hostname = \"a.b\"\nlocal_domains = [\"home.arpa\"\n\n", 3, ""},
        {"a = 1\nb = \n", 2, ""},
        {"hostname = \"x\"\nhostname = \"y\"\n", 2, ""},
        {"[[user]]\nname = \"a\n", 2, ""},
    };
    for (const Case& c : cases) {
        ConfigResult r = parse_config(c.text, kFile);
        EXPECT_FALSE(r.config) << c.text;
        ASSERT_EQ(r.errors.size(), 1u) << c.text << (r.errors.empty() ? "" : r.errors[0].to_string());
        const ConfigError& e = r.errors[0];
        EXPECT_EQ(e.file, kFile);
        EXPECT_EQ(e.line, c.line) << c.text << e.to_string();
        EXPECT_NE(e.what.find(c.what), std::string::npos) << c.text << e.to_string();
    }
}

// Issue 9, item 12: a password that is not a crypt(3) hash never matches; the file is refused at
// its line, the value (perhaps a real password) is not repeated, and `mailkeep passwd` is named.
TEST(Config, UserPasswordMustBeACryptHash) {
    struct Case {
        std::string password;
        bool valid;
    };
    const Case cases[] = {
        {"$y$j9T$EcArzCubVFec9hMl.QycA.$Xg2ogAZaw4ewIucBL3y6.zwSPsin7lh5snn09aBzQR0", true},   // mailkeep passwd
        {"$6$SVGlKpNj/VThV7qn$KeTibjyHcoNYgMxWLcQa6sOxyYoERGp0X7mD2N5MwLafaWE2ZoBIlVPT/KXGhyu6O5SLuvJfxhwfvQXpKhj8i/",
         true},                                                                          // openssl passwd -6
        {"$2b$05$yKNIhdmuFTShIaLLBynWb.AGEqrBUwBpIBnw4dkikU8srBhfoGpei", true},           // bcrypt
        {"$1$bwVQ25yG$MPgRReZ1HcgAzIyjvw98w0", true},                                     // md5crypt, legacy
        {"GRRZB/puHgS8o", true},                                                          // DES, legacy
        {"anna-secret-1", false},                 // the mistake: a plain password
        {"secret", false},
        {"", false},
        {"*", false},                             // a locked /etc/shadow entry; leave the key out instead
        {"$6$SVGlKpNj/VThV7qn", false},           // a setting, no checksum
        {"$y$j9T$EcArzCubVFec9hMl.QycA.$Xg2ogAZaw4ewIucBL3y6.zwSPsin7lh5snn09aBzQR", false},   // cut short
        {"$apr1$abc$0123456789012345678901", false},   // Apache's MD5, which crypt(3) does not know
        {"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", false},
    };
    for (const Case& c : cases) {
        std::string text = "[[user]]\nname = \"postmaster\"\naddresses = [\"postmaster@home.arpa\"]\npassword = " +
                           toml_quote(c.password) + "\n";
        ConfigResult r = parse_config(text, kFile);
        if (c.valid) {
            ASSERT_TRUE(r.errors.empty()) << c.password << ": " << r.errors[0].to_string();
            EXPECT_EQ(r.config->users.at(0).password_hash, c.password);
            continue;
        }
        ASSERT_EQ(r.errors.size(), 1u) << c.password;
        const ConfigError& e = r.errors[0];
        EXPECT_EQ(e.line, 4u) << c.password;
        EXPECT_NE(e.what.find("mailkeep passwd"), std::string::npos) << e.to_string();
        if (!c.password.empty()) {
            EXPECT_EQ(e.what.find(c.password), std::string::npos) << e.to_string();
        }
    }
}

TEST(Config, EveryErrorIsReportedInFileOrder) {
    const char* text = R"([[user]]
name = "Bad Name"
addresses = ["x@nowhere.example"]
[limits]
max_recipients = 0
[listen]
smtp = ["nope"]
)";
    ConfigResult r = parse_config(text, kFile);
    ASSERT_EQ(r.errors.size(), 5u);
    EXPECT_EQ(r.errors[0].line, 2u);
    EXPECT_EQ(r.errors[1].line, 3u);
    EXPECT_EQ(r.errors[2].line, 5u);
    EXPECT_EQ(r.errors[3].line, 7u);
    EXPECT_EQ(r.errors[4].line, 0u);   // postmaster: tied to no line, so last
}

TEST(Config, ErrorToString) {
    EXPECT_EQ((ConfigError{"f.toml", 12, "bad"}).to_string(), "f.toml:12: bad");
    EXPECT_EQ((ConfigError{"f.toml", 0, "bad"}).to_string(), "f.toml: bad");
}

TEST(Config, LoadFromFile) {
    fs::path dir = fs::temp_directory_path() / ("mk-config-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    fs::path file = dir / "mailkeep.toml";
    std::ofstream(file) << "data_dir = \"spool\"\nhostname = 1\n";
    ConfigResult r = load_config(file);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].to_string(), file.string() + ":2: hostname must be a string");

    std::ofstream(file) << "data_dir = \"spool\"\n";
    r = load_config(file);
    ASSERT_TRUE(r.config);
    EXPECT_EQ(r.config->data_dir, dir / "spool");
    EXPECT_EQ(r.config->source, file);

    struct Case {
        fs::path file;
        const char* what;
    };
    const Case unreadable[] = {
        {dir / "missing.toml", "cannot read: No such file or directory"},
        {dir, "cannot read: not a regular file"},   // must not pass for an empty config
    };
    for (const Case& c : unreadable) {
        r = load_config(c.file);
        ASSERT_EQ(r.errors.size(), 1u);
        EXPECT_EQ(r.errors[0].to_string(), c.file.string() + ": " + c.what);
    }
    fs::remove_all(dir);
}

TEST(Config, ValidUserName) {
    struct Case {
        std::string name;
        bool want;
    };
    const Case cases[] = {
        {"anna", true}, {"a", true}, {"ben.b-2_x", true}, {"0", true}, {std::string(kMaxUserName, 'a'), true},
        {"", false}, {"Anna", false}, {"an na", false}, {".", false}, {"..", false}, {".hidden", false},
        {"a/b", false}, {"a@b", false}, {"ä", false}, {std::string(kMaxUserName + 1, 'a'), false},
    };
    for (const Case& c : cases) EXPECT_EQ(valid_user_name(c.name), c.want) << c.name;
    EXPECT_NE(std::string(kUserNameRule).find(std::to_string(kMaxUserName)), std::string::npos);
}

TEST(Config, TomlQuoteRoundTrips) {
    const std::string cases[] = {
        "", "plain", "with \"quotes\"", "back\\slash", "tab\there", "new\nline", "cr\r", std::string("nul\0x", 5),
        "\x01\x1f\x7f", "$y$j9T$abc/def.", "ünïcødé",
    };
    for (const std::string& s : cases) {
        toml::table t = toml::parse("v = " + toml_quote(s));
        EXPECT_EQ(t["v"].value<std::string>(), s) << toml_quote(s);
    }
    EXPECT_EQ(toml_quote("a\"b"), "\"a\\\"b\"");
}

}  // namespace
}  // namespace mk
