// pop3/command.cpp — POP3 command parser and response encoders (server side), response parsers and the
// dot-unstuffer (client side); every input byte is untrusted and every path through here is bounded by
// the input it was given (no allocation beyond a copy of it).
#include "pop3/command.hpp"

#include <array>
#include <cstring>
#include <limits>

#include "core/text.hpp"
#include "net/dot_stuffer.hpp"
#include "net/sasl.hpp"

namespace mk::pop3 {

namespace {

// What one argument position holds, so the parser can check it before any handler sees it.
enum class Arg : std::uint8_t { text, msg, count };

struct VerbSpec {
    std::string_view name;
    Verb verb;
    std::uint8_t min_args, max_args;
    std::array<Arg, kMaxArgs> kinds;
    bool rest_of_line;   // the single argument is the rest of the line, spaces included
};

// The commands of RFC 1939 (with the optional TOP, UIDL, USER/PASS), CAPA (RFC 2449), STLS (RFC 2595)
// and AUTH (RFC 5034). APOP is left out on purpose: it needs the plaintext password on the server.
constexpr std::array<VerbSpec, 14> kVerbs{{
    {"USER", Verb::user, 1, 1, {Arg::text, Arg::text}, false},
    // RFC 1939 7: "a POP3 server may treat spaces in the argument as part of the password".
    {"PASS", Verb::pass, 1, 1, {Arg::text, Arg::text}, true},
    {"AUTH", Verb::auth, 1, 2, {Arg::text, Arg::text}, false},   // mechanism [initial-response]
    {"STAT", Verb::stat, 0, 0, {Arg::text, Arg::text}, false},
    {"LIST", Verb::list, 0, 1, {Arg::msg, Arg::text}, false},
    {"RETR", Verb::retr, 1, 1, {Arg::msg, Arg::text}, false},
    {"DELE", Verb::dele, 1, 1, {Arg::msg, Arg::text}, false},
    {"NOOP", Verb::noop, 0, 0, {Arg::text, Arg::text}, false},
    {"RSET", Verb::rset, 0, 0, {Arg::text, Arg::text}, false},
    {"QUIT", Verb::quit, 0, 0, {Arg::text, Arg::text}, false},
    {"TOP", Verb::top, 2, 2, {Arg::msg, Arg::count}, false},
    {"UIDL", Verb::uidl, 0, 1, {Arg::msg, Arg::text}, false},
    {"CAPA", Verb::capa, 0, 0, {Arg::text, Arg::text}, false},
    {"STLS", Verb::stls, 0, 0, {Arg::text, Arg::text}, false},
}};

// is_ascii_alpha - A-Z or a-z, nothing locale-dependent.
bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// is_control - a byte that has no business inside a command line (C0 controls and DEL). Octets
// >= 0x80 pass: RFC 2449 asks for printable ASCII, but UTF-8 passwords exist and harm nothing here.
bool is_control(char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

// find_verb - the table row whose name equals keyword, ignoring ASCII case (RFC 1939 3).
const VerbSpec* find_verb(std::string_view keyword) {
    for (const auto& spec : kVerbs) {
        if (iequals(keyword, spec.name)) return &spec;
    }
    return nullptr;
}

// fail - a result carrying only an error.
ParseResult fail(ParseError e) {
    ParseResult r;
    r.error = e;
    return r;
}

}  // namespace

NumberResult parse_number(std::string_view text) {
    NumberResult r;
    if (text.empty()) {
        r.error = ParseError::bad_number;
        return r;
    }
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t v = 0;
    bool overflow = false;
    for (char c : text) {
        if (c < '0' || c > '9') {   // also rejects '-', '+', spaces and 8-bit digits of other scripts
            r.error = ParseError::bad_number;
            return r;
        }
        auto d = static_cast<std::uint64_t>(c - '0');
        // Check before multiplying: v * 10 + d must not pass kMax. Keep scanning so that a bad
        // character later in the text is still reported as bad_number, whatever its length.
        if (overflow || v > (kMax - d) / 10) overflow = true;
        else v = v * 10 + d;
    }
    if (overflow) {
        r.error = ParseError::number_too_large;
        return r;
    }
    r.value = v;
    return r;
}

ParseResult parse_command(std::string_view line) {
    // Limits first: nothing below runs on more than kMaxCommandText bytes (RFC 2449 4).
    if (line.size() > kMaxCommandText) return fail(ParseError::too_long);
    if (line.empty()) return fail(ParseError::empty);
    for (char c : line)
        if (is_control(c)) return fail(ParseError::bad_character);

    std::size_t sp = line.find(' ');
    std::string_view keyword = line.substr(0, sp);
    if (keyword.empty()) return fail(ParseError::bad_spacing);
    if (keyword.size() < kMinKeyword || keyword.size() > kMaxKeyword) return fail(ParseError::bad_keyword);
    for (char c : keyword)
        if (!is_ascii_alpha(c)) return fail(ParseError::bad_keyword);
    const VerbSpec* spec = find_verb(keyword);
    if (!spec) return fail(ParseError::unknown_command);

    std::string_view rest = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    ParseResult r;
    r.command.verb = spec->verb;

    if (spec->rest_of_line) {
        if (rest.empty()) return fail(ParseError::missing_argument);
        r.command.args.emplace_back(rest);
        return r;
    }

    // Trailing spaces are tolerated (some clients send "LIST "); nothing else about spacing is.
    while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
    std::array<std::string_view, kMaxArgs> args{};
    std::size_t n = 0;
    while (!rest.empty()) {
        std::size_t next = rest.find(' ');
        std::string_view arg = rest.substr(0, next);
        if (arg.empty()) return fail(ParseError::bad_spacing);   // RFC 1939 3: a single SPACE between
        if (n == kMaxArgs || n == spec->max_args) return fail(ParseError::extra_argument);
        args[n++] = arg;
        rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
    }
    if (n < spec->min_args) return fail(ParseError::missing_argument);

    for (std::size_t i = 0; i < n; ++i) {
        switch (spec->kinds[i]) {
        case Arg::text:
            break;
        case Arg::msg: {
            // RFC 1939 3: messages are numbered from 1; a number too large for 64 bits names none.
            NumberResult num = parse_number(args[i]);
            if (num.error == ParseError::bad_number) return fail(ParseError::bad_number);
            if (num.error != ParseError::none || num.value == 0) return fail(ParseError::no_such_message);
            r.command.msg = num.value;
            break;
        }
        case Arg::count: {
            NumberResult num = parse_number(args[i]);
            if (num.error != ParseError::none) return fail(num.error);
            r.command.lines = num.value;
            break;
        }
        }
        r.command.args.emplace_back(args[i]);
    }
    return r;
}

std::string_view verb_name(Verb verb) {
    for (const auto& spec : kVerbs)
        if (spec.verb == verb) return spec.name;
    return "?";
}

std::string_view error_text(ParseError error) {
    switch (error) {
    case ParseError::none: return "ok";
    case ParseError::empty: return "empty command";
    case ParseError::too_long: return "line too long";
    case ParseError::bad_keyword: return "bad command keyword";
    case ParseError::unknown_command: return "unknown command";
    case ParseError::bad_spacing: return "syntax error: arguments take one space";
    case ParseError::bad_character: return "syntax error: control character in command";
    case ParseError::missing_argument: return "missing argument";
    case ParseError::extra_argument: return "too many arguments";
    case ParseError::bad_number: return "invalid number";
    case ParseError::no_such_message: return "no such message";
    case ParseError::number_too_large: return "number too large";
    }
    return "syntax error";
}

std::string_view resp_code_text(RespCode code) {
    switch (code) {
    case RespCode::none: return {};
    case RespCode::auth: return "AUTH";               // RFC 3206 5
    case RespCode::in_use: return "IN-USE";           // RFC 2449 8.1.1
    case RespCode::login_delay: return "LOGIN-DELAY"; // RFC 2449 8.1.2
    case RespCode::sys_temp: return "SYS/TEMP";       // RFC 3206 4
    case RespCode::sys_perm: return "SYS/PERM";       // RFC 3206 4
    }
    return {};
}

std::string format_reply(const Reply& reply) {
    std::string out = reply.ok ? "+OK" : "-ERR";
    std::string_view code = reply.ok ? std::string_view{} : resp_code_text(reply.code);
    if (!code.empty()) {
        out += " [";
        out += code;
        out += ']';
    }
    if (!reply.text.empty()) {
        out += ' ';
        // A CR or LF in the text would end the status line early and forge the next one.
        for (char c : reply.text) out += is_control(c) ? ' ' : c;
    }
    out += "\r\n";
    return out;
}

std::string_view TopFilter::feed(std::string_view chunk) {
    if (done_) return {};
    std::size_t i = 0;
    while (i < chunk.size()) {
        std::size_t nl = chunk.find('\n', i);
        std::size_t end = nl == std::string_view::npos ? chunk.size() : nl;
        std::size_t seg = end - i;
        if (seg > 0) {
            line_cr_only_ = (line_len_ == 0 && seg == 1 && chunk[i] == '\r');
            line_len_ += seg;
        }
        if (nl == std::string_view::npos) break;
        bool blank = line_len_ == 0 || line_cr_only_;   // "\r\n" or a bare "\n"
        line_len_ = 0;
        line_cr_only_ = false;
        i = nl + 1;
        if (in_header_) {
            if (!blank) continue;
            in_header_ = false;   // RFC 5322 2.1: the first empty line ends the header
        } else {
            --remaining_;         // in the body remaining_ > 0 always: it reached 0 means done_
        }
        if (remaining_ == 0) {
            done_ = true;
            return chunk.substr(0, i);
        }
    }
    return chunk;
}

std::string top_of(std::string_view message, std::uint64_t body_lines) {
    TopFilter f(body_lines);
    return dot_stuff(f.feed(message));
}

std::string unique_id(std::string_view maildir_uid) {
    bool valid = !maildir_uid.empty() && maildir_uid.size() <= kMaxUniqueId;
    for (char c : maildir_uid) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u > 0x7e) valid = false;
    }
    if (valid) return std::string(maildir_uid);
    // Two FNV-1a 64 passes with different offsets: 128 bits, stable across runs and builds. Not a
    // security boundary (the uid comes from our own store), only a name clients can keep.
    auto fnv = [&](std::uint64_t h) {
        for (char c : maildir_uid) {
            h ^= static_cast<unsigned char>(c);
            h *= 0x100000001b3ull;
        }
        return h;
    };
    std::uint64_t parts[2] = {fnv(0xcbf29ce484222325ull), fnv(0x84222325cbf29ce4ull)};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "h";   // Maildir uids always hold a '.', so "h<hex>" cannot equal a real one
    for (std::uint64_t p : parts)
        for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(p >> shift) & 0xf];
    return out;
}

