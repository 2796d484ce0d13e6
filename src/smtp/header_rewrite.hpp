// smtp/header_rewrite.hpp — the outbound From: rewrite of a queued message's header (per-sender
// provider accounts, so SPF/DMARC pass); pure, no I/O; the header comes from our own queue but was
// written by a client, so it is parsed defensively.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mk::smtp {

// How much of a message the client reads to find the end of its header before sending. RFC 5322
// sets no limit; Postfix's header_size_limit is 100 KiB, so 1 MiB holds every header we accept.
constexpr std::size_t kMaxHeaderBlock = 1024 * 1024;   // bytes

// header_end - the offset just past the empty line that ends the header (RFC 5322 2.1), or npos
// when text holds no empty line (a header longer than text, or a message without a body).
std::size_t header_end(std::string_view text);

struct HeaderRewrite {
    std::string header;          // the rewritten header block
    std::size_t replaced = 0;    // how many occurrences were replaced (for the log)
};

// rewrite_from_header - header with each occurrence of old_address in the From: field(s) replaced
// by new_address. The match is ASCII case-insensitive and must stand alone: the characters around
// it may not belong to an address ("xanna@home.arpa" does not match "anna@home.arpa"). Folded
// continuation lines belong to their field; other fields, the body after the empty line and the
// line ends are passed through unchanged. An empty old_address changes nothing.
HeaderRewrite rewrite_from_header(std::string_view header, std::string_view old_address,
                                  std::string_view new_address);

}  // namespace mk::smtp
