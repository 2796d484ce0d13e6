// net/dns.cpp — MX and address resolution with c-ares, run on a worker thread of its own; every
// answer comes from the network and is untrusted: names are checked and capped before use.
#include "net/dns.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>

#include <ares.h>
#include <poll.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/text.hpp"

namespace mk {

namespace asio = boost::asio;

namespace {

using Clock = std::chrono::steady_clock;

// c-ares retries a query that got no answer: the first try waits kDnsTryTimeoutMs, each further
// round doubles it (c-ares' backoff), so one query gives up after 2 s + 4 s = 6 s, inside kDnsTimeout.
constexpr int kDnsTryTimeoutMs = 2000;   // ms, first try of one query
constexpr int kDnsTries = 2;             // tries per query and server
constexpr std::size_t kMaxNameLength = 253;   // octets in text form, RFC 1035 2.3.4 (255 on the wire)
constexpr std::size_t kMaxLabelLength = 63;   // octets, RFC 1035 2.3.4
// Lookups are rare (one per destination domain per queue run) and each one is bounded by
// kDnsTimeout, so two threads keep one slow domain from holding up every other one.
constexpr std::size_t kDnsThreads = 2;

// DNS wire constants: RFC 1035 3.2.2 (A, MX) and 3.2.4 (IN), RFC 3596 2.1 (AAAA).
constexpr int kClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeMx = 15;
constexpr int kTypeAaaa = 28;

// dns_pool - the module's worker threads; created on first use, joined at exit.
asio::thread_pool& dns_pool() {
    static asio::thread_pool pool(kDnsThreads);
    return pool;
}

// init_library - ares_library_init once per process (it is not thread-safe itself).
void init_library() {
    static std::once_flag once;
    std::call_once(once, [] {
        int rc = ::ares_library_init(ARES_LIB_INIT_ALL);
        if (rc != ARES_SUCCESS) throw DnsError(std::string("c-ares: ") + ::ares_strerror(rc), true);
    });
}

// is_temporary - whether a c-ares status means "ask again later" rather than "the answer is no".
// Only NXDOMAIN, NODATA and a name we could not even put in a query are final; everything else
// (SERVFAIL, REFUSED, timeout, connection refused, our own deadline, no memory) is retried,
// because bouncing on a transient fault loses mail and retrying a final answer only costs time.
bool is_temporary(int status) {
    return status != ARES_SUCCESS && status != ARES_ENOTFOUND && status != ARES_ENODATA && status != ARES_EBADNAME;
}

// describe - a log-worthy text for a c-ares status.
std::string describe(int status) {
    switch (status) {
    case ARES_ENOTFOUND: return "no such domain (NXDOMAIN)";
    case ARES_ENODATA: return "no records of that type";
    case ARES_ESERVFAIL: return "server failure (SERVFAIL)";
    case ARES_EREFUSED: return "query refused (REFUSED)";
    case ARES_ETIMEOUT: return "no answer (timeout)";
    case ARES_ECANCELLED: return "lookup took too long";
    // c-ares 1.18 also ends here when every server answered REFUSED or SERVFAIL: it skips such
    // servers (failover) and reports "could not contact" once none is left.
    case ARES_ECONNREFUSED: return "no usable answer from the DNS server (unreachable, REFUSED or SERVFAIL)";
    default: return ::ares_strerror(status);
    }
}

// normalize_name - a host or domain name as we use it: lowercase, without the trailing dot, made of
// LDH labels (and "_", which real MX names carry). Empty on anything else: escaped bytes from
// ares_expand_name, a U-label (needs IDNA first), an empty or over-long label.
std::string normalize_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > kMaxNameLength) return {};
    std::string out;
    out.reserve(name.size());
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return {};
            label = 0;
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
            if (++label > kMaxLabelLength) return {};
        } else {
            return {};
        }
        out.push_back(ascii_lower(c));
    }
    if (label == 0) return {};
    return out;
}

// literal_address - the address in "1.2.3.4", "::1", "[1.2.3.4]" or "[IPv6:::1]" (RFC 5321 4.1.3),
// or nothing when text is a name.
std::optional<asio::ip::address> literal_address(std::string_view text) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
        if (text.size() > 5 && (text.substr(0, 5) == "IPv6:" || text.substr(0, 5) == "ipv6:")) text.remove_prefix(5);
    }
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    return addr;
}

// usable - whether an address from an answer can be a mail server at all: the unspecified and
// multicast addresses cannot (loopback and private ranges can: tests and LANs use them).
bool usable(const asio::ip::address& a) {
    return !a.is_unspecified() && !a.is_multicast();
}

