// imap/command.cpp — recursive descent over RFC 9051 9's grammar. Every input is hostile: the cursor
// never passes the end, lists and nesting are bounded, numbers are checked for overflow, and the first
// thing out of place ends the parse with a BAD that says what was expected.
#include "imap/command.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>

#include "core/date.hpp"
#include "core/text.hpp"
#include "imap/response.hpp"

namespace mk::imap {

namespace {

constexpr std::string_view kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                        "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};

bool is_ctl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }
// ATOM-CHAR: any CHAR but atom-specials; 8-bit octets are not CHARs.
bool atom_char(char c) {
    if (static_cast<unsigned char>(c) >= 0x80 || is_ctl(c)) return false;
    return std::string_view("(){ %*\"\\]").find(c) == std::string_view::npos;
}
bool astring_char(char c) { return atom_char(c) || c == ']'; }
bool list_char(char c) { return atom_char(c) || c == '%' || c == '*' || c == ']'; }
// tag: ASTRING-CHAR but "+".
bool tag_char(char c) { return astring_char(c) && c != '+'; }

struct Error {
    std::string text;
};

class Parser {
public:
    explicit Parser(std::string_view text) : s_(text) {}

    bool at_end() const { return i_ == s_.size(); }
    std::size_t pos() const { return i_; }
    char peek() const { return at_end() ? '\0' : s_[i_]; }

    [[noreturn]] static void fail(std::string text) { throw Error{std::move(text)}; }

    void expect(char c, const char* what) {
        if (peek() != c) fail(std::string("expected ") + what);
        ++i_;
    }
    void sp() { expect(' ', "a space"); }
    bool accept(char c) {
        if (peek() != c) return false;
        ++i_;
        return true;
    }
    // accept_word - an atom equal to word (case-insensitive) followed by a non-atom char.
    bool accept_word(std::string_view word) {
        if (s_.size() - i_ < word.size() || !iequals(s_.substr(i_, word.size()), word)) return false;
        std::size_t end = i_ + word.size();
        if (end < s_.size() && atom_char(s_[end]) && s_[end] != '[' && s_[end] != '.') return false;
        i_ = end;
        return true;
    }

    std::string tag() {
        std::size_t start = i_;
        while (!at_end() && tag_char(s_[i_])) ++i_;
        if (i_ == start) fail("expected a tag");
        return std::string(s_.substr(start, i_ - start));
    }
    std::string atom() {
        std::size_t start = i_;
        while (!at_end() && atom_char(s_[i_]) && s_[i_] != '[') ++i_;
        if (i_ == start) fail("expected an atom");
        return std::string(s_.substr(start, i_ - start));
    }

