// core/config.cpp — TOML to Config; a trusted but hand-written file: each mistake is reported with its line.
#include "core/config.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <span>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include "core/address.hpp"
#include "core/password.hpp"
#include "core/size.hpp"

namespace mk {

namespace {

namespace fs = std::filesystem;
namespace ip = boost::asio::ip;

// Unprivileged loopback ports by default, so that a first run works without root.
struct ListenKey {
    std::string_view key;
    std::vector<Endpoint> ListenConfig::*field;
    std::string_view fallback;
};
constexpr ListenKey kListenKeys[] = {
    {"smtp", &ListenConfig::smtp, "127.0.0.1:2525"},
    {"submission", &ListenConfig::submission, "127.0.0.1:2587"},
    {"submissions", &ListenConfig::submissions, "127.0.0.1:2465"},
    {"pop3", &ListenConfig::pop3, "127.0.0.1:2110"},
    {"pop3s", &ListenConfig::pop3s, "127.0.0.1:2995"},
};
constexpr const char* kListenForm = " (want \"a.b.c.d:port\" or \"[v6]:port\")";
// The [listen] keys, taken from the table above so the two cannot drift apart.
constexpr auto kListenNames = [] {
    std::array<std::string_view, std::size(kListenKeys)> names{};
    for (std::size_t i = 0; i < names.size(); ++i) names[i] = kListenKeys[i].key;
    return names;
}();
constexpr std::size_t kReadChunk = 64 * 1024;   // bytes per read(2) of the config file
constexpr std::string_view kDefaultTrusted[] = {"127.0.0.0/8", "::1/128"};

constexpr std::string_view kTopKeys[] = {"hostname", "data_dir", "local_domains", "postmaster",
                                         "trusted_networks", "run_as", "catch_all", "listen",
                                         "tls", "limits", "user", "alias", "relay", "route", "delivery",
                                         "account", "fetch"};
constexpr std::string_view kTlsKeys[] = {"cert", "key"};
constexpr std::string_view kLimitsKeys[] = {"max_message_size", "max_recipients", "max_connections",
                                            "max_connections_per_ip"};
constexpr std::string_view kUserKeys[] = {"name", "password", "addresses", "forward_to", "keep_copy"};
// catch_all is top-level, but a key written below [[alias]] lands in that table; accepted there too.
constexpr std::string_view kAliasKeys[] = {"address", "to", "catch_all"};

// join_keys - one key list made of several, at compile time, so shared keys are written once.
template <std::size_t... N>
constexpr auto join_keys(const std::array<std::string_view, N>&... lists) {
    std::array<std::string_view, (N + ...)> out{};
    std::size_t i = 0;
    ((std::copy(lists.begin(), lists.end(), out.begin() + i), i += N), ...);
    return out;
}
// The ways to log in at a hop or an account; at most one may be given, and each needs a username.
constexpr auto kSecretKeys = std::to_array<std::string_view>({"password", "password_command", "oauth2_token_command"});
// The keys of one next hop, shared by [relay], [[relay.sender]] and [[route]].
constexpr auto kHopKeys = join_keys(std::to_array<std::string_view>({"host", "port", "tls", "tls_verify", "ca_file",
                                                                     "username"}), kSecretKeys);
constexpr auto kRelayKeys = join_keys(kHopKeys, std::to_array<std::string_view>({"mode", "retry", "warn_after",
    "give_up_after", "probe_interval", "dns_server", "mx_port", "sender"}));
constexpr auto kRelaySenderKeys = join_keys(kHopKeys, std::to_array<std::string_view>({"address", "rewrite_from"}));
constexpr auto kRouteKeys = join_keys(kHopKeys, std::to_array<std::string_view>({"domain"}));
constexpr std::string_view kDeliveryKeys[] = {"mode", "host", "port"};
// [[account]]: where the server is and how to log in (as for a hop, but the protocol says the TLS
// mode), then what to do with the mail found there.
constexpr auto kAccountKeys = join_keys(
    std::to_array<std::string_view>({"name", "protocol", "starttls", "host", "port", "tls_verify", "ca_file",
                                     "allow_plaintext", "username"}),
    kSecretKeys,
    std::to_array<std::string_view>({"mailbox", "deliver_to", "envelope_header", "unknown_to", "keep", "max_per_cycle",
                                     "max_size", "timeout", "interval", "folders", "idle"}));
constexpr std::string_view kFetchKeys[] = {"on_login", "stale_after", "login_wait"};

// The port a hop is reached on when the file names none, by its TLS mode.
struct PortDefaults {
    std::uint16_t starttls, implicit, none;
};
// A smarthost is a submission server: 587 (RFC 6409 3.1), 465 (RFC 8314 3.3), else 25 (RFC 5321 4.5.4).
constexpr PortDefaults kSmarthostPorts{587, 465, 25};
// A [[route]] names a relay host or an MX: port 25 (RFC 5321 4.5.4), 465 only for implicit TLS (RFC 8314 3.3).
constexpr PortDefaults kRoutePorts{25, 465, 25};
constexpr std::uint16_t kSmtpPort = 25;   // RFC 5321 4.5.4: [delivery] mode = "smtp" without a port
constexpr const char* kDurationForm = " must be a duration like \"90s\", \"15m\", \"4h\" or \"5d\", above zero";

struct TlsName {
    std::string_view name;
    TlsMode mode;
};
constexpr TlsName kTlsModes[] = {
    {"starttls", TlsMode::starttls}, {"implicit", TlsMode::implicit}, {"none", TlsMode::none}};
struct RelayModeName {
    std::string_view name;
    RelayConfig::Mode mode;
};
constexpr RelayModeName kRelayModes[] = {{"smarthost", RelayConfig::Mode::smarthost},
                                         {"direct", RelayConfig::Mode::direct}};
struct DeliveryModeName {
    std::string_view name;
    DeliveryConfig::Mode mode;
};
constexpr DeliveryModeName kDeliveryModes[] = {{"maildir", DeliveryConfig::Mode::maildir},
                                               {"lmtp", DeliveryConfig::Mode::lmtp},
                                               {"smtp", DeliveryConfig::Mode::smtp}};
// The fetch protocols, each with the port it is reached on when the file names none.
struct ProtocolName {
    std::string_view name;
    AccountConfig::Protocol protocol;
    std::uint16_t port;
    bool implicit_tls;   // TLS from the first byte: starttls has no meaning
};
constexpr ProtocolName kProtocols[] = {
    {"pop3", AccountConfig::Protocol::pop3, 110, false},    // RFC 1939 3; STLS on the same port (RFC 2595 4)
    {"pop3s", AccountConfig::Protocol::pop3s, 995, true},   // RFC 8314 3.1
    {"imap", AccountConfig::Protocol::imap, 143, false},    // RFC 3501 2.1; STARTTLS on the same port
    {"imaps", AccountConfig::Protocol::imaps, 993, true},   // RFC 8314 3.2
};
struct AccountModeName {
    std::string_view name;
    AccountConfig::Mode mode;
};
constexpr AccountModeName kAccountModes[] = {{"single", AccountConfig::Mode::single},
                                             {"multidrop", AccountConfig::Mode::multidrop}};
constexpr std::string_view kAutoEnvelope = "auto";   // envelope_header: try the usual headers in turn
constexpr const char* kKeepForm = " must be \"delete\", \"forever\" or a duration like \"7d\", above zero";

// A string from the file and the line it is on.
struct Text {
    std::string value;
    std::size_t line = 0;
};

// line_of - where n is in the file (1-based).
std::size_t line_of(const toml::node& n) { return n.source().begin.line; }

// in_quotes - s in single quotes, for messages.
std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// parse_port - 1..65535 in plain decimal; 0 would make bind pick a port nobody knows.
std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s[0] == '0') return std::nullopt;
    std::uint16_t port = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return port;
}

