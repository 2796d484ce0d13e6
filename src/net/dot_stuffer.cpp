// net/dot_stuffer.cpp — dot-stuffing of our own stored messages for SMTP DATA and POP3 RETR/TOP
// (RFC 5321 4.5.2, RFC 1939 3); pure.
#include "net/dot_stuffer.hpp"

namespace mk {

void DotStuffer::feed(std::string_view chunk, std::string& out) {
    std::size_t i = 0;
    while (i < chunk.size()) {
        if (line_start_) {
            // RFC 5321 4.5.2, RFC 1939 3: a line that begins with the period gets another one.
            if (chunk[i] == '.') out += '.';
            line_start_ = false;
        }
        std::size_t nl = chunk.find('\n', i);
        std::size_t end = nl == std::string_view::npos ? chunk.size() : nl;
        if (end > i) {
            out.append(chunk.substr(i, end - i));
            last_cr_ = chunk[end - 1] == '\r';
        }
        if (nl == std::string_view::npos) break;
        // A bare LF would let a peer that splits on LF alone see "\n.\r\n" as the end of the message.
        if (!last_cr_) out += '\r';
        out += '\n';
        last_cr_ = false;
        line_start_ = true;
        i = nl + 1;
    }
}

void DotStuffer::finish(std::string& out) {
    if (!line_start_) {
        // The last line had no line end: give it one, so the terminator stands on a line of its own.
        if (!last_cr_) out += '\r';
        out += '\n';
        line_start_ = true;
        last_cr_ = false;
    }
    out += ".\r\n";
}

std::string dot_stuff(std::string_view message) {
    std::string out;
    out.reserve(message.size() + message.size() / 64 + 3);
    DotStuffer s;
    s.feed(message, out);
    s.finish(out);
    return out;
}

}  // namespace mk
