// relay/queue_manager.cpp — delivery scheduling, per-recipient results, DSNs and reachability.
// Talks to remote servers through smtp::Client only; reads and updates the queue through store/;
// DSNs enter through the intake like any other mail.
#include "relay/queue_manager.hpp"

#include <algorithm>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/address.hpp"
#include "core/date.hpp"
#include "core/ids.hpp"
#include "net/dns.hpp"
#include "net/offload.hpp"
#include "route/router.hpp"
#include "smtp/client.hpp"
#include "smtp/command.hpp"
#include "smtp/dsn.hpp"
#include "smtp/notice.hpp"
#include "store/intake.hpp"

namespace mk {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Status = RecipientState::Status;

// How long a reachability probe waits for a TCP connection.
constexpr auto kProbeTimeout = 10s;
// With nothing due, the scheduler still looks at the warn/give-up deadlines this often.
constexpr auto kIdleTick = 30s;

std::int64_t now_seconds() { return std::time(nullptr); }

// jittered - d, moved at random by up to kRetryJitter of itself.
std::chrono::seconds jittered(std::chrono::seconds d) {
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_real_distribution<double> f(1.0 - kRetryJitter, 1.0 + kRetryJitter);
    return std::chrono::seconds(static_cast<std::int64_t>(static_cast<double>(d.count()) * f(rng)));
}

// wants - RFC 3461 4.1: with no NOTIFY, failures are reported and delays may be; NEVER is silence.
bool wants(unsigned notify, unsigned kind) { return notify == 0 ? kind != smtp::kNotifySuccess : (notify & kind) != 0; }

smtp::ClientOptions client_options(const Config& c, const NextHop& n, const std::string& server_name) {
    smtp::ClientOptions o = smtp::hop_options(c, n.hop, server_name);
    // Direct delivery to an MX: STARTTLS when offered, unverified (RFC 7435 opportunistic security).
    o.tls_required = o.tls_required && !n.mx;
    o.tls_verify = o.tls_verify && !n.mx;
    o.lmtp = n.lmtp;
    return o;
}

// connect_hop - a client connection to the hop: the smarthost or route host, or the MX hosts of
// the domain in preference order. Throws smtp::ClientError (DNS failures included).
awaitable<std::unique_ptr<smtp::Client>> connect_hop(const Config& c, const NextHop& n) {
    std::vector<std::pair<std::string, std::vector<asio::ip::address>>> hosts;
    try {
        if (n.mx) {
            auto mxs = co_await resolve_mx(n.domain, c.relay.dns_server);
            for (auto& mx : mxs) hosts.emplace_back(mx.host, mx.addresses);
        } else {
            auto addrs = co_await resolve_host(n.hop.host, c.relay.dns_server);
            hosts.emplace_back(n.hop.host, addrs);
        }
    } catch (const DnsError& e) {
        if (e.temporary()) throw smtp::ClientError(fmt::format("DNS: {}", e.what()), smtp::Cause::network);
        throw smtp::ClientError(fmt::format("DNS: {}", e.what()), 550, false);
    }
    std::string errors;
    // Unreachable only if no host of the hop answered at all; a policy failure anywhere is reported.
    smtp::Cause cause = smtp::Cause::network;
    int code = 0;
    for (auto& [name, addrs] : hosts) {
        std::vector<asio::ip::tcp::endpoint> eps;
        for (auto& a : addrs) eps.emplace_back(a, n.hop.port);
        try {
            auto client = co_await smtp::Client::connect(eps, client_options(c, n, name));
            co_return client;
        } catch (const smtp::ClientError& e) {
            if (!e.temporary() && !n.mx) throw;
            errors += fmt::format("{}{}: {}", errors.empty() ? "" : "; ", name, e.what());
            if (e.cause() == smtp::Cause::policy || cause == smtp::Cause::network) cause = e.cause();
            if (e.code() != 0) code = e.code();
        }
    }
    // Refused by every host that answered: retried (another MX may take it next time).
    if (cause == smtp::Cause::reply) throw smtp::ClientError(errors, code, true);
    throw smtp::ClientError(errors.empty() ? "no address to connect to" : errors, cause);
}

// returned_message - what a notice gives back of a queued message: at most kMaxReturnedMessage
// octets after its Return-Path: line, and whether that is all of it. Blocking: call it on the pool.
std::pair<std::string, bool> returned_message(const std::filesystem::path& file, std::uint64_t skip) {
    std::string text = read_at_most(file, skip, kMaxReturnedMessage + 1);
    bool whole = text.size() <= kMaxReturnedMessage;
    if (!whole) text.resize(kMaxReturnedMessage);
    return {std::move(text), whole};
}

// damaged_notice - the postmaster's notice of a queue entry moved aside, with what could be read of it.
std::string damaged_notice(const Config& c, const DamagedEntry& d, const std::filesystem::path& where,
                           const std::string& envelope, const std::string& message, bool whole, const std::string& id) {
    smtp::NoticeInput in;
    in.reporting_mta = c.hostname;
    in.postmaster = c.postmaster;
    in.to = c.postmaster;
    in.id = id;
    in.now = std::time(nullptr);
    in.subject = fmt::format("Damaged queue entry {} moved aside", d.id);
    in.paragraphs = {
        fmt::format("This is the mail system at {}.", c.hostname),
        fmt::format("The queue entry {} could not be read ({}). It will not be delivered to the recipients it "
                    "was still waiting for, and nobody else has been told about it. Its files were moved to {}.",
                    d.id, d.reason, where.string()),
        message.empty() ? "The message itself could not be read."
                        : whole ? "The message is attached, and the envelope file as it was found. To send the message "
                                  "again, forward the attachment to its recipients or hand the file to a mail client."
                                : "The message was too large to attach whole: its header is attached, and the envelope "
                                  "file as it was found. The whole message is in the directory named above.",
    };
    if (!message.empty())
        in.attachments.push_back({whole ? smtp::NoticeAttachment::Kind::message : smtp::NoticeAttachment::Kind::headers,
                                  "Queued message " + d.id, "", message});
    if (!envelope.empty())
        in.attachments.push_back({smtp::NoticeAttachment::Kind::octets, "Queue envelope " + d.id, d.id + ".env", envelope});
    return smtp::build_notice(in);
}

// without_return_path - a queued file begins with our own Return-Path: line, which only final
// delivery carries; a damaged envelope no longer says how long it is.
std::string without_return_path(std::string text) {
    if (text.starts_with("Return-Path:")) {
        std::size_t eol = text.find("\r\n");
        text.erase(0, eol == std::string::npos ? text.size() : eol + 2);
    }
    return text;
}

}  // namespace

