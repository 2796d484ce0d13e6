// server/daemon.cpp — listeners, connection caps, signals and privilege drop around the sessions.
#include "server/daemon.hpp"

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/connection.hpp"
#include "net/tls.hpp"
#include "fetch/fetcher.hpp"
#include "fetch/odmr_client.hpp"
#include "relay/queue_manager.hpp"
#include "route/multidrop.hpp"
#include "store/state_db.hpp"
#include "server/control.hpp"
#include "server/data_dir_lock.hpp"
#include "server/descriptors.hpp"
#include "server/listeners.hpp"
#include "server/memory_release.hpp"
#include "server/privileges.hpp"
#include "core/durable.hpp"
#include "store/intake.hpp"

namespace mk {

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// How long the accept loop pauses when the process or the system is out of descriptors or memory:
// doubling from the first to the maximum while it lasts, as nginx and Postfix pause too.
constexpr std::chrono::milliseconds kAcceptPauseFirst{100};
constexpr std::chrono::milliseconds kAcceptPauseMax{1000};
// A listener out of descriptors says so at most this often, with the count of failures since.
constexpr std::chrono::seconds kAcceptReportInterval{60};

// out_of_resources - accept failed for want of descriptors or memory, not because of the one peer.
bool out_of_resources(const boost::system::error_code& ec) {
    if (ec.category() != boost::system::system_category()) return false;
    switch (ec.value()) {
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM: return true;
        default: return false;
    }
}

// A bound listening socket and the role it is for (a row of server/listeners.cpp).
struct Listener {
    std::unique_ptr<tcp::acceptor> acceptor;
    const ListenerRole* role;
};

// bind_all - every configured listener, bound (as root: ports below 1024) but not yet listening: a
// client is refused until the daemon is ready (Daemon::listen_all), not queued behind its start.
std::vector<Listener> bind_all(const Config& c, asio::io_context& ioc) {
    std::vector<Listener> listeners;
    for (const ListenerRole& role : listener_roles()) {
        for (const Endpoint& ep : endpoints(c, role)) {
            tcp::endpoint where(asio::ip::make_address(ep.host), ep.port);
            auto a = std::make_unique<tcp::acceptor>(ioc);
            a->open(where.protocol());
            a->set_option(tcp::acceptor::reuse_address(true));
            if (where.address().is_v6()) a->set_option(asio::ip::v6_only(true));
            boost::system::error_code ec;
            a->bind(where, ec);
            if (ec) throw std::runtime_error(fmt::format("cannot listen on {}:{} ({}): {}", ep.host, ep.port, role.key, ec.message()));
            listeners.push_back({std::move(a), &role});
        }
    }
    return listeners;
}

// inside - whether path lies in dir (lexically: the config's paths, before any link is followed).
bool inside(const std::filesystem::path& dir, const std::filesystem::path& path) {
    std::filesystem::path rel = path.lexically_normal().lexically_relative(dir.lexically_normal());
    return !rel.empty() && *rel.begin() != "..";
}

// server_tls_wanted - whether a configured listener offers TLS.
bool server_tls_wanted(const Config& c) {
    for (const ListenerRole& role : listener_roles())
        if (!endpoints(c, role).empty() && role.tls != ListenTls::none) return true;
    return false;
}

// server_tls - the server's TLS context from [tls]; null, with a warning, when it cannot be had and
// no listener requires it. At start it is read before the privilege drop: as root when the files are
// where the config put them, but with the run_as user's ids when they lie in the data directory,
// where the user decides what they are: a link to another service's key must not have root read it
// into a process the user then owns. On SIGHUP it is read as the daemon is then (user nullopt).

std::shared_ptr<asio::ssl::context> server_tls(const Config& c, const std::optional<RunAs>& user) {
    if (!server_tls_wanted(c)) return nullptr;
    bool need_tls = false;
    for (const ListenerRole& role : listener_roles())
        if (!endpoints(c, role).empty()) need_tls = need_tls || needs_certificate(role.tls);
    std::filesystem::path cert = c.resolve(c.tls_cert), key = c.resolve(c.tls_key);
    bool users = inside(c.data_dir, cert) || inside(c.data_dir, key);
    try {
        return as_user(users ? user : std::nullopt, [&] { return make_server_context(cert, key); });
    } catch (const std::exception& e) {
        if (need_tls) throw;
        spdlog::warn("no TLS: {}", e.what());
        return nullptr;
    }
}

// warn_unreloadable - after the drop SIGHUP rereads the config and the TLS files as the run_as user:
// say at start which of them it will not be able to read (the fix: root:GROUP 0640).
void warn_unreloadable(const Config& c, const RunAs& user) {
    std::vector<std::filesystem::path> files;
    if (!c.source.empty()) files.push_back(c.source);
    if (server_tls_wanted(c)) files.insert(files.end(), {c.resolve(c.tls_cert), c.resolve(c.tls_key)});
    for (const std::filesystem::path& f : files)
        if (!readable_by(f, user))
            spdlog::warn("{} cannot be read by the run_as user {}: SIGHUP will not reload it (chgrp {} {}; chmod 0640 {}; "
                         "and its directories searchable by {})",
                         f.string(), user.name, user.group, f.string(), f.string(), user.name);
}

class Daemon {
public:
    // Daemon - the sessions' world, built after the privilege drop: whatever it creates in the data
    // directory belongs to the user the daemon runs as.
    Daemon(std::shared_ptr<Config> config, asio::io_context& ioc, std::vector<Listener> listeners,
           std::shared_ptr<asio::ssl::context> tls)
        : ioc_(ioc), intake_(config->data_dir), state_(config->data_dir / "state.db"), queue_(ioc, services_),
          fetcher_(ioc, services_, state_), odmr_(ioc, services_), control_(ioc), listeners_(std::move(listeners)),
          signals_(ioc, SIGTERM, SIGINT), hup_(ioc, SIGHUP) {
        services_.config = config;
        services_.tls = std::move(tls);
        services_.intake = &intake_;
        // The intake tells the relay of every queued message, from its own thread.
        intake_.on_queued([this](const Envelope& e) { asio::post(ioc_, [this, e] { queue_.enqueue(e); }); });
        // The line is up again: collect from the providers at once, not at the next interval.
        queue_.on_reachable([this] {
            fetcher_.wake_all();
            odmr_.wake();
        });
        queue_.on_empty([this] { memory_.now(); });
        services_.before_login = [this](std::string user) { return fetcher_.before_login(std::move(user)); };
        // ATRN on the odmr listener hands over the mail held for the user's domains (RFC 2645).
        services_.odmr.held_count = [this](std::vector<std::string> domains) -> asio::awaitable<std::size_t> {
            co_return queue_.held_count(domains);
        };
        services_.odmr.turn = [this](Connection& conn, std::string, std::vector<std::string> domains) {
            return queue_.deliver_held(conn, std::move(domains));
        };
    }

