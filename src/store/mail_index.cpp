// store/mail_index.cpp — the IMAP view of one user's Maildir++: UIDs, MODSEQs, flags, keywords and
// caches in SQLite beside the mail. Folder names come from clients (untrusted) and are checked before
// they become a path; the files may come from other programs (Dovecot, mutt): their names are parsed,
// never trusted beyond their unique part, flags and sizes. The files are the truth: every change is
// made to the files first and recorded after, so a crash between the two is found again by sync().
#include "store/mail_index.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/durable.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"
#include "store/maildir.hpp"
#include "store/sqlite_file.hpp"

namespace mk {

namespace {

namespace fs = std::filesystem;
using Kind = MailIndexError::Kind;

// The index, beside the mail; the name is no folder (those begin with '.') and no Maildir directory.
constexpr const char* kDbName = "mailkeep-index.db";
// The last UIDVALIDITY handed out, in a file of its own: it outlives a database moved aside, so that a
// rebuilt index never gives a folder a UIDVALIDITY it had before (RFC 9051 2.3.1.1).
constexpr const char* kUidvalidityFile = "mailkeep-index.uidvalidity";
constexpr std::int64_t kSchemaVersion = 2;   // 2: the recent table
// How long a change waits for another connection's transaction: a first sync of 100,000 messages
// holds the write lock for about a second; a minute means something is stuck.
constexpr int kBusyTimeoutMs = 60'000;
// How much of the index SQLite may read through mmap(2): a 100,000-message folder's rows take ~15 MiB.
constexpr std::int64_t kMmapBytes = 64 << 20;
// Tombstones kept per folder for QRESYNC (RFC 7162 3.2.10); older expunges answer "unknown".
constexpr std::int64_t kMaxTombstones = 10'000;
// A directory's mtime proves "unchanged since the last scan" only once it is this old (ns): the file
// system stamps changes with a coarse clock, so a change in the same tick as our stat would keep it.
constexpr std::int64_t kMtimeSettleNs = 2'000'000'000;
// Files in tmp/ older than this are what a crashed writer left (the Maildir rule: 36 hours).
constexpr std::time_t kStaleTmpSeconds = 36 * 3600;
// A removed folder is renamed into INBOX's tmp/ under this prefix (one atomic step) and then deleted.
constexpr std::string_view kRemovedPrefix = ".mailkeep-removed-";
// Dovecot marks a Maildir++ folder directory with this empty file (its deliver and quota look for it).
constexpr const char* kMaildirFolderFile = "maildirfolder";
// Keywords are IMAP atoms (RFC 9051 9: flag-keyword); this bounds one.
constexpr std::size_t kMaxKeyword = 128;
constexpr std::string_view kInbox = "INBOX";
// Room made up front for a folder's records (a bound, not a limit: more only cost a reallocation).
constexpr std::size_t kReserveAtMost = 1'000'000;
constexpr std::string_view kInfo = ":2,";   // Maildir: the flags follow

[[noreturn]] void refuse(Kind kind, const std::string& what) { throw MailIndexError(kind, what); }

// ---- folder names ----------------------------------------------------------------------------

// canonical_name - the folder's name as the index keeps it (a first level "inbox" in any case is
// "INBOX"); throws bad_name for a name that could leave the Maildir or break the Maildir++ layout.
std::string canonical_name(std::string_view folder) {
    auto bad = [&](const char* why) { refuse(Kind::bad_name, fmt::format("folder name \"{}\": {}", printable(folder), why)); };
    if (folder.empty()) bad("empty");
    if (folder.size() > kMaxFolderName) bad("too long");
    if (!valid_utf8(folder)) bad("not UTF-8");
    if (has_control(folder)) bad("control character");   // NUL included
    if (folder.find('/') != std::string_view::npos) bad("'/' in a name");
    std::size_t depth = 0;
    for (std::size_t start = 0;; ) {
        std::size_t dot = folder.find('.', start);
        // An empty level is also what "..", a leading "." (a hidden or parent directory) and a
        // trailing "." would make.
        if (folder.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start).empty())
            bad("empty level");
        ++depth;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (depth > kMaxFolderDepth) bad("too deep");
    std::string out(folder);
    std::size_t first = std::min(out.find('.'), out.size());
    if (iequals(std::string_view(out).substr(0, first), kInbox)) out.replace(0, first, kInbox);
    return out;
}

fs::path folder_dir(const fs::path& root, const std::string& name) {
    return name == kInbox ? root : root / ("." + name);
}

bool is_dir(const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);   // a symlinked folder is not ours
}

// disk_folders - the Maildir++ folders in root (".Name/" directories with a valid name), sorted;
// Dovecot's and mutt's included. Names that are not valid folder names are left out.
std::vector<std::string> disk_folders(const fs::path& root) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(root.c_str()), ::closedir);
    if (!d) throw StorageError(fmt::format("opendir {}: {}", root.string(), errno_text(errno)));
    std::vector<std::string> out;
    while (const dirent* e = ::readdir(d.get())) {
        std::string_view entry = e->d_name;
        if (entry.size() < 2 || entry[0] != '.' || entry == "..") continue;
        if (e->d_type != DT_DIR && (e->d_type != DT_UNKNOWN || !is_dir(root / std::string(entry)))) continue;
        std::string name(entry.substr(1));
        try {
            if (name == kInbox || canonical_name(name) != name) continue;
        } catch (const MailIndexError&) {
            continue;   // e.g. Dovecot's "..DOVECOT-TRASH"
        }
        out.push_back(std::move(name));
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string_view special_use_of(std::string_view name) {
    for (const SpecialFolder& s : kSpecialFolders)
        if (s.name == name) return s.use;
    return {};
}

// ---- Maildir names -----------------------------------------------------------------------------

struct FlagLetter {
    char letter;
    std::uint32_t flag;
};
constexpr FlagLetter kFlagLetters[] = {
    {'D', kFlagDraft}, {'F', kFlagFlagged}, {'R', kFlagAnswered}, {'S', kFlagSeen}, {'T', kFlagDeleted}};
constexpr std::uint32_t kSystemFlags = kFlagSeen | kFlagAnswered | kFlagFlagged | kFlagDeleted | kFlagDraft;

bool is_our_letter(char c) {
    return std::any_of(std::begin(kFlagLetters), std::end(kFlagLetters), [c](const FlagLetter& f) { return f.letter == c; });
}

// flags_of - the system flags a Maildir name carries after ":2,".
std::uint32_t flags_of(std::string_view name) {
    std::size_t at = name.find(kInfo);
    if (at == std::string_view::npos) return 0;
    std::uint32_t flags = 0;
    for (char c : name.substr(at + kInfo.size()))
        for (const FlagLetter& f : kFlagLetters)
            if (c == f.letter) flags |= f.flag;
    return flags;
}

// with_flags - the name carrying these system flags; letters we do not own (Dovecot's keyword letters
// a-z, P passed) stay, all in ASCII order as the Maildir spec asks.
std::string with_flags(std::string_view name, std::uint32_t flags) {
    std::string letters;
    std::size_t at = name.find(kInfo);
    if (at != std::string_view::npos)
        for (char c : name.substr(at + kInfo.size()))
            if (!is_our_letter(c) && c > ' ' && c != ',' && c != '/' && c != 0x7f && letters.find(c) == std::string::npos)
                letters += c;
    for (const FlagLetter& f : kFlagLetters)
        if (flags & f.flag) letters += f.letter;
    std::sort(letters.begin(), letters.end());
    return std::string(name.substr(0, name.find(':'))) + std::string(kInfo) + letters;
}

// key_of - the unique part of a file ("cur/NAME:2,S" -> the part of NAME before ',' or ':'): the same
// message keeps it across new/ -> cur/ and flag changes (Maildir::uid_of).
std::string_view key_of(std::string_view rel) {
    std::string_view name = rel.substr(rel.find('/') + 1);
    return name.substr(0, name.find_first_of(",:"));
}

std::string_view base_of(std::string_view rel) { return rel.substr(rel.find('/') + 1); }

// target_of - where a message with these flags lives: new/ until a reader has flags for it.
std::string target_of(const std::string& name, std::uint32_t flags) {
    return flags ? "cur/" + with_flags(name, flags) : "new/" + name;
}

// fresh_name - a new unique Maildir++ name for a file of disk_size octets whose CRLF size is crlf_size:
// Maildir::unique_name's form (S= the size on disk, W= the CRLF size, as Dovecot reads them).
std::string fresh_name(std::uint64_t disk_size, std::uint64_t crlf_size) {
    std::string name = Maildir::unique_name(new_queue_id(), disk_size);
    return name.substr(0, name.rfind(",W=")) + fmt::format(",W={}", crlf_size);
}

// ---- keywords ----------------------------------------------------------------------------------

std::vector<std::string> split_keywords(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t at = 0; at < s.size();) {
        std::size_t sp = std::min(s.find(' ', at), s.size());
        if (sp > at) out.emplace_back(s, at, sp - at);
        at = sp + 1;
    }
    return out;
}

std::string join_keywords(const std::vector<std::string>& k) {
    std::string out;
    for (const std::string& w : k) out += (out.empty() ? "" : " ") + w;
    return out;
}