    std::uint64_t number(std::uint64_t max = 0xffffffffu) {
        std::size_t start = i_;
        while (!at_end() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        if (i_ == start) fail("expected a number");
        std::uint64_t v = 0;
        auto [p, ec] = std::from_chars(s_.data() + start, s_.data() + i_, v);
        if (ec != std::errc() || v > max) fail("number out of range");
        return v;
    }
    std::uint32_t nz_number() {
        std::uint64_t v = number();
        if (v == 0) fail("expected a number above 0");
        return static_cast<std::uint32_t>(v);
    }

    // quoted - RFC 9051 4.3: only \" and \\ escaped; no CR, LF or NUL; 8-bit allowed (UTF-8, rev2).
    std::string quoted() {
        expect('"', "a quoted string");
        std::string out;
        for (;;) {
            if (at_end()) fail("unterminated quoted string");
            char c = s_[i_++];
            if (c == '"') return out;
            if (c == '\\') {
                char n = peek();
                if (n != '"' && n != '\\') fail("bad escape in a quoted string");
                out += n;
                ++i_;
                continue;
            }
            if (c == '\r' || c == '\n' || c == '\0') fail("CR, LF or NUL in a quoted string");
            out += c;
        }
    }
    // literal - "{n}" / "{n+}" / "~{n}" CRLF and n octets, which the session put there.
    std::string literal() {
        accept('~');
        expect('{', "a literal");
        std::uint64_t n = number(kMaxCommandSize);
        accept('+');
        expect('}', "} after a literal's size");
        expect('\r', "CRLF after a literal's size");
        expect('\n', "CRLF after a literal's size");
        if (s_.size() - i_ < n) fail("literal shorter than announced");
        std::string out(s_.substr(i_, n));
        i_ += n;
        return out;
    }
    std::string string() {
        if (peek() == '"') return quoted();
        if (peek() == '{' || peek() == '~') return literal();
        fail("expected a string");
    }
    std::string astring() {
        if (peek() == '"' || peek() == '{' || peek() == '~') return string();
        std::size_t start = i_;
        while (!at_end() && astring_char(s_[i_])) ++i_;
        if (i_ == start) fail("expected an atom or a string");
        return std::string(s_.substr(start, i_ - start));
    }
    std::optional<std::string> nstring() {
        if (accept_word("NIL")) return std::nullopt;
        return string();
    }
    // list_mailbox - a LIST pattern: list-chars (wildcards included) or a string.
    std::string list_mailbox() {
        if (peek() == '"' || peek() == '{' || peek() == '~') return string();
        std::size_t start = i_;
        while (!at_end() && list_char(s_[i_])) ++i_;
        if (i_ == start) fail("expected a mailbox pattern");
        return std::string(s_.substr(start, i_ - start));
    }

    std::uint32_t seq_number() {
        if (accept('*')) return kStar;
        return nz_number();
    }
    SequenceSet sequence_set() {
        SequenceSet set;
        if (accept('$')) return {kSavedResult};   // RFC 5182: "$" stands alone
        do {
            if (set.size() == kMaxSetRanges) fail("too many ranges in the sequence set");
            SeqRange r;
            r.first = r.last = seq_number();
            if (accept(':')) r.last = seq_number();
            set.push_back(r);
        } while (accept(','));
        return set;
    }

    // flag - "\Seen" and friends (a backslash and an atom), or a keyword atom.
    std::string flag() {
        std::size_t start = i_;
        accept('\\');
        while (!at_end() && atom_char(s_[i_])) ++i_;
        if (i_ == start || (i_ == start + 1 && s_[start] == '\\')) fail("expected a flag");
        return std::string(s_.substr(start, i_ - start));
    }
    std::vector<std::string> flag_list() {
        expect('(', "( before a flag list");
        std::vector<std::string> flags;
        if (accept(')')) return flags;
        do {
            if (flags.size() == kMaxSetRanges) fail("too many flags");
            flags.push_back(flag());
        } while (accept(' '));
        expect(')', ") after a flag list");
        return flags;
    }

    // date - date-text or a quoted one: "1-Feb-2024"; days since the epoch.
    int date() {
        bool q = accept('"');
        std::uint64_t day = number(31);
        expect('-', "- in a date");
        int month = -1;
        for (std::size_t m = 0; m < 12; ++m)
            if (s_.size() - i_ >= 3 && iequals(s_.substr(i_, 3), kMonths[m])) month = static_cast<int>(m);
        if (month < 0 || day == 0) fail("bad date");
        i_ += 3;
        expect('-', "- in a date");
        std::uint64_t year = number(9999);
        if (q) expect('"', "\" after a date");
        return days_from_civil(static_cast<int>(year), static_cast<unsigned>(month + 1), static_cast<unsigned>(day));
    }
    // date_time - RFC 9051 9 date-time: "DD-Mon-YYYY HH:MM:SS +ZZZZ" quoted; unix seconds.
    std::int64_t date_time() {
        expect('"', "a quoted date-time");
        if (accept(' ')) {}   // date-day-fixed: SP DIGIT
        std::uint64_t day = number(31);
        expect('-', "- in a date-time");
        int month = -1;
        for (std::size_t m = 0; m < 12; ++m)
            if (s_.size() - i_ >= 3 && iequals(s_.substr(i_, 3), kMonths[m])) month = static_cast<int>(m);
        if (month < 0 || day == 0) fail("bad date-time");
        i_ += 3;
        expect('-', "- in a date-time");
        std::uint64_t year = number(9999);
        sp();
        std::uint64_t hh = number(23);
        expect(':', ": in a time");
        std::uint64_t mm = number(59);
        expect(':', ": in a time");
        std::uint64_t ss = number(60);
        sp();
        char sign = peek();
        if (sign != '+' && sign != '-') fail("bad zone in a date-time");
        ++i_;
        std::size_t zstart = i_;
        std::uint64_t zone = number(9999);
        if (i_ - zstart != 4) fail("bad zone in a date-time");
        expect('"', "\" after a date-time");
        std::int64_t days = days_from_civil(static_cast<int>(year), static_cast<unsigned>(month + 1),
                                            static_cast<unsigned>(day));
        std::int64_t offset = static_cast<std::int64_t>((zone / 100) * 3600 + (zone % 100) * 60);
        std::int64_t t = days * 86400 + static_cast<std::int64_t>(hh * 3600 + mm * 60 + ss);
        return sign == '+' ? t - offset : t + offset;
    }

    Section section() {
        Section sec;
        expect('[', "[ before a section");
        if (accept(']')) return sec;
        while (peek() >= '0' && peek() <= '9') {
            if (sec.part.size() == kMaxNesting * 4) fail("section nested too deep");
            sec.part.push_back(nz_number());
            if (!accept('.')) {
                expect(']', "] after a section");
                return sec;
            }
        }
        if (accept_word("HEADER.FIELDS.NOT")) sec.text = Section::Text::header_fields_not;
        else if (accept_word("HEADER.FIELDS")) sec.text = Section::Text::header_fields;
        else if (accept_word("HEADER")) sec.text = Section::Text::header;
        else if (accept_word("TEXT")) sec.text = Section::Text::text;
        else if (!sec.part.empty() && accept_word("MIME")) sec.text = Section::Text::mime;
        else fail("bad section");
        if (sec.text == Section::Text::header_fields || sec.text == Section::Text::header_fields_not) {
            sp();
            expect('(', "( before header field names");
            do {
                if (sec.fields.size() == kMaxSetRanges) fail("too many header fields");
                sec.fields.push_back(astring());
            } while (accept(' '));
            expect(')', ") after header field names");
        }
        expect(']', "] after a section");
        return sec;
    }
    // binary_section - BINARY's section: part numbers only (RFC 3516 4.2).
    Section binary_section() {
        Section sec;
        expect('[', "[ before a section");
        if (accept(']')) return sec;
        do {
            if (sec.part.size() == kMaxNesting * 4) fail("section nested too deep");
            sec.part.push_back(nz_number());
        } while (accept('.'));
        expect(']', "] after a section");
        return sec;
    }
    std::optional<std::pair<std::uint64_t, std::uint64_t>> partial() {
        if (!accept('<')) return std::nullopt;
        std::uint64_t offset = number();
        expect('.', ". in a partial");
        std::uint64_t length = number();
        if (length == 0) fail("a partial of length 0");
        expect('>', "> after a partial");
        return std::make_pair(offset, length);
    }

    FetchAtt fetch_att() {
        FetchAtt a;
        std::size_t start = i_;
        using K = FetchAtt::Kind;
        // section_at: where the section's "[" is, for the name the response gives the item.
        std::size_t section_at = 0;
        if (accept_word("ENVELOPE")) a.kind = K::envelope;
        else if (accept_word("FLAGS")) a.kind = K::flags;
        else if (accept_word("INTERNALDATE")) a.kind = K::internaldate;
        else if (accept_word("RFC822.HEADER")) a.kind = K::rfc822_header;
        else if (accept_word("RFC822.SIZE")) a.kind = K::rfc822_size;
        else if (accept_word("RFC822.TEXT")) a.kind = K::rfc822_text;
        else if (accept_word("RFC822")) a.kind = K::rfc822;
        else if (accept_word("BODYSTRUCTURE")) a.kind = K::bodystructure;
        else if (accept_word("UID")) a.kind = K::uid;
        else if (accept_word("MODSEQ")) a.kind = K::modseq;
        else if (accept_word("BINARY.SIZE")) {
            a.kind = K::binary_size;
            section_at = i_;
            a.section = binary_section();
        } else if (accept_word("BINARY.PEEK") || accept_word("BINARY")) {
            a.kind = K::binary;
            a.peek = i_ - start == 11;
            section_at = i_;
            a.section = binary_section();
        } else if (accept_word("BODY.PEEK")) {
            a.kind = K::body_section;
            a.peek = true;
            section_at = i_;
            a.section = section();
        } else if (accept_word("BODY")) {
            if (peek() == '[') {
                a.kind = K::body_section;
                section_at = i_;
                a.section = section();
            } else {
                a.kind = K::body;
            }
        } else {
            fail("unknown FETCH item");
        }
        if (section_at == 0) {
            a.name = uppercase_ascii(s_.substr(start, i_ - start));
            return a;
        }
        // RFC 9051 7.5.2: the response names the item as asked, without .PEEK, and a partial by its
        // origin only ("BODY[]<0>"); the section text is echoed as the client wrote it.
        const char* base = a.kind == K::binary_size ? "BINARY.SIZE" : a.kind == K::binary ? "BINARY" : "BODY";
        a.name = std::string(base) + std::string(s_.substr(section_at, i_ - section_at));
        if (a.kind != K::binary_size) {
            a.partial = partial();
            if (a.partial) a.name += "<" + std::to_string(a.partial->first) + ">";
        }
        return a;
    }
    std::vector<FetchAtt> fetch_atts() {
        std::vector<FetchAtt> atts;
        auto add = [&](std::initializer_list<FetchAtt::Kind> kinds, std::initializer_list<const char*> names) {
            auto n = names.begin();
            for (FetchAtt::Kind k : kinds) atts.push_back(FetchAtt{k, {}, false, std::nullopt, *n++});
        };
        using K = FetchAtt::Kind;
        // RFC 9051 6.4.5 macros.
        if (accept_word("ALL")) add({K::flags, K::internaldate, K::rfc822_size, K::envelope},
                                    {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"});
        else if (accept_word("FAST")) add({K::flags, K::internaldate, K::rfc822_size}, {"FLAGS", "INTERNALDATE", "RFC822.SIZE"});
        else if (accept_word("FULL"))
            add({K::flags, K::internaldate, K::rfc822_size, K::envelope, K::body},
                {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"});
        else if (accept('(')) {
            do {
                if (atts.size() == kMaxSetRanges) fail("too many FETCH items");
                atts.push_back(fetch_att());
            } while (accept(' '));
            expect(')', ") after FETCH items");
        } else {
            atts.push_back(fetch_att());
        }
        return atts;
    }

    SearchKey search_key(std::size_t depth, std::size_t& count) {
        if (depth > kMaxNesting) fail("search keys nested too deep");
        if (++count > kMaxSearchKeys) fail("too many search keys");
        using K = SearchKey::Kind;
        SearchKey k;
        if (accept('(')) {
            k.kind = K::and_;
            do k.keys.push_back(search_key(depth + 1, count));
            while (accept(' '));
            expect(')', ") after search keys");
            return k;
        }
        if (peek() == '*' || peek() == '$' || (peek() >= '1' && peek() <= '9')) {
            k.kind = K::set;
            k.set = sequence_set();
            return k;
        }
        struct Simple {
            std::string_view word;
            K kind;
        };
        static constexpr Simple kFlags[] = {
            {"ALL", K::all},         {"ANSWERED", K::answered},     {"DELETED", K::deleted},
            {"DRAFT", K::draft},     {"FLAGGED", K::flagged},       {"SEEN", K::seen},
            {"RECENT", K::recent},   {"NEW", K::new_},              {"OLD", K::old},
            {"UNANSWERED", K::unanswered}, {"UNDELETED", K::undeleted}, {"UNDRAFT", K::undraft},
            {"UNFLAGGED", K::unflagged},   {"UNSEEN", K::unseen}};
        for (const Simple& f : kFlags)
            if (accept_word(f.word)) {
                k.kind = f.kind;
                return k;
            }
        static constexpr Simple kStrings[] = {{"BCC", K::bcc},   {"BODY", K::body}, {"CC", K::cc},
                                              {"FROM", K::from}, {"SUBJECT", K::subject}, {"TEXT", K::text},
                                              {"TO", K::to}};
        for (const Simple& f : kStrings)
            if (accept_word(f.word)) {
                k.kind = f.kind;
                sp();
                k.value = astring();
                return k;
            }
        static constexpr Simple kDates[] = {{"BEFORE", K::before},         {"ON", K::on},
                                            {"SINCE", K::since},           {"SENTBEFORE", K::sentbefore},
                                            {"SENTON", K::senton},         {"SENTSINCE", K::sentsince}};
        for (const Simple& f : kDates)
            if (accept_word(f.word)) {
                k.kind = f.kind;
                sp();
                k.date = date();
                return k;
            }
        if (accept_word("KEYWORD") || accept_word("UNKEYWORD")) {
            k.kind = s_[i_ - 9] == 'U' || s_[i_ - 9] == 'u' ? K::unkeyword : K::keyword;
            sp();
            k.value = flag();
            return k;
        }
        if (accept_word("LARGER") || accept_word("SMALLER")) {
            k.kind = iequals(s_.substr(i_ - 6, 6), "LARGER") ? K::larger : K::smaller;
            sp();
            k.number = number(~std::uint64_t{0} >> 1);
            return k;
        }
        if (accept_word("HEADER")) {
            k.kind = K::header;
            sp();
            k.field = astring();
            sp();
            k.value = astring();
            return k;
        }
        if (accept_word("UID")) {
            k.kind = K::uid;
            sp();
            k.set = sequence_set();
            return k;
        }
        if (accept_word("NOT")) {
            k.kind = K::not_;
            sp();
            k.keys.push_back(search_key(depth + 1, count));
            return k;
        }
        if (accept_word("OR")) {
            k.kind = K::or_;
            sp();
            k.keys.push_back(search_key(depth + 1, count));
            sp();
            k.keys.push_back(search_key(depth + 1, count));
            return k;
        }
        if (accept_word("MODSEQ")) {
            // RFC 7162 3.1.5: MODSEQ [entry-name entry-type] mod-sequence-valzer.
            k.kind = K::modseq;
            sp();
            if (peek() == '"') {
                quoted();
                sp();
                atom();
                sp();
            }
            k.number = number(~std::uint64_t{0} >> 1);
            return k;
        }
        fail("unknown search key");
    }

    std::vector<std::string> paren_atoms(const char* what) {
        std::vector<std::string> out;
        expect('(', what);
        if (accept(')')) return out;
        do {
            if (out.size() == kMaxSetRanges) fail("list too long");
            out.push_back(uppercase_ascii(atom()));
        } while (accept(' '));
        expect(')', ") after a list");
        return out;
    }

private:
    std::string_view s_;
    std::size_t i_ = 0;
};

struct VerbName {
    std::string_view name;
    Verb verb;
};
constexpr VerbName kVerbs[] = {
    {"CAPABILITY", Verb::capability}, {"NOOP", Verb::noop},         {"LOGOUT", Verb::logout},
    {"ID", Verb::id},                 {"ENABLE", Verb::enable},     {"STARTTLS", Verb::starttls},
    {"AUTHENTICATE", Verb::authenticate}, {"LOGIN", Verb::login},   {"SELECT", Verb::select},
    {"EXAMINE", Verb::examine},       {"CREATE", Verb::create},     {"DELETE", Verb::delete_},
    {"RENAME", Verb::rename},         {"SUBSCRIBE", Verb::subscribe}, {"UNSUBSCRIBE", Verb::unsubscribe},
    {"LIST", Verb::list},             {"LSUB", Verb::lsub},         {"NAMESPACE", Verb::namespace_},
    {"STATUS", Verb::status},         {"APPEND", Verb::append},     {"IDLE", Verb::idle},
    {"CHECK", Verb::check},           {"CLOSE", Verb::close},       {"UNSELECT", Verb::unselect},
    {"EXPUNGE", Verb::expunge},       {"SEARCH", Verb::search},     {"FETCH", Verb::fetch},
    {"STORE", Verb::store},           {"COPY", Verb::copy},         {"MOVE", Verb::move},
};

Verb verb_of(const std::string& word) {
    for (const VerbName& v : kVerbs)
        if (iequals(word, v.name)) return v.verb;
    Parser::fail("unknown command");
}

// append_message - [SP flag-list] [SP date-time] SP literal-announcement, up to the end of text.
AppendMessage append_message(Parser& p) {
    AppendMessage m;
    p.sp();
    if (p.peek() == '(') {
        m.flags = p.flag_list();
        p.sp();
    }
    if (p.peek() == '"') {
        m.date = p.date_time();
        p.sp();
    }
    if (p.accept_word("UTF8")) {   // RFC 6855 4: UTF8 (~{n}) — the literal8 inside parentheses
        p.sp();
        p.expect('(', "( after UTF8");
        m.utf8 = true;
    }
    return m;
}

void parse_arguments(Parser& p, Command& c) {
    switch (c.verb) {
        case Verb::capability:
        case Verb::noop:
        case Verb::logout:
        case Verb::starttls:
        case Verb::namespace_:
        case Verb::idle:
        case Verb::check:
        case Verb::close:
        case Verb::unselect:
            break;
        case Verb::expunge:
            if (c.uid) {   // RFC 4315 2.1: UID EXPUNGE sequence-set
                p.sp();
                c.set = p.sequence_set();
            }
            break;
        case Verb::id:
            p.sp();
            if (p.accept_word("NIL")) break;
            p.expect('(', "( or NIL after ID");
            if (p.accept(')')) break;
            do {
                if (c.id.size() == 30) Parser::fail("too many ID parameters");   // RFC 2971 3.3
                std::string key = p.string();
                p.sp();
                c.id.emplace_back(std::move(key), p.nstring());
            } while (p.accept(' '));
            p.expect(')', ") after ID parameters");
            break;
        case Verb::enable:
            do {
                p.sp();
                if (c.args.size() == 100) Parser::fail("too many capabilities");
                c.args.push_back(uppercase_ascii(p.atom()));
            } while (p.peek() == ' ');
            break;
        case Verb::authenticate:
            p.sp();
            c.args.push_back(uppercase_ascii(p.atom()));
            if (p.accept(' ')) c.args.push_back(p.atom());   // SASL-IR: base64 or "="
            break;
        case Verb::login:
            p.sp();
            c.args.push_back(p.astring());
            p.sp();
            c.args.push_back(p.astring());
            break;
        case Verb::select:
        case Verb::examine:
            p.sp();
            c.args.push_back(p.astring());
            if (p.accept(' ')) {
                p.expect('(', "( before select parameters");
                do {
                    if (p.accept_word("CONDSTORE")) {
                        c.condstore = true;
                    } else if (p.accept_word("QRESYNC")) {
                        Command::Qresync q;
                        p.sp();
                        p.expect('(', "( after QRESYNC");
                        q.uidvalidity = p.nz_number();
                        p.sp();
                        q.modseq = p.number(~std::uint64_t{0} >> 1);
                        if (p.accept(' ')) {
                            if (p.peek() != '(') q.known_uids = p.sequence_set();
                            if (p.peek() == '(' || p.accept(' ')) {   // seq-match-data: accepted, not used
                                p.expect('(', "( before sequence match data");
                                p.sequence_set();
                                p.sp();
                                p.sequence_set();
                                p.expect(')', ") after sequence match data");
                            }
                        }
                        p.expect(')', ") after QRESYNC parameters");
                        c.qresync = q;
                    } else {
                        Parser::fail("unknown select parameter");
                    }
                } while (p.accept(' '));
                p.expect(')', ") after select parameters");
            }
            break;
        case Verb::create:
            p.sp();
            c.args.push_back(p.astring());
            if (p.accept(' ')) {   // RFC 4466 create-params, RFC 6154 USE: accepted, not acted on
                p.paren_atoms("( before create parameters");
            }
            break;
        case Verb::delete_:
        case Verb::subscribe:
        case Verb::unsubscribe:
            p.sp();
            c.args.push_back(p.astring());
            break;
        case Verb::rename:
            p.sp();
            c.args.push_back(p.astring());
            p.sp();
            c.args.push_back(p.astring());
            break;
        case Verb::lsub:
            p.sp();
            c.args.push_back(p.astring());
            p.sp();
            c.args.push_back(p.list_mailbox());
            break;
        case Verb::list:
            p.sp();
            if (p.peek() == '(') {   // RFC 5258 list-select-opts
                c.list_extended = true;
                c.list_select = p.paren_atoms("( before selection options");
                p.sp();
            }
            c.args.push_back(p.astring());   // reference
            p.sp();
            if (p.accept('(')) {
                c.list_extended = true;
                do {
                    if (c.args.size() == 100) Parser::fail("too many patterns");
                    c.args.push_back(p.list_mailbox());
                } while (p.accept(' '));
                p.expect(')', ") after patterns");
            } else {
                c.args.push_back(p.list_mailbox());
            }
            if (p.accept(' ')) {
                c.list_extended = true;
                if (!p.accept_word("RETURN")) Parser::fail("expected RETURN");
                p.sp();
                p.expect('(', "( after RETURN");
                if (!p.accept(')')) {
                    do {
                        std::string opt = uppercase_ascii(p.atom());
                        if (opt == "STATUS") {   // RFC 5819
                            p.sp();
                            c.list_status = p.paren_atoms("( before status items");
                        }
                        c.list_return.push_back(std::move(opt));
                    } while (p.accept(' '));
                    p.expect(')', ") after return options");
                }
            }
            break;
        case Verb::status:
            p.sp();
            c.args.push_back(p.astring());
            p.sp();
            for (std::string& item : p.paren_atoms("( before status items")) c.args.push_back(std::move(item));
            break;
        case Verb::append:
            p.sp();
            c.args.push_back(p.astring());
            c.append.push_back(append_message(p));
            break;
        case Verb::search: {
            p.sp();
            if (p.accept_word("RETURN")) {   // RFC 4731 ESEARCH
                c.search_return_given = true;
                p.sp();
                c.search_return = p.paren_atoms("( after RETURN");
                p.sp();
            }
            if (p.accept_word("CHARSET")) {
                p.sp();
                c.charset = p.astring();
                p.sp();
            }
            std::size_t count = 0;
            c.search.kind = SearchKey::Kind::and_;
            do c.search.keys.push_back(p.search_key(0, count));
            while (p.accept(' '));
            break;
        }
        case Verb::fetch:
            p.sp();
            c.set = p.sequence_set();
            p.sp();
            c.fetch = p.fetch_atts();
            if (p.accept(' ')) {   // RFC 7162 3.1.4 fetch modifiers
                p.expect('(', "( before FETCH modifiers");
                do {
                    if (p.accept_word("CHANGEDSINCE")) {
                        p.sp();
                        c.changed_since = p.number(~std::uint64_t{0} >> 1);
                    } else if (p.accept_word("VANISHED")) {
                        c.vanished = true;
                    } else {
                        Parser::fail("unknown FETCH modifier");
                    }
                } while (p.accept(' '));
                p.expect(')', ") after FETCH modifiers");
            }
            break;
        case Verb::store:
            p.sp();
            c.set = p.sequence_set();
            p.sp();
            if (p.accept('(')) {   // RFC 7162 3.1.3
                if (!p.accept_word("UNCHANGEDSINCE")) Parser::fail("expected UNCHANGEDSINCE");
                p.sp();
                c.store.unchanged_since = p.number(~std::uint64_t{0} >> 1);
                p.expect(')', ") after STORE modifiers");
                p.sp();
            }
            if (p.accept('+')) c.store.op = StoreArgs::Op::add;
            else if (p.accept('-')) c.store.op = StoreArgs::Op::remove;
            if (p.accept_word("FLAGS.SILENT")) c.store.silent = true;
            else if (!p.accept_word("FLAGS")) Parser::fail("expected FLAGS");
            p.sp();
            if (p.peek() == '(') {
                c.store.flags = p.flag_list();
            } else {
                do {
                    if (c.store.flags.size() == kMaxSetRanges) Parser::fail("too many flags");
                    c.store.flags.push_back(p.flag());
                } while (p.accept(' '));
            }
            break;
        case Verb::copy:
        case Verb::move:
            p.sp();
            c.set = p.sequence_set();
            p.sp();
            c.args.push_back(p.astring());
            break;
    }
}

// command_head - tag SP ["UID" SP] verb: what every command begins with.
Command command_head(Parser& p) {
    Command c;
    c.tag = p.tag();
    p.sp();
    std::string word = p.atom();
    if (iequals(word, "UID")) {
        c.uid = true;
        p.sp();
        word = p.atom();
        c.verb = verb_of(word);
        if (c.verb != Verb::fetch && c.verb != Verb::store && c.verb != Verb::search && c.verb != Verb::copy &&
            c.verb != Verb::move && c.verb != Verb::expunge)
            Parser::fail("UID with a command that takes no UIDs");
    } else {
        c.verb = verb_of(word);
    }
    return c;
}

}  // namespace

std::optional<LiteralMark> literal_at_end(std::string_view line) {
    if (line.empty() || line.back() != '}') return std::nullopt;
    std::size_t open = line.rfind('{');
    if (open == std::string_view::npos) return std::nullopt;
    std::string_view inner = line.substr(open + 1, line.size() - open - 2);
    LiteralMark m;
    if (!inner.empty() && inner.back() == '+') {
        m.synchronizing = false;
        inner.remove_suffix(1);
    }
    if (inner.empty() || inner.size() > 19) return std::nullopt;
    for (char c : inner)
        if (c < '0' || c > '9') return std::nullopt;
    std::from_chars(inner.data(), inner.data() + inner.size(), m.size);
    m.binary = open > 0 && line[open - 1] == '~';
    return m;
}

bool contains(const SequenceSet& set, std::uint32_t n, std::uint32_t largest) {
    for (const SeqRange& r : set) {
        std::uint32_t a = r.first == kStar ? largest : r.first;
        std::uint32_t b = r.last == kStar ? largest : r.last;
        if (a > b) std::swap(a, b);
        if (n >= a && n <= b) return true;
    }
    return false;
}

Parsed parse_command(std::string_view text) {
    Parsed out;
    Parser p(text);
    try {
        Command c = command_head(p);
        out.tag = c.tag;
        parse_arguments(p, c);
        if (c.verb == Verb::append) {
            // Only up to the message: the session streams it (append_head).
            Parser::fail("APPEND's message must be a literal");
        }
        if (!p.at_end()) Parser::fail("unexpected characters after the command");
        out.command = std::move(c);
    } catch (const Error& e) {
        if (out.tag.empty()) {
            Parser t(text);
            try {
                out.tag = t.tag();
                if (t.peek() != ' ') out.tag.clear();
            } catch (const Error&) {
            }
        }
        out.error = e.text;
    }
    return out;
}

std::optional<Command> append_head(std::string_view text) {
    std::size_t open = text.rfind('{');
    if (open == std::string_view::npos) return std::nullopt;
    if (open > 0 && text[open - 1] == '~') --open;
    std::optional<LiteralMark> mark = literal_at_end(text);
    if (!mark) return std::nullopt;
    try {
        Parser p(text.substr(0, open));
        Command c = command_head(p);
        if (c.verb != Verb::append || c.uid) return std::nullopt;
        parse_arguments(p, c);
        if (!p.at_end()) return std::nullopt;
        c.append.back().literal = *mark;
        return c;
    } catch (const Error&) {
        return std::nullopt;
    }
}

AppendNext append_next(std::string_view line) {
    AppendNext out;
    if (line.empty()) return out;
    std::size_t open = line.rfind('{');
    std::optional<LiteralMark> mark = literal_at_end(line);
    if (!mark || open == std::string_view::npos) {
        out.error = "expected another message or the end of APPEND";
        return out;
    }
    if (open > 0 && line[open - 1] == '~') --open;
    try {
        Parser p(line.substr(0, open));
        AppendMessage m = append_message(p);
        if (!p.at_end()) Parser::fail("unexpected characters before the message");
        m.literal = *mark;
        out.message = std::move(m);
    } catch (const Error& e) {
        out.error = e.text;
    }
    return out;
}

std::optional<std::string> mailbox_name(std::string_view sent, bool utf8) {
    std::string out;
    if (utf8) {
        if (!valid_utf8(sent) || has_control(sent)) return std::nullopt;
        out = std::string(sent);
    } else {
        // RFC 3501 5.1.3: printable ASCII as itself, "&-" for "&", "&...-" modified base64 of UTF-16.
        for (std::size_t i = 0; i < sent.size(); ++i) {
            char c = sent[i];
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return std::nullopt;
            if (c != '&') {
                out += c;
                continue;
            }
            std::size_t end = sent.find('-', i + 1);
            if (end == std::string_view::npos) return std::nullopt;
            std::string_view b64 = sent.substr(i + 1, end - i - 1);
            i = end;
            if (b64.empty()) {
                out += '&';
                continue;
            }
            std::uint32_t bits = 0;
            int nbits = 0;
            std::vector<std::uint16_t> units;
            for (char d : b64) {
                int v;
                if (d >= 'A' && d <= 'Z') v = d - 'A';
                else if (d >= 'a' && d <= 'z') v = d - 'a' + 26;
                else if (d >= '0' && d <= '9') v = d - '0' + 52;
                else if (d == '+') v = 62;
                else if (d == ',') v = 63;
                else return std::nullopt;
                bits = (bits << 6) | static_cast<std::uint32_t>(v);
                nbits += 6;
                if (nbits >= 16) {
                    nbits -= 16;
                    units.push_back(static_cast<std::uint16_t>(bits >> nbits));
                    bits &= (1u << nbits) - 1;
                }
            }
            if (bits != 0 || units.empty()) return std::nullopt;   // leftover bits must be zero padding
            for (std::size_t k = 0; k < units.size(); ++k) {
                std::uint32_t cp = units[k];
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (k + 1 == units.size() || units[k + 1] < 0xdc00 || units[k + 1] > 0xdfff) return std::nullopt;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (units[++k] - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return std::nullopt;
                }
                // Printable ASCII must be itself, and no name holds a control character.
                if (cp <= 0x7f) return std::nullopt;
                append_utf8(out, cp);
            }
        }
    }
    if (iequals(out, "INBOX")) return std::string("INBOX");
    return out;
}

std::string encode_mailbox(std::string_view name, bool utf8) {
    if (utf8) return std::string(name);
    // The client's encoder (imap/response); a name with a control character, which no folder has
    // (store/mail_index refuses them), would go out as it is.
    return encode_mailbox(name).value_or(std::string(name));
}

std::string quoted_mailbox(std::string_view name, bool utf8) {
    const std::string sent = encode_mailbox(name, utf8);
    // RFC 9051 9 quoted: no CR, LF or NUL; UTF-8 only once the client said it reads it (RFC 6855 3).
    bool quotable = utf8 ? valid_utf8(sent) && !has_control(sent) : !has_control(sent);
    for (char c : sent) quotable = quotable && (utf8 || static_cast<unsigned char>(c) < 0x80);
    if (!quotable) return "{" + std::to_string(sent.size()) + "}\r\n" + sent;
    std::string out = "\"";
    for (char c : sent) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + '"';
}

}  // namespace mk::imap
