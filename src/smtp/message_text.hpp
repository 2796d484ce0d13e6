// smtp/message_text.hpp — pieces of the messages the mail system writes itself (DSNs, postmaster
// notices): folded header fields, wrapped text, MIME boundaries. Values often quote untrusted
// servers and clients, so every one is made safe lines before it is written. Pure, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mk::smtp {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxLine = 998;   // octets per line before CRLF: RFC 5322 2.1.1, RFC 5321 4.5.3.1.6
constexpr std::size_t kFoldAt = 78;     // RFC 5322 2.1.1: lines SHOULD be no longer than 78 octets
constexpr std::size_t kMaxBoundary = 70;   // RFC 2046 5.1.1: a boundary is 1 to 70 characters

// is_ctl - a byte that must not stand inside a line of text (C0 controls and DEL).
bool is_ctl(unsigned char c);

// one_line - s with controls (CR and LF above all) turned into spaces, runs of spaces made one, and
// trimmed: quoted text must not be able to start a header or a MIME part of its own.
std::string one_line(std::string_view s);

// wrap - first followed by the words of text, broken into lines of at most kFoldAt octets where the
// words allow and never more than kMaxLine: a longer word is cut. Every further line begins with
// cont; with cont = " " this is RFC 5322 2.2.3 folding. Ends with CRLF.
std::string wrap(std::string_view first, std::string_view text, std::string_view cont);

// field - one header field (or delivery-status field), folded.
std::string field(std::string_view name, std::string_view value);

// has_8bit - any octet above 127: the part is labelled 8bit (RFC 2045 2.8, RFC 6152).
bool has_8bit(std::string_view s);

// header_block - a message's header, up to and including the CRLF before the empty line.
std::string_view header_block(std::string_view msg);

// unique_boundary - a MIME boundary made from wanted (only RFC 2046 bcharsnospace kept; fallback when
// nothing is left), changed until no part holds it: RFC 2046 5.1.1 requires that the boundary not
// occur in the encapsulated text.
std::string unique_boundary(std::string_view wanted, std::string_view fallback,
                            const std::vector<std::string_view>& parts);

// boundary_chars - s with only RFC 2046 5.1.1 bcharsnospace left (possibly nothing).
std::string boundary_chars(std::string_view s);

// base64_lines - in as base64 in lines of 76 characters, each ending CRLF (RFC 2045 6.8).
std::string base64_lines(std::string_view in);

}  // namespace mk::smtp
