// tests/unit/test_mail_index.cpp — the IMAP index over a real Maildir++ in a temporary directory:
// the layout Dovecot reads, folder names from hostile clients, sync against files other programs
// change, flags in names, UIDs that never move or return, durability and recovery after crashes,
// concurrent sessions. MailIndexBench (disabled) measures sync over 1k to 100k messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "store/mail_index.hpp"
#include "store/maildir.hpp"
#include "temp_dir.hpp"

namespace mk {
namespace {

namespace fs = std::filesystem;
using Kind = MailIndexError::Kind;

// Box - a user's Maildir root in a directory of its own (root itself is made by MailIndex).
struct Box {
    test::TempDir dir{"mailindex"};
    fs::path root() const { return dir.path / "mail"; }
};

void put(const fs::path& p, const std::string& content, std::time_t mtime = 0) {
    std::ofstream(p, std::ios::binary) << content;
    if (mtime) {
        struct utimbuf t {mtime, mtime};
        ::utime(p.c_str(), &t);
    }
}

// age - a directory's mtime put in the past, as if nothing had changed in it for a while.
void age(const fs::path& dir, std::time_t seconds = 60) {
    struct utimbuf t {std::time(nullptr) - seconds, std::time(nullptr) - seconds};
    ::utime(dir.c_str(), &t);
}

Kind kind_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const MailIndexError& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no MailIndexError";
    return Kind::storage;
}

std::vector<std::uint32_t> uids_of(const FolderState& s) {
    std::vector<std::uint32_t> out;
    for (const MessageRecord& m : s.messages) out.push_back(m.uid);
    return out;
}

const MessageRecord* find_uid(const FolderState& s, std::uint32_t uid) {
    for (const MessageRecord& m : s.messages)
        if (m.uid == uid) return &m;
    return nullptr;
}

// base_name - "cur/NAME:2,S" -> "NAME:2,S".
std::string base_name(const std::string& rel) { return rel.substr(rel.find('/') + 1); }

std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

TEST(MailIndex, FirstOpenMakesInboxAndTheSpecialUseFoldersInTheMaildirPlusPlusLayout) {
    Box b;
    MailIndex idx(b.root());
    for (const char* sub : {"tmp", "new", "cur"}) EXPECT_TRUE(fs::is_directory(b.root() / sub)) << sub;
    for (const SpecialFolder& s : kSpecialFolders) {
        fs::path dir = b.root() / ("." + std::string(s.name));
        for (const char* sub : {"tmp", "new", "cur"}) EXPECT_TRUE(fs::is_directory(dir / sub)) << dir << sub;
        EXPECT_TRUE(fs::is_regular_file(dir / "maildirfolder")) << dir;   // Dovecot's marker
        EXPECT_EQ(idx.folder_path(std::string(s.name)), dir);
    }
    std::vector<FolderInfo> folders = idx.folders();
    ASSERT_EQ(folders.size(), 6u);
    EXPECT_EQ(folders[0].name, "INBOX");
    EXPECT_TRUE(folders[0].subscribed);
    const std::vector<std::pair<std::string, std::string>> want = {
        {"Archive", "\\Archive"}, {"Drafts", "\\Drafts"}, {"Junk", "\\Junk"}, {"Sent", "\\Sent"}, {"Trash", "\\Trash"}};
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(folders[i + 1].name, want[i].first);
        EXPECT_EQ(folders[i + 1].special_use, want[i].second);
        EXPECT_TRUE(folders[i + 1].subscribed);
        EXPECT_FALSE(folders[i + 1].has_children);
    }
    struct stat st {};
    ASSERT_EQ(::stat((b.root() / "mailkeep-index.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    // Every folder has its own UIDVALIDITY.
    std::set<std::uint32_t> validities;
    for (const FolderInfo& f : folders) validities.insert(idx.status(f.name).uidvalidity);
    EXPECT_EQ(validities.size(), 6u);

    // A special-use folder the user removed is not made again at the next open.
    idx.remove("Junk");
    MailIndex again(b.root());
    EXPECT_FALSE(again.exists("Junk"));
}

TEST(MailIndex, FolderNamesThatCouldLeaveTheMaildirOrBreakTheLayoutAreRefused) {
    Box b;
    MailIndex idx(b.root());
    std::string deep = "a";
    for (std::size_t i = 1; i <= kMaxFolderDepth; ++i) deep += ".a";   // one level too many
    const std::string bad[] = {"", ".", "..", ".hidden", "a..b", "a.", "..a", "a/b", "../../etc", "/abs", "a/../..",
                               std::string("a\0b", 3), "a\x01", "tab\there", "line\nend", "del\x7f", "\xff\xfe",
                               "\xc0\xaf",   // an overlong '/'
                               std::string(kMaxFolderName + 1, 'x'), deep};
    for (const std::string& name : bad) {
        SCOPED_TRACE(name);
        EXPECT_EQ(kind_of([&] { idx.create(name); }), Kind::bad_name);
        EXPECT_EQ(kind_of([&] { idx.folder_path(name); }), Kind::bad_name);
        EXPECT_EQ(kind_of([&] { idx.sync(name); }), Kind::bad_name);
        EXPECT_EQ(kind_of([&] { idx.subscribe(name, true); }), Kind::bad_name);
        EXPECT_FALSE(idx.exists(name));
    }
    // Nothing appeared outside the Maildir, nor a stray directory in it.
    EXPECT_FALSE(fs::exists(b.dir.path / "etc"));
    EXPECT_EQ(idx.folders().size(), 6u);

    std::string deepest = "d";
    for (std::size_t i = 1; i < kMaxFolderDepth; ++i) deepest += ".d";
    const std::string good[] = {"Work.2024", "Überweisungen", "a b", "Ärger.€", std::string(kMaxFolderName, 'x'), deepest};
    for (const std::string& name : good) {
        SCOPED_TRACE(name);
        idx.create(name);
        EXPECT_TRUE(idx.exists(name));
        EXPECT_EQ(idx.sync(name).messages.size(), 0u);
    }
}

TEST(MailIndex, InboxIsInboxInAnyCase) {
    Box b;
    MailIndex idx(b.root());
    EXPECT_EQ(idx.folder_path("inbox"), b.root());
    EXPECT_EQ(idx.folder_path("InBoX"), b.root());
    EXPECT_TRUE(idx.exists("iNbOx"));
    EXPECT_EQ(kind_of([&] { idx.create("Inbox"); }), Kind::already_exists);
    EXPECT_EQ(kind_of([&] { idx.remove("inbox"); }), Kind::cannot);
    idx.create("inbox.Sub");   // a child of INBOX is "INBOX.Sub" whatever the case it was named in
    EXPECT_TRUE(fs::is_directory(b.root() / ".INBOX.Sub"));
    EXPECT_TRUE(idx.exists("INBOX.Sub"));
    EXPECT_TRUE(idx.folders()[0].has_children);
    put(b.root() / "new" / "1700000000.M1P1.host", "a\r\n");
    EXPECT_EQ(idx.sync("inbox").messages.size(), 1u);
    EXPECT_EQ(idx.status("INBOX").messages, 1u);
}

TEST(MailIndex, CreateRemoveAndRenameWorkOnTheMaildirPlusPlusDirectories) {
    Box b;
    MailIndex idx(b.root());
    idx.create("Work.2024");   // the superior is made too (RFC 9051 6.3.4)
    EXPECT_TRUE(fs::is_directory(b.root() / ".Work"));
    EXPECT_TRUE(fs::is_regular_file(b.root() / ".Work.2024" / "maildirfolder"));
    EXPECT_EQ(kind_of([&] { idx.create("Work"); }), Kind::already_exists);
    std::vector<FolderInfo> folders = idx.folders();
    auto info = [&](const std::string& name) {
        for (const FolderInfo& f : idx.folders())
            if (f.name == name) return f;
        ADD_FAILURE() << "no folder " << name;
        return FolderInfo{};
    };
    EXPECT_TRUE(info("Work").has_children);
    EXPECT_FALSE(info("Work.2024").has_children);
    EXPECT_FALSE(info("Work").subscribed);
    idx.subscribe("Work.2024", true);
    EXPECT_TRUE(info("Work.2024").subscribed);
    idx.subscribe("Not.There", true);   // a name need not exist to be subscribed
    idx.subscribe("Work.2024", false);
    EXPECT_FALSE(info("Work.2024").subscribed);

    put(b.root() / ".Work.2024" / "new" / "1700000000.M1P1.host", "a\r\n");
    FolderState before = idx.sync("Work.2024");
    ASSERT_EQ(uids_of(before), std::vector<std::uint32_t>{1});

    // Renamed with its children; the messages keep their UIDs and UIDVALIDITY.
    idx.rename("Work", "Jobs");
    EXPECT_FALSE(idx.exists("Work"));
    EXPECT_FALSE(idx.exists("Work.2024"));
    EXPECT_TRUE(idx.exists("Jobs"));
    FolderState after = idx.sync("Jobs.2024");
    EXPECT_EQ(after.uidvalidity, before.uidvalidity);
    EXPECT_EQ(uids_of(after), std::vector<std::uint32_t>{1});
    EXPECT_EQ(kind_of([&] { idx.sync("Work.2024"); }), Kind::nonexistent);

    EXPECT_EQ(kind_of([&] { idx.rename("Jobs", "jobs.x/.."); }), Kind::bad_name);
    EXPECT_EQ(kind_of([&] { idx.rename("Jobs", "Jobs"); }), Kind::cannot);
    EXPECT_EQ(kind_of([&] { idx.rename("Nope", "Other"); }), Kind::nonexistent);
    EXPECT_EQ(kind_of([&] { idx.rename("Jobs", "Sent"); }), Kind::already_exists);
    EXPECT_EQ(kind_of([&] { idx.rename("Jobs", "INBOX"); }), Kind::already_exists);

    // Removing a folder leaves its children (Maildir++ has no \Noselect parents).
    const std::uint32_t old_validity = idx.status("Jobs").uidvalidity;
    idx.remove("Jobs");
    EXPECT_FALSE(idx.exists("Jobs"));
    EXPECT_TRUE(idx.exists("Jobs.2024"));
    EXPECT_EQ(kind_of([&] { idx.remove("Jobs"); }), Kind::nonexistent);
    EXPECT_EQ(kind_of([&] { idx.sync("Jobs"); }), Kind::nonexistent);
    EXPECT_TRUE(listing(b.root() / "tmp").empty());   // the removed directory is deleted, not parked

    // A folder made again under an old name never has its old UIDVALIDITY (RFC 9051 2.3.1.1).
    idx.create("Jobs");
    EXPECT_GT(idx.status("Jobs").uidvalidity, old_validity);
}

TEST(MailIndex, RenamingInboxMovesItsMessagesAndLeavesItEmpty) {
    Box b;
    MailIndex idx(b.root());
    put(b.root() / "new" / "1700000000.M1P1.host", "a\r\n");
    put(b.root() / "cur" / "1700000001.M1P1.host:2,S", "b\r\n");
    FolderState inbox = idx.sync("INBOX");
    std::vector<std::uint32_t> failed;
    idx.store("INBOX", {1}, FlagChange::add, 0, {"$Forwarded"}, std::nullopt, failed);
    idx.rename("INBOX", "Old.Mail");
    EXPECT_TRUE(idx.sync("INBOX").messages.empty());
    EXPECT_EQ(idx.vanished("INBOX", inbox.highest_modseq), (std::vector<std::uint32_t>{1, 2}));
    FolderState old = idx.sync("Old.Mail");
    ASSERT_EQ(old.messages.size(), 2u);
    EXPECT_EQ(old.messages[0].keywords, std::vector<std::string>{"$Forwarded"});
    EXPECT_EQ(old.messages[1].flags, kFlagSeen);
    EXPECT_TRUE(idx.exists("Old"));
}

TEST(MailIndex, MoreThanTheMostFoldersIsALimit) {
    Box b;
    MailIndex idx(b.root());
    // Made behind the index's back (as another program would), to keep the test fast.
    for (std::size_t i = 0; i + std::size(kSpecialFolders) < kMaxFolders; ++i) fs::create_directory(b.root() / fmt::format(".f{}", i));
    EXPECT_EQ(idx.folders().size(), kMaxFolders + 1);   // and INBOX
    EXPECT_EQ(kind_of([&] { idx.create("OneMore"); }), Kind::limit);
    EXPECT_FALSE(idx.exists("OneMore"));
}

TEST(MailIndex, FoldersMadeByOtherProgramsAreListedAndSynced) {
    Box b;
    MailIndex idx(b.root());
    fs::path dovecot = b.root() / ".Lists.Debian";
    for (const char* sub : {"tmp", "new", "cur"}) fs::create_directories(dovecot / sub);
    put(dovecot / "cur" / "1700000000.M1P2V3I4.host,S=3,W=3:2,S", "a\r\n");
    fs::create_directories(b.root() / "..DOVECOT-TRASH");            // not a valid folder name
    fs::create_directory_symlink("/etc", b.root() / ".Elsewhere");    // never followed
    fs::create_directories(b.root() / ".half");                      // a crash left it without tmp/new/cur
    std::vector<std::string> names;
    for (const FolderInfo& f : idx.folders()) names.push_back(f.name);
    EXPECT_EQ(names, (std::vector<std::string>{"INBOX", "Archive", "Drafts", "Junk", "Lists.Debian", "Sent", "Trash", "half"}));
    FolderState s = idx.sync("Lists.Debian");
    ASSERT_EQ(s.messages.size(), 1u);
    EXPECT_EQ(s.messages[0].uid, 1u);
    EXPECT_EQ(s.messages[0].flags, kFlagSeen);
    EXPECT_NE(s.uidvalidity, 0u);
    EXPECT_EQ(kind_of([&] { idx.sync("Elsewhere"); }), Kind::nonexistent);
    EXPECT_TRUE(idx.sync("half").messages.empty());
    EXPECT_TRUE(fs::is_directory(b.root() / ".half" / "cur"));
}

TEST(MailIndex, SyncGivesUidsInDeliveryOrderAndKeepsThemWhenReadersMoveFiles) {
    Box b;
    MailIndex idx(b.root());
    fs::path inbox = b.root();
    put(inbox / "new" / "1700000002.M5P1.host", "c\r\n");
    put(inbox / "new" / "1700000001.M100000P1.host", "b2\r\n");
    put(inbox / "new" / "1700000001.M99P1.host,S=10,W=42", "b1");   // the name gives the size
    put(inbox / "new" / "1700000000.M1P1.host", "line1\nline2\n", 1600000000);   // LF: measured as CRLF
    put(inbox / "new" / ".hidden", "x");
    put(inbox / "tmp" / "1700000003.M1P1.host", "being written");
    FolderState s = idx.sync("INBOX");
    ASSERT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2, 3, 4}));
    EXPECT_EQ(s.messages[0].file, "new/1700000000.M1P1.host");
    EXPECT_EQ(s.messages[0].size, 14u);
    EXPECT_EQ(s.messages[0].internal_date, 1600000000);
    EXPECT_EQ(s.messages[1].file, "new/1700000001.M99P1.host,S=10,W=42");   // M99 before M100000
    EXPECT_EQ(s.messages[1].size, 42u);
    EXPECT_EQ(s.messages[2].file, "new/1700000001.M100000P1.host");
    EXPECT_EQ(s.messages[3].size, 3u);
    EXPECT_EQ(s.uidnext, 5u);
    for (const MessageRecord& m : s.messages) EXPECT_EQ(m.flags, 0u);

