// imap/response.cpp — streaming IMAP response parser and argument encoders; every byte comes from an
// untrusted server: bounded, and any input ends in a response or a ParseError, never a crash.
//
// Two layers. The framing layer (feed) splits the byte stream into lines, finds the literals that
// end a line ("{n}" CRLF, RFC 3501 4.3), hands body literals to the sink and keeps the rest of the
// response as text_ (literal contents left out, their markers kept). The grammar layer (a small
// recursive-descent parser over text_ and the kept literals) turns the finished text into a
// Response. Whether a literal is a body is a question of grammar, so at each literal of a FETCH
// response the grammar layer is run over the text so far and stops at the new marker, reporting
// where it stands; kMaxLiterals bounds those re-runs.
#include "imap/response.hpp"

#include <algorithm>
#include <limits>

namespace mk::imap {

namespace {

// is_atom_char - RFC 3501 9 ATOM-CHAR: any CHAR but atom-specials = "(" / ")" / "{" / SP / CTL /
// list-wildcards / quoted-specials / resp-specials.
bool is_atom_char(unsigned char c) {
    if (c <= 0x20 || c >= 0x7f) return false;
    switch (c) {
        case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']': return false;
        default: return true;
    }
}

// is_tag_char - RFC 3501 9: tag = 1*<any ASTRING-CHAR except "+">; ASTRING-CHAR adds "]".
bool is_tag_char(unsigned char c) { return (is_atom_char(c) || c == ']') && c != '+'; }

// is_value_atom_char - atoms in values we only pass through (flags "\Seen", "\*", LIST wildcards,
// sequence sets "1:*"): any visible ASCII but the characters that delimit values.
bool is_value_atom_char(unsigned char c) {
    if (c <= 0x20 || c >= 0x7f) return false;
    return c != '(' && c != ')' && c != '{' && c != '"';
}

// upper - ASCII-only uppercasing: IMAP keywords are case-insensitive (RFC 3501 9, last paragraph).
char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// to_upper - a keyword or name, uppercased for comparison.
std::string to_upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = upper(c);
    return out;
}

// all_digits - a non-empty run of ASCII digits.
bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// parse_u64 - digits to a value, nullopt on overflow or non-digits.
std::optional<std::uint64_t> parse_u64(std::string_view s) {
    if (!all_digits(s) || s.size() > kMaxNumberDigits) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

// parse_u32 - RFC 3501 9 number (or nz-number when nonzero): 32 bits unsigned.
std::optional<std::uint32_t> parse_u32(std::string_view s, bool nonzero) {
    auto v = parse_u64(s);
    if (!v || *v > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
    if (nonzero && *v == 0) return std::nullopt;
    return static_cast<std::uint32_t>(*v);
}

// is_status_name - OK, NO, BAD, PREAUTH or BYE (RFC 3501 7.1), uppercased.
bool is_status_name(std::string_view n) {
    return n == "OK" || n == "NO" || n == "BAD" || n == "PREAUTH" || n == "BYE";
}

// status_of - the Status for an uppercased status keyword.
Status status_of(std::string_view n) {
    if (n == "OK") return Status::ok;
    if (n == "NO") return Status::no;
    if (n == "BAD") return Status::bad;
    if (n == "PREAUTH") return Status::preauth;
    if (n == "BYE") return Status::bye;
    return Status::none;
}

// is_body_item - a FETCH item whose value is message content (RFC 3501 7.4.2; RFC 3516 BINARY):
// its literal is streamed to the sink, never kept.
bool is_body_item(std::string_view name) {
    return name.starts_with("BODY[") || name.starts_with("BINARY[") || name == "RFC822" ||
           name == "RFC822.TEXT" || name == "RFC822.HEADER";
}

// The grammar layer's position in the response text, and what it found.
struct Cursor {
    Cursor(std::string_view t, const std::vector<detail::Literal>& l) : text(t), literals(l) {}
    std::string_view text;
    const std::vector<detail::Literal>& literals;
    std::size_t pos = 0;
    std::size_t next_literal = 0;
    ParseError error = ParseError::none;
    // Prefix mode: the marker of the literal being decided; the parse stops there.
    std::size_t stop_at = std::string_view::npos;
    bool stopped = false;
    bool stop_body = false;          // the literal is the value of a body item
    std::string stop_item;
    std::optional<std::uint32_t> stop_uid;
    // The FETCH being parsed (for the stop report).
    std::string_view current_item;
    std::optional<std::uint32_t> current_uid;

    bool ok() const { return error == ParseError::none && !stopped; }
    bool at_end() const { return pos >= text.size(); }
    unsigned char peek() const { return at_end() ? 0 : static_cast<unsigned char>(text[pos]); }
    bool fail(ParseError e) {
        if (error == ParseError::none) error = e;
        return false;
    }
    // expect_space - exactly one SP.
    bool expect_space() {
        if (peek() != ' ') return fail(ParseError::bad_syntax);
        ++pos;
        return true;
    }
    void skip_spaces() {
        while (peek() == ' ') ++pos;
    }
    std::string_view take_while(bool (*pred)(unsigned char)) {
        std::size_t start = pos;
        while (!at_end() && pred(peek())) ++pos;
        return text.substr(start, pos - start);
    }
};

// literal - at "{": the literal's marker ("{n}" CRLF) is skipped and the literal returned; nullptr
// when stopped at the literal being decided, or on error.
const detail::Literal* literal(Cursor& c, bool body) {
    if (c.pos == c.stop_at) {
        c.stopped = true;
        c.stop_body = body;
        c.stop_item = std::string(c.current_item);
        c.stop_uid = c.current_uid;
        return nullptr;
    }
    // A "{" that the framing layer did not take for a literal (not at the end of a line) is no literal.
    if (c.next_literal >= c.literals.size() || c.literals[c.next_literal].marker != c.pos) {
        c.fail(ParseError::bad_literal);
        return nullptr;
    }
    std::size_t end = c.text.find("}\r\n", c.pos);
    if (end == std::string_view::npos) {
        c.fail(ParseError::bad_literal);
        return nullptr;
    }
    c.pos = end + 3;
    return &c.literals[c.next_literal++];
}

// quoted - RFC 3501 9 quoted string, decoded.
bool quoted(Cursor& c, std::string& out) {
    ++c.pos;   // the opening quote
    out.clear();
    for (;;) {
        if (c.at_end()) return c.fail(ParseError::unterminated_quote);
        char ch = c.text[c.pos++];
        if (ch == '"') return true;
        if (ch == '\r' || ch == '\n') return c.fail(ParseError::unterminated_quote);
        if (ch == '\\') {
            if (c.at_end()) return c.fail(ParseError::unterminated_quote);
            char esc = c.text[c.pos++];
            if (esc != '"' && esc != '\\') return c.fail(ParseError::bad_quote_escape);
            ch = esc;
        }
        out += ch;
    }
}

// value - one value of the generic grammar: list, quoted, literal, NIL, number or atom.
bool value(Cursor& c, Value& v, std::size_t depth) {
    unsigned char ch = c.peek();
    if (c.at_end()) return c.fail(ParseError::bad_syntax);
    if (ch == '(') {
        if (depth + 1 > kMaxDepth) return c.fail(ParseError::too_deep);
        ++c.pos;
        v.kind = ValueKind::list;
        for (;;) {
            c.skip_spaces();
            if (c.at_end()) return c.fail(ParseError::bad_syntax);
            if (c.peek() == ')') {
                ++c.pos;
                return true;
            }
            Value item;
            if (!value(c, item, depth + 1)) return false;
            v.list.push_back(std::move(item));
            // Items are separated by SP; ")" may follow at once.
            if (c.peek() != ' ' && c.peek() != ')') return c.fail(ParseError::bad_syntax);
        }
    }
    if (ch == '"') {
        v.kind = ValueKind::string;
        return quoted(c, v.text);
    }
    if (ch == '{') {
        const detail::Literal* lit = literal(c, false);
        if (!lit) return false;
        v.kind = lit->streamed ? ValueKind::body : ValueKind::string;
        v.text = lit->bytes;
        v.number = lit->size;
        return true;
    }
    if (ch == ')' || ch == ' ') return c.fail(ParseError::bad_syntax);
    std::string_view atom = c.take_while(is_value_atom_char);
    if (atom.empty()) return c.fail(ParseError::bad_character);
    v.text = std::string(atom);
    if (auto n = parse_u64(atom)) {
        v.kind = ValueKind::number;
        v.number = *n;
    } else if (to_upper(atom) == "NIL") {
        v.kind = ValueKind::nil;
        v.text.clear();
    } else {
        v.kind = ValueKind::atom;
    }
    return true;
}

// values - the rest of a data response: SP-separated values to the end.
bool values(Cursor& c, std::vector<Value>& out) {
    for (;;) {
        c.skip_spaces();   // trailing spaces (some servers end "* SEARCH " so) are tolerated
        if (c.at_end()) return true;
        Value v;
        if (!value(c, v, 0)) return false;
        out.push_back(std::move(v));
        if (!c.at_end() && c.peek() != ' ') return c.fail(ParseError::bad_syntax);
    }
}

// fetch_name - a msg-att name (RFC 3501 7.4.2): "UID", "BODY[section]<origin>", uppercased.
bool fetch_name(Cursor& c, std::string& name) {
    std::size_t start = c.pos;
    while (!c.at_end() && is_atom_char(c.peek()) && c.peek() != '[') ++c.pos;
    if (c.pos == start) return c.fail(ParseError::bad_syntax);
    if (c.peek() == '[') {
        // The section: up to "]", quoted header names included; never across a line end.
        bool in_quote = false;
        for (;;) {
            ++c.pos;
            if (c.at_end()) return c.fail(ParseError::bad_syntax);
            char ch = c.text[c.pos];
            if (ch == '\r' || ch == '\n') return c.fail(ParseError::bad_syntax);
            if (in_quote && ch == '\\') {
                ++c.pos;
                continue;
            }
            if (ch == '"') in_quote = !in_quote;
            if (ch == ']' && !in_quote) break;
        }
        ++c.pos;
        if (c.peek() == '<') {
            ++c.pos;
            std::size_t digits = c.pos;
            while (c.peek() >= '0' && c.peek() <= '9') ++c.pos;
            if (c.pos == digits || c.peek() != '>') return c.fail(ParseError::bad_syntax);
            ++c.pos;
        }
    }
    name = to_upper(c.text.substr(start, c.pos - start));
    return true;
}

// body_value - nstring of a body item: its literal is a streamed body, or a quoted string, or NIL.
bool body_value(Cursor& c, Value& v) {
    unsigned char ch = c.peek();
    if (ch == '{') {
        const detail::Literal* lit = literal(c, true);
        if (!lit) return false;
        v.kind = lit->streamed ? ValueKind::body : ValueKind::string;
        v.text = lit->bytes;
        v.number = lit->size;
        return true;
    }
    if (ch == '"') {
        v.kind = ValueKind::string;
        return quoted(c, v.text);
    }
    std::string_view atom = c.take_while(is_value_atom_char);
    if (to_upper(atom) != "NIL") return c.fail(ParseError::bad_syntax);
    v.kind = ValueKind::nil;
    return true;
}

// fetch - "(" msg-att *(SP msg-att) ")" (RFC 3501 7.4.2).
bool fetch(Cursor& c, Response& r) {
    if (c.peek() != '(') return c.fail(ParseError::bad_syntax);
    ++c.pos;
    c.skip_spaces();
    while (c.peek() != ')') {
        FetchItem item;
        if (!fetch_name(c, item.name)) return false;
        if (!c.expect_space()) return false;
        c.current_item = item.name;
        if (item.name == "UID" || item.name == "RFC822.SIZE") {
            std::string_view digits = c.take_while([](unsigned char ch) { return ch >= '0' && ch <= '9'; });
            // RFC 3501 9: uniqueid is nz-number; RFC 9051 widens RFC822.SIZE to number64.
            std::optional<std::uint64_t> n;
            if (item.name == "UID") {
                auto uid = parse_u32(digits, true);
                if (uid) n = *uid;
                c.current_uid = uid;
            } else {
                n = parse_u64(digits);
            }
            if (!n) return c.fail(ParseError::bad_number);
            item.value.kind = ValueKind::number;
            item.value.text = std::string(digits);
            item.value.number = *n;
        } else if (is_body_item(item.name)) {
            if (!body_value(c, item.value)) return false;
        } else {
            if (!value(c, item.value, 1)) return false;
        }
        c.current_item = {};
        r.fetch.push_back(std::move(item));
        if (c.peek() == ')') break;
        if (c.peek() != ' ') return c.fail(ParseError::bad_syntax);
        c.skip_spaces();
    }
    ++c.pos;
    c.skip_spaces();
    if (!c.at_end()) return c.fail(ParseError::bad_syntax);
    return true;
}

// capability_list - SP-separated capability atoms, uppercased (RFC 3501 7.2.1).
bool capability_list(std::string_view text, std::vector<std::string>& out) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find(' ', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view cap = text.substr(pos, end - pos);
        for (char ch : cap)
            if (!is_atom_char(static_cast<unsigned char>(ch))) return false;
        if (!cap.empty()) out.push_back(to_upper(cap));
        pos = end + 1;
    }
    return true;
}

// status_rest - after OK/NO/BAD/PREAUTH/BYE: [SP ["[" resp-text-code "]" [SP]] text] (RFC 3501 7.1).
// The text is free: quotes, braces and parentheses in it mean nothing.
bool status_rest(Cursor& c, Response& r) {
    if (c.at_end()) return true;   // "A1 OK" without text: not in the grammar, but harmless
    if (!c.expect_space()) return false;
    if (c.peek() == '[') {
        ++c.pos;
        std::size_t close = c.text.find(']', c.pos);
        if (close == std::string_view::npos) return c.fail(ParseError::bad_response_code);
        std::string_view inside = c.text.substr(c.pos, close - c.pos);
        std::size_t sp = inside.find(' ');
        std::string_view name = inside.substr(0, sp);
        std::string_view arg = sp == std::string_view::npos ? std::string_view() : inside.substr(sp + 1);
        if (name.empty()) return c.fail(ParseError::bad_response_code);
        for (char ch : name)
            if (!is_atom_char(static_cast<unsigned char>(ch))) return c.fail(ParseError::bad_response_code);
        r.code.name = to_upper(name);
        r.code.text = std::string(arg);
        if (r.code.name == "UIDVALIDITY" || r.code.name == "UIDNEXT" || r.code.name == "UNSEEN") {
            r.code.number = parse_u32(arg, true);
            if (!r.code.number) return c.fail(ParseError::bad_response_code);
        } else if (r.code.name == "CAPABILITY") {
            if (!capability_list(arg, r.capabilities)) return c.fail(ParseError::bad_response_code);
        }
        c.pos = close + 1;
        if (c.peek() == ' ') ++c.pos;
    }
    r.text = std::string(c.text.substr(c.pos));
    c.pos = c.text.size();
    return true;
}

// grammar - the whole grammar (RFC 3501 7): continuation, tagged status, or untagged status/data.
bool grammar(Cursor& c, Response& r) {
    if (c.peek() == '+') {
        // continue-req = "+" SP (resp-text / base64); a bare "+" is accepted as an empty one.
        r.kind = Kind::continuation;
        ++c.pos;
        if (c.peek() == ' ') ++c.pos;
        r.text = std::string(c.text.substr(c.pos));
        c.pos = c.text.size();
        return true;
    }
    if (c.peek() == '*') {
        r.kind = Kind::untagged;
        ++c.pos;
    } else {
        r.kind = Kind::tagged;
        std::string_view tag = c.take_while(is_tag_char);
        if (tag.empty()) return c.fail(ParseError::bad_tag);
        r.tag = std::string(tag);
    }
    if (c.peek() != ' ') return c.fail(r.kind == Kind::tagged ? ParseError::bad_tag : ParseError::bad_syntax);
    ++c.pos;
    std::string_view word = c.take_while(is_atom_char);
    if (word.empty()) return c.fail(ParseError::bad_syntax);
    if (r.kind == Kind::untagged && all_digits(word)) {
        // "* 3 EXISTS", "* 3 FETCH (...)": RFC 3501 7.3, 7.4
        r.number = parse_u32(word, false);
        if (!r.number) return c.fail(ParseError::bad_number);
        if (!c.expect_space()) return false;
        word = c.take_while(is_atom_char);
        if (word.empty()) return c.fail(ParseError::bad_syntax);
        r.name = to_upper(word);
        if (r.name == "EXISTS" || r.name == "RECENT" || r.name == "EXPUNGE") {
            c.skip_spaces();
            return c.at_end() || c.fail(ParseError::bad_syntax);
        }
        if (r.name == "FETCH") {
            // RFC 3501 7.4.2: message sequence numbers start at 1.
            if (*r.number == 0) return c.fail(ParseError::bad_number);
            if (!c.expect_space()) return false;
            return fetch(c, r);
        }
        return values(c, r.values);
    }
    r.name = to_upper(word);
    if (r.kind == Kind::tagged) {
        // RFC 3501 7.1: a tagged response is OK, NO or BAD; PREAUTH and BYE are untagged only.
        if (r.name != "OK" && r.name != "NO" && r.name != "BAD") return c.fail(ParseError::bad_status);
        r.status = status_of(r.name);
        return status_rest(c, r);
    }
    if (is_status_name(r.name)) {
        r.status = status_of(r.name);
        return status_rest(c, r);
    }
    if (r.name == "CAPABILITY") {
        std::string_view rest = c.text.substr(c.pos);
        if (!rest.empty() && rest.front() != ' ') return c.fail(ParseError::bad_syntax);
        if (!capability_list(rest.empty() ? rest : rest.substr(1), r.capabilities))
            return c.fail(ParseError::bad_syntax);
        c.pos = c.text.size();
        return true;
    }
    return values(c, r.values);
}

// literals_allowed - the first line decides: continuations and status responses carry free text
// where "{5}" is just text (RFC 3501 7.1, 7.5); every other response may hold literals.
bool literals_allowed(std::string_view first_line) {
    if (first_line.empty() || first_line.front() == '+') return false;
    if (!first_line.starts_with("* ")) return false;   // tagged: always a status response
    std::string_view rest = first_line.substr(2);
    std::string_view word = rest.substr(0, rest.find(' '));
    if (all_digits(word)) {
        rest = word.size() < rest.size() ? rest.substr(word.size() + 1) : std::string_view();
        word = rest.substr(0, rest.find(' '));
    }
    return !is_status_name(to_upper(word));
}

// is_fetch_head - "* n FETCH": only there can a literal be a message body.
bool is_fetch_head(std::string_view text) {
    if (!text.starts_with("* ")) return false;
    std::string_view rest = text.substr(2);
    std::size_t sp = rest.find(' ');
    if (sp == std::string_view::npos || !all_digits(rest.substr(0, sp))) return false;
    rest = rest.substr(sp + 1);
    return rest.size() >= 6 && to_upper(rest.substr(0, 6)) == "FETCH ";
}

// quoted_bodies - the body items of a FETCH that came as non-empty quoted strings (their octets are
// in the response; a literal body has gone to the sink already, NIL has none).
std::vector<const FetchItem*> quoted_bodies(const Response& r) {
    std::vector<const FetchItem*> out;
    if (r.name != "FETCH") return out;
    for (const FetchItem& item : r.fetch)
        if (is_body_item(item.name) && item.value.kind == ValueKind::string && !item.value.text.empty())
            out.push_back(&item);
    return out;
}

}  // namespace

std::string_view error_text(ParseError error) {
    switch (error) {
        case ParseError::none: return "no error";
        case ParseError::line_too_long: return "response text too long";
        case ParseError::bad_line_end: return "line not ended by CRLF";
        case ParseError::bad_character: return "invalid character";
        case ParseError::bad_tag: return "invalid tag";
        case ParseError::bad_status: return "tagged response is not OK, NO or BAD";
        case ParseError::bad_syntax: return "syntax error";
        case ParseError::bad_number: return "invalid number";
        case ParseError::unterminated_quote: return "unterminated quoted string";
        case ParseError::bad_quote_escape: return "invalid escape in quoted string";
        case ParseError::bad_response_code: return "invalid response code";
        case ParseError::bad_literal: return "invalid literal";
        case ParseError::literal_too_large: return "literal too large";
        case ParseError::too_deep: return "lists nested too deep";
    }
    return "?";
}

const FetchItem* Response::item(std::string_view item_name) const {
    for (const auto& i : fetch)
        if (i.name == item_name) return &i;
    return nullptr;
}

std::optional<std::uint32_t> Response::fetch_uid() const {
    const FetchItem* i = item("UID");
    if (!i || i->value.kind != ValueKind::number) return std::nullopt;
    return static_cast<std::uint32_t>(i->value.number);
}

bool Response::has_capability(std::string_view cap) const {
    return std::find(capabilities.begin(), capabilities.end(), cap) != capabilities.end();
}

// fail - the response is broken; the parser stays failed (a caller resynchronising on garbage from
// an untrusted server would only guess).
void ResponseParser::fail(ParseError e) {
    phase_ = Phase::failed;
    error_ = e;
}

// reset - ready for the next response.
void ResponseParser::reset() {
    phase_ = Phase::line;
    error_ = ParseError::none;
    text_.clear();
    segment_ = 0;
    literals_allowed_ = false;
    literals_.clear();
    inline_bytes_ = 0;
    remaining_ = 0;
    streamed_ = false;
    piece_ = BodyPiece{};
    piece_item_.clear();
    response_ = Response{};
}

Response ResponseParser::take() {
    Response r = std::move(response_);
    reset();
    return r;
}

std::size_t ResponseParser::feed(std::string_view in, const BodySink& sink) {
    std::size_t i = 0;
    while (i < in.size()) {
        switch (phase_) {
            case Phase::done:
            case Phase::failed:
                return i;
            case Phase::literal: {
                std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - i));
                std::string_view data = in.substr(i, n);
                i += n;
                remaining_ -= n;
                if (streamed_) {
                    piece_.data = data;
                    if (sink) sink(piece_);
                    piece_.offset += n;
                } else {
                    literals_.back().bytes.append(data);
                }
                if (remaining_ == 0) {
                    phase_ = Phase::line;
                    segment_ = text_.size();
                }
                break;
            }
            case Phase::line: {
                std::string_view rest = in.substr(i);
                std::size_t special = rest.find_first_of(std::string_view("\r\n\0", 3));
                std::size_t n = special == std::string_view::npos ? rest.size() : special;
                std::size_t room = kMaxLine - text_.size();
                if (n > room) {
                    text_.append(rest.substr(0, room));
                    i += room;
                    fail(ParseError::line_too_long);
                    return i;
                }
                text_.append(rest.substr(0, n));
                i += n;
                if (special == std::string_view::npos) break;
                char ch = rest[n];
                if (ch == '\r') {
                    ++i;
                    phase_ = Phase::line_cr;
                } else {
                    // RFC 3501 2.2: lines end in CRLF; a bare LF or a NUL is not a server we can follow.
                    fail(ch == '\n' ? ParseError::bad_line_end : ParseError::bad_character);
                    return i;
                }
                break;
            }
            case Phase::line_cr:
                if (in[i] != '\n') {
                    fail(ParseError::bad_line_end);
                    return i;
                }
                ++i;
                end_of_line(sink);
                break;
        }
    }
    return i;
}

