// smtp/message_text.cpp — folded fields, wrapped text and MIME boundaries for generated messages.
#include "smtp/message_text.hpp"

#include <algorithm>

#include "core/base64.hpp"

namespace mk::smtp {

namespace {

// Room left for a suffix when the boundary has to change because the content holds it.
constexpr std::size_t kBoundaryStem = kMaxBoundary - 8;
// RFC 2045 6.8: encoded lines are at most 76 characters.
constexpr std::size_t kBase64Line = 76;

// utf8_cut - the largest n' <= n that does not fall inside a UTF-8 sequence of s.
std::size_t utf8_cut(std::string_view s, std::size_t n) {
    if (n >= s.size()) return s.size();
    std::size_t cut = n;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    return cut == 0 ? n : cut;   // no boundary in reach (not UTF-8): cut at n
}

}  // namespace

bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

std::string one_line(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        bool space = ch == ' ' || is_ctl(static_cast<unsigned char>(ch));
        if (!space) out += ch;
        else if (!out.empty() && out.back() != ' ') out += ' ';
    }
    if (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

std::string wrap(std::string_view first, std::string_view text, std::string_view cont) {
    std::string out(first);
    std::size_t len = first.size();
    bool has_word = false;   // the current line holds a word after its prefix
    std::string clean = one_line(text);
    std::string_view rest = clean;
    while (!rest.empty()) {
        std::size_t sp = rest.find(' ');
        std::string_view word = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
        while (!word.empty()) {
            if (has_word && len + 1 + word.size() > kFoldAt) {
                out.append(kCrlf).append(cont);
                len = cont.size();
                has_word = false;
            }
            std::size_t sep = has_word ? 1 : 0;
            std::size_t piece = utf8_cut(word, kMaxLine - len - sep);
            if (sep) out += ' ';
            out.append(word.substr(0, piece));
            len += sep + piece;
            has_word = true;
            word.remove_prefix(piece);
            if (!word.empty()) {   // XXX a word over 998 octets cannot be folded: it gets a break
                out.append(kCrlf).append(cont);
                len = cont.size();
                has_word = false;
            }
        }
    }
    out.append(kCrlf);
    return out;
}

std::string field(std::string_view name, std::string_view value) {
    return wrap(std::string(name) + ": ", value, " ");
}

bool has_8bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) > 127; });
}

std::string_view header_block(std::string_view msg) {
    if (msg.starts_with(kCrlf)) return {};
    std::size_t end = msg.find("\r\n\r\n");
    return end == std::string_view::npos ? msg : msg.substr(0, end + 2);
}

std::string boundary_chars(std::string_view s) {
    std::string out;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::string_view("'()+_,-./:=?").find(c) != std::string_view::npos;
        if (ok) out += c;
    }
    return out;
}

std::string unique_boundary(std::string_view wanted, std::string_view fallback,
                            const std::vector<std::string_view>& parts) {
    std::string stem = boundary_chars(wanted);
    if (stem.empty()) stem = boundary_chars(fallback);
    stem.resize(std::min(stem.size(), kBoundaryStem));
    std::string b = stem;
    auto taken = [&](const std::string& cand) {
        return std::any_of(parts.begin(), parts.end(),
                           [&](std::string_view p) { return p.find("--" + cand) != std::string_view::npos; });
    };
    for (unsigned n = 1; taken(b); ++n) b = stem + "=" + std::to_string(n);
    return b;
}

std::string base64_lines(std::string_view in) {
    std::string encoded = base64_encode(in);
    std::string out;
    out.reserve(encoded.size() + encoded.size() / kBase64Line * 2 + 2);
    for (std::size_t i = 0; i < encoded.size(); i += kBase64Line)
        out.append(encoded, i, kBase64Line).append(kCrlf);
    return out;
}

}  // namespace mk::smtp