    int run();

private:
    void listen_all();
    awaitable<void> accept_loop(tcp::acceptor& acceptor, const ListenerRole& role);
    awaitable<void> serve_connection(tcp::socket socket, const ListenerRole& role);
    void drain();
    void reload();
    void wait_hup();

    asio::io_context& ioc_;
    Intake intake_;
    Services services_;
    StateDb state_;
    QueueManager queue_;
    Fetcher fetcher_;
    OdmrClient odmr_;
    asio::local::stream_protocol::acceptor control_;
    std::vector<Listener> listeners_;
    std::map<asio::ip::address, std::size_t> per_ip_;
    std::size_t total_ = 0;
    asio::signal_set signals_, hup_;
    MemoryRelease memory_{ioc_};
    std::unique_ptr<asio::steady_timer> drain_timer_;
};

// listen_all - open the doors, last: whoever finds a port accepting finds every part of the daemon
// running (the control socket included).
void Daemon::listen_all() {
    for (Listener& l : listeners_) {
        tcp::endpoint where = l.acceptor->local_endpoint();
        std::string shown = where.address().is_v6() ? fmt::format("[{}]:{}", where.address().to_string(), where.port())
                                                    : fmt::format("{}:{}", where.address().to_string(), where.port());
        boost::system::error_code ec;
        // Two sockets bound with SO_REUSEADDR may share a port until one listens: the other fails here.
        l.acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) throw std::runtime_error(fmt::format("cannot listen on {} ({}): {}", shown, l.role->key, ec.message()));
        std::cout << fmt::format("mailkeep: {} listening on {}\n", l.role->key, shown);
        asio::co_spawn(ioc_, accept_loop(*l.acceptor, *l.role), asio::detached);
    }
    std::cout << std::flush;
}

