// net/sasl.hpp — SASL PLAIN (RFC 4616) and LOGIN decoding, shared by SMTP AUTH and POP3 AUTH (server
// side, untrusted input), the client's messages for PLAIN and OAUTHBEARER/XOAUTH2 (relay, fetcher), and
// the mechanism lists servers announce (untrusted). Pure: no I/O, no Boost (the fuzz targets link it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mk {

struct SaslCredentials {
    std::string authzid, authcid, password;
};

// decode_plain - base64 "authzid\0authcid\0password"; nullopt if malformed. "=" is the empty string.
std::optional<SaslCredentials> decode_plain(std::string_view base64);

// Client side: the raw (not yet base64) messages a client sends. The inputs come from our own
// configuration; the protocol code still refuses control characters before they reach a command line.

// plain_response - RFC 4616 2: authzid NUL authcid NUL passwd, the authorization identity left empty.
std::string plain_response(std::string_view authcid, std::string_view password);
// oauth_response - the initial response for mechanism "OAUTHBEARER" (RFC 7628 3.1, with the GS2 header
// naming user) or "XOAUTH2" (Google's and Microsoft's format: user=..^Aauth=Bearer ..^A^A).
std::string oauth_response(std::string_view mechanism, std::string_view user, std::string_view token);
// oauth_failure_response - the answer to the server's error challenge after a refused token: the dummy
// %x01 for OAUTHBEARER (RFC 7628 3.2.3), an empty response for XOAUTH2 (as Google documents).
std::string oauth_failure_response(std::string_view mechanism);

// add_mechanisms - the names of a space-separated mechanism list (SMTP EHLO "AUTH", RFC 4954 3; POP3
// CAPA "SASL", RFC 2449 6.3) appended to into, upper-cased (names are case-insensitive, RFC 4422 3.1),
// each once.
void add_mechanisms(std::string_view list, std::vector<std::string>& into);

}  // namespace mk