// parse_endpoint - "1.2.3.4:25" or "[::1]:25"; the host must be a literal address.
std::optional<Endpoint> parse_endpoint(std::string_view text) {
    bool v6 = text.starts_with('[');
    auto sep = v6 ? text.find("]:") : text.find(':');
    if (sep == std::string_view::npos) return std::nullopt;
    std::string host(v6 ? text.substr(1, sep - 1) : text.substr(0, sep));
    auto port = parse_port(text.substr(sep + (v6 ? 2 : 1)));
    if (!port || host.find('%') != std::string::npos) return std::nullopt;
    boost::system::error_code ec;
    ip::address addr = v6 ? ip::address(ip::make_address_v6(host, ec))
                          : ip::address(ip::make_address_v4(host, ec));
    if (ec) return std::nullopt;
    return Endpoint{addr.to_string(), *port};
}

// parse_domain - a lowercased domain name, judged by the mailbox grammar's domain rule.
std::optional<std::string> parse_domain(std::string_view d) {
    auto m = parse_mailbox("postmaster@" + std::string(d));
    if (!m || d.starts_with('[')) return std::nullopt;   // an address literal is no domain name
    return m->domain;
}

// parse_host - a server's name: a literal IPv4/IPv6 address (no brackets, no zone) or a domain name, lowercased.
std::optional<std::string> parse_host(std::string_view h) {
    boost::system::error_code ec;
    ip::address addr = ip::make_address(std::string(h), ec);
    if (!ec && h.find('%') == std::string_view::npos) return addr.to_string();
    return parse_domain(h);
}

// valid_field_name - RFC 5322 3.6.8: printable US-ASCII except ':', at least one.
bool valid_field_name(std::string_view name) {
    return !name.empty() &&
           std::all_of(name.begin(), name.end(), [](char c) { return c >= 33 && c <= 126 && c != ':'; });
}

// loopback_literal - host is a literal loopback address. A name ("localhost") may resolve anywhere,
// so only literals count.
bool loopback_literal(const std::string& host) {
    boost::system::error_code ec;
    ip::address literal = ip::make_address(host, ec);
    return !ec && literal.is_loopback();
}

// duration_text - d in the largest unit that divides it ("4h", "90s"), for messages.
std::string duration_text(std::chrono::seconds d) {
    constexpr std::pair<std::int64_t, char> kUnits[] = {{24 * 60 * 60, 'd'}, {60 * 60, 'h'}, {60, 'm'}};
    for (auto [secs, unit] : kUnits)
        if (d.count() % secs == 0) return std::to_string(d.count() / secs) + unit;
    return std::to_string(d.count()) + "s";
}

// Builder - fills a Config from a parsed TOML document, collecting every error.
class Builder {
public:
    Builder(std::string file, Config& cfg) : file_(std::move(file)), cfg_(cfg) {}

    // read - the whole document; the order matters: domains before addresses, users before aliases.
    void read(const toml::table& root) {
        reject_unknown(root, "", kTopKeys);
        read_top(root);
        read_listen(table(root, "listen"));
        read_tls(table(root, "tls"));
        read_limits(table(root, "limits"));
        for (const toml::table* t : table_array(root, "user")) read_user(*t);
        for (const toml::table* t : table_array(root, "alias")) read_alias(*t);
        read_relay(table(root, "relay"));   // after the users: a relay sender must be one of theirs
        for (const toml::table* t : table_array(root, "route")) read_route(*t);
        read_delivery(table(root, "delivery"));
        for (const toml::table* t : table_array(root, "account")) read_account(*t);   // after the users
        read_fetch(table(root, "fetch"));
        check_catch_all();
        check_postmaster();
    }

    std::vector<ConfigError> errors;

private:
    std::string file_;
    Config& cfg_;
    std::map<std::string, std::size_t> users_;   // name -> line of its definition
    std::map<std::string, std::size_t> taken_;   // address -> line that claimed it
    std::set<std::string> user_addresses_;                // the [[user]] addresses among taken_ (not aliases)
    std::map<std::string, std::size_t> senders_;          // [[relay.sender]] address -> its line
    std::map<std::string, std::size_t> routes_;           // [[route]] domain -> its line
    std::map<std::string, std::size_t> accounts_;         // [[account]] name -> its line
    std::optional<Text> catch_all_;
    std::size_t postmaster_line_ = 0;            // 0 while it is the default

    // error - record a problem at line (0 = not tied to a line).
    void error(std::size_t line, std::string what) { errors.push_back({file_, line, std::move(what)}); }

    // reject_unknown - an error for each key of t not in known: typos must not pass silently.
    void reject_unknown(const toml::table& t, std::string_view section, std::span<const std::string_view> known) {
        for (auto&& [key, node] : t) {
            if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
            error(key.source().begin.line,
                  "unknown key " + in_quotes(key.str()) + (section.empty() ? "" : " in " + std::string(section)));
        }
    }

    // The readers below return nothing for an absent key and report a wrongly typed one.
    // text - a string.
    std::optional<Text> text(const toml::table& t, std::string_view key) {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (auto s = n->as_string()) return Text{s->get(), line_of(*n)};
        error(line_of(*n), std::string(key) + " must be a string");
        return std::nullopt;
    }

    // texts - a list of strings, each with its own line.
    std::optional<std::vector<Text>> texts(const toml::table& t, std::string_view key) {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        const toml::array* a = n->as_array();
        if (!a) {
            error(line_of(*n), std::string(key) + " must be a list of strings");
            return std::nullopt;
        }
        std::vector<Text> out;
        for (const toml::node& el : *a) {
            if (auto s = el.as_string()) out.push_back({s->get(), line_of(el)});
            else error(line_of(el), std::string(key) + " must be a list of strings");
        }
        return out;
    }

