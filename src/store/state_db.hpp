// store/state_db.hpp — the state database (SQLite, WAL, synchronous=FULL): what the fetcher has
// taken from each provider mailbox, so that every message is delivered exactly once.
//
// Exactly once, in order, per fetched message:
//   1. begin(account, {uid, queue_id})  row "delivering", committed before the intake is asked;
//   2. the intake commits the message durably;
//   3. settle(...)                      row "delivered": from now on never fetched again;
//   4. the provider is told to delete, and only then removed(account, uid).
// The fetcher takes messages a window at a time (fetch/commit_window.hpp): one transaction begins
// the window's rows, their commits run together, one transaction settles them. A crash (or a failed
// cycle) between 1 and 3 leaves "delivering" rows: recover(), at start-up and at the start of each
// cycle, asks whether the intake committed that queue id (a file named with it exists) and
// settles each row either way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace SQLite {
class Database;
}

namespace mk {

struct FetchedRow {
    std::string uid;
    // skipped: too large to fetch; left on the provider, the user told once, never deleted there.
    enum class State { delivering, delivered, removed, skipped } state = State::delivering;
    std::string queue_id;
    std::int64_t first_seen = 0;   // unix seconds of the delivery (keep = "7d" counts from here)
};

class StateDb {
public:
    explicit StateDb(const std::filesystem::path& file);   // creates the schema; throws on error
    ~StateDb();

    // fetched - every row of an account, for one cycle's decisions (by uid).
    std::vector<FetchedRow> fetched(const std::string& account);
    // begin - rows "delivering" for a window of messages, in one transaction (one fsync).
    struct Begun {
        std::string uid, queue_id;
    };
    void begin(const std::string& account, const std::vector<Begun>& rows, std::int64_t now);
    // settle - many deliveries at once, in one transaction (one fsync): each uid delivered, and
    // its de-duplication keys remembered for its users (none for a duplicate or a loop).
    struct Settled {
        std::string uid;
        std::vector<std::string> keys, users;
    };
    void settle(const std::string& account, const std::vector<Settled>& done, std::int64_t now);
    // removed - deleted on the provider (its deletions committed there), in one transaction.
    void removed(const std::string& account, const std::vector<std::string>& uids);
    void skipped(const std::string& account, const std::string& uid, std::int64_t now);
    // forget - rows whose messages are gone from the provider (or whose delivery never happened),
    // in one transaction.
    void forget(const std::string& account, const std::vector<std::string>& uids);

    // recover - settle "delivering" rows: committed(queue_id) true -> delivered, else forgotten.
    // Returns how many rows it settled.
    std::size_t recover(const std::function<bool(const std::string& queue_id)>& committed);

    // Duplicates across accounts and folders (the same message reached through two accounts, or
    // under two Gmail labels): keys are "mid:<Message-ID>" and "sha256:<content hash>".
    bool delivered_to(const std::vector<std::string>& keys, const std::string& user);

    // Per-account status for `mailkeep status`.
    struct AccountStatus {
        std::int64_t last_run = 0, last_success = 0;
        std::uint64_t fetched_total = 0;
        std::string last_error;
    };
    void record_run(const std::string& account, std::int64_t when, std::uint64_t fetched, const std::string& error);
    AccountStatus account_status(const std::string& account);

private:
    void set_state(const std::vector<std::string>& uids, const std::string& account, FetchedRow::State state);

    std::mutex mu_;   // the blocking pool may run two accounts' cycles at once
    std::unique_ptr<SQLite::Database> db_;
};

}  // namespace mk