// end_of_line - a CRLF: either a literal follows (the line ends in "{n}") or the response is whole.
void ResponseParser::end_of_line(const BodySink& sink) {
    if (segment_ == 0) literals_allowed_ = literals_allowed(text_);
    if (literals_allowed_) {
        // Quotes first: a "{5}" inside a quoted string is text, and a quoted string may not span
        // lines (RFC 3501 9: quoted excludes CR and LF).
        std::string_view line = std::string_view(text_).substr(segment_);
        bool in_quote = false;
        for (std::size_t k = 0; k < line.size(); ++k) {
            if (!in_quote) {
                in_quote = line[k] == '"';
            } else if (line[k] == '\\') {
                ++k;
            } else if (line[k] == '"') {
                in_quote = false;
            }
        }
        if (in_quote) return fail(ParseError::unterminated_quote);
        if (line.ends_with('}')) {
            std::size_t open = line.rfind('{');
            std::string_view digits =
                open == std::string_view::npos ? std::string_view() : line.substr(open + 1, line.size() - open - 2);
            if (all_digits(digits)) {
                auto size = parse_u64(digits);
                if (!size) return fail(ParseError::literal_too_large);
                return start_literal(segment_ + open, *size);
            }
        }
    }
    // The response is complete: the grammar decides.
    Cursor c{text_, literals_};
    Response r;
    if (!grammar(c, r)) return fail(c.error == ParseError::none ? ParseError::bad_syntax : c.error);
    // A body sent as a quoted string (allowed: nstring) is bounded like a literal: all of them are
    // checked before any reaches the sink, as an oversized literal fails before its first octet.
    for (const FetchItem* item : quoted_bodies(r))
        if (!body_fits(item->value.text.size())) return fail(ParseError::literal_too_large);
    response_ = std::move(r);
    phase_ = Phase::done;
    // A quoted body reaches the sink like a literal would, once the whole FETCH is known.
    if (!sink) return;
    for (const FetchItem* item : quoted_bodies(response_)) {
        BodyPiece p;
        p.seq = response_.number.value_or(0);
        p.item = item->name;
        p.uid = response_.fetch_uid();
        p.size = item->value.text.size();
        p.data = item->value.text;
        sink(p);
    }
}

