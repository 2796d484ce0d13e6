// fetch/fetcher.cpp — one exactly-once cycle per account: list, fetch what is new into the spool,
// record it, commit it through the intake, record it delivered, then delete on the provider.
// The provider's bytes are untrusted: they reach disk only through the intake's spool, bounded.
#include "fetch/fetcher.hpp"

#include <algorithm>
#include <random>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/address.hpp"
#include "core/date.hpp"
#include "core/ids.hpp"
#include "core/sha256.hpp"
#include "fetch/commit_window.hpp"
#include "fetch/source.hpp"
#include "net/offload.hpp"
#include "route/multidrop.hpp"
#include "route/router.hpp"
#include "smtp/notice.hpp"
#include "store/crlf.hpp"
#include "store/intake.hpp"

namespace mk {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The header block kept aside while a message streams to the spool, for multidrop and the
// envelope sender; a header section longer than this is treated as ending there.
constexpr std::size_t kMaxHeaderBlock = 256 * 1024;
// Accounts do not all start together: each first run waits up to this long.
constexpr auto kStartSpread = 5s;
// RFC 2177 3: IDLE is re-issued before the server's 30-minute autologout.
constexpr auto kIdleRearm = std::chrono::seconds(29 * 60);
// Messages taken as one window: their rows begun in one state-database transaction, their commits
// grouped by the intake, their "delivered" recorded in one transaction.
constexpr std::size_t kWindow = 32;
// IDLE connections one account may hold. Providers cap concurrent IMAP sessions per account (Gmail
// at 15); this leaves room for the cycle's own connection and the user's mail clients.
constexpr std::size_t kMaxIdleConnections = 8;
// A watch that failed (network, provider restart) is tried again after this long.
constexpr auto kWatchRetry = 30s;

std::int64_t now_seconds() { return std::time(nullptr); }

// HeaderCapture - keeps the bytes up to the first empty line of a streamed message.
struct HeaderCapture {
    std::string block;
    bool complete = false;
    void feed(std::string_view piece) {
        if (complete) return;
        block.append(piece.substr(0, kMaxHeaderBlock - std::min(block.size(), kMaxHeaderBlock)));
        auto end = block.find("\r\n\r\n");
        if (end == std::string::npos) end = block.find("\n\n");
        if (end != std::string::npos) {
            block.resize(end + 2);
            complete = true;
        } else if (block.size() >= kMaxHeaderBlock) {
            complete = true;
        }
    }
};

// header_value - the unfolded value of the first header field named name (lowercase), trimmed.
std::string header_value(std::string_view headers, std::string_view name) {
    std::size_t pos = 0;
    while (pos < headers.size()) {
        std::size_t eol = headers.find('\n', pos);
        std::string_view line = headers.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
        if (line.size() > name.size() && line[name.size()] == ':' && lowercase_ascii(line.substr(0, name.size())) == name) {
            std::string value(line.substr(name.size() + 1));
            // Folded continuation lines belong to the value (RFC 5322 2.2.3).
            while (eol != std::string_view::npos && eol + 1 < headers.size() && (headers[eol + 1] == ' ' || headers[eol + 1] == '\t')) {
                std::size_t next = headers.find('\n', eol + 1);
                value += headers.substr(eol + 1, next == std::string_view::npos ? std::string_view::npos : next - eol - 1);
                eol = next;
            }
            std::erase_if(value, [](char c) { return c == '\r' || c == '\n'; });
            auto b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t");
            return b == std::string::npos ? std::string() : value.substr(b, e - b + 1);
        }
        if (eol == std::string_view::npos) break;
        pos = eol + 1;
    }
    return {};
}

// return_path - the address in the message's first Return-Path: header, if any (the provider's
// record of the envelope sender); empty for the null sender or none.
std::string return_path(std::string_view headers) {
    std::string v = header_value(headers, "return-path");
    auto lt = v.find('<'), gt = v.rfind('>');
    if (lt == std::string::npos || gt == std::string::npos || gt <= lt + 1) return {};
    auto a = parse_mailbox(std::string_view(v).substr(lt + 1, gt - lt - 1));
    return a ? a->str() : std::string();
}

// user_address - the address a local user is reached at, for routing its deliveries.
std::optional<Address> user_address(const Config& c, const std::string& user) {
    const UserConfig* u = c.find_user(user);
    if (!u) return std::nullopt;
    return parse_mailbox(u->addresses.empty() ? u->name + "@" + c.local_domains.front() : u->addresses.front());
}

// own_delivered_to - the Delivered-To: this account stamps on what it delivers: an address only
// mailkeep writes (the provider's own Delivered-To names the mailbox, so that would not do).
// Seeing it on a fetched message means the message went round in a loop.
std::string own_delivered_to(const Config& c, const AccountConfig& a) { return fmt::format("mailkeep-{}@{}", a.name, c.hostname); }

// add_target - into the envelope, each mailbox and remote address once.
void add_target(Envelope& env, const Target& t) {
    if (t.kind == Target::Kind::mailbox) {
        if (std::find(env.mailboxes.begin(), env.mailboxes.end(), t.name) == env.mailboxes.end()) env.mailboxes.push_back(t.name);
        return;
    }
    for (const QueuedRecipient& q : env.remote)
        if (q.address == t.name) return;
    env.remote.push_back({t.name, 0, "", t.original});
}

}  // namespace

