// tests/unit/test_commit_window.cpp — the fetcher's window of commits: finish() returns only when
// every commit has ended, reports each message's outcome, and what it calls committed is durable.
#include <gtest/gtest.h>

#include <fstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "fetch/commit_window.hpp"
#include "store/intake.hpp"
#include "store/maildir.hpp"
#include "temp_dir.hpp"

namespace mk {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

using test::TempDir;

Envelope to(const std::string& id, const std::string& user) {
    Envelope e;
    e.id = id;
    e.mailboxes = {user};
    e.received_at = 1700000000;
    return e;
}

TEST(CommitWindow, FinishWaitsForEveryCommitAndReportsEach) {
    TempDir t;
    Intake intake(t.path);
    // A file where ben's Maildir should be: his message cannot be committed.
    fs::create_directories(t.path / "mail");
    std::ofstream(t.path / "mail" / "ben") << "not a directory";

    asio::io_context ioc;
    CommitWindow::Outcome out;
    bool seen_in_window = false, other_user_in_window = true;
    auto run = [&]() -> asio::awaitable<void> {
        CommitWindow w(ioc.get_executor(), intake);
        const char* users[] = {"anna", "ben", "anna", "anna"};
        for (int i = 0; i < 4; ++i) {
            std::string id = "W" + std::to_string(i);
            auto f = intake.create(id);
            f->write("Subject: " + id + "\r\n\r\nbody\r\n");
            w.start(std::move(f), to(id, users[i]), {{"uid-" + std::to_string(i), {"mid:<" + id + "@x>"}, {users[i]}}, id});
        }
        seen_in_window = w.has({"mid:<W2@x>"}, "anna");
        other_user_in_window = w.has({"mid:<W2@x>"}, "ben");
        out = co_await w.finish();
    };
    auto done = asio::co_spawn(ioc, run(), asio::use_future);
    ioc.run();
    done.get();

    EXPECT_TRUE(seen_in_window);
    EXPECT_FALSE(other_user_in_window);
    ASSERT_EQ(out.committed.size(), 3u);
    EXPECT_EQ(out.committed[0].settled.uid, "uid-0");
    EXPECT_EQ(out.committed[1].settled.uid, "uid-2");
    EXPECT_EQ(out.committed[2].settled.uid, "uid-3");
    EXPECT_EQ(out.failed, std::vector<std::string>{"uid-1"});
    EXPECT_TRUE(out.error);
    // What finish() calls committed is in the mailbox; the failed one is nowhere.
    EXPECT_EQ(Maildir(maildir_path(t.path, "anna")).list().size(), 3u);
    for (const char* id : {"W0", "W2", "W3"}) EXPECT_TRUE(intake.committed(id)) << id;
    EXPECT_FALSE(intake.committed("W1"));
}

TEST(CommitWindow, AnEmptyWindowFinishesAtOnce) {
    TempDir t;
    Intake intake(t.path);
    asio::io_context ioc;
    CommitWindow::Outcome out;
    auto run = [&]() -> asio::awaitable<void> {
        CommitWindow w(ioc.get_executor(), intake);
        out = co_await w.finish();
    };
    auto done = asio::co_spawn(ioc, run(), asio::use_future);
    ioc.run();
    done.get();
    EXPECT_TRUE(out.committed.empty());
    EXPECT_TRUE(out.failed.empty());
    EXPECT_FALSE(out.error);
}

}  // namespace
}  // namespace mk
