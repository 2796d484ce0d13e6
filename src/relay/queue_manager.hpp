// relay/queue_manager.hpp — the one way out: takes what the intake queued, sends it to its next
// hop, retries on the schedule, warns and bounces with DSNs, and knows which hops are reachable.
// A message leaves the queue only when every recipient is final (delivered, or failed and
// reported).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "route/next_hop.hpp"
#include "service/services.hpp"
#include "store/queue.hpp"

namespace mk {
using boost::asio::awaitable;
}

namespace mk {

class Connection;
enum class ClientCause;

namespace smtp {
struct Result;
struct SendResult;
class Client;
}

struct RelayStatus {
    bool online = true;                 // every hop with waiting mail is reachable
    std::int64_t offline_since = 0;     // unix seconds, when !online
    std::size_t messages = 0;
    std::size_t recipients_pending = 0;
    std::int64_t oldest = 0;            // received_at of the oldest message, 0 when empty
    std::vector<std::string> unreachable;   // hop keys
    std::size_t recipients_held = 0;    // of recipients_pending: held for ATRN ([[odmr.hold]])
};

class QueueManager {
public:
    QueueManager(boost::asio::io_context& ioc, Services& services);

    // start - load the queue directory and begin delivering.
    void start();
    // stop - no new deliveries; those in flight end with their connections.
    void stop();
    // enqueue - a message the intake has just made durable (called on the network thread).
    void enqueue(const Envelope& env);
    // flush - try everything now, reachable or not ("mailkeep queue flush").
    void flush();
    // remove - drop a message without delivering it; false if unknown or being delivered.
    awaitable<bool> remove(std::string id);

    // on_reachable - told when a hop answers again (the fetcher then runs every account at once).
    void on_reachable(std::function<void()> f) { on_reachable_ = std::move(f); }
    // on_empty - told when the last queued message has left (what the queue held is free now).
    void on_empty(std::function<void()> f) { on_empty_ = std::move(f); }

    RelayStatus status() const;
    std::vector<QueueEntry> entries() const;
    // config - the configuration the queue routes by (which recipients are held, for the views).
    ConfigPtr config() const { return svc_.config; }

    // held_count - the messages with a recipient held for ATRN in one of domains (lowercase hold
    // domains), whether or not a hand-over is working on them; 0 is ATRN's 453 (RFC 2645 4).
    std::size_t held_count(const std::vector<std::string>& domains) const;
    // deliver_held - the provider's half of ATRN after its 250: on conn, which the caller owns and
    // keeps alive until this returns, read the customer's 220, EHLO, and deliver every message held
    // for domains, recipient by recipient, through the relay's own recording (record, save_state,
    // finish): a recipient leaves the hold only after the customer's 2xx; 5xx fails it (failure DSN
    // to the sender); 4xx keeps it held. Then QUIT, which closes conn. The messages are held
    // (in_flight) meanwhile: the scheduler and `queue remove` leave them alone; one busy elsewhere
    // at the start (a delivery to another hop, a notice) waits for the next ATRN. Never throws.
    awaitable<AtrnOutcome> deliver_held(Connection& conn, std::vector<std::string> domains);

private:
    struct Item {
        QueueEntry entry;
        int in_flight = 0;   // hop deliveries working on it (its recipients may go to several hops)
    };
    struct Unreachable {
        std::int64_t since = 0;
        NextHop hop;
    };
    using Batch = std::vector<std::pair<std::string, std::vector<std::size_t>>>;   // id -> recipient indexes
    using Groups = std::map<std::string, std::pair<NextHop, Batch>>;              // by NextHop::key

    awaitable<void> scheduler();
    void wake();
    void dispatch();
    void collect(const std::string& id, const Item& item, std::int64_t now, Groups& groups) const;
    void start(Groups& groups);
    awaitable<void> deliver(NextHop hop, Batch batch);
    // Counted results of a transfer, by recipient.
    struct Tally {
        std::size_t delivered = 0, failed = 0, deferred = 0;
        std::string lost;   // why the connection broke part-way, empty when it did not
    };
    awaitable<Tally> transfer(std::unique_ptr<smtp::Client>& client, const std::string& rewrite_from, const Batch& batch,
                              std::string failure, ClientCause cause);
    bool held(const Item& item, std::size_t rcpt) const;
    awaitable<void> probe(std::string key);
    void mark_unreachable(const NextHop& hop, const std::string& why);
    void mark_reachable(const std::string& key);

    void record(Item& item, std::size_t rcpt, const smtp::Result& result, const std::string& remote);
    void reschedule(Item& item);
    bool final(const Item& item) const;
    awaitable<void> finish(std::string id);
    awaitable<void> save_state(const Item& item);
    awaitable<void> finish_all_final();
    awaitable<void> check_deadlines();
    awaitable<void> send_dsn(const Item& item, const std::vector<std::size_t>& rcpts, bool delayed);
    awaitable<void> report_damaged(std::vector<DamagedEntry> damaged);

    boost::asio::io_context& ioc_;
    Services& svc_;
    std::map<std::string, Item> items_;
    std::map<std::string, Unreachable> unreachable_;
    std::map<std::string, std::size_t> busy_hops_;   // open deliveries (connections) per hop
    std::size_t busy_ = 0;                           // open deliveries in all
    boost::asio::steady_timer wake_;
    std::map<std::string, std::unique_ptr<boost::asio::steady_timer>> probe_timers_;   // cancelled by stop()
    bool stopping_ = false;
    bool flush_all_ = false;
    std::function<void()> on_reachable_;
    std::function<void()> on_empty_;
};

// Jitter on retry delays, so that many messages queued together do not retry in lock-step.
constexpr double kRetryJitter = 0.1;
// Delivery connections open at once, in all; a household's queue rarely needs more.
constexpr std::size_t kMaxConnections = 8;
// Connections to one destination at once (Postfix: destination_concurrency_limit, 20 by default; a
// provider's submission server may allow a user only a few). Each carries one transaction at a time
// and records it before the next, so after a crash at most this many messages are sent twice; what
// they buy is that their queue removals share one fsync (the intake's group commit).
constexpr std::size_t kConnectionsPerHop = 4;
// RET=FULL returns at most this much of the original; beyond it, the headers only.
constexpr std::size_t kMaxReturnedMessage = 256 * 1024;

}  // namespace mk
