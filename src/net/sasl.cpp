// net/sasl.cpp — SASL PLAIN and CRAM-MD5 message parsing (RFC 4616 2, RFC 2195 2; the client's bytes are
// untrusted) and the client-side messages for PLAIN, CRAM-MD5 and OAuth bearer tokens (built from our own
// configuration).
#include "net/sasl.hpp"

#include <algorithm>

#include "core/base64.hpp"
#include "core/text.hpp"

namespace mk {

namespace {

// gs2_saslname - RFC 5801 saslname escaping of the authzid in the OAUTHBEARER GS2 header.
std::string gs2_saslname(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == ',') out += "=2C";
        else if (c == '=') out += "=3D";
        else out += c;
    }
    return out;
}

}  // namespace

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

std::string cram_md5_challenge(std::uint64_t random, std::uint64_t time, std::string_view hostname) {
    std::string out = "<" + std::to_string(random) + "." + std::to_string(time) + "@";
    out += hostname;
    return out + ">";
}

std::optional<CramMd5Response> decode_cram_md5(std::string_view base64) {
    if (base64 == "=") return std::nullopt;   // RFC 4954 4: an empty response
    auto raw = base64_decode(base64);
    if (!raw) return std::nullopt;
    std::string_view s = *raw;
    auto space = s.rfind(' ');
    if (space == std::string_view::npos) return std::nullopt;
    std::string_view user = s.substr(0, space);
    auto digest = parse_digest_hex(s.substr(space + 1));
    if (!digest || user.empty() || user.size() > kMaxCramMd5User || has_control(user)) return std::nullopt;
    return CramMd5Response{std::string(user), *digest};
}

bool verify_cram_md5(const CramMd5Context& stored, std::string_view challenge, const CramMd5Response& response) {
    return same_digest(hmac_md5(stored, challenge), response.digest);
}

std::string cram_md5_response(std::string_view user, std::string_view password, std::string_view challenge) {
    std::string out(user);
    out += ' ';
    out += digest_hex(hmac_md5(cram_md5_context(password), challenge));
    return out;
}

std::string plain_response(std::string_view authcid, std::string_view password) {
    std::string out(1, '\0');
    out += authcid;
    out += '\0';
    out += password;
    return out;
}

std::string oauth_response(std::string_view mechanism, std::string_view user, std::string_view token) {
    std::string out;
    if (mechanism == "OAUTHBEARER") {
        out = "n,a=" + gs2_saslname(user) + ",\x01";   // RFC 7628 3.1: gs2-header, then kvpairs
    } else {
        out = "user=";
        out += user;
        out += '\x01';
    }
    out += "auth=Bearer ";
    out += token;
    out += "\x01\x01";
    return out;
}

std::string oauth_failure_response(std::string_view mechanism) {
    return mechanism == "OAUTHBEARER" ? std::string("\x01") : std::string();
}

void add_mechanisms(std::string_view list, std::vector<std::string>& into) {
    std::size_t pos = 0;
    while (pos < list.size()) {
        std::size_t end = list.find(' ', pos);
        if (end == std::string_view::npos) end = list.size();
        std::string mech = uppercase_ascii(list.substr(pos, end - pos));
        if (!mech.empty() && std::find(into.begin(), into.end(), mech) == into.end()) into.push_back(std::move(mech));
        pos = end + 1;
    }
}

}  // namespace mk
