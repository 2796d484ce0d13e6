// imap/search.cpp — the SEARCH evaluator: flags and numbers from the record, strings from the message.
#include "imap/search.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "core/date.hpp"
#include "core/text.hpp"
#include "imap/structure.hpp"

namespace mk::imap {

namespace {

using K = SearchKey::Kind;

// contains_folded - needle in haystack, ASCII letters compared without case; an empty needle matches.
bool contains_folded(std::string_view haystack, std::string_view needle) {
    if (needle.empty()) return true;
    auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                          [](char a, char b) { return ascii_lower(a) == ascii_lower(b); });
    return it != haystack.end();
}

// header_of - the message's header block (up to and with the empty line), or all of it without one.
std::string_view header_of(std::string_view message) {
    std::size_t end = message.find("\r\n\r\n");
    return end == std::string_view::npos ? message : message.substr(0, end + 4);
}

bool field_contains(const SearchSubject& m, std::string_view field, std::string_view value) {
    std::optional<std::string> v = header_value(header_of(m.message()), field);
    return v && contains_folded(*v, value);
}

// text_contains - whether the text of part holds needle (RFC 3501 6.4.4, as Dovecot searches): each
// text part with its transfer encoding undone and its charset made UTF-8 (one that cannot be decoded
// as it is stored), the parts of a multipart and of an enclosed message in turn; with headers (TEXT)
// also every header on the way, as stored (BODY: none).
bool text_contains(const BodyPart& part, std::string_view message, std::string_view needle, bool headers) {
    if (headers && contains_folded(part.header.of(message), needle)) return true;
    if (!part.parts.empty())
        return std::any_of(part.parts.begin(), part.parts.end(),
                           [&](const BodyPart& p) { return text_contains(p, message, needle, headers); });
    if (part.type != "text") return false;
    std::optional<std::string> text = decoded_text(part, message);
    return contains_folded(text ? std::string_view(*text) : part.body.of(message), needle);
}

int day_of(std::int64_t t) { return static_cast<int>((t >= 0 ? t : t - 86399) / 86400); }

std::optional<int> sent_day(const SearchSubject& m) {
    std::optional<std::string> date = header_value(header_of(m.message()), "Date");
    if (!date) return std::nullopt;
    return rfc5322_day(*date);   // RFC 3501 6.4.4: "disregarding time and timezone"
}

bool has_keyword(const MessageRecord& r, std::string_view k) {
    return std::any_of(r.keywords.begin(), r.keywords.end(), [&](const std::string& x) { return iequals(x, k); });
}

// system_flag - the bit of a system flag named as a keyword ("\\Seen" in KEYWORD is unusual but legal).
std::uint32_t system_flag(std::string_view k) {
    if (iequals(k, "\\Seen")) return kFlagSeen;
    if (iequals(k, "\\Answered")) return kFlagAnswered;
    if (iequals(k, "\\Flagged")) return kFlagFlagged;
    if (iequals(k, "\\Deleted")) return kFlagDeleted;
    if (iequals(k, "\\Draft")) return kFlagDraft;
    return 0;
}

}  // namespace

bool needs_message(const SearchKey& key) {
    switch (key.kind) {
        case K::bcc:
        case K::body:
        case K::cc:
        case K::from:
        case K::header:
        case K::subject:
        case K::text:
        case K::to:
        case K::sentbefore:
        case K::senton:
        case K::sentsince: return true;
        default: return std::any_of(key.keys.begin(), key.keys.end(), needs_message);
    }
}

bool matches(const SearchKey& key, const SearchSubject& m) {
    const MessageRecord& r = m.record;
    const std::uint32_t f = r.flags;
    switch (key.kind) {
        case K::all: return true;
        case K::and_:
            return std::all_of(key.keys.begin(), key.keys.end(), [&](const SearchKey& k) { return matches(k, m); });
        case K::or_: return matches(key.keys.at(0), m) || matches(key.keys.at(1), m);
        case K::not_: return !matches(key.keys.at(0), m);
        case K::set:
        case K::uid:
            if (is_saved_result(key.set)) return m.saved && std::binary_search(m.saved->begin(), m.saved->end(), r.uid);
            return key.kind == K::set ? contains(key.set, m.seq, m.largest_seq) : contains(key.set, r.uid, m.largest_uid);
        case K::answered: return f & kFlagAnswered;
        case K::deleted: return f & kFlagDeleted;
        case K::draft: return f & kFlagDraft;
        case K::flagged: return f & kFlagFlagged;
        case K::seen: return f & kFlagSeen;
        case K::unanswered: return !(f & kFlagAnswered);
        case K::undeleted: return !(f & kFlagDeleted);
        case K::undraft: return !(f & kFlagDraft);
        case K::unflagged: return !(f & kFlagFlagged);
        case K::unseen: return !(f & kFlagSeen);
        // No message is \Recent (store/mail_index.hpp): NEW is RECENT UNSEEN, OLD is NOT RECENT.
        case K::recent: return m.recent;
        case K::new_: return m.recent && !(m.record.flags & kFlagSeen);
        case K::old: return !m.recent;
        case K::keyword: {
            std::uint32_t bit = system_flag(key.value);
            return bit ? (f & bit) != 0 : has_keyword(r, key.value);
        }
        case K::unkeyword: {
            std::uint32_t bit = system_flag(key.value);
            return bit ? (f & bit) == 0 : !has_keyword(r, key.value);
        }
        case K::before: return day_of(r.internal_date) < key.date;
        case K::on: return day_of(r.internal_date) == key.date;
        case K::since: return day_of(r.internal_date) >= key.date;
        case K::sentbefore: {
            auto d = sent_day(m);
            return d && *d < key.date;
        }
        case K::senton: {
            auto d = sent_day(m);
            return d && *d == key.date;
        }
        case K::sentsince: {
            auto d = sent_day(m);
            return d && *d >= key.date;
        }
        case K::larger: return r.size > key.number;
        case K::smaller: return r.size < key.number;
        case K::bcc: return field_contains(m, "Bcc", key.value);
        case K::cc: return field_contains(m, "Cc", key.value);
        case K::from: return field_contains(m, "From", key.value);
        case K::to: return field_contains(m, "To", key.value);
        case K::subject: return field_contains(m, "Subject", key.value);
        case K::header: return field_contains(m, key.field, key.value);
        case K::body:
        case K::text:
            return key.value.empty() || text_contains(parse(m.message()), m.message(), key.value, key.kind == K::text);
        case K::modseq: return r.modseq >= key.number;
    }
    return false;
}

}  // namespace mk::imap
