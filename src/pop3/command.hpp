// pop3/command.hpp — POP3 command parser and response encoders (RFC 1939, 2449, 3206, 5034) for the
// server, and response parsers and the dot-unstuffer for the client; parses untrusted lines from either
// peer; pure code, no I/O and no Boost, so the fuzz targets build with the compiler alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mk::pop3 {

// A command line may be 255 octets, CRLF included (RFC 2449 4, raised from RFC 1939's 47).
constexpr std::size_t kMaxCommandLine = 255;
// What the line reader may hand the parser: the command line without its CRLF.
constexpr std::size_t kMaxCommandText = kMaxCommandLine - 2;
// An AUTH continuation line (base64 SASL response). RFC 5034 4 sets no figure; 12288 octets is the one
// RFC 4954 4 gives SMTP AUTH, far above what PLAIN needs.
constexpr std::size_t kMaxAuthLine = 12288;
// Keywords are three or four characters (RFC 1939 3).
constexpr std::size_t kMinKeyword = 3;
constexpr std::size_t kMaxKeyword = 4;
// POP3 commands take at most two arguments (TOP msg n).
constexpr std::size_t kMaxArgs = 2;
// A unique-id listing is 1 to 70 characters in 0x21..0x7E (RFC 1939 7, UIDL).
constexpr std::size_t kMaxUniqueId = 70;

enum class Verb { user, pass, auth, stat, list, retr, dele, noop, rset, quit, top, uidl, capa, stls };

// Why a line is not a command; each maps to one short -ERR text (error_text).
enum class ParseError {
    none,
    empty,             // nothing on the line
    too_long,          // over kMaxCommandText
    bad_keyword,       // not 3-4 ASCII letters
    unknown_command,   // well-formed keyword that we do not implement (APOP, XTND, ...)
    bad_spacing,       // leading or doubled space: arguments are separated by exactly one SP
    bad_character,     // a control character (NUL, TAB, bare CR, DEL) in the line
    missing_argument,
    extra_argument,
    bad_number,        // not a plain decimal: sign, '+', letters, empty
    no_such_message,   // message number 0, or too large to name any message
    number_too_large,  // TOP line count past 2^64-1
};

struct Command {
    Verb verb = Verb::noop;
    std::vector<std::string> args;     // as sent; PASS: the rest of the line, spaces included
    std::optional<std::uint64_t> msg;  // LIST/UIDL (if given), RETR, DELE, TOP: message number, >= 1
    std::uint64_t lines = 0;           // TOP: body lines wanted
};

struct ParseResult {
    ParseError error = ParseError::none;
    Command command;   // meaningful only when ok()
    bool ok() const { return error == ParseError::none; }
};

// parse_command - one command line (terminator already removed) into a verb and checked arguments.
ParseResult parse_command(std::string_view line);

struct NumberResult {
    ParseError error = ParseError::none;   // none, bad_number or number_too_large
    std::uint64_t value = 0;
};
// parse_number - a non-empty run of ASCII digits, no sign, overflow detected rather than wrapped.
NumberResult parse_number(std::string_view text);

// verb_name - the keyword as RFC 1939 spells it, for logs.
std::string_view verb_name(Verb verb);
// error_text - the short text after "-ERR " for a parse error; never echoes client input.
std::string_view error_text(ParseError error);

// Extended response codes (RFC 2449 8, RFC 3206 4-5), sent in brackets after -ERR.
enum class RespCode { none, auth, in_use, login_delay, sys_temp, sys_perm };

// A status line as a typed value; format_reply turns it into wire bytes.
struct Reply {
    bool ok = true;
    RespCode code = RespCode::none;
    std::string text;

    static Reply success(std::string text) { return Reply{true, RespCode::none, std::move(text)}; }
    static Reply failure(std::string text, RespCode code = RespCode::none) {
        return Reply{false, code, std::move(text)};
    }
};

// resp_code_text - "AUTH", "IN-USE", "SYS/TEMP"..., empty for none.
std::string_view resp_code_text(RespCode code);
// format_reply - "+OK text\r\n" or "-ERR [CODE] text\r\n"; control characters in text become spaces.
std::string format_reply(const Reply& reply);

// TopFilter - the part of a message that TOP msg n returns (RFC 1939 7): the header, the blank line
// and the first n body lines; the whole message when it has fewer. Fed in chunks, as DotStuffer
// (net/dot_stuffer) is.
class TopFilter {
public:
    explicit TopFilter(std::uint64_t body_lines) : remaining_(body_lines) {}
    // feed - the prefix of chunk that belongs to the output (all of it, part, or none once done()).
    std::string_view feed(std::string_view chunk);
    // done - everything wanted has passed; the rest of the file need not be read.
    bool done() const { return done_; }

private:
    std::uint64_t remaining_;   // body lines still to pass
    bool in_header_ = true;
    bool done_ = false;
    std::size_t line_len_ = 0;  // bytes of the current line seen so far, its LF excluded
    bool line_cr_only_ = false; // the current line so far is exactly "\r"
};

