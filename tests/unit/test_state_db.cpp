// tests/unit/test_state_db.cpp — the fetcher's exactly-once bookkeeping: rows move delivering ->
// delivered -> removed, survive a reopen, and recover() settles interrupted deliveries both ways.
#include <gtest/gtest.h>

#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include "store/state_db.hpp"
#include "temp_dir.hpp"

namespace mk {
namespace {

namespace fs = std::filesystem;

// TempDb - a state database file in a directory of its own.
struct TempDb {
    test::TempDir dir{"state"};
    fs::path file() const { return dir.path / "state.db"; }
};

FetchedRow::State state_of(StateDb& db, const std::string& account, const std::string& uid) {
    for (const FetchedRow& r : db.fetched(account))
        if (r.uid == uid) return r.state;
    ADD_FAILURE() << "no row for " << uid;
    return FetchedRow::State::delivering;
}

TEST(StateDb, RowsMoveThroughTheirStatesAndSurviveAReopen) {
    TempDb t;
    {
        StateDb db(t.file());
        db.begin("family", {{"uid-1", "Q1"}, {"uid-2", "Q2"}}, 1700000000);
        EXPECT_EQ(state_of(db, "family", "uid-1"), FetchedRow::State::delivering);
        db.settle("family", {{"uid-1", {}, {}}, {"uid-2", {}, {}}}, 1700000001);
        db.removed("family", {"uid-2"});
        db.begin("other", {{"uid-1", "Q3"}}, 1700000002);   // the same uid on another account is another row
    }
    StateDb db(t.file());
    EXPECT_EQ(state_of(db, "family", "uid-1"), FetchedRow::State::delivered);
    EXPECT_EQ(state_of(db, "family", "uid-2"), FetchedRow::State::removed);
    EXPECT_EQ(db.fetched("family").size(), 2u);
    EXPECT_EQ(db.fetched("other").size(), 1u);
    db.forget("family", {"uid-2"});
    EXPECT_EQ(db.fetched("family").size(), 1u);
}

TEST(StateDb, RecoverSettlesInterruptedDeliveries) {
    TempDb t;
    StateDb db(t.file());
    db.begin("a", {{"committed-before-crash", "QC"}, {"lost-before-commit", "QL"}, {"finished", "QF"}}, 1);
    db.settle("a", {{"finished", {}, {}}}, 1);
    std::size_t n = db.recover([](const std::string& id) { return id == "QC"; });
    EXPECT_EQ(n, 2u);
    auto rows = db.fetched("a");
    ASSERT_EQ(rows.size(), 2u);   // the lost one is forgotten: it will be fetched again
    EXPECT_EQ(state_of(db, "a", "committed-before-crash"), FetchedRow::State::delivered);
    EXPECT_EQ(state_of(db, "a", "finished"), FetchedRow::State::delivered);
}

// mode_of - the permission bits of a file (not following a symlink).
mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

// The database and the -wal and -shm files SQLite adds hold every account's message ids and status:
// owner only, like everything else in the data directory, whatever umask the daemon was started with.
TEST(StateDb, FilesAreOwnerOnlyWhateverTheUmask) {
    TempDb t;
    const mode_t old_mask = ::umask(022);
    {
        StateDb db(t.file());
        db.begin("a", {{"u1", "Q1"}}, 1);   // a write: the -wal and -shm files exist from here on
        for (const char* suffix : {"", "-wal", "-shm"}) {
            fs::path f = t.file().string() + suffix;
            ASSERT_TRUE(fs::exists(f)) << f;
            EXPECT_EQ(mode_of(f), 0600u) << f;
        }
    }
    ::umask(old_mask);
}

// Files an older version left wider (0644) are narrowed when the database is opened: the -wal and
// -shm files survive a crash, and SQLite would copy the database's mode to new ones.
TEST(StateDb, WiderFilesLeftFromBeforeAreNarrowedAtOpen) {
    TempDb t;
    StateDb running(t.file());
    running.begin("a", {{"u1", "Q1"}}, 1);
    for (const char* suffix : {"", "-wal", "-shm"})
        fs::permissions(t.file().string() + suffix, fs::perms(0644), fs::perm_options::replace);
    StateDb reopened(t.file());
    for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::path f = t.file().string() + suffix;
        EXPECT_EQ(mode_of(f), 0600u) << f;
    }
    EXPECT_EQ(reopened.fetched("a").size(), 1u);
}

TEST(StateDb, AccountRunsAccumulate) {
    TempDb t;
    StateDb db(t.file());
    db.record_run("a", 100, 3, "");
    db.record_run("a", 200, 2, "connect: Connection refused");
    auto s = db.account_status("a");
    EXPECT_EQ(s.last_run, 200);
    EXPECT_EQ(s.last_success, 100);
    EXPECT_EQ(s.fetched_total, 5u);
    EXPECT_EQ(s.last_error, "connect: Connection refused");
}

}  // namespace
}  // namespace mk

namespace mk {
namespace {

TEST(StateDb, SettleRecordsAWindowAtOnce) {
    TempDb t;
    StateDb db(t.file());
    db.begin("a", {{"u1", "Q1"}, {"u2", "Q2"}, {"u3", "Q3"}}, 1);   // u3 still delivering: not in the window
    db.settle("a", {{"u1", {"mid:<1@x>"}, {"anna"}}, {"u2", {"mid:<2@x>", "sha256:ab"}, {"anna", "ben"}}}, 5);
    EXPECT_EQ(state_of(db, "a", "u1"), FetchedRow::State::delivered);
    EXPECT_EQ(state_of(db, "a", "u2"), FetchedRow::State::delivered);
    EXPECT_EQ(state_of(db, "a", "u3"), FetchedRow::State::delivering);
    EXPECT_TRUE(db.delivered_to({"sha256:ab"}, "ben"));
    EXPECT_TRUE(db.delivered_to({"mid:<1@x>"}, "anna"));
    EXPECT_FALSE(db.delivered_to({"mid:<1@x>"}, "ben"));
}

}  // namespace
}  // namespace mk