// accept_loop - start a session for each connection; out of descriptors or memory, pause instead of
// trying again at once (the connection waits in the listen queue, and a retry would only spin).
awaitable<void> Daemon::accept_loop(tcp::acceptor& acceptor, const ListenerRole& role) {
    asio::steady_timer pause(ioc_);
    auto wait = kAcceptPauseFirst;
    std::size_t failures = 0;   // since the last report
    auto next_report = std::chrono::steady_clock::now();
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || services_.draining) co_return;
        if (out_of_resources(ec)) {
            // Reported at most once per interval, not per try: per try, it filled the disk.
            ++failures;
            if (std::chrono::steady_clock::now() >= next_report) {
                spdlog::error("{}: accept: {} ({} time(s)); pausing accepts, {} ms doubling up to {} ms, while it lasts",
                              role.key, ec.message(), failures, kAcceptPauseFirst.count(),
                              kAcceptPauseMax.count());
                failures = 0;
                next_report = std::chrono::steady_clock::now() + kAcceptReportInterval;
            }
            pause.expires_after(wait);
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            wait = std::min(wait * 2, kAcceptPauseMax);
            continue;
        }
        wait = kAcceptPauseFirst;   // a connection was accepted: a new shortage starts short again
        if (ec) {
            spdlog::warn("{}: accept: {}", role.key, ec.message());
            continue;
        }
        asio::co_spawn(ioc_, serve_connection(std::move(socket), role), asio::detached);
    }
}

// serve_connection - one accepted connection: refused with the role's reply when a cap is full,
// otherwise counted, TLS started for an implicit role, and handed to the role's session.
awaitable<void> Daemon::serve_connection(tcp::socket socket, const ListenerRole& role) {
    Connection conn(std::move(socket));
    const auto addr = conn.remote_address();
    const LimitsConfig& limits = services_.config->limits;
    if (total_ >= limits.max_connections || per_ip_[addr] >= limits.max_connections_per_ip) {
        spdlog::warn("{}: too many connections, refusing {}", role.key, addr.to_string());
        // XXX an implicit-TLS peer is closed without a word: a handshake only to refuse would cost
        // the daemon more than the connection it turns away.
        if (role.tls != ListenTls::implicit) {
            try {
                co_await conn.write(role.refusal, 5s);
            } catch (const std::exception&) {
            }
        }
        if (per_ip_[addr] == 0) per_ip_.erase(addr);
        co_return;
    }
    ++total_;
    ++per_ip_[addr];
    services_.connections.insert(&conn);
    spdlog::info("{}: connect from [{}]:{}", role.key, addr.to_string(), conn.remote_port());
    try {
        if (role.tls == ListenTls::implicit) co_await conn.start_tls(*services_.tls, 30s);
        co_await role.session(conn, services_);
    } catch (const std::exception& e) {
        spdlog::info("{}: [{}]: {}", role.key, addr.to_string(), e.what());
    }
    services_.connections.erase(&conn);
    --total_;
    if (--per_ip_[addr] == 0) per_ip_.erase(addr);
    spdlog::info("{}: disconnect from [{}]:{}", role.key, addr.to_string(), conn.remote_port());
    if (services_.draining && services_.connections.empty() && drain_timer_) drain_timer_->cancel();
    if (services_.connections.empty()) memory_.now();
}

// drain - SIGTERM: accept nothing more, close sessions that wait for a command, give the others
// kDrainTimeout to finish (a DATA in progress is completed and acknowledged), then close them.
void Daemon::drain() {
    spdlog::info("shutting down: draining {} session(s)", services_.connections.size());
    services_.draining = true;
    for (Listener& l : listeners_) {
        boost::system::error_code ec;
        l.acceptor->close(ec);
    }
    hup_.cancel();
    memory_.stop();
    queue_.stop();
    fetcher_.stop();
    odmr_.stop();
    control_.close();
    for (Connection* c : std::vector<Connection*>(services_.connections.begin(), services_.connections.end()))
        if (c->idle()) c->close();
    if (services_.connections.empty()) return;
    drain_timer_ = std::make_unique<asio::steady_timer>(ioc_, kDrainTimeout);
    drain_timer_->async_wait([this](boost::system::error_code) {
        for (Connection* c : std::vector<Connection*>(services_.connections.begin(), services_.connections.end()))
            c->close();
    });
}

// has_multidrop - whether some account needs GMime (loaded at run time by mime/gmime.cpp).
bool has_multidrop(const Config& c) {
    return std::any_of(c.accounts.begin(), c.accounts.end(),
                       [](const AccountConfig& a) { return a.mode == AccountConfig::Mode::multidrop; });
}

