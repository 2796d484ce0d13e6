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

// What follows the setting in a complete crypt(3) hash, by method (crypt(5)): its length after the
// last '$', or after the prefix for DES and BSDi, which have none. libxcrypt judges the setting
// (crypt_checksalt) but has no call that tells a whole hash from a bare setting or a plain password.
struct HashForm {
    std::string_view prefix;
    std::size_t tail;   // characters of [./0-9A-Za-z]
};
constexpr HashForm kHashForms[] = {
    {"$y$", 43}, {"$gy$", 43}, {"$7$", 43},                    // yescrypt, gost-yescrypt, scrypt
    {"$2b$", 53}, {"$2a$", 53}, {"$2y$", 53}, {"$2x$", 53},    // bcrypt: 22 of salt, 31 of checksum
    {"$6$", 86}, {"$5$", 43}, {"$1$", 22},                     // sha512crypt, sha256crypt, md5crypt
    {"$sha1$", 28}, {"$md5", 22}, {"$3$", 32},                 // NetBSD sha1crypt, SunMD5, NT hash
    {"_", 19}, {"", 13},                                       // BSDi extended DES, traditional DES
};
constexpr std::string_view kCryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// hash_form - the form of hash's method: the longest prefix that matches.
const HashForm& hash_form(std::string_view hash) {
    const HashForm* best = &kHashForms[std::size(kHashForms) - 1];
    for (const HashForm& f : kHashForms)
        if (hash.starts_with(f.prefix) && f.prefix.size() > best->prefix.size()) best = &f;
    return *best;
}

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

// find_login - the first user whose name or one of whose addresses is login, or null.
const UserConfig* find_login(const Config& config, std::string_view login) {
    auto login_address = parse_mailbox(login);
    for (const auto& u : config.users)
        if (matches_login(u, login, login_address)) return &u;
    return nullptr;
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

std::optional<std::string> password_hash_problem(std::string_view hash) {
    if (hash.empty()) return "is empty";
    if (has_nul(hash)) return "is not a crypt(3) hash";
    switch (crypt_checksalt(std::string(hash).c_str())) {
        case CRYPT_SALT_OK:
        case CRYPT_SALT_METHOD_LEGACY:   // weak (DES, MD5) but still verified: logins work
        case CRYPT_SALT_TOO_CHEAP: break;
        case CRYPT_SALT_METHOD_DISABLED: return "uses a crypt(3) method this system's libxcrypt has disabled";
        default: return "is not a crypt(3) hash";
    }
    const HashForm& form = hash_form(hash);
    std::string_view tail = form.prefix.starts_with('$') ? hash.substr(hash.rfind('$') + 1) : hash.substr(form.prefix.size());
    if (tail.size() != form.tail || tail.find_first_not_of(kCryptAlphabet) != std::string_view::npos)
        return "is not a crypt(3) hash";
    return std::nullopt;
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
    const UserConfig* user = find_login(config, login);
    // Always run one crypt, even for an unknown login or an account without a password.
    bool usable = user && !user->password_hash.empty();
    bool ok = verify_password(password, usable ? user->password_hash : std::string(kDummyHash));
    return usable && ok ? user : nullptr;
}

const UserConfig* authenticate_cram_md5(const Config& config, std::string_view login, std::string_view challenge,
                                        const Md5Digest& digest) {
    const UserConfig* user = find_login(config, login);
    // Always one HMAC, even for an unknown login or a user without a CRAM-MD5 secret.
    std::optional<CramMd5Context> stored = user ? parse_cram_md5_secret(user->cram_md5) : std::nullopt;
    bool ok = same_digest(hmac_md5(stored.value_or(CramMd5Context{}), challenge), digest);
    return stored && ok ? user : nullptr;
}

}  // namespace mk
