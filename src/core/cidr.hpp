// core/cidr.hpp — IPv4/IPv6 networks for trusted_networks; parsing is strict.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace mk {

struct Cidr {
    boost::asio::ip::address network;
    unsigned prefix = 0;

    static std::optional<Cidr> parse(std::string_view text);   // "10.0.0.0/8", "::1", "127.0.0.1"
    bool contains(const boost::asio::ip::address& a) const;
    std::string to_string() const;
};

bool in_any(const std::vector<Cidr>& nets, const boost::asio::ip::address& a);

}  // namespace mk
