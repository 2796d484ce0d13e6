// imap/structure.cpp — the MIME tree, ENVELOPE and BODYSTRUCTURE of a stored message; every byte of
// the message came from a stranger: one pass over it, bounded depth and part count, no recursion
// deeper than kMaxPartDepth, and any input gives a tree (malformed MIME degrades, never fails).
//
// Where RFC 2045/2046/5322 leave room, the choices are Dovecot 2.3's (tests/blackbox/
// test_imap_structure_dovecot.py compares the two): boundary lines match by prefix, the innermost
// boundary first and the longest match preferred; the CRLF before a delimiter belongs to it; the
// case of types, subtypes, encodings and parameter names is kept as sent; a Subject is cleaned for
// humans (whitespace runs collapsed); the RFC 822 tokenizer (atoms, quoted strings, comments,
// phrases) and the address-list parser follow lib-mail's rfc822-parser and message-address.
#include "imap/structure.hpp"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>

#include "core/text.hpp"

namespace mk::imap {

namespace {

// RFC 2046 5.1.1: a boundary is 1 to 70 characters; longer ones are cut to this (as Dovecot does), so
// the prefix match still finds their delimiter lines.
constexpr std::size_t kMaxBoundary = 70;
// A quoted string with more escapes than this goes out as a literal (Dovecot's QUOTED_MAX_ESCAPE_CHARS).
constexpr std::size_t kMaxQuotedEscapes = 4;
// Header fields looked at in one header block; the rest are part of it but not read. A real header has
// a few dozen; 10,000 fields of "a:\r\n" are 40 KB.
constexpr std::size_t kMaxHeaderFields = 10000;
// Encoded words decoded in one header value (RFC 2047); the rest stay as they are.
constexpr std::size_t kMaxEncodedWords = 1000;
// RFC 2047 2: an encoded word is at most 75 characters; longer ones are common enough (mailers that
// put a whole subject in one word) to allow more, not so many that a search for the end of each of a
// value's "=?" makes a pass over all of it.
constexpr std::size_t kMaxEncodedWord = 1000;

bool is_lwsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// ---- Header fields ----

struct Field {
    std::string_view name;    // without the colon and trailing blanks
    std::string_view value;   // after the colon and the blanks after it, up to the last line's CRLF
    std::string_view whole;   // every line of the field with its line ends
};

// fields - the fields of a header block (the blank line after it may be included or not). A line
// without a colon is a field whose name is the whole line and whose value is empty; continuation
// lines before any field are skipped.
std::vector<Field> fields(std::string_view header) {
    std::vector<Field> out;
    std::size_t pos = 0;
    while (pos < header.size() && out.size() < kMaxHeaderFields) {
        std::size_t start = pos;
        // One field: its first line and every line after it that begins with a blank.
        std::size_t end = start;
        for (;;) {
            std::size_t lf = header.find('\n', end);
            end = lf == std::string_view::npos ? header.size() : lf + 1;
            if (end >= header.size() || (header[end] != ' ' && header[end] != '\t')) break;
        }
        pos = end;
        std::string_view whole = header.substr(start, end - start);
        std::string_view body = whole;
        if (body.ends_with('\n')) body.remove_suffix(1);
        if (body.ends_with('\r')) body.remove_suffix(1);
        if (body.empty()) break;   // the blank line: end of the header
        if (body[0] == ' ' || body[0] == '\t') continue;
        Field f;
        f.whole = whole;
        std::size_t colon = body.find(':');
        if (colon == std::string_view::npos) {
            f.name = body;
        } else {
            f.name = body.substr(0, colon);
            while (!f.name.empty() && (f.name.back() == ' ' || f.name.back() == '\t')) f.name.remove_suffix(1);
            std::size_t v = colon + 1;
            while (v < body.size() && (body[v] == ' ' || body[v] == '\t')) ++v;
            f.value = body.substr(v);
        }
        out.push_back(f);
    }
    return out;
}

// first_value - the raw value of the first field called name, nullopt when none.
std::optional<std::string_view> first_value(const std::vector<Field>& fs, std::string_view name) {
    for (const Field& f : fs)
        if (iequals(f.name, name)) return f.value;
    return std::nullopt;
}

// before_line_end - pos moved back over the CRLF (or LF) before it, not below start: the line end
// before a boundary line belongs to the delimiter (RFC 2046 5.1.1).
std::size_t before_line_end(std::string_view m, std::size_t start, std::size_t pos) {
    if (pos > start && m[pos - 1] == '\n') --pos;
    if (pos > start && m[pos - 1] == '\r') --pos;
    return pos;
}

// How a header block ended: after its blank line, at a boundary line (the line end before it is the
// delimiter's, not the header's, as Dovecot counts it), or with the data.
struct HeaderEnd {
    std::size_t end = 0;
    bool blank = false;
    bool by_boundary = false;
};

// header_block_end - where the header block that starts at start ends.
template <typename IsBoundary>
HeaderEnd header_block_end(std::string_view m, std::size_t start, IsBoundary is_boundary) {
    std::size_t pos = start;
    while (pos < m.size()) {
        if (is_boundary(pos)) return {before_line_end(m, start, pos), false, true};
        std::size_t lf = m.find('\n', pos);
        if (lf == std::string_view::npos) break;
        bool blank = lf == pos || (lf == pos + 1 && m[pos] == '\r');
        pos = lf + 1;
        if (blank) return {pos, true, false};
    }
    return {m.size(), false, false};
}

// ---- RFC 822 tokens (RFC 5322 3.2, RFC 2045 5.1) ----

// atext, and 4 for the atext that MIME token excludes ('/', '=', '?'); 8-bit bytes are atext.
constexpr std::array<unsigned char, 256> kAtext = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 256; ++c) {
        if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) t[c] = 2;
    }
    for (char c : std::string_view("!#$%&'*+-^_`{|}~")) t[static_cast<unsigned char>(c)] = 1;
    for (char c : std::string_view("/=?")) t[static_cast<unsigned char>(c)] = 4;
    return t;
}();
bool is_atext(char c) { return kAtext[static_cast<unsigned char>(c)] != 0; }
bool is_token_char(char c) { return (kAtext[static_cast<unsigned char>(c)] & 3) != 0 || c == '.'; }

