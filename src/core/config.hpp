// core/config.hpp — the typed, validated configuration; built from TOML, trusted once validated.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.hpp"

namespace mk {

struct Endpoint {
    std::string host;  // literal address: "127.0.0.1" or "::1"
    std::uint16_t port = 0;
};

struct UserConfig {
    std::string name;
    std::string password_hash;             // crypt(3) string; empty = cannot log in
    std::vector<std::string> addresses;    // lowercase domain, local part as written
    std::vector<std::string> forward_to;   // remote or local addresses
    bool keep_copy = true;                 // with forward_to: also deliver to the own mailbox
    std::string cram_md5;                  // CRAM-MD5 secret: the HMAC-MD5 context of the password,
                                           // hex (Dovecot's CRAM-MD5 scheme); empty = no CRAM-MD5
};

struct AliasConfig {
    std::string address;
    std::vector<std::string> to;           // user names or full addresses
};

struct ListenConfig {
    std::vector<Endpoint> smtp, submission, submissions, pop3, pop3s;
    std::vector<Endpoint> imap, imaps;   // RFC 9051: STARTTLS (143) and implicit TLS (993)
    std::vector<Endpoint> odmr;   // provider side of RFC 2645 (port 366); off unless configured
};

// listen_keys - the keys [listen] accepts, one per field of ListenConfig (the daemon's listener
// table, server/listeners.cpp, has a row for each).
std::span<const std::string_view> listen_keys();

struct LimitsConfig {
    std::uint64_t max_message_size = 25ull * 1024 * 1024;   // bytes, as stored
    std::size_t max_recipients = 100;
    std::size_t max_connections = 200;
    std::size_t max_connections_per_ip = 20;
    // IMAP sessions one user may hold at once: Android clients keep one IDLE connection per folder.
    std::size_t max_imap_sessions_per_user = 50;
};

enum class TlsMode { starttls, implicit, none };

// One next hop for outbound mail and how to log in there.
struct HopConfig {
    std::string host;
    std::uint16_t port = 587;
    TlsMode tls = TlsMode::starttls;
    bool tls_verify = true;                 // system CA store, or ca_file
    std::filesystem::path ca_file;          // PEM bundle for a private CA; empty = system store
    std::string username;                   // empty = no AUTH
    std::string password;                   // literal, or:
    std::string password_command;           // run with /bin/sh -c, first line of stdout
    std::string oauth2_token_command;       // XOAUTH2 / OAUTHBEARER (RFC 7628) bearer token
};

struct RelaySenderConfig {
    std::string address;                    // the local sender this applies to
    std::string rewrite_from;               // outbound envelope sender and From:; empty = keep
    HopConfig hop;
};

struct RouteConfig {
    std::string domain;                     // recipient domain, lowercase
    HopConfig hop;                          // tls defaults to opportunistic starttls, port 25
};

struct RelayConfig {
    enum class Mode { smarthost, direct };
    Mode mode = Mode::direct;
    HopConfig smarthost;                    // mode = "smarthost": [relay] host, port, tls, ...
    std::vector<std::chrono::seconds> retry{std::chrono::minutes(5), std::chrono::minutes(15),
                                            std::chrono::hours(1), std::chrono::hours(4)};   // then the last, repeated
    std::chrono::seconds warn_after = std::chrono::hours(4);
    std::chrono::seconds give_up_after = std::chrono::hours(24 * 5);
    std::chrono::seconds probe_interval = std::chrono::seconds(60);   // online check while mail waits
    std::vector<RelaySenderConfig> senders;  // [[relay.sender]]
    std::vector<RouteConfig> routes;         // [[route]]
    std::string dns_server;                  // direct mode: "addr:port" instead of /etc/resolv.conf
    std::uint16_t mx_port = 25;              // direct mode: the port MX hosts are reached on
};

struct DeliveryConfig {
    enum class Mode { maildir, lmtp, smtp };
    Mode mode = Mode::maildir;
    std::string host = "127.0.0.1";
    std::uint16_t port = 24;
};

// One provider mailbox to collect ([[account]]).
struct AccountConfig {
    enum class Protocol { pop3, pop3s, imap, imaps };
    enum class Mode { single, multidrop };
    std::string name;                       // unique; used in state and status
    Protocol protocol = Protocol::pop3s;
    bool starttls = false;                  // pop3/imap: upgrade with STLS/STARTTLS (required then)
    std::string host;
    std::uint16_t port = 995;               // defaults 110/995/143/993 by protocol
    bool tls_verify = true;
    bool allow_plaintext = false;           // pop3/imap without starttls to a non-loopback host: the
                                            // password crosses the network in clear; only if set
    std::filesystem::path ca_file;
    std::string username;
    std::string password;                   // or password_command, or oauth2_token_command
    std::string password_command;
    std::string oauth2_token_command;
    Mode mode = Mode::single;               // key "mailbox" = "single" | "multidrop"
    std::string deliver_to;                 // single: the local user who gets everything
    std::string envelope_header = "auto";   // multidrop: header naming the envelope recipient
    std::string unknown_to = "postmaster";  // multidrop: local user for unknown local recipients
    std::optional<std::chrono::seconds> keep_for;   // key "keep": "delete" = 0s, "forever" = nullopt, "7d"
    std::size_t max_per_cycle = 100;
    std::uint64_t max_size = 50ull * 1024 * 1024;
    std::chrono::seconds timeout{60};       // idle time with no byte received
    std::chrono::seconds interval{600};
    std::vector<std::string> folders{"INBOX"};   // IMAP
    bool idle = true;                       // IMAP IDLE where offered

