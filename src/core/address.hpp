// core/address.hpp — RFC 5321 envelope addresses (paths and mailboxes), parsed from untrusted input.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/text.hpp"   // lowercase_ascii, the rule for domains

namespace mk {

struct Address {
    std::string local;    // as sent: quoted local parts keep their quotes, for exact re-emission
    std::string domain;   // lowercased ASCII; an address literal keeps its brackets

    bool empty() const { return local.empty() && domain.empty(); }   // the null path <>
    std::string str() const { return empty() ? std::string() : local + "@" + domain; }
    bool operator==(const Address&) const = default;
};

// RFC 5321 4.5.3.1: size limits of the parts.
constexpr std::size_t kMaxLocalPart = 64;
constexpr std::size_t kMaxDomain = 255;
constexpr std::size_t kMaxPath = 256;

enum class PathError { none, syntax, too_long, utf8_not_allowed };

struct PathResult {
    Address address;
    PathError error = PathError::none;
    std::size_t consumed = 0;   // bytes of the input that made the path, "<" to ">"
};

// parse_path - "<[@route,...:]local@domain>" at the start of text. allow_null accepts "<>".
// utf8 (SMTPUTF8 in force) admits UTF-8 in local part and domain (RFC 6531 3.3). A source route
// is parsed and dropped (RFC 5321 4.1.1.3: it must be ignored), so the mailbox alone decides routing.
PathResult parse_path(std::string_view text, bool allow_null, bool utf8);

// parse_mailbox - a bare "local@domain" (config files, AUTH identities); nullopt if invalid.
std::optional<Address> parse_mailbox(std::string_view text, bool utf8 = true);

// is_address_literal - text is "[...]" with printable dcontent inside (RFC 5321 4.1.3), nothing else.
bool is_address_literal(std::string_view text);

}  // namespace mk
