// net/dns.hpp — MX resolution for direct delivery (RFC 5321 5.1) with c-ares: answers from the
// network are untrusted input.
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

namespace mk {

// The most one resolve_mx or resolve_host call waits for DNS, all its queries together: a queue
// run waits no longer than this for one destination, and then retries the domain later.
inline constexpr std::chrono::seconds kDnsTimeout{10};
// Exchanges resolved per domain (the best ones, after sorting): bounds the work one hostile answer
// can cause; ten covers every real domain's MX set.
inline constexpr std::size_t kMaxMxTargets = 10;
// Addresses kept per host and family (A, AAAA): more than one queue run can usefully try.
inline constexpr int kMaxAddressesPerFamily = 16;

struct MxTarget {
    std::string host;                                  // the exchange, lowercase, no trailing dot
    unsigned preference = 0;
    std::vector<boost::asio::ip::address> addresses;   // its A and AAAA records
};

// A lookup failure. temporary: SERVFAIL, timeout, network (retry later); permanent: NXDOMAIN,
// a "null MX" (RFC 7505), no address at all (bounce).
class DnsError : public std::runtime_error {
public:
    DnsError(const std::string& what, bool temporary) : std::runtime_error(what), temporary_(temporary) {}
    bool temporary() const { return temporary_; }

private:
    bool temporary_;
};

// resolve_mx - the mail exchangers of domain in preference order (equal preferences shuffled),
// each with its addresses; with no MX record, the domain itself as the implicit MX (RFC 5321 5.1).
// server "addr:port" overrides /etc/resolv.conf (tests run a resolver on loopback). Runs the
// lookup off the network thread and resumes the caller on its executor. An address literal
// ("[192.0.2.1]", "[IPv6:2001:db8::1]", RFC 5321 4.1.3) is returned without DNS. Throws DnsError.
boost::asio::awaitable<std::vector<MxTarget>> resolve_mx(std::string domain, std::string server);

// resolve_host - A and AAAA of a host name (a smarthost); literal addresses are returned as they are.
boost::asio::awaitable<std::vector<boost::asio::ip::address>> resolve_host(std::string host, std::string server);

}  // namespace mk