    // mutt reads message 2: new/ -> cur/ with S. Same UID, a new MODSEQ; message 4 only moved.
    fs::rename(inbox / "new" / "1700000001.M99P1.host,S=10,W=42", inbox / "cur" / "1700000001.M99P1.host,S=10,W=42:2,S");
    fs::rename(inbox / "new" / "1700000002.M5P1.host", inbox / "cur" / "1700000002.M5P1.host:2,");
    FolderState t = idx.sync("INBOX");
    ASSERT_EQ(uids_of(t), (std::vector<std::uint32_t>{1, 2, 3, 4}));
    EXPECT_EQ(t.messages[1].file, "cur/1700000001.M99P1.host,S=10,W=42:2,S");
    EXPECT_EQ(t.messages[1].flags, kFlagSeen);
    EXPECT_GT(t.messages[1].modseq, s.messages[3].modseq);
    EXPECT_EQ(t.highest_modseq, t.messages[1].modseq);
    EXPECT_EQ(t.messages[3].file, "cur/1700000002.M5P1.host:2,");
    EXPECT_EQ(t.messages[3].modseq, s.messages[3].modseq);   // no flag changed
    EXPECT_EQ(t.messages[0].modseq, s.messages[0].modseq);

    // Another program flags it (F) and takes S away: the name wins.
    fs::rename(inbox / "cur" / "1700000001.M99P1.host,S=10,W=42:2,S", inbox / "cur" / "1700000001.M99P1.host,S=10,W=42:2,F");
    FolderState u = idx.sync("INBOX");
    EXPECT_EQ(find_uid(u, 2)->flags, kFlagFlagged);
    EXPECT_GT(u.highest_modseq, t.highest_modseq);
    EXPECT_EQ(idx.sync("INBOX").highest_modseq, u.highest_modseq);   // nothing new, nothing changes
}

