// fetch/fetcher.hpp — collects every configured provider mailbox (POP3 or IMAP), delivers what it
// finds through the intake, and deletes on the provider only after the local copy is durable.
// Each account has its own schedule and its own errors; one failing never stops the others.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "service/services.hpp"
#include "store/envelope.hpp"
#include "store/state_db.hpp"

namespace mk {

using boost::asio::awaitable;

class Source;
class SpoolFile;
struct RemoteMessage;

struct CycleReport {
    std::string account;
    std::size_t delivered = 0;     // new messages made durable this cycle
    std::size_t removed = 0;       // deleted on the provider
    std::size_t left = 0;          // new messages left for the next cycle (max_per_cycle, max_size)
    std::string error;             // empty on success
};

// fetch_descriptors - the file descriptors fetching one account may hold at once: its cycle's
// connection, its IDLE connections, and a window of messages, each a spool file and a queue envelope.
std::size_t fetch_descriptors(const AccountConfig& account);

class Fetcher {
public:
    Fetcher(boost::asio::io_context& ioc, Services& services, StateDb& db);

    // start - settle the state database after a crash, then run each account on its interval.
    void start();
    void stop();
    // run_now - one cycle of account (or of all when empty), started after the call (a cycle
    // already running is waited for first); reports what was fetched and removed since the call.
    awaitable<std::vector<CycleReport>> run_now(std::string account);
    // wake_all - the line is up again (the relay says so): every account runs at once.
    void wake_all();
    // before_login - a local user logs in (POP3): run its stale accounts first, waiting at most
    // [fetch] login_wait, so that what was on the provider a moment ago is there.
    awaitable<void> before_login(std::string user);

    struct Status {
        std::string account;
        StateDb::AccountStatus run;
        bool running = false;
    };
    // status - every account's last run; the state database is read on the blocking pool.
    awaitable<std::vector<Status>> status();

private:
    awaitable<void> schedule(std::string account);
    awaitable<void> watch_folder(std::string account, std::string folder);
    // cycle - one exactly-once cycle; report counts as it goes, so that a cycle that fails part-way
    // still says what it delivered and removed.
    awaitable<void> cycle(const AccountConfig& account, CycleReport& report);
    // A message retrieved into the spool, and where it goes.
    struct Retrieved {
        std::unique_ptr<SpoolFile> spool;
        Envelope env;
        std::vector<std::string> users;   // for the log
        std::vector<std::string> keys;    // for de-duplication: "sha256:..." and "mid:..."
        bool loop = false;                // it carries our own Delivered-To:
    };
    awaitable<Retrieved> retrieve(const AccountConfig& a, Source& source, const RemoteMessage& m, const RemoteMessage* next,
                                  const std::string& id);
    // fetch_window - retrieve, commit and settle the messages ms (after: the one that follows them).
    awaitable<void> fetch_window(const AccountConfig& a, Source& source, std::span<const RemoteMessage> ms,
                                 const RemoteMessage* after, CycleReport& report, std::vector<RemoteMessage>& to_remove);
    awaitable<CycleReport> cycle_guarded(std::string account);
    // tell_too_large - a message over max_size stays on the provider; its user hears of it once.
    awaitable<void> tell_too_large(const AccountConfig& a, const RemoteMessage& m);

    boost::asio::io_context& ioc_;
    Services& svc_;
    StateDb& db_;
    std::map<std::string, std::unique_ptr<boost::asio::steady_timer>> timers_;
    std::map<std::string, bool> running_;
    struct Totals {
        std::uint64_t delivered = 0, removed = 0;
    };
    std::map<std::string, Totals> totals_;   // since start, per account: what run_now reports from
    std::map<std::string, std::vector<std::shared_ptr<boost::asio::steady_timer>>> waiters_;   // for running_
    std::set<Source*> watching_;   // IDLE connections, dropped by stop()
    bool stopping_ = false;
};

}  // namespace mk
