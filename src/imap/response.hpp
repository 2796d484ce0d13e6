// imap/response.hpp — streaming IMAP4rev1 response parser (RFC 3501 7, 9) and command-argument
// encoders; parses bytes from an untrusted server; pure code, no I/O and no Boost, so the fuzz target
// builds with the compiler alone.
//
// The parser is fed whatever the socket delivered and stops after one complete response, so the
// bytes after it stay with the caller (STARTTLS must see that nothing follows its OK). Everything
// but the message bodies is held in bounded memory: the response text (every line, literal
// markers included, literal contents excluded) is at most kMaxLine octets, small literals inside
// it at most kMaxInlineLiterals octets, lists nest at most kMaxDepth deep. A message body (the
// literal of a FETCH BODY[...], BINARY[...] or RFC822 item) is never stored: its bytes go to a sink
// in the pieces they arrived in, bounded by the caller's max_literal. A body sent as a quoted string
// instead (nstring) is held in the response text and meets the same bound before it reaches the sink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mk::imap {

// RFC 3501 sets no line limit; RFC 7162 4 asks servers to accept 8192-octet command lines and
// Dovecot's imap_max_line_length is 64 KiB. A response's own text (all its lines, literals left
// out) beyond 64 KiB is a server talking without end.
constexpr std::size_t kMaxLine = 64 * 1024;
// Literals that are not message bodies (a mailbox name, a header string in a listing) are kept in
// the response; together at most this many octets (the same figure as the line: a body is streamed).
constexpr std::size_t kMaxInlineLiterals = 64 * 1024;
// Literals in one response. An ENVELOPE has a few dozen strings; a response with more is hostile,
// and each one costs a re-parse of the response so far (at most kMaxLine octets).
constexpr std::size_t kMaxLiterals = 256;
// Parenthesised lists nest this deep at most. BODYSTRUCTURE of a message/rfc822 inside a multipart
// is 5-6 levels; 16 is generous and keeps the recursive parser's stack small.
constexpr std::size_t kMaxDepth = 16;
// RFC 3501 9: "number" is 32 bits; RFC 9051 9 widens sizes to number64. Literal sizes are 64-bit
// here too, then checked against the caller's limit.
constexpr std::size_t kMaxNumberDigits = 20;

// Why bytes are not a response. Each maps to a short text (error_text) for the log.
enum class ParseError {
    none,
    line_too_long,        // response text over kMaxLine
    bad_line_end,         // a bare CR or LF: every line ends in CRLF (RFC 3501 2.2)
    bad_character,        // NUL in a line (RFC 3501 9 CHAR excludes it), or a control in an atom
    bad_tag,              // not "*", "+" or a tag of ASTRING-CHARs
    bad_status,           // tagged response that is not OK/NO/BAD
    bad_syntax,           // anything else the grammar does not allow
    bad_number,           // not digits, zero where nz-number is required, or over 32 bits
    unterminated_quote,   // a line ended inside a quoted string
    bad_quote_escape,     // backslash before something other than '"' or '\'
    bad_response_code,    // "[" without "]", or a known code with a bad argument
    bad_literal,          // "{...}" that is not digits, or too many literals
    literal_too_large,    // a body over the caller's limit, or small literals over kMaxInlineLiterals
    too_deep,             // lists nested over kMaxDepth
};

// error_text - a short description of a parse error, for logs (never echoes server input).
std::string_view error_text(ParseError error);

enum class Kind { untagged, tagged, continuation };
enum class Status { none, ok, no, bad, preauth, bye };

// A parsed value of the generic grammar (RFC 3501 4).
enum class ValueKind { nil, atom, number, string, list, body };
struct Value {
    ValueKind kind = ValueKind::nil;
    std::string text;              // atom as sent, number's digits, string decoded (quoted or literal)
    std::uint64_t number = 0;      // number: its value; body: the literal's size (its bytes went to the sink)
    std::vector<Value> list;
    bool operator==(const Value&) const = default;
};

// One FETCH data item (RFC 3501 7.4.2): name uppercased with its section ("UID", "RFC822.SIZE",
// "BODY[]", "BODY[HEADER.FIELDS (FROM)]<0>"), then its value.
struct FetchItem {
    std::string name;
    Value value;
    bool operator==(const FetchItem&) const = default;
};

// A response code in brackets (RFC 3501 7.1): name uppercased; text after the name as sent.
struct ResponseCode {
    std::string name;                       // empty: no code
    std::string text;
    std::optional<std::uint32_t> number;    // UIDVALIDITY, UIDNEXT, UNSEEN (nz-number)
    bool operator==(const ResponseCode&) const = default;
};

