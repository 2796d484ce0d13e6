// pop3/server_session.hpp — the POP3 server session (RFC 1939, 2449, 2595, 5034); talks to untrusted
// clients; reads maildrops through store/ only.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "net/connection.hpp"
#include "service/services.hpp"

namespace mk {

// pop3_session - serve one connection until QUIT, timeout or close. The connection is already TLS
// when it came in on pop3s (conn.tls() is true).
boost::asio::awaitable<void> pop3_session(Connection& conn, Services& services);

}  // namespace mk