TEST(MailIndex, UnchangedDirectoriesAreNotListedAgain) {
    Box b;
    MailIndex idx(b.root());
    put(b.root() / "new" / "1700000000.M1P1.host", "a\r\n");
    age(b.root() / "new");
    age(b.root() / "cur");
    ASSERT_EQ(idx.sync("INBOX").messages.size(), 1u);   // records the directories' times
    // A file that appears without changing the directory's mtime (only a test can do that) is not seen:
    // the listing was skipped.
    struct stat before {};
    ::stat((b.root() / "new").c_str(), &before);
    put(b.root() / "new" / "1700000001.M1P1.host", "b\r\n");
    struct timespec keep[2] = {before.st_atim, before.st_mtim};
    ::utimensat(AT_FDCWD, (b.root() / "new").c_str(), keep, 0);
    EXPECT_EQ(idx.sync("INBOX").messages.size(), 1u);
    EXPECT_EQ(idx.status("INBOX").messages, 1u);
    // Any change of the directory (here its mtime) and it is listed again.
    ::utime((b.root() / "new").c_str(), nullptr);
    EXPECT_EQ(idx.sync("INBOX").messages.size(), 2u);
}

TEST(MailIndex, OnlyTheDirectoryThatChangedIsListedAgain) {
    Box b;
    MailIndex idx(b.root());
    put(b.root() / "cur" / "1700000000.M1P1.host:2,S", "a\r\n");
    put(b.root() / "new" / "1700000001.M1P1.host", "b\r\n");
    put(b.root() / "new" / "1700000002.M1P1.host", "c\r\n");
    age(b.root() / "new");
    age(b.root() / "cur");
    ASSERT_EQ(uids_of(idx.sync("INBOX")), (std::vector<std::uint32_t>{1, 2, 3}));
    // New mail and a POP3 deletion in new/; cur/ untouched: its message stays as it was.
    fs::remove(b.root() / "new" / "1700000001.M1P1.host");
    put(b.root() / "new" / "1700000003.M1P1.host", "d\r\n");
    FolderState s = idx.sync("INBOX");
    EXPECT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 3, 4}));
    EXPECT_EQ(s.messages[0].flags, kFlagSeen);
    // A second file with the unique part of a message in cur/ (a restored backup): one message still,
    // and no UID spent on it.
    age(b.root() / "new");
    idx.sync("INBOX");
    put(b.root() / "new" / "1700000000.M1P1.host", "a\r\n");
    FolderState t = idx.sync("INBOX");
    EXPECT_EQ(uids_of(t), (std::vector<std::uint32_t>{1, 3, 4}));
    EXPECT_EQ(t.uidnext, 5u);
    EXPECT_EQ(t.messages[0].file, "cur/1700000000.M1P1.host:2,S");
}

