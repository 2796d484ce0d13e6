// route/router.hpp — who a recipient is: local user, alias, forward, catch-all, or the queue; and
// whether a client may relay. Pure: no I/O, so every policy is a unit test.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/config.hpp"

namespace mk {

struct Target {
    enum class Kind { mailbox, queue };
    Kind kind = Kind::mailbox;
    std::string name;   // mailbox: the local user; queue: the remote address
    // queue: the recipient that was resolved, when an alias or a forward led to name (notices to
    // the sender name this one, not the private forward_to address); empty when it is name.
    std::string original;
    bool operator==(const Target&) const = default;
};

struct RouteResult {
    std::vector<Target> targets;   // non-empty when accepted
    int code = 250;                // >= 400: refused with this code
    std::string_view esc;          // enhanced status subject.detail
    std::string reason;            // for the log; the peer gets a generic text

    bool accepted() const { return code < 400; }
};

// route_recipient - resolve one envelope recipient. relay_allowed: the client is trusted or
// authenticated, so remote recipients are queued rather than refused. A recipient in a hold domain
// ([[odmr.hold]]: we are its MX) is queued from anyone, as a local one is accepted; no other remote
// domain is.
RouteResult route_recipient(const Config& config, const Address& rcpt, bool relay_allowed);

// mailbox_target - where a user's own copy goes: its Maildir, or with a downstream server
// ([delivery] lmtp or smtp) the queue, by the user's first address (the downstream server knows
// users, not our aliases).
Target mailbox_target(const Config& config, const UserConfig& user);

// Aliases pointing at aliases are followed this deep, then the recipient is refused (a loop).
constexpr int kMaxAliasDepth = 8;

}  // namespace mk