// Lexer - a cursor over a header value. Functions return 1: more follows, 0: at the end, -1: broken
// (as lib-mail's rfc822-parser, whose callers depend on telling the three apart).
struct Lexer {
    std::string_view s;
    std::size_t pos = 0;
    std::string last_comment;

    bool end() const { return pos >= s.size(); }
    char cur() const { return end() ? '\0' : s[pos]; }
    int more() const { return end() ? 0 : 1; }

    // comment - at "(": skip a comment (nested, with quoted pairs), keep its text in last_comment.
    int comment() {
        last_comment.clear();
        int level = 1;
        ++pos;
        while (pos < s.size()) {
            char c = s[pos];
            if (c == '(') {
                ++level;
            } else if (c == ')') {
                if (--level == 0) {
                    ++pos;
                    return more();
                }
            } else if (c == '\\') {
                if (++pos >= s.size()) return -1;
                c = s[pos];
            }
            last_comment += c;
            ++pos;
        }
        last_comment.clear();
        return -1;   // no ")"
    }
    // skip_cfws - blanks, line ends and comments.
    int skip_cfws() {
        while (pos < s.size()) {
            if (is_lwsp(s[pos])) {
                ++pos;
            } else if (s[pos] == '(') {
                if (comment() < 0) return -1;
            } else {
                break;
            }
        }
        return more();
    }
    int atom(std::string& out) {
        if (end() || !is_atext(cur())) return -1;
        std::size_t start = pos;
        while (pos < s.size() && is_atext(s[pos])) ++pos;
        out.append(s.substr(start, pos - start));
        return skip_cfws();
    }
    // dot_atom - atoms joined by dots, blanks around the dots allowed (RFC 822).
    int dot_atom(std::string& out) {
        if (end() || !is_atext(cur())) return -1;
        for (;;) {
            std::size_t start = pos;
            while (pos < s.size() && is_atext(s[pos])) ++pos;
            out.append(s.substr(start, pos - start));
            if (pos >= s.size()) return 0;
            int r = skip_cfws();
            if (r <= 0) return r;
            if (cur() != '.') return 1;
            ++pos;
            out += '.';
            r = skip_cfws();
            if (r <= 0) return r;
        }
    }
    int mime_token(std::string& out) {
        std::size_t start = pos;
        while (pos < s.size() && is_token_char(s[pos])) ++pos;
        out.append(s.substr(start, pos - start));
        if (pos >= s.size()) return 0;
        return skip_cfws();
    }
    // quoted - at '"': the content with quoted pairs undone and folding line ends removed.
    int quoted(std::string& out) {
        ++pos;
        while (pos < s.size()) {
            char c = s[pos];
            if (c == '"') {
                ++pos;
                return skip_cfws();
            }
            if (c == '\n') {
                if (!out.empty() && out.back() == '\r') out.pop_back();
            } else if (c == '\\') {
                if (++pos >= s.size()) return -1;
                out += s[pos];
            } else {
                out += c;
            }
            ++pos;
        }
        return -1;   // no closing quote
    }
    int atom_or_dot(std::string& out) {
        std::size_t start = pos;
        while (pos < s.size() && (is_atext(s[pos]) || s[pos] == '.')) ++pos;
        out.append(s.substr(start, pos - start));
        if (pos >= s.size()) return 0;
        return skip_cfws();
    }
    // phrase - words (atoms, quoted strings, and the dots of obs-phrase) joined by one space.
    int phrase(std::string& out) {
        if (end()) return 0;
        if (cur() == '.') return -1;
        for (;;) {
            int r = cur() == '"' ? quoted(out) : atom_or_dot(out);
            if (r <= 0) return r;
            if (!is_atext(cur()) && cur() != '"' && cur() != '.') break;
            out += ' ';
        }
        return skip_cfws();
    }
    int domain_literal(std::string& out) {
        std::size_t start = pos;
        while (pos < s.size()) {
            if (s[pos] == '\\') {
                if (++pos >= s.size()) break;
            } else if (s[pos] == ']') {
                ++pos;
                out.append(s.substr(start, pos - start));
                return skip_cfws();
            }
            ++pos;
        }
        return -1;
    }
    // domain - at "@": a dot-atom or a domain literal.
    int domain(std::string& out) {
        ++pos;
        if (skip_cfws() <= 0) return -1;
        return cur() == '[' ? domain_literal(out) : dot_atom(out);
    }
};

// ---- Content-Type parameters (RFC 2045 5.1, RFC 2231) ----

using Params = std::vector<std::pair<std::string, std::string>>;

// content_param - one "; name=value"; 0 at the end, -1 broken, 1 one more.
int content_param(Lexer& lx, std::string& name, std::string& value) {
    name.clear();
    value.clear();
    if (lx.end()) return 0;
    if (lx.cur() != ';') return -1;
    ++lx.pos;
    if (lx.skip_cfws() <= 0) return -1;
    if (lx.mime_token(name) < 0) return -1;   // an empty name is kept, as Dovecot does ("" "value")
    if (lx.end() || lx.cur() != '=') return -1;
    ++lx.pos;
    int r = lx.skip_cfws();
    if (r <= 0) {
        // no value
    } else if (lx.cur() == '"') {
        r = lx.quoted(value);
    } else if (lx.cur() == '=') {
        // A broken mailer's name==?utf-8?b?...?=: the value runs to the next ';' or blank.
        while (!lx.end() && lx.cur() != ';' && !is_lwsp(lx.cur())) value += lx.s[lx.pos++];
    } else {
        r = lx.mime_token(value);
    }
    return r < 0 ? -1 : 1;
}

