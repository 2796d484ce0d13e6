// core/ip.hpp — judgements about an IP address, a peer's (the kernel reports it, the peer chose it)
// or one the config names: is it this machine. In core so that the config's checks and the
// sessions judge by one rule.
#pragma once

#include <boost/asio/ip/address.hpp>

namespace mk {

// is_loopback - 127.0.0.0/8 or ::1, also when an IPv4 peer shows up v4-mapped (::ffff:127.0.0.1)
// on a dual-stack socket (RFC 4291 2.5.5.2).
inline bool is_loopback(const boost::asio::ip::address& a) {
    if (a.is_v4()) return a.to_v4().is_loopback();
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).is_loopback();
    return v6.is_loopback();
}

}  // namespace mk