    // positive - an integer above zero.
    std::optional<std::uint64_t> positive(const toml::table& t, std::string_view key) {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (auto i = n->as_integer(); i && i->get() > 0) return static_cast<std::uint64_t>(i->get());
        error(line_of(*n), std::string(key) + " must be a positive integer");
        return std::nullopt;
    }

    // port - a TCP port, 1..65535.
    std::optional<std::uint16_t> port(const toml::table& t, std::string_view key) {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (auto i = n->as_integer(); i && i->get() >= 1 && i->get() <= 65535)
            return static_cast<std::uint16_t>(i->get());
        error(line_of(*n), std::string(key) + " must be a port number from 1 to 65535");
        return std::nullopt;
    }

    // duration_of - n as a duration above zero ("5m"); key names it in the error.
    std::optional<std::chrono::seconds> duration_of(const toml::node& n, std::string_view key) {
        if (auto s = n.as_string())
            if (auto d = parse_duration(s->get()); d && d->count() > 0) return d;
        error(line_of(n), std::string(key) + kDurationForm);
        return std::nullopt;
    }

    // duration - the key as a duration above zero.
    std::optional<std::chrono::seconds> duration(const toml::table& t, std::string_view key) {
        const toml::node* n = t.get(key);
        return n ? duration_of(*n, key) : std::nullopt;
    }

    // size - a size like "25M", or a positive number of bytes.
    std::optional<std::uint64_t> size(const toml::table& t, std::string_view key) {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        std::optional<std::uint64_t> v;
        if (auto s = n->as_string()) v = parse_size(s->get());
        else if (auto i = n->as_integer(); i && i->get() > 0) v = static_cast<std::uint64_t>(i->get());
        if (v && *v > 0) return v;
        error(line_of(*n), std::string(key) + " must be a size like \"25M\" or a positive number of bytes");
        return std::nullopt;
    }

    // choice - a string naming one row of rows ({name, mode}); the error lists the names allowed.
    template <typename Row, std::size_t N>
    std::optional<Row> choice(const toml::table& t, std::string_view key, const Row (&rows)[N]) {
        auto v = text(t, key);
        if (!v) return std::nullopt;
        std::string names;
        for (std::size_t i = 0; i < N; ++i) {
            if (rows[i].name == v->value) return rows[i];
            names += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + ("\"" + std::string(rows[i].name) + "\"");
        }
        error(v->line, std::string(key) + " " + in_quotes(v->value) + " must be " + names);
        return std::nullopt;
    }

    // boolean - true or false.
    std::optional<bool> boolean(const toml::table& t, std::string_view key) {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (auto b = n->as_boolean()) return b->get();
        error(line_of(*n), std::string(key) + " must be true or false");
        return std::nullopt;
    }

    // table - a [section].
    const toml::table* table(const toml::table& t, std::string_view key) {
        const toml::node* n = t.get(key);
        if (!n) return nullptr;
        if (auto tt = n->as_table()) return tt;
        error(line_of(*n), std::string(key) + " must be a table [" + std::string(key) + "]");
        return nullptr;
    }

    // table_array - the [[key]] tables, in file order; path is the dotted name for messages (default key).
    std::vector<const toml::table*> table_array(const toml::table& t, std::string_view key, std::string_view path = {}) {
        if (path.empty()) path = key;
        std::vector<const toml::table*> out;
        const toml::node* n = t.get(key);
        if (!n) return out;
        const toml::array* a = n->as_array();
        if (a && a->is_array_of_tables()) {
            for (const toml::node& el : *a) out.push_back(el.as_table());
            return out;
        }
        error(line_of(*n), std::string(key) + " must be written as [[" + std::string(path) + "]] tables");
        return out;
    }

    // claim - a user's or alias's own address: valid, in a local domain, not used before.
    std::optional<std::string> claim(const Text& raw) {
        auto m = parse_mailbox(raw.value);
        if (!m) {
            error(raw.line, "address " + in_quotes(raw.value) + " is not a valid address");
            return std::nullopt;
        }
        if (!cfg_.is_local_domain(m->domain)) {
            error(raw.line, "address " + in_quotes(raw.value) + " is not in a local domain");
            return std::nullopt;
        }
        std::string address = m->str();
        if (auto [it, fresh] = taken_.emplace(address, raw.line); !fresh) {
            error(raw.line,
                  "address " + in_quotes(address) + " is already used at line " + std::to_string(it->second));
            return std::nullopt;
        }
        return address;
    }

    // read_top - the top-level keys.
    void read_top(const toml::table& root) {
        if (auto v = text(root, "hostname")) {
            if (auto d = parse_domain(v->value)) cfg_.hostname = *d;
            else error(v->line, "hostname " + in_quotes(v->value) + " is not a domain name");
        }
        if (auto v = text(root, "data_dir")) {
            if (v->value.empty()) error(v->line, "data_dir is empty");
            cfg_.data_dir = v->value;
        }
        if (auto list = texts(root, "local_domains")) {
            cfg_.local_domains.clear();
            for (const Text& d : *list) {
                if (auto dom = parse_domain(d.value)) cfg_.local_domains.push_back(*dom);
                else error(d.line, "local domain " + in_quotes(d.value) + " is not a domain name");
            }
            if (list->empty()) error(line_of(*root.get("local_domains")), "local_domains is empty");
        }
        if (auto v = text(root, "postmaster")) {
            cfg_.postmaster = v->value;
            postmaster_line_ = v->line;
        }
        auto nets = texts(root, "trusted_networks");
        if (!nets) {
            nets.emplace();
            for (std::string_view d : kDefaultTrusted) nets->push_back({std::string(d), 0});
        }
        for (const Text& n : *nets) {
            if (auto c = Cidr::parse(n.value)) cfg_.trusted_networks.push_back(*c);
            else error(n.line, "bad CIDR " + in_quotes(n.value) + " in trusted_networks");
        }
        if (auto v = text(root, "run_as")) cfg_.run_as = v->value;
        if (auto v = text(root, "catch_all")) set_catch_all(*v);
    }

    // read_listen - [listen]; a service not mentioned keeps its default endpoint.
    void read_listen(const toml::table* t) {
        if (t) reject_unknown(*t, "[listen]", kListenNames);
        for (const ListenKey& k : kListenKeys) {
            auto list = t ? texts(*t, k.key) : std::nullopt;
            if (!list) list.emplace(std::vector<Text>{{std::string(k.fallback), 0}});
            for (const Text& e : *list) {
                if (auto ep = parse_endpoint(e.value)) (cfg_.listen.*k.field).push_back(*ep);
                else error(e.line, "bad listen address " + in_quotes(e.value) + kListenForm);
            }
        }
    }

    // read_tls - [tls]; paths stay relative (Config::resolve puts them under data_dir).
    void read_tls(const toml::table* t) {
        if (!t) return;
        reject_unknown(*t, "[tls]", kTlsKeys);
        if (auto v = text(*t, "cert")) cfg_.tls_cert = v->value;
        if (auto v = text(*t, "key")) cfg_.tls_key = v->value;
    }

