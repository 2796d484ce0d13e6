// imap/mailbox_list.hpp — LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.8-9) with LIST-EXTENDED's
// selection and return options (RFC 5258), SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348): which of a
// user's folders a command names and the responses that say so. Pure: the session reads the folders
// and runs LIST-STATUS's STATUS for the names listed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "imap/command.hpp"
#include "store/mail_index.hpp"

namespace mk::imap {

// list_match - whether name matches pattern ("*" anything, "%" anything but the separator "."),
// ASCII case-insensitive only for INBOX.
bool list_match(std::string_view name, std::string_view pattern);

struct Listed {
    std::string response;   // the untagged "LIST (...) "." name" line, without "* "
    std::string name;       // the folder (UTF-8)
    bool selectable = false;   // it exists and can be selected (LIST-STATUS gives its STATUS)
};

struct Listing {
    std::vector<Listed> folders;   // in the order they are answered
    std::string error;             // a BAD: an unknown or unusable selection option
};

// list_folders - the answer to a LIST or LSUB command c whose patterns (reference joined, decoded)
// are patterns, over folders (MailIndex::folders); utf8: names go out in UTF-8 (IMAP4rev2,
// UTF8=ACCEPT), else modified UTF-7.
Listing list_folders(std::vector<FolderInfo> folders, const Command& c, const std::vector<std::string>& patterns, bool utf8);

}  // namespace mk::imap
