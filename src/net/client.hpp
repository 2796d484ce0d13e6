// net/client.hpp — what the SMTP, POP3 and IMAP clients share: their options, their one error type
// (why a session failed, and whether it may work later), the way to a server (each address in turn)
// and the connection a session holds. The servers are untrusted; the options are our configuration.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <spdlog/spdlog.h>

#include "core/config.hpp"   // TlsMode
#include "net/connection.hpp"

namespace mk {

// What every client session is told: where the server is by name, how to protect the session, and
// who logs in with what secret (one of password and oauth_token, as the configuration allows).
struct ClientOptions {
    std::string server_name;                 // SNI and the name the certificate must carry (RFC 6125);
                                             // empty: the address connected to
    TlsMode tls = TlsMode::starttls;         // none, the protocol's upgrade (SMTP STARTTLS, POP3 STLS,
                                             // IMAP STARTTLS), or implicit (RFC 8314)
    bool tls_verify = true;                  // chain and host name
    std::filesystem::path ca_file;           // empty = the system store
    // POP3 and IMAP: the idle time per read or write with nothing moving, not a total; not positive:
    // kDefaultClientTimeout. The SMTP client waits as RFC 5321 4.5.3.2 says for each command.
    std::chrono::seconds timeout{0};
    std::string username;                    // empty: no login (SMTP: no AUTH)
    std::function<std::string()> password;   // called on the blocking pool when needed (password_command)
    // oauth_token(refresh): a bearer token for XOAUTH2/OAUTHBEARER, on the blocking pool; refresh=true
    // after the server refused the previous one (the token command runs again). Set: log in by token.
    std::function<std::string(bool refresh)> oauth_token;
};

// The fetcher's documented default ("timeout = 60s") where the options give none.
constexpr std::chrono::seconds kDefaultClientTimeout{60};

// idle_timeout - options.timeout, or kDefaultClientTimeout when it is not positive.
std::chrono::steady_clock::duration idle_timeout(const ClientOptions& options);

// Why a client session failed. Only a network failure may mean that the line is down (the relay then
// waits and probes); the others are counted retries that show their reason in `queue list`.
enum class ClientCause {
    reply,     // the server refused: code() is its reply code where the protocol has codes (SMTP)
    network,   // no conversation: connect failed, a timeout, the connection lost
    policy,    // it cannot go on by our rules, or the peer broke the protocol: TLS verification,
               // STARTTLS required but not offered, no usable login, a malformed reply
};

// The one error of the clients: what happened (for logs, `queue list`, `mailkeep status`), why
// (cause), and whether it may work later (temporary: SMTP 4xx vs 5xx, retry vs bounce).
class ClientError : public std::runtime_error {
public:
    // A server's refusal: code is its reply code (SMTP; 0 for POP3 and IMAP, which have none).
    ClientError(const std::string& what, int code, bool temporary)
        : std::runtime_error(what), code_(code), temporary_(temporary), cause_(ClientCause::reply) {}
    // A failure with no refusal behind it (network, policy): always temporary.
    ClientError(const std::string& what, ClientCause cause)
        : std::runtime_error(what), code_(0), temporary_(true), cause_(cause) {}
    // at_login - marks a failure of the login itself: no other address of the server is tried (each
    // would get the same credentials, and repeated failures can lock the account). credentials: our
    // user name or secret is at fault (refused, or none to be had): the user has something to fix.
    ClientError& at_login(bool credentials) {
        at_login_ = true;
        credentials_ = credentials;
        return *this;
    }

    int code() const { return code_; }               // the server's reply code, or 0
    bool temporary() const { return temporary_; }
    ClientCause cause() const { return cause_; }
    bool login() const { return at_login_; }         // failed in the login (see at_login)
    bool auth() const { return credentials_; }       // the credentials are at fault (see at_login)

private:
    int code_;
    bool temporary_;
    ClientCause cause_;
    bool at_login_ = false;
    bool credentials_ = false;
};

// peer_name - "host[address]:port", as Postfix names its peers in logs ("unknown" without a host).
std::string peer_name(const std::string& server_name, const boost::asio::ip::tcp::endpoint& endpoint);

// client_tls_context - the TLS context for a session with these options (null with TLS off), made
// once for all the addresses of a server; an unreadable ca_file is a policy ClientError.
std::shared_ptr<boost::asio::ssl::context> client_tls_context(const ClientOptions& options);

// dial - a TCP connection to endpoint within timeout, or a network ClientError naming the peer
// ("host[address]:port: connect: Connection refused").
boost::asio::awaitable<std::unique_ptr<Connection>> dial(const boost::asio::ip::tcp::endpoint& endpoint,
                                                         const std::string& server_name,
                                                         std::chrono::steady_clock::duration timeout);

// ClientSession - the part of a protocol client that every protocol has alike: the connection,
// whoever opened it, the name the peer goes by, TLS as configured, and how a failed session ends.
class ClientSession {
public:
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;
    // again - after open() failed: a new connection to the same address may do better (connect_any).
    virtual bool again() const { return false; }

protected:
    // conn: connected (TLS possibly on already); tls_ctx: null when the session will not start TLS.
    ClientSession(std::unique_ptr<Connection> conn, std::shared_ptr<boost::asio::ssl::context> tls_ctx,
                  std::string server_name);
    // A session on a connection borrowed from its owner (ODMR: the server session that took ATRN),
    // which outlives the session. It starts no TLS of its own (a TLS stream must not outlive its
    // context, which the session would hold); fail() and the protocol's goodbye still close it.
    ClientSession(Connection& conn, std::string server_name);
    virtual ~ClientSession();   // closes an owned connection (POP3: without QUIT nothing is deleted)

