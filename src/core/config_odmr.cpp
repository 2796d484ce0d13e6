// core/config_odmr.cpp — On-Demand Mail Relay (RFC 2645) and ETRN (RFC 1985): [[odmr.hold]] (the domains
// we are the MX of and hold for a customer to pull with ATRN), [odmr.client] (our own domains pulled from a
// provider) and [[etrn]] (a provider asked to flush a domain). The hops are read as every other next hop.
#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "core/config_builder.hpp"
#include "core/config_values.hpp"

namespace mk::config_detail {

namespace {

constexpr std::string_view kOdmrKeys[] = {"hold", "client"};
constexpr std::string_view kHoldKeys[] = {"domain", "user"};
constexpr auto kOdmrClientKeys = join_keys(kHopKeys, std::to_array<std::string_view>({"domains", "interval"}));
constexpr auto kEtrnKeys = join_keys(kHopKeys, std::to_array<std::string_view>({"domain"}));

// RFC 2645 4: the ODMR service is on port 366, with STARTTLS or not; implicit TLS has no port of its own.
constexpr PortDefaults kOdmrPorts{366, 366, 366};
// ETRN is an SMTP command (RFC 1985): port 25 (RFC 5321 4.5.4), 465 only for implicit TLS (RFC 8314 3.3),
// as for a [[route]].
constexpr PortDefaults kEtrnPorts{25, 465, 25};

}  // namespace

// read_peer - the table's keys (known), and the hop it names, which must have a host.
HopConfig Builder::read_peer(const toml::table& t, std::string_view section, std::span<const std::string_view> known,
                             PortDefaults ports) {
    reject_unknown(t, section, known);
    HopConfig hop = read_hop(t, section, ports);
    if (!t.contains("host")) error(line_of(t), std::string(section) + " without a host");
    return hop;
}

// read_odmr - [odmr]: its [[odmr.hold]] tables and [odmr.client]. After the users and the routes.
void Builder::read_odmr(const toml::table* t) {
    if (!t) return;
    reject_unknown(*t, "[odmr]", kOdmrKeys);
    for (const toml::table* h : table_array(*t, "hold", "odmr.hold")) read_odmr_hold(*h);
    if (const toml::node* n = t->get("client")) {
        if (const toml::table* c = n->as_table()) read_odmr_client(*c);
        else error(line_of(*n), "client must be written as an [odmr.client] table");
    }
}

// read_odmr_hold - one [[odmr.hold]]: a domain whose mail we accept as its MX and hold for one user's ATRN.
void Builder::read_odmr_hold(const toml::table& t) {
    const std::string in = " in [[odmr.hold]]";
    reject_unknown(t, "[[odmr.hold]]", kHoldKeys);
    OdmrHoldConfig h;
    if (auto v = text(t, "domain")) {
        auto d = parse_domain(v->value);
        auto route = d ? routes_.find(*d) : routes_.end();
        if (!d)
            error(v->line, "hold domain " + in_quotes(v->value) + " is not a domain name");
        else if (cfg_.is_local_domain(*d))
            error(v->line, "hold domain " + in_quotes(*d) + " is a local domain: its mail is delivered here, not held");
        else if (route != routes_.end())
            error(v->line, "hold domain " + in_quotes(*d) + " also has a [[route]] (line " + std::to_string(route->second) +
                               "): held mail leaves only by ATRN");
        else if (auto [it, fresh] = holds_.emplace(*d, v->line); !fresh)
            error(v->line, "hold domain " + in_quotes(*d) + " is already held at line " + std::to_string(it->second));
        else
            h.domain = *d;
    } else if (!t.contains("domain")) {
        error(line_of(t), "[[odmr.hold]] without a domain");
    }
    if (auto v = text(t, "user")) {
        const UserConfig* u = users_.contains(v->value) ? cfg_.find_user(v->value) : nullptr;
        if (!u)
            error(v->line, "hold user " + in_quotes(v->value) + " is not a user" + in);
        else if (u->password_hash.empty() && u->cram_md5.empty())
            error(v->line, "hold user " + in_quotes(v->value) + " has neither a password nor cram_md5: ATRN needs a "
                               "login (RFC 2645 4)" + in);
        else
            h.user = v->value;
    } else if (!t.contains("user")) {
        error(line_of(t), "[[odmr.hold]] without a user, the one who may pull its mail with ATRN");
    }
    cfg_.odmr.hold.push_back(std::move(h));
}

// read_odmr_client - [odmr.client]: the provider we pull our domains' mail from. RFC 2645 4 requires a
// login before ATRN; the login and then all the mail cross the connection, so without TLS only to a
// loopback address.
void Builder::read_odmr_client(const toml::table& t) {
    constexpr std::string_view section = "[odmr.client]";
    const std::string in = " in [odmr.client]";
    OdmrClientConfig c;
    c.hop = read_peer(t, section, kOdmrClientKeys, kOdmrPorts);
    if (const toml::node* n = t.get("tls"); n && c.hop.tls == TlsMode::none && !c.hop.host.empty() &&
                                            !loopback_literal(c.hop.host))
        error(line_of(*n), "tls = \"none\" is only allowed to a loopback address" + in +
                               ": the login and the held mail would cross the network in clear text");
    if (const toml::node* n = t.get("oauth2_token_command"))
        error(line_of(*n), "oauth2_token_command has no use" + in + ": ODMR logs in with CRAM-MD5 or PLAIN");
    else if (!t.contains("username") && !t.contains("password") && !t.contains("password_command"))
        error(line_of(t), "[odmr.client] without a username and a password or password_command: ATRN needs a "
                          "login (RFC 2645 4)");
    if (auto list = texts(t, "domains")) {
        if (list->empty()) error(line_of(*t.get("domains")), "domains is empty" + in + ": name the domains to pull");
        std::map<std::string, std::size_t> seen;   // domain -> its line
        for (const Text& v : *list) {
            auto d = parse_domain(v.value);
            if (!d)
                error(v.line, "domain " + in_quotes(v.value) + " is not a domain name" + in);
            else if (!cfg_.is_local_domain(*d))
                error(v.line, "domain " + in_quotes(*d) + " is not a local domain" + in +
                                  ": the mail pulled for it would have nowhere to go");
            else if (auto [it, fresh] = seen.emplace(*d, v.line); !fresh)
                error(v.line, "domain " + in_quotes(*d) + " is listed twice (first at line " +
                                  std::to_string(it->second) + ")" + in);
            else
                c.domains.push_back(*d);
        }
    } else if (!t.contains("domains")) {
        error(line_of(t), "[odmr.client] without domains, the local domains to pull from the provider");
    }
    if (auto v = duration(t, "interval")) c.interval = *v;
    cfg_.odmr.client = std::move(c);
}

// read_etrn - one [[etrn]]: a provider asked to flush the mail it queues for one of our domains (RFC 1985).
// ETRN needs no login, but a provider may honour it only after AUTH: username and password are allowed,
// under the rules of any hop. RFC 1985's "#queue" and "@domain" arguments are not domains and are refused.
void Builder::read_etrn(const toml::table& t) {
    constexpr std::string_view section = "[[etrn]]";
    const std::string in = " in [[etrn]]";
    EtrnConfig e;
    e.hop = read_peer(t, section, kEtrnKeys, kEtrnPorts);
    if (auto v = text(t, "domain")) {
        auto d = parse_domain(v->value);
        bool other_form = !v->value.empty() && (v->value.front() == '#' || v->value.front() == '@');
        if (!d && other_form)
            error(v->line, "domain " + in_quotes(v->value) + " must be a domain name" + in +
                               " (RFC 1985's \"#queue\" and \"@domain\" forms are not supported)");
        else if (!d)
            error(v->line, "domain " + in_quotes(v->value) + " is not a domain name" + in);
        else if (!cfg_.is_local_domain(*d))
            error(v->line, "domain " + in_quotes(*d) + " is not a local domain" + in +
                               ": the provider would flush its mail to us, where it is refused");
        else if (auto [it, fresh] = etrns_.emplace(e.hop.host + " " + *d, v->line); !fresh && !e.hop.host.empty())
            error(v->line, "ETRN for " + in_quotes(*d) + " to " + in_quotes(e.hop.host) + " is already configured at line " +
                               std::to_string(it->second));
        else
            e.domain = *d;
    } else if (!t.contains("domain")) {
        error(line_of(t), "[[etrn]] without a domain");
    }
    cfg_.etrn.push_back(std::move(e));
}

}  // namespace mk::config_detail
