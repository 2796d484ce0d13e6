// core/sha256.hpp — SHA-256 (FIPS 180-4, OpenSSL's EVP) in lower-case hex, for identities of data we
// are handed (a message without a UIDL, de-duplication keys); not a secret, not a signature.
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace mk {

// Sha256 - an incremental SHA-256: update() with each piece as it streams past, hex() at the end.
class Sha256 {
public:
    Sha256();   // throws std::runtime_error when the digest is not available
    void update(std::string_view data);
    // hex - the digest in lower-case hex; the object is spent afterwards.
    std::string hex();

private:
    struct Free {
        void operator()(evp_md_ctx_st* c) const;
    };
    std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

// sha256_hex - the digest of data held in memory.
std::string sha256_hex(std::string_view data);

}  // namespace mk
