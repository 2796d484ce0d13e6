// store/mail_index.hpp — one user's mailboxes as IMAP sees them (RFC 9051, RFC 3501, RFC 7162): the
// folders of their Maildir++ (INBOX is the Maildir itself, a folder "Sent" is ".Sent/" below it, a
// folder "Work.2024" is ".Work.2024/", as Dovecot's Maildir++ layout has them; "." is the hierarchy
// separator), and per folder UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and each message's UID, MODSEQ,
// flags, size and internal date, in a SQLite database beside the mail (ROOT/mailkeep-index.db, WAL,
// synchronous=FULL, mode 0600).
//
// The files stay the truth. sync() compares a folder's new/ and cur/ with the index: a file not yet
// indexed (the intake delivered it, mutt or Dovecot put it there) gets the next UID; an indexed
// file that is gone (POP3 deleted it, another program moved it) is expunged; flags in a file name
// (":2,FRS", Maildir's letters: D draft, F flagged, R answered, S seen, T deleted) win over the
// index's. Keywords ($Forwarded, $Junk, ...) live in the index only. An index that cannot be read is
// moved aside and rebuilt from the files with a new UIDVALIDITY per folder; UIDs are never reused
// within a UIDVALIDITY (UIDNEXT is durable before a UID is handed out).
//
// Blocking throughout (directory scans, SQLite, fsync): sessions call it on the blocking pool. Each
// session holds its own MailIndex (its own SQLite connection); several sessions and processes may use
// one user's index at once: every change is one transaction (BEGIN IMMEDIATE), so UIDs and MODSEQs
// are assigned once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace SQLite {
class Database;
}

namespace mk {

// System flags as bits (RFC 9051 2.3.2); \Recent is per session, not a stored flag (claim_recent).
enum MessageFlag : std::uint32_t {
    kFlagSeen = 1u << 0,       // Maildir S
    kFlagAnswered = 1u << 1,   // R
    kFlagFlagged = 1u << 2,    // F
    kFlagDeleted = 1u << 3,    // T
    kFlagDraft = 1u << 4,      // D
};

struct MessageRecord {
    std::uint32_t uid = 0;
    std::uint64_t modseq = 0;               // RFC 7162: the last change of its flags (or its arrival)
    std::uint32_t flags = 0;                // MessageFlag bits
    std::vector<std::string> keywords;      // as first stored (case kept), compared case-insensitively
    std::uint64_t size = 0;                 // RFC822.SIZE: the CRLF size (Maildir::pop3_size, or measured)
    std::int64_t internal_date = 0;         // unix seconds: APPEND's date, else the file's mtime when indexed
    std::string file;                       // path relative to the folder: "new/NAME" or "cur/NAME:2,S"
};

struct FolderState {
    std::uint32_t uidvalidity = 0;
    std::uint32_t uidnext = 1;
    std::uint64_t highest_modseq = 1;
    std::uint64_t version = 0;              // the folder's change counter in the index at this state
    std::vector<MessageRecord> messages;    // ascending UID: message sequence number i+1 is messages[i]
};

struct FolderInfo {
    std::string name;                       // "INBOX", "Sent", "Work.2024" (UTF-8; the session encodes)
    std::string special_use;                // RFC 6154: "\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", or empty
    bool subscribed = false;
    bool has_children = false;              // RFC 3348 CHILDREN
    bool nonexistent = false;               // subscribed but not (or no longer) there (RFC 5258 \NonExistent)
};

struct FolderStatus {
    std::uint32_t messages = 0, unseen = 0, deleted = 0, recent = 0;
    std::uint32_t uidnext = 1, uidvalidity = 0;
    std::uint64_t size = 0;                 // RFC 8438 STATUS=SIZE: sum of RFC822.SIZE
    std::uint64_t highest_modseq = 1;
};

// What a store changes: replace the flags, add them, or take them away (STORE FLAGS, +FLAGS, -FLAGS).
enum class FlagChange { replace, add, remove };

// A refusal the session turns into a tagged NO with a response code (RFC 5530).
class MailIndexError : public std::runtime_error {
public:
    enum class Kind {
        nonexistent,     // [NONEXISTENT] no such folder
        already_exists,  // [ALREADYEXISTS]
        bad_name,        // [CANNOT] a name that would leave the Maildir, an empty level, too deep, too long
        cannot,          // [CANNOT] what IMAP forbids: deleting INBOX, renaming a folder onto itself
        limit,           // [LIMIT] too many folders
        storage,         // [SERVERBUG]/[UNAVAILABLE] the disk failed
    };
    MailIndexError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    Kind kind() const { return kind_; }

private:
    Kind kind_;
};

// Bounds on what a user can make (hostile clients): folders, nesting, name length (octets, UTF-8).
// Maildir++ keeps a whole folder name in one directory name (".Work.2024"), which Linux bounds at 255
// octets (NAME_MAX): with the leading '.', 254 octets is the longest name the layout can hold.
constexpr std::size_t kMaxFolders = 1000;
constexpr std::size_t kMaxFolderDepth = 16;
constexpr std::size_t kMaxFolderName = 254;

// The folders every user has (RFC 6154), made at the first open of an index.
struct SpecialFolder {
    std::string_view name, use;
};
inline constexpr SpecialFolder kSpecialFolders[] = {
    {"Sent", "\\Sent"}, {"Drafts", "\\Drafts"}, {"Trash", "\\Trash"}, {"Junk", "\\Junk"}, {"Archive", "\\Archive"}};

class MailIndex {
public:
    // MailIndex - the index of the Maildir at root (created with the special-use folders if need be;
    // a corrupt database is moved aside to mailkeep-index.db.corrupt-<time> and rebuilt). Throws
    // MailIndexError(storage) when the directory cannot be used.
    explicit MailIndex(std::filesystem::path root);
    ~MailIndex();
    MailIndex(const MailIndex&) = delete;
    MailIndex& operator=(const MailIndex&) = delete;

