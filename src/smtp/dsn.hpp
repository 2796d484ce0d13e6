// smtp/dsn.hpp — delivery status notifications (RFC 3464 multipart/report, RFC 3462/6522): built
// from what the queue knows; pure, no I/O.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace mk::smtp {

struct DsnRecipient {
    std::string address;          // Final-Recipient (rfc822;address)
    std::string orcpt;            // Original-Recipient as received: "rfc822;xtext", or empty
    std::string action;           // "failed" | "delayed" | "delivered" | "relayed" | "expanded"
    std::string status;           // "5.1.1", "4.4.1", ...
    std::string remote_mta;       // "dns;mx.example.com", or empty
    std::string diagnostic;       // "smtp;550 5.1.1 no such user", or empty
    std::time_t last_attempt = 0; // 0 = none
    std::time_t will_retry_until = 0;   // delayed: when we give up
};

struct DsnInput {
    std::string reporting_mta;    // our hostname
    std::string postmaster;       // From: "Mail Delivery System <postmaster@...>"
    std::string to;               // the original envelope sender, who gets this DSN
    std::string queue_id;         // X-Mailkeep-Queue-ID of the original
    std::string envid;            // RFC 3461 ENVID (xtext as received), or empty
    std::time_t arrival = 0;      // Arrival-Date
    std::vector<DsnRecipient> recipients;
    bool headers_only = false;    // RET=HDRS: return the header only
    std::string_view original;    // the original message as queued (CRLF line ends)
    std::time_t now = 0;          // Date:; a parameter so tests are reproducible
    std::string boundary;         // MIME boundary; a parameter so tests are reproducible
};

// build_dsn - the whole message (headers and body, CRLF line ends), to be sent from the null
// sender <> to in.to. Human-readable part first, then message/delivery-status, then the
// original (message/rfc822, or text/rfc822-headers for RET=HDRS).
std::string build_dsn(const DsnInput& in);

// xtext_decode - RFC 3461 4 "+XX" decoding of ORCPT and ENVID for display; invalid input unchanged.
std::string xtext_decode(std::string_view s);

}  // namespace mk::smtp