// check_keywords - keywords are atoms (the session parses them); what would break the space-separated
// column or is a system flag is refused.
void check_keywords(const std::vector<std::string>& keywords) {
    for (const std::string& k : keywords) {
        bool ok = !k.empty() && k.size() <= kMaxKeyword && k[0] != '\\' && valid_utf8(k) && !has_control(k) &&
                  k.find(' ') == std::string::npos;
        if (!ok) refuse(Kind::cannot, fmt::format("keyword \"{}\" is not an atom", printable(k)));
    }
}

bool has_keyword(const std::vector<std::string>& v, std::string_view k) {
    return std::any_of(v.begin(), v.end(), [&](const std::string& w) { return iequals(w, k); });
}

// changed_keywords - have after STORE FLAGS / +FLAGS / -FLAGS of given, compared case-insensitively; a
// keyword already there keeps the case it was first stored with.
std::vector<std::string> changed_keywords(const std::vector<std::string>& have, FlagChange change,
                                          const std::vector<std::string>& given) {
    std::vector<std::string> out;
    if (change == FlagChange::remove) {
        for (const std::string& k : have)
            if (!has_keyword(given, k)) out.push_back(k);
        return out;
    }
    if (change == FlagChange::add) out = have;
    for (const std::string& k : given) {
        if (has_keyword(out, k)) continue;
        auto old = std::find_if(have.begin(), have.end(), [&](const std::string& w) { return iequals(w, k); });
        out.push_back(old != have.end() ? *old : k);
    }
    return out;
}

bool same_keywords(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    if (a.size() != b.size()) return false;
    return std::all_of(a.begin(), a.end(), [&](const std::string& k) { return has_keyword(b, k); });
}

std::uint32_t changed_flags(std::uint32_t have, FlagChange change, std::uint32_t given) {
    given &= kSystemFlags;
    switch (change) {
        case FlagChange::replace: return given;
        case FlagChange::add: return have | given;
        case FlagChange::remove: return have & ~given;
    }
    return have;
}

// ---- directories -------------------------------------------------------------------------------

// ensure_subdirs - tmp/, new/ and cur/ of a folder directory, made if a crash or another program left
// them out.
void ensure_subdirs(const fs::path& dir) {
    bool made = false;
    for (const char* sub : {"tmp", "new", "cur"}) {
        fs::path p = dir / sub;
        if (::mkdir(p.c_str(), 0700) == 0) made = true;
        else if (errno != EEXIST) throw StorageError(fmt::format("mkdir {}: {}", p.string(), errno_text(errno)));
    }
    if (made) fsync_dir(dir);
}

// make_folder_dir - a Maildir++ folder directory with Dovecot's maildirfolder marker, durable: the
// new names are fsynced into their parents. An existing directory is already_exists when must_be_new.
void make_folder_dir(const fs::path& dir, bool must_be_new) {
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno != EEXIST) throw StorageError(fmt::format("mkdir {}: {}", dir.string(), errno_text(errno)));
        if (must_be_new) refuse(Kind::already_exists, fmt::format("{} exists", dir.filename().string()));
        ensure_subdirs(dir);
        return;
    }
    fs::path marker = dir / kMaildirFolderFile;
    Fd fd(::open(marker.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw StorageError(fmt::format("create {}: {}", marker.string(), errno_text(errno)));
    fd.close_checked(marker);
    ensure_subdirs(dir);
    fsync_dir(dir);
    fsync_dir(dir.parent_path());
}

// clean_tmp - what a crash left in INBOX's tmp/: removed folders not yet deleted, and (the Maildir
// rule) files older than 36 hours.
void clean_tmp(const fs::path& root) {
    fs::path tmp = root / "tmp";
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(tmp.c_str()), ::closedir);
    if (!d) return;
    std::vector<std::string> stale;
    const std::time_t now = std::time(nullptr);
    while (const dirent* e = ::readdir(d.get())) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        struct stat st {};
        if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (name.substr(0, kRemovedPrefix.size()) == kRemovedPrefix || (S_ISREG(st.st_mode) && st.st_mtime < now - kStaleTmpSeconds))
            stale.emplace_back(name);
    }
    for (const std::string& name : stale) {
        std::error_code ec;
        fs::remove_all(tmp / name, ec);
        if (ec) spdlog::warn("mail index: cannot remove {}: {}", (tmp / name).string(), ec.message());
        else spdlog::info("mail index: removed {} (left by an earlier run)", (tmp / name).string());
    }
}

// A message file as a directory listing found it.
struct DiskFile {
    std::string rel;      // "new/NAME" or "cur/NAME"
    bool stale = false;   // seen only by an earlier listing: proves the message is there, not where
};

// Which of a folder's two directories a listing reads.
struct Subdirs {
    bool new_dir = true, cur_dir = true;
    bool reads(std::string_view rel) const { return rel.substr(0, 4) == "new/" ? new_dir : cur_dir; }
};

// list_files - the regular files of dir/new and dir/cur but dot files: one readdir of each, new/
// first, so that a message a reader moves to cur/ meanwhile is seen in one or the other (or both).
// Symbolic links are left out: a user's Maildir is no way to read other files.
std::vector<DiskFile> list_files(const fs::path& dir, Subdirs which = {}) {
    std::vector<DiskFile> out;
    for (const char* sub : {"new", "cur"}) {
        if (!which.reads(std::string(sub) + "/")) continue;
        fs::path p = dir / sub;
        std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(p.c_str()), ::closedir);
        if (!d) throw StorageError(fmt::format("opendir {}: {}", p.string(), errno_text(errno)));
        while (const dirent* e = ::readdir(d.get())) {
            if (e->d_name[0] == '.') continue;
            if (e->d_type != DT_REG) {
                struct stat st {};
                if (e->d_type != DT_UNKNOWN || ::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                    !S_ISREG(st.st_mode))
                    continue;
            }
            out.push_back(DiskFile{std::string(sub) + "/" + e->d_name});
        }
    }
    return out;
}

// Where messages are now, by unique part, for files another program renamed since the index saw
// them; the folder is listed once, when first asked.
class Finder {
public:
    explicit Finder(fs::path dir) : dir_(std::move(dir)) {}
    std::optional<std::string> find(std::string_view key) {
        if (!where_) {
            where_.emplace();
            for (DiskFile& f : list_files(dir_)) where_->emplace(std::string(key_of(f.rel)), std::move(f.rel));
        }
        auto it = where_->find(std::string(key));
        if (it == where_->end()) return std::nullopt;
        return it->second;
    }

private:
    fs::path dir_;
    std::optional<std::unordered_map<std::string, std::string>> where_;
};

std::int64_t mtime_ns(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// The mtimes of new/ and cur/ before a scan. Recorded after a scan, they let the next sync skip the
// listing of a directory that did not change (any message arriving, leaving or renamed changes its
// directory's mtime; a move new/ -> cur/ both); a mtime too recent to prove anything is recorded as 0
// (never equal). New mail thus costs a listing of new/ only, however large cur/ is.
struct DirTimes {
    std::int64_t new_mtime = 0, cur_mtime = 0;
};

DirTimes dir_times(const fs::path& dir) {
    timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    const std::int64_t settled = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec - kMtimeSettleNs;
    auto settled_mtime = [&](const char* sub) -> std::int64_t {
        struct stat st {};
        if (::stat((dir / sub).c_str(), &st) != 0 || mtime_ns(st) >= settled) return 0;
        return mtime_ns(st);
    };
    return DirTimes{settled_mtime("new"), settled_mtime("cur")};
}

// ---- the database ------------------------------------------------------------------------------

struct Folder {
    std::int64_t id = 0;
    std::string name;
    fs::path dir;
    std::uint32_t uidvalidity = 0, uidnext = 1;
    std::uint64_t highest_modseq = 1, vanished_floor = 0, version = 0;
    std::int64_t new_mtime = 0, cur_mtime = 0;
};

std::uint64_t u64(const SQLite::Column& c) { return static_cast<std::uint64_t>(c.getInt64()); }
std::uint32_t u32(const SQLite::Column& c) { return static_cast<std::uint32_t>(c.getInt64()); }
std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }

std::optional<std::int64_t> meta(SQLite::Database& db, const char* key) {
    SQLite::Statement q(db, "SELECT value FROM meta WHERE key = ?");
    q.bind(1, key);
    if (!q.executeStep()) return std::nullopt;
    return q.getColumn(0).getInt64();
}

