// imap/command.hpp — the IMAP server's command parser (RFC 9051 9, RFC 3501 9, and the extensions the
// server offers: UIDPLUS, MOVE, CONDSTORE/QRESYNC, ESEARCH, LIST-EXTENDED/LIST-STATUS, ENABLE, ID,
// LITERAL+/-, SASL-IR, BINARY, UNSELECT, MULTIAPPEND). What an untrusted client sent, as typed
// arguments; pure: no I/O. The session assembles a command from its lines and literals
// (literal_at_end says when a line announces one) and parses it whole; APPEND's message literals
// never reach the parser: the session streams them to the spool (append_head says which literal is
// a message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mk::imap {

// RFC 7162 4 asks servers to take command lines of 8192 octets at least; Dovecot takes 64 KiB.
constexpr std::size_t kMaxCommandLine = 64 * 1024;
// A whole command: its lines and the literals in it (mailbox names, search strings, passwords),
// APPEND's messages not counted. Anything larger is not a client's honest command.
constexpr std::size_t kMaxCommandSize = 256 * 1024;
// Parenthesised nesting (SEARCH keys), ranges in a sequence set, search keys in a program.
constexpr std::size_t kMaxNesting = 16;
constexpr std::size_t kMaxSetRanges = 10000;
constexpr std::size_t kMaxSearchKeys = 1000;

// The largest message number or UID; "*" in a set stands for the largest in the mailbox.
constexpr std::uint32_t kStar = 0xffffffffu;

// A literal's announcement at the end of a line (RFC 9051 4.3, RFC 7888 LITERAL+, RFC 3516 literal8).
struct LiteralMark {
    std::uint64_t size = 0;
    bool synchronizing = true;   // "{n}": the server answers "+" first; "{n+}": it does not
    bool binary = false;         // "~{n}"
};
// literal_at_end - the literal line (without its CRLF) announces at its end, if any.
std::optional<LiteralMark> literal_at_end(std::string_view line);

struct SeqRange {
    std::uint32_t first = 0, last = 0;   // as written: kStar for "*"; first > last allowed ("4:2" = 2:4)
};
using SequenceSet = std::vector<SeqRange>;
// "$" (RFC 5182 SEARCHRES): the messages the last SEARCH ... RETURN (SAVE) found, which the session
// substitutes; as a range it contains nothing (0 is no message number).
inline constexpr SeqRange kSavedResult{0, 0};
inline bool is_saved_result(const SequenceSet& set) { return set.size() == 1 && set[0].first == 0; }
// contains - whether n is in set, with "*" being largest (the mailbox's highest number or UID).
bool contains(const SequenceSet& set, std::uint32_t n, std::uint32_t largest);

enum class Verb {
    capability, noop, logout, id, enable,                            // any state
    starttls, authenticate, login,                                   // not authenticated
    select, examine, create, delete_, rename, subscribe, unsubscribe,
    list, lsub, namespace_, status, append, idle,                    // authenticated
    check, close, unselect, expunge, search, fetch, store, copy, move,   // selected
};

// A BODY[...] / BINARY[...] section (RFC 9051 6.4.5).
struct Section {
    std::vector<std::uint32_t> part;   // "1.2.3"; empty: the message
    enum class Text { all, header, header_fields, header_fields_not, text, mime } text = Text::all;
    std::vector<std::string> fields;   // HEADER.FIELDS (names as sent)
};

struct FetchAtt {
    enum class Kind {
        envelope, flags, internaldate, rfc822, rfc822_header, rfc822_size, rfc822_text,
        body,            // BODY: the non-extensible structure
        bodystructure, uid, modseq,
        body_section,    // BODY[...] / BODY.PEEK[...]
        binary,          // BINARY[...] / BINARY.PEEK[...]
        binary_size,     // BINARY.SIZE[...]
    } kind = Kind::flags;
    Section section;
    bool peek = false;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> partial;   // <offset.length>
    std::string name;   // the item as the response names it: "BODY[HEADER.FIELDS (From)]<0>" for
                        // BODY.PEEK[HEADER.FIELDS (From)]<0.100>, "RFC822.SIZE"
};

struct SearchKey {
    enum class Kind {
        all, and_, or_, not_, set, uid,                                   // structure and numbers
        answered, deleted, draft, flagged, seen, recent, new_, old,      // flags (recent: this session's \Recent)
        unanswered, undeleted, undraft, unflagged, unseen,
        keyword, unkeyword,
        before, on, since, sentbefore, senton, sentsince,                 // dates (internal, Date: header)
        larger, smaller,
        bcc, body, cc, from, header, subject, text, to,                   // strings
        modseq,                                                           // RFC 7162 3.1.5
    } kind = Kind::all;
    std::string field, value;   // header: field name and value; strings and keywords: value
    std::uint64_t number = 0;   // larger, smaller, modseq
    int date = 0;               // days since 1970-01-01 (before, on, since, sent*)
    SequenceSet set;            // set, uid
    std::vector<SearchKey> keys;   // and_ (a parenthesised list or the program), or_ (two), not_ (one)
};

