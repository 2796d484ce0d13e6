// imap/search.hpp — SEARCH keys (RFC 9051 6.4.4) evaluated against one message: its index record
// and, only when a key asks for headers or text, its bytes. Pure: the session loads the message.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "imap/command.hpp"
#include "store/mail_index.hpp"

namespace mk::imap {

// One message as a search sees it.
struct SearchSubject {
    const MessageRecord& record;
    std::uint32_t seq = 0;               // its message sequence number
    std::uint32_t largest_seq = 0;       // "*" in a sequence set
    std::uint32_t largest_uid = 0;       // "*" in a UID set
    bool recent = false;                 // \Recent to this session (RECENT, NEW, OLD)
    const std::vector<std::uint32_t>* saved = nullptr;   // "$" (RFC 5182): the saved UIDs, ascending
    std::function<std::string_view()> message;   // the whole message (CRLF), loaded on first use
};

// needs_message - whether key (or a key inside it) reads the message's headers or text.
bool needs_message(const SearchKey& key);

// matches - whether the message satisfies key. String keys match a case-insensitive (ASCII)
// substring: FROM, TO, CC, BCC, SUBJECT and HEADER in the unfolded, RFC 2047-decoded field; BODY in
// the text parts with their transfer encodings undone and in UTF-8; TEXT there or in any header of
// the message and its parts, as stored. The internal date compares days in UTC; the SENT* keys the Date: header's day as written
// (RFC 3501 6.4.4: time and zone disregarded), no match without one.
bool matches(const SearchKey& key, const SearchSubject& m);

}  // namespace mk::imap