// parameters - every parameter after the type, RFC 2231 continuations joined: "name*0" "name*1"
// give "name"; any extended piece ("name*0*") makes the whole "name*", with the plain pieces
// percent-escaped and "''" in front when the first piece is plain. Pieces with a gap in their numbers
// stay as they were sent ("name*0", "name*2").
Params parameters(Lexer& lx) {
    struct Piece {
        std::string key, value;
        unsigned idx = 0;
        bool extended = false;
        std::size_t order = 0;
    };
    Params out;
    std::vector<Piece> pieces;
    std::string name, value;
    for (std::size_t n = 0; n < kMaxHeaderFields; ++n) {
        int r = content_param(lx, name, value);
        if (r == 0) break;
        if (r < 0) {
            if (lx.end()) break;
            ++lx.pos;   // try to go on after the broken one
            continue;
        }
        std::size_t star = name.find('*');
        if (star != std::string::npos) {
            Piece p;
            p.key = name.substr(0, star);
            // "name*": one extended piece; "name*3" or "name*3*": a numbered one
            std::size_t i = star + 1 < name.size() ? star + 1 : star;
            bool digits_ok = true;
            if (i < name.size() && name[i] >= '0' && name[i] <= '9') {
                while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
                    if (p.idx > 100000) digits_ok = false;
                    p.idx = p.idx * 10 + static_cast<unsigned>(name[i] - '0');
                    ++i;
                }
            }
            if (i < name.size() && name[i] == '*') {
                p.extended = true;
                ++i;
            }
            if (i == name.size() && digits_ok) {
                p.value = value;
                p.order = pieces.size();
                pieces.push_back(std::move(p));
                continue;
            }
        }
        out.emplace_back(name, value);
    }
    if (pieces.empty()) return out;
    std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
        if (a.key != b.key) return a.key < b.key;
        return a.idx < b.idx;
    });
    for (std::size_t i = 0, next = 0; i < pieces.size(); i = next) {
        bool ok = true, any_extended = false;
        unsigned want = 0;
        for (next = i; next < pieces.size() && iequals(pieces[next].key, pieces[i].key); ++next) {
            if (pieces[next].idx != want) ok = false;
            if (pieces[next].extended) any_extended = true;
            ++want;
        }
        if (!ok) {
            for (std::size_t j = i; j < next; ++j)
                out.emplace_back(pieces[j].key + "*" + std::to_string(pieces[j].idx) + (pieces[j].extended ? "*" : ""),
                                 pieces[j].value);
            continue;
        }
        std::string joined;
        if (!pieces[i].extended && any_extended) joined = "''";
        for (std::size_t j = i; j < next; ++j) {
            if (!pieces[j].extended && any_extended) {
                for (char c : pieces[j].value) joined += c == '%' ? std::string("%25") : std::string(1, c);
            } else {
                joined += pieces[j].value;
            }
        }
        out.emplace_back(any_extended ? pieces[i].key + "*" : pieces[i].key, std::move(joined));
    }
    return out;
}

// ---- Charsets (RFC 2047, RFC 2231) ----

// to_utf8 - bytes in charset converted with iconv; nullopt when the charset is unknown or the bytes
// are not in it.
std::optional<std::string> to_utf8(std::string_view charset, std::string_view bytes) {
    std::string cs(charset);
    if (std::size_t star = cs.find('*'); star != std::string::npos) cs.resize(star);   // RFC 2231 5 language
    if (iequals(cs, "utf-8") || iequals(cs, "us-ascii") || iequals(cs, "utf8")) {
        if (!valid_utf8(bytes)) return std::nullopt;
        return std::string(bytes);
    }
    if (cs.empty() || cs.size() > 64 || has_control(cs)) return std::nullopt;
    iconv_t cd = iconv_open("UTF-8", cs.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
    std::unique_ptr<void, int (*)(iconv_t)> guard(cd, iconv_close);
    std::string out(bytes.size() * 4 + 16, '\0');
    char* in = const_cast<char*>(bytes.data());
    std::size_t in_left = bytes.size();
    char* o = out.data();
    std::size_t out_left = out.size();
    while (in_left > 0) {
        if (iconv(cd, &in, &in_left, &o, &out_left) == static_cast<std::size_t>(-1)) {
            if (errno != E2BIG) return std::nullopt;
            std::size_t used = static_cast<std::size_t>(o - out.data());
            out.resize(out.size() * 2);
            o = out.data() + used;
            out_left = out.size() - used;
        }
    }
    if (iconv(cd, nullptr, nullptr, &o, &out_left) == static_cast<std::size_t>(-1)) return std::nullopt;
    out.resize(static_cast<std::size_t>(o - out.data()));
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// base64_lenient - RFC 2045 6.8 base64: characters outside the alphabet that are blanks or line ends
// are skipped, "=" ends a quantum; nullopt for any other character.
std::optional<std::string> base64_lenient(std::string_view in) {
    std::string out;
    out.reserve(in.size() / 4 * 3 + 3);
    std::uint32_t acc = 0;
    int n = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else if (c == '=') {
            // padding: what the quantum holds so far is all of it
            if (n == 2) out += static_cast<char>(acc >> 4 & 0xff);
            else if (n == 3) {
                out += static_cast<char>(acc >> 10 & 0xff);
                out += static_cast<char>(acc >> 2 & 0xff);
            }
            acc = 0;
            n = 0;
            continue;
        } else if (is_lwsp(c)) continue;
        else return std::nullopt;
        acc = acc << 6 | static_cast<std::uint32_t>(v);
        if (++n == 4) {
            out += static_cast<char>(acc >> 16 & 0xff);
            out += static_cast<char>(acc >> 8 & 0xff);
            out += static_cast<char>(acc & 0xff);
            acc = 0;
            n = 0;
        }
    }
    // A quantum cut short without its padding: the data ends prematurely (Dovecot refuses it too).
    if (n != 0) return std::nullopt;
    return out;
}

// quoted_printable - RFC 2045 6.7: "=XX" octets, "=" at a line's end joins it to the next, blanks at
// a line's end dropped (rule 3); a "=" that starts nothing valid is kept as it is.
std::string quoted_printable(std::string_view in, bool underscore_space) {
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    while (i < in.size()) {
        char c = in[i];
        if (c == '=') {
            if (i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
                out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
                i += 3;
                continue;
            }
            // soft line break: "=", optional blanks, line end
            std::size_t j = i + 1;
            while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
            if (j < in.size() && in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n') {
                i = j + 2;
                continue;
            }
            if (j < in.size() && in[j] == '\n') {
                i = j + 1;
                continue;
            }
            if (j == in.size()) {
                i = j;
                continue;
            }
            out += c;
            ++i;
            continue;
        }
        if (c == ' ' || c == '\t') {
            std::size_t j = i;
            while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
            bool at_eol = j == in.size() || in[j] == '\n' || (in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n');
            if (at_eol && !underscore_space) {
                i = j;
                continue;
            }
            out.append(in.substr(i, j - i));
            i = j;
            continue;
        }
        out += underscore_space && c == '_' ? ' ' : c;
        ++i;
    }
    return out;
}

// decode_words - RFC 2047 encoded words in a header value decoded to UTF-8; blanks between two encoded
// words dropped (6.2); a word that does not decode stays as it is.
std::string decode_words(std::string_view v) {
    std::string out;
    std::size_t i = 0, words = 0;
    bool last_was_word = false;
    std::size_t pending_blank = 0;   // where the blanks after the last word start in out
    while (i < v.size()) {
        if (v[i] == '=' && i + 1 < v.size() && v[i + 1] == '?' && words < kMaxEncodedWords) {
            // =?charset?enc?text?=, looked for within kMaxEncodedWord octets (so that a value full of
            // "=?" costs no more than one pass over each window)
            std::string_view w = v.substr(i, kMaxEncodedWord);
            std::size_t q1 = w.find('?', 2);
            std::size_t q2 = q1 == std::string_view::npos ? q1 : w.find('?', q1 + 1);
            std::size_t end = q2 == std::string_view::npos ? q2 : w.find("?=", q2 + 1);
            if (end != std::string_view::npos && q2 == q1 + 2) {
                std::string_view charset = w.substr(2, q1 - 2);
                char enc = w[q1 + 1];
                std::string_view text = w.substr(q2 + 1, end - q2 - 1);
                end += i;
                std::optional<std::string> raw;
                if (text.find_first_of(" \t\r\n") == std::string_view::npos) {
                    if (enc == 'b' || enc == 'B') raw = base64_lenient(text);
                    else if (enc == 'q' || enc == 'Q') raw = quoted_printable(text, true);
                }
                std::optional<std::string> utf8 = raw ? to_utf8(charset, *raw) : std::nullopt;
                if (utf8) {
                    if (last_was_word) out.resize(pending_blank);
                    out += *utf8;
                    i = end + 2;
                    ++words;
                    last_was_word = true;
                    pending_blank = out.size();
                    continue;
                }
            }
        }
        char c = v[i];
        if (!(c == ' ' || c == '\t' || c == '\r' || c == '\n')) last_was_word = false;
        out += c;
        ++i;
    }
    return out;
}

// unfold - a header value without the line ends of its folds (RFC 5322 2.2.3).
std::string unfold(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v)
        if (c != '\r' && c != '\n') out += c;
    return out;
}

// ---- IMAP strings as Dovecot writes them ----

// U+FFFD, in UTF-8: what a NUL in a header value becomes (no IMAP string may carry NUL; Dovecot 2.3's
// header parser makes the same replacement).
constexpr std::string_view kReplacement = "\xef\xbf\xbd";

// append_literal - s as an IMAP literal, each NUL as U+FFFD.
void append_literal(std::string& out, std::string_view s) {
    std::size_t nuls = static_cast<std::size_t>(std::count(s.begin(), s.end(), '\0'));
    out += '{';
    out += std::to_string(s.size() + nuls * (kReplacement.size() - 1));
    out += "}\r\n";
    for (char c : s) {
        if (c == '\0') out += kReplacement;
        else out += c;
    }
}

// append_string - quoted when it can be (no CR, LF, NUL or 8-bit octet, few escapes), else a literal.
void append_string(std::string& out, std::string_view s) {
    std::size_t escapes = 0;
    bool literal = false;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            if (++escapes > kMaxQuotedEscapes) literal = true;
        } else if (c == '\r' || c == '\n' || c == '\0' || u >= 0x80) {
            literal = true;
        }
    }
    if (literal) return append_literal(out, s);
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