namespace {

// is_uid_char - RFC 1939 7: a unique-id is made of the characters 0x21 to 0x7E.
bool is_uid_char(char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x21 && u <= 0x7e;
}

// clean_text - the server's text with control characters made spaces: it goes to logs and errors.
std::string clean_text(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (is_control(c)) c = ' ';
    return out;
}

// resp_code_of - RFC 2449 8 / RFC 3206 codes we act on; anything else (or a sub-code we do not know,
// "SYS/FOO") is none: the response code is only a hint, the indicator decides.
RespCode resp_code_of(std::string_view code) {
    std::string upper = uppercase_ascii(code);
    if (upper == "AUTH") return RespCode::auth;
    if (upper == "IN-USE") return RespCode::in_use;
    if (upper == "LOGIN-DELAY") return RespCode::login_delay;
    if (upper == "SYS/TEMP") return RespCode::sys_temp;
    if (upper == "SYS/PERM") return RespCode::sys_perm;
    return RespCode::none;
}

// split_number - the decimal number at the start of line and what follows its single space; false
// when there is no number >= 1 followed by exactly one space (RFC 1939 3: one SPACE separates).
bool split_number(std::string_view line, std::uint64_t& number, std::string_view& rest) {
    std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return false;
    NumberResult n = parse_number(line.substr(0, sp));
    if (n.error != ParseError::none || n.value == 0) return false;
    number = n.value;
    rest = line.substr(sp + 1);
    return true;
}

}  // namespace

