// core/config_remote.cpp — the servers mailkeep logs in to: a next hop's host, TLS trust and login (for
// [relay], [[relay.sender]] and [[route]]), and each [[account]] collected from, with [fetch]. Both follow one
// rule: no credentials in clear text to anything but a loopback address.
#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

#include "core/address.hpp"
#include "core/config_builder.hpp"
#include "core/config_values.hpp"
#include "core/size.hpp"

namespace mk::config_detail {

namespace {

// [[account]]: where the server is and how to log in (as for a hop, but the protocol says the TLS
// mode), then what to do with the mail found there.
constexpr auto kAccountKeys = join_keys(
    std::to_array<std::string_view>({"name", "protocol", "starttls", "host", "port", "tls_verify", "ca_file",
                                     "allow_plaintext", "username"}),
    kSecretKeys,
    std::to_array<std::string_view>({"mailbox", "deliver_to", "envelope_header", "unknown_to", "keep", "max_per_cycle",
                                     "max_size", "timeout", "interval", "folders", "idle"}));
constexpr std::string_view kFetchKeys[] = {"on_login", "stale_after", "login_wait"};

struct TlsName {
    std::string_view name;
    TlsMode mode;
};
constexpr TlsName kTlsModes[] = {
    {"starttls", TlsMode::starttls}, {"implicit", TlsMode::implicit}, {"none", TlsMode::none}};

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

// valid_field_name - RFC 5322 3.6.8: printable US-ASCII except ':', at least one.
bool valid_field_name(std::string_view name) {
    return !name.empty() &&
           std::all_of(name.begin(), name.end(), [](char c) { return c >= 33 && c <= 126 && c != ':'; });
}

}  // namespace

// read_host - the server's name or address ("host"), lowercased; section names the table in messages.
std::optional<std::string> Builder::read_host(const toml::table& t, std::string_view section) {
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
void Builder::read_trust(const toml::table& t, std::string_view section, std::string_view no_tls, Into& into) {
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
std::optional<Text> Builder::read_login(const toml::table& t, std::string_view section, bool required, Into& into) {
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
HopConfig Builder::read_hop(const toml::table& t, std::string_view section, PortDefaults ports) {
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

// read_account - one [[account]]: a provider mailbox to collect. After the users, whom deliver_to
// and unknown_to name. Keys that depend on the protocol or the mailbox mode are judged only when
// that key is valid, so that one mistake gives one error.
void Builder::read_account(const toml::table& t) {
    constexpr std::string_view section = "[[account]]";
    const std::string in = " in [[account]]";
    reject_unknown(t, section, kAccountKeys);
    AccountConfig a;
    a.name = read_unique_name(t, "account", accounts_);   // it keys the account's state (UIDs, status)

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
void Builder::read_fetch(const toml::table* t) {
    if (!t) return;
    reject_unknown(*t, "[fetch]", kFetchKeys);
    FetchConfig& f = cfg_.fetch;
    if (auto v = boolean(*t, "on_login")) f.on_login = *v;
    if (auto v = duration(*t, "stale_after")) f.stale_after = *v;
    if (auto v = duration(*t, "login_wait")) f.login_wait = *v;
}

}  // namespace mk::config_detail
