// tests/unit/test_intake.cpp — the durable write: mailboxes share one file, the queue gets message
// and envelope, nothing is left in the spool, failures leave nothing visible, recovery cleans up.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>


#include "store/intake.hpp"
#include "store/maildir.hpp"
#include "store/queue.hpp"
#include "temp_dir.hpp"

namespace mk {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

Envelope envelope(const std::string& id, std::vector<std::string> mailboxes, std::vector<QueuedRecipient> remote) {
    Envelope e;
    e.id = id;
    e.sender = "anna@home.arpa";
    e.mailboxes = std::move(mailboxes);
    e.remote = std::move(remote);
    e.received_at = 1700000000;
    return e;
}

TEST(Intake, LocalRecipientsShareOneFileAndQueueGetsEnvelope) {
    TempDir t;
    Intake intake(t.path);
    auto f = intake.create("ID1");
    f->write("Return-Path: <anna@home.arpa>\r\nSubject: hi\r\n\r\nbody\r\n");
    Envelope e = envelope("ID1", {"anna", "ben"}, {{"x@other.example", 2, "rfc822;x@other.example"}});
    e.return_path_length = 31;
    intake.commit_sync(std::move(f), e);

    auto anna = Maildir(maildir_path(t.path, "anna")).list();
    auto ben = Maildir(maildir_path(t.path, "ben")).list();
    ASSERT_EQ(anna.size(), 1u);
    ASSERT_EQ(ben.size(), 1u);
    struct stat a {}, b {};
    ASSERT_EQ(::stat(anna[0].path.c_str(), &a), 0);
    ASSERT_EQ(::stat(ben[0].path.c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);          // one write, hard-linked
    EXPECT_EQ(a.st_mode & 0777, 0600u);
    EXPECT_EQ(slurp(anna[0].path), "Return-Path: <anna@home.arpa>\r\nSubject: hi\r\n\r\nbody\r\n");
    EXPECT_EQ(anna[0].size, slurp(anna[0].path).size());
    EXPECT_TRUE(intake.committed("ID1"));
    EXPECT_FALSE(intake.committed("ID9"));

    QueueListing q = list_queue(t.path);
    ASSERT_EQ(q.entries.size(), 1u);
    EXPECT_EQ(q.entries[0].envelope, e);
    EXPECT_TRUE(fs::is_empty(t.path / "spool"));
}

TEST(Intake, FailedCommitLeavesNothingVisible) {
    TempDir t;
    Intake intake(t.path);
    // A file where the user's Maildir should be: the mailbox cannot be created.
    fs::create_directories(t.path / "mail");
    std::ofstream(t.path / "mail" / "ben") << "not a directory";
    auto f = intake.create("ID2");
    f->write("Subject: x\r\n\r\n");
    EXPECT_THROW(intake.commit_sync(std::move(f), envelope("ID2", {"anna", "ben"}, {})), std::exception);
    EXPECT_TRUE(Maildir(maildir_path(t.path, "anna")).list().empty());
    EXPECT_TRUE(fs::is_empty(t.path / "spool"));
}

TEST(Intake, AbandonedSpoolFileIsRemoved) {
    TempDir t;
    Intake intake(t.path);
    {
        auto f = intake.create("ID3");
        f->write("partial");
    }
    EXPECT_TRUE(fs::is_empty(t.path / "spool"));
}

TEST(Intake, RecoverRemovesLeftoversAndUnreadyQueueFiles) {
    TempDir t;
    {
        Intake intake(t.path);
    }
    std::ofstream(t.path / "spool" / "OLD") << "crashed mid-DATA";
    std::ofstream(t.path / "queue" / "HALF.eml") << "no envelope yet";
    Intake intake(t.path);
    intake.recover();
    EXPECT_TRUE(fs::is_empty(t.path / "spool"));
    EXPECT_FALSE(fs::exists(t.path / "queue" / "HALF.eml"));
}

TEST(Maildir, UidIsTheStablePartOfTheName) {
    EXPECT_EQ(Maildir::uid_of("1700000000.M1P2Q3.host,S=10:2,S"), "1700000000.M1P2Q3.host");
    EXPECT_EQ(Maildir::uid_of("1700000000.M1P2Q3.host:2,"), "1700000000.M1P2Q3.host");
    std::string name = Maildir::unique_name("0123456789ABCDEF", 1234);
    EXPECT_LE(Maildir::uid_of(name).size(), 70u);   // RFC 1939 7: a UIDL is 1 to 70 characters
    EXPECT_NE(name, Maildir::unique_name("0123456789ABCDE0", 1234));
    EXPECT_TRUE(name.ends_with(",S=1234,W=1234"));   // CRLF: the size on disk is the CRLF size
    EXPECT_NE(name.find("I0123456789ABCDEF."), std::string::npos);
}

TEST(Maildir, SizeComesFromTheNameWhenItCarriesOne) {
    struct Row {
        const char* name;
        std::optional<std::uint64_t> size;
    } rows[] = {
        {"1700000000.M1P2Q3.host,S=10:2,S", 10},
        {"1700000000.M1P2Q3.host,S=4104", 4104},
        {"1700000000.M1P2Q3.host,S=4104,W=4200:2,", 4104},   // Dovecot adds W= (virtual size)
        {"1700000000.M1P2Q3.host,W=4200,S=4104", 4104},
        {"1700000000.M1P2Q3.host:2,S", std::nullopt},        // the S flag is not a size
        {"1700000000.M1P2Q3.host", std::nullopt},
        {"1700000000.M1P2Q3.host,S=", std::nullopt},
        {"1700000000.M1P2Q3.host,S=12x", std::nullopt},
        {"1700000000.M1P2Q3.host,S=99999999999999999999999", std::nullopt},   // overflows
        {"x:2,,S=5", std::nullopt},                          // after the flag separator
    };
    for (const Row& r : rows) EXPECT_EQ(Maildir::size_of(r.name), r.size) << r.name;
}

// The size POP3 reports is the CRLF size: W= says it; S= says it only in mailkeep's own names
// (other programs' S= is the size on disk, LF line ends perhaps); otherwise the file is measured.
TEST(Maildir, Pop3SizeComesFromWOrFromMailkeepsOwnS) {
    struct Row {
        std::string name;
        std::optional<std::uint64_t> size;
    } rows[] = {
        {Maildir::unique_name("0123456789ABCDEF", 4104), 4104},
        {"1700000000.M1P2I0123456789ABCDEF.host,S=4104", 4104},          // mailkeep's, before W=
        {"1700000000.M1P2I0123456789ABCDEF.host,S=4104:2,S", 4104},      // ... flagged in cur/
        {"1700000000.M1P2.host,S=4104,W=4200:2,", 4200},                 // Dovecot: W= is the CRLF size
        {"1700000000.M1P2V3I4.host,W=4200,S=4104", 4200},
        {"1700000000.M1P2V803I0123456789ABCDEF.host,S=4104", std::nullopt},   // Dovecot: I<inode>
        {"1700000000.M1P2I0123456789abcdef.host,S=4104", std::nullopt},   // not a queue id
        {"1700000000.M1P2I0123456789ABCDE.host,S=4104", std::nullopt},    // 15 digits
        {"1700000000.M1P2.host,S=4104", std::nullopt},                    // Courier, LF perhaps
        {"1700000000.12345_1.mutthost", std::nullopt},
        {"1700000000.M1P2.host,W=", std::nullopt},
        {"1700000000.M1P2.host:2,,W=5", std::nullopt},                   // after the flag separator
    };
    for (const Row& r : rows) EXPECT_EQ(Maildir::pop3_size(r.name), r.size) << r.name;
}

TEST(Maildir, ListTakesNamedSizesAndMeasuresOthers) {
    TempDir t;
    Maildir md(t.path / "m");
    md.ensure();
    const std::string own = Maildir::unique_name("0123456789ABCDEF", 5);
    std::ofstream(t.path / "m" / "new" / own) << "1\r\n2\r\n";
    std::ofstream(t.path / "m" / "new" / "1700000003.M1P2.host,S=5,W=7") << "1\n2\n3";
    std::ofstream(t.path / "m" / "cur" / "1700000000.b.host:2,S") << "a\nb\r\n\n";   // LF and CRLF
    std::ofstream(t.path / "m" / "new" / "1700000001.a.host,S=5") << "a\nb\nc";        // S= is not CRLF here
    std::ofstream(t.path / "m" / "new" / ".hidden") << "x";
    auto list = md.list();
    ASSERT_EQ(list.size(), 4u);
    EXPECT_EQ(list[0].uid, "1700000000.b.host");   // oldest first
    EXPECT_EQ(list[0].size, 8u);                    // "a\r\nb\r\n\r\n"
    EXPECT_EQ(list[1].uid, "1700000001.a.host");
    EXPECT_EQ(list[1].size, 7u);                    // "a\r\nb\r\nc"
    EXPECT_EQ(list[2].uid, "1700000003.M1P2.host");
    EXPECT_EQ(list[2].size, 7u);                    // from W=, not read
    EXPECT_EQ(list[3].uid, Maildir::uid_of(own));
    EXPECT_EQ(list[3].size, 5u);
    // paths() finds each by uid from the names alone.
    auto where = md.paths();
    ASSERT_EQ(where.size(), 4u);
    EXPECT_EQ(where.at("1700000000.b.host"), (t.path / "m" / "cur" / "1700000000.b.host:2,S").string());
}

// Within one second, delivery order is the microseconds after M (a number, not text: M99 before
// M100000), as Dovecot's and Courier's names carry them.
TEST(Maildir, ListOrdersOneSecondByMicroseconds) {
    TempDir t;
    Maildir md(t.path / "m");
    md.ensure();
    for (const char* name : {"1700000000.M100000P2.host", "1700000000.M99P2.host", "1700000000.M5000P1.host:2,S",
                             "1699999999.M999999P2.host", "1700000000.b.host"})
        std::ofstream(t.path / "m" / (std::string(name).find(':') == std::string::npos ? "new" : "cur") / name)
            << "x\r\n";
    auto list = md.list();
    ASSERT_EQ(list.size(), 5u);
    EXPECT_EQ(list[0].uid, "1699999999.M999999P2.host");
    EXPECT_EQ(list[1].uid, "1700000000.b.host");   // no microseconds: first in its second
    EXPECT_EQ(list[2].uid, "1700000000.M99P2.host");
    EXPECT_EQ(list[3].uid, "1700000000.M5000P1.host");
    EXPECT_EQ(list[4].uid, "1700000000.M100000P2.host");
}

}  // namespace
}  // namespace mk