TEST(MailIndex, VanishedFilesAreExpungedAndRememberedForQresync) {
    Box b;
    MailIndex idx(b.root());
    for (int i = 0; i < 3; ++i) put(b.root() / "new" / fmt::format("170000000{}.M1P1.host", i), "x\r\n");
    FolderState s = idx.sync("INBOX");
    ASSERT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2, 3}));
    fs::remove(b.root() / "new" / "1700000001.M1P1.host");   // POP3 deleted it
    FolderState t = idx.sync("INBOX");
    EXPECT_EQ(uids_of(t), (std::vector<std::uint32_t>{1, 3}));
    EXPECT_GT(t.highest_modseq, s.highest_modseq);
    EXPECT_EQ(idx.vanished("INBOX", s.highest_modseq), std::vector<std::uint32_t>{2});
    EXPECT_EQ(idx.vanished("INBOX", t.highest_modseq), std::vector<std::uint32_t>{});
    EXPECT_EQ(t.uidnext, 4u);

    // The highest UID goes too: its UID is never given again.
    fs::remove(b.root() / "new" / "1700000002.M1P1.host");
    idx.sync("INBOX");
    put(b.root() / "new" / "1700000009.M1P1.host", "y\r\n");
    FolderState u = idx.sync("INBOX");
    EXPECT_EQ(uids_of(u), (std::vector<std::uint32_t>{1, 4}));
    EXPECT_EQ(MailIndex(b.root()).sync("INBOX").uidnext, 5u);
}

TEST(MailIndex, VanishedKnowsOnlyAsFarBackAsItsTombstones) {
    Box b;
    MailIndex idx(b.root());
    const std::uint32_t n = 10'001;
    for (std::uint32_t i = 0; i < n; ++i) put(b.root() / "new" / fmt::format("1700000000.M{}P1.host,S=3,W=3", i), "");
    FolderState s = idx.sync("INBOX");
    ASSERT_EQ(s.messages.size(), n);
    std::vector<std::uint32_t> first, second;
    for (std::uint32_t uid = 1; uid <= n; ++uid) (uid <= 5000 ? first : second).push_back(uid);
    EXPECT_EQ(idx.expunge("INBOX", first).size(), first.size());
    const std::uint64_t after_first = idx.status("INBOX").highest_modseq;
    EXPECT_EQ(idx.expunge("INBOX", second).size(), second.size());
    // 10,001 tombstones: the older batch is dropped, so only changes after it can be answered.
    EXPECT_EQ(idx.vanished("INBOX", s.highest_modseq), std::nullopt);
    EXPECT_EQ(idx.vanished("INBOX", after_first), second);
    EXPECT_TRUE(idx.sync("INBOX").messages.empty());
}

