// core/cidr.cpp — CIDR parsing and matching; the text comes from the trusted config, the addresses from peers.
#include "core/cidr.hpp"

#include <algorithm>
#include <charconv>

namespace mk {

namespace {

namespace ip = boost::asio::ip;

constexpr unsigned kBitsV4 = 32;
constexpr unsigned kBitsV6 = 128;

// address_bits - the address as 16 bytes (v4 in the first 4) and its bit width.
std::pair<std::array<unsigned char, 16>, unsigned> address_bits(const ip::address& a) {
    std::array<unsigned char, 16> out{};
    if (a.is_v4()) {
        auto b = a.to_v4().to_bytes();
        std::copy(b.begin(), b.end(), out.begin());
        return {out, kBitsV4};
    }
    auto b = a.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), out.begin());
    return {out, kBitsV6};
}

// unmap - "::ffff:10.1.2.3" as 10.1.2.3: a dual-stack socket reports v4 peers that way.
ip::address unmap(const ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return ip::make_address_v4(ip::v4_mapped, a.to_v6());
    return a;
}

// leading_bits_equal - whether the first n bits of x and y agree.
bool leading_bits_equal(const std::array<unsigned char, 16>& x, const std::array<unsigned char, 16>& y,
                        unsigned n) {
    unsigned whole = n / 8;
    if (!std::equal(x.begin(), x.begin() + whole, y.begin())) return false;
    unsigned rest = n % 8;
    if (rest == 0) return true;
    auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (x[whole] & mask) == (y[whole] & mask);
}

// parse_prefix - decimal digits only, no sign, no leading zero; nullopt above max.
std::optional<unsigned> parse_prefix(std::string_view s, unsigned max) {
    if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    unsigned n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || n > max) return std::nullopt;
    return n;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
    auto slash = text.find('/');
    std::string addr_text(text.substr(0, slash));
    // A zone ("fe80::1%eth0") names an interface, not a network.
    if (addr_text.find('%') != std::string::npos) return std::nullopt;
    boost::system::error_code ec;
    ip::address addr = ip::make_address(addr_text, ec);   // inet_pton: dotted quad or RFC 4291 text
    if (ec) return std::nullopt;
    auto [bytes, width] = address_bits(addr);
    unsigned prefix = width;   // a bare address is a single host
    if (slash != std::string_view::npos) {
        auto p = parse_prefix(text.substr(slash + 1), width);
        if (!p) return std::nullopt;
        prefix = *p;
    }
    // Host bits set ("192.168.1.7/16") are refused: usually a typo for a different network.
    std::array<unsigned char, 16> masked{};
    for (unsigned bit = 0; bit < prefix; ++bit)
        masked[bit / 8] |= bytes[bit / 8] & static_cast<unsigned char>(0x80 >> (bit % 8));
    if (masked != bytes) return std::nullopt;
    return Cidr{addr, prefix};
}

bool Cidr::contains(const ip::address& a) const {
    ip::address peer = unmap(a);
    if (peer.is_v4() != network.is_v4()) return false;
    return leading_bits_equal(address_bits(network).first, address_bits(peer).first, prefix);
}

std::string Cidr::to_string() const {
    return network.to_string() + "/" + std::to_string(prefix);
}

bool in_any(const std::vector<Cidr>& nets, const ip::address& a) {
    return std::any_of(nets.begin(), nets.end(), [&](const Cidr& n) { return n.contains(a); });
}

}  // namespace mk