    // read_limits - [limits].
    void read_limits(const toml::table* t) {
        if (!t) return;
        reject_unknown(*t, "[limits]", kLimitsKeys);
        if (auto v = size(*t, "max_message_size")) cfg_.limits.max_message_size = *v;
        if (auto v = positive(*t, "max_recipients")) cfg_.limits.max_recipients = *v;
        if (auto v = positive(*t, "max_connections")) cfg_.limits.max_connections = *v;
        if (auto v = positive(*t, "max_connections_per_ip")) cfg_.limits.max_connections_per_ip = *v;
    }

    // read_user - one [[user]].
    void read_user(const toml::table& t) {
        reject_unknown(t, "[[user]]", kUserKeys);
        UserConfig u;
        if (auto name = text(t, "name")) {
            u.name = name->value;
            if (!valid_user_name(u.name))
                error(name->line, "user name " + in_quotes(u.name) + " must be " + kUserNameRule);
            else if (auto [it, fresh] = users_.emplace(u.name, name->line); !fresh)
                error(name->line, "duplicate user " + in_quotes(u.name) + " (first at line " +
                                      std::to_string(it->second) + ")");
        } else if (!t.contains("name")) {
            error(line_of(t), "[[user]] without a name");
        }
        if (auto v = text(t, "password")) {
            // A plain password here never matches; the value is not repeated: it may be one.
            if (auto problem = password_hash_problem(v->value))
                error(v->line, "password " + *problem + "; `mailkeep passwd` makes one from the password on its stdin");
            u.password_hash = v->value;
        }
        for (const Text& a : texts(t, "addresses").value_or(std::vector<Text>{})) {
            if (auto address = claim(a)) {
                user_addresses_.insert(*address);
                u.addresses.push_back(*address);
            }
        }
        for (const Text& f : texts(t, "forward_to").value_or(std::vector<Text>{})) {
            if (auto m = parse_mailbox(f.value)) u.forward_to.push_back(m->str());
            else error(f.line, "forward_to " + in_quotes(f.value) + " is not a valid address");
        }
        if (auto v = boolean(t, "keep_copy")) u.keep_copy = *v;
        cfg_.users.push_back(std::move(u));
    }

    // read_alias - one [[alias]], or a table that only carries a misplaced catch_all.
    void read_alias(const toml::table& t) {
        reject_unknown(t, "[[alias]]", kAliasKeys);
        if (auto v = text(t, "catch_all")) set_catch_all(*v);
        if (t.size() == 1 && t.contains("catch_all")) return;   // only the misplaced key, no alias
        AliasConfig a;
        if (auto v = text(t, "address")) {
            if (auto address = claim(*v)) a.address = *address;
        } else if (!t.contains("address")) {
            error(line_of(t), "[[alias]] without an address");
        }
        auto targets = texts(t, "to");
        if (!targets && !t.contains("to")) error(line_of(t), "[[alias]] without a 'to' list");
        if (targets && targets->empty()) error(line_of(*t.get("to")), "alias 'to' list is empty");
        for (const Text& target : targets.value_or(std::vector<Text>{})) {
            if (target.value.find('@') != std::string::npos) {
                if (auto m = parse_mailbox(target.value)) a.to.push_back(m->str());
                else error(target.line, "alias target " + in_quotes(target.value) + " is not a valid address");
            } else if (users_.contains(target.value)) {
                a.to.push_back(target.value);
            } else {
                error(target.line,
                      "alias target " + in_quotes(target.value) + " is neither a user nor an address");
            }
        }
        cfg_.aliases.push_back(std::move(a));
    }

    // read_host - the server's name or address ("host"), lowercased; section names the table in messages.
    std::optional<std::string> read_host(const toml::table& t, std::string_view section) {
        auto v = text(t, "host");
        if (!v) return std::nullopt;
        if (auto h = parse_host(v->value)) return h;
        error(v->line, "host " + in_quotes(v->value) + " is not a host name or IP address in " + std::string(section));
        return std::nullopt;
    }

    // read_trust - tls_verify and ca_file, into a HopConfig or an AccountConfig. no_tls says why the
    // connection has no TLS ("tls = \"none\""), or is empty when it has: without TLS both keys have
    // no use, and ca_file has none when nothing is verified. A setting without effect is a mistake
    // the admin should hear about.
    template <typename Into>
    void read_trust(const toml::table& t, std::string_view section, std::string_view no_tls, Into& into) {
        const std::string in = " in " + std::string(section);
        if (auto v = boolean(t, "tls_verify")) into.tls_verify = *v;
        std::optional<Text> ca = text(t, "ca_file");
        if (ca) {
            if (ca->value.empty()) error(ca->line, "ca_file is empty" + in);
            into.ca_file = ca->value;   // relative to data_dir: Config::resolve
        }
        if (!no_tls.empty()) {
            if (ca) error(ca->line, "ca_file has no use with " + std::string(no_tls) + in);
            if (const toml::node* n = t.get("tls_verify"))
                error(line_of(*n), "tls_verify has no use with " + std::string(no_tls) + in);
        } else if (ca && !into.tls_verify) {
            error(ca->line, "ca_file has no use with tls_verify = false" + in);
        }
    }