void append_nstring(std::string& out, const std::optional<std::string>& s) {
    if (!s) out += "NIL";
    else append_string(out, *s);
}

// append_nstring_nolf - a header value as one line: each CR or LF removed, or made a space where the
// next character is no blank (Dovecot's imap_append_nstring_nolf).
void append_nstring_nolf(std::string& out, const std::optional<std::string>& s) {
    if (!s || s->find_first_of("\r\n") == std::string::npos) return append_nstring(out, s);
    std::string one;
    const std::string& v = *s;
    for (std::size_t i = 0; i < v.size(); ++i) {
        char c = v[i];
        if (c != '\r' && c != '\n') {
            one += c;
            continue;
        }
        char next = i + 1 < v.size() ? v[i + 1] : '\0';
        if (next != ' ' && next != '\t' && next != '\r' && next != '\n' && i + 1 < v.size()) one += ' ';
    }
    append_string(out, one);
}

// append_for_humans - a Subject as Dovecot sends it: blanks and line ends collapsed to one space,
// none at either end, NUL as U+FFFD; quoted when nothing changed and nothing needs escaping.
void append_for_humans(std::string& out, std::string_view s) {
    bool modify = false, last_lwsp = true;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '\0' || c == '"' || c == '\\' || u >= 0x80) modify = true, last_lwsp = false;
        else if (c == '\r' || c == '\n' || c == '\t') modify = true, last_lwsp = true;
        else if (c == ' ') {
            if (last_lwsp) modify = true;
            last_lwsp = true;
        } else {
            last_lwsp = false;
        }
    }
    if (!s.empty() && last_lwsp) modify = true;
    if (!modify) {
        out += '"';
        out += s;
        out += '"';
        return;
    }
    std::string clean;
    last_lwsp = true;
    for (char c : s) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!last_lwsp) clean += ' ';
            last_lwsp = true;
        } else {
            clean += c;   // a NUL becomes U+FFFD in the literal
            last_lwsp = false;
        }
    }
    if (!clean.empty() && clean.back() == ' ') clean.pop_back();
    if (clean.empty()) {
        out += "\"\"";
        return;
    }
    append_literal(out, clean);
}

// ---- Addresses (RFC 5322 3.4, RFC 9051 7.5.2) ----

struct Address {
    std::optional<std::string> name, route, mailbox, domain;
    bool invalid = false;
};

// AddressParser - an address list into ENVELOPE addresses; a group is (NIL NIL "name" NIL) before
// its members and (NIL NIL NIL NIL) after them. Lenient as Dovecot 2.3's lib-mail is (dots anywhere
// in a local part, a name made of what does not parse), and what is missing is filled in as it does
// (MISSING_MAILBOX, MISSING_DOMAIN, SYNTAX_ERROR, INVALID_ROUTE) so that the client sees something.
class AddressParser {
public:
    explicit AddressParser(std::string_view v) { lx_.s = v; }