struct Response {
    Kind kind = Kind::untagged;
    std::string tag;                        // tagged only
    Status status = Status::none;           // OK/NO/BAD (tagged or untagged), PREAUTH, BYE
    std::string name;                       // keyword uppercased: "OK", "CAPABILITY", "EXISTS", "FETCH", "FLAGS"...
    std::optional<std::uint32_t> number;    // "* 3 EXISTS", "* 3 FETCH": the number before the name
    ResponseCode code;
    std::string text;                       // status text, or all of a continuation after "+ "
    std::vector<std::string> capabilities;  // CAPABILITY data or [CAPABILITY ...], uppercased
    std::vector<FetchItem> fetch;           // FETCH items in order
    std::vector<Value> values;              // any other data response: the values after its name
    bool operator==(const Response&) const = default;

    // item - the FETCH item of that (uppercased) name, or nullptr.
    const FetchItem* item(std::string_view item_name) const;
    // fetch_uid - the UID item of a FETCH response, when present.
    std::optional<std::uint32_t> fetch_uid() const;
    // has_capability - an uppercased capability name in capabilities.
    bool has_capability(std::string_view cap) const;
};

// A piece of a message body, as it arrives. item, seq and uid describe the FETCH it belongs to
// (uid: the UID item when it came before the body, as servers send it); offset counts from the
// body's first octet. A body with no octets produces no piece.
struct BodyPiece {
    std::uint32_t seq = 0;
    std::string_view item;
    std::optional<std::uint32_t> uid;
    std::uint64_t size = 0;
    std::uint64_t offset = 0;
    std::string_view data;
};
using BodySink = std::function<void(const BodyPiece&)>;

namespace detail {
// A literal seen so far: where its marker "{n}" starts in the response text, and its content when
// it is kept (not a streamed body).
struct Literal {
    std::size_t marker = 0;
    std::uint64_t size = 0;
    bool streamed = false;
    std::string bytes;
};
}  // namespace detail

// ResponseParser - one response at a time from a byte stream. The result does not depend on how
// the bytes are split between calls to feed(). After done(), take() the response and feed the rest.
class ResponseParser {
public:
    // max_literal - the largest message body accepted (octets).
    explicit ResponseParser(std::uint64_t max_literal) : max_literal_(max_literal) {}

    // feed - consume bytes up to the end of the current response (the rest is left unconsumed) and
    // return how many were used; body bytes go to sink (may be empty: discarded). Consumes nothing
    // once done() or failed(). The sink may throw; the parser is then unusable.
    std::size_t feed(std::string_view in, const BodySink& sink);

    bool done() const { return phase_ == Phase::done; }
    bool failed() const { return phase_ == Phase::failed; }
    ParseError error() const { return error_; }
    // in_body - inside a streamed body literal (for a caller explaining where a connection broke).
    bool in_body() const { return phase_ == Phase::literal && streamed_; }
    const Response& response() const { return response_; }
    // take - the finished response; the parser starts over for the next one.
    Response take();

private:
    enum class Phase { line, line_cr, literal, done, failed };

    void fail(ParseError e);
    void end_of_line(const BodySink& sink);
    void start_literal(std::size_t marker, std::uint64_t size);
    bool body_fits(std::uint64_t size) const;
    void reset();

    std::uint64_t max_literal_;
    Phase phase_ = Phase::line;
    ParseError error_ = ParseError::none;
    std::string text_;                  // the response without literal contents, CRLF after markers
    std::size_t segment_ = 0;           // where the current line starts in text_
    bool literals_allowed_ = false;     // decided by the first line: status responses have none
    std::vector<detail::Literal> literals_;
    std::size_t inline_bytes_ = 0;
    // The literal being read.
    std::uint64_t remaining_ = 0;
    bool streamed_ = false;
    BodyPiece piece_;
    std::string piece_item_;
    Response response_;
};

// parse_response - a whole response held in memory (tests); body bytes appended to body.
struct ParseResult {
    ParseError error = ParseError::none;
    std::size_t consumed = 0;
    bool complete = false;
    Response response;
    std::string body;
};
ParseResult parse_response(std::string_view bytes, std::uint64_t max_literal);

// ---- Encoders for command arguments (client side) ----

// quote - an IMAP quoted string (RFC 3501 9): '"' and '\' escaped. nullopt when s holds CR, LF or
// NUL (no quoted string or literal may carry them) or 8-bit octets (a quoted string may not; the
// caller sends a literal instead, or refuses).
std::optional<std::string> quote(std::string_view s);
// needs_literal - s is sendable (no CR, LF, NUL) but only as a literal: it has 8-bit octets.
bool needs_literal(std::string_view s);
// encode_mailbox - a UTF-8 mailbox name in modified UTF-7 (RFC 3501 5.1.3), e.g. "Entwürfe" ->
// "Entw&APw-rfe"; nullopt for invalid UTF-8 or a control character.
std::optional<std::string> encode_mailbox(std::string_view utf8);
// uid_set - ascending, de-duplicated UIDs as an RFC 3501 9 sequence-set with ranges ("1:3,7").
std::string uid_set(std::vector<std::uint32_t> uids);

}  // namespace mk::imap