struct StoreArgs {
    enum class Op { replace, add, remove } op = Op::replace;
    bool silent = false;
    std::vector<std::string> flags;   // as sent: "\\Seen", "$Forwarded"
    std::optional<std::uint64_t> unchanged_since;
};

// One message of an APPEND: its flags and date; the message itself is the session's.
struct AppendMessage {
    std::vector<std::string> flags;
    std::optional<std::int64_t> date;   // unix seconds of the date-time
    LiteralMark literal;
    bool utf8 = false;                  // RFC 6855 4 "UTF8 (~{n}...)": a ")" follows the literal
};

struct Command {
    std::string tag;
    Verb verb = Verb::noop;
    bool uid = false;                       // UID FETCH / STORE / SEARCH / COPY / MOVE / EXPUNGE
    std::vector<std::string> args;          // astrings in order: LOGIN user password; mailbox names
                                            // (raw, as sent: the session decodes modified UTF-7); LIST
                                            // reference and patterns; AUTHENTICATE mechanism [initial];
                                            // ENABLE capabilities; STATUS items (upper case)
    SequenceSet set;                        // FETCH, STORE, SEARCH-less selected verbs, UID EXPUNGE
    std::vector<FetchAtt> fetch;
    std::optional<std::uint64_t> changed_since;   // FETCH (CHANGEDSINCE n) (RFC 7162)
    bool vanished = false;                        // UID FETCH ... (CHANGEDSINCE n VANISHED)
    SearchKey search;                             // SEARCH: and_ of the program's keys
    std::optional<std::string> charset;           // SEARCH CHARSET
    std::vector<std::string> search_return;       // ESEARCH RETURN options (upper case); none: plain SEARCH
    bool search_return_given = false;             // "RETURN ()" is ALL, not plain SEARCH
    StoreArgs store;
    std::vector<std::string> list_select;         // LIST (SUBSCRIBED REMOTE RECURSIVEMATCH SPECIAL-USE)
    std::vector<std::string> list_return;         // LIST ... RETURN (SUBSCRIBED CHILDREN SPECIAL-USE STATUS)
    std::vector<std::string> list_status;         // RETURN (STATUS (MESSAGES ...)) items
    bool list_extended = false;                   // the LIST-EXTENDED form was used
    std::vector<std::pair<std::string, std::optional<std::string>>> id;   // ID parameters
    bool condstore = false;                       // SELECT (CONDSTORE)
    struct Qresync {
        std::uint32_t uidvalidity = 0;
        std::uint64_t modseq = 0;
        SequenceSet known_uids;
    };
    std::optional<Qresync> qresync;               // SELECT (QRESYNC (...))
    std::vector<AppendMessage> append;            // APPEND: the first message's head (see append_head)
};

// Parsed - a command, or why not: error is the text of the BAD; tag is what the line began with (empty
// when even that was unreadable: "* BAD").
struct Parsed {
    std::string tag;
    std::optional<Command> command;
    std::string error;
};

// parse_command - a whole command: its lines joined with their CRLFs and each literal's bytes after
// the CRLF of the line announcing it, the final CRLF left out. APPEND is parsed only up to its first
// message literal (the session calls append_head instead).
Parsed parse_command(std::string_view text);

// append_head - text (a command so far, ending with a literal announcement, CRLF left out) is
// "tag APPEND mailbox [flags] [date-time] {n}": the mailbox and the first message's head. The literal
// is the message: the session streams it instead of keeping it in the command. nullopt: not an
// APPEND up to its message (the literal is an ordinary one, or the APPEND is malformed: the whole
// command will tell).
std::optional<Command> append_head(std::string_view text);
// append_next - what follows a message literal of an APPEND (MULTIAPPEND, RFC 3502): nullopt with an
// empty line (the command ends); another message's head; or an error (the command is BAD).
struct AppendNext {
    std::optional<AppendMessage> message;
    std::string error;
};
AppendNext append_next(std::string_view line);

// mailbox_name - a mailbox name as sent (modified UTF-7, RFC 3501 5.1.3; or UTF-8 once UTF8=ACCEPT
// is enabled) in UTF-8; "INBOX" in any case is "INBOX"; nullopt when the encoding is broken.
std::optional<std::string> mailbox_name(std::string_view sent, bool utf8);
// encode_mailbox - a UTF-8 name as it goes to the client (modified UTF-7 unless utf8).
std::string encode_mailbox(std::string_view name, bool utf8);
// quoted_mailbox - the name as a response's mailbox: encode_mailbox quoted (a literal for a name no
// quoted string can hold).
std::string quoted_mailbox(std::string_view name, bool utf8);

}  // namespace mk::imap