void set_meta(SQLite::Database& db, const char* key, std::int64_t value) {
    SQLite::Statement q(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    q.bind(1, key);
    q.bind(2, value);
    q.exec();
}

std::optional<Folder> find_folder(SQLite::Database& db, const fs::path& root, const std::string& name) {
    SQLite::Statement q(db, "SELECT id, uidvalidity, uidnext, highest_modseq, vanished_floor, version, new_mtime, cur_mtime"
                            " FROM folders WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return std::nullopt;
    Folder f;
    f.id = q.getColumn(0).getInt64();
    f.name = name;
    f.dir = folder_dir(root, name);
    f.uidvalidity = u32(q.getColumn(1));
    f.uidnext = u32(q.getColumn(2));
    f.highest_modseq = u64(q.getColumn(3));
    f.vanished_floor = u64(q.getColumn(4));
    f.version = u64(q.getColumn(5));
    f.new_mtime = q.getColumn(6).getInt64();
    f.cur_mtime = q.getColumn(7).getInt64();
    return f;
}

// new_uidvalidity - the next UIDVALIDITY: the time in seconds, or one more than the last handed out
// (in this database or, if it was moved aside, in the file beside it), so it only ever grows. Inside
// the caller's write transaction, which orders concurrent creations.
std::uint32_t new_uidvalidity(SQLite::Database& db, const fs::path& root) {
    std::int64_t last = meta(db, "last_uidvalidity").value_or(0);
    try {
        std::string text = read_at_most(root / kUidvalidityFile, 0, 32);
        std::int64_t from_file = 0;
        std::from_chars(text.data(), text.data() + text.size(), from_file);
        last = std::max(last, from_file);
    } catch (const StorageError&) {
        // no file yet: the first folder of this Maildir
    }
    const std::int64_t v = std::max<std::int64_t>(std::time(nullptr), last + 1);
    if (v > std::int64_t{UINT32_MAX}) throw StorageError("UIDVALIDITY exhausted");
    set_meta(db, "last_uidvalidity", v);
    write_file_durable(root / kUidvalidityFile, std::to_string(v));
    return static_cast<std::uint32_t>(v);
}

// register_folder - a row for a folder directory the index does not know yet (new, or made by another
// program), with a new UIDVALIDITY. In the caller's write transaction.
Folder register_folder(SQLite::Database& db, const fs::path& root, const std::string& name) {
    SQLite::Statement q(db, "INSERT INTO folders (name, uidvalidity, uidnext, highest_modseq) VALUES (?, ?, 1, 1)");
    q.bind(1, name);
    q.bind(2, static_cast<std::int64_t>(new_uidvalidity(db, root)));
    q.exec();
    return *find_folder(db, root, name);
}

// drop_folder - the folder's rows and everything hanging off them. In the caller's write transaction.
void drop_folder(SQLite::Database& db, std::int64_t id) {
    for (const char* sql : {"DELETE FROM messages WHERE folder = ?", "DELETE FROM cache WHERE folder = ?",
                            "DELETE FROM vanished WHERE folder = ?", "DELETE FROM recent WHERE folder = ?",
                            "DELETE FROM folders WHERE id = ?"}) {
        SQLite::Statement q(db, sql);
        q.bind(1, id);
        q.exec();
    }
}

// first_recent - the first UID of the folder no session has claimed as \Recent yet.
std::uint32_t first_recent(SQLite::Database& db, std::int64_t folder) {
    SQLite::Statement q(db, "SELECT first_uid FROM recent WHERE folder = ?");
    q.bind(1, folder);
    return q.executeStep() ? u32(q.getColumn(0)) : 1;
}

void subscribe_row(SQLite::Database& db, const std::string& name, bool on) {
    SQLite::Statement q(db, on ? "INSERT OR IGNORE INTO subscriptions (name) VALUES (?)" : "DELETE FROM subscriptions WHERE name = ?");
    q.bind(1, name);
    q.exec();
}

void create_schema(SQLite::Database& db) {
    db.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    db.exec("CREATE TABLE IF NOT EXISTS folders (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
            " uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL, highest_modseq INTEGER NOT NULL,"
            " vanished_floor INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 0,"
            " new_mtime INTEGER NOT NULL DEFAULT 0, cur_mtime INTEGER NOT NULL DEFAULT 0)");
    // mkey: the file's unique part, one message per folder (two syncs cannot index one file twice).
    db.exec("CREATE TABLE IF NOT EXISTS messages (folder INTEGER NOT NULL, uid INTEGER NOT NULL, mkey TEXT NOT NULL,"
            " file TEXT NOT NULL, flags INTEGER NOT NULL, keywords TEXT NOT NULL, modseq INTEGER NOT NULL,"
            " size INTEGER NOT NULL, internal_date INTEGER NOT NULL, PRIMARY KEY (folder, uid)) WITHOUT ROWID");
    db.exec("CREATE UNIQUE INDEX IF NOT EXISTS messages_mkey ON messages (folder, mkey)");
    db.exec("CREATE TABLE IF NOT EXISTS vanished (folder INTEGER NOT NULL, uid INTEGER NOT NULL,"
            " modseq INTEGER NOT NULL, PRIMARY KEY (folder, uid)) WITHOUT ROWID");
    db.exec("CREATE INDEX IF NOT EXISTS vanished_modseq ON vanished (folder, modseq)");
    db.exec("CREATE TABLE IF NOT EXISTS cache (folder INTEGER NOT NULL, uid INTEGER NOT NULL, key TEXT NOT NULL,"
            " value BLOB NOT NULL, PRIMARY KEY (folder, uid, key)) WITHOUT ROWID");
    db.exec("CREATE TABLE IF NOT EXISTS subscriptions (name TEXT PRIMARY KEY)");
    // RFC 3501 \Recent: the folder's messages from first_uid on have not been claimed by a session yet.
    db.exec("CREATE TABLE IF NOT EXISTS recent (folder INTEGER PRIMARY KEY, first_uid INTEGER NOT NULL)");
}

// connect - a connection to the index: WAL (readers never wait for the writer), synchronous=FULL (a
// commit is on disk when it returns: UIDNEXT is durable before a UID is handed out), and a busy
// timeout so that concurrent sessions queue for the write lock instead of failing.
std::unique_ptr<SQLite::Database> connect(const fs::path& root) {
    // NOMUTEX: a connection belongs to one MailIndex, used by one thread at a time (SQLite's own
    // per-call mutex cost 4 % of a 100,000-message sync).
    auto db = std::make_unique<SQLite::Database>(owner_only_db(root / kDbName),
                                                 SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
    db->setBusyTimeout(kBusyTimeoutMs);
    db->exec("PRAGMA journal_mode=WAL");
    db->exec("PRAGMA synchronous=FULL");
    // Reads through a mapping instead of a pread and a copy per page: the read of a 100,000-message
    // folder (every SELECT) took 0.07 s instead of 0.12 s. The pages are the page cache's, shared by
    // every connection; bounded so a huge index does not map more than this.
    db->exec(fmt::format("PRAGMA mmap_size={}", kMmapBytes));
    return db;
}

// prepare - the schema and, at the first open of this database, INBOX and the special-use folders,
// subscribed (RFC 6154). A folder the user removed later is not made again.
void prepare(SQLite::Database& db, const fs::path& root) {
    {
        SQLite::Statement q(db, "SELECT count(*) FROM sqlite_master WHERE name = 'meta'");
        q.executeStep();
        if (q.getColumn(0).getInt() == 1 && meta(db, "special_folders")) {
            const std::int64_t schema = meta(db, "schema").value_or(0);
            if (schema > kSchemaVersion) throw StorageError("index made by a newer mailkeep");
            if (schema == kSchemaVersion) return;   // else the tables added since are made below
        }
    }
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    create_schema(db);
    if (meta(db, "schema").value_or(0) > kSchemaVersion) throw StorageError("index made by a newer mailkeep");
    set_meta(db, "schema", kSchemaVersion);
    if (!meta(db, "special_folders")) {
        if (!find_folder(db, root, std::string(kInbox))) register_folder(db, root, std::string(kInbox));
        subscribe_row(db, std::string(kInbox), true);
        for (const SpecialFolder& s : kSpecialFolders) {
            std::string name(s.name);
            make_folder_dir(folder_dir(root, name), false);
            if (!find_folder(db, root, name)) register_folder(db, root, name);
            subscribe_row(db, name, true);
        }
        set_meta(db, "special_folders", 1);
    }
    tx.commit();
}

fs::path db_path(const fs::path& root) { return root / kDbName; }

// unreadable - whether an error opening the index means the file itself is bad (garbage, a torn
// header, a file we may not read), as opposed to a busy or failing disk.
bool unreadable(const SQLite::Exception& e, const fs::path& root) {
    const int code = e.getErrorCode();
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return true;
    struct stat st {};
    return code == SQLITE_CANTOPEN && ::lstat(db_path(root).c_str(), &st) == 0;
}

// still_bad - whether the database at root fails SQLite's own check (a connection of ours may have
// found it corrupt after another one had already rebuilt it: that one is not moved aside again).
bool still_bad(const fs::path& root) {
    struct stat st {};
    if (::lstat(db_path(root).c_str(), &st) != 0) return false;   // already moved aside, not yet remade
    try {
        SQLite::Database db(db_path(root).string(), SQLite::OPEN_READONLY);
        SQLite::Statement q(db, "PRAGMA quick_check");
        return !q.executeStep() || q.getColumn(0).getString() != "ok";
    } catch (const SQLite::Exception&) {
        return true;
    }
}

// set_aside - the database (and its -wal, -shm) renamed to mailkeep-index.db.corrupt-<time>, kept for
// a post-mortem; the next open rebuilds from the files, with new UIDVALIDITYs.
void set_aside(const fs::path& root, const std::string& why) {
    const std::string stamp = fmt::format("{}.corrupt-{}", db_path(root).string(), std::time(nullptr));
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::string from = db_path(root).string() + suffix;
        if (::rename(from.c_str(), (stamp + suffix).c_str()) != 0 && errno != ENOENT)
            throw StorageError(fmt::format("rename {}: {}", from, errno_text(errno)));
    }
    spdlog::warn("mail index {}: {}; moved aside to {} and rebuilt from the files (new UIDVALIDITYs)",
                 db_path(root).string(), why, stamp);
}

std::unique_ptr<SQLite::Database> open_index(const fs::path& root) {
    try {
        auto db = connect(root);
        prepare(*db, root);
        return db;
    } catch (const SQLite::Exception& e) {
        if (!unreadable(e, root)) throw;
        set_aside(root, e.what());
    }
    auto db = connect(root);
    prepare(*db, root);
    return db;
}

// guarded - fn() with its failures as MailIndexError: SQLite's and the disk's as storage. A corrupt
// database is moved aside and rebuilt; an operation without side effects on the files (retry) is then
// run again on the rebuilt index, any other reports the failure (its files are found by the next sync).
template <class Fn>
auto guarded(std::unique_ptr<SQLite::Database>& db, const fs::path& root, bool retry, Fn&& fn) -> decltype(fn()) {
    for (int attempt = 0;; ++attempt) {
        try {
            if (!db) db = open_index(root);
            return fn();
        } catch (const MailIndexError&) {
            throw;
        } catch (const SQLite::Exception& e) {
            const int code = e.getErrorCode();
            if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
                db.reset();
                if (still_bad(root)) set_aside(root, e.what());
                if (retry && attempt == 0) continue;
            }
            throw MailIndexError(Kind::storage, fmt::format("mail index {}: {}", root.string(), e.what()));
        } catch (const StorageError& e) {
            throw MailIndexError(Kind::storage, e.what());
        } catch (const fs::filesystem_error& e) {
            throw MailIndexError(Kind::storage, e.what());
        }
    }
}

// open_folder - the folder's row, made when the directory exists but the index does not know it (a
// new index, or a folder Dovecot or mutt made); a row whose directory is gone is dropped.
Folder open_folder(SQLite::Database& db, const fs::path& root, const std::string& folder) {
    std::string name = canonical_name(folder);
    fs::path dir = folder_dir(root, name);
    std::optional<Folder> f = find_folder(db, root, name);
    if (!is_dir(dir)) {
        if (f) {
            SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
            drop_folder(db, f->id);
            tx.commit();
        }
        refuse(Kind::nonexistent, fmt::format("no folder \"{}\"", printable(name)));
    }
    ensure_subdirs(dir);
    if (f) return *f;
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    f = find_folder(db, root, name);   // another session may have made it meanwhile
    if (!f) f = register_folder(db, root, name);
    tx.commit();
    return *f;
}

// reread - the folder's row now, inside a transaction; nonexistent if another session removed it.
Folder reread(SQLite::Database& db, const fs::path& root, const Folder& f) {
    std::optional<Folder> now = find_folder(db, root, f.name);
    if (!now || now->id != f.id) refuse(Kind::nonexistent, fmt::format("folder \"{}\" was removed", printable(f.name)));
    return *now;
}

constexpr const char* kMessageColumns = "uid, modseq, flags, keywords, size, internal_date, file";

MessageRecord record_of(SQLite::Statement& q) {
    MessageRecord m;
    m.uid = u32(q.getColumn(0));
    m.modseq = u64(q.getColumn(1));
    m.flags = u32(q.getColumn(2));
    m.keywords = split_keywords(q.getColumn(3).getString());
    m.size = u64(q.getColumn(4));
    m.internal_date = q.getColumn(5).getInt64();
    m.file = q.getColumn(6).getString();
    return m;
}

// load_messages - the folder's messages, ascending UID; uidnext bounds their number (room made once).
std::vector<MessageRecord> load_messages(SQLite::Database& db, std::int64_t folder, std::uint32_t uidnext) {
    SQLite::Statement q(db, fmt::format("SELECT {} FROM messages WHERE folder = ? ORDER BY uid", kMessageColumns));
    q.bind(1, folder);
    std::vector<MessageRecord> out;
    out.reserve(std::min<std::size_t>(uidnext, kReserveAtMost));
    while (q.executeStep()) out.push_back(record_of(q));
    return out;
}

// Selecting one message by UID, for the operations on a few.
class MessageQuery {
public:
    MessageQuery(SQLite::Database& db, std::int64_t folder)
        : q_(db, fmt::format("SELECT {} FROM messages WHERE folder = ? AND uid = ?", kMessageColumns)), folder_(folder) {}
    std::optional<MessageRecord> get(std::uint32_t uid) {
        q_.reset();
        q_.bind(1, folder_);
        q_.bind(2, static_cast<std::int64_t>(uid));
        if (!q_.executeStep()) return std::nullopt;
        return record_of(q_);
    }

private:
    SQLite::Statement q_;
    std::int64_t folder_;
};

// Writing message rows; one prepared statement each, reused for every message of an operation.
class MessageWriter {
public:
    MessageWriter(SQLite::Database& db, std::int64_t folder)
        : insert_(db, "INSERT OR IGNORE INTO messages (folder, uid, mkey, file, flags, keywords, modseq, size, internal_date)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
          update_(db, "UPDATE messages SET file = ?3, flags = ?4, keywords = ?5, modseq = ?6 WHERE folder = ?1 AND uid = ?2"),
          remove_(db, "DELETE FROM messages WHERE folder = ? AND uid = ?"),
          uncache_(db, "DELETE FROM cache WHERE folder = ? AND uid = ?"),
          tombstone_(db, "INSERT OR REPLACE INTO vanished (folder, uid, modseq) VALUES (?, ?, ?)"),
          folder_(folder) {}

    // insert - false when the folder already has a message with this unique part (a second file of it).
    bool insert(const MessageRecord& m) {
        insert_.reset();
        insert_.bind(1, folder_);
        insert_.bind(2, static_cast<std::int64_t>(m.uid));
        insert_.bind(3, std::string(key_of(m.file)));
        insert_.bind(4, m.file);
        insert_.bind(5, static_cast<std::int64_t>(m.flags));
        insert_.bind(6, join_keywords(m.keywords));
        insert_.bind(7, i64(m.modseq));
        insert_.bind(8, i64(m.size));
        insert_.bind(9, m.internal_date);
        return insert_.exec() == 1;
    }
    void update(const MessageRecord& m) {
        update_.reset();
        update_.bind(1, folder_);
        update_.bind(2, static_cast<std::int64_t>(m.uid));
        update_.bind(3, m.file);
        update_.bind(4, static_cast<std::int64_t>(m.flags));
        update_.bind(5, join_keywords(m.keywords));
        update_.bind(6, i64(m.modseq));
        update_.exec();
    }
    // expunge - the row and its cache gone, a tombstone for QRESYNC.
    void expunge(std::uint32_t uid, std::uint64_t modseq) {
        for (SQLite::Statement* q : {&remove_, &uncache_}) {
            q->reset();
            q->bind(1, folder_);
            q->bind(2, static_cast<std::int64_t>(uid));
            q->exec();
        }
        tombstone_.reset();
        tombstone_.bind(1, folder_);
        tombstone_.bind(2, static_cast<std::int64_t>(uid));
        tombstone_.bind(3, i64(modseq));
        tombstone_.exec();
    }

private:
    SQLite::Statement insert_, update_, remove_, uncache_, tombstone_;
    std::int64_t folder_;
};

// save_folder - the folder's counters after a change, and the change counter other sessions compare.
void save_folder(SQLite::Database& db, const Folder& f, std::uint32_t uidnext, std::uint64_t modseq,
                 std::optional<DirTimes> times = std::nullopt) {
    SQLite::Statement q(db, "UPDATE folders SET uidnext = ?2, highest_modseq = ?3, version = version + 1,"
                            " new_mtime = coalesce(?4, new_mtime), cur_mtime = coalesce(?5, cur_mtime) WHERE id = ?1");
    q.bind(1, f.id);
    q.bind(2, static_cast<std::int64_t>(uidnext));
    q.bind(3, i64(modseq));
    if (times) {
        q.bind(4, times->new_mtime);
        q.bind(5, times->cur_mtime);
    }
    q.exec();
}

// prune_tombstones - keep the newest kMaxTombstones; vanished() answers "unknown" below the floor.
void prune_tombstones(SQLite::Database& db, std::int64_t folder) {
    SQLite::Statement count(db, "SELECT count(*) FROM vanished WHERE folder = ?");
    count.bind(1, folder);
    count.executeStep();
    if (count.getColumn(0).getInt64() <= kMaxTombstones) return;
    SQLite::Statement cut(db, "SELECT modseq FROM vanished WHERE folder = ? ORDER BY modseq DESC LIMIT 1 OFFSET ?");
    cut.bind(1, folder);
    cut.bind(2, kMaxTombstones);
    if (!cut.executeStep()) return;
    const std::int64_t cutoff = cut.getColumn(0).getInt64();
    SQLite::Statement del(db, "DELETE FROM vanished WHERE folder = ? AND modseq <= ?");
    del.bind(1, folder);
    del.bind(2, cutoff);
    del.exec();
    SQLite::Statement floor(db, "UPDATE folders SET vanished_floor = max(vanished_floor, ?2) WHERE id = ?1");
    floor.bind(1, folder);
    floor.bind(2, cutoff);
    floor.exec();
}

std::uint32_t next_uid(std::uint32_t& uidnext) {
    if (uidnext == UINT32_MAX) throw StorageError("UIDs exhausted in this UIDVALIDITY");
    return uidnext++;
}

// ---- sync --------------------------------------------------------------------------------------

// What a scan found different from the index.
struct Plan {
    std::vector<std::pair<std::size_t, std::size_t>> moved;   // row, file: another name, same flags
    std::vector<std::pair<std::size_t, std::size_t>> reflagged;   // row, file: flags changed in the name
    std::vector<std::size_t> vanished;                        // rows whose file is gone
    std::vector<std::size_t> fresh;                           // files not indexed
};

// compare - the rows against a listing of the directories in listed; rows in a directory not listed
// (unchanged since the last scan) stand as they are.
Plan compare(const std::vector<MessageRecord>& rows, const std::vector<DiskFile>& files, Subdirs listed) {
    Plan plan;
    std::unordered_map<std::string_view, std::size_t> by_key;
    std::vector<char> seen(rows.size());
    by_key.reserve(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (listed.reads(rows[i].file)) by_key.emplace(key_of(rows[i].file), i);
        else seen[i] = 1;
    }
    std::unordered_set<std::string_view> fresh_keys;
    for (std::size_t j = 0; j < files.size(); ++j) {
        const DiskFile& f = files[j];
        std::string_view key = key_of(f.rel);
        auto it = by_key.find(key);
        if (it == by_key.end()) {
            // Two files with one unique part are one message to a Maildir reader: the first found stands.
            if (!f.stale && fresh_keys.insert(key).second) plan.fresh.push_back(j);
            continue;
        }
        const std::size_t i = it->second;
        if (seen[i]) continue;
        seen[i] = 1;
        if (f.stale || f.rel == rows[i].file) continue;
        if (flags_of(base_of(f.rel)) != rows[i].flags) plan.reflagged.emplace_back(i, j);
        else plan.moved.emplace_back(i, j);
    }
    for (std::size_t i = 0; i < rows.size(); ++i)
        if (!seen[i]) plan.vanished.push_back(i);
    return plan;
}

// relist - a second listing when the first missed indexed files: readdir(3) may miss a name renamed
// during the listing (a flag change by another reader), and a missed file must not be expunged. What
// the first listing saw and the second did not still counts as there (stale).
std::vector<DiskFile> relist(const fs::path& dir, std::vector<DiskFile> first, Subdirs which) {
    std::vector<DiskFile> second = list_files(dir, which);
    std::unordered_set<std::string_view> keys;
    for (const DiskFile& f : second) keys.insert(key_of(f.rel));
    std::vector<DiskFile> extra;
    for (DiskFile& f : first)
        if (!keys.count(key_of(f.rel))) extra.push_back(DiskFile{std::move(f.rel), true});
    for (DiskFile& f : extra) second.push_back(std::move(f));
    return second;
}

// A file about to be indexed, measured before the write lock is taken.
struct Fresh {
    std::string rel;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;
    long long sec = 0;
    long usec = 0;
};

// prepare_fresh - size (from the name, else measured) and mtime of the new files, in delivery order:
// the name's seconds and microseconds (".M<usec>", as Dovecot and mailkeep write), then the name.
// A file gone meanwhile (another session expunged it) is left out.
std::vector<Fresh> prepare_fresh(const fs::path& dir, const std::vector<DiskFile>& files, const std::vector<std::size_t>& which) {
    std::vector<Fresh> out;
    out.reserve(which.size());
    for (std::size_t j : which) {
        const std::string& rel = files[j].rel;
        std::string path = (dir / rel).string();
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        std::string_view name = base_of(rel);
        std::optional<std::uint64_t> size = Maildir::pop3_size(name);
        if (!size) size = Maildir::crlf_size(path);
        if (!size) continue;
        Fresh f{rel, *size, static_cast<std::int64_t>(st.st_mtime)};
        const char* end = name.data() + name.size();
        const char* p = std::from_chars(name.data(), end, f.sec).ptr;
        if (end - p > 2 && p[0] == '.' && p[1] == 'M') std::from_chars(p + 2, end, f.usec);
        out.push_back(std::move(f));
    }
    std::sort(out.begin(), out.end(), [](const Fresh& a, const Fresh& b) {
        if (a.sec != b.sec) return a.sec < b.sec;
        if (a.usec != b.usec) return a.usec < b.usec;
        return base_of(a.rel) < base_of(b.rel);
    });
    return out;
}

// sync_folder - the folder as it is on disk now (see the header); the messages in out when asked.
// The listing and the measuring happen before the write lock; inside it the index is read again only
// if another session changed the folder meanwhile (its change counter), so two syncs never index one
// file twice (and the unique mkey index would refuse it anyway).
// unless_version: when neither directory changed and the folder is still at that change counter,
// the messages are not read (the caller has them).
Folder sync_folder(SQLite::Database& db, const fs::path& root, const std::string& folder, std::vector<MessageRecord>* out,
                   std::optional<std::uint64_t> unless_version = std::nullopt) {
    Folder f = open_folder(db, root, folder);
    const DirTimes times = dir_times(f.dir);
    std::vector<MessageRecord> rows;
    Subdirs listed;
    {
        SQLite::Transaction snapshot(db);   // the folder row and its messages from one state
        f = reread(db, root, f);
        listed.new_dir = times.new_mtime == 0 || times.new_mtime != f.new_mtime;
        listed.cur_dir = times.cur_mtime == 0 || times.cur_mtime != f.cur_mtime;
        if (!listed.new_dir && !listed.cur_dir) {
            // Neither directory changed since a scan that the index reflects: nothing to list.
            if (out && unless_version != f.version) *out = load_messages(db, f.id, f.uidnext);
            snapshot.commit();
            return f;
        }
        rows = load_messages(db, f.id, f.uidnext);
        snapshot.commit();
    }
    std::vector<DiskFile> files = list_files(f.dir, listed);
    Plan plan = compare(rows, files, listed);
    if (!plan.vanished.empty()) {
        files = relist(f.dir, std::move(files), listed);
        plan = compare(rows, files, listed);
    }
    std::vector<Fresh> fresh = prepare_fresh(f.dir, files, plan.fresh);
    const bool times_change = times.new_mtime != f.new_mtime || times.cur_mtime != f.cur_mtime;
    if (plan.moved.empty() && plan.reflagged.empty() && plan.vanished.empty() && fresh.empty() && !times_change) {
        if (out) *out = std::move(rows);
        return f;
    }

    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    Folder now = reread(db, root, f);
    if (now.version != f.version) {
        // Another session changed the folder after our read: compare again with what it committed.
        // Our listing speaks only for the rows it was compared with and that are unchanged since: a
        // row the other session indexed may be a file that arrived after our listing (it would look
        // vanished), a row it renamed would look moved back. Files it indexed are no longer fresh;
        // files that became fresh only now (it expunged their rows) were not measured and wait for
        // the next sync.
        std::unordered_map<std::uint32_t, std::string> compared;
        compared.reserve(rows.size());
        for (MessageRecord& m : rows) compared.emplace(m.uid, std::move(m.file));
        rows = load_messages(db, f.id, now.uidnext);
        plan = compare(rows, files, listed);
        auto not_ours = [&](std::size_t i) {
            auto it = compared.find(rows[i].uid);
            return it == compared.end() || it->second != rows[i].file;
        };
        std::erase_if(plan.vanished, not_ours);
        std::erase_if(plan.moved, [&](const auto& p) { return not_ours(p.first); });
        std::erase_if(plan.reflagged, [&](const auto& p) { return not_ours(p.first); });
        std::unordered_set<std::string_view> still;
        for (std::size_t j : plan.fresh) still.insert(files[j].rel);
        std::erase_if(fresh, [&](const Fresh& x) { return !still.count(x.rel); });
    }
    std::uint64_t modseq = now.highest_modseq;
    std::uint32_t uidnext = now.uidnext;
    MessageWriter w(db, f.id);
    for (auto [i, j] : plan.moved) {
        rows[i].file = files[j].rel;
        w.update(rows[i]);
    }
    for (auto [i, j] : plan.reflagged) {
        rows[i].file = files[j].rel;
        rows[i].flags = flags_of(base_of(files[j].rel));
        rows[i].modseq = ++modseq;
        w.update(rows[i]);
    }
    if (!plan.vanished.empty()) {
        ++modseq;   // one MODSEQ for the expunges of one sync (RFC 7162 3.2.10 needs only that it grows)
        for (std::size_t i : plan.vanished) {
            w.expunge(rows[i].uid, modseq);
            rows[i].uid = 0;   // marked for removal from the result
        }
        std::erase_if(rows, [](const MessageRecord& m) { return m.uid == 0; });
    }
    for (const Fresh& x : fresh) {
        MessageRecord m;
        m.uid = uidnext;
        m.modseq = modseq + 1;
        m.flags = flags_of(base_of(x.rel));
        m.size = x.size;
        m.internal_date = x.mtime;
        m.file = x.rel;
        // A file whose unique part is indexed in the directory not listed (a copy of a message, not
        // a message): Maildir readers see one message, and so do we.
        if (!w.insert(m)) continue;
        next_uid(uidnext);
        ++modseq;
        rows.push_back(std::move(m));
    }
    save_folder(db, now, uidnext, modseq, times);
    if (!plan.vanished.empty()) prune_tombstones(db, f.id);
    tx.commit();
    now.uidnext = uidnext;
    now.highest_modseq = modseq;
    ++now.version;   // as save_folder counted
    if (out) *out = std::move(rows);
    return now;
}

std::vector<std::uint32_t> sorted_unique(std::vector<std::uint32_t> uids) {
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    return uids;
}

// link_into - src hard-linked into the folder under name with these flags, the Maildir way: first
// tmp/, then renamed into new/ or cur/ (a reader never sees a name that is not a whole message).
// Returns the path relative to the folder. The caller fsyncs the directory.
std::string link_into(const fs::path& src, const fs::path& dir, const std::string& name, std::uint32_t flags) {
    fs::path tmp = dir / "tmp" / name;
    if (::link(src.c_str(), tmp.c_str()) != 0)
        throw StorageError(fmt::format("link {} {}: {}", src.string(), tmp.string(), errno_text(errno)));
    std::string rel = target_of(name, flags);
    if (::rename(tmp.c_str(), (dir / rel).c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw StorageError(fmt::format("rename {}: {}", tmp.string(), errno_text(err)));
    }
    return rel;
}

}  // namespace

// ---- MailIndex -----------------------------------------------------------------------------------

MailIndex::MailIndex(fs::path root) : root_(std::move(root)) {
    try {
        Maildir(root_).ensure();
        clean_tmp(root_);
    } catch (const StorageError& e) {
        throw MailIndexError(Kind::storage, e.what());
    }
    guarded(db_, root_, true, [] { return 0; });   // opens (or rebuilds) the index
}

MailIndex::~MailIndex() = default;

std::vector<FolderInfo> MailIndex::folders() {
    return guarded(db_, root_, true, [&] {
        std::vector<std::string> names = disk_folders(root_);
        names.insert(names.begin(), std::string(kInbox));
        std::unordered_set<std::string> parents;
        for (const std::string& n : names)
            for (std::size_t dot = n.find('.'); dot != std::string::npos; dot = n.find('.', dot + 1)) parents.insert(n.substr(0, dot));
        std::unordered_set<std::string> subscribed;
        SQLite::Statement q(*db_, "SELECT name FROM subscriptions");
        while (q.executeStep()) subscribed.insert(q.getColumn(0).getString());
        std::vector<FolderInfo> out;
        out.reserve(names.size());
        for (std::string& n : names) {
            FolderInfo info;
            info.special_use = std::string(special_use_of(n));
            info.subscribed = subscribed.count(n) > 0;
            info.has_children = parents.count(n) > 0;
            subscribed.erase(n);
            info.name = std::move(n);
            out.push_back(std::move(info));
        }
        std::vector<std::string> gone(subscribed.begin(), subscribed.end());
        std::sort(gone.begin(), gone.end());
        for (std::string& n : gone) {
            FolderInfo info;
            info.subscribed = true;
            info.nonexistent = true;
            info.has_children = parents.count(n) > 0;
            info.name = std::move(n);
            out.push_back(std::move(info));
        }
        return out;
    });
}

bool MailIndex::exists(const std::string& folder) {
    std::string name;
    try {
        name = canonical_name(folder);
    } catch (const MailIndexError&) {
        return false;   // no such name can exist
    }
    return name == kInbox || is_dir(folder_dir(root_, name));
}

fs::path MailIndex::folder_path(const std::string& folder) const { return folder_dir(root_, canonical_name(folder)); }

void MailIndex::create(const std::string& folder) {
    guarded(db_, root_, false, [&] {
        const std::string name = canonical_name(folder);
        if (name == kInbox || is_dir(folder_dir(root_, name)))
            refuse(Kind::already_exists, fmt::format("folder \"{}\" exists", printable(name)));
        // RFC 9051 6.3.4: the superiors that are needed are made too (Maildir++ folders are all real).
        std::vector<std::string> make;
        for (std::size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
            std::string up = name.substr(0, dot);
            if (up != kInbox && !is_dir(folder_dir(root_, up))) make.push_back(std::move(up));
        }
        make.push_back(name);
        if (disk_folders(root_).size() + make.size() > kMaxFolders)
            refuse(Kind::limit, fmt::format("at most {} folders", kMaxFolders));
        for (const std::string& n : make) make_folder_dir(folder_dir(root_, n), n == name);
        SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        for (const std::string& n : make) {
            if (std::optional<Folder> stale = find_folder(*db_, root_, n)) drop_folder(*db_, stale->id);
            register_folder(*db_, root_, n);
        }
        tx.commit();
        return 0;
    });
}

void MailIndex::remove(const std::string& folder) {
    guarded(db_, root_, false, [&] {
        const std::string name = canonical_name(folder);
        if (name == kInbox) refuse(Kind::cannot, "INBOX cannot be deleted");
        fs::path dir = folder_dir(root_, name);
        // One rename takes the folder away from every reader at once; deleting its files follows.
        fs::path aside = root_ / "tmp" / (std::string(kRemovedPrefix) + new_queue_id());
        if (!is_dir(dir)) refuse(Kind::nonexistent, fmt::format("no folder \"{}\"", printable(name)));
        if (::rename(dir.c_str(), aside.c_str()) != 0) {
            const int err = errno;
            if (err == ENOENT) refuse(Kind::nonexistent, fmt::format("no folder \"{}\"", printable(name)));
            throw StorageError(fmt::format("rename {}: {}", dir.string(), errno_text(err)));
        }
        fsync_dir(root_);
        SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        if (std::optional<Folder> f = find_folder(*db_, root_, name)) drop_folder(*db_, f->id);
        tx.commit();
        std::error_code ec;
        fs::remove_all(aside, ec);
        if (ec) spdlog::warn("mail index: cannot delete {} (retried at the next open): {}", aside.string(), ec.message());
        return 0;
    });
}

void MailIndex::rename(const std::string& from, const std::string& to) {
    guarded(db_, root_, false, [&] {
        const std::string old_name = canonical_name(from), new_name = canonical_name(to);
        if (old_name == new_name) refuse(Kind::cannot, "a folder cannot be renamed onto itself");
        if (new_name == kInbox) refuse(Kind::already_exists, "INBOX exists");
        if (old_name == kInbox) {
            // RFC 9051 6.3.6: INBOX's messages move to a new folder; INBOX stays, empty.
            create(new_name);
            std::vector<MessageRecord> before;
            sync_folder(*db_, root_, std::string(kInbox), &before);
            fs::path dest = folder_dir(root_, new_name);
            for (const MessageRecord& m : before)
                if (::rename((root_ / m.file).c_str(), (dest / m.file).c_str()) != 0 && errno != ENOENT)
                    throw StorageError(fmt::format("rename {}: {}", (root_ / m.file).string(), errno_text(errno)));
            fsync_dir(dest / "new");
            fsync_dir(dest / "cur");
            sync_folder(*db_, root_, std::string(kInbox), nullptr);
            Folder moved = sync_folder(*db_, root_, new_name, nullptr);
            // Keywords and dates live in the index: they go with the messages.
            SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
            SQLite::Statement q(*db_, "UPDATE messages SET keywords = ?, internal_date = ? WHERE folder = ? AND mkey = ?");
            for (const MessageRecord& m : before) {
                q.reset();
                q.bind(1, join_keywords(m.keywords));
                q.bind(2, m.internal_date);
                q.bind(3, moved.id);
                q.bind(4, std::string(key_of(m.file)));
                q.exec();
            }
            tx.commit();
            return 0;
        }
        if (!is_dir(folder_dir(root_, old_name))) refuse(Kind::nonexistent, fmt::format("no folder \"{}\"", printable(old_name)));
        // The folder and its children ("Old.x" -> "New.x"), every new name checked before the first rename.
        std::vector<std::pair<std::string, std::string>> renames{{old_name, new_name}};
        for (const std::string& n : disk_folders(root_))
            if (n.size() > old_name.size() && n.compare(0, old_name.size() + 1, old_name + ".") == 0)
                renames.emplace_back(n, new_name + n.substr(old_name.size()));
        for (const auto& [o, n] : renames) {
            if (canonical_name(n) != n) refuse(Kind::bad_name, fmt::format("folder name \"{}\"", printable(n)));
            if (is_dir(folder_dir(root_, n))) refuse(Kind::already_exists, fmt::format("folder \"{}\" exists", printable(n)));
        }
        for (std::size_t dot = new_name.find('.'); dot != std::string::npos; dot = new_name.find('.', dot + 1)) {
            std::string up = new_name.substr(0, dot);
            if (up != kInbox && up != old_name && !is_dir(folder_dir(root_, up))) create(up);
        }
        for (const auto& [o, n] : renames)
            if (::rename(folder_dir(root_, o).c_str(), folder_dir(root_, n).c_str()) != 0)
                throw StorageError(fmt::format("rename {}: {}", folder_dir(root_, o).string(), errno_text(errno)));
        fsync_dir(root_);
        // The rows follow with their UIDVALIDITY: the messages and their UIDs are the same.
        SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        SQLite::Statement q(*db_, "UPDATE folders SET name = ? WHERE name = ?");
        for (const auto& [o, n] : renames) {
            if (std::optional<Folder> stale = find_folder(*db_, root_, n)) drop_folder(*db_, stale->id);
            q.reset();
            q.bind(1, n);
            q.bind(2, o);
            q.exec();
        }
        tx.commit();
        return 0;
    });
}

std::uint32_t MailIndex::claim_recent(const std::string& folder, std::uint32_t last_uid, bool peek) {
    return guarded(db_, root_, false, [&] {
        Folder f = open_folder(*db_, root_, folder);
        SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        const std::uint32_t first = first_recent(*db_, f.id);
        if (!peek && last_uid >= first) {
            SQLite::Statement q(*db_, "INSERT OR REPLACE INTO recent (folder, first_uid) VALUES (?, ?)");
            q.bind(1, f.id);
            q.bind(2, static_cast<std::int64_t>(last_uid) + 1);
            q.exec();
        }
        tx.commit();
        return first;
    });
}

void MailIndex::subscribe(const std::string& folder, bool on) {
    guarded(db_, root_, false, [&] {
        subscribe_row(*db_, canonical_name(folder), on);
        return 0;
    });
}

FolderState MailIndex::sync(const std::string& folder) {
    return guarded(db_, root_, true, [&] {
        FolderState s;
        Folder f = sync_folder(*db_, root_, folder, &s.messages);
        s.uidvalidity = f.uidvalidity;
        s.uidnext = f.uidnext;
        s.highest_modseq = f.highest_modseq;
        s.version = f.version;
        return s;
    });
}

std::optional<FolderState> MailIndex::sync_changed(const std::string& folder, std::uint64_t version) {
    return guarded(db_, root_, true, [&]() -> std::optional<FolderState> {
        FolderState s;
        Folder f = sync_folder(*db_, root_, folder, &s.messages, version);
        if (f.version == version) return std::nullopt;
        s.uidvalidity = f.uidvalidity;
        s.uidnext = f.uidnext;
        s.highest_modseq = f.highest_modseq;
        s.version = f.version;
        return s;
    });
}

FolderStatus MailIndex::status(const std::string& folder) {
    return guarded(db_, root_, true, [&] {
        Folder f = sync_folder(*db_, root_, folder, nullptr);
        SQLite::Transaction snapshot(*db_);
        f = reread(*db_, root_, f);
        SQLite::Statement q(*db_, "SELECT count(*), total((flags & ?2) = 0), total((flags & ?3) != 0), total(size)"
                                  " FROM messages WHERE folder = ?1");
        q.bind(1, f.id);
        q.bind(2, static_cast<std::int64_t>(kFlagSeen));
        q.bind(3, static_cast<std::int64_t>(kFlagDeleted));
        q.executeStep();
        FolderStatus s;
        s.messages = u32(q.getColumn(0));
        s.unseen = static_cast<std::uint32_t>(q.getColumn(1).getDouble());
        s.deleted = static_cast<std::uint32_t>(q.getColumn(2).getDouble());
        s.size = static_cast<std::uint64_t>(q.getColumn(3).getDouble());
        s.uidnext = f.uidnext;
        s.uidvalidity = f.uidvalidity;
        s.highest_modseq = f.highest_modseq;
        SQLite::Statement r(*db_, "SELECT count(*) FROM messages WHERE folder = ?1 AND uid >= ?2");
        r.bind(1, f.id);
        r.bind(2, static_cast<std::int64_t>(first_recent(*db_, f.id)));
        r.executeStep();
        s.recent = u32(r.getColumn(0));
        snapshot.commit();
        return s;
    });
}

std::vector<MessageRecord> MailIndex::store(const std::string& folder, const std::vector<std::uint32_t>& uids,
                                            FlagChange change, std::uint32_t flags, const std::vector<std::string>& keywords,
                                            std::optional<std::uint64_t> unchanged_since, std::vector<std::uint32_t>& failed) {
    check_keywords(keywords);
    return guarded(db_, root_, false, [&] {
        Folder f = open_folder(*db_, root_, folder);
        std::vector<MessageRecord> out;
        SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        f = reread(*db_, root_, f);
        MessageQuery get(*db_, f.id);
        MessageWriter w(*db_, f.id);
        Finder finder(f.dir);
        std::uint64_t modseq = f.highest_modseq;
        for (std::uint32_t uid : sorted_unique(uids)) {
            std::optional<MessageRecord> m = get.get(uid);
            if (!m) continue;
            if (unchanged_since && m->modseq > *unchanged_since) {   // RFC 7162 3.1.3
                failed.push_back(uid);
                continue;
            }
            const std::uint32_t new_flags = changed_flags(m->flags, change, flags);
            std::vector<std::string> new_keywords = changed_keywords(m->keywords, change, keywords);
            if (new_flags == m->flags && same_keywords(new_keywords, m->keywords)) continue;
            if (new_flags != m->flags) {
                // The name carries the flags: renamed first, recorded after (a crash between leaves the
                // name, which the next sync reads).
                std::string target = "cur/" + with_flags(base_of(m->file), new_flags);
                if (::rename((f.dir / m->file).c_str(), (f.dir / target).c_str()) != 0) {
                    if (errno != ENOENT) throw StorageError(fmt::format("rename {}: {}", (f.dir / m->file).string(), errno_text(errno)));
                    std::optional<std::string> now = finder.find(key_of(m->file));   // another reader renamed it
                    if (!now) continue;   // expunged by another program: the next sync reports it
                    target = "cur/" + with_flags(base_of(*now), new_flags);
                    if (::rename((f.dir / *now).c_str(), (f.dir / target).c_str()) != 0) continue;
                }
                m->file = std::move(target);
            }
            m->flags = new_flags;
            m->keywords = std::move(new_keywords);
            m->modseq = ++modseq;
            w.update(*m);
            out.push_back(std::move(*m));
        }
        if (modseq != f.highest_modseq) save_folder(*db_, f, f.uidnext, modseq);
        tx.commit();
        return out;
    });
}

std::vector<std::uint32_t> MailIndex::expunge(const std::string& folder, const std::vector<std::uint32_t>& uids) {
    return guarded(db_, root_, false, [&] {
        Folder f = open_folder(*db_, root_, folder);
        std::vector<std::uint32_t> out;
        SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        f = reread(*db_, root_, f);
        MessageQuery get(*db_, f.id);
        MessageWriter w(*db_, f.id);
        Finder finder(f.dir);
        const std::uint64_t modseq = f.highest_modseq + 1;
        for (std::uint32_t uid : sorted_unique(uids)) {
            std::optional<MessageRecord> m = get.get(uid);
            if (!m) continue;
            // The file first: a crash before the commit leaves a missing file, which sync expunges.
            if (::unlink((f.dir / m->file).c_str()) != 0) {
                if (errno != ENOENT) throw StorageError(fmt::format("unlink {}: {}", (f.dir / m->file).string(), errno_text(errno)));
                if (std::optional<std::string> now = finder.find(key_of(m->file)))   // renamed by another reader
                    if (::unlink((f.dir / *now).c_str()) != 0 && errno != ENOENT)
                        throw StorageError(fmt::format("unlink {}: {}", (f.dir / *now).string(), errno_text(errno)));
            }
            w.expunge(uid, modseq);
            out.push_back(uid);
        }
        if (!out.empty()) {
            save_folder(*db_, f, f.uidnext, modseq);
            prune_tombstones(*db_, f.id);
        }
        tx.commit();
        return out;
    });
}

MailIndex::Appended MailIndex::append(const std::string& folder, const fs::path& file, std::uint32_t flags,
                                      const std::vector<std::string>& keywords, std::int64_t internal_date) {
    check_keywords(keywords);
    flags &= kSystemFlags;
    return guarded(db_, root_, false, [&] {
        Folder f = open_folder(*db_, root_, folder);
        Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0) throw StorageError(fmt::format("open {}: {}", file.string(), errno_text(errno)));
        // The file's mtime is the internal date (as Dovecot keeps it), so a rebuilt index finds it again.
        const std::int64_t date = internal_date > 0 ? internal_date : static_cast<std::int64_t>(st.st_mtime);
        if (internal_date > 0) {
            timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(internal_date), 0}};
            if (::futimens(fd.get(), times) != 0) throw StorageError(fmt::format("futimens {}: {}", file.string(), errno_text(errno)));
        }
        fsync_fd(fd, file);   // the caller's spool file may not be on disk yet
        fd.close_checked(file);
        const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);   // CRLF by contract
        const std::string rel = link_into(file, f.dir, fresh_name(size, size), flags);
        try {
            // Durable before the UID is told: the new name is fsynced into its directory.
            fsync_dir(f.dir / rel.substr(0, 3));
            SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
            Folder now = reread(*db_, root_, f);
            std::uint64_t modseq = now.highest_modseq;
            std::uint32_t uidnext = now.uidnext;
            MessageRecord m;
            m.file = rel;
            m.flags = flags;
            m.keywords = changed_keywords({}, FlagChange::replace, keywords);
            m.size = size;
            m.internal_date = date;
            m.modseq = ++modseq;
            // A concurrent sync may have indexed the file already: it keeps that UID, with our data.
            SQLite::Statement known(*db_, "SELECT uid FROM messages WHERE folder = ? AND mkey = ?");
            known.bind(1, f.id);
            known.bind(2, std::string(key_of(rel)));
            MessageWriter w(*db_, f.id);
            if (known.executeStep()) {
                m.uid = u32(known.getColumn(0));
                w.update(m);
                SQLite::Statement date_q(*db_, "UPDATE messages SET internal_date = ? WHERE folder = ? AND uid = ?");
                date_q.bind(1, date);
                date_q.bind(2, f.id);
                date_q.bind(3, static_cast<std::int64_t>(m.uid));
                date_q.exec();
            } else {
                m.uid = next_uid(uidnext);
                if (!w.insert(m)) throw StorageError(fmt::format("{}: its name is indexed already", rel));
            }
            save_folder(*db_, now, uidnext, modseq);
            tx.commit();   // the point of no return: UIDNEXT and the message are on disk
            return Appended{now.uidvalidity, m.uid};
        } catch (...) {
            // The client will be told NO: the message must not appear later.
            ::unlink((f.dir / rel).c_str());
            throw;
        }
    });
}

