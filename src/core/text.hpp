// core/text.hpp — byte-level judgements about untrusted text: is it UTF-8, a copy of it that is
// safe to put on one log line, ASCII case without a locale. Pure, no allocation beyond the copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mk {

// valid_utf8 - s is well-formed UTF-8 (RFC 3629 4: no overlong forms, no surrogates, at most
// U+10FFFF). ASCII is UTF-8.
bool valid_utf8(std::string_view s);
// next_utf8 - the code point at s[i] of well-formed UTF-8 (check with valid_utf8 first), i moved past
// it; a byte that does not start a sequence is taken as U+FFFD.
std::uint32_t next_utf8(std::string_view s, std::size_t& i);
// append_utf8 - the UTF-8 form of code point cp (at most U+10FFFF) at the end of out.
void append_utf8(std::string& out, std::uint32_t cp);

// printable - s for a log line: control characters (CR and LF above all), DEL and bytes that are
// not part of well-formed UTF-8 written as \xNN, so that a client cannot start a line of its own.
std::string printable(std::string_view s);

// has_control - s holds a C0 control character or DEL: in a command line it would end the line
// (CR, LF) or corrupt it.
bool has_control(std::string_view s);

// ascii_lower / ascii_upper - one byte in the other case if it is an ASCII letter; every other
// byte (UTF-8 above all) unchanged. No locale: the input is untrusted bytes.
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
// lowercase_ascii / uppercase_ascii - s with its ASCII letters in one case (domains, keywords).
std::string lowercase_ascii(std::string_view s);
std::string uppercase_ascii(std::string_view s);
// iequals - a and b are equal but for the case of ASCII letters (protocol keywords, RFC 5321 2.4).
bool iequals(std::string_view a, std::string_view b);

}  // namespace mk
