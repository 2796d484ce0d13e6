// core/cram_md5.cpp — MD5 (RFC 1321) written out, so that the HMAC-MD5 of CRAM-MD5 can resume from the
// stored inner and outer states; OpenSSL's EVP interface does not expose them, and its MD5_* calls
// that do are deprecated. The key material is our configuration's; the messages hashed are not secret.
#include "core/cram_md5.hpp"

#include <algorithm>
#include <cstring>

namespace mk {

namespace {

// RFC 1321 3.4: T[i] = floor(2^32 * abs(sin(i + 1))).
constexpr std::uint32_t kT[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
// RFC 1321 3.4: the rotation of each step, four per round.
constexpr int kShift[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
constexpr Md5State kInit = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};   // RFC 1321 3.3
constexpr std::uint8_t kIpad = 0x36, kOpad = 0x5c;                              // RFC 2104 2
constexpr char kHex[] = "0123456789abcdef";

std::uint32_t rotl(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

std::uint32_t load_le(const std::uint8_t* p) {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}

void store_le(std::uint32_t v, std::uint8_t* p) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// parse_hex - exactly out.size() bytes from 2 * out.size() hex digits.
template <std::size_t N>
bool parse_hex(std::string_view hex, std::array<std::uint8_t, N>& out) {
    if (hex.size() != 2 * N) return false;
    for (std::size_t i = 0; i < N; ++i) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}

template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
    std::string out;
    out.reserve(2 * N);
    for (std::uint8_t b : bytes) {
        out += kHex[b >> 4];
        out += kHex[b & 0xf];
    }
    return out;
}

// keyed_state - the MD5 state after one block of the (padded) key XOR pad.
Md5State keyed_state(const std::array<std::uint8_t, Md5::kBlock>& key, std::uint8_t pad) {
    std::array<char, Md5::kBlock> block;
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(key[i] ^ pad);
    Md5 h;
    h.update(std::string_view(block.data(), block.size()));
    return h.state();
}

// states - the outer and inner states stored in a context.
std::pair<Md5State, Md5State> states(const CramMd5Context& c) {
    Md5State outer, inner;
    for (std::size_t i = 0; i < 4; ++i) {
        outer[i] = load_le(c.data() + 4 * i);
        inner[i] = load_le(c.data() + 16 + 4 * i);
    }
    return {outer, inner};
}

}  // namespace

Md5::Md5() : state_(kInit) {}

Md5::Md5(const Md5State& state, std::uint64_t length) : state_(state), length_(length) {}

// block - RFC 1321 3.4: the four rounds of sixteen steps over one 64-byte block.
void Md5::block(const std::uint8_t* p) {
    std::uint32_t x[16];
    for (int i = 0; i < 16; ++i) x[i] = load_le(p + 4 * i);
    std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    for (int i = 0; i < 64; ++i) {
        std::uint32_t f;
        int g;
        switch (i / 16) {
            case 0: f = (b & c) | (~b & d); g = i; break;                  // F
            case 1: f = (d & b) | (~d & c); g = (5 * i + 1) % 16; break;   // G
            case 2: f = b ^ c ^ d; g = (3 * i + 5) % 16; break;            // H
            default: f = c ^ (b | ~d); g = (7 * i) % 16; break;            // I
        }
        std::uint32_t next = b + rotl(a + f + kT[i] + x[g], kShift[i / 16][i % 4]);
        a = d;
        d = c;
        c = b;
        b = next;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
}

void Md5::update(std::string_view data) {
    auto p = reinterpret_cast<const std::uint8_t*>(data.data());
    std::size_t n = data.size();
    std::size_t used = length_ % kBlock;
    length_ += n;
    if (used > 0) {
        std::size_t take = std::min(n, kBlock - used);
        std::memcpy(buffer_.data() + used, p, take);
        p += take;
        n -= take;
        if (used + take < kBlock) return;
        block(buffer_.data());
    }
    for (; n >= kBlock; p += kBlock, n -= kBlock) block(p);
    if (n > 0) std::memcpy(buffer_.data(), p, n);
}

// finish - RFC 1321 3.1-3.2: a 1 bit, zeros to 56 mod 64, the length in bits (little-endian).
Md5Digest Md5::finish() {
    std::uint64_t bits = length_ * 8;
    std::size_t used = length_ % kBlock;
    std::uint8_t pad[2 * kBlock] = {0x80};
    std::size_t pad_len = (used < 56 ? 56 : 120) - used;
    std::uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(bits >> (8 * i));
    update(std::string_view(reinterpret_cast<const char*>(pad), pad_len));
    update(std::string_view(reinterpret_cast<const char*>(len), sizeof len));
    Md5Digest out;
    for (int i = 0; i < 4; ++i) store_le(state_[i], out.data() + 4 * i);
    return out;
}

Md5Digest md5(std::string_view data) {
    Md5 h;
    h.update(data);
    return h.finish();
}

CramMd5Context cram_md5_context(std::string_view password) {
    std::array<std::uint8_t, Md5::kBlock> key{};
    if (password.size() > Md5::kBlock) {
        Md5Digest d = md5(password);   // RFC 2104 2: a longer key is replaced by its hash
        std::copy(d.begin(), d.end(), key.begin());
    } else {
        std::memcpy(key.data(), password.data(), password.size());
    }
    Md5State outer = keyed_state(key, kOpad), inner = keyed_state(key, kIpad);
    CramMd5Context c;
    for (std::size_t i = 0; i < 4; ++i) {
        store_le(outer[i], c.data() + 4 * i);
        store_le(inner[i], c.data() + 16 + 4 * i);
    }
    std::fill(key.begin(), key.end(), 0);
    return c;
}

std::string cram_md5_hex(const CramMd5Context& context) { return to_hex(context); }

std::optional<CramMd5Context> parse_cram_md5_secret(std::string_view text) {
    if (text.size() > kCramMd5Prefix.size() &&
        std::equal(kCramMd5Prefix.begin(), kCramMd5Prefix.end(), text.begin(),
                   [](char a, char b) { return a == (b >= 'a' && b <= 'z' ? b - 'a' + 'A' : b); }))
        text.remove_prefix(kCramMd5Prefix.size());
    CramMd5Context c;
    if (!parse_hex(text, c)) return std::nullopt;
    return c;
}

Md5Digest hmac_md5(const CramMd5Context& context, std::string_view message) {
    auto [outer, inner] = states(context);
    Md5 in(inner, Md5::kBlock);   // RFC 2104 2: H(K XOR ipad, text), the key block already hashed
    in.update(message);
    Md5Digest inner_digest = in.finish();
    Md5 out(outer, Md5::kBlock);   // H(K XOR opad, inner digest)
    out.update(std::string_view(reinterpret_cast<const char*>(inner_digest.data()), inner_digest.size()));
    return out.finish();
}

std::string digest_hex(const Md5Digest& digest) { return to_hex(digest); }

std::optional<Md5Digest> parse_digest_hex(std::string_view hex) {
    Md5Digest d;
    if (!parse_hex(hex, d)) return std::nullopt;
    return d;
}

bool same_digest(const Md5Digest& a, const Md5Digest& b) {
    std::uint8_t diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<std::uint8_t>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace mk
