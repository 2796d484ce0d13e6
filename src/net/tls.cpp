// net/tls.cpp — OpenSSL 3 contexts and certificate generation.
#include "net/tls.hpp"

#include <cstdio>
#include <stdexcept>
#include <sys/stat.h>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/durable.hpp"

namespace mk {

namespace ssl = boost::asio::ssl;

namespace {

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

std::shared_ptr<ssl::context> make_server_context(const std::filesystem::path& cert,
                                                  const std::filesystem::path& key) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use |
                     ssl::context::no_compression);
    // TLS 1.2: forward-secret AEAD suites only (no CBC: LUCKY13 and its kin), in our order (BSI
    // TR-02102-2 and Mozilla's "intermediate" list); TLS 1.3's suites are all AEAD already.
    SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_cipher_list(ctx->native_handle(), kTls12Ciphers) != 1)
        throw std::runtime_error("TLS: no usable cipher suite for TLS 1.2");
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert.string(), ec);
    if (ec) throw std::runtime_error(fmt::format("{}: cannot load certificate: {}", cert.string(), ec.message()));
    ctx->use_private_key_file(key.string(), ssl::context::pem, ec);
    if (ec) throw std::runtime_error(fmt::format("{}: cannot load key: {}", key.string(), ec.message()));
    return ctx;
}

std::shared_ptr<ssl::context> make_client_context(bool verify, const std::filesystem::path& ca_file) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    // RFC 8996 retires TLS 1.0 and 1.1; RFC 8314 4.1 asks for 1.2 or later.
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    boost::system::error_code ec;
    if (!verify) {
        ctx->set_verify_mode(ssl::verify_none, ec);
        return ctx;
    }
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (!ca_file.empty()) ctx->load_verify_file(ca_file.string(), ec);
    else ctx->set_default_verify_paths(ec);
    if (ec) {
        std::string where = ca_file.empty() ? std::string("system CA store") : ca_file.string();
        throw std::runtime_error(fmt::format("{}: cannot load CA certificates: {}", where, ec.message()));
    }
    return ctx;
}

namespace {

template <class T, void (*F)(T*)>
struct Deleter {
    void operator()(T* p) const { F(p); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(fmt::format("certificate generation failed: {}", what));
}

// write_pem - through a durable file with the given mode, using a FILE* for PEM_write_*.
template <class Fn>
void write_pem(const std::filesystem::path& p, mode_t mode, Fn&& fn) {
    std::filesystem::path tmp = p;
    tmp += ".tmp";
    std::remove(tmp.c_str());
    FILE* f = std::fopen(tmp.c_str(), "wx");
    check(f != nullptr, "open output");
    ::chmod(tmp.c_str(), mode);
    bool ok = fn(f);
    ok = std::fflush(f) == 0 && ok;
    ok = ::fsync(fileno(f)) == 0 && ok;
    ok = std::fclose(f) == 0 && ok;
    check(ok, "write PEM");
    std::filesystem::rename(tmp, p);
    fsync_dir(p.parent_path());
}

}  // namespace

void write_self_signed(const std::filesystem::path& cert, const std::filesystem::path& key,
                       const std::string& hostname) {
    PKeyPtr pkey(EVP_EC_gen("P-256"));
    check(pkey != nullptr, "key");
    X509Ptr x(X509_new());
    check(x != nullptr, "X509_new");
    X509_set_version(x.get(), 2);
    unsigned char serial[16];
    check(RAND_bytes(serial, sizeof serial) == 1, "serial");
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 10L * 365 * 24 * 3600);
    X509_set_pubkey(x.get(), pkey.get());
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(x.get(), name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
    std::string san = "DNS:" + hostname + ",DNS:localhost,IP:127.0.0.1";
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
    check(ext != nullptr, "subjectAltName");
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
    check(X509_sign(x.get(), pkey.get(), EVP_sha256()) > 0, "sign");

    make_dir_durable(key.parent_path());
    make_dir_durable(cert.parent_path());
    write_pem(key, 0600, [&](FILE* f) {
        return PEM_write_PrivateKey(f, pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    });
    write_pem(cert, 0644, [&](FILE* f) { return PEM_write_X509(f, x.get()) == 1; });
}

}  // namespace mk
