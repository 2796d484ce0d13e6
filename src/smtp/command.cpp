// smtp/command.cpp — SMTP verbs and MAIL/RCPT arguments; every input yields a command or an error.
#include "smtp/command.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "core/text.hpp"
#include "smtp/reply.hpp"

namespace mk::smtp {

namespace {

std::string_view trim_right(std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

constexpr std::array<std::pair<std::string_view, Verb>, 15> kVerbs{{
    {"EHLO", Verb::ehlo}, {"HELO", Verb::helo}, {"MAIL", Verb::mail}, {"RCPT", Verb::rcpt},
    {"DATA", Verb::data}, {"RSET", Verb::rset}, {"NOOP", Verb::noop}, {"QUIT", Verb::quit},
    {"VRFY", Verb::vrfy}, {"EXPN", Verb::expn}, {"HELP", Verb::help}, {"STARTTLS", Verb::starttls},
    {"AUTH", Verb::auth}, {"BDAT", Verb::bdat}, {"ATRN", Verb::atrn},
}};

// Strip "FROM:" / "TO:" (case-insensitive); a space after the colon is tolerated, as most MTAs do.
std::optional<std::string_view> strip_keyword(std::string_view args, std::string_view kw) {
    if (args.size() < kw.size() || !iequals(args.substr(0, kw.size()), kw)) return std::nullopt;
    args.remove_prefix(kw.size());
    while (!args.empty() && args.front() == ' ') args.remove_prefix(1);
    return args;
}

// Split "KEY[=VALUE] KEY[=VALUE]" after the path; each call yields one parameter.
struct Param {
    std::string_view key, value;
    bool has_value = false;
};

std::optional<std::vector<Param>> split_params(std::string_view rest) {
    std::vector<Param> out;
    if (!rest.empty() && rest.front() != ' ') return std::nullopt;   // "<a@b>X" is not a parameter
    while (!rest.empty()) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        if (rest.empty()) break;
        auto sp = rest.find(' ');
        std::string_view tok = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp);
        Param p;
        auto eq = tok.find('=');
        p.key = tok.substr(0, eq);
        if (eq != std::string_view::npos) {
            p.value = tok.substr(eq + 1);
            p.has_value = true;
        }
        if (p.key.empty()) return std::nullopt;
        out.push_back(p);
    }
    return out;
}

// is_atom - RFC 5322 3.2.3 atom: atext only (letters, digits and "!#$%&'*+-/=?^_`{|}~").
bool is_atom(std::string_view s) {
    constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  kSpecials.find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return !s.empty();
}

bool has_non_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return true;
    return false;
}

template <class T>
Parsed<T> fail(int code, std::string_view esc, std::string text) {
    return Parsed<T>{std::nullopt, ArgError{code, esc, std::move(text)}};
}

ArgError path_error(PathError e, bool sender) {
    switch (e) {
        case PathError::too_long:
            return {501, sender ? esc::kBadSenderSyntax : esc::kBadDestSyntax, "address too long"};
        case PathError::utf8_not_allowed:
            return {553, esc::kSmtpUtf8Required, "UTF-8 address needs SMTPUTF8"};
        default:
            return {501, sender ? esc::kBadSenderSyntax : esc::kBadDestSyntax, "bad address syntax"};
    }
}

}  // namespace

Command parse_command(std::string_view line) {
    auto sp = line.find(' ');
    std::string_view verb = line.substr(0, sp);
    Command c;
    c.args = sp == std::string_view::npos ? std::string_view{} : trim_right(line.substr(sp + 1));
    for (auto& [name, v] : kVerbs)
        if (iequals(verb, name)) c.verb = v;
    return c;
}

bool valid_helo_name(std::string_view name) {
    if (name.starts_with('[')) return is_address_literal(name);
    if (name.ends_with('.')) name.remove_suffix(1);
    if (name.empty() || name.size() > kMaxHostname || !valid_utf8(name)) return false;
    while (true) {
        std::string_view label = name.substr(0, name.find('.'));
        if (label.empty() || label.size() > kMaxLabel || label.front() == '-' || label.back() == '-') return false;
        for (unsigned char c : label) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c >= 0x80;
            if (!ok) return false;
        }
        if (label.size() == name.size()) return true;
        name.remove_prefix(label.size() + 1);
    }
}

std::optional<std::vector<std::string>> parse_atrn_domains(std::string_view args) {
    std::vector<std::string> out;
    if (args.empty()) return out;
    for (;;) {
        auto comma = args.find(',');
        std::string_view item = args.substr(0, comma);
        if (item.starts_with('[') || !valid_helo_name(item)) return std::nullopt;
        if (item.ends_with('.')) item.remove_suffix(1);   // "example.org." is example.org
        std::string domain = lowercase_ascii(item);
        if (std::find(out.begin(), out.end(), domain) == out.end()) out.push_back(std::move(domain));
        if (comma == std::string_view::npos) return out;
        args.remove_prefix(comma + 1);
    }
}

bool xtext_valid(std::string_view s) {
    auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '+') {
            if (i + 2 >= s.size() || !hex(s[i + 1]) || !hex(s[i + 2])) return false;
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return false;
        }
    }
    return true;
}

