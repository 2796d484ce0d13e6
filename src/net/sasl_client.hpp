// net/sasl_client.hpp — the client side of SASL (RFC 4422) for the SMTP, POP3 and IMAP clients: which
// mechanism, the secrets, the messages of PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER, and the one token
// refresh after a refusal. Each protocol only frames the exchange (SMTP AUTH / 334, POP3 AUTH / "+ ",
// IMAP AUTHENTICATE / "+ "). The server is untrusted; the secrets are our configuration's, never logged.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "net/client.hpp"

namespace mk {

enum class SaslMechanism { oauthbearer, xoauth2, plain, login, cram_md5 };

// sasl_name - the mechanism's registered name ("OAUTHBEARER", "XOAUTH2", "PLAIN", "LOGIN", "CRAM-MD5").
std::string_view sasl_name(SaslMechanism m);

// choose_mechanism - the best of what the server offers (names in upper case) for our kind of secret:
// with a token OAUTHBEARER (RFC 7628), else XOAUTH2. With a password: on a connection without TLS
// (allowed only where the configuration asked for none, to loopback) CRAM-MD5 (RFC 2195) first, since
// the password itself is not sent; then PLAIN (RFC 4616), LOGIN when the protocol allows it
// (login_allowed: SMTP, where it is common), and CRAM-MD5 last (RFC 2645 ODMR providers may offer
// nothing else). nullopt when none fits.
std::optional<SaslMechanism> choose_mechanism(const std::vector<std::string>& offered, bool token, bool login_allowed,
                                              bool encrypted);

// What the server said at one step of an exchange, as the protocol reads its reply.
struct SaslStep {
    enum class Kind { challenge, success, failure };
    Kind kind = Kind::failure;
    std::string challenge;      // challenge: the server's data, base64 as sent
    // failure:
    int code = 0;               // the reply code where the protocol has one (SMTP 535), else 0
    bool temporary = false;     // the server said to try later (SMTP 4xx, POP3 [SYS/TEMP], [IN-USE])
    bool credentials = true;    // the refusal is of our credentials: a fresh token may cure it
    std::string summary;        // the reply as text, for errors and logs
};

// SaslFraming - a protocol's half of an exchange: its commands around the mechanism's messages. The
// messages come raw; the framing encodes them (base64) and reads the server's next step. A broken
// connection or a malformed reply fails the session there (ClientError, not of the login).
class SaslFraming {
public:
    virtual ~SaslFraming() = default;
    // sasl_start - begin with mechanism, with the initial response when the mechanism has one (on the
    // command line, or after an empty challenge where the line would be too long: the framing decides).
    virtual boost::asio::awaitable<SaslStep> sasl_start(std::string_view mechanism,
                                                        const std::optional<std::string>& initial) = 0;
    // sasl_respond - the response to a challenge.
    virtual boost::asio::awaitable<SaslStep> sasl_respond(std::string_view response) = 0;
    // sasl_cancel - "*": the client gives up the exchange (RFC 4954 4, RFC 5034 4, RFC 3501 6.2.2).
    virtual boost::asio::awaitable<SaslStep> sasl_cancel() = 0;
};

// Who logs in, for the messages: the protocol's command, the peer, the log's prefix.
struct SaslContext {
    std::string_view command;   // "AUTH", "AUTHENTICATE"
    std::string_view peer;      // "host[address]:port"
    std::string_view role;      // "smtp client"
    bool encrypted;             // TLS is on (choose_mechanism)
};

// SaslClient - one login by SASL over a protocol's framing, as options say (username, password,
// oauth_token). Secrets are fetched on the blocking pool and checked before anything is sent.
class SaslClient {
public:
    SaslClient(SaslFraming& framing, const ClientOptions& options, SaslContext context)
        : framing_(framing), options_(options), context_(context) {}

    // login - log in the best way the server offers (offered: mechanism names, upper case) for our
    // secret: a token by OAUTHBEARER or XOAUTH2, fetched again once when the server refuses it; a
    // password by CRAM-MD5, PLAIN, or LOGIN where login_allowed (choose_mechanism). When no mechanism fits a password and the
    // protocol has a login of its own (own_login: POP3 USER/PASS, IMAP LOGIN), the password, fetched
    // and checked, is returned for it; nullopt: logged in. Throws ClientError: marked at_login when
    // the login failed (refused, no secret, nothing that fits), not when the session broke.
    boost::asio::awaitable<std::optional<std::string>> login(const std::vector<std::string>& offered,
                                                             bool login_allowed, bool own_login);

private:
    boost::asio::awaitable<std::string> password();
    boost::asio::awaitable<std::string> token(bool refresh);
    boost::asio::awaitable<SaslStep> exchange(SaslMechanism m, const std::string& secret);
    boost::asio::awaitable<void> authenticate(SaslMechanism m);
    [[noreturn]] void no_secret(std::string_view what, const std::string& why) const;
    [[noreturn]] void refused(SaslMechanism m, const SaslStep& step) const;

    SaslFraming& framing_;
    const ClientOptions& options_;
    SaslContext context_;
};

}  // namespace mk
