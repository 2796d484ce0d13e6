// imap/fetch_items.hpp — what a FETCH says of one message (RFC 9051 7.5.2): its flags, its record's
// items (UID, sizes, dates, MODSEQ), and what is read from its file (the message, sections, BINARY)
// or computed once and cached (ENVELOPE, BODYSTRUCTURE). The session chooses the messages, stores
// \Seen and writes the responses; this builds the items of one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "imap/command.hpp"
#include "store/mail_index.hpp"

namespace mk::imap {

// The system flags as IMAP names them, in the order they are listed.
inline constexpr std::pair<std::uint32_t, std::string_view> kSystemFlags[] = {
    {kFlagAnswered, "\\Answered"}, {kFlagFlagged, "\\Flagged"}, {kFlagDeleted, "\\Deleted"},
    {kFlagSeen, "\\Seen"}, {kFlagDraft, "\\Draft"}};

// flags_text - a message's flag list: "(\Seen $Forwarded)", with \Recent where this session holds it.
std::string flags_text(const MessageRecord& r, bool recent);

// flag_bits - STORE's and APPEND's flags as system flag bits and keywords; nullopt for an unknown
// system flag (\Recent may not be stored: it is dropped, as RFC 9051 2.3.2 has it server-set).
std::optional<std::pair<std::uint32_t, std::vector<std::string>>> flag_bits(const std::vector<std::string>& flags);

// literal - data as an IMAP literal: "{n}\r\n" and the bytes. A literal may not carry NUL (RFC 9051
// 4.3): a NUL in a stored message goes out as 0x80, as Dovecot sends it.
std::string literal(std::string_view data);

// load_message - the message's bytes with CRLF line ends (an LF file another program wrote is
// converted). The file may have moved since the record was read (another reader renamed it for its
// flags): then it is looked for by its unique name. Empty when it is gone. Blocking.
std::string load_message(const std::filesystem::path& folder, const MessageRecord& r);

// needs_file - whether an item is more than the index record (FLAGS, UID, MODSEQ, INTERNALDATE,
// RFC822.SIZE are not): building it reads the file or the cache, so it runs on the blocking pool.
bool needs_file(const FetchAtt& a);

// cached(key, make) - the per-message string stored under key, made and stored on a miss.
using ItemCache = std::function<std::string(std::string_view key, const std::function<std::string()>& make)>;

struct MessageItems {
    std::string text;              // "FLAGS (\Seen) UID 4 BODY[] {12}\r\n..." in the order asked
    bool flags = false, uid = false, modseq = false;   // which of these are in text already
    bool unknown_cte = false;      // BINARY of a part whose transfer encoding cannot be undone
};

// message_items - the items atts asks for of message r in folder; recent: this session holds its
// \Recent. Blocking when any item needs_file.
MessageItems message_items(const std::vector<FetchAtt>& atts, const MessageRecord& r, bool recent,
                           const std::filesystem::path& folder, const ItemCache& cached);

}  // namespace mk::imap