    // read_login - username and the one way to log in (kSecretKeys), into a HopConfig or an
    // AccountConfig. At most one way, each needing a username; required (an account always logs
    // in): the username must be there too. Returns the username as written, for the caller's checks.
    template <typename Into>
    std::optional<Text> read_login(const toml::table& t, std::string_view section, bool required, Into& into) {
        const std::string in = " in " + std::string(section);
        std::optional<Text> user = text(t, "username");
        if (user) {
            if (user->value.empty()) error(user->line, "username is empty" + in);
            into.username = user->value;
        }
        // In file order, so that the error lands on the second one written.
        std::vector<std::pair<std::string_view, Text>> secrets;
        for (std::string_view key : kSecretKeys)
            if (auto v = text(t, key)) secrets.emplace_back(key, *v);
        std::sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) { return a.second.line < b.second.line; });
        for (const auto& [key, v] : secrets) {
            if (v.value.empty()) error(v.line, std::string(key) + " is empty" + in);
            if (key == "password") into.password = v.value;
            else if (key == "password_command") into.password_command = v.value;
            else into.oauth2_token_command = v.value;
        }
        if (secrets.size() > 1) {
            const auto& [first_key, first] = secrets[0];
            for (std::size_t i = 1; i < secrets.size(); ++i)
                error(secrets[i].second.line, std::string(secrets[i].first) + " and " + std::string(first_key) + " (line " +
                                                  std::to_string(first.line) + ") exclude each other" + in +
                                                  ": give one way to log in");
        }
        if (!secrets.empty() && !t.contains("username"))
            error(secrets[0].second.line, std::string(secrets[0].first) + " needs a username" + in);
        bool secret_written = std::any_of(kSecretKeys.begin(), kSecretKeys.end(),
                                          [&](std::string_view key) { return t.contains(key); });   // even if mistyped
        if (user && !secret_written)
            error(user->line, "username needs a password, password_command or oauth2_token_command" + in);
        if (required && !secret_written && !t.contains("username"))
            error(line_of(t), std::string(section) + " without a username and a password, password_command or "
                                                     "oauth2_token_command");
        return user;
    }

    // read_hop - the keys every next hop has ([relay] in smarthost mode, [[relay.sender]], [[route]]);
    // section names the table in messages. An absent port follows the TLS mode. Keys that contradict
    // each other are errors: a setting without effect is a mistake the admin should hear about.
    HopConfig read_hop(const toml::table& t, std::string_view section, PortDefaults ports) {
        HopConfig hop;
        const std::string in = " in " + std::string(section);
        if (auto h = read_host(t, section)) hop.host = *h;
        if (auto row = choice(t, "tls", kTlsModes)) hop.tls = row->mode;
        switch (hop.tls) {
            case TlsMode::starttls: hop.port = ports.starttls; break;
            case TlsMode::implicit: hop.port = ports.implicit; break;
            case TlsMode::none: hop.port = ports.none; break;
        }
        if (auto p = port(t, "port")) hop.port = *p;
        read_trust(t, section, hop.tls == TlsMode::none ? "tls = \"none\"" : "", hop);
        std::optional<Text> user = read_login(t, section, false, hop);
        // tls = "none" with a login would send the secret in clear text over the network; to a loopback
        // address (a local relay, a test peer) it never leaves the machine.
        if (hop.tls == TlsMode::none && user && !loopback_literal(hop.host))
            error(user->line, "username with tls = \"none\" would send the credentials in clear text" + in);
        return hop;
    }

    // read_relay - [relay] and its [[relay.sender]] tables.
    void read_relay(const toml::table* t) {
        if (!t) return;
        reject_unknown(*t, "[relay]", kRelayKeys);
        RelayConfig& r = cfg_.relay;
        auto mode = choice(*t, "mode", kRelayModes);
        if (mode) r.mode = mode->mode;
        if (r.mode == RelayConfig::Mode::smarthost) {
            r.smarthost = read_hop(*t, "[relay]", kSmarthostPorts);
            if (!t->contains("host")) error(line_of(*t->get("mode")), "mode = \"smarthost\" needs a host in [relay]");
        } else if (mode || !t->contains("mode")) {
            // A smarthost written without mode = "smarthost" would silently send straight to the MX
            // from a home address, which most receivers refuse: say so instead.
            for (std::string_view key : kHopKeys)
                if (const toml::node* n = t->get(key))
                    error(line_of(*n), std::string(key) + " in [relay] is only used with mode = \"smarthost\" (mode is \"direct\")");
        } else {
            read_hop(*t, "[relay]", kSmarthostPorts);   // mode is wrong: still check the other keys
        }
        if (const toml::node* n = t->get("retry")) {
            const toml::array* a = n->as_array();
            if (!a) {
                error(line_of(*n), "retry must be a list of durations like [\"5m\", \"1h\"]");
            } else if (a->empty()) {
                error(line_of(*n), "retry is empty: give at least one duration");
            } else {
                std::vector<std::chrono::seconds> list;
                for (const toml::node& el : *a)
                    if (auto d = duration_of(el, "retry")) list.push_back(*d);
                if (list.size() == a->size()) r.retry = std::move(list);
            }
        }
        auto warn = duration(*t, "warn_after");
        auto give_up = duration(*t, "give_up_after");
        if (warn) r.warn_after = *warn;
        if (give_up) r.give_up_after = *give_up;
        bool both_valid = (warn || !t->contains("warn_after")) && (give_up || !t->contains("give_up_after"));
        if (both_valid && r.give_up_after <= r.warn_after) {
            const toml::node* n = t->contains("give_up_after") ? t->get("give_up_after") : t->get("warn_after");
            error(line_of(*n), "give_up_after (" + duration_text(r.give_up_after) + ") must be longer than warn_after (" +
                                   duration_text(r.warn_after) + ")");
        }
        if (auto v = duration(*t, "probe_interval")) r.probe_interval = *v;
        if (auto v = text(*t, "dns_server")) {
            if (parse_endpoint(v->value)) r.dns_server = v->value;
            else error(v->line, "bad dns_server " + in_quotes(v->value) + kListenForm);
        }
        if (auto p = port(*t, "mx_port")) r.mx_port = *p;
        for (const toml::table* s : table_array(*t, "sender", "relay.sender")) read_relay_sender(*s);
    }

    // read_relay_sender - one [[relay.sender]]: a user's address sent through its own provider account.
    void read_relay_sender(const toml::table& t) {
        reject_unknown(t, "[[relay.sender]]", kRelaySenderKeys);
        RelaySenderConfig s;
        if (auto v = text(t, "address")) {
            auto m = parse_mailbox(v->value);
            if (!m) {
                error(v->line, "relay sender " + in_quotes(v->value) + " is not a valid address");
            } else if (!cfg_.is_local_domain(m->domain)) {
                error(v->line, "relay sender " + in_quotes(m->str()) + " is not in a local domain");
            } else if (!user_addresses_.contains(m->str())) {
                error(v->line, "relay sender " + in_quotes(m->str()) + " is not an address of any [[user]]");
            } else if (auto [it, fresh] = senders_.emplace(m->str(), v->line); !fresh) {
                error(v->line, "relay sender " + in_quotes(m->str()) + " is already configured at line " +
                                   std::to_string(it->second));
            } else {
                s.address = m->str();
            }
        } else if (!t.contains("address")) {
            error(line_of(t), "[[relay.sender]] without an address");
        }
        if (auto v = text(t, "rewrite_from")) {
            // A local address here would leak into outbound envelopes, where SPF and DMARC fail.
            auto m = parse_mailbox(v->value);
            if (!m) error(v->line, "rewrite_from " + in_quotes(v->value) + " is not a valid address");
            else if (cfg_.is_local_domain(m->domain))
                error(v->line, "rewrite_from " + in_quotes(m->str()) + " is in a local domain: give the provider address");
            else s.rewrite_from = m->str();
        }
        s.hop = read_hop(t, "[[relay.sender]]", kSmarthostPorts);
        if (!t.contains("host")) error(line_of(t), "[[relay.sender]] without a host");
        cfg_.relay.senders.push_back(std::move(s));
    }

    // read_route - one [[route]]: the next hop for one recipient domain.
    void read_route(const toml::table& t) {
        reject_unknown(t, "[[route]]", kRouteKeys);
        RouteConfig r;
        if (auto v = text(t, "domain")) {
            auto d = parse_domain(v->value);
            if (!d) error(v->line, "route domain " + in_quotes(v->value) + " is not a domain name");
            else if (cfg_.is_local_domain(*d))
                error(v->line, "route domain " + in_quotes(*d) + " is a local domain: its mail never leaves");
            else if (auto [it, fresh] = routes_.emplace(*d, v->line); !fresh)
                error(v->line, "route for " + in_quotes(*d) + " is already defined at line " + std::to_string(it->second));
            else r.domain = *d;
        } else if (!t.contains("domain")) {
            error(line_of(t), "[[route]] without a domain");
        }
        r.hop = read_hop(t, "[[route]]", kRoutePorts);
        if (!t.contains("host")) error(line_of(t), "[[route]] without a host");
        cfg_.relay.routes.push_back(std::move(r));
    }

    // read_delivery - [delivery]: where mail for local users goes. host and port are accepted with
    // mode = "maildir" (unused there), so that switching mode is a one-line change.
    void read_delivery(const toml::table* t) {
        if (!t) return;
        reject_unknown(*t, "[delivery]", kDeliveryKeys);
        DeliveryConfig& d = cfg_.delivery;
        if (auto row = choice(*t, "mode", kDeliveryModes)) d.mode = row->mode;
        if (auto v = text(*t, "host")) {
            if (auto h = parse_host(v->value)) d.host = *h;
            else error(v->line, "host " + in_quotes(v->value) + " is not a host name or IP address in [delivery]");
        }
        if (auto p = port(*t, "port")) d.port = *p;
        else if (!t->contains("port") && d.mode == DeliveryConfig::Mode::smtp) d.port = kSmtpPort;
    }

    // read_account - one [[account]]: a provider mailbox to collect. After the users, whom deliver_to
    // and unknown_to name. Keys that depend on the protocol or the mailbox mode are judged only when
    // that key is valid, so that one mistake gives one error.
    void read_account(const toml::table& t) {
        constexpr std::string_view section = "[[account]]";
        const std::string in = " in [[account]]";
        reject_unknown(t, section, kAccountKeys);
        AccountConfig a;
        if (auto v = text(t, "name")) {
            a.name = v->value;
            // The name keys the account's state (UIDs, status), so it follows the user name rule.
            if (!valid_user_name(a.name))
                error(v->line, "account name " + in_quotes(a.name) + " must be " + kUserNameRule);
            else if (auto [it, fresh] = accounts_.emplace(a.name, v->line); !fresh)
                error(v->line, "duplicate account " + in_quotes(a.name) + " (first at line " +
                                   std::to_string(it->second) + ")");
        } else if (!t.contains("name")) {
            error(line_of(t), "[[account]] without a name");
        }

        // Where and how: the protocol decides the TLS mode and the default port.
        auto proto = choice(t, "protocol", kProtocols);
        bool proto_known = proto || !t.contains("protocol");
        auto by_default = [&](const ProtocolName& r) { return r.protocol == a.protocol; };
        ProtocolName p = proto ? *proto : *std::find_if(std::begin(kProtocols), std::end(kProtocols), by_default);
        a.protocol = p.protocol;
        a.port = p.port;
        if (auto v = boolean(t, "starttls")) a.starttls = *v;
        if (const toml::node* n = t.get("starttls"); n && proto_known && p.implicit_tls) {
            error(line_of(*n),
                  "starttls has no use with protocol = \"" + std::string(p.name) + "\" (TLS from the start)" + in);
            a.starttls = false;
        }
        if (auto h = read_host(t, section)) a.host = *h;
        else if (!t.contains("host")) error(line_of(t), "[[account]] without a host");
        if (auto v = port(t, "port")) a.port = *v;
        const std::string no_tls = "protocol = \"" + std::string(p.name) + "\" without starttls";
        read_trust(t, section, proto_known && !a.uses_tls() ? std::string_view(no_tls) : std::string_view(), a);
        read_login(t, section, true, a);
        // Passwords must not cross a network in the clear: a plaintext protocol only to a loopback
        // address (a local server, a test peer), or where the admin says so in as many words.
        if (auto v = boolean(t, "allow_plaintext")) a.allow_plaintext = *v;
        if (const toml::node* n = t.get("allow_plaintext"); n && proto_known && a.uses_tls())
            error(line_of(*n), "allow_plaintext has no use with TLS (protocol = \"" + std::string(p.name) + "\"" +
                                   (a.starttls ? " with starttls" : "") + ")" + in);
        if (proto_known && !a.uses_tls() && !a.allow_plaintext && !a.host.empty() && !loopback_literal(a.host))
            error(line_of(*t.get("protocol")), no_tls + " would send the credentials to " + in_quotes(a.host) +
                                                   " in clear text: set starttls = true, use \"" + std::string(p.name) +
                                                   "s\", or set allow_plaintext = true" + in);

        // What to do with the mail.
        auto mode = choice(t, "mailbox", kAccountModes);
        if (mode) a.mode = mode->mode;
        bool mode_known = mode || !t.contains("mailbox");
        std::size_t mode_line = t.contains("mailbox") ? line_of(*t.get("mailbox")) : line_of(t);
        if (mode_known && a.mode == AccountConfig::Mode::single) {
            if (auto v = text(t, "deliver_to")) {
                if (users_.contains(v->value)) a.deliver_to = v->value;
                else error(v->line, "deliver_to " + in_quotes(v->value) + " is not a user" + in);
            } else if (!t.contains("deliver_to")) {
                error(mode_line, "mailbox = \"single\" needs deliver_to, the user who gets this account's mail" + in);
            }
            for (std::string_view key : {"envelope_header", "unknown_to"})
                if (const toml::node* n = t.get(key))
                    error(line_of(*n), std::string(key) + " is only used with mailbox = \"multidrop\"" + in);
        } else if (mode_known) {
            if (const toml::node* n = t.get("deliver_to"))
                error(line_of(*n), "deliver_to has no use with mailbox = \"multidrop\": the recipients come from the "
                                   "headers, unknown ones go to unknown_to" + in);
            if (auto v = text(t, "envelope_header")) {
                if (lowercase_ascii(v->value) == kAutoEnvelope) a.envelope_header = kAutoEnvelope;
                else if (valid_field_name(v->value)) a.envelope_header = v->value;
                else error(v->line, "envelope_header " + in_quotes(v->value) +
                                        " must be \"auto\" or a header field name such as \"Delivered-To\"" + in);
            }
            if (auto v = text(t, "unknown_to")) {
                if (users_.contains(v->value)) a.unknown_to = v->value;
                else error(v->line, "unknown_to " + in_quotes(v->value) + " is not a user" + in);
            } else if (!t.contains("unknown_to") && !users_.contains(a.unknown_to)) {
                error(mode_line, "unknown_to is not set and its default " + in_quotes(a.unknown_to) +
                                     " is not a user: name the user who gets mail for unknown recipients" + in);
            }
        }
        if (const toml::node* n = t.get("keep")) {
            const auto* s = n->as_string();
            std::optional<std::chrono::seconds> d = s ? parse_duration(s->get()) : std::nullopt;
            if (s && s->get() == "delete") a.keep_for = std::chrono::seconds(0);
            else if (s && s->get() == "forever") a.keep_for = std::nullopt;
            else if (d && d->count() > 0) a.keep_for = *d;
            else error(line_of(*n), std::string("keep") + kKeepForm + in);
        }
        if (auto v = positive(t, "max_per_cycle")) a.max_per_cycle = *v;
        if (auto v = size(t, "max_size")) a.max_size = *v;
        if (auto v = duration(t, "timeout")) a.timeout = *v;
        if (auto v = duration(t, "interval")) a.interval = *v;

        // IMAP only: the folders to collect, and IDLE on each.
        if (const toml::node* n = t.get("folders"); n && proto_known && !a.is_imap()) {
            error(line_of(*n), "folders is only used with protocol \"imap\" or \"imaps\"" + in);
        } else if (auto list = texts(t, "folders")) {
            if (list->empty()) error(line_of(*n), "folders is empty: give at least one, such as \"INBOX\"" + in);
            a.folders.clear();
            std::map<std::string, std::size_t> seen;   // folder key -> its line
            for (const Text& f : *list) {
                // RFC 3501 5.1: INBOX is case-insensitive, other names are not.
                std::string key = lowercase_ascii(f.value) == "inbox" ? "INBOX" : f.value;
                // The name goes into an IMAP command line, which a CR or LF would end early.
                bool control = std::any_of(f.value.begin(), f.value.end(), [](char c) {
                    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
                });
                if (f.value.empty()) error(f.line, "folder name is empty" + in);
                else if (control) error(f.line, "folder name " + toml_quote(f.value) + " has a control character" + in);
                else if (auto [it, fresh] = seen.emplace(key, f.line); !fresh)
                    error(f.line, "folder " + in_quotes(f.value) + " is listed twice (first at line " +
                                      std::to_string(it->second) + ")" + in);
                else a.folders.push_back(f.value);
            }
        }
        if (const toml::node* n = t.get("idle"); n && proto_known && !a.is_imap())
            error(line_of(*n), "idle is only used with protocol \"imap\" or \"imaps\"" + in);
        else if (auto v = boolean(t, "idle")) a.idle = *v;
        cfg_.accounts.push_back(std::move(a));
    }

    // read_fetch - [fetch]. stale_after and login_wait are accepted with on_login = false (unused
    // there), so that turning it off and on is a one-line change.
    void read_fetch(const toml::table* t) {
        if (!t) return;
        reject_unknown(*t, "[fetch]", kFetchKeys);
        FetchConfig& f = cfg_.fetch;
        if (auto v = boolean(*t, "on_login")) f.on_login = *v;
        if (auto v = duration(*t, "stale_after")) f.stale_after = *v;
        if (auto v = duration(*t, "login_wait")) f.login_wait = *v;
    }

    // set_catch_all - from the top level or an [[alias]]; only once.
    void set_catch_all(const Text& v) {
        if (catch_all_) {
            error(v.line, "catch_all is already set at line " + std::to_string(catch_all_->line));
            return;
        }
        catch_all_ = v;
        cfg_.catch_all = v.value;
    }

    // check_catch_all - it names a user (known only after every [[user]] is read).
    void check_catch_all() {
        if (catch_all_ && !users_.contains(catch_all_->value))
            error(catch_all_->line, "catch_all " + in_quotes(catch_all_->value) + " is not a user");
    }

    // check_postmaster - RFC 5321 4.5.1: postmaster must be deliverable. A file without users is the first-run
    // template, to which the postmaster's [[user]] is appended, so it is checked once users exist.
    void check_postmaster() {
        if (cfg_.postmaster.empty()) {
            error(postmaster_line_, "postmaster address missing");
            return;
        }
        auto m = parse_mailbox(cfg_.postmaster);
        if (!m) {
            error(postmaster_line_, "postmaster " + in_quotes(cfg_.postmaster) + " is not a valid address");
            return;
        }
        cfg_.postmaster = m->str();
        bool delivered = taken_.contains(cfg_.postmaster) || catch_all_;
        if (!cfg_.users.empty() && cfg_.is_local_domain(m->domain) && !delivered)
            error(postmaster_line_, "postmaster address " + in_quotes(cfg_.postmaster) +
                                        " missing: give it to a user or an alias, or set catch_all");
    }
};

}  // namespace

