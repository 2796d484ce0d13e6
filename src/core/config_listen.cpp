// core/config_listen.cpp — what the server offers: [listen] (where each service listens), [tls] (its
// certificate) and [limits] (what one message and the clients may take).
#include <array>
#include <iterator>

#include "core/config_builder.hpp"
#include "core/config_values.hpp"

namespace mk::config_detail {

namespace {

// Unprivileged loopback ports by default, so that a first run works without root. An empty fallback
// is a service that is off unless the file names its addresses: ODMR is a provider's business (a
// mailkeep on a VPS holding a family's mail), not a household's, and AUTH on it would be one more
// door to guess passwords at.
struct ListenKey {
    std::string_view key;
    std::vector<Endpoint> ListenConfig::*field;
    std::string_view fallback;   // empty: no endpoint by default
};
constexpr ListenKey kListenKeys[] = {
    {"smtp", &ListenConfig::smtp, "127.0.0.1:2525"},
    {"submission", &ListenConfig::submission, "127.0.0.1:2587"},
    {"submissions", &ListenConfig::submissions, "127.0.0.1:2465"},
    {"pop3", &ListenConfig::pop3, "127.0.0.1:2110"},
    {"pop3s", &ListenConfig::pop3s, "127.0.0.1:2995"},
    {"imap", &ListenConfig::imap, "127.0.0.1:2143"},
    {"imaps", &ListenConfig::imaps, "127.0.0.1:2993"},
    {"odmr", &ListenConfig::odmr, ""},
};

// The [listen] keys, taken from the table above so the two cannot drift apart.
constexpr auto kListenNames = [] {
    std::array<std::string_view, std::size(kListenKeys)> names{};
    for (std::size_t i = 0; i < names.size(); ++i) names[i] = kListenKeys[i].key;
    return names;
}();

constexpr std::string_view kTlsKeys[] = {"cert", "key"};
constexpr std::string_view kLimitsKeys[] = {"max_message_size", "max_recipients", "max_connections",
                                            "max_connections_per_ip", "max_imap_sessions_per_user"};

}  // namespace

// read_listen - [listen]; a service not mentioned keeps its default endpoint.
void Builder::read_listen(const toml::table* t) {
    if (t) reject_unknown(*t, "[listen]", kListenNames);
    for (const ListenKey& k : kListenKeys) {
        auto list = t ? texts(*t, k.key) : std::nullopt;
        if (!list && k.fallback.empty()) continue;
        if (!list) list.emplace(std::vector<Text>{{std::string(k.fallback), 0}});
        for (const Text& e : *list) {
            if (auto ep = parse_endpoint(e.value)) (cfg_.listen.*k.field).push_back(*ep);
            else error(e.line, "bad listen address " + in_quotes(e.value) + kListenForm);
        }
    }
}

// read_tls - [tls]; paths stay relative (Config::resolve puts them under data_dir).
void Builder::read_tls(const toml::table* t) {
    if (!t) return;
    reject_unknown(*t, "[tls]", kTlsKeys);
    if (auto v = text(*t, "cert")) cfg_.tls_cert = v->value;
    if (auto v = text(*t, "key")) cfg_.tls_key = v->value;
}

// read_limits - [limits].
void Builder::read_limits(const toml::table* t) {
    if (!t) return;
    reject_unknown(*t, "[limits]", kLimitsKeys);
    if (auto v = size(*t, "max_message_size")) cfg_.limits.max_message_size = *v;
    if (auto v = positive(*t, "max_recipients")) cfg_.limits.max_recipients = *v;
    if (auto v = positive(*t, "max_connections")) cfg_.limits.max_connections = *v;
    if (auto v = positive(*t, "max_connections_per_ip")) cfg_.limits.max_connections_per_ip = *v;
    if (auto v = positive(*t, "max_imap_sessions_per_user")) cfg_.limits.max_imap_sessions_per_user = *v;
}

}  // namespace mk::config_detail

namespace mk {

std::span<const std::string_view> listen_keys() { return config_detail::kListenNames; }

}  // namespace mk
