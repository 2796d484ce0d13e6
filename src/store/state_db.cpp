// store/state_db.cpp — SQLite through SQLiteCpp; every write is one durable transaction.
#include "store/state_db.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/durable.hpp"
#include "store/sqlite_file.hpp"

namespace mk {

namespace {

const char* state_text(FetchedRow::State s) {
    switch (s) {
        case FetchedRow::State::delivering: return "delivering";
        case FetchedRow::State::delivered: return "delivered";
        case FetchedRow::State::removed: return "removed";
        case FetchedRow::State::skipped: return "skipped";
    }
    return "delivering";
}

FetchedRow::State state_of(const std::string& s) {
    if (s == "delivered") return FetchedRow::State::delivered;
    if (s == "removed") return FetchedRow::State::removed;
    if (s == "skipped") return FetchedRow::State::skipped;
    return FetchedRow::State::delivering;
}

}  // namespace

StateDb::StateDb(const std::filesystem::path& file)
    : db_(std::make_unique<SQLite::Database>(owner_only_db(file), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE)) {
    db_->exec("PRAGMA journal_mode=WAL");
    // FULL: a commit is on disk when it returns; the fetcher deletes on the provider after it.
    db_->exec("PRAGMA synchronous=FULL");
    db_->exec("CREATE TABLE IF NOT EXISTS fetched ("
              " account TEXT NOT NULL, uid TEXT NOT NULL, state TEXT NOT NULL, queue_id TEXT NOT NULL,"
              " first_seen INTEGER NOT NULL, PRIMARY KEY (account, uid))");
    db_->exec("CREATE TABLE IF NOT EXISTS delivered_keys ("
              " key TEXT NOT NULL, user TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (key, user))");
    db_->exec("CREATE TABLE IF NOT EXISTS account_runs ("
              " account TEXT PRIMARY KEY, last_run INTEGER NOT NULL, last_success INTEGER NOT NULL,"
              " fetched_total INTEGER NOT NULL, last_error TEXT NOT NULL)");
}

StateDb::~StateDb() = default;

std::vector<FetchedRow> StateDb::fetched(const std::string& account) {
    std::lock_guard lock(mu_);
    SQLite::Statement q(*db_, "SELECT uid, state, queue_id, first_seen FROM fetched WHERE account = ?");
    q.bind(1, account);
    std::vector<FetchedRow> out;
    while (q.executeStep())
        out.push_back(FetchedRow{q.getColumn(0).getString(), state_of(q.getColumn(1).getString()),
                                 q.getColumn(2).getString(), q.getColumn(3).getInt64()});
    return out;
}

void StateDb::begin(const std::string& account, const std::vector<Begun>& rows, std::int64_t now) {
    std::lock_guard lock(mu_);
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_, "INSERT OR REPLACE INTO fetched (account, uid, state, queue_id, first_seen) VALUES (?, ?, ?, ?, ?)");
    for (const Begun& r : rows) {
        q.reset();
        q.bind(1, account);
        q.bind(2, r.uid);
        q.bind(3, state_text(FetchedRow::State::delivering));
        q.bind(4, r.queue_id);
        q.bind(5, static_cast<int64_t>(now));
        q.exec();
    }
    tx.commit();
}

void StateDb::set_state(const std::vector<std::string>& uids, const std::string& account, FetchedRow::State state) {
    std::lock_guard lock(mu_);
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_, "UPDATE fetched SET state = ? WHERE account = ? AND uid = ?");
    for (const std::string& uid : uids) {
        q.reset();
        q.bind(1, state_text(state));
        q.bind(2, account);
        q.bind(3, uid);
        q.exec();
    }
    tx.commit();
}

void StateDb::settle(const std::string& account, const std::vector<Settled>& done, std::int64_t now) {
    std::lock_guard lock(mu_);
    SQLite::Transaction tx(*db_);
    SQLite::Statement up(*db_, "UPDATE fetched SET state = 'delivered' WHERE account = ? AND uid = ?");
    SQLite::Statement key(*db_, "INSERT OR IGNORE INTO delivered_keys (key, user, at) VALUES (?, ?, ?)");
    for (const Settled& d : done) {
        up.reset();
        up.bind(1, account);
        up.bind(2, d.uid);
        up.exec();
        for (const std::string& k : d.keys)
            for (const std::string& u : d.users) {
                key.reset();
                key.bind(1, k);
                key.bind(2, u);
                key.bind(3, static_cast<int64_t>(now));
                key.exec();
            }
    }
    tx.commit();
}