// top_of - the whole TOP body (dot-stuffed, terminated) of a message held in memory.
std::string top_of(std::string_view message, std::uint64_t body_lines);

// unique_id - the UIDL of a message from its Maildir uid: the uid itself when RFC 1939 allows it,
// otherwise a stable digest of it (same uid, same UIDL, in every session, which is what clients rely on).
std::string unique_id(std::string_view maildir_uid);

// ---- Client side: what a POP3 server answers (untrusted: the provider's server, when fetching) ----

// A response line may be 512 octets, CRLF included (RFC 2449 4).
constexpr std::size_t kMaxResponseLine = 512;
// What the line reader may hand the response parser: the line without its CRLF.
constexpr std::size_t kMaxResponseText = kMaxResponseLine - 2;
// A line of a RETR/TOP body, LF excluded. RFC 5322 2.1.1 allows 998 octets, but real mail carries longer
// lines (HTML without breaks) and the client passes them on untouched; 64 KiB without a single LF is no
// message but a server sending garbage, and the retrieval fails rather than cut the message silently.
constexpr std::size_t kMaxMessageLine = 64 * 1024;

// The status indicator of a response line (RFC 1939 3), or "+" for an AUTH continuation (RFC 5034 4).
enum class Indicator { ok, err, more };

struct Response {
    Indicator indicator = Indicator::err;
    RespCode code = RespCode::none;   // -ERR [CODE] (RFC 2449 8); an unknown code is none
    std::string text;                 // after the indicator (and code), control characters made spaces;
                                      // for "+": the base64 challenge as sent
};

// parse_response - a status line without its CRLF; nullopt when it starts with neither "+OK", "-ERR"
// nor (only when continuation is true) "+" followed by a space or the end of the line.
std::optional<Response> parse_response(std::string_view line, bool continuation = false);

// What a server announced in its CAPA response (RFC 2449 5, 6).
struct Capabilities {
    bool top = false;          // 6.1
    bool user = false;         // 6.2
    bool resp_codes = false;   // 6.4
    bool pipelining = false;   // 6.6
    bool uidl = false;         // 6.7
    bool stls = false;         // RFC 2595 4
    std::vector<std::string> sasl;   // 6.3 mechanisms, uppercased, each once
};

// add_capability - one line of a CAPA response (unstuffed, terminator excluded) into caps; unknown
// capabilities are ignored, as RFC 2449 5 asks.
void add_capability(Capabilities& caps, std::string_view line);

// parse_scan_listing - one line of a LIST response (RFC 1939 5): "msg size", anything after a further
// space ignored ("This memo makes no requirement on what follows the message size"). The number is >= 1.
bool parse_scan_listing(std::string_view line, std::uint64_t& msg, std::uint64_t& size);
// parse_uid_listing - one line of a UIDL response (RFC 1939 7): "msg uid", the uid 1 to kMaxUniqueId
// characters in 0x21..0x7E. The number is >= 1.
bool parse_uid_listing(std::string_view line, std::uint64_t& msg, std::string& uid);

// DotUnstuffer - decodes the body of a multi-line RETR/TOP response (RFC 1939 3) as it arrives, in chunks
// cut anywhere: strips the byte-stuffed leading dot of a line and stops at the terminating line. Only
// CRLF "." CRLF ends the response (the status line's CRLF counts as the first): a "." after a bare LF
// or a bare CR is data, so a server or a man in the middle cannot end a message early with "\n.\n";
// a bare LF or CR is passed on as it came and does not start a line. Line ends are not rewritten: the
// output is the stored message, byte for byte. A line longer than max_line bytes (counted up to the
// next LF, any LF, without the stuffed dot) is an error, never a silent cut.
class DotUnstuffer {
public:
    enum class Status { more, done, line_too_long };

    explicit DotUnstuffer(std::size_t max_line = kMaxMessageLine) : max_line_(max_line) {}
    // feed - decode the next bytes, appending message bytes to out (never more than in.size()); returns
    // how many bytes of in were used: all of them while status() is more; up to and including the
    // terminator once it is done (the rest belongs to the next response); up to the first byte past the
    // line limit when it failed. Does nothing once status() is not more.
    std::size_t feed(std::string_view in, std::string& out);
    Status status() const { return status_; }

private:
    enum class Where { line_start, dot, dot_cr, in_line };

    std::size_t max_line_;
    Status status_ = Status::more;
    Where where_ = Where::line_start;
    bool last_cr_ = false;        // in_line: the last byte passed on was a CR (an LF now ends the line)
    std::size_t line_len_ = 0;    // bytes since the last LF
};

// dot_unstuff - the whole body of a multi-line response held in memory (tests): nullopt unless it
// ends exactly at its terminator.
std::optional<std::string> dot_unstuff(std::string_view wire, std::size_t max_line = kMaxMessageLine);

}  // namespace mk::pop3
