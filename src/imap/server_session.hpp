// imap/server_session.hpp — the IMAP server session (RFC 9051 as IMAP4rev1's successor, RFC 3501)
// on the imap (STARTTLS) and imaps (implicit TLS) listeners: the local users' Maildirs (through
// store/mail_index) for every phone, tablet and laptop of the household. Talks to untrusted peers.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "net/connection.hpp"
#include "service/services.hpp"

namespace mk {

// imap_session - serve one connection until LOGOUT, a timeout, too many errors or close.
boost::asio::awaitable<void> imap_session(Connection& conn, Services& services);

}  // namespace mk