// One query and its answer, filled in by the c-ares callback.
struct Query {
    int status = ARES_ECANCELLED;        // until the callback says otherwise
    std::vector<unsigned char> answer;   // the raw reply, parsed later off the callback
    int* pending = nullptr;
};

// Runs queries on one c-ares channel of its own, on the calling (worker) thread, until all are
// answered or the deadline passes.
class Resolver {
public:
    // Resolver - a channel with our tries and timeouts, using server ("addr:port") instead of
    // /etc/resolv.conf when it is not empty.
    Resolver(const std::string& server, Clock::time_point deadline) : deadline_(deadline) {
        init_library();
        ares_options opts{};
        opts.timeout = kDnsTryTimeoutMs;
        opts.tries = kDnsTries;
        int rc = ::ares_init_options(&channel_, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
        if (rc != ARES_SUCCESS) throw DnsError(std::string("DNS resolver: ") + ::ares_strerror(rc), true);
        if (!server.empty()) {
            rc = ::ares_set_servers_ports_csv(channel_, server.c_str());
            if (rc != ARES_SUCCESS) {
                ::ares_destroy(channel_);
                // A configuration mistake, not the recipient's: retry (the admin can fix it)
                // rather than bounce.
                throw DnsError("DNS server \"" + server + "\": " + ::ares_strerror(rc), true);
            }
        }
    }
    ~Resolver() { ::ares_destroy(channel_); }   // pending queries (none after run) get EDESTRUCTION
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // start - send a query for name (no search list: mail names are fully qualified, RFC 5321 2.3.5).
    Query& start(const std::string& name, int type) {
        Query& q = queries_.emplace_back();
        q.pending = &pending_;
        ++pending_;   // before ares_query: it may call back at once
        ::ares_query(channel_, name.c_str(), kClassIn, type, &Resolver::on_answer, &q);
        return q;
    }

    // run - drive the channel until no query is pending; at the deadline, cancel the rest (their
    // status becomes ARES_ECANCELLED, a temporary failure).
    void run() {
        while (pending_ > 0) {
            auto now = Clock::now();
            if (now >= deadline_) {
                ::ares_cancel(channel_);
                return;
            }
            std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> socks{};
            int bits = ::ares_getsock(channel_, socks.data(), ARES_GETSOCK_MAXNUM);
            std::array<pollfd, ARES_GETSOCK_MAXNUM> fds{};
            nfds_t n = 0;
            for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
                short events = 0;
                if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
                if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
                if (events != 0) fds[n++] = pollfd{socks[i], events, 0};
            }
            // Sleep until a socket is ready, c-ares' next retry is due, or our deadline.
            auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - now);
            timeval max_wait{static_cast<time_t>(left.count() / 1'000'000),
                             static_cast<suseconds_t>(left.count() % 1'000'000)};
            timeval wait{};
            timeval* t = ::ares_timeout(channel_, &max_wait, &wait);
            int ms = static_cast<int>(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
            int ready = ::poll(fds.data(), n, ms);
            if (ready < 0) {
                if (errno == EINTR) continue;
                ::ares_cancel(channel_);
                return;
            }
            if (ready == 0) {
                ::ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);   // retries, timeouts
                continue;
            }
            for (nfds_t i = 0; i < n; ++i) {
                short re = fds[i].revents;
                if (re == 0) continue;
                // POLLERR/POLLHUP count as readable: the read then reports the error to c-ares
                // (an ICMP "port unreachable" fails the server at once instead of timing out).
                ares_socket_t r = (re & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
                ares_socket_t w = (re & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
                ::ares_process_fd(channel_, r, w);
            }
        }
    }

private:
    // on_answer - the c-ares callback: keep status and bytes, parse later (a callback must not throw).
    static void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
        auto* q = static_cast<Query*>(arg);
        q->status = status;
        if (status == ARES_SUCCESS && abuf != nullptr && alen > 0) {
            try {
                q->answer.assign(abuf, abuf + alen);
            } catch (...) {
                q->status = ARES_ENOMEM;
            }
        }
        --*q->pending;
    }

    // Declared before channel_, so destroyed after it: ares_destroy may still call back into them.
    std::deque<Query> queries_;   // a deque: references stay valid as it grows
    int pending_ = 0;
    Clock::time_point deadline_;
    ares_channel channel_ = nullptr;
};

// An exchange's A and AAAA queries, in flight.
struct HostQueries {
    Query* a = nullptr;
    Query* aaaa = nullptr;
};

// start_host - query A and AAAA of host.
HostQueries start_host(Resolver& r, const std::string& host) {
    return HostQueries{&r.start(host, kTypeA), &r.start(host, kTypeAaaa)};
}