std::optional<Response> parse_response(std::string_view line, bool continuation) {
    Response r;
    std::string_view rest;
    // RFC 1939 3: the indicators are "+OK" and "-ERR" in upper case, then a space and text, or nothing.
    auto after = [&](std::string_view indicator) {
        if (!line.starts_with(indicator)) return false;
        std::string_view tail = line.substr(indicator.size());
        if (!tail.empty() && tail.front() != ' ') return false;   // "+OKAY" is no status line
        rest = tail.empty() ? tail : tail.substr(1);
        return true;
    };
    if (after("+OK")) {
        r.indicator = Indicator::ok;
    } else if (after("-ERR")) {
        r.indicator = Indicator::err;
        // RFC 2449 8: "-ERR [CODE] text".
        if (rest.starts_with('[')) {
            std::size_t close = rest.find(']');
            if (close != std::string_view::npos) {
                r.code = resp_code_of(rest.substr(1, close - 1));
                rest = rest.substr(close + 1);
                if (rest.starts_with(' ')) rest.remove_prefix(1);
            }
        }
    } else if (continuation && after("+")) {
        // RFC 5034 4: "+" SP base64 (or nothing, for an empty challenge).
        r.indicator = Indicator::more;
        r.text = std::string(rest);
        for (char c : r.text)
            if (is_control(c)) return std::nullopt;
        return r;
    } else {
        return std::nullopt;
    }
    r.text = clean_text(rest);
    return r;
}

