// core/password.hpp — crypt(3) password hashes (libxcrypt): yescrypt for new ones, any for checks.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/cram_md5.hpp"

namespace mk {

// hash_password - a new "$y$..." hash with a fresh salt from the system's random source.
std::string hash_password(std::string_view password);
// verify_password - constant-time comparison of crypt(password, hash) with hash; false on any error.
bool verify_password(std::string_view password, const std::string& hash);
// password_hash_problem - why hash cannot be a [[user]] password ("is not a crypt(3) hash", "is
// empty", ...), or nullopt when it is a complete hash of a method this system's libxcrypt verifies.
std::optional<std::string> password_hash_problem(std::string_view hash);
// random_password - a printable password for first-run accounts (144 bits, base64url).
std::string random_password();

}  // namespace mk

namespace mk {
struct Config;
struct UserConfig;
// authenticate - the user whose name or one of whose addresses is login, if password matches.
const UserConfig* authenticate(const Config& config, std::string_view login, std::string_view password);
// authenticate_cram_md5 - the user whose name or one of whose addresses is login, if digest is the
// HMAC-MD5 of challenge under the user's stored cram_md5 context (RFC 2195 2); null otherwise, also for
// a user without cram_md5. The same work is done for an unknown login, and digests compare in constant time.
const UserConfig* authenticate_cram_md5(const Config& config, std::string_view login, std::string_view challenge,
                                        const Md5Digest& digest);
}  // namespace mk