TEST(MailIndex, StoreRenamesFilesToCarryFlagsAndKeepsKeywordsInTheIndex) {
    Box b;
    MailIndex idx(b.root());
    fs::path cur = b.root() / "cur";
    put(b.root() / "new" / "1700000000.M1P1.host", "a\r\n");
    put(cur / "1700000001.M1P1.host:2,a", "b\r\n");   // 'a': a Dovecot keyword letter, not ours
    FolderState s = idx.sync("INBOX");
    std::vector<std::uint32_t> failed;

    auto one = [&](std::uint32_t uid, FlagChange c, std::uint32_t flags, std::vector<std::string> kw) {
        std::vector<MessageRecord> r = idx.store("INBOX", {uid}, c, flags, kw, std::nullopt, failed);
        return r.empty() ? MessageRecord{} : r[0];
    };
    MessageRecord m = one(1, FlagChange::add, kFlagSeen | kFlagFlagged, {});
    EXPECT_EQ(m.file, "cur/1700000000.M1P1.host:2,FS");   // new/ -> cur/, letters in ASCII order
    EXPECT_TRUE(fs::exists(cur / "1700000000.M1P1.host:2,FS"));
    EXPECT_FALSE(fs::exists(b.root() / "new" / "1700000000.M1P1.host"));
    EXPECT_EQ(m.flags, kFlagSeen | kFlagFlagged);
    EXPECT_GT(m.modseq, s.highest_modseq);
    EXPECT_EQ(one(2, FlagChange::add, kFlagAnswered, {}).file, "cur/1700000001.M1P1.host:2,Ra");
    EXPECT_EQ(one(1, FlagChange::remove, kFlagFlagged, {}).file, "cur/1700000000.M1P1.host:2,S");
    EXPECT_EQ(one(1, FlagChange::replace, kFlagDraft | kFlagDeleted, {}).file, "cur/1700000000.M1P1.host:2,DT");

    // Keywords: the index only, compared without case, kept as first stored.
    MessageRecord k = one(1, FlagChange::add, 0, {"$Forwarded"});
    EXPECT_EQ(k.file, "cur/1700000000.M1P1.host:2,DT");
    EXPECT_EQ(k.keywords, std::vector<std::string>{"$Forwarded"});
    EXPECT_EQ(idx.store("INBOX", {1}, FlagChange::add, 0, {"$FORWARDED"}, std::nullopt, failed).size(), 0u);
    EXPECT_EQ(one(1, FlagChange::replace, kFlagDraft | kFlagDeleted, {"$forwarded", "Work"}).keywords,
              (std::vector<std::string>{"$Forwarded", "Work"}));
    EXPECT_EQ(one(1, FlagChange::remove, 0, {"WORK"}).keywords, std::vector<std::string>{"$Forwarded"});
    EXPECT_EQ(kind_of([&] { idx.store("INBOX", {1}, FlagChange::add, 0, {"two words"}, std::nullopt, failed); }), Kind::cannot);
    EXPECT_EQ(kind_of([&] { idx.store("INBOX", {1}, FlagChange::add, 0, {"\\Seen"}, std::nullopt, failed); }), Kind::cannot);

    // UNCHANGEDSINCE (RFC 7162 3.1.3): message 1 changed after message 2's MODSEQ.
    FolderState now = idx.sync("INBOX");
    const std::uint64_t since = find_uid(now, 2)->modseq;
    ASSERT_GT(find_uid(now, 1)->modseq, since);
    failed.clear();
    std::vector<MessageRecord> r = idx.store("INBOX", {1, 2, 99}, FlagChange::add, kFlagSeen, {}, since, failed);
    EXPECT_EQ(failed, std::vector<std::uint32_t>{1});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].uid, 2u);
    EXPECT_EQ(r[0].file, "cur/1700000001.M1P1.host:2,RSa");

    // What store did, a sync reads back unchanged.
    FolderState again = idx.sync("INBOX");
    EXPECT_EQ(again.highest_modseq, r[0].modseq);
    EXPECT_EQ(find_uid(again, 1)->keywords, std::vector<std::string>{"$Forwarded"});
    EXPECT_EQ(find_uid(again, 2)->flags, kFlagAnswered | kFlagSeen);

    // Another reader renamed the file meanwhile: it is found again by its unique part, not lost.
    fs::rename(cur / "1700000001.M1P1.host:2,RSa", cur / "1700000001.M1P1.host:2,RSab");
    failed.clear();
    r = idx.store("INBOX", {2}, FlagChange::add, kFlagFlagged, {}, std::nullopt, failed);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].file, "cur/1700000001.M1P1.host:2,FRSab");
    EXPECT_EQ(listing(cur).size(), 2u);
}

TEST(MailIndex, ExpungeUnlinksTheFilesAndRemembersTheUids) {
    Box b;
    MailIndex idx(b.root());
    for (int i = 0; i < 3; ++i) put(b.root() / "new" / fmt::format("170000000{}.M1P1.host", i), "x\r\n");
    FolderState s = idx.sync("INBOX");
    idx.cache("INBOX", 2, "envelope", "(NIL)");
    EXPECT_EQ(idx.expunge("INBOX", {3, 2, 99, 2}), (std::vector<std::uint32_t>{2, 3}));
    EXPECT_EQ(listing(b.root() / "new"), std::vector<std::string>{"1700000000.M1P1.host"});
    EXPECT_EQ(idx.cached("INBOX", 2, "envelope"), std::nullopt);
    EXPECT_EQ(idx.vanished("INBOX", s.highest_modseq), (std::vector<std::uint32_t>{2, 3}));
    EXPECT_EQ(uids_of(idx.sync("INBOX")), std::vector<std::uint32_t>{1});
    EXPECT_TRUE(idx.expunge("INBOX", {}).empty());
}

TEST(MailIndex, SyncChangedReadsNothingUntilTheFolderChanges) {
    Box b;
    MailIndex idx(b.root());
    MailIndex other(b.root());   // another session
    put(b.root() / "new" / "1700000000.M1P1.host", "x\r\n");
    FolderState s = idx.sync("INBOX");
    ASSERT_EQ(s.messages.size(), 1u);
    EXPECT_EQ(idx.sync_changed("INBOX", s.version), std::nullopt);
    std::vector<std::uint32_t> failed;
    other.store("INBOX", {1}, FlagChange::add, kFlagFlagged, {}, std::nullopt, failed);   // a change in the index
    std::optional<FolderState> after = idx.sync_changed("INBOX", s.version);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->messages.at(0).flags, kFlagFlagged);
    EXPECT_EQ(idx.sync_changed("INBOX", after->version), std::nullopt);
    put(b.root() / "new" / "1700000001.M1P1.host", "y\r\n");   // a change on disk
    std::optional<FolderState> delivered = idx.sync_changed("INBOX", after->version);
    ASSERT_TRUE(delivered);
    EXPECT_EQ(uids_of(*delivered), (std::vector<std::uint32_t>{1, 2}));
    EXPECT_EQ(idx.sync_changed("INBOX", delivered->version), std::nullopt);
}

TEST(MailIndex, RecentMessagesAreClaimedOnceAndAPeekClaimsNothing) {
    Box b;
    {
        MailIndex idx(b.root());
        for (int i = 0; i < 3; ++i) put(b.root() / "new" / fmt::format("170000000{}.M1P1.host", i), "x\r\n");
        idx.sync("INBOX");
        EXPECT_EQ(idx.status("INBOX").recent, 3u);
        EXPECT_EQ(idx.claim_recent("INBOX", 3, true), 1u);    // EXAMINE: looks only
        EXPECT_EQ(idx.claim_recent("INBOX", 2, false), 1u);   // UIDs 1 and 2 are this session's
        EXPECT_EQ(idx.status("INBOX").recent, 1u);
        EXPECT_EQ(idx.claim_recent("INBOX", 3, false), 3u);   // a second session gets UID 3 only
        EXPECT_EQ(idx.claim_recent("INBOX", 3, false), 4u);   // and nothing is left
        EXPECT_EQ(idx.status("INBOX").recent, 0u);
    }
    // An index made before the recent table (schema 1) gets it at its next open; the claims start over.
    {
        SQLite::Database db((b.root() / "mailkeep-index.db").string(), SQLite::OPEN_READWRITE);
        db.exec("DROP TABLE recent");
        db.exec("UPDATE meta SET value = 1 WHERE key = 'schema'");
    }
    MailIndex again(b.root());
    EXPECT_EQ(again.claim_recent("INBOX", 3, false), 1u);
    EXPECT_EQ(again.status("INBOX").recent, 0u);
}