// Addresses of one host with how the lookup went: worst is the most telling failure of its two
// queries (a temporary one wins: then "no address" is not a final answer).
struct HostResult {
    std::vector<asio::ip::address> addresses;
    int worst = ARES_SUCCESS;
};

// collect_host - parse the A and AAAA answers of one host (an unparsable answer is a failure of
// the server, so temporary).
HostResult collect_host(const HostQueries& hq) {
    HostResult out;
    auto note = [&out](int status) {
        if (status == ARES_SUCCESS) return;
        if (out.worst == ARES_SUCCESS || (is_temporary(status) && !is_temporary(out.worst)) ||
            (status == ARES_ENOTFOUND && out.worst == ARES_ENODATA))
            out.worst = status;
    };

    int status = hq.a->status;
    if (status == ARES_SUCCESS) {
        std::array<ares_addrttl, kMaxAddressesPerFamily> ttls{};
        int n = kMaxAddressesPerFamily;
        hostent* host = nullptr;
        status = ::ares_parse_a_reply(hq.a->answer.data(), static_cast<int>(hq.a->answer.size()), &host,
                                      ttls.data(), &n);
        if (host != nullptr) ::ares_free_hostent(host);
        if (status == ARES_SUCCESS) {
            for (int i = 0; i < n; ++i) {
                asio::ip::address_v4::bytes_type b;
                static_assert(sizeof(b) == sizeof(ttls[i].ipaddr));
                std::memcpy(b.data(), &ttls[i].ipaddr, b.size());
                asio::ip::address a{asio::ip::address_v4(b)};
                if (usable(a)) out.addresses.push_back(a);
            }
        } else if (status != ARES_ENODATA) {
            status = ARES_EBADRESP;
        }
    }
    note(status);

    status = hq.aaaa->status;
    if (status == ARES_SUCCESS) {
        std::array<ares_addr6ttl, kMaxAddressesPerFamily> ttls{};
        int n = kMaxAddressesPerFamily;
        hostent* host = nullptr;
        status = ::ares_parse_aaaa_reply(hq.aaaa->answer.data(), static_cast<int>(hq.aaaa->answer.size()),
                                         &host, ttls.data(), &n);
        if (host != nullptr) ::ares_free_hostent(host);
        if (status == ARES_SUCCESS) {
            for (int i = 0; i < n; ++i) {
                asio::ip::address_v6::bytes_type b;
                static_assert(sizeof(b) == sizeof(ttls[i].ip6addr));
                std::memcpy(b.data(), &ttls[i].ip6addr, b.size());
                asio::ip::address a{asio::ip::address_v6(b)};
                if (usable(a)) out.addresses.push_back(a);
            }
        } else if (status != ARES_ENODATA) {
            status = ARES_EBADRESP;
        }
    }
    note(status);
    return out;
}

// shuffle_and_sort - preference order, equal preferences in random order (RFC 5321 5.1: spread
// the load over equal MXs).
void shuffle_and_sort(std::vector<MxTarget>& targets) {
    thread_local std::mt19937 rng{std::random_device{}()};
    std::shuffle(targets.begin(), targets.end(), rng);
    std::stable_sort(targets.begin(), targets.end(),
                     [](const MxTarget& x, const MxTarget& y) { return x.preference < y.preference; });
}