const UserConfig* Config::find_user(std::string_view name) const {
    auto it = std::find_if(users.begin(), users.end(), [&](const UserConfig& u) { return u.name == name; });
    return it == users.end() ? nullptr : &*it;
}

const AccountConfig* Config::find_account(std::string_view name) const {
    auto it = std::find_if(accounts.begin(), accounts.end(), [&](const AccountConfig& a) { return a.name == name; });
    return it == accounts.end() ? nullptr : &*it;
}

bool Config::is_local_domain(std::string_view domain) const {
    return std::find(local_domains.begin(), local_domains.end(), domain) != local_domains.end();
}

std::string ConfigError::to_string() const {
    return line == 0 ? file + ": " + what : file + ":" + std::to_string(line) + ": " + what;
}

bool valid_user_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxUserName || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    });
}

std::string toml_quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\f': out += "\\f"; break;
            case '\r': out += "\\r"; break;
            default:
                if (u < 0x20 || u == 0x7f) {   // TOML 1.0: other controls only as \uXXXX
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04X", u);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

std::span<const std::string_view> listen_keys() { return kListenNames; }

ConfigResult parse_config(std::string_view text, const std::string& file) {
    ConfigResult result;
    auto cfg = std::make_shared<Config>();
    cfg->source = file;
    toml::table root;
    try {
        root = toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        result.errors.push_back({file, e.source().begin.line, std::string(e.description())});
        return result;
    }
    Builder builder(file, *cfg);
    builder.read(root);
    if (cfg->data_dir.is_relative())
        cfg->data_dir = (fs::path(file).parent_path() / cfg->data_dir).lexically_normal();
    result.errors = std::move(builder.errors);
    // In file order, so the admin can fix them top to bottom; those tied to no line come last.
    std::stable_sort(result.errors.begin(), result.errors.end(), [](const ConfigError& a, const ConfigError& b) {
        return (a.line == 0 ? SIZE_MAX : a.line) < (b.line == 0 ? SIZE_MAX : b.line);
    });
    if (result.errors.empty()) result.config = std::move(cfg);
    return result;
}

std::optional<std::string> read_config_file(const fs::path& file, std::string& error) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = std::string("cannot read: ") + std::strerror(errno);
        return std::nullopt;
    }
    std::string text;
    struct stat st {};
    // A directory opens fine and reads as nothing: it must not pass for an empty config.
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        error = "cannot read: not a regular file";
        ::close(fd);
        return std::nullopt;
    }
    char buf[kReadChunk];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = std::string("cannot read: ") + std::strerror(errno);
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);   // read-only: a failing close loses nothing
    return text;
}

