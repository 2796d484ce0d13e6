// core/cram_md5.hpp — MD5 (RFC 1321) and the HMAC-MD5 (RFC 2104) of CRAM-MD5 (RFC 2195) computed from a
// stored context instead of the password: the MD5 states after the inner and the outer key block, as
// Dovecot's CRAM-MD5 password scheme stores them. Pure: no I/O, no OpenSSL (the fuzz targets link it).
// The context is password-equivalent for CRAM-MD5: whoever reads it can log in by CRAM-MD5.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mk {

using Md5Digest = std::array<std::uint8_t, 16>;
// The MD5 chaining state (A, B, C, D), RFC 1321 3.3.
using Md5State = std::array<std::uint32_t, 4>;

// Md5 - an incremental MD5; also resumable from a state after whole 64-byte blocks (what HMAC needs).
class Md5 {
public:
    static constexpr std::size_t kBlock = 64;   // RFC 1321 3.4: 512-bit blocks
    Md5();
    // Md5(state, length) - resume after length bytes (a multiple of kBlock) that left state.
    Md5(const Md5State& state, std::uint64_t length);
    void update(std::string_view data);
    // finish - the digest; the object is spent afterwards.
    Md5Digest finish();
    // state - the chaining state; meaningful as a resume point only after whole blocks.
    const Md5State& state() const { return state_; }

private:
    void block(const std::uint8_t* p);
    Md5State state_;
    std::uint64_t length_ = 0;   // bytes hashed so far
    std::array<std::uint8_t, kBlock> buffer_{};
};

// md5 - the digest of data held in memory.
Md5Digest md5(std::string_view data);

// The CRAM-MD5 secret: the MD5 state after the outer (opad) block, then after the inner (ipad) block,
// each A, B, C, D as 32-bit little-endian words: 32 bytes (Dovecot's hmac_md5_get_cram_context).
constexpr std::size_t kCramMd5ContextSize = 32;
using CramMd5Context = std::array<std::uint8_t, kCramMd5ContextSize>;
// The scheme prefix `doveadm pw -s CRAM-MD5` and `mailkeep passwd --cram-md5` print before the hex.
constexpr std::string_view kCramMd5Prefix = "{CRAM-MD5}";

// cram_md5_context - the context of password (RFC 2104 2: a key over 64 bytes is hashed first).
CramMd5Context cram_md5_context(std::string_view password);
// cram_md5_hex - the context as 64 lower-case hex digits, without the prefix.
std::string cram_md5_hex(const CramMd5Context& context);
// parse_cram_md5_secret - "{CRAM-MD5}" (optional, any case) and 64 hex digits (any case); nullopt otherwise.
std::optional<CramMd5Context> parse_cram_md5_secret(std::string_view text);
// hmac_md5 - RFC 2104 HMAC-MD5 of message under the key whose context this is.
Md5Digest hmac_md5(const CramMd5Context& context, std::string_view message);
// digest_hex - 32 lower-case hex digits.
std::string digest_hex(const Md5Digest& digest);
// parse_digest_hex - 32 hex digits (any case); nullopt otherwise.
std::optional<Md5Digest> parse_digest_hex(std::string_view hex);
// same_digest - a == b, in time independent of where they differ.
bool same_digest(const Md5Digest& a, const Md5Digest& b);

}  // namespace mk