// reload - SIGHUP: the config file again, in force for every session that starts from now on.
void Daemon::reload() {
    // A reference of its own: services_.config is replaced below, and the old config with it.
    const ConfigPtr running = services_.config;
    const Config& old = *running;
    if (old.source.empty()) return;
    ConfigResult r = load_config(old.source);
    if (!r.errors.empty()) {
        for (const ConfigError& e : r.errors) spdlog::error("reload refused, keeping the running config: {}", e.to_string());
        return;
    }
    if (has_multidrop(*r.config)) {
        try {
            load_multidrop_parser();
        } catch (const std::exception& e) {
            spdlog::error("reload refused, keeping the running config: {}", e.what());
            return;
        }
    }
    if (r.config->data_dir != old.data_dir)
        spdlog::warn("reload: data_dir changes need a restart; still using {}", old.data_dir.string());
    r.config->data_dir = old.data_dir;
    try {
        fit_connections(*r.config);
    } catch (const std::exception& e) {
        spdlog::error("reload refused, keeping the running config: {}", e.what());
        return;
    }
    services_.config = r.config;
    spdlog::info("reloaded {}: {} user(s), {} alias(es); listener changes need a restart", old.source.string(),
                 r.config->users.size(), r.config->aliases.size());
    // [tls] again, so that a renewed certificate is served without a restart; read as the daemon is
    // now (the run_as user). A session's TLS keeps the context it started with (OpenSSL counts its
    // references), so the old one may go. One that cannot be loaded leaves the running one in force.
    try {
        if (std::shared_ptr<asio::ssl::context> tls = server_tls(*r.config, std::nullopt)) {
            services_.tls = std::move(tls);
            spdlog::info("reloaded the TLS certificate {}", r.config->resolve(r.config->tls_cert).string());
        }
    } catch (const std::exception& e) {
        spdlog::error("reload: TLS certificate not reloaded, keeping the running one: {}", e.what());
    }
}

void Daemon::wait_hup() {
    hup_.async_wait([this](boost::system::error_code ec, int) {
        if (ec) return;
        reload();
        wait_hup();
    });
}

int Daemon::run() {
    const Config& c = *services_.config;
    // Fails here, not at the first fetch, if the library is missing.
    if (has_multidrop(c)) load_multidrop_parser();
    intake_.recover();
    // The control socket: the CLI's way in; 0600 by umask so only the daemon's user reaches it.
    std::filesystem::path ctl = control_path(c.data_dir);
    std::filesystem::remove(ctl);
    mode_t old_mask = ::umask(0177);
    control_.open();
    control_.bind(asio::local::stream_protocol::endpoint(ctl.string()));
    ::umask(old_mask);
    control_.listen();
    asio::co_spawn(ioc_, serve_control(control_, queue_, fetcher_, odmr_), asio::detached);
    queue_.start();
    fetcher_.start();
    signals_.async_wait([this](boost::system::error_code ec, int) {
        if (!ec) drain();
    });
    wait_hup();
    memory_.start();
    listen_all();
    // After the listeners: the reversed session is an SMTP server session like theirs.
    odmr_.start();
    spdlog::info("mailkeep started: hostname {}, data {}", c.hostname, c.data_dir.string());
    ioc_.run();
    std::filesystem::remove(ctl);
    spdlog::info("mailkeep stopped: {} message(s) accepted in {} commit batch(es)", intake_.stats().messages,
                 intake_.stats().batches);
    return 0;
}

}  // namespace

int serve(std::shared_ptr<Config> config) {
    MemoryRelease::one_arena();
    // As root: only what needs root, and nothing written in the data directory (server/privileges.hpp).
    std::optional<RunAs> user = run_as_user(config->run_as);
    if (user) check_data_dir(config->data_dir, *user);
    else make_dir_durable(config->data_dir);
    // Before anything reads or changes the data directory (recovery empties spool/), and before the
    // ports, so that a second daemon is told who holds them.
    DataDirLock lock = as_user(user, [&] { return DataDirLock::take(config->data_dir); });
    raise_descriptor_limit();
    fit_connections(*config);
    std::shared_ptr<asio::ssl::context> tls = server_tls(*config, user);
    if (user) warn_unreloadable(*config, *user);
    asio::io_context ioc(1);
    std::vector<Listener> listeners = bind_all(*config, ioc);
    if (user) drop_privileges(*user);
    Daemon d(std::move(config), ioc, std::move(listeners), std::move(tls));
    return d.run();
}

}  // namespace mk
