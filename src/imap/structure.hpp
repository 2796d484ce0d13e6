// imap/structure.hpp — a stored message as IMAP shows it (RFC 9051 7.5.2, RFC 3501 7.4.2): its MIME
// tree with where each part's header and body lie, so that BODY[1.2], BODY[2.HEADER], BODY[1.MIME]
// and BINARY[...] are byte ranges of the file; and ENVELOPE, BODY and BODYSTRUCTURE formatted as the
// FETCH response carries them. Hand-written, one pass, bounded (kMaxPartDepth, kMaxParts, header
// lines); any byte sequence parses: malformed MIME degrades as Dovecot 2.3's parser does (a multipart
// whose boundary never comes, or that has no boundary parameter, has no parts and BODYSTRUCTURE shows
// one empty text/plain part, with what there is in its preamble; a missing Content-Type is text/plain
// us-ascii; message/rfc822 without a header block is an empty message). Pure: no I/O; the caller
// reads the file (CRLF line ends: LF-only files are converted by the caller before parsing).
// The ranges are the file's octets as they are: a NUL in them is the sender's to replace (Dovecot
// sends it as 0x80; no IMAP literal may carry NUL, RFC 3501 4.3). What this module formats itself
// (ENVELOPE, BODYSTRUCTURE, imap_string) carries a NUL as U+FFFD, as Dovecot does.
// tests/blackbox/test_imap_structure_dovecot.py compares all of it with Dovecot 2.3, octet for octet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mk::imap {

constexpr std::size_t kMaxPartDepth = 32;   // nested multiparts and message/rfc822
constexpr std::size_t kMaxParts = 2000;     // parts in one message; the rest is left in its parent's body

struct ByteRange {
    std::size_t offset = 0, length = 0;
    std::string_view of(std::string_view message) const { return message.substr(offset, length); }
};

struct BodyPart {
    ByteRange header;        // the part's header lines and the empty line after them (BODY[n.MIME]; for
                             // the top level BODY[HEADER])
    ByteRange body;          // what follows (BODY[n], BODY[TEXT] at the top level), without the CRLF that
                             // belongs to the next boundary
    std::uint64_t lines = 0; // text/* and message/rfc822: lines in the body (RFC 9051 7.5.2)
    std::string type = "text", subtype = "plain";   // lower case, as they are compared
    // Content-Type as the header spells it, for BODYSTRUCTURE: Dovecot sends the case it found
    // ("TEXT" "Plain") and so do we. has_content_type is false when the header has none (type and
    // subtype then hold the default: text/plain, or message/rfc822 inside multipart/digest); one that
    // is not type/subtype ("text;") leaves all four empty (Dovecot's "" "").
    bool has_content_type = false;
    std::string type_as_sent, subtype_as_sent;
    // Content-Type parameters as BODYSTRUCTURE carries them (names in their case): RFC 2231
    // continuations joined ("name*0", "name*1" -> "name"), an extended value left encoded under
    // "name*" ("utf-8'de'%C3%84rger.pdf"), as Dovecot sends it and RFC 2231 clients decode it;
    // param() gives a value decoded to UTF-8.
    std::vector<std::pair<std::string, std::string>> params;
    std::optional<std::string> id, description;     // Content-ID, Content-Description (raw)
    std::string encoding = "7bit";                  // Content-Transfer-Encoding's token, lower case (what
                                                    // decoded() goes by; "" when the field names none)
    std::optional<std::string> encoding_as_sent;    // as spelled ("BASE64"), for BODYSTRUCTURE; nullopt: absent
    std::optional<std::string> md5;                 // Content-MD5
    std::optional<std::string> disposition;         // Content-Disposition type
    std::vector<std::pair<std::string, std::string>> disposition_params;   // as params
    std::optional<std::string> language, location;  // Content-Language (raw list), Content-Location
    std::vector<BodyPart> parts;   // multipart/*: its parts; message/rfc822 (and message/global): one, the
                                   // enclosed message, whose header is that message's header
};

