// pop3/command.cpp — POP3 command parser and response encoders; every input byte is untrusted and every
// path through here is bounded by the input it was given (no allocation beyond a copy of it).
#include "pop3/command.hpp"

#include <array>
#include <limits>

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

// ascii_upper - one byte uppercased in ASCII only (no locale: the input is untrusted bytes).
char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

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
        if (spec.name.size() != keyword.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < keyword.size() && same; ++i) same = ascii_upper(keyword[i]) == spec.name[i];
        if (same) return &spec;
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

void DotStuffer::feed(std::string_view chunk, std::string& out) {
    std::size_t i = 0;
    while (i < chunk.size()) {
        if (line_start_) {
            // RFC 1939 3: "prepends the termination octet to that line of the response".
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
        // A bare LF would let a client that splits on LF alone see "\n.\r\n" as the end of the message.
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

std::string dot_stuff(std::string_view message) {
    std::string out;
    out.reserve(message.size() + message.size() / 64 + 3);
    DotStuffer s;
    s.feed(message, out);
    s.finish(out);
    return out;
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

}  // namespace mk::pop3
