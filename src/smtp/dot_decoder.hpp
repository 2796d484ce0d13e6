// smtp/dot_decoder.hpp — decodes the DATA stream (RFC 5321 4.1.1.4, 4.5.2) from untrusted bytes:
// finds the end, removes dot-stuffing, normalises line ends, and flags smuggling attempts.
//
// Policy (documented in docs/smtp.md):
//  - Only CRLF "." CRLF ends the data. A "." line next to a bare LF or bare CR never ends it.
//  - Such a line is an SMTP smuggling attempt (CVE-2023-51766): the message is refused at the
//    real end with 554 5.5.2, so nothing smuggled inside is ever read as a command.
//  - A bare LF elsewhere ends a line: it is stored as CRLF, as Postfix's "normalize" does.
//  - A bare CR is kept as data.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mk::smtp {

// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including the CRLF. Counted as content,
// whatever ended the line (a bare LF is stored as CRLF), and without the dot a client prepends to a
// line that begins with "." (RFC 5321 4.5.2: transparency, removed before the line is stored).
constexpr std::size_t kMaxTextLine = 1000 - 2;
// What the decoder buffers of a line before its LF: the content, a stuffed dot, and a CR that ends
// the line when an LF follows.
constexpr std::size_t kMaxBufferedLine = kMaxTextLine + 2;

class DotDecoder {
public:
    // feed - decode as much of in as belongs to the message, appending to out; returns the number of
    // bytes consumed (less than in.size() only when the end was found: the rest is the next command).
    std::size_t feed(std::string_view in, std::string& out);

    bool done() const { return done_; }
    bool line_too_long() const { return too_long_; }
    bool smuggling() const { return smuggling_; }

private:
    void end_line(bool crlf, std::string& out);

    std::string line_;         // the current line, up to its LF (bounded)
    bool overflow_ = false;    // the current line passed kMaxBufferedLine
    bool last_cr_ = false;     // the last byte before the coming LF was a CR
    bool prev_crlf_ = true;    // the previous line ended in CRLF (DATA's own CRLF counts)
    bool done_ = false;
    bool too_long_ = false;
    bool smuggling_ = false;
};

}  // namespace mk::smtp