std::size_t fetch_descriptors(const AccountConfig& account) {
    std::size_t idle = account.is_imap() && account.idle ? std::min(account.folders.size(), kMaxIdleConnections) : 0;
    return 1 + idle + 2 * kWindow;
}

Fetcher::Fetcher(asio::io_context& ioc, Services& services, StateDb& db) : ioc_(ioc), svc_(services), db_(db) {}

void Fetcher::start() {
    // A crash between "delivering" and "delivered" is settled before anything is fetched again.
    Intake* intake = svc_.intake;
    std::size_t settled = db_.recover([intake](const std::string& id) { return intake->committed(id); });
    if (settled) spdlog::warn("fetch: settled {} delivery(ies) interrupted by a crash", settled);
    for (const AccountConfig& a : svc_.config->accounts) {
        asio::co_spawn(ioc_, schedule(a.name), asio::detached);
        // Push: one IDLE connection per folder, all in this one process, but never more than
        // kMaxIdleConnections for one account: the rest of its folders are polled on the interval.
        if (a.is_imap() && a.idle) {
            std::size_t n = std::min(a.folders.size(), kMaxIdleConnections);
            for (std::size_t i = 0; i < n; ++i) asio::co_spawn(ioc_, watch_folder(a.name, a.folders[i]), asio::detached);
            if (n < a.folders.size())
                spdlog::info("fetch {}: IDLE on the first {} folders; the other {} are polled", a.name, n, a.folders.size() - n);
        }
    }
}