void StateDb::removed(const std::string& account, const std::vector<std::string>& uids) {
    set_state(uids, account, FetchedRow::State::removed);
}

void StateDb::skipped(const std::string& account, const std::string& uid, std::int64_t now) {
    std::lock_guard lock(mu_);
    SQLite::Statement q(*db_, "INSERT OR REPLACE INTO fetched (account, uid, state, queue_id, first_seen) VALUES (?, ?, ?, '', ?)");
    q.bind(1, account);
    q.bind(2, uid);
    q.bind(3, state_text(FetchedRow::State::skipped));
    q.bind(4, static_cast<int64_t>(now));
    q.exec();
}

void StateDb::forget(const std::string& account, const std::vector<std::string>& uids) {
    std::lock_guard lock(mu_);
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_, "DELETE FROM fetched WHERE account = ? AND uid = ?");
    for (const std::string& uid : uids) {
        q.reset();
        q.bind(1, account);
        q.bind(2, uid);
        q.exec();
    }
    tx.commit();
}

std::size_t StateDb::recover(const std::function<bool(const std::string&)>& committed) {
    std::vector<std::tuple<std::string, std::string, std::string>> open;
    {
        std::lock_guard lock(mu_);
        SQLite::Statement q(*db_, "SELECT account, uid, queue_id FROM fetched WHERE state = 'delivering'");
        while (q.executeStep()) open.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString());
    }
    for (const auto& [account, uid, queue_id] : open) {
        if (committed(queue_id)) {
            spdlog::warn("recover: {}: {} was delivered as {} before a crash; not fetching it again", account, uid, queue_id);
            set_state({uid}, account, FetchedRow::State::delivered);
        } else {
            spdlog::warn("recover: {}: {} was not delivered before a crash; it will be fetched again", account, uid);
            forget(account, {uid});
        }
    }
    return open.size();
}

bool StateDb::delivered_to(const std::vector<std::string>& keys, const std::string& user) {
    std::lock_guard lock(mu_);
    SQLite::Statement q(*db_, "SELECT 1 FROM delivered_keys WHERE key = ? AND user = ?");
    for (const std::string& k : keys) {
        q.reset();
        q.bind(1, k);
        q.bind(2, user);
        if (q.executeStep()) return true;
    }
    return false;
}

void StateDb::record_run(const std::string& account, std::int64_t when, std::uint64_t fetched, const std::string& error) {
    std::lock_guard lock(mu_);
    SQLite::Statement q(*db_,
                        "INSERT INTO account_runs (account, last_run, last_success, fetched_total, last_error)"
                        " VALUES (?1, ?2, CASE WHEN ?4 = '' THEN ?2 ELSE 0 END, ?3, ?4)"
                        " ON CONFLICT(account) DO UPDATE SET last_run = ?2,"
                        " last_success = CASE WHEN ?4 = '' THEN ?2 ELSE last_success END,"
                        " fetched_total = fetched_total + ?3, last_error = ?4");
    q.bind(1, account);
    q.bind(2, static_cast<int64_t>(when));
    q.bind(3, static_cast<int64_t>(fetched));
    q.bind(4, error);
    q.exec();
}

StateDb::AccountStatus StateDb::account_status(const std::string& account) {
    std::lock_guard lock(mu_);
    SQLite::Statement q(*db_, "SELECT last_run, last_success, fetched_total, last_error FROM account_runs WHERE account = ?");
    q.bind(1, account);
    AccountStatus s;
    if (q.executeStep()) {
        s.last_run = q.getColumn(0).getInt64();
        s.last_success = q.getColumn(1).getInt64();
        s.fetched_total = static_cast<std::uint64_t>(q.getColumn(2).getInt64());
        s.last_error = q.getColumn(3).getString();
    }
    return s;
}

}  // namespace mk
