// net/sasl_client.cpp — SASL logins for the protocol clients: mechanism choice, secrets fetched and
// checked off the network thread, the exchanges of PLAIN, LOGIN and the OAuth bearer mechanisms. What
// the server sends is untrusted (only the OAuth error challenge is logged, escaped and cut).
#include "net/sasl_client.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/base64.hpp"
#include "core/text.hpp"
#include "net/offload.hpp"
#include "net/sasl.hpp"

namespace mk {

namespace {

// Server text quoted in the log (the OAuth error challenge) is cut to this many octets.
constexpr std::size_t kMaxQuotedChallenge = 200;

// has_line_break_or_nul - CR or LF would end a command line and start another where a secret goes
// out raw (POP3 USER/PASS, IMAP LOGIN); NUL ends PLAIN's fields (RFC 4616 2).
bool has_line_break_or_nul(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool offers(const std::vector<std::string>& offered, SaslMechanism m) {
    return std::find(offered.begin(), offered.end(), sasl_name(m)) != offered.end();
}

bool is_oauth(SaslMechanism m) { return m == SaslMechanism::oauthbearer || m == SaslMechanism::xoauth2; }

}  // namespace

std::string_view sasl_name(SaslMechanism m) {
    switch (m) {
        case SaslMechanism::oauthbearer: return "OAUTHBEARER";
        case SaslMechanism::xoauth2: return "XOAUTH2";
        case SaslMechanism::plain: return "PLAIN";
        case SaslMechanism::login: return "LOGIN";
        case SaslMechanism::cram_md5: return "CRAM-MD5";
    }
    return "?";
}

std::optional<SaslMechanism> choose_mechanism(const std::vector<std::string>& offered, bool token, bool login_allowed,
                                              bool encrypted) {
    if (token) {
        if (offers(offered, SaslMechanism::oauthbearer)) return SaslMechanism::oauthbearer;
        if (offers(offered, SaslMechanism::xoauth2)) return SaslMechanism::xoauth2;
        return std::nullopt;
    }
    if (!encrypted && offers(offered, SaslMechanism::cram_md5)) return SaslMechanism::cram_md5;
    if (offers(offered, SaslMechanism::plain)) return SaslMechanism::plain;
    if (login_allowed && offers(offered, SaslMechanism::login)) return SaslMechanism::login;
    if (offers(offered, SaslMechanism::cram_md5)) return SaslMechanism::cram_md5;
    return std::nullopt;
}

// no_secret - the login cannot start: no secret to be had, or one we will not send. The user's to fix.
void SaslClient::no_secret(std::string_view what, const std::string& why) const {
    throw ClientError(fmt::format("{}: {}: {}", context_.peer, what, why), ClientCause::policy).at_login(true);
}

// refused - the server's final answer was no: its code and whether it said "later" are passed on.
void SaslClient::refused(SaslMechanism m, const SaslStep& step) const {
    throw ClientError(fmt::format("{}: {} {} as {} failed: {}", context_.peer, context_.command, sasl_name(m),
                                  options_.username, step.summary),
                      step.code, step.temporary)
        .at_login(step.credentials);
}

// password - the configured password (password_command runs on the blocking pool), checked.
awaitable<std::string> SaslClient::password() {
    std::string secret;
    std::string error;
    try {
        if (options_.password) secret = co_await offload([&] { return options_.password(); });
        else error = "none configured";
    } catch (const std::exception& e) {
        error = e.what();   // run_secret_command's message: the exit status, never the output
    }
    if (!error.empty()) no_secret("no password", error);
    // Whatever produced such a password, it is not sent: it would inject a command or cut PLAIN short.
    if (has_line_break_or_nul(secret)) no_secret("no password", "it contains CR, LF or NUL; not sent");
    co_return secret;
}

// token - a bearer token (the token command runs on the blocking pool); refresh: a new one, the last
// was refused. A token is base64url-ish text (RFC 6750 2.1): a control character means a broken command.
awaitable<std::string> SaslClient::token(bool refresh) {
    std::string secret;
    std::string error;
    try {
        secret = co_await offload([&] { return options_.oauth_token(refresh); });
    } catch (const std::exception& e) {
        error = e.what();   // the token command's exit status, never its output
    }
    if (error.empty() && secret.empty()) error = "empty";
    if (error.empty() && has_control(secret)) error = "control character in the token";
    if (!error.empty()) no_secret("no OAuth token", error);
    co_return secret;
}

// exchange - one attempt with mechanism m and its secret, to the server's final answer. A refused
// bearer token gets a challenge carrying an error in JSON, which is logged and answered (RFC 7628
// 3.2.3: the dummy %x01 for OAUTHBEARER; an empty response for XOAUTH2, as Google documents); any
// challenge a mechanism has no answer for is cancelled.
awaitable<SaslStep> SaslClient::exchange(SaslMechanism m, const std::string& secret) {
    const std::string name(sasl_name(m));
    SaslStep step;
    if (m == SaslMechanism::plain) {
        step = co_await framing_.sasl_start(name, plain_response(options_.username, secret));
    } else if (m == SaslMechanism::cram_md5) {
        // RFC 2195 2: the server's challenge first, then "user digest" (the password never leaves).
        step = co_await framing_.sasl_start(name, std::nullopt);
        if (step.kind == SaslStep::Kind::challenge) {
            std::optional<std::string> challenge = base64_decode(step.challenge);
            if (!challenge)
                throw ClientError(fmt::format("{}: {} CRAM-MD5: the challenge is not base64", context_.peer,
                                              context_.command),
                                  ClientCause::policy);
            step = co_await framing_.sasl_respond(cram_md5_response(options_.username, secret, *challenge));
        }
    } else if (m == SaslMechanism::login) {
        // LOGIN: the user name, then the password, each after a challenge (whatever its text says).
        step = co_await framing_.sasl_start(name, std::nullopt);
        if (step.kind == SaslStep::Kind::challenge) step = co_await framing_.sasl_respond(options_.username);
        if (step.kind == SaslStep::Kind::challenge) step = co_await framing_.sasl_respond(secret);
    } else {
        step = co_await framing_.sasl_start(name, oauth_response(name, options_.username, secret));
        if (step.kind == SaslStep::Kind::challenge) {
            auto detail = base64_decode(step.challenge);   // {"status":"invalid_token",...}: no secret in it
            if (detail)
                spdlog::info("{} {}: {} {} refused: {}", context_.role, context_.peer, context_.command, name,
                             printable(std::string_view(*detail).substr(0, kMaxQuotedChallenge)));
            step = co_await framing_.sasl_respond(oauth_failure_response(name));
        }
    }
    if (step.kind != SaslStep::Kind::challenge) co_return step;
    // One challenge more than the mechanism has: give up the exchange; the attempt has failed.
    step = co_await framing_.sasl_cancel();
    if (step.kind == SaslStep::Kind::success)
        throw ClientError(fmt::format("{}: {} {} succeeded after being cancelled", context_.peer, context_.command, name),
                          ClientCause::policy);
    if (step.kind == SaslStep::Kind::challenge)
        throw ClientError(fmt::format("{}: server keeps challenging after {} was cancelled", context_.peer,
                                      context_.command),
                          ClientCause::policy);
    co_return step;
}

// authenticate - the whole login with mechanism m: the secret it needs, the exchange, and for a
// bearer token refused as such (most often it expired) one more attempt with a fresh one.
awaitable<void> SaslClient::authenticate(SaslMechanism m) {
    if (!is_oauth(m)) {
        std::string secret = co_await password();
        SaslStep step = co_await exchange(m, secret);
        if (step.kind != SaslStep::Kind::success) refused(m, step);
        co_return;
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool refresh = attempt > 0;
        std::string secret = co_await token(refresh);
        SaslStep step = co_await exchange(m, secret);
        if (step.kind == SaslStep::Kind::success) co_return;
        // A refusal for another cause (SMTP 454, POP3 [SYS/TEMP]) is not cured by a new token.
        if (refresh || !step.credentials) refused(m, step);
        spdlog::info("{} {}: {} {} refused, retrying with a refreshed token", context_.role, context_.peer,
                     context_.command, sasl_name(m));
    }
}

awaitable<std::optional<std::string>> SaslClient::login(const std::vector<std::string>& offered, bool login_allowed,
                                                        bool own_login) {
    if (has_line_break_or_nul(options_.username)) no_secret("user name", "it contains CR, LF or NUL; not sent");
    const bool by_token = static_cast<bool>(options_.oauth_token);
    std::optional<SaslMechanism> m = choose_mechanism(offered, by_token, login_allowed, context_.encrypted);
    if (m) {
        co_await authenticate(*m);
        co_return std::nullopt;
    }
    if (by_token)
        throw ClientError(fmt::format("{}: server offers neither OAUTHBEARER nor XOAUTH2", context_.peer),
                          ClientCause::policy)
            .at_login(true);
    if (!own_login)
        throw ClientError(fmt::format("{}: server offers none of {} PLAIN, LOGIN, CRAM-MD5", context_.peer,
                                      context_.command),
                          ClientCause::policy)
            .at_login(true);
    std::string secret = co_await password();
    co_return secret;
}

}  // namespace mk
