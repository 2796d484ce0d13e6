// net/sasl.hpp — SASL PLAIN (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195) decoding, shared by SMTP AUTH and
// POP3 AUTH (server side, untrusted input), the client's messages for PLAIN, CRAM-MD5 and
// OAUTHBEARER/XOAUTH2 (relay, fetcher, ODMR), and the mechanism lists servers announce (untrusted). Pure:
// no I/O, no Boost (the fuzz targets link it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cram_md5.hpp"

namespace mk {

struct SaslCredentials {
    std::string authzid, authcid, password;
};

// decode_plain - base64 "authzid\0authcid\0password"; nullopt if malformed. "=" is the empty string.
std::optional<SaslCredentials> decode_plain(std::string_view base64);

// CRAM-MD5 (RFC 2195), server side. The session sends cram_md5_challenge base64-encoded in its
// challenge (SMTP 334, RFC 4954 4), reads one line back ("*" cancels, RFC 4954 4), decodes it with
// decode_cram_md5 and checks it with verify_cram_md5 against the user's stored context
// (core/password's authenticate_cram_md5 does the lookup and the check in constant time).

// Bounds on the decoded response "user SP digest": the user name as PLAIN's authcid (RFC 4616 2).
constexpr std::size_t kMaxCramMd5User = 255;

// cram_md5_challenge - RFC 2195 2: "<random.time@hostname>", a msg-id (RFC 5322 3.6.4) never sent before:
// random from the system's random source, time in seconds since the epoch, hostname ours.
std::string cram_md5_challenge(std::uint64_t random, std::uint64_t time, std::string_view hostname);

struct CramMd5Response {
    std::string user;       // 1..kMaxCramMd5User octets, no control characters
    Md5Digest digest;       // HMAC-MD5(password, challenge)
};

// decode_cram_md5 - the client's base64 response, "user SP 32 hex digits" (the last space separates:
// RFC 2195 2 leaves spaces in user names open); nullopt if malformed. Lower-case hex is what RFC 2195
// asks for; upper case is accepted too.
std::optional<CramMd5Response> decode_cram_md5(std::string_view base64);
// verify_cram_md5 - the response's digest is the HMAC-MD5 of challenge under the password whose context
// is stored (Dovecot's CRAM-MD5 scheme); compared in constant time. The user name is not looked at.
bool verify_cram_md5(const CramMd5Context& stored, std::string_view challenge, const CramMd5Response& response);

// Client side: the raw (not yet base64) messages a client sends. The inputs come from our own
// configuration; the protocol code still refuses control characters before they reach a command line.

// plain_response - RFC 4616 2: authzid NUL authcid NUL passwd, the authorization identity left empty.
std::string plain_response(std::string_view authcid, std::string_view password);
// cram_md5_response - RFC 2195 2: "user SP hex(HMAC-MD5(password, challenge))", challenge as decoded
// from the server's base64.
std::string cram_md5_response(std::string_view user, std::string_view password, std::string_view challenge);
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