TEST(MailIndex, SubscribedNamesThatDoNotExistAreListedAsNonexistent) {
    Box b;
    MailIndex idx(b.root());
    idx.create("Old");
    idx.subscribe("Old", true);
    idx.subscribe("Never", true);
    idx.remove("Old");
    std::vector<std::string> gone;
    for (const FolderInfo& f : idx.folders())
        if (f.nonexistent) gone.push_back(f.name);
    EXPECT_EQ(gone, (std::vector<std::string>{"Never", "Old"}));
    EXPECT_FALSE(idx.exists("Old"));
}

TEST(MailIndex, AppendLinksTheFileDurablyWithFlagsAndTheInternalDate) {
    Box b;
    MailIndex idx(b.root());
    fs::path spool = b.dir.path / "spool.eml";
    put(spool, "Subject: hi\r\n\r\nbody\r\n");
    MailIndex::Appended a = idx.append("Sent", spool, kFlagSeen, {"$Sent"}, 1600000000);
    EXPECT_EQ(a.uid, 1u);
    EXPECT_EQ(a.uidvalidity, idx.status("Sent").uidvalidity);
    std::vector<std::string> cur = listing(b.root() / ".Sent" / "cur");
    ASSERT_EQ(cur.size(), 1u);
    EXPECT_NE(cur[0].find(":2,S"), std::string::npos) << cur[0];
    EXPECT_EQ(Maildir::pop3_size(cur[0]), 21u);
    struct stat st {};
    ASSERT_EQ(::stat((b.root() / ".Sent" / "cur" / cur[0]).c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 2u);   // a hard link of the spool file, no copy
    EXPECT_EQ(st.st_mtime, 1600000000);   // the internal date survives a rebuilt index
    EXPECT_TRUE(listing(b.root() / ".Sent" / "tmp").empty());
    fs::remove(spool);   // the caller's part

    FolderState s = idx.sync("Sent");
    ASSERT_EQ(s.messages.size(), 1u);
    EXPECT_EQ(s.messages[0].uid, 1u);
    EXPECT_EQ(s.messages[0].flags, kFlagSeen);
    EXPECT_EQ(s.messages[0].keywords, std::vector<std::string>{"$Sent"});
    EXPECT_EQ(s.messages[0].size, 21u);
    EXPECT_EQ(s.messages[0].internal_date, 1600000000);
    EXPECT_EQ(s.uidnext, 2u);

    put(spool, "x\r\n");
    MailIndex::Appended second = idx.append("Sent", spool, 0, {}, 0);
    EXPECT_EQ(second.uid, 2u);
    EXPECT_EQ(listing(b.root() / ".Sent" / "new").size(), 1u);   // no flags: new/
    EXPECT_EQ(kind_of([&] { idx.append("Nowhere", spool, 0, {}, 0); }), Kind::nonexistent);
    EXPECT_EQ(kind_of([&] { idx.append("Sent", b.dir.path / "missing", 0, {}, 0); }), Kind::storage);
    EXPECT_EQ(idx.sync("Sent").uidnext, 3u);
}

TEST(MailIndex, CopyAndMoveLinkTheMessagesWithTheirFlagsKeywordsAndCaches) {
    Box b;
    MailIndex idx(b.root());
    put(b.root() / "new" / "1700000000.M1P1.host", "one\nLF\n");
    put(b.root() / "cur" / "1700000001.M1P1.host:2,FS", "two\r\n");
    idx.sync("INBOX");
    std::vector<std::uint32_t> failed;
    idx.store("INBOX", {2}, FlagChange::add, 0, {"Important"}, std::nullopt, failed);
    idx.cache("INBOX", 2, "bodystructure", "(\"text\" \"plain\")");

    MailIndex::Copied c = idx.copy("INBOX", {2, 1, 7}, "Archive");
    EXPECT_EQ(c.uidvalidity, idx.status("Archive").uidvalidity);
    EXPECT_EQ(c.from_uids, (std::vector<std::uint32_t>{1, 2}));
    EXPECT_EQ(c.to_uids, (std::vector<std::uint32_t>{1, 2}));
    FolderState archive = idx.sync("Archive");
    ASSERT_EQ(archive.messages.size(), 2u);
    EXPECT_EQ(archive.messages[0].size, 9u);   // the CRLF size, though the file has LF
    EXPECT_EQ(archive.messages[1].flags, kFlagFlagged | kFlagSeen);
    EXPECT_EQ(archive.messages[1].keywords, std::vector<std::string>{"Important"});
    EXPECT_EQ(idx.cached("Archive", 2, "bodystructure"), "(\"text\" \"plain\")");
    struct stat from {}, to {};
    ::stat((b.root() / "cur" / "1700000001.M1P1.host:2,FS").c_str(), &from);
    ::stat((b.root() / ".Archive" / archive.messages[1].file).c_str(), &to);
    EXPECT_EQ(from.st_ino, to.st_ino);   // a hard link
    // The copy's name carries the on-disk size (S=) and the CRLF size (W=) as Dovecot reads them.
    EXPECT_EQ(Maildir::size_of(base_name(archive.messages[0].file)), 7u);
    EXPECT_EQ(Maildir::pop3_size(base_name(archive.messages[0].file)), 9u);
    EXPECT_EQ(idx.sync("INBOX").messages.size(), 2u);

    // A copy into its own folder is a new message with a new UID.
    EXPECT_EQ(idx.copy("INBOX", {1}, "INBOX").to_uids, std::vector<std::uint32_t>{3});

    std::uint64_t before = idx.status("INBOX").highest_modseq;
    MailIndex::Copied m = idx.move("INBOX", {2}, "Trash");
    EXPECT_EQ(m.from_uids, std::vector<std::uint32_t>{2});
    EXPECT_EQ(m.to_uids, std::vector<std::uint32_t>{1});
    EXPECT_EQ(uids_of(idx.sync("INBOX")), (std::vector<std::uint32_t>{1, 3}));
    EXPECT_EQ(idx.vanished("INBOX", before), std::vector<std::uint32_t>{2});
    EXPECT_EQ(idx.sync("Trash").messages.at(0).keywords, std::vector<std::string>{"Important"});
    EXPECT_EQ(kind_of([&] { idx.copy("INBOX", {1}, "Nowhere"); }), Kind::nonexistent);
}

TEST(MailIndex, CachedStringsBelongToTheMessage) {
    Box b;
    MailIndex idx(b.root());
    put(b.root() / "new" / "1700000000.M1P1.host", "x\r\n");
    idx.sync("INBOX");
    const std::string binary("a\0b\xff", 4);
    idx.cache("INBOX", 1, "envelope", binary);
    idx.cache("INBOX", 1, "envelope", binary + "!");   // replaced
    EXPECT_EQ(idx.cached("inbox", 1, "envelope"), binary + "!");
    EXPECT_EQ(idx.cached("INBOX", 1, "bodystructure"), std::nullopt);
    idx.cache("INBOX", 42, "envelope", "no such message");   // nothing, no error
    EXPECT_EQ(idx.cached("INBOX", 42, "envelope"), std::nullopt);
    EXPECT_EQ(MailIndex(b.root()).cached("INBOX", 1, "envelope"), binary + "!");
    fs::remove(b.root() / "new" / "1700000000.M1P1.host");
    idx.sync("INBOX");
    EXPECT_EQ(idx.cached("INBOX", 1, "envelope"), std::nullopt);
}

TEST(MailIndex, ACorruptIndexIsMovedAsideAndRebuiltWithNewUidvalidities) {
    Box b;
    std::uint32_t validity = 0;
    {
        MailIndex idx(b.root());
        put(b.root() / "new" / "1700000000.M1P1.host", "a\r\n");
        put(b.root() / "cur" / "1700000001.M1P1.host:2,S", "b\r\n");
        validity = idx.sync("INBOX").uidvalidity;
        idx.create("Projects");
    }
    put(b.root() / "mailkeep-index.db", std::string(8192, 'G'));   // not a database any more
    std::uint32_t rebuilt = 0;
    {
        MailIndex idx(b.root());
        FolderState s = idx.sync("INBOX");
        rebuilt = s.uidvalidity;
        EXPECT_GT(s.uidvalidity, validity);   // the old UIDs may not be trusted: clients start over
        ASSERT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2}));
        EXPECT_EQ(s.messages[1].flags, kFlagSeen);   // flags come back from the names
        EXPECT_TRUE(idx.exists("Projects"));
        EXPECT_EQ(idx.sync("Projects").uidnext, 1u);
    }
    std::vector<std::string> aside;
    for (const std::string& name : listing(b.root()))
        if (name.rfind("mailkeep-index.db.corrupt-", 0) == 0) aside.push_back(name);
    EXPECT_EQ(aside.size(), 1u);
    // An index lost altogether, rebuilt at once (the clock has not moved on): still a greater UIDVALIDITY.
    fs::remove(b.root() / "mailkeep-index.db");
    MailIndex fresh(b.root());
    EXPECT_GT(fresh.sync("INBOX").uidvalidity, rebuilt);
}

