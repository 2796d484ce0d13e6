// smtp/header_rewrite.cpp — From: address rewriting over a header block; pure, no I/O.
#include "smtp/header_rewrite.hpp"

#include "core/text.hpp"

namespace mk::smtp {

namespace {

// is_delimiter - a character that cannot continue an addr-spec (RFC 5322 3.4.1), so an address
// next to it stands alone: angle brackets, list and group separators, quotes, comments, white space.
bool is_delimiter(char c) {
    switch (c) {
        case '<': case '>': case ',': case ';': case ':': case '"': case '(': case ')':
        case ' ': case '\t': case '\r': case '\n':
            return true;
        default:
            return false;
    }
}

// is_from_field - the field starting at line is From: (name compared case-insensitively; RFC 5322
// 4.5.3 obsolete syntax allows white space before the colon).
bool is_from_field(std::string_view line, std::size_t& value_start) {
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    std::size_t end = colon;
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
    if (end != 4 || !iequals(line.substr(0, 4), "from")) return false;
    value_start = colon + 1;
    return true;
}

// replace_in_value - value with each standalone occurrence of old_address replaced.
std::size_t replace_in_value(std::string_view value, std::string_view old_address, std::string_view new_address,
                             std::string& out) {
    std::size_t count = 0;
    std::size_t i = 0;
    while (i < value.size()) {
        bool before_ok = i == 0 || is_delimiter(value[i - 1]);
        std::size_t after = i + old_address.size();
        if (before_ok && iequals(value.substr(i, old_address.size()), old_address) && (after == value.size() || is_delimiter(value[after]))) {
            out.append(new_address);
            i = after;
            ++count;
            continue;
        }
        out += value[i];
        ++i;
    }
    return count;
}

}  // namespace

std::size_t header_end(std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) return std::string_view::npos;   // last line incomplete
        std::string_view line = text.substr(pos, nl - pos);
        if (line.empty() || line == "\r") return nl + 1;   // RFC 5322 2.1: the empty line ends the header
        pos = nl + 1;
    }
    return std::string_view::npos;
}

HeaderRewrite rewrite_from_header(std::string_view header, std::string_view old_address,
                                  std::string_view new_address) {
    HeaderRewrite r;
    if (old_address.empty()) {
        r.header = std::string(header);
        return r;
    }
    r.header.reserve(header.size() + 64);
    std::size_t pos = 0;
    while (pos < header.size()) {
        std::size_t nl = header.find('\n', pos);
        std::size_t line_end = nl == std::string_view::npos ? header.size() : nl + 1;
        std::string_view line = header.substr(pos, line_end - pos);
        if (line == "\r\n" || line == "\n") {
            // The header ends here: the rest (the body, if it was passed) is not ours to touch.
            r.header.append(header.substr(pos));
            return r;
        }
        std::size_t value_start = 0;
        if (!is_from_field(line, value_start)) {
            r.header.append(line);
            pos = line_end;
            continue;
        }
        // The field runs on over continuation lines (RFC 5322 2.2.3 folding: they begin with WSP).
        std::size_t field_end = line_end;
        while (field_end < header.size() && (header[field_end] == ' ' || header[field_end] == '\t')) {
            std::size_t next = header.find('\n', field_end);
            field_end = next == std::string_view::npos ? header.size() : next + 1;
        }
        std::string_view field = header.substr(pos, field_end - pos);
        r.header.append(field.substr(0, value_start));
        r.replaced += replace_in_value(field.substr(value_start), old_address, new_address, r.header);
        pos = field_end;
    }
    return r;
}

}  // namespace mk::smtp