// parse - the MIME tree of a whole message (the root's header is the message's header).
BodyPart parse(std::string_view message);

// find - the part a section's part numbers name (RFC 9051 6.4.5: "1.2" is {1, 2}; {} the message
// itself; a part number into a non-multipart names the part itself for 1 only; numbers after a
// message/rfc822 part's go into its enclosed message); nullptr when absent (a multipart without parts
// has none: Dovecot answers such a section with an empty string).
const BodyPart* find(const BodyPart& root, const std::vector<std::uint32_t>& path);

// envelope - ENVELOPE of a header block, as the FETCH response carries it: "(date subject (from)
// (sender) (reply-to) (to) (cc) (bcc) in-reply-to message-id)" with NIL where absent, sender and
// reply-to defaulting to from, addresses parsed with groups (RFC 9051 7.5.2), strings quoted or as
// literals where they must be, encoded words left as they are. As Dovecot 2.3: a field given twice
// counts with its last text, or with the addresses of all; the subject is cleaned for humans (runs
// of blanks and line ends made one space, none at the ends); an address that does not parse is
// filled in (MISSING_MAILBOX, MISSING_DOMAIN, SYNTAX_ERROR, INVALID_ROUTE).
std::string envelope(std::string_view header);

// body_structure - BODYSTRUCTURE (extensible: MD5, disposition, language, location) or BODY (not
// extensible) of part, formatted with its outer parentheses: "(\"text\" \"plain\" ...)"; message is
// what part's ranges index into (a message/rfc822 part carries its enclosed message's ENVELOPE and
// structure). Types, subtypes, encodings and parameter names in the case they were sent (Dovecot's
// way); message/global like message/rfc822 (RFC 9051 7.5.2; Dovecot 2.3 shows it as a basic part).
std::string body_structure(const BodyPart& part, std::string_view message, bool extensible);

// header_fields - the header lines of header whose names are (or, not_, are not) in names,
// compared case-insensitively, in their order, with the empty line after them (RFC 9051 6.4.5
// HEADER.FIELDS and HEADER.FIELDS.NOT); a header without its empty line ends as Dovecot ends it.
std::string header_fields(std::string_view header, const std::vector<std::string>& names, bool not_);

// decoded - a part's body without its Content-Transfer-Encoding (base64, quoted-printable; others as
// they are) for BINARY[...] (RFC 3516); nullopt when the encoding is unknown or broken (the session
// answers [UNKNOWN-CTE]). Base64 skips blanks and line ends; a character outside the alphabet, or data
// that ends inside a quantum, is broken (Dovecot refuses both).
std::optional<std::string> decoded(const BodyPart& part, std::string_view message);
// decoded_text - a text part's body as UTF-8: decoded() and converted from its charset parameter
// (US-ASCII when it has none) for SEARCH BODY and TEXT (RFC 3501 6.4.4); nullopt when either fails.
std::optional<std::string> decoded_text(const BodyPart& part, std::string_view message);

// header_value - the unfolded value of the first header field name in header (for SEARCH HEADER,
// SUBJECT, FROM ...), nullopt when absent; encoded words are decoded to UTF-8 (RFC 2047).
std::optional<std::string> header_value(std::string_view header, std::string_view name);

// param - the value of parameter name (case-insensitive) in params (a part's params or
// disposition_params), an RFC 2231 extended value ("name*") decoded to UTF-8 from its charset;
// nullopt when absent or when its charset is unknown.
std::optional<std::string> param(const std::vector<std::pair<std::string, std::string>>& params,
                                 std::string_view name);

// imap_string - s as an IMAP string: quoted when it can be, a literal otherwise (CR, LF, NUL, 8-bit
// octets, or more than 4 characters to escape, as Dovecot decides); NIL for nullopt.
std::string imap_string(const std::optional<std::string>& s);

}  // namespace mk::imap