    std::vector<Address> parse() {
        if (lx_.skip_cfws() <= 0) return {};
        // address-list = address *("," address); each round takes a "," or ends the loop
        for (;;) {
            if (address() == 0) break;
            if (lx_.end() || lx_.cur() != ',') break;
            ++lx_.pos;
            int r = lx_.skip_cfws();
            if (r <= 0) {
                if (r < 0) add_fixed();
                break;
            }
        }
        return std::move(out_);
    }

private:
    void add() {
        out_.push_back(std::move(addr_));
        addr_ = Address{};
    }
    void add_fixed() {
        if (!addr_.mailbox) addr_.mailbox = "MISSING_MAILBOX";
        if (!addr_.domain || addr_.domain->empty()) addr_.domain = "MISSING_DOMAIN";
        add();
    }
    // local_part - a quoted string, or atoms with dots anywhere (".a", "a.", "a..b": seen in the wild).
    int local_part(std::string& s) {
        int r = -1;
        if (lx_.cur() == '"') {
            r = lx_.quoted(s);
        } else {
            do {
                while (lx_.cur() == '.') {
                    s += '.';
                    ++lx_.pos;
                    if (lx_.end()) {
                        addr_.mailbox = s;
                        return 0;
                    }
                    r = 1;
                }
                if (lx_.cur() == '@') break;
                r = lx_.atom(s);
            } while (r > 0 && lx_.cur() == '.');
        }
        if (r < 0) return -1;
        addr_.mailbox = s;
        return r;
    }
    int domain() {
        std::string s;
        int r = lx_.domain(s);
        if (r < 0) return -1;
        addr_.domain = std::move(s);
        return r;
    }
    int domain_list() {
        // obs-domain-list = "@" domain *(*(CFWS / ",") [CFWS] "@" domain)
        std::string route;
        for (;;) {
            if (lx_.end()) return 0;
            if (lx_.cur() != '@') break;
            if (!route.empty()) route += ',';
            route += '@';
            int r = lx_.domain(route);
            if (r <= 0) return r;
            while (lx_.skip_cfws() > 0 && lx_.cur() == ',') ++lx_.pos;
        }
        addr_.route = std::move(route);
        return 1;
    }
    int angle_addr() {
        ++lx_.pos;   // "<"
        if (lx_.skip_cfws() <= 0) return -1;
        if (lx_.cur() == '@') {
            if (domain_list() > 0 && lx_.cur() == ':') {
                ++lx_.pos;
            } else {
                addr_.route = "INVALID_ROUTE";
                if (lx_.end()) return -1;
            }
            if (lx_.skip_cfws() <= 0) return -1;
        }
        if (lx_.cur() != '>') {   // "<>", the null path, has neither mailbox nor domain
            std::string s;
            if (local_part(s) <= 0) return -1;
            if (lx_.cur() == '@' && domain() <= 0) return -1;
        }
        if (lx_.cur() != '>') return -1;
        ++lx_.pos;
        return lx_.skip_cfws();
    }
    int name_addr() {
        std::string name;
        if (lx_.phrase(name) <= 0 || lx_.cur() != '<') return -1;
        if (!name.empty()) addr_.name = std::move(name);
        if (angle_addr() < 0) {
            addr_.domain = "SYNTAX_ERROR";
            addr_.invalid = true;
        }
        return lx_.end() ? 0 : 1;
    }
    int addr_spec() {
        int r2 = -2;   // no domain tried
        lx_.last_comment.clear();
        bool quoted = lx_.cur() == '"';
        std::string s;
        int r = local_part(s);
        if (r <= 0) addr_.invalid = true;
        if (r != 0 && !lx_.end() && lx_.cur() == '@') {
            r2 = domain();
            if (r2 <= 0) r = r2;
        }
        if (!lx_.last_comment.empty()) {
            addr_.name = lx_.last_comment;
        } else if (r2 == -2) {
            // no "@domain": what follows the local part, if anything, makes it a name
            s += ' ';
            std::size_t before = s.size();
            lx_.phrase(s);
            if (s.size() != before) {
                addr_.mailbox.reset();
                addr_.name = s;
            } else if (!quoted) {
                addr_.domain = "";
            }
            addr_.invalid = true;
            r = -1;
        }
        return r;
    }
    int mailbox() {
        std::size_t start = lx_.pos;
        int r = name_addr();
        if (r < 0) {
            lx_.pos = start;
            addr_ = Address{};
            r = addr_spec();
            if (addr_.invalid && !addr_.name && addr_.mailbox && !addr_.domain) {
                addr_.name = std::move(addr_.mailbox);
                addr_.mailbox.reset();
            }
        }
        add_fixed();
        return r;
    }
    int group() {
        std::string name;
        if (lx_.phrase(name) <= 0 || lx_.cur() != ':') return -1;
        // from here on it is a group, whatever follows
        ++lx_.pos;
        int r = lx_.skip_cfws();
        addr_.mailbox = std::move(name);
        add();
        if (r > 0 && lx_.cur() != ';') {
            for (;;) {
                mailbox();
                if (lx_.end() || lx_.cur() != ',') break;
                ++lx_.pos;
                if (lx_.skip_cfws() <= 0) {
                    r = -1;
                    break;
                }
            }
        }
        if (r >= 0) {
            if (lx_.end() || lx_.cur() != ';') {
                r = -1;
            } else {
                ++lx_.pos;
                r = lx_.skip_cfws();
            }
        }
        add();   // the end of the group: all NIL
        return r == 0 ? 0 : 1;
    }
    int address() {
        std::size_t start = lx_.pos;
        std::size_t had = out_.size();
        int r = group();
        if (r < 0) {
            lx_.pos = start;
            out_.resize(had);
            addr_ = Address{};
            r = mailbox();
        }
        return r;
    }

    Lexer lx_;
    Address addr_;
    std::vector<Address> out_;
};

void append_addresses(std::string& out, const std::vector<std::string_view>& values) {
    std::vector<Address> list;
    for (std::string_view v : values) {
        std::vector<Address> more = AddressParser(v).parse();
        list.insert(list.end(), more.begin(), more.end());
    }
    if (list.empty()) {
        out += "NIL";
        return;
    }
    out += '(';
    for (const Address& a : list) {
        out += '(';
        append_nstring_nolf(out, a.name);
        out += ' ';
        append_nstring_nolf(out, a.route);
        out += ' ';
        append_nstring_nolf(out, a.mailbox);
        out += ' ';
        append_nstring_nolf(out, a.domain);
        out += ')';
    }
    out += ')';
}

// ---- The MIME tree ----