QueueManager::QueueManager(asio::io_context& ioc, Services& services) : ioc_(ioc), svc_(services), wake_(ioc) {}

void QueueManager::start() {
    QueueListing q = list_queue(svc_.intake->data_dir());
    for (QueueEntry& e : q.entries) {
        std::string id = e.envelope.id;
        items_.emplace(id, Item{std::move(e)});
    }
    if (!items_.empty()) spdlog::info("queue: {} message(s) waiting", items_.size());
    if (!q.damaged.empty()) asio::co_spawn(ioc_, report_damaged(std::move(q.damaged)), asio::detached);
    asio::co_spawn(ioc_, scheduler(), asio::detached);
}

// report_damaged - entries the queue cannot read leave it for corrupt/, and the postmaster is told,
// with the message attached: acknowledged mail is never stuck without anyone knowing.
awaitable<void> QueueManager::report_damaged(std::vector<DamagedEntry> damaged) {
    const ConfigPtr config = svc_.config;
    std::filesystem::path dir = svc_.intake->data_dir();
    for (const DamagedEntry& d : damaged) {
        std::filesystem::path where;
        std::string envelope, message;
        bool whole = false;
        try {
            where = co_await offload([&] { return quarantine_queue_entry(dir, d.id); });
        } catch (const std::exception& e) {
            spdlog::error("queue: {}: damaged ({}) and cannot be moved aside: {}", d.id, d.reason, e.what());
            continue;
        }
        spdlog::error("queue: {}: damaged ({}); moved to {} and reported to the postmaster", d.id, d.reason, where.string());
        try {
            envelope = co_await offload([&] { return read_at_most(where / (d.id + ".env"), 0, kMaxReturnedMessage); });
            auto [text, complete] = co_await offload([&] { return returned_message(where / (d.id + ".eml"), 0); });
            message = without_return_path(std::move(text));
            whole = complete;
        } catch (const std::exception& e) {
            spdlog::error("queue: {}: {}", d.id, e.what());
        }
        try {
            smtp::Notice n{config->postmaster, d.id, "damaged queue entry", "", true};
            std::string id = new_queue_id();
            n.text = damaged_notice(*config, d, where, envelope, message, whole, id);
            std::string sent = co_await smtp::submit_notice(*svc_.intake, *config, std::move(n));
            spdlog::info("queue: {}: postmaster notice {}", d.id, sent);
        } catch (const std::exception& e) {
            spdlog::error("queue: {}: cannot notify the postmaster: {}", d.id, e.what());
        }
    }
}