MailIndex::Copied MailIndex::copy(const std::string& from, const std::vector<std::uint32_t>& uids, const std::string& to) {
    return transfer(from, uids, to, false);
}

MailIndex::Copied MailIndex::move(const std::string& from, const std::vector<std::uint32_t>& uids, const std::string& to) {
    return transfer(from, uids, to, true);
}

MailIndex::Copied MailIndex::transfer(const std::string& from, const std::vector<std::uint32_t>& uids, const std::string& to,
                                      bool move) {
    return guarded(db_, root_, false, [&] {
        Folder src = open_folder(*db_, root_, from);
        Folder dst = open_folder(*db_, root_, to);
        struct Placed {
            MessageRecord m;
            std::uint32_t from_uid;
            fs::path source;   // where it was (MOVE puts it back there on a failure)
        };
        std::vector<Placed> placed;
        Copied out;
        try {
            // The files first, each with a new unique name (a message may be copied into its own
            // folder), then one fsync per directory, then one transaction. COPY links; MOVE renames,
            // so that the message is in one folder or the other at every moment: a crash before the
            // commit leaves it in the destination unindexed, where the next sync finds it, and gone
            // from the source, which the next sync expunges (RFC 6851 3.3: never in both).
            MessageQuery get(*db_, src.id);
            Finder finder(src.dir);
            bool to_new = false, to_cur = false, from_new = false, from_cur = false;
            for (std::uint32_t uid : sorted_unique(uids)) {
                std::optional<MessageRecord> m = get.get(uid);
                if (!m) continue;
                fs::path path = src.dir / m->file;
                struct stat st {};
                if (::lstat(path.c_str(), &st) != 0) {
                    std::optional<std::string> now = finder.find(key_of(m->file));
                    if (!now) continue;   // gone: expunged by another program
                    path = src.dir / *now;
                    if (::lstat(path.c_str(), &st) != 0) continue;
                }
                const std::string name = fresh_name(static_cast<std::uint64_t>(st.st_size), m->size);
                if (move) {
                    const std::string rel = target_of(name, m->flags);
                    if (::rename(path.c_str(), (dst.dir / rel).c_str()) != 0)
                        throw StorageError(fmt::format("rename {}: {}", path.string(), errno_text(errno)));
                    m->file = rel;
                    (path.parent_path().filename() == "new" ? from_new : from_cur) = true;
                } else {
                    m->file = link_into(path, dst.dir, name, m->flags);
                }
                (m->flags ? to_cur : to_new) = true;
                placed.push_back(Placed{std::move(*m), uid, std::move(path)});
            }
            if (placed.empty()) {
                out.uidvalidity = dst.uidvalidity;
                return out;
            }
            if (to_new) fsync_dir(dst.dir / "new");
            if (to_cur) fsync_dir(dst.dir / "cur");
            if (from_new) fsync_dir(src.dir / "new");
            if (from_cur) fsync_dir(src.dir / "cur");
            SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
            Folder now = reread(*db_, root_, dst);
            std::uint64_t modseq = now.highest_modseq;
            std::uint32_t uidnext = now.uidnext;
            MessageWriter w(*db_, dst.id);
            SQLite::Statement cache(*db_, "INSERT OR REPLACE INTO cache (folder, uid, key, value)"
                                          " SELECT ?1, ?2, key, value FROM cache WHERE folder = ?3 AND uid = ?4");
            for (Placed& p : placed) {
                p.m.uid = next_uid(uidnext);
                p.m.modseq = ++modseq;
                if (!w.insert(p.m)) throw StorageError(fmt::format("{}: its name is indexed already", p.m.file));
                cache.reset();   // what the session computed from the bytes holds for the copy too
                cache.bind(1, dst.id);
                cache.bind(2, static_cast<std::int64_t>(p.m.uid));
                cache.bind(3, src.id);
                cache.bind(4, static_cast<std::int64_t>(p.from_uid));
                cache.exec();
                out.from_uids.push_back(p.from_uid);
                out.to_uids.push_back(p.m.uid);
            }
            save_folder(*db_, now, uidnext, modseq);
            if (move) {   // the source's rows, in the same transaction
                Folder was = reread(*db_, root_, src);   // after the save above when it is the same folder
                const std::uint64_t gone_at = was.highest_modseq + 1;
                MessageWriter sw(*db_, src.id);
                for (const Placed& p : placed) sw.expunge(p.from_uid, gone_at);
                save_folder(*db_, was, was.uidnext, gone_at);
                prune_tombstones(*db_, src.id);
            }
            tx.commit();
            out.uidvalidity = now.uidvalidity;
            return out;
        } catch (...) {
            // Told NO: no copy appears, and what MOVE took goes back where it was.
            for (const Placed& p : placed) {
                if (move) ::rename((dst.dir / p.m.file).c_str(), p.source.c_str());
                else ::unlink((dst.dir / p.m.file).c_str());
            }
            throw;
        }
    });
}