Parsed<MailArgs> parse_mail_args(std::string_view args) {
    auto rest = strip_keyword(args, "FROM:");
    if (!rest) return fail<MailArgs>(501, esc::kSyntax, "syntax: MAIL FROM:<address>");
    // SMTPUTF8 is a parameter after the path, so the path is parsed permissively first.
    PathResult path = parse_path(*rest, true, true);
    if (path.error != PathError::none) {
        ArgError e = path_error(path.error, true);
        return fail<MailArgs>(e.code, e.esc, e.text);
    }
    auto params = split_params(rest->substr(path.consumed));
    if (!params) return fail<MailArgs>(501, esc::kSyntax, "bad parameter syntax");
    MailArgs m;
    m.sender = path.address;
    for (const Param& p : *params) {
        if (iequals(p.key, "SIZE") && p.has_value) {
            std::uint64_t n = 0;
            auto [ptr, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
            if (ec != std::errc() || ptr != p.value.data() + p.value.size())
                return fail<MailArgs>(501, esc::kBadArgs, "bad SIZE value");
            m.size = n;
        } else if (iequals(p.key, "BODY") && p.has_value) {
            if (iequals(p.value, "8BITMIME")) m.body_8bit = true;
            else if (!iequals(p.value, "7BIT")) return fail<MailArgs>(501, esc::kBadArgs, "bad BODY value");
        } else if (iequals(p.key, "SMTPUTF8") && !p.has_value) {
            m.smtputf8 = true;
        } else if (iequals(p.key, "RET") && p.has_value) {
            if (!iequals(p.value, "FULL") && !iequals(p.value, "HDRS"))
                return fail<MailArgs>(501, esc::kBadArgs, "bad RET value");
            m.ret = iequals(p.value, "FULL") ? "FULL" : "HDRS";
        } else if (iequals(p.key, "ENVID") && p.has_value) {
            if (p.value.size() > 100 || !xtext_valid(p.value))   // RFC 3461 4.4: at most 100 chars
                return fail<MailArgs>(501, esc::kBadArgs, "bad ENVID value");
            m.envid = p.value;
        } else if (iequals(p.key, "AUTH") && p.has_value) {
            m.auth = p.value;   // RFC 4954 5: kept only; we do not trust another MTA's claim
        } else {
            return fail<MailArgs>(555, esc::kBadArgs, "unsupported MAIL parameter");
        }
    }
    if (!m.smtputf8 && has_non_ascii(m.sender.str()))
        return fail<MailArgs>(553, esc::kSmtpUtf8Required, "UTF-8 address needs SMTPUTF8");
    return Parsed<MailArgs>{m, {}};
}

Parsed<RcptArgs> parse_rcpt_args(std::string_view args, bool utf8) {
    auto rest = strip_keyword(args, "TO:");
    if (!rest) return fail<RcptArgs>(501, esc::kSyntax, "syntax: RCPT TO:<address>");
    PathResult path = parse_path(*rest, false, utf8);
    if (path.error != PathError::none) {
        ArgError e = path_error(path.error, false);
        return fail<RcptArgs>(e.code, e.esc, e.text);
    }
    auto params = split_params(rest->substr(path.consumed));
    if (!params) return fail<RcptArgs>(501, esc::kSyntax, "bad parameter syntax");
    RcptArgs r;
    r.recipient = path.address;
    for (const Param& p : *params) {
        if (iequals(p.key, "NOTIFY") && p.has_value) {
            std::string_view v = p.value;
            while (!v.empty()) {
                auto comma = v.find(',');
                std::string_view item = v.substr(0, comma);
                v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
                if (iequals(item, "NEVER")) r.notify |= kNotifyNever;
                else if (iequals(item, "SUCCESS")) r.notify |= kNotifySuccess;
                else if (iequals(item, "FAILURE")) r.notify |= kNotifyFailure;
                else if (iequals(item, "DELAY")) r.notify |= kNotifyDelay;
                else return fail<RcptArgs>(501, esc::kBadArgs, "bad NOTIFY value");
            }
            // RFC 3461 4.1: NEVER excludes every other keyword.
            if ((r.notify & kNotifyNever) && r.notify != kNotifyNever)
                return fail<RcptArgs>(501, esc::kBadArgs, "NOTIFY=NEVER with other values");
        } else if (iequals(p.key, "ORCPT") && p.has_value) {
            // RFC 3461 4.2: ORCPT=addr-type ";" xtext, addr-type an atom.
            auto semi = p.value.find(';');
            if (semi == std::string_view::npos || semi == 0 || !is_atom(p.value.substr(0, semi)) ||
                !xtext_valid(p.value.substr(semi + 1)) || p.value.size() > 500)
                return fail<RcptArgs>(501, esc::kBadArgs, "bad ORCPT value");
            r.orcpt = p.value;
        } else {
            return fail<RcptArgs>(555, esc::kBadArgs, "unsupported RCPT parameter");
        }
    }
    return Parsed<RcptArgs>{r, {}};
}

}  // namespace mk::smtp