void add_capability(Capabilities& caps, std::string_view line) {
    std::size_t sp = line.find(' ');
    std::string keyword = uppercase_ascii(line.substr(0, sp));   // RFC 2449 5: case-insensitive
    std::string_view args = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    if (keyword == "TOP") caps.top = true;
    else if (keyword == "USER") caps.user = true;
    else if (keyword == "RESP-CODES") caps.resp_codes = true;
    else if (keyword == "PIPELINING") caps.pipelining = true;
    else if (keyword == "UIDL") caps.uidl = true;
    else if (keyword == "STLS") caps.stls = true;
    else if (keyword == "SASL") add_mechanisms(args, caps.sasl);   // RFC 2449 6.3
}

bool parse_scan_listing(std::string_view line, std::uint64_t& msg, std::uint64_t& size) {
    std::string_view rest;
    if (!split_number(line, msg, rest)) return false;
    NumberResult n = parse_number(rest.substr(0, rest.find(' ')));
    if (n.error != ParseError::none) return false;
    size = n.value;
    return true;
}

bool parse_uid_listing(std::string_view line, std::uint64_t& msg, std::string& uid) {
    std::string_view rest;
    if (!split_number(line, msg, rest)) return false;
    if (rest.empty() || rest.size() > kMaxUniqueId) return false;
    for (char c : rest)
        if (!is_uid_char(c)) return false;
    uid.assign(rest);
    return true;
}

std::size_t DotUnstuffer::feed(std::string_view in, std::string& out) {
    std::size_t i = 0;
    // fits - one more byte of the current line is within max_line_; else the response has failed.
    auto fits = [&](std::size_t n) {
        if (line_len_ + n <= max_line_) return true;
        status_ = Status::line_too_long;
        return false;
    };
    while (i < in.size() && status_ == Status::more) {
        const char c = in[i];
        switch (where_) {
        case Where::line_start:
            if (c == '.') {
                // RFC 1939 3: either the terminator or a stuffed dot; the next bytes say which, and
                // the dot itself is never part of the message in either case, nor of its line's length.
                where_ = Where::dot;
                ++i;
                continue;
            }
            where_ = Where::in_line;
            break;
        case Where::dot:
            if (c == '\r') {
                if (!fits(1)) return i;
                where_ = Where::dot_cr;
                ++line_len_;
                ++i;
                continue;
            }
            where_ = Where::in_line;   // "octets other than CRLF follow": the dot was stuffing
            break;
        case Where::dot_cr:
            if (c == '\n') {
                status_ = Status::done;   // CRLF "." CRLF: the end; what follows is the next response
                return i + 1;
            }
            // ".\r" and then no LF: the dot was stuffing and the CR is data.
            out += '\r';
            last_cr_ = true;
            where_ = Where::in_line;
            break;
        case Where::in_line:
            break;
        }
        // In a line: pass everything on up to and including the next LF in one piece.
        const void* hit = std::memchr(in.data() + i, '\n', in.size() - i);
        std::size_t end = hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - in.data()) : in.size();
        std::size_t seg = end - i;
        if (seg > 0) {
            if (line_len_ + seg > max_line_) {
                // Pass on what fits, exactly as a byte-at-a-time feed would, then fail.
                std::size_t room = max_line_ - line_len_;
                out.append(in.substr(i, room));
                line_len_ += room;
                status_ = Status::line_too_long;
                return i + room;
            }
            out.append(in.substr(i, seg));
            last_cr_ = in[end - 1] == '\r';
            line_len_ += seg;
            i = end;
        }
        if (!hit) break;
        out += '\n';
        ++i;
        line_len_ = 0;
        // Only CRLF starts a line: after a bare LF a dot is data, never stuffing or the end.
        where_ = last_cr_ ? Where::line_start : Where::in_line;
        last_cr_ = false;
    }
    return i;
}

std::optional<std::string> dot_unstuff(std::string_view wire, std::size_t max_line) {
    DotUnstuffer u(max_line);
    std::string out;
    std::size_t used = u.feed(wire, out);
    if (u.status() != DotUnstuffer::Status::done || used != wire.size()) return std::nullopt;
    return out;
}

}  // namespace mk::pop3
