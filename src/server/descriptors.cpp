// server/descriptors.cpp — the descriptor budget of a daemon: what it needs for itself first, then
// three for each connection slot.
#include "server/descriptors.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fetch/fetcher.hpp"
#include "relay/queue_manager.hpp"
#include "server/listeners.hpp"

namespace mk {

namespace {

// What every daemon holds or opens now and then, whatever its config: stdio (3), the state database
// with its WAL and shared memory (3), the event loop (epoll, eventfd, timerfd, signal pipe: 5), the
// lock file, the control socket and a CLI connection (3), what the blocking pool and the committer
// read, list or fsync at a time, and the resolver's sockets; 17 are open when idle.
constexpr std::size_t kDaemonFds = 32;
// A relay connection holds its socket, the message file, a DNS socket and one spare.
constexpr std::size_t kFdsPerDelivery = 4;
constexpr const char* kRaiseHint = "LimitNOFILE= in systemd, ulimit -Hn in a shell";

// own_descriptors - what the daemon needs besides its sessions under config.
std::size_t own_descriptors(const Config& c) {
    std::size_t n = kDaemonFds + kMaxConnections * kFdsPerDelivery;
    for (const ListenerRole& role : listener_roles()) n += endpoints(c, role).size();
    for (const AccountConfig& a : c.accounts) n += fetch_descriptors(a);
    return n;
}

// descriptor_limit - this process's RLIMIT_NOFILE.
struct rlimit descriptor_limit() {
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
        throw std::runtime_error(fmt::format("getrlimit(RLIMIT_NOFILE): {}", std::strerror(errno)));
    return rl;
}

}  // namespace

rlim_t raise_descriptor_limit() {
    struct rlimit rl = descriptor_limit();
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised {rl.rlim_max, rl.rlim_max};
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
        spdlog::warn("cannot raise the file descriptor limit from {} to {}: {}", rl.rlim_cur, rl.rlim_max,
                     std::strerror(errno));
    }
    return rl.rlim_cur;
}

std::size_t connections_within(const Config& config, rlim_t limit) {
    std::size_t own = own_descriptors(config);
    if (limit <= own) return 0;
    return std::min<rlim_t>(config.limits.max_connections, (limit - own) / kFdsPerSession);
}

void fit_connections(Config& config) {
    rlim_t limit = descriptor_limit().rlim_cur;
    std::size_t fits = connections_within(config, limit);
    if (fits == 0)
        throw std::runtime_error(fmt::format(
            "the file descriptor limit ({}) leaves no room for connections: the daemon needs {} for itself; raise it ({})",
            limit, own_descriptors(config), kRaiseHint));
    if (fits < config.limits.max_connections) {
        spdlog::warn("max_connections {} lowered to {}: the file descriptor limit is {} ({} per connection, {} for "
                     "the daemon itself); raise it ({}) to serve more",
                     config.limits.max_connections, fits, limit, kFdsPerSession, own_descriptors(config), kRaiseHint);
        config.limits.max_connections = fits;
    }
}

std::optional<std::string> descriptor_warning(const Config& config) {
    // serve raises its soft limit to the hard one: the hard limit is what it will have.
    rlim_t limit = descriptor_limit().rlim_max;
    std::size_t fits = connections_within(config, limit);
    if (fits >= config.limits.max_connections) return std::nullopt;
    if (fits == 0)
        return fmt::format("the hard file descriptor limit here ({}) leaves no room for connections (the daemon "
                           "needs {} for itself): serve would refuse to start; raise it ({})",
                           limit, own_descriptors(config), kRaiseHint);
    return fmt::format("max_connections = {} does not fit in the hard file descriptor limit here ({}; {} per "
                       "connection, {} for the daemon itself): serve will lower it to {}; raise the limit ({}) or "
                       "lower max_connections",
                       config.limits.max_connections, limit, kFdsPerSession, own_descriptors(config), fits,
                       kRaiseHint);
}

}  // namespace mk