bool QueueManager::final(const Item& item) const {
    return std::all_of(item.entry.state.recipients.begin(), item.entry.state.recipients.end(),
                       [](const RecipientState& r) { return r.status != Status::pending; });
}

// finish_all_final - messages whose recipients are all final but which are still queued: a crash
// came between the last result and the removal. Their DSNs and removal happen now.
awaitable<void> QueueManager::finish_all_final() {
    std::vector<std::string> done;
    for (const auto& [id, item] : items_)
        if (item.in_flight == 0 && final(item)) done.push_back(id);
    for (const std::string& id : done) co_await finish(id);
}

void QueueManager::stop() {
    stopping_ = true;
    wake_.cancel();
    for (auto& [key, timer] : probe_timers_) timer->cancel();
}

void QueueManager::enqueue(const Envelope& env) {
    QueueEntry e;
    e.envelope = env;
    e.message = svc_.intake->data_dir() / "queue" / (env.id + ".eml");
    std::error_code ec;
    e.size = std::filesystem::file_size(e.message, ec);
    e.state.recipients.resize(env.remote.size());
    auto [it, fresh] = items_.insert_or_assign(env.id, Item{std::move(e)});
    // Only this message is looked at: a burst of n arrivals costs O(n), not n walks of the queue.
    // If its hop is busy, the delivery under way picks it up when it ends (it wakes the scheduler).
    if (stopping_) return;
    Groups groups;
    collect(it->first, it->second, now_seconds(), groups);
    start(groups);
}

void QueueManager::flush() {
    flush_all_ = true;
    for (auto& [id, item] : items_) item.entry.state.next_attempt = 0;
    wake();
}

awaitable<bool> QueueManager::remove(std::string id) {
    auto it = items_.find(id);
    if (it == items_.end() || it->second.in_flight > 0) co_return false;
    ++it->second.in_flight;   // no delivery starts on it while it goes
    try {
        co_await svc_.intake->remove_queued(id);
    } catch (const std::exception& e) {
        spdlog::error("{}: cannot remove from the queue: {}", id, e.what());
        --items_.at(id).in_flight;
        co_return false;
    }
    spdlog::info("{}: removed from the queue by the administrator", id);
    items_.erase(id);
    if (items_.empty() && on_empty_) on_empty_();
    co_return true;
}

void QueueManager::wake() { wake_.cancel(); }

RelayStatus QueueManager::status() const {
    RelayStatus s;
    s.messages = items_.size();
    for (const auto& [id, item] : items_) {
        for (std::size_t i = 0; i < item.entry.state.recipients.size(); ++i) {
            s.recipients_pending += item.entry.state.recipients[i].status == Status::pending;
            s.recipients_held += held(item, i);
        }
        if (s.oldest == 0 || item.entry.envelope.received_at < s.oldest) s.oldest = item.entry.envelope.received_at;
    }
    for (const auto& [key, u] : unreachable_) {
        s.unreachable.push_back(key);
        if (s.offline_since == 0 || u.since < s.offline_since) s.offline_since = u.since;
    }
    s.online = unreachable_.empty();
    return s;
}

std::vector<QueueEntry> QueueManager::entries() const {
    std::vector<QueueEntry> out;
    for (const auto& [id, item] : items_) out.push_back(item.entry);
    std::sort(out.begin(), out.end(), [](const QueueEntry& a, const QueueEntry& b) {
        return a.envelope.received_at < b.envelope.received_at;
    });
    return out;
}