// lookup_mx - resolve_mx's work, blocking, on a worker thread.
std::vector<MxTarget> lookup_mx(const std::string& domain_in, const std::string& server) {
    // An address literal is delivered to as it is: no DNS (RFC 5321 5.1 covers names only).
    if (auto literal = literal_address(domain_in); literal && domain_in.front() == '[') {
        if (!usable(*literal)) throw DnsError(domain_in + ": not a usable address", false);
        return {MxTarget{literal->to_string(), 0, {*literal}}};
    }
    std::string domain = normalize_name(domain_in);
    if (domain.empty()) throw DnsError("\"" + domain_in + "\" is not a valid domain name", false);

    Resolver resolver(server, Clock::now() + kDnsTimeout);
    Query& mxq = resolver.start(domain, kTypeMx);
    resolver.run();

    std::vector<MxTarget> targets;
    int status = mxq.status;
    if (status == ARES_SUCCESS) {
        ares_mx_reply* mx = nullptr;
        status = ::ares_parse_mx_reply(mxq.answer.data(), static_cast<int>(mxq.answer.size()), &mx);
        if (status == ARES_SUCCESS) {
            std::size_t records = 0;
            bool null_mx = false;
            for (ares_mx_reply* r = mx; r != nullptr; r = r->next) {
                ++records;
                std::string_view host = r->host != nullptr ? r->host : "";
                // RFC 7505 3: the null MX is an exchange of "." (c-ares expands the root to "").
                if (host.empty() || host == ".") {
                    null_mx = true;
                    continue;
                }
                std::string name = normalize_name(host);
                if (name.empty()) continue;   // an unusable name from the wire: as if it had no address
                if (std::any_of(targets.begin(), targets.end(), [&](const MxTarget& t) { return t.host == name; }))
                    continue;
                targets.push_back(MxTarget{std::move(name), r->priority, {}});
            }
            ::ares_free_data(mx);
            // RFC 7505 3: a null MX must be the only record; beside real ones it is skipped, and
            // the real ones are used.
            if (null_mx && records == 1) throw DnsError(domain + ": domain accepts no mail (null MX, RFC 7505)", false);
            if (targets.empty()) throw DnsError(domain + ": no usable MX name", false);
        } else if (status != ARES_ENODATA) {
            throw DnsError(domain + ": MX lookup: unreadable answer", true);
        }
    }
    if (status == ARES_ENODATA) {
        // RFC 5321 5.1: no MX records, so the domain itself is the implicit MX, preference 0.
        targets.push_back(MxTarget{domain, 0, {}});
    } else if (status != ARES_SUCCESS) {
        throw DnsError(domain + ": MX lookup: " + describe(status), is_temporary(status));
    }

    shuffle_and_sort(targets);
    if (targets.size() > kMaxMxTargets) targets.resize(kMaxMxTargets);

    // All exchanges' A and AAAA at once, within what is left of the same deadline.
    std::vector<HostQueries> queries;
    queries.reserve(targets.size());
    for (const auto& t : targets) queries.push_back(start_host(resolver, t.host));
    resolver.run();

    bool any_temporary = false;
    std::string last_failure;
    std::vector<MxTarget> found;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        HostResult hr = collect_host(queries[i]);
        if (hr.addresses.empty()) {
            // RFC 5321 5.1: an exchange without an address is skipped; try the others.
            any_temporary = any_temporary || is_temporary(hr.worst);
            last_failure = targets[i].host + ": " + describe(hr.worst == ARES_SUCCESS ? ARES_ENODATA : hr.worst);
            continue;
        }
        targets[i].addresses = std::move(hr.addresses);
        found.push_back(std::move(targets[i]));
    }
    if (found.empty())
        throw DnsError(domain + ": no mail exchanger has an address (" + last_failure + ")", any_temporary);
    return found;
}

// lookup_host - resolve_host's work, blocking, on a worker thread.
std::vector<asio::ip::address> lookup_host(const std::string& host_in, const std::string& server) {
    if (auto literal = literal_address(host_in)) return {*literal};
    std::string host = normalize_name(host_in);
    if (host.empty()) throw DnsError("\"" + host_in + "\" is not a valid host name", false);

    Resolver resolver(server, Clock::now() + kDnsTimeout);
    HostQueries hq = start_host(resolver, host);
    resolver.run();
    HostResult hr = collect_host(hq);
    if (hr.addresses.empty()) {
        int why = hr.worst == ARES_SUCCESS ? ARES_ENODATA : hr.worst;
        throw DnsError(host + ": no address: " + describe(why), is_temporary(why));
    }
    return std::move(hr.addresses);
}

// run_mx - lookup_mx as a coroutine for the pool.
asio::awaitable<std::vector<MxTarget>> run_mx(std::string domain, std::string server) {
    co_return lookup_mx(domain, server);
}

// run_host - lookup_host as a coroutine for the pool.
asio::awaitable<std::vector<asio::ip::address>> run_host(std::string host, std::string server) {
    co_return lookup_host(host, server);
}

}  // namespace

// co_spawn on the pool runs the blocking lookup there and completes on the awaiting coroutine's
// own executor (Asio dispatches the completion through the handler's associated executor); a
// DnsError thrown on the pool is rethrown in the caller.
asio::awaitable<std::vector<MxTarget>> resolve_mx(std::string domain, std::string server) {
    auto targets = co_await asio::co_spawn(dns_pool(), run_mx(std::move(domain), std::move(server)),
                                           asio::use_awaitable);
    co_return targets;
}

asio::awaitable<std::vector<asio::ip::address>> resolve_host(std::string host, std::string server) {
    // Literals need no thread hop.
    if (auto literal = literal_address(host)) co_return std::vector<asio::ip::address>{*literal};
    auto addresses = co_await asio::co_spawn(dns_pool(), run_host(std::move(host), std::move(server)),
                                             asio::use_awaitable);
    co_return addresses;
}

}  // namespace mk
