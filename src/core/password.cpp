// core/password.cpp — password hashing and checking; login and password come from untrusted peers.
#include "core/password.hpp"

#include <algorithm>
#include <crypt.h>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/address.hpp"
#include "core/base64.hpp"
#include "core/config.hpp"

namespace mk {

namespace {

constexpr const char* kYescryptPrefix = "$y$";
constexpr unsigned long kDefaultCost = 0;      // 0 = libxcrypt's recommended cost for the method
constexpr int kRandomPasswordBytes = 18;       // 144 bits; a multiple of 3, so no base64 padding

// A yescrypt hash (default cost, as hash_password makes) of a random password nobody kept:
// checked when no user matches, so that unknown logins take as long as wrong passwords.
constexpr const char* kDummyHash =
    "$y$j9T$YWC1d6rek4iwvKybsy.eN.$g6OjcDMA75sSqD9tsznwUAXASw2gYdzXn5FmbntaKlB";

// has_nul - crypt(3) reads a C string: a password with a NUL would be cut short, then match.
bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// FreeDeleter - releases what libxcrypt allocated with malloc.
struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
};

// matches_login - login is the user's name or one of its addresses; login_address is login
// parsed as a mailbox, domain lowercased like the stored addresses (local part stays exact).
bool matches_login(const UserConfig& user, std::string_view login, const std::optional<Address>& login_address) {
    if (user.name == login) return true;
    return login_address && std::find(user.addresses.begin(), user.addresses.end(), login_address->str()) !=
                                user.addresses.end();
}

}  // namespace

std::string hash_password(std::string_view password) {
    if (has_nul(password)) throw std::invalid_argument("password contains a NUL byte");
    // A null random-bytes argument makes libxcrypt take the salt from the OS (getrandom).
    std::unique_ptr<char, FreeDeleter> setting(crypt_gensalt_ra(kYescryptPrefix, kDefaultCost, nullptr, 0));
    if (!setting) throw std::runtime_error("crypt_gensalt_ra failed");
    void* data = nullptr;
    int size = 0;
    const char* hash = crypt_ra(std::string(password).c_str(), setting.get(), &data, &size);
    std::unique_ptr<void, FreeDeleter> owned(data);
    if (!hash || hash[0] == '*') throw std::runtime_error("crypt_ra failed");
    return hash;
}

bool verify_password(std::string_view password, const std::string& hash) {
    if (hash.empty() || has_nul(password)) return false;
    auto data = std::make_unique<crypt_data>();   // zeroed, as crypt_r requires; too big for a coroutine stack
    const char* got = crypt_r(std::string(password).c_str(), hash.c_str(), data.get());
    // libxcrypt reports errors as a string starting with '*', never equal to a real hash.
    if (!got || got[0] == '*') return false;
    std::string_view result(got);
    return result.size() == hash.size() && CRYPTO_memcmp(result.data(), hash.data(), hash.size()) == 0;
}

std::string random_password() {
    unsigned char bytes[kRandomPasswordBytes];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    std::string text = base64_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
    // base64url (RFC 4648 5): no '+' or '/', which some shells and URLs treat specially.
    std::replace(text.begin(), text.end(), '+', '-');
    std::replace(text.begin(), text.end(), '/', '_');
    return text;
}

const UserConfig* authenticate(const Config& config, std::string_view login, std::string_view password) {
    auto login_address = parse_mailbox(login);
    const UserConfig* user = nullptr;
    for (const auto& u : config.users) {
        if (matches_login(u, login, login_address)) {
            user = &u;
            break;
        }
    }
    // Always run one crypt, even for an unknown login or an account without a password.
    bool usable = user && !user->password_hash.empty();
    bool ok = verify_password(password, usable ? user->password_hash : std::string(kDummyHash));
    return usable && ok ? user : nullptr;
}

}  // namespace mk