// A boundary line found: where it starts, whose boundary (index into the stack), closing or not.
struct Stop {
    std::size_t line = std::string_view::npos;   // npos: the data ended first
    std::size_t which = 0;
    bool close = false;
    // How much of the line end before line the bodies ending here give up: none when a header was
    // cut short by the boundary line, and never more than back to floor (the end of a close
    // delimiter line, which its multipart keeps). Dovecot's accounting, followed to the octet.
    bool in_header = false;
    std::size_t floor = 0;
};

class TreeParser {
public:
    explicit TreeParser(std::string_view m) : m_(m) {}

    BodyPart parse() {
        BodyPart root;
        ++parts_;
        entity(root, 0, 0, false, false);
        return root;
    }

private:
    // boundary_at - the boundary line starting at pos, innermost boundary first, the longest match
    // preferred (RFC 2046 5.1.2: an inner boundary may begin with an outer one).
    std::optional<Stop> boundary_at(std::size_t pos) const {
        if (pos + 2 > m_.size() || m_[pos] != '-' || m_[pos + 1] != '-' || stack_.empty()) return std::nullopt;
        std::string_view rest = m_.substr(pos + 2);
        std::optional<Stop> best;
        std::size_t best_len = 0;
        for (std::size_t i = stack_.size(); i-- > 0;) {
            const std::string& b = stack_[i];
            if (rest.starts_with(b) && (!best || b.size() > best_len)) {
                best = Stop{pos, i, rest.substr(b.size()).starts_with("--")};
                best_len = b.size();
            }
        }
        return best;
    }
    // next_boundary - the first boundary line at or after from (which is at the start of a line).
    Stop next_boundary(std::size_t from) const {
        std::size_t pos = from;
        while (pos < m_.size()) {
            if (auto s = boundary_at(pos)) return *s;
            std::size_t lf = m_.find('\n', pos);
            if (lf == std::string_view::npos) break;
            pos = lf + 1;
        }
        return Stop{};
    }
    // body_end - where a body that ends at stop ends: before the CRLF (or LF) of the delimiter line.
    std::size_t body_end(std::size_t start, const Stop& stop) const {
        if (stop.line == std::string_view::npos) return m_.size();
        if (stop.in_header) return std::max(start, stop.line);
        return before_line_end(m_, std::max(start, stop.floor), stop.line);
    }
    // after_line - the position after the line starting at pos.
    std::size_t after_line(std::size_t pos) const {
        std::size_t lf = m_.find('\n', pos);
        return lf == std::string_view::npos ? m_.size() : lf + 1;
    }