ConfigResult load_config(const fs::path& file) {
    // Absolute, so that data_dir and a reload on SIGHUP do not depend on the working directory.
    fs::path path = fs::absolute(file);
    std::string error;
    auto text = read_config_file(path, error);
    if (!text) return ConfigResult{nullptr, {{path.string(), 0, error}}};
    return parse_config(*text, path.string());
}

std::string default_config_text(const fs::path& data_dir) {
    return R"TOML(# mailkeep.toml — configuration of the mailkeep mail gateway, read at start and on SIGHUP.
# Relative paths are relative to this file's directory, except the [tls] files and ca_file (relative
# to data_dir).

hostname = "mail.home.arpa"          # the name in the SMTP greeting and in Received: lines
data_dir = )TOML" + toml_quote(data_dir.string()) +
           R"TOML(   # mailboxes, queue, state database, TLS files
local_domains = ["home.arpa"]        # mail for these domains is kept here; other mail is forwarded
postmaster = "postmaster@home.arpa"  # must reach a user, an alias or the catch_all
trusted_networks = ["127.0.0.0/8", "::1/128"]   # CIDR list of clients allowed to relay
# run_as = "mailkeep"                # drop root to this account after binding the ports
# catch_all = "postmaster"           # a user name: unknown local recipients go there