    bool is_imap() const { return protocol == Protocol::imap || protocol == Protocol::imaps; }
    // uses_tls - implicit TLS, or STLS/STARTTLS before the login.
    bool uses_tls() const { return protocol == Protocol::pop3s || protocol == Protocol::imaps || starttls; }
};

struct FetchConfig {
    bool on_login = true;
    std::chrono::seconds stale_after{300};
    std::chrono::seconds login_wait{5};
};

// On-Demand Mail Relay (RFC 2645) and ETRN (RFC 1985).
// Provider side: a domain whose MX we are, held for one local user to pull with ATRN ([[odmr.hold]]).
struct OdmrHoldConfig {
    std::string domain;                     // lowercase; never a local domain
    std::string user;                       // the [[user]] who may ATRN for it
};

// Customer side: pull our local domains' mail from a provider ([odmr.client]).
struct OdmrClientConfig {
    HopConfig hop;                          // host, port (366), tls ("starttls" | "implicit" | "none"), login
    std::vector<std::string> domains;       // lowercase; each a local domain of ours
    std::chrono::seconds interval{600};
};

// A provider to ask for a flush of a domain when we are online ([[etrn]]).
struct EtrnConfig {
    HopConfig hop;                          // host, port (25), tls
    std::string domain;                     // lowercase; "#name" queue names are not domains: see ETRN
};

struct OdmrConfig {
    std::vector<OdmrHoldConfig> hold;        // [[odmr.hold]]
    std::optional<OdmrClientConfig> client;  // [odmr.client]
    // hold_for - the hold entry for domain, or null: mail for it is accepted as its MX and held.
    const OdmrHoldConfig* hold_for(std::string_view domain) const;
};

struct Config {
    std::filesystem::path source;          // the file it came from; empty for the embedded default
    std::string hostname = "mail.home.arpa";
    std::filesystem::path data_dir = "mailkeep-data";
    std::vector<std::string> local_domains{"home.arpa"};
    std::string postmaster = "postmaster@home.arpa";
    std::vector<Cidr> trusted_networks;
    std::string run_as;                    // drop to this user after binding; empty = stay
    ListenConfig listen;
    std::filesystem::path tls_cert = "tls/cert.pem";   // resolved against data_dir
    std::filesystem::path tls_key = "tls/key.pem";
    LimitsConfig limits;
    std::vector<UserConfig> users;
    std::vector<AliasConfig> aliases;
    std::string catch_all;                 // user name; empty = unknown recipients are refused
    RelayConfig relay;                     // [relay], [[relay.sender]], [[route]]
    DeliveryConfig delivery;               // [delivery]
    std::vector<AccountConfig> accounts;   // [[account]]
    FetchConfig fetch;                     // [fetch]
    OdmrConfig odmr;                       // [odmr]: [[odmr.hold]], [odmr.client]
    std::vector<EtrnConfig> etrn;          // [[etrn]]

    std::filesystem::path resolve(const std::filesystem::path& p) const {
        return p.is_absolute() ? p : data_dir / p;
    }
    const UserConfig* find_user(std::string_view name) const;
    const AccountConfig* find_account(std::string_view name) const;
    bool is_local_domain(std::string_view domain) const;   // domain already lowercase
};

using ConfigPtr = std::shared_ptr<const Config>;

struct ConfigError {
    std::string file;
    std::size_t line = 0;   // 0 = not tied to a line
    std::string what;
    std::string to_string() const;   // "file:line: what"
};

struct ConfigResult {
    std::shared_ptr<Config> config;      // null when errors is not empty
    std::vector<ConfigError> errors;
};

// load_config - read and validate a TOML file; every problem is reported, not just the first.
ConfigResult load_config(const std::filesystem::path& file);
// parse_config - the same from text (file names the source in errors).
ConfigResult parse_config(std::string_view text, const std::string& file);
// read_config_file - the whole text of a regular file; nullopt, with the reason in error, otherwise.
std::optional<std::string> read_config_file(const std::filesystem::path& file, std::string& error);
// default_config_text - the commented mailkeep.toml written on first run.
std::string default_config_text(const std::filesystem::path& data_dir);

// Longest user name: it becomes a directory name, so well under NAME_MAX (255).
constexpr std::size_t kMaxUserName = 64;
// valid_user_name - [a-z0-9._-]+, at most kMaxUserName, not starting with '.' ("..", hidden dirs).
bool valid_user_name(std::string_view name);
// The rule of valid_user_name, for error messages.
constexpr const char* kUserNameRule = "[a-z0-9._-]+, at most 64 characters, not starting with '.'";
// toml_quote - s as a TOML basic string, quotes included, with '"', '\' and controls escaped.
std::string toml_quote(std::string_view s);

}  // namespace mk