TEST(MailIndex, CorruptionFoundInUseIsRepairedTooAndTheSyncAnswered) {
    Box b;
    std::uint32_t validity = 0;
    {
        MailIndex idx(b.root());
        for (int i = 0; i < 200; ++i) put(b.root() / "new" / fmt::format("1700000000.M{}P1.host,S=3,W=3", i), "x\r\n");
        validity = idx.sync("INBOX").uidvalidity;
    }   // the last connection closed: everything checkpointed into the database file
    MailIndex idx(b.root());
    {
        // The disk goes bad under an open index: every page but the first overwritten.
        std::fstream db(b.root() / "mailkeep-index.db", std::ios::in | std::ios::out | std::ios::binary);
        db.seekg(0, std::ios::end);
        const std::streamoff size = db.tellg();
        ASSERT_GT(size, 8192);
        db.seekp(4096);
        db << std::string(static_cast<std::size_t>(size) - 4096, '\x5a');
    }
    FolderState s = idx.sync("INBOX");
    EXPECT_EQ(s.messages.size(), 200u);
    EXPECT_GT(s.uidvalidity, validity);
}

TEST(MailIndex, ACrashMidTransactionOrBeforeTheIndexLeavesConsistentUids) {
    Box b;
    {
        MailIndex idx(b.root());
        put(b.root() / "new" / "1700000000.M1P1.host", "a\r\n");
        put(b.root() / "new" / "1700000001.M1P1.host", "b\r\n");
        ASSERT_EQ(idx.sync("INBOX").uidnext, 3u);
    }
    // A process dies inside a transaction that had already written pages to the WAL.
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        try {
            SQLite::Database db((b.root() / "mailkeep-index.db").string(), SQLite::OPEN_READWRITE);
            db.exec("PRAGMA cache_size=1");   // spill to the WAL before the commit
            db.exec("BEGIN IMMEDIATE");
            db.exec("UPDATE folders SET uidnext = uidnext + 100, highest_modseq = highest_modseq + 100");
            db.exec("DELETE FROM messages");
            db.exec("INSERT INTO messages SELECT folder, uid + 1000, mkey || 'x', file, flags, keywords, modseq, size,"
                    " internal_date FROM messages");
        } catch (...) {
            ::_exit(2);
        }
        ::_exit(0);   // no commit, no rollback, no close
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    // An append that died after linking its file, before its transaction: the file is there, unindexed.
    put(b.root() / "new" / "1700000002.M1P1.host", "c\r\n");
    // And one that died between tmp/ and new/: tmp/ is not the folder.
    put(b.root() / "tmp" / "1700000003.M1P1.host", "d\r\n");

    MailIndex idx(b.root());
    FolderState s = idx.sync("INBOX");
    EXPECT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2, 3}));
    EXPECT_EQ(s.messages[0].file, "new/1700000000.M1P1.host");
    EXPECT_EQ(s.messages[2].file, "new/1700000002.M1P1.host");
    EXPECT_EQ(s.uidnext, 4u);
}

