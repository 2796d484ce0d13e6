// core/config_builder.hpp — Builder, which fills a Config from a parsed mailkeep.toml one section at a time;
// internal to core/config*.cpp. Each section's reader is defined in the file named above its declaration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/config_read.hpp"

namespace mk::config_detail {

// The ways to log in at a hop or an account; at most one may be given, and each needs a username.
inline constexpr auto kSecretKeys = std::to_array<std::string_view>({"password", "password_command", "oauth2_token_command"});
// The keys of one next hop, shared by [relay], [[relay.sender]] and [[route]].
inline constexpr auto kHopKeys = join_keys(std::to_array<std::string_view>({"host", "port", "tls", "tls_verify", "ca_file",
                                                                            "username"}), kSecretKeys);

// The port a hop is reached on when the file names none, by its TLS mode.
struct PortDefaults {
    std::uint16_t starttls, implicit, none;
};

// Builder - fills a Config from a parsed TOML document, collecting every error.
class Builder : public ConfigReader {
public:
    Builder(std::string file, Config& cfg) : ConfigReader(std::move(file)), cfg_(cfg) {}

    // read - the whole document; the order matters: domains before addresses, users before aliases.
    void read(const toml::table& root);

private:
    Config& cfg_;
    std::map<std::string, std::size_t> users_;   // name -> line of its definition
    std::map<std::string, std::size_t> taken_;   // address -> line that claimed it
    std::set<std::string> user_addresses_;                // the [[user]] addresses among taken_ (not aliases)
    std::map<std::string, std::size_t> senders_;          // [[relay.sender]] address -> its line
    std::map<std::string, std::size_t> routes_;           // [[route]] domain -> its line
    std::map<std::string, std::size_t> accounts_;         // [[account]] name -> its line
    std::map<std::string, std::size_t> holds_;            // [[odmr.hold]] domain -> its line
    std::map<std::string, std::size_t> etrns_;            // [[etrn]] "host domain" -> its line
    std::optional<Text> catch_all_;
    std::size_t postmaster_line_ = 0;            // 0 while it is the default

    // config.cpp: the top-level keys, and the checks that need the whole file.
    void read_top(const toml::table& root);
    void set_catch_all(const Text& v);
    void check_catch_all();
    void check_postmaster();

    // config_listen.cpp: what the server offers.
    void read_listen(const toml::table* t);
    void read_tls(const toml::table* t);
    void read_limits(const toml::table* t);

    // config_users.cpp: the local recipients.
    std::string read_unique_name(const toml::table& t, std::string_view what, std::map<std::string, std::size_t>& seen);
    std::optional<std::string> claim(const Text& raw);
    void read_user(const toml::table& t);
    void read_alias(const toml::table& t);

    // config_relay.cpp: where mail leaves for.
    void read_relay(const toml::table* t);
    void read_relay_sender(const toml::table& t);
    void read_route(const toml::table& t);
    void read_delivery(const toml::table* t);

    // config_remote.cpp: the servers mailkeep logs in to, next hops and accounts.
    std::optional<std::string> read_host(const toml::table& t, std::string_view section);
    template <typename Into>
    void read_trust(const toml::table& t, std::string_view section, std::string_view no_tls, Into& into);
    template <typename Into>
    std::optional<Text> read_login(const toml::table& t, std::string_view section, bool required, Into& into);
    HopConfig read_hop(const toml::table& t, std::string_view section, PortDefaults ports);
    void read_account(const toml::table& t);
    void read_fetch(const toml::table* t);

    // config_odmr.cpp: On-Demand Mail Relay (RFC 2645) and ETRN (RFC 1985).
    void read_odmr(const toml::table* t);
    void read_odmr_hold(const toml::table& t);
    void read_odmr_client(const toml::table& t);
    void read_etrn(const toml::table& t);
    HopConfig read_peer(const toml::table& t, std::string_view section, std::span<const std::string_view> known,
                        PortDefaults ports);
};

}  // namespace mk::config_detail
