// core/text.hpp — byte-level judgements about untrusted text: is it UTF-8, and a copy of it that is
// safe to put on one log line. Pure, no allocation beyond the copy.
#pragma once

#include <string>
#include <string_view>

namespace mk {

// valid_utf8 - s is well-formed UTF-8 (RFC 3629 4: no overlong forms, no surrogates, at most
// U+10FFFF). ASCII is UTF-8.
bool valid_utf8(std::string_view s);

// printable - s for a log line: control characters (CR and LF above all), DEL and bytes that are
// not part of well-formed UTF-8 written as \xNN, so that a client cannot start a line of its own.
std::string printable(std::string_view s);

}  // namespace mk
