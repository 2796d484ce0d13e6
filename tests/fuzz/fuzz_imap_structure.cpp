// tests/fuzz/fuzz_imap_structure.cpp — libFuzzer target: imap/structure on a stranger's message bytes
// must never crash or loop, must stay within kMaxPartDepth and kMaxParts, must give ranges inside the
// message (each part's header before its body, children inside their parent's body), find() must name
// every part by its number, and what it formats must be well-formed IMAP (a strict reader below).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imap/structure.hpp"

namespace {

using mk::imap::BodyPart;

bool is_message(const BodyPart& p) { return p.type == "message" && p.parts.size() == 1; }

// check - the invariants of part (reached as path) and its descendants; returns how many parts.
std::size_t check(const BodyPart& root, const BodyPart& p, std::vector<std::uint32_t> path, std::string_view m,
                  std::size_t depth) {
    if (depth > mk::imap::kMaxPartDepth) __builtin_trap();
    if (p.header.offset + p.header.length > m.size() || p.body.offset + p.body.length > m.size()) __builtin_trap();
    if (p.header.offset + p.header.length > p.body.offset) __builtin_trap();
    std::string_view body = p.body.of(m);
    std::uint64_t lf = 0;
    for (char c : body) lf += c == '\n';
    if (lf != p.lines) __builtin_trap();
    (void)mk::imap::decoded(p, m);
    std::size_t n = 1;
    for (std::size_t i = 0; i < p.parts.size(); ++i) {
        const BodyPart& c = p.parts[i];
        if (c.header.offset < p.body.offset || c.body.offset + c.body.length > p.body.offset + p.body.length)
            __builtin_trap();
        auto cp = path;
        if (is_message(p)) {
            // The enclosed message: a message/rfc822 at the top is part 1 of itself; the enclosed
            // message's parts are numbered on from the message part's number, or it is ".1" itself.
            std::vector<std::uint32_t> mp = path.empty() ? std::vector<std::uint32_t>{1} : path;
            std::vector<std::uint32_t> inner = mp;
            if (c.type == "multipart" && c.has_content_type) {
                for (std::uint32_t k = 1; k <= c.parts.size(); ++k) {
                    auto gp = mp;
                    gp.push_back(k);
                    if (mk::imap::find(root, gp) != &c.parts[k - 1]) __builtin_trap();
                }
            } else {
                inner.push_back(1);
                if (mk::imap::find(root, inner) != &c) __builtin_trap();
            }
            n += check(root, c, inner, m, depth + 1);
            continue;
        }
        cp.push_back(static_cast<std::uint32_t>(i + 1));
        if (mk::imap::find(root, cp) != &c) __builtin_trap();
        n += check(root, c, cp, m, depth + 1);
    }
    return n;
}

// Reader - a strict reader of what we format (RFC 3501 9): lists (a multipart's bodies follow each other
// without a space: body-type-mpart = 1*body SP media-subtype), quoted strings of TEXT-CHARs with only
// '"' and '\\' escaped, literals "{n}" CRLF and n octets without NUL, NIL and numbers.
// (imap/response.hpp's client parser wants a space between all list items, so it cannot read a
// multipart BODYSTRUCTURE; that is its own matter.)
struct Reader {
    std::string_view s;
    std::size_t pos = 0;
    bool value(std::size_t depth) {
        if (pos >= s.size() || depth > 200) return false;
        char c = s[pos];
        if (c == '(') {
            ++pos;
            bool first = true;
            for (;;) {
                if (pos >= s.size()) return false;
                if (s[pos] == ')') {
                    ++pos;
                    return !first;   // we never send "()": an empty list is NIL
                }
                if (!first && s[pos] == ' ') ++pos;
                else if (!first && s[pos] != '(') return false;   // no space only before a list
                if (!value(depth + 1)) return false;
                first = false;
            }
        }
        if (c == '"') {
            ++pos;
            while (pos < s.size() && s[pos] != '"') {
                auto u = static_cast<unsigned char>(s[pos]);
                if (u == 0 || u == '\r' || u == '\n' || u >= 0x80) return false;
                if (s[pos] == '\\') {
                    if (++pos >= s.size() || (s[pos] != '"' && s[pos] != '\\')) return false;
                }
                ++pos;
            }
            if (pos >= s.size()) return false;
            ++pos;
            return true;
        }
        if (c == '{') {
            std::size_t close = s.find("}\r\n", pos);
            if (close == std::string_view::npos || close == pos + 1 || close - pos > 21) return false;
            std::uint64_t n = 0;
            for (std::size_t i = pos + 1; i < close; ++i) {
                if (s[i] < '0' || s[i] > '9') return false;
                n = n * 10 + static_cast<std::uint64_t>(s[i] - '0');
            }
            pos = close + 3;
            if (n > s.size() - pos) return false;
            if (s.substr(pos, n).find('\0') != std::string_view::npos) return false;
            pos += n;
            return true;
        }
        if (s.substr(pos).starts_with("NIL")) {
            pos += 3;
            return true;
        }
        std::size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
        return pos > start;
    }
};

// readable - value is one IMAP value and nothing more.
void readable(const std::string& value) {
    Reader r{value};
    if (!r.value(0) || r.pos != value.size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view m(reinterpret_cast<const char*>(data), size);
    BodyPart root = mk::imap::parse(m);
    std::size_t parts = check(root, root, {}, m, 0);
    if (parts > mk::imap::kMaxParts) __builtin_trap();
    std::string_view header = root.header.of(m);
    readable(mk::imap::envelope(header));
    readable(mk::imap::body_structure(root, m, true));
    readable(mk::imap::body_structure(root, m, false));
    (void)mk::imap::header_fields(header, {"From", "subject"}, false);
    (void)mk::imap::header_fields(header, {"received"}, true);
    (void)mk::imap::header_value(header, "subject");
    (void)mk::imap::param(root.params, "boundary");
    (void)mk::imap::find(root, {1, 1, 1});
    readable(mk::imap::imap_string(std::string(header.substr(0, 100))));
    return 0;
}