awaitable<void> Fetcher::watch_folder(std::string account, std::string folder) {
    auto& slot = timers_[account + "/idle/" + folder];   // cancelled by stop() like the schedules
    slot = std::make_unique<asio::steady_timer>(ioc_);
    asio::steady_timer& pause = *slot;
    while (!stopping_) {
        const ConfigPtr config = svc_.config;
        const AccountConfig* a = config->find_account(account);
        if (!a) co_return;
        std::string error;
        try {
            AccountConfig one = *a;
            one.folders = {folder};
            auto sources = co_await open_sources(*config, one);
            if (!sources.front()->can_watch()) {
                spdlog::info("fetch {}: {} offers no IDLE; polling every {}s", account, a->host, a->interval.count());
                co_return;
            }
            spdlog::info("fetch {}: watching {} with IDLE", account, folder);
            Source* watched = sources.front().get();
            watching_.insert(watched);
            struct Unwatch {
                std::set<Source*>& set;
                Source* s;
                ~Unwatch() { set.erase(s); }
            } unwatch{watching_, watched};
            while (!stopping_) {
                bool changed = co_await watched->watch(std::chrono::duration_cast<std::chrono::seconds>(kIdleRearm));
                if (changed && !stopping_) co_await cycle_guarded(account);
            }
            co_await watched->close();
        } catch (const std::exception& e) {
            error = e.what();
        }
        if (stopping_) co_return;
        spdlog::warn("fetch {}: IDLE on {} ended: {}; again in {}s", account, folder, error, kWatchRetry.count());
        pause.expires_after(kWatchRetry);
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

awaitable<void> Fetcher::before_login(std::string user) {
    const ConfigPtr config = svc_.config;
    if (!config->fetch.on_login) co_return;
    std::vector<std::string> stale;
    std::int64_t now = now_seconds();
    for (const AccountConfig& a : config->accounts) {
        bool mine = a.mode == AccountConfig::Mode::single ? a.deliver_to == user : true;
        if (!mine || running_[a.name]) continue;
        auto st = co_await offload([&] { return db_.account_status(a.name); });
        if (now - st.last_success >= config->fetch.stale_after.count()) stale.push_back(a.name);
    }
    if (stale.empty()) co_return;
    // Each stale account runs on its own; the login waits for them, but no longer than login_wait.
    auto remaining = std::make_shared<std::size_t>(stale.size());
    auto done = std::make_shared<asio::steady_timer>(ioc_, config->fetch.login_wait);
    for (const std::string& name : stale)
        asio::co_spawn(ioc_, [this, name, remaining, done]() -> awaitable<void> {
            co_await cycle_guarded(name);
            if (--*remaining == 0) done->cancel();
        }, asio::detached);
    if (*remaining == 0) co_return;
    boost::system::error_code ec;
    co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

void Fetcher::stop() {
    stopping_ = true;
    for (auto& [name, t] : timers_) t->cancel();
    for (Source* s : watching_) s->abort();
    for (auto& [name, ws] : waiters_)
        for (auto& w : ws) w->cancel();
}

void Fetcher::wake_all() {
    for (auto& [name, t] : timers_) t->cancel();
}

awaitable<std::vector<Fetcher::Status>> Fetcher::status() {
    std::vector<Status> out;
    for (const AccountConfig& a : svc_.config->accounts) out.push_back({a.name, {}, running_[a.name]});
    // SQLite off the network thread, as every other use of the database: a cycle on the pool may
    // hold it, and a status request must not stop every session until it lets go.
    co_await offload([&] {
        for (Status& s : out) s.run = db_.account_status(s.account);
    });
    co_return out;
}

awaitable<void> Fetcher::schedule(std::string account) {
    auto& slot = timers_[account];
    slot = std::make_unique<asio::steady_timer>(ioc_);
    thread_local std::mt19937 rng{std::random_device{}()};
    auto first = std::chrono::milliseconds(std::uniform_int_distribution<long>(0, kStartSpread / 1ms)(rng));
    slot->expires_after(first);
    while (!stopping_) {
        boost::system::error_code ec;
        co_await slot->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopping_) co_return;
        const AccountConfig* a = nullptr;
        for (const AccountConfig& x : svc_.config->accounts)
            if (x.name == account) a = &x;
        if (!a) co_return;   // removed by a reload
        std::chrono::seconds interval = a->interval;
        co_await cycle_guarded(account);
        // Polling accounts drift apart (±10 %), so that many of them never hit a provider together.
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(interval).count();
        slot->expires_after(std::chrono::milliseconds(ms + std::uniform_int_distribution<long>(-ms / 10, ms / 10)(rng)));
    }
}

awaitable<std::vector<CycleReport>> Fetcher::run_now(std::string account) {
    std::vector<CycleReport> out;
    std::vector<std::string> names;
    for (const AccountConfig& a : svc_.config->accounts)
        if (account.empty() || a.name == account) names.push_back(a.name);
    for (const std::string& name : names) {
        // What was fetched since the request, by whichever cycle: one already running (it is waited
        // for), then this request's own.
        Totals before = totals_[name];
        CycleReport r = co_await cycle_guarded(name);
        r.delivered = totals_[name].delivered - before.delivered;
        r.removed = totals_[name].removed - before.removed;
        out.push_back(r);
    }
    co_return out;
}

awaitable<CycleReport> Fetcher::cycle_guarded(std::string account) {
    CycleReport r;
    r.account = account;
    // One cycle per account at a time: a second request waits for the running one, then runs its own
    // (what `mailkeep fetch` promises: a cycle that started after it asked).
    while (running_[account]) {
        auto done = std::make_shared<asio::steady_timer>(ioc_, std::chrono::steady_clock::time_point::max());
        waiters_[account].push_back(done);
        boost::system::error_code ec;
        co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopping_) {
            r.error = "shutting down";
            co_return r;
        }
    }
    const ConfigPtr config = svc_.config;
    const AccountConfig* a = nullptr;
    for (const AccountConfig& x : config->accounts)
        if (x.name == account) a = &x;
    if (!a) {
        r.error = "no such account";
        co_return r;
    }
    running_[account] = true;
    try {
        co_await cycle(*a, r);
    } catch (const std::exception& e) {
        r.error = e.what();   // what the cycle delivered before it failed stays counted in r
    }
    running_[account] = false;
    totals_[account].delivered += r.delivered;
    totals_[account].removed += r.removed;
    for (auto& w : waiters_[account]) w->cancel();
    waiters_.erase(account);
    if (!r.error.empty()) spdlog::warn("fetch {}: {}", account, r.error);
    spdlog::info("fetch {}: delivered={} removed={} left={}", account, r.delivered, r.removed, r.left);
    std::string err = r.error;
    std::size_t n = r.delivered;
    try {
        co_await offload([&] { db_.record_run(account, now_seconds(), n, err); });
    } catch (const std::exception& e) {
        spdlog::error("fetch {}: cannot record the run: {}", account, e.what());
    }
    co_return r;
}

awaitable<void> Fetcher::tell_too_large(const AccountConfig& a, const RemoteMessage& m) {
    const ConfigPtr config = svc_.config;
    std::string user = a.mode == AccountConfig::Mode::single ? a.deliver_to : a.unknown_to;
    auto addr = user_address(*config, user);
    if (!addr) co_return;
    smtp::NoticeInput in;
    in.reporting_mta = config->hostname;
    in.postmaster = config->postmaster;
    in.to = addr->str();
    in.id = new_queue_id();
    in.now = std::time(nullptr);
    in.subject = fmt::format("A message too large to fetch was left at {}", a.host);
    in.paragraphs = {
        fmt::format("This is the mail system at {}.", config->hostname),
        fmt::format("The account \"{}\" at {} holds a message of {} octets, more than this account's max_size of {} "
                    "octets. It was left on the server: read it there (webmail), or raise max_size for the account. "
                    "You are told about it once.",
                    a.name, a.host, m.size, a.max_size),
    };
    smtp::Notice n{in.to, fmt::format("fetch {}", a.name), "message left on the server", smtp::build_notice(in), false};
    co_await smtp::submit_notice(*svc_.intake, *config, std::move(n));
    std::string uid = m.uid;
    co_await offload([&] { db_.skipped(a.name, uid, now_seconds()); });
}

awaitable<Fetcher::Retrieved> Fetcher::retrieve(const AccountConfig& a, Source& source, const RemoteMessage& m,
                                                 const RemoteMessage* next, const std::string& id) {
    const ConfigPtr config = svc_.config;
    Retrieved r;
    // Into the spool: nothing is visible or acknowledged yet.
    r.spool = svc_.intake->create(id);
    r.spool->write(fmt::format("Delivered-To: {}\r\nReceived: from {} by {} (mailkeep) with {} id {};\r\n\t{}\r\n",
                               own_delivered_to(*config, a), a.host, config->hostname, source.protocol_name(), id,
                               rfc5322_date(std::time(nullptr))));
    HeaderCapture headers;
    Sha256 hash;
    CrlfNormalizer crlf;
    std::string normalized;
    co_await source.retrieve(
        m,
        [&](std::string_view piece) {
            headers.feed(piece);
            hash.update(piece);
            normalized.clear();
            crlf.feed(piece, normalized);
            r.spool->write(normalized);
        },
        next);

    Envelope& env = r.env;
    env.id = id;
    env.sender = return_path(headers.block);
    env.client = fmt::format("{} ({} account {})", a.host, source.protocol_name(), a.name);
    env.received_at = std::time(nullptr);
    if (a.mode == AccountConfig::Mode::single) {
        // Everything to one user, through the router: forwards and downstream apply.
        r.users.push_back(a.deliver_to);
        if (auto addr = user_address(*config, a.deliver_to))
            for (const Target& t : route_recipient(*config, *addr, true).targets) add_target(env, t);
    } else {
        MultidropResult md = multidrop_recipients(*config, headers.block, a.envelope_header, own_delivered_to(*config, a));
        r.loop = md.loop;
        // The recipients are resolved already (aliases, forwards): only where each goes is left.
        r.users = md.users;
        if (md.unknown || (md.users.empty() && md.remote.empty())) r.users.push_back(a.unknown_to);
        for (const std::string& name : r.users)
            if (const UserConfig* u = config->find_user(name)) add_target(env, mailbox_target(*config, *u));
        for (const Target& t : md.remote) add_target(env, t);
    }
    r.keys.push_back("sha256:" + hash.hex());
    if (std::string mid = header_value(headers.block, "message-id"); !mid.empty()) r.keys.push_back("mid:" + mid);
    co_return r;
}

awaitable<void> Fetcher::fetch_window(const AccountConfig& a, Source& source, std::span<const RemoteMessage> ms,
                                      const RemoteMessage* after, CycleReport& report, std::vector<RemoteMessage>& to_remove) {
    // The exactly-once protocol (store/state_db.hpp), a window at a time: the rows first, in one
    // transaction; then each message retrieved and handed to the intake while the next one is
    // retrieved; then, once every commit has ended, the window settled in one transaction.
    std::vector<StateDb::Begun> rows;
    for (const RemoteMessage& m : ms) rows.push_back({m.uid, new_queue_id()});
    co_await offload([&] { db_.begin(a.name, rows, now_seconds()); });
    CommitWindow window(ioc_.get_executor(), *svc_.intake);
    std::vector<StateDb::Settled> known;   // recorded as delivered without a commit: loops, duplicates
    std::exception_ptr failed;
    try {
        for (std::size_t k = 0; k < ms.size(); ++k) {
            const RemoteMessage& m = ms[k];
            Retrieved r = co_await retrieve(a, source, m, k + 1 < ms.size() ? &ms[k + 1] : after, rows[k].queue_id);
            if (r.loop) {
                spdlog::error("fetch {}: {} carries our own Delivered-To: a mail loop; not delivered", a.name, m.uid);
                known.push_back({m.uid, {}, {}});
                continue;
            }
            // The same message through another account or folder: each user gets it once.
            std::vector<std::string> fresh;
            for (const std::string& user : r.env.mailboxes) {
                bool dup = window.has(r.keys, user);
                if (!dup) dup = co_await offload([&] { return db_.delivered_to(r.keys, user); });
                if (dup) spdlog::info("fetch {}: {} already delivered to {} (same Message-ID or content)", a.name, m.uid, user);
                else fresh.push_back(user);
            }
            bool had_mailboxes = !r.env.mailboxes.empty();
            r.env.mailboxes = fresh;
            if (had_mailboxes && r.env.mailboxes.empty() && r.env.remote.empty()) {
                known.push_back({m.uid, {}, {}});
                if (a.keep_for && a.keep_for->count() == 0) to_remove.push_back(m);
                continue;
            }
            if (r.env.mailboxes.empty() && r.env.remote.empty()) {
                report.error = fmt::format("{}: no local user to deliver to", m.uid);   // its row is forgotten below
                ++report.left;
                continue;
            }
            std::string line = fmt::format("{}: fetched {} from {} ({}), size={}, to={}", r.env.id, m.uid, a.name,
                                           source.protocol_name(), m.size, fmt::join(r.users, ","));
            StateDb::Settled settled{m.uid, r.keys, r.env.mailboxes};
            window.start(std::move(r.spool), std::move(r.env), {std::move(settled), std::move(line)});
        }
    } catch (...) {
        failed = std::current_exception();
    }
    CommitWindow::Outcome done = co_await window.finish();
    bool delete_now = a.keep_for && a.keep_for->count() == 0;
    for (CommitWindow::Entry& e : done.committed) {
        spdlog::info("{}", e.log_line);
        if (delete_now)
            for (const RemoteMessage& m : ms)
                if (m.uid == e.settled.uid) to_remove.push_back(m);
        known.push_back(std::move(e.settled));
    }
    // Rows whose message was not committed (a failed commit, a retrieval cut short, nobody to
    // deliver to) are forgotten: those messages are fetched again by a later cycle.
    std::vector<std::string> undelivered;
    for (const StateDb::Begun& row : rows)
        if (std::none_of(known.begin(), known.end(), [&](const StateDb::Settled& s) { return s.uid == row.uid; }))
            undelivered.push_back(row.uid);
    co_await offload([&] {
        db_.settle(a.name, known, now_seconds());
        if (!undelivered.empty()) db_.forget(a.name, undelivered);
    });
    report.delivered += done.committed.size();
    if (!failed) failed = done.error;
    if (failed) std::rethrow_exception(failed);
}

awaitable<void> Fetcher::cycle(const AccountConfig& a, CycleReport& report) {
    const ConfigPtr config = svc_.config;
    // Deliveries a failed cycle left "delivering" are settled first, by what the intake holds.
    Intake* intake = svc_.intake;
    co_await offload([&] { db_.recover([intake](const std::string& id) { return intake->committed(id); }); });
    auto sources = co_await open_sources(*config, a);
    auto rows_list = co_await offload([&] { return db_.fetched(a.name); });
    std::map<std::string, FetchedRow> rows;
    for (FetchedRow& r : rows_list) rows.emplace(r.uid, std::move(r));

    std::set<std::string> listed;
    for (auto& source : sources) {
        std::vector<RemoteMessage> list = co_await source->list();
        std::vector<RemoteMessage> to_remove;
        // Decide first what this cycle fetches, so that each retrieval can name the next one
        // (POP3 pipelines it: its bytes travel while this one is made durable).
        std::vector<RemoteMessage> to_fetch;
        for (const RemoteMessage& m : list) {
            listed.insert(m.uid);
            auto row = rows.find(m.uid);
            if (row != rows.end()) {
                // Already here: only the provider's copy is left to settle (keep = delete / N days).
                bool expired = a.keep_for && now_seconds() - row->second.first_seen >= a.keep_for->count();
                if (row->second.state == FetchedRow::State::delivered && expired) to_remove.push_back(m);
                continue;
            }
            if (m.size > a.max_size) {
                // Left on the server; the user is told once (the "skipped" row remembers that).
                spdlog::warn("fetch {}: {} is {} octets, over max_size: left on the server", a.name, m.uid, m.size);
                co_await tell_too_large(a, m);
                ++report.left;
                continue;
            }
            if (to_fetch.size() >= a.max_per_cycle) {
                ++report.left;
                continue;
            }
            to_fetch.push_back(m);
        }
        for (std::size_t k = 0; k < to_fetch.size(); k += kWindow) {
            std::size_t n = std::min(kWindow, to_fetch.size() - k);
            const RemoteMessage* after = k + n < to_fetch.size() ? &to_fetch[k + n] : nullptr;
            co_await fetch_window(a, *source, std::span(to_fetch).subspan(k, n), after, report, to_remove);
        }
        // Deletions on the provider only now: every window's "delivered" is durable.
        co_await source->remove(to_remove);
        co_await source->close();
        // The deletions are committed on the provider now (QUIT / EXPUNGE answered).
        std::vector<std::string> removed;
        for (const RemoteMessage& m : to_remove) removed.push_back(m.uid);
        if (!removed.empty()) co_await offload([&] { db_.removed(a.name, removed); });
        report.removed += to_remove.size();
    }
    // Rows of messages no longer on the provider are history; every folder was listed, so this
    // cannot forget a message that is still there.
    std::vector<std::string> gone;
    for (const auto& [uid, row] : rows)
        if (!listed.contains(uid) && row.state != FetchedRow::State::delivering) gone.push_back(uid);
    if (!gone.empty()) co_await offload([&] { db_.forget(a.name, gone); });
}

}  // namespace mk
