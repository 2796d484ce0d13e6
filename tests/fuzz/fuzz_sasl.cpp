// tests/fuzz/fuzz_sasl.cpp — libFuzzer target: SASL decoding of hostile client responses — base64
// (AUTH LOGIN's user name and password), AUTH PLAIN's message — against what RFC 4648 and RFC 4616 say.
// Depends on core/base64 and net/sasl only.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "core/base64.hpp"
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    check_base64(in);
    check_plain_text(in);
    check_plain_message(in);
    // What a client builds with plain_response is what the server reads back.
    const std::size_t cut = in.find('\n');
    if (cut != std::string_view::npos && in.find('\0') == std::string_view::npos) {
        std::string_view user = in.substr(0, cut), password = in.substr(cut + 1);
        std::optional<mk::SaslCredentials> c = mk::decode_plain(mk::base64_encode(mk::plain_response(user, password)));
        if (!user.empty() && user.size() <= kMaxField && password.size() <= kMaxField)
            check(c && c->authzid.empty() && c->authcid == user && c->password == password);
        else
            check(!c);
    }
    return 0;
}