    const std::filesystem::path& root() const { return root_; }

    // folders - every folder, INBOX first, then by name; found on disk too (a ".X/" made by Dovecot);
    // then the subscribed names that do not exist, marked nonexistent.
    std::vector<FolderInfo> folders();
    // exists - whether the folder exists ("INBOX" in any case is INBOX).
    bool exists(const std::string& folder);
    // create / remove / rename - RFC 9051 6.3.4-6.3.6 on the Maildir++ directories. remove takes the
    // folder and its messages; its children keep their names and stay (Maildir++ has no \Noselect
    // parents to keep). rename renames the children with it; rename of INBOX moves its messages into
    // the new folder and leaves INBOX empty (RFC 9051 6.3.6). Names are UTF-8, "." separated.
    void create(const std::string& folder);
    void remove(const std::string& folder);
    void rename(const std::string& from, const std::string& to);
    void subscribe(const std::string& folder, bool on);   // LSUB / LIST (SUBSCRIBED); a name need not exist

    // sync - the folder as it is on disk now (see the header comment); throws nonexistent.
    FolderState sync(const std::string& folder);
    // sync_changed - sync, or nullopt when the folder is still at version (a FolderState's): nothing
    // changed on disk or in the index since, and no message is read (a NOOP on a big folder is a stat).
    std::optional<FolderState> sync_changed(const std::string& folder, std::uint64_t version);
    // status - the counts of STATUS without a full FolderState (it syncs the folder first; cheap when
    // neither new/ nor cur/ changed since the last sync); throws nonexistent.
    FolderStatus status(const std::string& folder);

    // claim_recent - RFC 3501 \Recent (IMAP4rev1; IMAP4rev2 dropped it): a message is recent to the
    // first session told of it. Returns the folder's first UID not yet claimed; unless peek (EXAMINE),
    // the messages from it up to last_uid become the caller's, and the next caller gets later ones only.
    std::uint32_t claim_recent(const std::string& folder, std::uint32_t last_uid, bool peek);

    // store - change the flags and keywords of the messages with these UIDs (those that exist): the file
    // names are renamed to carry the system flags (new/ -> cur/ as Maildir readers do), each changed
    // message gets a new MODSEQ. unchanged_since (RFC 7162 3.1.3): a message whose MODSEQ is higher
    // is left alone and its UID returned in failed. Returns the changed messages' records.
    std::vector<MessageRecord> store(const std::string& folder, const std::vector<std::uint32_t>& uids, FlagChange change,
                                     std::uint32_t flags, const std::vector<std::string>& keywords,
                                     std::optional<std::uint64_t> unchanged_since, std::vector<std::uint32_t>& failed);
    // expunge - unlink the files of these UIDs (all with \Deleted when uids is empty is the caller's
    // choice: it passes them); returns the UIDs expunged, ascending. Remembered for vanished().
    std::vector<std::uint32_t> expunge(const std::string& folder, const std::vector<std::uint32_t>& uids);
    // append - the message in file (a complete CRLF file in the same file system, e.g. the intake's
    // spool) linked into the folder durably with flags and keywords; its UID (RFC 4315 APPENDUID).
    // The caller removes file afterwards.
    struct Appended {
        std::uint32_t uidvalidity = 0, uid = 0;
    };
    Appended append(const std::string& folder, const std::filesystem::path& file, std::uint32_t flags,
                    const std::vector<std::string>& keywords, std::int64_t internal_date);
    // copy - the messages with these UIDs linked into to (hard links, durable), flags and keywords
    // kept; RFC 4315 COPYUID: the source UIDs copied and their new UIDs, in the same order. move
    // renames the files instead and expunges them from from in the same transaction (RFC 6851): a
    // message is never in both folders, even after a crash.
    struct Copied {
        std::uint32_t uidvalidity = 0;
        std::vector<std::uint32_t> from_uids, to_uids;
    };
    Copied copy(const std::string& from, const std::vector<std::uint32_t>& uids, const std::string& to);
    Copied move(const std::string& from, const std::vector<std::uint32_t>& uids, const std::string& to);

    // vanished - the UIDs expunged from the folder after modseq (RFC 7162 3.2.10 QRESYNC), ascending;
    // nullopt when the index no longer knows that far back (the client must resynchronise fully).
    std::optional<std::vector<std::uint32_t>> vanished(const std::string& folder, std::uint64_t modseq);

    // cached / cache - per message strings the session computes once (ENVELOPE, BODYSTRUCTURE, ...:
    // key names them), dropped with the message.
    std::optional<std::string> cached(const std::string& folder, std::uint32_t uid, std::string_view key);
    void cache(const std::string& folder, std::uint32_t uid, std::string_view key, const std::string& value);

    // folder_path - the directory of a folder (root for INBOX, root/".Name" otherwise); throws
    // bad_name for a name that is not a valid folder name.
    std::filesystem::path folder_path(const std::string& folder) const;

private:
    Copied transfer(const std::string& from, const std::vector<std::uint32_t>& uids, const std::string& to, bool move);

    std::filesystem::path root_;
    std::unique_ptr<SQLite::Database> db_;
};

}  // namespace mk
