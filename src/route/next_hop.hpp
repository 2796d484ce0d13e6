// route/next_hop.hpp — where an outbound recipient goes next: the sender's own provider, a
// per-domain route, the smarthost, or the recipient domain's MX. Pure: no I/O.
#pragma once

#include <string>
#include <string_view>

#include "core/config.hpp"

namespace mk {

struct NextHop {
    std::string key;            // groups recipients that share one connection
    bool mx = false;            // direct delivery: look up the MX of domain
    std::string domain;         // the recipient domain (for mx)
    HopConfig hop;              // host, port, TLS and credentials (port only, for mx)
    std::string rewrite_from;   // outbound envelope sender and From: (a [[relay.sender]])
    bool lmtp = false;          // the downstream server speaks LMTP (RFC 2033)
};

// next_hop - the hop for one recipient of a message from sender. A local recipient in the queue
// goes to the downstream server ([delivery]); otherwise, in order: [[relay.sender]] by sender
// address, [[route]] by recipient domain, then the smarthost or the MX.
NextHop next_hop(const Config& config, std::string_view sender, std::string_view recipient);

}  // namespace mk