[listen]
# Each a list of "address:port" ("[::1]:25" for IPv6); an empty list turns the service off.
smtp = ["127.0.0.1:2525"]            # incoming mail (port 25 in production)
submission = ["127.0.0.1:2587"]      # clients sending, STARTTLS + AUTH (587)
submissions = ["127.0.0.1:2465"]     # clients sending, implicit TLS + AUTH (465)
pop3 = ["127.0.0.1:2110"]            # clients reading, STLS (110)
pop3s = ["127.0.0.1:2995"]           # clients reading, implicit TLS (995)

[tls]
cert = "tls/cert.pem"                # relative to data_dir
key = "tls/key.pem"

[limits]
max_message_size = "25M"             # bytes, or with K, M, G (binary multiples)
max_recipients = 100                 # per message
max_connections = 200                # in total
max_connections_per_ip = 20

# Users: `mailkeep user add NAME --address A --password-stdin` appends one; by hand:
# [[user]]
# name = "anna"                      # [a-z0-9._-]+
# password = "$y$..."                # crypt(3) hash
# addresses = ["anna@home.arpa"]     # in a local domain, each used once
# forward_to = []                    # also send to these addresses
# keep_copy = true                   # with forward_to: keep a copy in the own mailbox too
#
# [[alias]]
# address = "family@home.arpa"
# to = ["anna", "ben"]               # user names or full addresses

# Collecting mail from providers, one [[account]] per provider mailbox; checked every interval.
# [[account]]
# name = "anna-provider"             # [a-z0-9._-]+, unique: names the account in `mailkeep status`
# protocol = "imaps"                 # "pop3s" | "imaps" (TLS from the start) | "pop3" | "imap" with
#                                    # starttls = true; without TLS only to a loopback address, or
#                                    # with allow_plaintext = true (the password then travels in clear)
# host = "imap.provider.example"
# port = 993                         # default 110/995/143/993 by protocol
# tls_verify = true                  # check the certificate: system CA store, or
# ca_file = "tls/provider-ca.pem"    # a PEM file for a private CA (relative to data_dir)
# username = "anna.schmidt@provider.example"
# password_command = "pass show anna-provider"   # or password = "...", or oauth2_token_command = "..."
# mailbox = "single"                 # everything to one user (see "multidrop" below)
# deliver_to = "anna"                # that user
# keep = "7d"                        # "delete" | "forever" (the default) | delete this long after fetching
# max_per_cycle = 100                # messages per cycle; the rest follow in the next
# max_size = "50M"                   # larger ones stay on the provider; the user is told once
# timeout = "60s"                    # give up after this long without a byte from the server
# interval = "10m"                   # how often to look for new mail
# folders = ["INBOX"]                # IMAP only
# idle = true                        # IMAP only: new mail at once where the server offers IDLE
#
# One collective mailbox for a whole domain, each message given to the local users it is for:
# [[account]]
# name = "family"
# protocol = "pop3s"
# host = "pop.provider.example"
# username = "family@provider.example"
# password = "secret"
# mailbox = "multidrop"
# envelope_header = "auto"           # or the header naming the recipient, such as "X-Original-To"
# unknown_to = "postmaster"          # the user who gets mail for unknown local recipients
#
# [fetch]
# on_login = true                    # a POP3/IMAP login of a user whose accounts are stale...
# stale_after = "5m"
# login_wait = "5s"                  # ...fetches them first, waiting at most this long

# Outbound mail. Without [relay] it goes straight to each recipient domain's MX ("direct"); from a
# home connection most receivers refuse that, so name the provider's server as the smarthost:
# [relay]
# mode = "smarthost"                 # "smarthost" | "direct" (MX lookup, the default)
# host = "smtp.provider.example"
# port = 587                         # default: 587 for starttls, 465 for implicit, 25 for none
# tls = "starttls"                   # "starttls" | "implicit" | "none"
# tls_verify = true                  # check the certificate: system CA store, or
# ca_file = "tls/provider-ca.pem"    # a PEM file for a private CA (relative to data_dir)
# username = "home@provider.example"
# password_command = "pass show provider"   # or password = "...", or oauth2_token_command = "..."
# retry = ["5m", "15m", "1h", "4h"]  # waits between attempts; the last one repeats
# warn_after = "4h"                  # then the sender is told the mail is delayed (once)
# give_up_after = "5d"               # then it is returned to the sender; longer than warn_after
# probe_interval = "60s"             # while mail waits: how often to check the next hop is reachable
#
# A member sending through her own provider account, as her provider address (SPF, DMARC pass):
# [[relay.sender]]
# address = "anna@home.arpa"         # an address of a [[user]]
# rewrite_from = "anna.schmidt@provider.example"   # the envelope sender and From: outbound
# host = "mail.provider.example"
# port = 465
# tls = "implicit"
# username = "anna.schmidt@provider.example"
# password_command = "pass show anna-provider"
#
# Mail for one domain through a host of its own:
# [[route]]
# domain = "example.com"
# host = "mx.partner.example"
# port = 25                          # default 25 (465 with tls = "implicit")

# Where mail for local users goes:
# [delivery]
# mode = "maildir"                   # "maildir" (the default) | "lmtp" | "smtp" (a downstream server)
# host = "127.0.0.1"                 # for lmtp and smtp
# port = 24                          # default 24 (25 for smtp)
)TOML";
}

}  // namespace mk
