// smtp/dot_decoder.cpp — line-at-a-time DATA decoding; state carries across any chunking of input.
#include "smtp/dot_decoder.hpp"

#include <cstring>

namespace mk::smtp {

namespace {

// A "." standing alone between any of CR, LF, or a line start: what a lenient MTA downstream
// could take as the end of data, and so the signature of a smuggling attempt.
bool has_lenient_end(std::string_view content, bool crlf, bool prev_crlf) {
    if (content == "." && !(crlf && prev_crlf)) return true;
    if (content.starts_with(".\r")) return true;
    if (content.ends_with("\r.")) return true;
    return content.find("\r.\r") != std::string_view::npos;
}

}  // namespace

void DotDecoder::end_line(bool crlf, std::string& out) {
    std::string_view content = line_;
    if (crlf && !overflow_) content.remove_suffix(1);
    if (crlf && prev_crlf_ && content == "." && !overflow_) {
        done_ = true;
        return;
    }
    std::string_view text = content;
    if (text.starts_with('.')) text.remove_prefix(1);   // RFC 5321 4.5.2: the stuffed dot is not content
    if (overflow_ || text.size() > kMaxTextLine) too_long_ = true;
    else if (has_lenient_end(content, crlf, prev_crlf_)) smuggling_ = true;
    out.append(text);
    out.append("\r\n");
    prev_crlf_ = crlf;
    line_.clear();
    overflow_ = false;
}

std::size_t DotDecoder::feed(std::string_view in, std::string& out) {
    std::size_t i = 0;
    while (i < in.size() && !done_) {
        const void* hit = std::memchr(in.data() + i, '\n', in.size() - i);
        std::size_t end = hit ? static_cast<const char*>(hit) - in.data() : in.size();
        if (!overflow_) {
            std::size_t room = kMaxBufferedLine - line_.size();
            std::size_t take = end - i;
            if (take > room) {
                take = room;
                overflow_ = true;
            }
            line_.append(in.substr(i, take));
        }
        if (end > i) last_cr_ = in[end - 1] == '\r';   // kept even when the line itself is not
        i = end;
        if (!hit) break;
        ++i;   // the LF
        bool crlf = last_cr_;
        last_cr_ = false;
        end_line(crlf, out);
    }
    return i;
}

}  // namespace mk::smtp