// body_fits - the one bound on a message body, whatever form it arrived in (literal or quoted).
bool ResponseParser::body_fits(std::uint64_t size) const { return size <= max_literal_; }

// start_literal - the line ended in "{size}" at marker: decide whether it is a body, check the limits.
void ResponseParser::start_literal(std::size_t marker, std::uint64_t size) {
    if (literals_.size() >= kMaxLiterals) return fail(ParseError::bad_literal);
    if (text_.size() + 2 > kMaxLine) return fail(ParseError::line_too_long);
    text_ += "\r\n";
    bool body = false;
    if (is_fetch_head(text_)) {
        // Run the grammar over the text so far: it stops at this marker and says what it belongs to.
        Cursor c{text_, literals_};
        c.stop_at = marker;
        Response partial;
        grammar(c, partial);
        if (c.stopped && c.stop_body) {
            body = true;
            piece_item_ = c.stop_item;
            piece_ = BodyPiece{};
            piece_.seq = partial.number.value_or(0);
            piece_.uid = c.stop_uid;
            piece_.size = size;
        }
    }
    if (body) {
        if (!body_fits(size)) return fail(ParseError::literal_too_large);
        piece_.item = piece_item_;
    } else {
        if (size > kMaxInlineLiterals - inline_bytes_) return fail(ParseError::literal_too_large);
        inline_bytes_ += static_cast<std::size_t>(size);
    }
    literals_.push_back(detail::Literal{marker, size, body, {}});
    streamed_ = body;
    remaining_ = size;
    if (size == 0) {
        segment_ = text_.size();
        phase_ = Phase::line;
    } else {
        phase_ = Phase::literal;
    }
}

