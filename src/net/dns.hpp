// net/dns.hpp — MX resolution for direct delivery (RFC 5321 5.1) with c-ares: answers from the
// network are untrusted input.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

namespace mk {

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
// lookup off the network thread and resumes the caller on its executor. Throws DnsError.
boost::asio::awaitable<std::vector<MxTarget>> resolve_mx(std::string domain, std::string server);

// resolve_host - A and AAAA of a host name (a smarthost); literal addresses are returned as they are.
boost::asio::awaitable<std::vector<boost::asio::ip::address>> resolve_host(std::string host, std::string server);

}  // namespace mk
