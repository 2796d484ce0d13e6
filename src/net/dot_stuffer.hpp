// net/dot_stuffer.hpp — the transparency encoding of a message body on the wire, one rule for the
// SMTP client's DATA (RFC 5321 4.5.2) and the POP3 server's RETR/TOP (RFC 1939 3); it encodes our
// own stored messages. Pure, no I/O, bounded by the chunk it is given.
#pragma once

#include <string>
#include <string_view>

namespace mk {

// DotStuffer - encodes a stored message (CRLF lines) for a multi-line body ended by "." alone: a
// line beginning with '.' gets one more, a bare LF becomes CRLF (a peer that splits on LF alone must
// not see a terminator that is not one), a last line without CRLF gets one, and finish() adds the
// ".\r\n" terminator. State carries across chunks, so a message of any size goes through bounded
// memory and the output does not depend on where the chunks are cut.
class DotStuffer {
public:
    // feed - append the encoding of the next chunk of the message to out.
    void feed(std::string_view chunk, std::string& out);
    // finish - close the last line if it is open and append the terminating ".\r\n".
    void finish(std::string& out);

private:
    bool line_start_ = true;   // the next byte begins a line
    bool last_cr_ = false;     // the last byte written was CR (so an LF completes a CRLF)
};

// dot_stuff - the whole encoding, terminator included, of a message held in memory (tests, TOP;
// the senders stream).
std::string dot_stuff(std::string_view message);

}  // namespace mk