ParseResult parse_response(std::string_view bytes, std::uint64_t max_literal) {
    ParseResult out;
    ResponseParser p(max_literal);
    out.consumed = p.feed(bytes, [&](const BodyPiece& piece) { out.body.append(piece.data); });
    out.error = p.error();
    out.complete = p.done();
    if (p.done()) out.response = p.take();
    return out;
}

std::optional<std::string> quote(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        auto u = static_cast<unsigned char>(ch);
        if (ch == '\r' || ch == '\n' || ch == '\0' || u >= 0x80) return std::nullopt;
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
    }
    out += '"';
    return out;
}

bool needs_literal(std::string_view s) {
    bool eight_bit = false;
    for (char ch : s) {
        if (ch == '\r' || ch == '\n' || ch == '\0') return false;
        if (static_cast<unsigned char>(ch) >= 0x80) eight_bit = true;
    }
    return eight_bit;
}

std::optional<std::string> encode_mailbox(std::string_view utf8) {
    // RFC 3501 5.1.3: printable US-ASCII stands for itself ("&" as "&-"); anything else is UTF-16
    // in modified base64 ("," for "/", no padding) between "&" and "-".
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    std::string out;
    std::vector<std::uint16_t> units;
    auto flush = [&] {
        if (units.empty()) return;
        out += '&';
        std::uint32_t bits = 0;
        int nbits = 0;
        for (std::uint16_t u : units) {
            bits = (bits << 16) | u;
            nbits += 16;
            while (nbits >= 6) {
                nbits -= 6;
                out += kAlphabet[(bits >> nbits) & 0x3f];
            }
            bits &= (1u << nbits) - 1;
        }
        if (nbits > 0) out += kAlphabet[(bits << (6 - nbits)) & 0x3f];
        out += '-';
        units.clear();
    };
    std::size_t i = 0;
    while (i < utf8.size()) {
        auto b = static_cast<unsigned char>(utf8[i]);
        if (b < 0x80) {
            if (b < 0x20 || b == 0x7f) return std::nullopt;
            flush();
            out += static_cast<char>(b);
            if (b == '&') out += '-';
            ++i;
            continue;
        }
        // One UTF-8 sequence, strictly: no overlong forms, no surrogates, nothing past U+10FFFF.
        std::size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
        if (len == 0 || b > 0xf4 || i + len > utf8.size()) return std::nullopt;
        std::uint32_t cp = b & (0x7f >> len);
        for (std::size_t k = 1; k < len; ++k) {
            auto cb = static_cast<unsigned char>(utf8[i + k]);
            if ((cb & 0xc0) != 0x80) return std::nullopt;
            cp = (cp << 6) | (cb & 0x3f);
        }
        static constexpr std::uint32_t kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMinForLen[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            units.push_back(static_cast<std::uint16_t>(0xd800 + (cp >> 10)));
            units.push_back(static_cast<std::uint16_t>(0xdc00 + (cp & 0x3ff)));
        } else {
            units.push_back(static_cast<std::uint16_t>(cp));
        }
        i += len;
    }
    flush();
    return out;
}

std::string uid_set(std::vector<std::uint32_t> uids) {
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    std::string out;
    std::size_t i = 0;
    while (i < uids.size()) {
        std::size_t j = i;
        while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(uids[i]);
        if (j > i) out += ':' + std::to_string(uids[j]);
        i = j + 1;
    }
    return out;
}

}  // namespace mk::imap
