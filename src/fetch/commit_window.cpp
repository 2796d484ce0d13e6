// fetch/commit_window.cpp — each commit runs as its own coroutine on the fetcher's executor; the
// window counts them and wakes finish() when the last one ends.
#include "fetch/commit_window.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "store/intake.hpp"

namespace mk {

namespace asio = boost::asio;

struct CommitWindow::State {
    explicit State(asio::any_io_executor ex) : idle(std::move(ex), asio::steady_timer::time_point::max()) {}
    std::vector<Entry> entries;
    std::vector<std::exception_ptr> results;   // by entry
    std::size_t in_flight = 0;
    asio::steady_timer idle;                    // cancelled when in_flight drops to zero
};

namespace {

// commit_owned - the coroutine owns the spool file and the envelope until the intake is done.
asio::awaitable<void> commit_owned(Intake& intake, std::unique_ptr<SpoolFile> spool, Envelope env) {
    co_await intake.commit(std::move(spool), env);
}

}  // namespace

CommitWindow::CommitWindow(asio::any_io_executor ex, Intake& intake)
    : ex_(ex), intake_(intake), state_(std::make_shared<State>(ex)) {}

void CommitWindow::start(std::unique_ptr<SpoolFile> spool, Envelope env, Entry entry) {
    std::size_t index = state_->entries.size();
    state_->entries.push_back(std::move(entry));
    state_->results.emplace_back();
    ++state_->in_flight;
    asio::co_spawn(ex_, commit_owned(intake_, std::move(spool), std::move(env)), [st = state_, index](std::exception_ptr e) {
        st->results[index] = e;
        if (--st->in_flight == 0) st->idle.cancel();
    });
}

bool CommitWindow::has(const std::vector<std::string>& keys, const std::string& user) const {
    return std::any_of(state_->entries.begin(), state_->entries.end(), [&](const Entry& e) {
        const StateDb::Settled& s = e.settled;
        return std::find(s.users.begin(), s.users.end(), user) != s.users.end() &&
               std::find_first_of(s.keys.begin(), s.keys.end(), keys.begin(), keys.end()) != s.keys.end();
    });
}

asio::awaitable<CommitWindow::Outcome> CommitWindow::finish() {
    // The completions run on this same executor, so in_flight cannot change between the test and
    // the wait; the loop only guards against a wake-up from a cancel that came before the wait.
    while (state_->in_flight > 0) {
        boost::system::error_code ec;
        co_await state_->idle.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    Outcome out;
    for (std::size_t i = 0; i < state_->entries.size(); ++i) {
        if (!state_->results[i]) {
            out.committed.push_back(std::move(state_->entries[i]));
            continue;
        }
        out.failed.push_back(state_->entries[i].settled.uid);
        if (!out.error) out.error = state_->results[i];
    }
    state_->entries.clear();
    state_->results.clear();
    co_return out;
}

}  // namespace mk
