// route/next_hop.hpp — where an outbound recipient goes next: the sender's own provider, a
// per-domain route, the smarthost, the recipient domain's MX, or nowhere yet: held for its site to
// pull with ATRN. Pure: no I/O.
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
    // hold: a [[odmr.hold]] domain. The relay never dials it: the mail waits until its site connects
    // and says ATRN (RFC 2645), and goes out on that connection. key is "atrn:<domain>".
    bool hold = false;
};

// hold_key - the hop key of mail held for domain (lowercase): "atrn:customer.example".
std::string hold_key(std::string_view domain);

// next_hop - the hop for one recipient of a message from sender. A local recipient in the queue
// goes to the downstream server ([delivery]); a recipient in a hold domain is held for ATRN,
// whoever sent it; otherwise, in order: [[relay.sender]] by sender address, [[route]] by recipient
// domain, then the smarthost or the MX.
NextHop next_hop(const Config& config, std::string_view sender, std::string_view recipient);

}  // namespace mk