TEST(MailIndex, ConcurrentSessionsNeverGiveOneFileTwoUidsOrOneUidTwoFiles) {
    Box b;
    { MailIndex first(b.root()); }
    std::mutex mu;
    std::map<std::string, std::uint32_t> uid_of_key;   // every pairing any session saw
    std::vector<std::string> errors;
    auto record = [&](const FolderState& s) {
        std::lock_guard lock(mu);
        std::set<std::uint32_t> uids;
        for (const MessageRecord& m : s.messages) {
            std::string key = Maildir::uid_of(m.file.substr(4));
            auto [it, fresh] = uid_of_key.emplace(key, m.uid);
            if (it->second != m.uid) errors.push_back(fmt::format("{} has UIDs {} and {}", key, it->second, m.uid));
            if (!uids.insert(m.uid).second) errors.push_back(fmt::format("UID {} twice", m.uid));
        }
    };
    const int per_thread = 30;
    std::vector<std::uint32_t> appended;
    std::thread appender([&] {
        MailIndex idx(b.root());
        for (int i = 0; i < per_thread; ++i) {
            fs::path spool = b.dir.path / fmt::format("spool-{}", i);
            put(spool, fmt::format("message {}\r\n", i));
            MailIndex::Appended a = idx.append("INBOX", spool, 0, {}, 0);
            fs::remove(spool);
            std::lock_guard lock(mu);
            appended.push_back(a.uid);
        }
    });
    auto deliverer_and_syncer = [&](int who) {
        MailIndex idx(b.root());
        for (int i = 0; i < per_thread; ++i) {
            put(b.root() / "new" / fmt::format("1700000000.M{}P{}.host", i, who), "x\r\n");
            record(idx.sync("INBOX"));
        }
    };
    // A reader that keeps flagging and unflagging what it sees: renames under the others' listings.
    std::thread reader([&] {
        MailIndex idx(b.root());
        std::vector<std::uint32_t> failed;
        for (int i = 0; i < per_thread; ++i) {
            FolderState s = idx.sync("INBOX");
            record(s);
            std::vector<std::uint32_t> some;
            for (std::size_t k = i % 2; k < s.messages.size(); k += 3) some.push_back(s.messages[k].uid);
            idx.store("INBOX", some, i % 2 ? FlagChange::remove : FlagChange::add, kFlagSeen, {}, std::nullopt, failed);
        }
    });
    std::thread one(deliverer_and_syncer, 1), two(deliverer_and_syncer, 2);
    appender.join();
    reader.join();
    one.join();
    two.join();
    FolderState s = MailIndex(b.root()).sync("INBOX");
    record(s);
    EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.front());
    EXPECT_EQ(s.messages.size(), 3u * per_thread);
    EXPECT_EQ(s.uidnext, 3u * per_thread + 1);   // no UID handed out and lost
    std::sort(appended.begin(), appended.end());
    EXPECT_EQ(std::unique(appended.begin(), appended.end()), appended.end());
    for (std::uint32_t uid : appended) EXPECT_NE(find_uid(s, uid), nullptr) << uid;
    for (const MessageRecord& m : s.messages) {   // the names and the index agree
        EXPECT_TRUE(fs::exists(b.root() / m.file)) << m.file;
        EXPECT_EQ(m.flags, m.file.find(":2,S") != std::string::npos ? kFlagSeen : 0u) << m.file;
    }
}

// A measurement, not a test: run with --gtest_also_run_disabled_tests --gtest_filter=MailIndexBench*.
// Files as mailkeep delivers them (the size in the name), one in ten read and flagged in cur/.
TEST(MailIndexBench, DISABLED_SyncOf1kTo100kMessages) {
    using clock = std::chrono::steady_clock;
    auto seconds = [](clock::time_point since) { return std::chrono::duration<double>(clock::now() - since).count(); };
    for (std::uint32_t n : {1'000u, 10'000u, 100'000u}) {
        Box b;
        MailIndex idx(b.root());
        for (std::uint32_t i = 0; i < n; ++i) {
            std::string name = fmt::format("{}.M{}P77I{:016X}.host,S=4,W=4", 1700000000 + i / 1000, i % 1000, i);
            if (i % 10 == 0) put(b.root() / "cur" / (name + ":2,S"), "x\r\n\r\n");
            else put(b.root() / "new" / name, "x\r\n\r\n");
        }
        auto t0 = clock::now();
        FolderState s = idx.sync("INBOX");
        const double first = seconds(t0);
        EXPECT_EQ(s.messages.size(), n);
        t0 = clock::now();
        idx.sync("INBOX");   // listed again (the directories changed too recently to be trusted), nothing new
        const double listed = seconds(t0);
        age(b.root() / "new");
        age(b.root() / "cur");
        idx.sync("INBOX");   // records the settled directory times
        t0 = clock::now();
        idx.sync("INBOX");   // nothing changed: no listing, the index read
        const double unchanged = seconds(t0);
        t0 = clock::now();
        FolderStatus st = idx.status("INBOX");
        const double status = seconds(t0);
        EXPECT_EQ(st.messages, n);
        put(b.root() / "new" / "1800000000.M1P1.host,S=4,W=4", "x\r\n\r\n");
        t0 = clock::now();
        idx.sync("INBOX");   // one new message
        const double one_new = seconds(t0);
        t0 = clock::now();
        MailIndex reopened(b.root());
        reopened.sync("INBOX");
        const double reopen = seconds(t0);
        std::printf("%7u messages: first sync %.3f s, again (listed) %.3f s, unchanged %.3f s, status %.3f s, "
                    "one new %.3f s, open+sync %.3f s\n",
                    n, first, listed, unchanged, status, one_new, reopen);
    }
}

}  // namespace
}  // namespace mk
