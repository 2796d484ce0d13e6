// server/listeners.hpp — the listener roles: one row per [listen] key, saying how a connection
// accepted there is served. The daemon binds, accepts, caps and logs from this table alone; a new
// protocol (IMAP, IMAPS, HTTP; ODMR is one already) is a row here and a session of its own.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/config.hpp"

namespace mk {

class Connection;
struct Services;

// How a role uses TLS.
enum class ListenTls {
    none,        // plaintext only
    starttls,    // plaintext, upgraded on the client's request when [tls] gives a certificate
    required,    // as starttls, but the role is useless without it (submission: AUTH only under
                 // TLS), so a certificate that cannot be loaded stops the start
    implicit,    // TLS from the first byte (RFC 8314); the handshake precedes the session
};

// needs_certificate - whether the daemon may not start without a TLS context when this role listens.
constexpr bool needs_certificate(ListenTls t) { return t == ListenTls::required || t == ListenTls::implicit; }

// A session entry point: serves one already-connected connection (TLS already on for an implicit
// role) with the daemon's shared services, until the peer leaves or the session ends it.
using SessionEntry = boost::asio::awaitable<void> (*)(Connection& conn, Services& services);

struct ListenerRole {
    std::string_view key;                              // the [listen] key, also the name in logs
    std::vector<Endpoint> ListenConfig::*endpoints;    // where the config lists its addresses
    ListenTls tls;
    SessionEntry session;
    std::string refusal;   // the protocol's temporary refusal, wire bytes, when the connection cap is full
};

// listener_roles - every role, in the order the daemon binds them.
std::span<const ListenerRole> listener_roles();

// endpoints - the addresses c gives role.
inline const std::vector<Endpoint>& endpoints(const Config& c, const ListenerRole& role) {
    return c.listen.*role.endpoints;
}

}  // namespace mk