std::optional<std::vector<std::uint32_t>> MailIndex::vanished(const std::string& folder, std::uint64_t modseq) {
    return guarded(db_, root_, true, [&]() -> std::optional<std::vector<std::uint32_t>> {
        Folder f = open_folder(*db_, root_, folder);
        SQLite::Transaction snapshot(*db_);
        f = reread(*db_, root_, f);
        if (modseq < f.vanished_floor) return std::nullopt;   // tombstones that old were dropped
        SQLite::Statement q(*db_, "SELECT uid FROM vanished WHERE folder = ? AND modseq > ? ORDER BY uid");
        q.bind(1, f.id);
        q.bind(2, i64(modseq));
        std::vector<std::uint32_t> out;
        while (q.executeStep()) out.push_back(u32(q.getColumn(0)));
        snapshot.commit();
        return out;
    });
}

std::optional<std::string> MailIndex::cached(const std::string& folder, std::uint32_t uid, std::string_view key) {
    return guarded(db_, root_, true, [&]() -> std::optional<std::string> {
        SQLite::Statement q(*db_, "SELECT c.value FROM cache c JOIN folders f ON f.id = c.folder"
                                  " WHERE f.name = ? AND c.uid = ? AND c.key = ?");
        q.bind(1, canonical_name(folder));
        q.bind(2, static_cast<std::int64_t>(uid));
        q.bind(3, std::string(key));
        if (!q.executeStep()) return std::nullopt;
        return q.getColumn(0).getString();
    });
}

