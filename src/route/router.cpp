// route/router.cpp — recipient resolution over the validated config; no I/O.
#include "route/router.hpp"

#include <algorithm>

#include "core/enhanced_status.hpp"

namespace mk {

namespace {

// Local parts are matched case-insensitively, as Postfix and Dovecot do for local users.
bool same_address(std::string_view configured, const Address& a) {
    auto at = configured.rfind('@');
    if (at == std::string_view::npos) return false;
    return lowercase_ascii(configured.substr(0, at)) == lowercase_ascii(a.local) &&
           lowercase_ascii(configured.substr(at + 1)) == a.domain;
}

const UserConfig* user_by_address(const Config& c, const Address& a) {
    for (const UserConfig& u : c.users)
        for (const std::string& addr : u.addresses)
            if (same_address(addr, a)) return &u;
    // name@local-domain reaches the user by name, as local(8) does for mydestination.
    for (const UserConfig& u : c.users)
        if (lowercase_ascii(a.local) == u.name) return &u;
    return nullptr;
}

const AliasConfig* alias_by_address(const Config& c, const Address& a) {
    for (const AliasConfig& al : c.aliases)
        if (same_address(al.address, a)) return &al;
    return nullptr;
}

void add_target(std::vector<Target>& out, Target t) {
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(std::move(t));
}

struct Resolver {
    const Config& config;
    std::vector<Target> targets;
    bool loop = false;

    void deliver_to_user(const UserConfig& u, int depth) {
        if (u.forward_to.empty() || u.keep_copy) add_target(targets, mailbox_target(config, u));
        for (const std::string& f : u.forward_to) resolve_text(f, depth + 1);
    }

    // resolve_text - an alias member or forward: a user name, or a full address.
    void resolve_text(const std::string& text, int depth) {
        if (depth > kMaxAliasDepth) {
            loop = true;
            return;
        }
        if (text.find('@') == std::string::npos) {
            if (const UserConfig* u = config.find_user(text)) deliver_to_user(*u, depth);
            return;
        }
        if (auto a = parse_mailbox(text)) resolve(*a, depth);
    }

    // resolve - false when the address is local but nobody (not even the catch-all) takes it.
    bool resolve(const Address& a, int depth) {
        if (!config.is_local_domain(a.domain)) {
            add_target(targets, {Target::Kind::queue, a.str()});
            return true;
        }
        if (const AliasConfig* al = alias_by_address(config, a)) {
            if (depth >= kMaxAliasDepth) {
                loop = true;
                return true;
            }
            for (const std::string& member : al->to) resolve_text(member, depth + 1);
            return true;
        }
        if (const UserConfig* u = user_by_address(config, a)) {
            deliver_to_user(*u, depth);
            return true;
        }
        // RFC 5321 4.5.1: postmaster must always be accepted.
        if (lowercase_ascii(a.local) == "postmaster") {
            auto pm = parse_mailbox(config.postmaster);
            bool self = pm && pm->domain == a.domain && lowercase_ascii(pm->local) == "postmaster";
            if (pm && !self) return resolve(*pm, depth + 1);
        }
        if (const UserConfig* u = config.catch_all.empty() ? nullptr : config.find_user(config.catch_all)) {
            add_target(targets, mailbox_target(config, *u));
            return true;
        }
        return false;
    }
};

}  // namespace

Target mailbox_target(const Config& config, const UserConfig& u) {
    if (config.delivery.mode == DeliveryConfig::Mode::maildir) return {Target::Kind::mailbox, u.name};
    return {Target::Kind::queue, u.addresses.empty() ? u.name + "@" + config.local_domains.front() : u.addresses.front()};
}

RouteResult route_recipient(const Config& config, const Address& rcpt, bool relay_allowed) {
    RouteResult r;
    // A hold domain is ours to accept as its MX, exactly that domain (no subdomains): the mail is
    // queued and held for ATRN (route/next_hop), never relayed, so this opens no relay.
    bool ours = config.is_local_domain(rcpt.domain) || config.odmr.hold_for(rcpt.domain) != nullptr;
    if (!ours && !relay_allowed) {
        r.code = 554;
        r.esc = esc::kRelayDenied;
        r.reason = "relay access denied";
        return r;
    }
    Resolver res{config, {}, false};
    if (!res.resolve(rcpt, 0)) {
        r.code = 550;
        r.esc = esc::kBadMailbox;
        r.reason = "no such user";
        return r;
    }
    if (res.loop) {
        r.code = 554;
        r.esc = esc::kRoutingLoop;
        r.reason = "alias loop";
        return r;
    }
    if (res.targets.empty()) {
        r.code = 550;
        r.esc = esc::kBadMailbox;
        r.reason = "address resolves to nobody";
        return r;
    }
    r.targets = std::move(res.targets);
    const std::string written = rcpt.str();
    for (Target& t : r.targets)
        if (t.kind == Target::Kind::queue && t.name != written) t.original = written;
    return r;
}

}  // namespace mk