awaitable<void> QueueManager::scheduler() {
    co_await finish_all_final();
    while (!stopping_) {
        co_await check_deadlines();
        // stop() may have come while a notice was being written: nothing would wake the wait below.
        if (stopping_) break;
        dispatch();
        auto next = std::chrono::steady_clock::now() + kIdleTick;
        std::int64_t now = now_seconds();
        for (const auto& [id, item] : items_) {
            if (item.in_flight > 0) continue;
            // A message due now that dispatch() left waits for its hop: a delivery under way (its
            // end wakes this loop) or an unreachable hop (the probe flushes when it answers). Only
            // a retry time still ahead sets the next wake-up; a due one would make this loop spin.
            if (item.entry.state.next_attempt > now)
                next = std::min(next, std::chrono::steady_clock::now() + std::chrono::seconds(item.entry.state.next_attempt - now));
            // Deadlines too: a warning or a give-up is due at its own time, not at the next tick.
            const Config& c = *svc_.config;
            std::int64_t warn = item.entry.envelope.received_at + c.relay.warn_after.count();
            std::int64_t give_up = item.entry.envelope.received_at + c.relay.give_up_after.count();
            for (std::int64_t t : {warn, give_up})
                if (t > now) next = std::min(next, std::chrono::steady_clock::now() + std::chrono::seconds(t - now));
        }
        wake_.expires_at(next);
        boost::system::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

// collect - the due, pending recipients of one message, into groups by next hop (hops busy or,
// unless flushing, unreachable are left for later).
void QueueManager::collect(const std::string& id, const Item& item, std::int64_t now, Groups& groups) const {
    if (item.in_flight > 0) return;
    const QueueState& st = item.entry.state;
    if (st.next_attempt > now && !flush_all_) return;
    const Config& c = *svc_.config;
    for (std::size_t i = 0; i < st.recipients.size(); ++i) {
        if (st.recipients[i].status != Status::pending) continue;
        NextHop hop = next_hop(c, item.entry.envelope.sender, item.entry.envelope.remote[i].address);
        if (auto b = busy_hops_.find(hop.key); b != busy_hops_.end() && b->second >= kConnectionsPerHop) continue;
        if (unreachable_.contains(hop.key) && !flush_all_) continue;
        // Held for ATRN: only its site's own connection takes it (deliver_held), never the scheduler.
        if (hop.hold) continue;
        auto& g = groups[hop.key];
        g.first = hop;
        if (g.second.empty() || g.second.back().first != id) g.second.push_back({id, {}});
        g.second.back().second.push_back(i);
    }
}

// start - delivery coroutines (one connection each) per group: as many as the group has messages,
// up to kConnectionsPerHop for its hop and kMaxConnections in all; the messages are dealt out
// among them (a message's recipients for the hop stay together: one transaction).
void QueueManager::start(Groups& groups) {
    for (auto& [key, group] : groups) {
        std::size_t& open = busy_hops_[key];
        std::size_t n = std::min({kConnectionsPerHop - open, kMaxConnections - busy_, group.second.size()});
        if (n == 0) {
            if (open == 0) busy_hops_.erase(key);
            continue;
        }
        std::vector<Batch> parts(n);
        for (std::size_t k = 0; k < group.second.size(); ++k) parts[k % n].push_back(std::move(group.second[k]));
        for (Batch& part : parts) {
            for (auto& [id, rcpts] : part) ++items_.at(id).in_flight;
            ++open;
            ++busy_;
            asio::co_spawn(ioc_, deliver(group.first, std::move(part)), asio::detached);
        }
    }
}

void QueueManager::dispatch() {
    if (stopping_) return;
    std::int64_t now = now_seconds();
    Groups groups;
    for (const auto& [id, item] : items_) collect(id, item, now, groups);
    flush_all_ = false;
    start(groups);
}

void QueueManager::mark_unreachable(const NextHop& hop, const std::string& why) {
    if (unreachable_.contains(hop.key)) return;
    spdlog::warn("relay: {} unreachable ({}); mail for it waits, probing every {}s", hop.key, why,
                 svc_.config->relay.probe_interval.count());
    unreachable_[hop.key] = Unreachable{now_seconds(), hop};
    asio::co_spawn(ioc_, probe(hop.key), asio::detached);
}

void QueueManager::mark_reachable(const std::string& key) {
    auto it = unreachable_.find(key);
    if (it == unreachable_.end()) return;
    spdlog::info("relay: {} reachable again after {}s; sending everything queued", key, now_seconds() - it->second.since);
    unreachable_.erase(it);
    flush();
    if (on_reachable_) on_reachable_();
}

awaitable<void> QueueManager::probe(std::string key) {
    auto& slot = probe_timers_[key];
    if (!slot) slot = std::make_unique<asio::steady_timer>(ioc_);
    asio::steady_timer& timer = *slot;
    while (!stopping_ && unreachable_.contains(key)) {
        timer.expires_after(svc_.config->relay.probe_interval);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopping_ || !unreachable_.contains(key)) co_return;
        NextHop hop = unreachable_.at(key).hop;
        try {
            // A full SMTP greeting, not just TCP: a smarthost behind a captive portal accepts
            // connections and says nothing useful.
            auto client = co_await connect_hop(*svc_.config, hop);
            co_await client->quit();
            mark_reachable(key);
        } catch (const smtp::ClientError& e) {
            // Any answer means the line is up: a refusal or a TLS mismatch is for the deliveries
            // to count and report, not a reason to keep waiting.
            if (e.cause() != smtp::Cause::network) mark_reachable(key);
            else spdlog::debug("relay: probe of {} failed: {}", key, e.what());
        } catch (const std::exception& e) {
            spdlog::debug("relay: probe of {} failed: {}", key, e.what());
        }
    }
}

void QueueManager::record(Item& item, std::size_t rcpt, const smtp::Result& result, const std::string& remote) {
    RecipientState& r = item.entry.state.recipients[rcpt];
    const std::string& id = item.entry.envelope.id;
    const std::string& to = item.entry.envelope.remote[rcpt].address;
    const int code = result.code;
    const std::string& reply = result.text;
    r.last_attempt = now_seconds();
    r.last_reply = reply;
    r.last_status = result.status.str();
    r.remote = remote;
    if (code >= 200 && code < 300) {
        r.status = Status::delivered;
        spdlog::info("{}: to=<{}>, relay={}, status=sent ({})", id, to, remote, reply);
    } else if (code >= 500) {
        r.status = Status::failed;
        spdlog::info("{}: to=<{}>, relay={}, status=bounced ({})", id, to, remote, reply);
    } else {
        ++r.attempts;
        spdlog::info("{}: to=<{}>, relay={}, status=deferred ({})", id, to, remote.empty() ? "none" : remote, reply);
    }
}

void QueueManager::reschedule(Item& item) {
    const auto& retry = svc_.config->relay.retry;
    unsigned attempts = 0;
    for (const RecipientState& r : item.entry.state.recipients)
        if (r.status == Status::pending) attempts = std::max(attempts, r.attempts);
    if (attempts == 0) return;   // not tried (its hop was unreachable): it goes when the hop comes back
    auto delay = retry[std::min<std::size_t>(attempts - 1, retry.size() - 1)];
    item.entry.state.next_attempt = now_seconds() + jittered(delay).count();
}

awaitable<void> QueueManager::deliver(NextHop hop, Batch batch) {
    const ConfigPtr config = svc_.config;
    std::unique_ptr<smtp::Client> client;
    std::string failure;
    smtp::Cause cause = smtp::Cause::reply;
    try {
        client = co_await connect_hop(*config, hop);
    } catch (const smtp::ClientError& e) {
        failure = e.what();
        cause = e.cause();
        // A hop refusing us for good (no such domain, null MX) fails its recipients now.
        if (!e.temporary()) {
            for (auto& [id, rcpts] : batch)
                for (std::size_t i : rcpts)
                    record(items_.at(id), i, {550, {5, 4, 4}, fmt::format("550 5.4.4 {}", failure)}, "");   // RFC 3463 X.4.4
        }
    }
    // Only when nothing answered may the line be down: the mail then waits without counting tries.
    if (!client && cause == smtp::Cause::network) mark_unreachable(hop, failure);
    co_await transfer(client, hop.rewrite_from, batch, failure, cause);
    if (--busy_hops_.at(hop.key) == 0) busy_hops_.erase(hop.key);
    --busy_;
    wake();
}

// transfer - the messages of batch over client (null: no session could be had, for failure and
// cause), one transaction each: every recipient's reply recorded, the state saved, and a message
// done removed at once; then QUIT. The caller holds each message of batch (in_flight) and this lets
// it go. The relay's deliveries and the ATRN hand-over share it: one way out.
awaitable<QueueManager::Tally> QueueManager::transfer(std::unique_ptr<smtp::Client>& client, const std::string& rewrite_from,
                                                      const Batch& batch, std::string failure, smtp::Cause cause) {
    Tally tally;
    const bool network = !client && cause == smtp::Cause::network;
    for (const auto& [id, rcpts] : batch) {
        Item& item = items_.at(id);
        if (!tally.lost.empty()) {
            // Never sent: the connection broke on an earlier message. Left as it was, without a
            // counted try, for the next run (ATRN: the customer's next ATRN, which may be at once).
            tally.deferred += rcpts.size();
            if (--item.in_flight == 0 && final(item)) co_await finish(id);
            continue;
        }
        if (client) {
            const Envelope& env = item.entry.envelope;
            smtp::OutboundMessage m;
            m.sender = rewrite_from.empty() ? env.sender : rewrite_from;
            if (!rewrite_from.empty()) {
                m.from_rewrite_old = env.sender;
                m.from_rewrite_new = rewrite_from;
            }
            for (std::size_t i : rcpts) m.recipients.push_back({env.remote[i].address, env.remote[i].notify, env.remote[i].orcpt});
            m.file = item.entry.message;
            m.skip = env.return_path_length;
            m.body_8bit = env.body_8bit;
            m.smtputf8 = env.smtputf8;
            m.ret = env.ret;
            m.envid = env.envid;
            try {
                smtp::SendResult r = co_await client->send(m);
                for (std::size_t k = 0; k < rcpts.size(); ++k) {
                    const smtp::Result& res = r.recipients.at(k).code != 0 ? r.recipients[k] : r.message;
                    record(item, rcpts[k], res, client->peer());
                }
            } catch (const smtp::ClientError& e) {
                failure = fmt::format("lost connection with {}: {}", client->peer(), e.what());
                cause = e.cause();
                client.reset();
                tally.lost = failure;
            }
        }
        if (!client && !network) {
            // Refused by the peer's reply, stopped by our rules (TLS verification, AUTH), or lost
            // midway: an ordinary, counted retry (RFC 3463: X.7.0 security, X.4.2 bad connection).
            EnhancedStatus status = cause == smtp::Cause::policy ? EnhancedStatus{4, 7, 0} : EnhancedStatus{4, 4, 2};
            smtp::Result result{451, status, fmt::format("451 {} {}", status.str(), failure)};
            for (std::size_t i : rcpts)
                if (item.entry.state.recipients[i].status == Status::pending) record(item, i, result, "");
        } else if (!client) {
            for (std::size_t i : rcpts) item.entry.state.recipients[i].last_reply = failure;
        }
        for (std::size_t i : rcpts) {
            Status st = item.entry.state.recipients[i].status;
            ++(st == Status::delivered ? tally.delivered : st == Status::failed ? tally.failed : tally.deferred);
        }
        reschedule(item);
        // A message now delivered to everyone is removed at once below: its state need not be
        // written first (the removal, with its directory fsync, is what makes "done" durable).
        // With a failure the state is kept, so that a crash before its DSN cannot resend the rest.
        bool all_delivered = std::all_of(item.entry.state.recipients.begin(), item.entry.state.recipients.end(),
                                         [](const RecipientState& r) { return r.status == Status::delivered; });
        if (!(item.in_flight == 1 && all_delivered)) co_await save_state(item);
        // Done with this message now, not at the end of the connection: a crash later must not
        // leave a delivered message behind.
        if (--item.in_flight == 0 && final(item)) co_await finish(id);
    }
    if (client) {
        try {
            co_await client->quit();
        } catch (const std::exception&) {
        }
    }
    co_return tally;
}

// held - whether recipient rcpt of item waits for ATRN: pending, in a hold domain.
bool QueueManager::held(const Item& item, std::size_t rcpt) const {
    if (item.entry.state.recipients[rcpt].status != Status::pending) return false;
    return next_hop(*svc_.config, item.entry.envelope.sender, item.entry.envelope.remote[rcpt].address).hold;
}

std::size_t QueueManager::held_count(const std::vector<std::string>& domains) const {
    std::set<std::string> keys;
    for (const std::string& d : domains) keys.insert(hold_key(lowercase_ascii(d)));
    const Config& c = *svc_.config;
    std::size_t n = 0;
    for (const auto& [id, item] : items_) {
        for (std::size_t i = 0; i < item.entry.state.recipients.size(); ++i) {
            if (item.entry.state.recipients[i].status != Status::pending) continue;
            NextHop hop = next_hop(c, item.entry.envelope.sender, item.entry.envelope.remote[i].address);
            if (hop.hold && keys.contains(hop.key)) {
                ++n;
                break;
            }
        }
    }
    return n;
}

awaitable<AtrnOutcome> QueueManager::deliver_held(Connection& conn, std::vector<std::string> domains) {
    const ConfigPtr config = svc_.config;
    std::set<std::string> keys;
    for (const std::string& d : domains) keys.insert(hold_key(lowercase_ascii(d)));
    // Take the messages now, before the first await: from here on they are ours (in_flight).
    Batch batch;
    for (auto& [id, item] : items_) {
        if (item.in_flight > 0) continue;
        std::vector<std::size_t> rcpts;
        for (std::size_t i = 0; i < item.entry.state.recipients.size(); ++i) {
            if (item.entry.state.recipients[i].status != Status::pending) continue;
            NextHop hop = next_hop(*config, item.entry.envelope.sender, item.entry.envelope.remote[i].address);
            if (hop.hold && keys.contains(hop.key)) rcpts.push_back(i);
        }
        if (rcpts.empty()) continue;
        ++item.in_flight;
        batch.emplace_back(id, std::move(rcpts));
    }
    AtrnOutcome out;
    // RFC 2645 5.3: the customer, now the server, speaks first; we are the client, with no login and
    // the TLS of the ATRN session as it is.
    smtp::ClientOptions o;
    o.helo = config->hostname;
    o.server_name = domains.empty() ? std::string() : lowercase_ascii(domains.front());
    o.tls = TlsMode::none;
    o.tls_required = false;
    o.tls_verify = false;
    std::unique_ptr<smtp::Client> client;
    // A customer that cannot take mail now, even for good by its greeting, keeps it held: it is the
    // only way out for this mail, and its next ATRN may go better.
    smtp::Cause cause = smtp::Cause::reply;
    try {
        client = co_await smtp::Client::start(conn, std::move(o));
    } catch (const smtp::ClientError& e) {
        out.error = e.what();
        cause = e.cause() == smtp::Cause::network ? smtp::Cause::network : smtp::Cause::reply;
    }
    std::size_t messages = batch.size();
    spdlog::info("atrn: {} message(s) held for {} to hand over{}{}", messages, fmt::join(domains, ","),
                 out.error.empty() ? "" : "; ", out.error);
    Tally t = co_await transfer(client, "", batch, out.error, cause);
    if (out.error.empty()) out.error = t.lost;
    out.delivered = t.delivered;
    out.failed = t.failed;
    out.deferred = t.deferred;
    spdlog::info("atrn: {}: {} recipient(s) delivered, {} failed, {} still held", fmt::join(domains, ","), out.delivered,
                 out.failed, out.deferred);
    wake();
    co_return out;
}

awaitable<void> QueueManager::check_deadlines() {
    const Config& c = *svc_.config;
    std::int64_t now = now_seconds();
    std::vector<std::string> expired, warn;
    for (auto& [id, item] : items_) {
        if (item.in_flight > 0) continue;
        std::int64_t age = now - item.entry.envelope.received_at;
        QueueState& st = item.entry.state;
        std::vector<std::size_t> pending;
        for (std::size_t i = 0; i < st.recipients.size(); ++i)
            if (st.recipients[i].status == Status::pending) pending.push_back(i);
        if (pending.empty()) continue;
        if (age >= c.relay.give_up_after.count()) {
            for (std::size_t i : pending) {
                RecipientState& r = st.recipients[i];
                r.status = Status::failed;
                r.last_reply = fmt::format("4.4.7 gave up after {}s in the queue{}{}", age,
                                           r.last_reply.empty() ? "" : "; last error: ", r.last_reply);
                r.last_status = "4.4.7";   // RFC 3463 X.4.7 delivery time expired
                spdlog::info("{}: to=<{}>, status=expired ({})", id, item.entry.envelope.remote[i].address, r.last_reply);
            }
            expired.push_back(id);
        } else if (age >= c.relay.warn_after.count() && !st.warned) {
            warn.push_back(id);
        }
    }
    // The awaits below let other work run: each message is held (in_flight) while it is worked on,
    // so that neither a delivery nor `queue remove` takes it meanwhile.
    for (const std::string& id : warn) {
        auto it = items_.find(id);
        if (it == items_.end() || it->second.in_flight > 0) continue;
        Item& item = it->second;
        ++item.in_flight;
        item.entry.state.warned = true;
        std::vector<std::size_t> notify;
        for (std::size_t i = 0; i < item.entry.state.recipients.size(); ++i)
            if (item.entry.state.recipients[i].status == Status::pending &&
                wants(item.entry.envelope.remote[i].notify, smtp::kNotifyDelay))
                notify.push_back(i);
        if (!notify.empty() && !item.entry.envelope.sender.empty()) co_await send_dsn(item, notify, true);
        co_await save_state(item);
        --item.in_flight;
    }
    for (const std::string& id : expired) co_await finish(id);
}

// save_state - the message's per-recipient progress, durable (in the intake's next batch).
awaitable<void> QueueManager::save_state(const Item& item) {
    QueueState snapshot = item.entry.state;
    std::string id = item.entry.envelope.id;
    try {
        co_await svc_.intake->save_queue_state(id, snapshot);
    } catch (const std::exception& e) {
        spdlog::error("{}: cannot save queue state: {}", id, e.what());
    }
}

awaitable<void> QueueManager::finish(std::string id) {
    auto it = items_.find(id);
    if (it == items_.end()) co_return;
    Item& item = it->second;
    ++item.in_flight;   // held while its notices are written: `queue remove` must wait
    const Envelope& env = item.entry.envelope;
    std::vector<std::size_t> failed;
    for (std::size_t i = 0; i < item.entry.state.recipients.size(); ++i) {
        const RecipientState& r = item.entry.state.recipients[i];
        if (r.status != Status::failed) continue;
        if (env.postmaster_notice)   // the last resort failed: nobody is left to tell
            spdlog::error("{}: postmaster notice to <{}> failed ({}); dropped", id, env.remote[i].address, r.last_reply);
        // A bounce that failed goes to the postmaster whatever its NOTIFY said (a double bounce).
        else if (env.sender.empty() || wants(env.remote[i].notify, smtp::kNotifyFailure))
            failed.push_back(i);
    }
    if (!failed.empty()) co_await send_dsn(item, failed, false);
    try {
        co_await svc_.intake->remove_queued(id);
        spdlog::info("{}: removed", id);
    } catch (const std::exception& e) {
        spdlog::error("{}: cannot remove from the queue: {}", id, e.what());
    }
    items_.erase(id);
    if (items_.empty() && on_empty_) on_empty_();
}

awaitable<void> QueueManager::send_dsn(const Item& item, const std::vector<std::size_t>& rcpts, bool delayed) {
    const ConfigPtr config = svc_.config;
    const Config& c = *config;
    const Envelope& env = item.entry.envelope;
    // Never bounce a bounce (RFC 3461 6.2 / RFC 5321 6.1): the postmaster gets it instead, once.
    bool to_postmaster = env.sender.empty();
    if (to_postmaster && delayed) co_return;
    std::string to = to_postmaster ? c.postmaster : env.sender;

    smtp::DsnInput in;
    in.reporting_mta = c.hostname;
    in.postmaster = c.postmaster;
    in.to = to;
    in.queue_id = env.id;
    in.envid = env.envid;
    in.arrival = env.received_at;
    in.now = std::time(nullptr);
    std::string original;
    bool whole = false;
    try {
        std::filesystem::path file = item.entry.message;
        std::uint64_t skip = env.return_path_length;
        auto [text, complete] = co_await offload([&] { return returned_message(file, skip); });
        original = std::move(text);
        whole = complete;
    } catch (const std::exception& e) {
        spdlog::error("{}: the notice goes without the message: {}", env.id, e.what());
    }
    in.headers_only = env.ret == "HDRS" || !whole;
    in.original = original;
    in.boundary = fmt::format("{}/{}", env.id, c.hostname);
    for (std::size_t i : rcpts) {
        const RecipientState& r = item.entry.state.recipients[i];
        const QueuedRecipient& q = env.remote[i];
        smtp::DsnRecipient d;
        d.address = q.address;
        d.orcpt = q.orcpt;
        d.action = delayed ? "delayed" : "failed";
        // The enhanced code the reply carried, else a generic one (RFC 3463 X.4.1 no answer, X.0.0).
        d.status = !r.last_status.empty() ? r.last_status : delayed ? "4.4.1" : "5.0.0";
        // An expired temporary failure keeps its 4.x.x: Action failed with a 4 status is RFC 3464 2.3.4.
        if (!r.remote.empty()) d.remote_mta = "dns;" + r.remote.substr(0, r.remote.find('['));
        d.diagnostic = r.last_reply.empty() ? "" : "smtp;" + r.last_reply;
        d.last_attempt = r.last_attempt;
        if (!q.original.empty() && !to_postmaster) {
            // Reached through an alias or a forward: the sender hears of the address it wrote to.
            // Where the mail went next, and what that server said, is the recipient's own business
            // (the log and the postmaster keep it).
            d.address = q.original;
            d.remote_mta.clear();
            d.diagnostic.clear();
        }
        if (delayed) d.will_retry_until = env.received_at + c.relay.give_up_after.count();
        in.recipients.push_back(std::move(d));
    }
    smtp::Notice n{to, env.id, delayed ? "delay report" : "failure report", smtp::build_dsn(in), to_postmaster};
    try {
        std::string id = co_await smtp::submit_notice(*svc_.intake, c, std::move(n));
        spdlog::info("{}: {} notification: {}", env.id,
                     to_postmaster ? "postmaster" : delayed ? "sender delay" : "sender non-delivery", id);
    } catch (const std::exception& e) {
        spdlog::error("{}: cannot queue DSN: {}", env.id, e.what());
    }
}

}  // namespace mk
