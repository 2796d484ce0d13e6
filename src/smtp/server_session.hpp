// smtp/server_session.hpp — the SMTP server session for the MX, submission, submissions and ODMR
// roles; talks to untrusted peers; writes mail only through the intake.
#pragma once

#include <cstddef>

#include <boost/asio/awaitable.hpp>

#include "net/connection.hpp"
#include "service/services.hpp"

namespace mk {

enum class SmtpRole {
    mx,            // port 25 style: local domains from anyone, relay for trusted networks or AUTH
    submission,    // RFC 6409: AUTH required, STARTTLS offered
    submissions,   // RFC 8314: implicit TLS, AUTH required
    odmr,          // RFC 2645 provider: AUTH, then ATRN turns the connection round (Services::odmr);
                   // no mail transaction (MAIL, RCPT, DATA get 502)
    turned,        // RFC 2645 customer, after our ATRN's 250: the provider delivers on the connection we
                   // dialled; mail for our domains as from any MX client, never relay; no AUTH or
                   // STARTTLS (TLS stays as it was before ATRN)
};

// What a session came to: the messages it accepted (made durable and answered 250), and whether the
// client ended it with QUIT (a client that just went away may have had more to send: a reversed
// ATRN session cut off part-way is not a finished hand-over).
struct SmtpSessionEnd {
    std::size_t accepted = 0;
    bool quit = false;
};

// smtp_session - serve one connection until QUIT, a timeout, too many errors or close.
boost::asio::awaitable<SmtpSessionEnd> smtp_session(Connection& conn, Services& services, SmtpRole role);

}  // namespace mk
