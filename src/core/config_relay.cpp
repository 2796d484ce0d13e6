// core/config_relay.cpp — where mail goes from here: [relay] (smarthost or direct, retries),
// [[relay.sender]], [[route]] and [delivery] (the local users' mail, to a Maildir or a downstream server).
#include <chrono>
#include <cstdint>
#include <utility>

#include "core/address.hpp"
#include "core/config_builder.hpp"
#include "core/config_values.hpp"

namespace mk::config_detail {

namespace {

constexpr auto kRelayKeys = join_keys(kHopKeys, std::to_array<std::string_view>({"mode", "retry", "warn_after",
    "give_up_after", "probe_interval", "dns_server", "mx_port", "sender"}));
constexpr auto kRelaySenderKeys = join_keys(kHopKeys, std::to_array<std::string_view>({"address", "rewrite_from"}));
constexpr auto kRouteKeys = join_keys(kHopKeys, std::to_array<std::string_view>({"domain"}));
constexpr std::string_view kDeliveryKeys[] = {"mode", "host", "port"};

// A smarthost is a submission server: 587 (RFC 6409 3.1), 465 (RFC 8314 3.3), else 25 (RFC 5321 4.5.4).
constexpr PortDefaults kSmarthostPorts{587, 465, 25};
// A [[route]] names a relay host or an MX: port 25 (RFC 5321 4.5.4), 465 only for implicit TLS (RFC 8314 3.3).
constexpr PortDefaults kRoutePorts{25, 465, 25};
constexpr std::uint16_t kSmtpPort = 25;   // RFC 5321 4.5.4: [delivery] mode = "smtp" without a port

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

// duration_text - d in the largest unit that divides it ("4h", "90s"), for messages.
std::string duration_text(std::chrono::seconds d) {
    constexpr std::pair<std::int64_t, char> kUnits[] = {{24 * 60 * 60, 'd'}, {60 * 60, 'h'}, {60, 'm'}};
    for (auto [secs, unit] : kUnits)
        if (d.count() % secs == 0) return std::to_string(d.count() / secs) + unit;
    return std::to_string(d.count()) + "s";
}

}  // namespace

// read_relay - [relay] and its [[relay.sender]] tables.
void Builder::read_relay(const toml::table* t) {
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
void Builder::read_relay_sender(const toml::table& t) {
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
void Builder::read_route(const toml::table& t) {
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
void Builder::read_delivery(const toml::table* t) {
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

}  // namespace mk::config_detail
