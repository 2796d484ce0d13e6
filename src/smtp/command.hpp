// smtp/command.hpp — the SMTP command-line parser (RFC 5321 4.1, ESMTP parameters); pure, no I/O,
// fed untrusted lines with the CRLF already removed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"

namespace mk::smtp {

// RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF.
constexpr std::size_t kMaxCommandLine = 512 - 2;

enum class Verb { unknown, ehlo, helo, mail, rcpt, data, rset, noop, quit, vrfy, expn, help, starttls, auth, bdat, atrn };

struct Command {
    Verb verb = Verb::unknown;
    std::string_view args;   // everything after the verb and one space; trailing spaces trimmed
};

// parse_command - split the verb (case-insensitive) from its arguments.
Command parse_command(std::string_view line);

// RFC 3461 4.1 NOTIFY values as bits.
enum Notify : unsigned { kNotifyNever = 1, kNotifySuccess = 2, kNotifyFailure = 4, kNotifyDelay = 8 };

struct MailArgs {
    Address sender;                  // empty = null reverse-path
    std::optional<std::uint64_t> size;   // RFC 1870 SIZE=
    bool body_8bit = false;          // BODY=8BITMIME (RFC 6152)
    bool smtputf8 = false;           // RFC 6531 SMTPUTF8
    std::string ret;                 // RFC 3461 RET=FULL|HDRS
    std::string envid;               // RFC 3461 ENVID= (xtext, kept encoded)
    std::string auth;                // RFC 4954 AUTH= (kept, not trusted)
};

struct RcptArgs {
    Address recipient;
    unsigned notify = 0;             // 0 = not given
    std::string orcpt;               // RFC 3461 ORCPT=addr-type;xtext (kept encoded)
};

// Errors carry the reply the session should give; the parser decides nothing else.
struct ArgError {
    int code = 501;
    std::string_view esc;            // enhanced status subject.detail
    std::string text;
};

template <class T>
struct Parsed {
    std::optional<T> value;
    ArgError error;
    bool ok() const { return value.has_value(); }
};

// parse_mail_args - "FROM:<path> [params]". utf8_offered: the server advertises SMTPUTF8.
Parsed<MailArgs> parse_mail_args(std::string_view args);
// parse_rcpt_args - "TO:<path> [params]"; utf8 is the transaction's SMTPUTF8 state.
Parsed<RcptArgs> parse_rcpt_args(std::string_view args, bool utf8);

// RFC 1035 2.3.4: a label is at most 63 octets, a name at most 255.
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxHostname = 255;

// valid_helo_name - the EHLO/HELO argument is a domain or an address literal (RFC 5321 4.1.1.1).
// As Postfix's valid_hostname(), a label may hold '_' (Windows machine names do) and the name may
// end in '.'; U-labels are admitted as well-formed UTF-8 (RFC 6531 3.7.1). Nothing else: the name
// is written into Received: and the log.
bool valid_helo_name(std::string_view name);

// parse_atrn_domains - RFC 2645 5.2.1 "ATRN" [SP domain *("," domain)]: the arguments of ATRN as
// lowercase domains, each once, in the order given (none: an empty list, every domain the user may
// pull); nullopt when an item is empty or not a domain name (address literals are not domains here).
std::optional<std::vector<std::string>> parse_atrn_domains(std::string_view args);

// xtext_valid - RFC 3461 4 xtext ("+" HEXCHAR HEXCHAR for specials).
bool xtext_valid(std::string_view s);

}  // namespace mk::smtp
