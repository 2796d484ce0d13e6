// net/sasl.hpp — SASL PLAIN (RFC 4616) and LOGIN decoding, shared by SMTP AUTH and POP3 AUTH.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mk {

struct SaslCredentials {
    std::string authzid, authcid, password;
};

// decode_plain - base64 "authzid\0authcid\0password"; nullopt if malformed. "=" is the empty string.
std::optional<SaslCredentials> decode_plain(std::string_view base64);

}  // namespace mk
