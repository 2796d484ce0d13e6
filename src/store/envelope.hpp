// store/envelope.hpp — what the queue keeps beside a message: sender, recipients with their DSN
// parameters (RFC 3461), and where it came from. Stored as JSON in queue/<id>.env.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mk {

struct QueuedRecipient {
    std::string address;
    unsigned notify = 0;     // smtp::Notify bits; 0 = not given
    std::string orcpt;       // "rfc822;xtext" as received
    // The address the sender wrote, when an alias or a forward led here: what notices to the sender
    // name (the forward_to address is the recipient's private business). Empty when it is address.
    std::string original;
    bool operator==(const QueuedRecipient&) const = default;
};

struct Envelope {
    std::string id;                          // queue id, also in the Received: header and the log
    std::string sender;                      // empty = null reverse-path
    std::vector<std::string> mailboxes;      // local users to deliver to (deduplicated)
    std::vector<QueuedRecipient> remote;     // for the relay
    std::string ret;                         // RFC 3461 RET: "", "FULL" or "HDRS"
    std::string envid;                       // RFC 3461 ENVID, xtext
    bool smtputf8 = false;
    bool body_8bit = false;
    std::string client;                      // "helo [addr]" for logs and DSNs
    std::string auth_user;                   // the authenticated user, or empty
    std::int64_t received_at = 0;            // unix seconds
    std::uint64_t return_path_length = 0;    // leading bytes only final delivery carries (Return-Path:)
    bool postmaster_notice = false;          // the mail system's last resort: if it fails, logged and dropped
    bool operator==(const Envelope&) const = default;
};

std::string envelope_to_json(const Envelope& e);
// envelope_from_json - nullopt on anything malformed (a damaged queue file is reported, not guessed).
std::optional<Envelope> envelope_from_json(std::string_view text);

}  // namespace mk