    // entity - a header and a body from start, up to the next boundary line of the stack; fills part.
    Stop entity(BodyPart& part, std::size_t start, std::size_t depth, bool in_multipart, bool in_digest) {
        HeaderEnd he = header_block_end(m_, start, [&](std::size_t p) { return boundary_at(p).has_value(); });
        part.header = {start, he.end - start};
        read_header(part, part.header.of(m_), in_digest);
        bool may_nest = depth + 1 < kMaxPartDepth && parts_ < kMaxParts;

        std::optional<std::string> boundary;
        if (part.type == "multipart" && part.has_content_type) {
            for (const auto& [k, v] : part.params)
                if (iequals(k, "boundary")) {
                    boundary = v.substr(0, kMaxBoundary);
                    break;
                }
        }
        bool cut = he.by_boundary;
        bool empty_body = false;   // the next line is an enclosing delimiter
        if (he.blank && he.end < m_.size()) {
            // A boundary line right after the blank line: when it is an enclosing one, the part is
            // empty and the blank line's CRLF is the delimiter's (for an enclosed message Dovecot
            // leaves that CRLF in its container's body, as for a header cut short); the part's own
            // first delimiter (the longest match, its boundary already known) leaves the header whole.
            if (boundary && may_nest) stack_.push_back(*boundary);
            auto s = boundary_at(he.end);
            bool own = s && boundary && may_nest && s->which == stack_.size() - 1;
            if (boundary && may_nest) stack_.pop_back();
            if (s && !own) {
                he.end = before_line_end(m_, start, he.end);
                part.header.length = he.end - start;
                if (!in_multipart) cut = true;
                empty_body = true;
            }
        }
        std::size_t body_start = he.end;
        Stop stop;
        if (boundary && may_nest) {
            stop = multipart(part, body_start, *boundary, depth);
        } else if (part.type == "message" && (part.subtype == "rfc822" || part.subtype == "global") && may_nest) {
            part.parts.emplace_back();
            ++parts_;
            if (empty_body) {
                // nothing before the delimiter: an empty message (its CRLF is the delimiter's)
                part.parts.back().header = {body_start, 0};
                part.parts.back().body = {body_start, 0};
                stop = next_boundary(body_start);
            } else {
                stop = entity(part.parts.back(), body_start, depth + 1, false, false);
            }
        } else {
            stop = next_boundary(body_start);
        }
        std::size_t end = body_end(body_start, stop);
        if (end < body_start) end = body_start;
        if (cut) stop.in_header = true;
        part.body = {body_start, end - body_start};
        part.lines = static_cast<std::uint64_t>(std::count(m_.begin() + static_cast<std::ptrdiff_t>(body_start),
                                                           m_.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
        return stop;
    }

    // multipart - the parts between the delimiters of boundary; returns the boundary line of an
    // enclosing multipart that ended it (or the data's end), after the epilogue.
    Stop multipart(BodyPart& part, std::size_t body_start, const std::string& boundary, std::size_t depth) {
        stack_.push_back(boundary);
        std::size_t mine = stack_.size() - 1;
        bool digest = part.subtype == "digest";
        Stop stop = next_boundary(body_start);   // the preamble ends here
        while (stop.line != std::string_view::npos && stop.which == mine && !stop.close) {
            std::size_t child_start = after_line(stop.line);
            if (parts_ >= kMaxParts) {
                // no more parts: the rest stays in this multipart's body
                stop = next_boundary(child_start);
                continue;
            }
            part.parts.emplace_back();
            ++parts_;
            stop = entity(part.parts.back(), child_start, depth + 1, true, digest);
        }
        stack_.pop_back();
        if (stop.line != std::string_view::npos && stop.which == mine) {
            // the close delimiter: the epilogue runs to an enclosing boundary or the end
            std::size_t epilogue = after_line(stop.line);
            stop = next_boundary(epilogue);
            stop.floor = epilogue;
        }
        return stop;
    }

    // read_header - the Content-* fields of a part's header.
    static void read_header(BodyPart& part, std::string_view header, bool in_digest) {
        std::vector<Field> fs = fields(header);
        bool have_type = false, have_cte = false, have_disp = false;
        for (const Field& f : fs) {
            if (f.name.size() < 8 || !iequals(f.name.substr(0, 8), "content-")) continue;
            std::string_view n = f.name.substr(8);
            if (iequals(n, "type") && !have_type) {
                have_type = true;
                content_type(part, f.value);
            } else if (iequals(n, "transfer-encoding") && !have_cte) {
                have_cte = true;
                Lexer lx{f.value};
                lx.skip_cfws();
                std::string tok;
                bool ok = lx.mime_token(tok) >= 0 && lx.skip_cfws() == 0 && !tok.empty();
                // Decoding goes by the token whatever follows it ("" decodes nothing); BODYSTRUCTURE
                // shows only a clean one (else "7bit"). Dovecot's two parsers, each as it is.
                part.encoding = lowercase_ascii(tok);
                if (ok) part.encoding_as_sent = tok;
            } else if (iequals(n, "id") && !part.id) {
                part.id = std::string(f.value);
            } else if (iequals(n, "description") && !part.description) {
                part.description = std::string(f.value);
            } else if (iequals(n, "md5") && !part.md5) {
                part.md5 = std::string(f.value);
            } else if (iequals(n, "language") && !part.language) {
                part.language = std::string(f.value);
            } else if (iequals(n, "location") && !part.location) {
                part.location = std::string(f.value);
            } else if (iequals(n, "disposition") && !have_disp) {
                have_disp = true;
                Lexer lx{f.value};
                lx.skip_cfws();
                std::string tok;
                if (lx.mime_token(tok) < 0) continue;
                part.disposition = tok;
                part.disposition_params = parameters(lx);
            }
        }
        if (!part.has_content_type && in_digest) {
            part.type = "message";
            part.subtype = "rfc822";
        }
    }

    static void content_type(BodyPart& part, std::string_view value) {
        Lexer lx{value};
        lx.skip_cfws();
        std::string ty, sub;
        int r = -1;
        // type "/" subtype, each a MIME token
        if (lx.skip_cfws() > 0 && lx.mime_token(ty) > 0 && lx.cur() == '/') {
            ++lx.pos;
            if (lx.skip_cfws() > 0) r = lx.mime_token(sub);
        }
        part.has_content_type = true;
        if (r < 0) {
            // Not type/subtype: an empty type and subtype and no parameters (Dovecot's "" "")
            ty.clear();
            sub.clear();
        }
        part.type_as_sent = ty;
        part.subtype_as_sent = sub;
        part.type = lowercase_ascii(ty);
        part.subtype = lowercase_ascii(sub);
        if (r >= 0) part.params = parameters(lx);
    }

    std::string_view m_;
    std::vector<std::string> stack_;
    std::size_t parts_ = 0;
};

// ---- BODYSTRUCTURE ----

void append_params(std::string& out, const Params& params, bool default_charset) {
    if (params.empty() && !default_charset) {
        out += "NIL";
        return;
    }
    out += '(';
    bool charset = false, first = true;
    for (const auto& [k, v] : params) {
        if (!first) out += ' ';
        first = false;
        if (iequals(k, "charset")) charset = true;
        append_string(out, k);
        out += ' ';
        append_string(out, v);
    }
    if (default_charset && !charset) {
        if (!first) out += ' ';
        out += "\"charset\" \"us-ascii\"";
    }
    out += ')';
}

// append_language - Content-Language (RFC 3282) as a list of its tags; NIL when it has none.
void append_language(std::string& out, const std::optional<std::string>& language) {
    std::vector<std::string> tags;
    if (language) {
        Lexer lx{*language};
        lx.skip_cfws();
        for (std::size_t n = 0; n < language->size() + 1; ++n) {
            std::string tag;
            if (lx.atom(tag) < 0) break;
            tags.push_back(std::move(tag));
            if (lx.end() || lx.cur() != ',') break;
            ++lx.pos;
            lx.skip_cfws();
        }
    }
    if (tags.empty()) {
        out += "NIL";
        return;
    }
    out += '(';
    for (std::size_t i = 0; i < tags.size(); ++i) {
        if (i) out += ' ';
        append_string(out, tags[i]);
    }
    out += ')';
}

void append_extension(std::string& out, const BodyPart& p) {
    out += ' ';
    if (!p.disposition) {
        out += "NIL";
    } else {
        out += '(';
        append_string(out, *p.disposition);
        out += ' ';
        append_params(out, p.disposition_params, false);
        out += ')';
    }
    out += ' ';
    append_language(out, p.language);
    out += ' ';
    append_nstring_nolf(out, p.location);
}

bool is_message(const BodyPart& p) { return p.type == "message" && p.parts.size() == 1; }

void append_structure(std::string& out, const BodyPart& p, std::string_view message, bool ext, std::size_t depth) {
    out += '(';
    if (p.has_content_type && p.type == "multipart") {
        // A multipart without parts (no boundary, or it never came) shows one empty text/plain part.
        if (p.parts.empty()) {
            out += ext ? "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
                       : "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
        }
        for (const BodyPart& c : p.parts) append_structure(out, c, message, ext, depth + 1);
        out += ' ';
        append_string(out, p.subtype_as_sent);
        if (ext) {
            out += ' ';
            append_params(out, p.params, false);
            append_extension(out, p);
        }
        out += ')';
        return;
    }
    bool text = false;
    if (is_message(p)) {
        out += p.subtype == "global" ? "\"message\" \"global\"" : "\"message\" \"rfc822\"";
    } else if (p.type == "message" && p.subtype == "rfc822") {
        // A message/rfc822 without its message (past the limits): its bytes as they are (Dovecot's
        // choice for the parts past its limits).
        out += "\"application\" \"octet-stream\"";
    } else if (!p.has_content_type) {
        text = true;
        out += "\"text\" \"plain\"";
    } else {
        text = iequals(p.type_as_sent, "text");
        append_string(out, p.type_as_sent);
        out += ' ';
        append_string(out, p.subtype_as_sent);
    }
    out += ' ';
    append_params(out, p.params, text);
    out += ' ';
    append_nstring_nolf(out, p.id);
    out += ' ';
    append_nstring_nolf(out, p.description);
    out += ' ';
    if (p.encoding_as_sent) append_string(out, *p.encoding_as_sent);
    else out += "\"7bit\"";
    out += ' ';
    out += std::to_string(p.body.length);
    if (text) {
        out += ' ';
        out += std::to_string(p.lines);
    } else if (is_message(p)) {
        const BodyPart& inner = p.parts[0];
        out += ' ';
        out += envelope(inner.header.of(message));
        out += ' ';
        append_structure(out, inner, message, ext, depth + 1);
        out += ' ';
        out += std::to_string(p.lines);
    }
    if (ext) {
        out += ' ';
        append_nstring_nolf(out, p.md5);
        append_extension(out, p);
    }
    out += ')';
}

}  // namespace

BodyPart parse(std::string_view message) { return TreeParser(message).parse(); }

const BodyPart* find(const BodyPart& root, const std::vector<std::uint32_t>& path) {
    const BodyPart* cur = &root;
    for (std::size_t i = 0; i < path.size(); ++i) {
        std::uint32_t n = path[i];
        if (n == 0) return nullptr;
        // A message/rfc822 part reached by a number: its numbers go into the enclosed message.
        if (i > 0 && is_message(*cur)) cur = &cur->parts[0];
        if (cur->has_content_type && cur->type == "multipart") {
            if (n > cur->parts.size()) return nullptr;   // a multipart without parts has none to name
            cur = &cur->parts[n - 1];
        } else if (n != 1) {
            return nullptr;
        }
    }
    return cur;
}

std::string envelope(std::string_view header) {
    std::vector<Field> fs = fields(header);
    // A field given twice: the last one's text, every one's addresses (as Dovecot does).
    auto get = [&](std::string_view name) -> std::optional<std::string> {
        std::optional<std::string> v;
        for (const Field& f : fs)
            if (iequals(f.name, name)) v = std::string(f.value);
        return v;
    };
    auto addresses = [&](std::string_view name) {
        std::vector<std::string_view> vs;
        for (const Field& f : fs)
            if (iequals(f.name, name)) vs.push_back(f.value);
        return vs;
    };
    std::string out;
    append_nstring_nolf(out, get("date"));
    out += ' ';
    if (auto s = get("subject")) append_for_humans(out, *s);
    else out += "NIL";
    auto from = addresses("from");
    auto sender = addresses("sender");
    auto reply_to = addresses("reply-to");
    out += ' ';
    append_addresses(out, from);
    out += ' ';
    append_addresses(out, sender.empty() ? from : sender);
    out += ' ';
    append_addresses(out, reply_to.empty() ? from : reply_to);
    out += ' ';
    append_addresses(out, addresses("to"));
    out += ' ';
    append_addresses(out, addresses("cc"));
    out += ' ';
    append_addresses(out, addresses("bcc"));
    out += ' ';
    append_nstring_nolf(out, get("in-reply-to"));
    out += ' ';
    append_nstring_nolf(out, get("message-id"));
    return "(" + out + ")";
}

std::string body_structure(const BodyPart& part, std::string_view message, bool extensible) {
    std::string out;
    append_structure(out, part, message, extensible, 0);
    return out;
}

std::string header_fields(std::string_view header, const std::vector<std::string>& names, bool not_) {
    std::string out;
    bool last_listed = false;
    for (const Field& f : fields(header)) {
        bool listed = std::any_of(names.begin(), names.end(), [&](const std::string& n) { return iequals(n, f.name); });
        last_listed = listed != not_;
        if (!last_listed) continue;
        out += f.whole;
        if (!f.whole.ends_with('\n')) out += "\r\n";
    }
    // The end of the header: its blank line. A header without one (a message that is all header)
    // ends with its last line's line end, which goes out with that line or, when the line is left
    // out, alone; a last line without a line end ends it with nothing (as Dovecot answers).
    bool blank = header == "\r\n" || header == "\n" || header.ends_with("\n\r\n") || header.ends_with("\n\n");
    if (blank || (header.ends_with('\n') && !last_listed)) out += "\r\n";
    return out;
}

std::optional<std::string> decoded(const BodyPart& part, std::string_view message) {
    std::string_view body = part.body.of(message);
    if (part.encoding == "7bit" || part.encoding == "8bit" || part.encoding == "binary") return std::string(body);
    if (part.encoding == "base64") return base64_lenient(body);
    if (part.encoding == "quoted-printable") return quoted_printable(body, false);
    return std::nullopt;
}

std::optional<std::string> header_value(std::string_view header, std::string_view name) {
    auto v = first_value(fields(header), name);
    if (!v) return std::nullopt;
    return decode_words(unfold(*v));
}

std::optional<std::string> param(const std::vector<std::pair<std::string, std::string>>& params,
                                 std::string_view name) {
    for (const auto& [k, v] : params) {
        if (iequals(k, name)) return v;
        std::string_view key(k);
        if (key.size() == name.size() + 1 && key.back() == '*' && iequals(key.substr(0, name.size()), name)) {
            // RFC 2231 4: charset'language'percent-encoded
            std::size_t q1 = v.find('\'');
            std::size_t q2 = q1 == std::string::npos ? q1 : v.find('\'', q1 + 1);
            if (q2 == std::string::npos) return std::nullopt;
            std::string raw;
            for (std::size_t i = q2 + 1; i < v.size(); ++i) {
                if (v[i] == '%' && i + 2 < v.size() && hex_value(v[i + 1]) >= 0 && hex_value(v[i + 2]) >= 0) {
                    raw += static_cast<char>(hex_value(v[i + 1]) * 16 + hex_value(v[i + 2]));
                    i += 2;
                } else {
                    raw += v[i];
                }
            }
            std::string_view charset = std::string_view(v).substr(0, q1);
            if (charset.empty()) charset = "us-ascii";
            return to_utf8(charset, raw);
        }
    }
    return std::nullopt;
}

std::optional<std::string> decoded_text(const BodyPart& part, std::string_view message) {
    std::optional<std::string> bytes = decoded(part, message);
    if (!bytes) return std::nullopt;
    return to_utf8(param(part.params, "charset").value_or("us-ascii"), *bytes);
}

std::string imap_string(const std::optional<std::string>& s) {
    std::string out;
    append_nstring(out, s);
    return out;
}

}  // namespace mk::imap