    // broken - the protocol's state machine takes its broken state (fail() calls it first).
    virtual void broken() = 0;
    // fail - the session is unusable (network, TLS, protocol violation): close and throw
    // "peer: what" with cause.
    [[noreturn]] void fail(const std::string& what, ClientCause cause);
    // write - the whole buffer within timeout, or fail (network).
    boost::asio::awaitable<void> write(std::string_view data, const char* what,
                                       std::chrono::steady_clock::duration timeout);
    // start_tls - the client side of TLS (implicit, or after the protocol's STARTTLS), with SNI and
    // verification as configured; without a server name the certificate is checked against the
    // address. A failure breaks the session: network when it timed out (the line may be down),
    // policy otherwise (verification, no common protocol, a plaintext port: the peer answered).
    boost::asio::awaitable<void> start_tls(std::chrono::steady_clock::duration timeout);

    std::shared_ptr<boost::asio::ssl::context> tls_ctx_;   // before owned_: it outlives the TLS stream
    std::unique_ptr<Connection> owned_;                    // null when the connection is borrowed
    Connection* conn_;                                     // owned_, or the borrowed one; never null
    std::string server_name_;
    std::string peer_;
};

// connect_any - each endpoint in turn: dial it, make a session Impl(connection, options, TLS
// context) on the connection, prepare(session, attempt) it and open() it; the first session that
// opens wins. The TLS context is made once for all (null with TLS off). A session that failed may ask
// for a new connection to the same address (again(); attempt counts them from 0). RFC 5321 5.1: a
// failure moves on to the next address, but not a failed login (ClientError::login()). Throws the
// last ClientError; no endpoints: a network one.
template <class Impl, class Options, class Prepare>
boost::asio::awaitable<std::unique_ptr<Impl>> connect_any(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
                                                          const Options& options,
                                                          std::chrono::steady_clock::duration connect_timeout,
                                                          Prepare prepare) {
    if (endpoints.empty()) throw ClientError("no address to connect to", ClientCause::network);
    const std::shared_ptr<boost::asio::ssl::context> ctx = client_tls_context(options);
    std::optional<ClientError> last;
    for (const auto& endpoint : endpoints) {
        for (unsigned attempt = 0;; ++attempt) {
            std::unique_ptr<Impl> client;
            try {
                std::unique_ptr<Connection> conn = co_await dial(endpoint, options.server_name, connect_timeout);
                client = std::make_unique<Impl>(std::move(conn), options, ctx);
                prepare(*client, attempt);
                co_await client->open();
                co_return client;
            } catch (const ClientError& e) {
                spdlog::info("{}", e.what());
                last = e;
            }
            if (last->login()) throw *last;
            if (!client || !client->again()) break;
        }
    }
    throw *last;
}

// connect_any - the same with nothing to prepare.
template <class Impl, class Options>
boost::asio::awaitable<std::unique_ptr<Impl>> connect_any(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
                                                          const Options& options,
                                                          std::chrono::steady_clock::duration connect_timeout) {
    return connect_any<Impl>(endpoints, options, connect_timeout, [](Impl&, unsigned) {});
}

// start_session - a session Impl(connection, options, TLS context) on a connection already open,
// whoever opened it, then open(); the TLS context is made only when TLS is not on already.
template <class Impl, class Options>
boost::asio::awaitable<std::unique_ptr<Impl>> start_session(std::unique_ptr<Connection> connection, Options options) {
    std::shared_ptr<boost::asio::ssl::context> ctx;
    if (!connection->tls()) ctx = client_tls_context(options);
    auto client = std::make_unique<Impl>(std::move(connection), std::move(options), std::move(ctx));
    co_await client->open();
    co_return client;
}

// start_borrowed - a session Impl(connection, options) on a connection borrowed from its owner
// (who keeps it alive until the session is gone), then open(). No TLS is started on it: TLS that
// is on already is kept, otherwise the session runs without (options.tls is taken as none).
template <class Impl, class Options>
boost::asio::awaitable<std::unique_ptr<Impl>> start_borrowed(Connection& connection, Options options) {
    if (!connection.tls()) options.tls = TlsMode::none;
    auto client = std::make_unique<Impl>(connection, std::move(options));
    co_await client->open();
    co_return client;
}

}  // namespace mk