void MailIndex::cache(const std::string& folder, std::uint32_t uid, std::string_view key, const std::string& value) {
    guarded(db_, root_, false, [&] {
        const std::string name = canonical_name(folder);
        // A cache entry is rebuilt from the message if lost: it need not wait for the disk. In WAL
        // mode synchronous=NORMAL loses at most the latest such commits at a power cut, never the
        // database; the next FULL commit carries them to disk anyway.
        struct Relaxed {
            std::unique_ptr<SQLite::Database>& db;
            explicit Relaxed(std::unique_ptr<SQLite::Database>& d) : db(d) { db->exec("PRAGMA synchronous=NORMAL"); }
            ~Relaxed() {
                try {
                    db->exec("PRAGMA synchronous=FULL");
                } catch (const SQLite::Exception& e) {
                    // Never go on with commits that do not wait for the disk: the next call reconnects.
                    spdlog::error("mail index: cannot restore synchronous=FULL: {}", e.what());
                    db.reset();
                }
            }
        } relaxed(db_);
        SQLite::Statement q(*db_, "INSERT OR REPLACE INTO cache (folder, uid, key, value)"
                                  " SELECT m.folder, m.uid, ?3, ?4 FROM messages m JOIN folders f ON f.id = m.folder"
                                  " WHERE f.name = ?1 AND m.uid = ?2");   // nothing for an expunged message
        q.bind(1, name);
        q.bind(2, static_cast<std::int64_t>(uid));
        q.bind(3, std::string(key));
        q.bindNoCopy(4, value.data(), static_cast<int>(value.size()));
        q.exec();
        return 0;
    });
}

}  // namespace mk
