// tests/fuzz/fuzz_sasl.cpp — libFuzzer target: SASL decoding of hostile client responses — base64
// (AUTH LOGIN's user name and password), AUTH PLAIN's message, AUTH CRAM-MD5's response — against what
// RFC 4648, RFC 4616 and RFC 2195 say, and the stored CRAM-MD5 secret's parser. Depends on core/base64,
// core/cram_md5 and net/sasl only.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "core/base64.hpp"
#include "core/cram_md5.hpp"
#include "net/sasl.hpp"

namespace {

// RFC 4616 2 bounds what the server accepts: authcid and passwd are 1..255 and 0..255 octets.
constexpr std::size_t kMaxField = 255;

// check - abort (a crash libFuzzer reports) when an invariant breaks; assert() vanishes under NDEBUG.
void check(bool ok) {
    if (!ok) std::abort();
}

// check_base64 - the input as a base64 text: what decodes has the length RFC 4648 4 gives, and its
// encoding decodes to the same bytes.
void check_base64(std::string_view text) {
    std::optional<std::string> raw = mk::base64_decode(text);
    if (!raw) return;
    check(text.size() % 4 == 0);
    const std::size_t pad = text.empty() ? 0 : (text.back() == '=') + (text.size() > 1 && text[text.size() - 2] == '=');
    check(raw->size() == text.size() / 4 * 3 - pad);
    const std::string again = mk::base64_encode(*raw);
    check(again.size() == text.size());
    check(mk::base64_decode(again) == raw);
}

// check_plain_text - the input as an AUTH PLAIN response line: whatever decodes names a user within
// RFC 4616's bounds and carries no NUL in any field.
void check_plain_text(std::string_view text) {
    std::optional<mk::SaslCredentials> c = mk::decode_plain(text);
    if (!c) return;
    check(!c->authcid.empty() && c->authcid.size() <= kMaxField && c->password.size() <= kMaxField);
    for (const std::string* f : {&c->authzid, &c->authcid, &c->password})
        check(f->find('\0') == std::string::npos);
}

// check_plain_message - the input as the decoded PLAIN message: decode_plain accepts its base64
// exactly when it is authzid NUL authcid NUL passwd within the bounds, and returns those fields.
void check_plain_message(std::string_view message) {
    std::optional<mk::SaslCredentials> c = mk::decode_plain(mk::base64_encode(message));
    const std::size_t a = message.find('\0');
    const std::size_t b = a == std::string_view::npos ? a : message.find('\0', a + 1);
    const bool two_nuls = b != std::string_view::npos && message.find('\0', b + 1) == std::string_view::npos;
    if (!two_nuls) {
        check(!c);
        return;
    }
    const std::string_view authcid = message.substr(a + 1, b - a - 1), password = message.substr(b + 1);
    const bool valid = !authcid.empty() && authcid.size() <= kMaxField && password.size() <= kMaxField;
    check(c.has_value() == valid);
    if (c) check(c->authzid == message.substr(0, a) && c->authcid == authcid && c->password == password);
}

// has_control - a C0 control or DEL, which a CRAM-MD5 user name must not hold.
bool has_control(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
    return false;
}

// check_cram_md5_text - the input as an AUTH CRAM-MD5 response line: whatever decodes names a user within
// the bounds, without control characters, and encodes back to a response that decodes the same.
void check_cram_md5_text(std::string_view text) {
    std::optional<mk::CramMd5Response> r = mk::decode_cram_md5(text);
    if (!r) return;
    check(!r->user.empty() && r->user.size() <= mk::kMaxCramMd5User && !has_control(r->user));
    std::optional<mk::CramMd5Response> again = mk::decode_cram_md5(mk::base64_encode(r->user + " " + mk::digest_hex(r->digest)));
    check(again && again->user == r->user && again->digest == r->digest);
}

// check_cram_md5_message - the input as the decoded response: decode_cram_md5 accepts it exactly when it
// is "user SP 32 hex digits" (the last space separating) with a valid user, and returns those parts.
void check_cram_md5_message(std::string_view message) {
    std::optional<mk::CramMd5Response> r = mk::decode_cram_md5(mk::base64_encode(message));
    const std::size_t space = message.rfind(' ');
    if (space == std::string_view::npos) {
        check(!r);
        return;
    }
    const std::string_view user = message.substr(0, space), hex = message.substr(space + 1);
    std::optional<mk::Md5Digest> digest = mk::parse_digest_hex(hex);
    const bool valid = digest && !user.empty() && user.size() <= mk::kMaxCramMd5User && !has_control(user);
    check(r.has_value() == valid);
    if (r) check(r->user == user && r->digest == *digest);
}

// check_cram_md5_secret - the input as a [[user]] cram_md5 value: what parses prints back as the same hex.
void check_cram_md5_secret(std::string_view text) {
    std::optional<mk::CramMd5Context> c = mk::parse_cram_md5_secret(text);
    if (!c) return;
    const std::string hex = mk::cram_md5_hex(*c);
    check(hex.size() == 2 * mk::kCramMd5ContextSize);
    check(mk::parse_cram_md5_secret(hex) == c && mk::parse_cram_md5_secret(std::string(mk::kCramMd5Prefix) + hex) == c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    check_base64(in);
    check_plain_text(in);
    check_plain_message(in);
    check_cram_md5_text(in);
    check_cram_md5_message(in);
    check_cram_md5_secret(in);
    // What a client builds with plain_response is what the server reads back.
    const std::size_t cut = in.find('\n');
    if (cut != std::string_view::npos && in.find('\0') == std::string_view::npos) {
        std::string_view user = in.substr(0, cut), password = in.substr(cut + 1);
        std::optional<mk::SaslCredentials> c = mk::decode_plain(mk::base64_encode(mk::plain_response(user, password)));
        if (!user.empty() && user.size() <= kMaxField && password.size() <= kMaxField)
            check(c && c->authzid.empty() && c->authcid == user && c->password == password);
        else
            check(!c);
        // CRAM-MD5: the client's answer to the rest as a challenge verifies against the password's context,
        // and not against another password's.
        std::optional<mk::CramMd5Response> r =
            mk::decode_cram_md5(mk::base64_encode(mk::cram_md5_response(user, password, in)));
        if (!user.empty() && user.size() <= mk::kMaxCramMd5User && !has_control(user)) {
            check(r && r->user == user);
            check(mk::verify_cram_md5(mk::cram_md5_context(password), in, *r));
            check(!mk::verify_cram_md5(mk::cram_md5_context(std::string(password) + "x"), in, *r));
        } else {
            check(!r);
        }
    }
    return 0;
}