namespace mk {
namespace {

// run_sync - run one coroutine to its end on a private io_context; rethrows what it threw.
void run_sync(boost::asio::awaitable<void> a) {
    boost::asio::io_context ioc;
    auto done = boost::asio::co_spawn(ioc, std::move(a), boost::asio::use_future);
    ioc.run();
    done.get();
}

TEST(QueueState, JsonRoundTripAndRemoval) {
    TempDir t;
    Intake intake(t.path);
    auto f = intake.create("Q1");
    f->write("Return-Path: <a@home.arpa>\r\nSubject: q\r\n\r\nx\r\n");
    Envelope e = envelope("Q1", {}, {{"x@other.example", 0, ""}, {"y@other.example", 0, ""}});
    intake.commit_sync(std::move(f), e);

    QueueState s;
    s.recipients.resize(2);
    s.recipients[0].status = RecipientState::Status::delivered;
    s.recipients[1].attempts = 3;
    s.recipients[1].last_reply = "451 4.3.0 try later";
    s.next_attempt = 1700000100;
    s.warned = true;
    run_sync(intake.save_queue_state("Q1", s));
    QueueListing q = list_queue(t.path);
    ASSERT_EQ(q.entries.size(), 1u);
    EXPECT_EQ(q.entries[0].state.recipients[1].last_reply, "451 4.3.0 try later");
    EXPECT_EQ(q.entries[0].state.recipients[0].status, RecipientState::Status::delivered);
    EXPECT_TRUE(q.entries[0].state.warned);

    // Several updates in flight at once share the committer's batches; each completes.
    s.recipients[1].attempts = 4;
    {
        boost::asio::io_context ioc;
        auto a = boost::asio::co_spawn(ioc, intake.save_queue_state("Q1", s), boost::asio::use_future);
        auto b = boost::asio::co_spawn(ioc, intake.save_queue_state("Q1", s), boost::asio::use_future);
        ioc.run();
        a.get();
        b.get();
    }
    EXPECT_EQ(list_queue(t.path).entries.at(0).state.recipients[1].attempts, 4u);
    for (const auto& e : fs::directory_iterator(t.path / "queue")) EXPECT_NE(e.path().extension(), ".tmp");

    run_sync(intake.remove_queued("Q1"));
    EXPECT_TRUE(list_queue(t.path).entries.empty());
    EXPECT_TRUE(fs::is_empty(t.path / "queue"));
}

TEST(QueueState, DamagedStateIsReportedNotGuessed) {
    TempDir t;
    Intake intake(t.path);
    auto f = intake.create("Q2");
    f->write("Subject: q\r\n\r\n");
    intake.commit_sync(std::move(f), envelope("Q2", {}, {{"x@other.example", 0, ""}}));
    std::ofstream(t.path / "queue" / "Q2.state") << "{not json";
    QueueListing q = list_queue(t.path);
    EXPECT_TRUE(q.entries.empty());
    ASSERT_EQ(q.damaged.size(), 1u);
    EXPECT_EQ(q.damaged[0].id, "Q2");
    EXPECT_EQ(q.damaged[0].reason, "state unreadable");

    // Quarantined: out of the queue, every file kept in corrupt/.
    EXPECT_EQ(quarantine_queue_entry(t.path, "Q2"), t.path / "corrupt");
    EXPECT_TRUE(list_queue(t.path).damaged.empty());
    for (const char* ext : {".env", ".eml", ".state"}) {
        EXPECT_TRUE(std::filesystem::exists(t.path / "corrupt" / (std::string("Q2") + ext))) << ext;
        EXPECT_FALSE(std::filesystem::exists(t.path / "queue" / (std::string("Q2") + ext))) << ext;
    }
}

}  // namespace
}  // namespace mk
