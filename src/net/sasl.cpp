// net/sasl.cpp — SASL PLAIN message parsing (RFC 4616 2); the client's bytes are untrusted.
#include "net/sasl.hpp"

#include "core/base64.hpp"

namespace mk {

std::optional<SaslCredentials> decode_plain(std::string_view base64) {
    if (base64 == "=") return std::nullopt;   // RFC 4954 4: an empty response has no credentials
    auto raw = base64_decode(base64);
    if (!raw) return std::nullopt;
    std::string_view s = *raw;
    auto a = s.find('\0');
    if (a == std::string_view::npos) return std::nullopt;
    auto b = s.find('\0', a + 1);
    if (b == std::string_view::npos || s.find('\0', b + 1) != std::string_view::npos) return std::nullopt;
    SaslCredentials c{std::string(s.substr(0, a)), std::string(s.substr(a + 1, b - a - 1)),
                      std::string(s.substr(b + 1))};
    if (c.authcid.empty() || c.authcid.size() > 255 || c.password.size() > 255) return std::nullopt;
    return c;
}

}  // namespace mk
