// core/address.cpp — RFC 5321 4.1.2 path grammar; every byte sequence is either a path or an error.
#include "core/address.hpp"

#include "core/text.hpp"

namespace mk {

namespace {

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// RFC 5322 atext; with SMTPUTF8 any non-ASCII byte is allowed too (RFC 6531 3.3, UTF8-non-ascii).
bool is_atext(unsigned char c, bool utf8) {
    if (c >= 0x80) return utf8;
    if (is_alpha(c) || is_digit(c)) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
        case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}':
        case '~':
            return true;
        default:
            return false;
    }
}

// Cursor over the input with the grammar's small productions.
struct Parser {
    std::string_view s;
    std::size_t i = 0;
    bool utf8 = false;

    bool at_end() const { return i >= s.size(); }
    unsigned char peek() const { return at_end() ? 0 : static_cast<unsigned char>(s[i]); }
    bool eat(char c) {
        if (peek() != static_cast<unsigned char>(c) || at_end()) return false;
        ++i;
        return true;
    }

    // sub-domain = Let-dig [Ldh-str]; U-labels admitted as raw UTF-8 under SMTPUTF8.
    bool sub_domain() {
        std::size_t start = i;
        while (!at_end()) {
            unsigned char c = peek();
            if (is_alpha(c) || is_digit(c) || c == '-' || (utf8 && c >= 0x80)) ++i;
            else break;
        }
        if (i == start) return false;
        return s[start] != '-' && s[i - 1] != '-';
    }

    bool domain() {
        if (!sub_domain()) return false;
        while (peek() == '.') {
            ++i;
            if (!sub_domain()) return false;
        }
        return true;
    }

    // address-literal = "[" ... "]": accepted as dcontent (printable, no brackets or backslash).
    bool address_literal() {
        if (!eat('[')) return false;
        std::size_t start = i;
        while (!at_end() && peek() != ']') {
            unsigned char c = peek();
            if (c < 33 || c > 126 || c == '[' || c == '\\') return false;
            ++i;
        }
        if (i == start) return false;
        return eat(']');
    }

    bool dot_string() {
        auto atom = [&] {
            std::size_t start = i;
            while (!at_end() && is_atext(peek(), utf8)) ++i;
            return i > start;
        };
        if (!atom()) return false;
        while (peek() == '.') {
            ++i;
            if (!atom()) return false;
        }
        return true;
    }

    // Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE
    bool quoted_string() {
        if (!eat('"')) return false;
        while (!at_end()) {
            unsigned char c = peek();
            if (c == '"') {
                ++i;
                return true;
            }
            if (c == '\\') {
                ++i;
                if (at_end()) return false;
                unsigned char q = peek();
                if (q < 32 || q > 126) return false;
                ++i;
                continue;
            }
            if ((c >= 32 && c <= 126) || (utf8 && c >= 0x80)) {
                ++i;
                continue;
            }
            return false;
        }
        return false;
    }

    // A-d-l = At-domain *( "," At-domain ) ":" — parsed only to be skipped.
    bool source_route() {
        do {
            if (!eat('@') || !domain()) return false;
        } while (eat(','));
        return eat(':');
    }
};

bool has_non_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return true;
    return false;
}

}  // namespace

PathResult parse_path(std::string_view text, bool allow_null, bool utf8) {
    PathResult r;
    Parser p{text, 0, true};   // parse permissively, then judge UTF-8 so the error is precise
    if (!p.eat('<')) {
        r.error = PathError::syntax;
        return r;
    }
    if (allow_null && p.eat('>')) {
        r.consumed = p.i;
        return r;
    }
    if (p.peek() == '@' && !p.source_route()) {
        r.error = PathError::syntax;
        return r;
    }
    std::size_t local_start = p.i;
    bool quoted = p.peek() == '"';
    if (!(quoted ? p.quoted_string() : p.dot_string())) {
        r.error = PathError::syntax;
        return r;
    }
    std::string_view local = text.substr(local_start, p.i - local_start);
    if (!p.eat('@')) {
        r.error = PathError::syntax;
        return r;
    }
    std::size_t domain_start = p.i;
    bool literal = p.peek() == '[';
    if (!(literal ? p.address_literal() : p.domain())) {
        r.error = PathError::syntax;
        return r;
    }
    std::string_view domain = text.substr(domain_start, p.i - domain_start);
    if (!p.eat('>')) {
        r.error = PathError::syntax;
        return r;
    }
    r.consumed = p.i;
    if (local.size() > kMaxLocalPart || domain.size() > kMaxDomain || r.consumed > kMaxPath) {
        r.error = PathError::too_long;
        return r;
    }
    // RFC 6531 3.3 admits UTF-8, not any byte: what is not well-formed is no address at all.
    if (!valid_utf8(local) || !valid_utf8(domain)) {
        r.error = PathError::syntax;
        return r;
    }
    if (!utf8 && (has_non_ascii(local) || has_non_ascii(domain))) {
        r.error = PathError::utf8_not_allowed;
        return r;
    }
    r.address = Address{std::string(local), lowercase_ascii(domain)};
    return r;
}

bool is_address_literal(std::string_view text) {
    Parser p{text, 0, false};
    return p.address_literal() && p.at_end();
}

std::optional<Address> parse_mailbox(std::string_view text, bool utf8) {
    if (text.size() + 2 > kMaxPath) return std::nullopt;
    std::string wrapped = "<" + std::string(text) + ">";
    PathResult r = parse_path(wrapped, false, utf8);
    if (r.error != PathError::none || r.consumed != wrapped.size()) return std::nullopt;
    return r.address;
}

}  // namespace mk
