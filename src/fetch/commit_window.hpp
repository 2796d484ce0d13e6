// fetch/commit_window.hpp — fetched messages handed to the intake without waiting for each one:
// the fetcher retrieves the next message while the earlier ones are being made durable, and the
// intake's committer takes them in one batch (one fsync of each directory for many messages).
// Nothing is settled in the state database until finish() has seen every commit end.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "store/envelope.hpp"
#include "store/state_db.hpp"

namespace mk {

class Intake;
class SpoolFile;

class CommitWindow {
public:
    struct Entry {
        StateDb::Settled settled;   // what the state database records once the commit succeeded
        std::string log_line;       // logged then, not before: the log never claims what did not happen
    };
    struct Outcome {
        std::vector<Entry> committed;
        std::vector<std::string> failed;   // uids whose commit failed: nothing of them is visible
        std::exception_ptr error;          // the first failure
    };

    CommitWindow(boost::asio::any_io_executor ex, Intake& intake);

    // start - commit spool as env in the background.
    void start(std::unique_ptr<SpoolFile> spool, Envelope env, Entry entry);
    // has - whether user is given a message with one of keys in this window (committing or committed).
    bool has(const std::vector<std::string>& keys, const std::string& user) const;
    // finish - wait until every commit started has ended. Must be awaited before the window is
    // dropped, also when the fetcher fails half-way: a commit still running could otherwise make a
    // message visible after its row was settled as "not delivered".
    boost::asio::awaitable<Outcome> finish();

private:
    struct State;   // shared with the commits in flight
    boost::asio::any_io_executor ex_;
    Intake& intake_;
    std::shared_ptr<State> state_;
};

}  // namespace mk
