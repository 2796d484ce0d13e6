// route/multidrop.hpp — who a message fetched from a multidrop mailbox is for, read from its headers.
// The headers are untrusted (anyone can write a To: line): only addresses in the local domains count,
// work and memory are bounded, and the answer only names local users. Pure: no I/O (beyond loading
// GMime on the first call).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "route/router.hpp"

namespace mk {

struct MultidropResult {
    std::vector<std::string> users;      // local user names, each once
    bool unknown = false;                // some local-domain recipient matched nobody
    bool loop = false;                   // our own Delivered-To found: a mail loop
    std::string source;                  // which header gave the recipients ("Delivered-To", "To/Cc", ...)
    // Addresses outside the local domains that a recipient's alias or forward_to sends the mail on to,
    // each once. route_recipient names these as queue targets; a user who forwards everything elsewhere
    // (keep_copy = false) appears only here, so a caller that drops them loses that user's copy.
    std::vector<Target> remote;
};

// multidrop_recipients - who a fetched message is for. header_block is the message's header
// section (up to the blank line, CRLF or LF). envelope_header: "auto" tries Delivered-To,
// X-Original-To, Envelope-To, X-Envelope-To, then Received "for <addr>"; a name uses that
// header only. Failing those, To, Cc, Resent-To, Resent-Cc. Only addresses in local_domains count;
// each is resolved with route_recipient (aliases, forwards apply) — local mailbox targets only;
// a local address no one takes sets unknown. own_delivered_to: the Delivered-To value mailkeep
// itself adds (for loop detection).
//
// A header "gives the recipients" when it names at least one address in a local domain (known or
// not); the first such header in the order above is the answer and source names it. Nothing local
// anywhere: users empty, unknown false, source empty. Users come out by name whatever [delivery]
// says (with a downstream server route_recipient would name queue targets instead).
MultidropResult multidrop_recipients(const Config& config, std::string_view header_block,
                                     std::string_view envelope_header, std::string_view own_delivered_to);

// load_multidrop_parser - load GMime now, which multidrop_recipients otherwise does on its first call
// (GMime is loaded at run time with dlopen, not linked: see mime/gmime.cpp). The daemon calls it at start when an
// account is multidrop, so that a missing library is an error at start. Throws std::runtime_error.
void load_multidrop_parser();

// Header bytes read at most; the rest of a longer section is ignored. Postfix's header_size_limit
// default (102400 bytes): real header sections stay far below it.
constexpr std::size_t kMaxMultidropHeaderBytes = 102400;
// Received: headers searched for a "for" clause, top down. RFC 5321 6.3: a message with 100 of them
// is looping anyway.
constexpr std::size_t kMaxReceivedScanned = 100;
// Distinct local-domain addresses resolved per message, each one route_recipient call; more than any
// household's or office's real message names, few enough to bound the work a hostile To: line causes.
constexpr std::size_t kMaxLocalAddresses = 1000;

}  // namespace mk
