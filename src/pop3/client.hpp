// pop3/client.hpp — the POP3 client (RFC 1939, 2449 CAPA, 2595 STLS, 5034 AUTH) used by the
// fetcher; the provider's server is untrusted: every reply is bounded and checked.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/client.hpp"

namespace mk::pop3 {

// The shared client options (net/client): tls starttls means STLS (RFC 2595 4).
using ClientOptions = mk::ClientOptions;

// The shared error (net/client). auth(): the credentials were refused (any -ERR to USER/PASS/AUTH,
// unless its response code says the cause lies elsewhere: SYS/TEMP, SYS/PERM (RFC 3206), IN-USE,
// LOGIN-DELAY (RFC 2449 8.1)), or none could be had (no password, the token command failed);
// otherwise network, TLS or protocol trouble, or a refusal of one command. Either way, nothing was
// deleted that was not durable: a session that fails is closed without QUIT, so the server commits
// none of its DELEs (RFC 1939 6).
using ClientError = mk::ClientError;

struct MessageInfo {
    unsigned number = 0;
    std::uint64_t size = 0;        // LIST size (octets with CRLF)
    std::string uid;               // UIDL, or "sha256:<hex>" of the TOP n 0 response and the size when
                                   // the server has no UIDL (see uids_from_top in client.cpp)
};

class Client {
public:
    virtual ~Client() = default;
    // connect - TCP to each endpoint in turn, then start() on it. Throws ClientError.
    static boost::asio::awaitable<std::unique_ptr<Client>> connect(std::vector<boost::asio::ip::tcp::endpoint> endpoints,
                                                                   ClientOptions options);
    // start - the session on a connection already open: implicit TLS unless TLS is on already,
    // greeting, CAPA, STLS per options unless TLS is on, login: AUTH OAUTHBEARER/XOAUTH2, AUTH PLAIN,
    // or USER/PASS. Throws ClientError; the connection is closed then.
    static boost::asio::awaitable<std::unique_ptr<Client>> start(std::unique_ptr<Connection> connection,
                                                                 ClientOptions options);
    // messages - LIST and UIDL of the maildrop (RFC 1939 5, 7), in message-number order.
    virtual boost::asio::awaitable<std::vector<MessageInfo>> messages() = 0;
    // retrieve - RETR n: the message, dot-unstuffed, CRLF line ends, handed to sink in pieces
    // (bounded memory whatever the size); sink may throw to abort (the session is then unusable).
    // next: the message the caller will ask for after this one, if any; with PIPELINING (RFC 2449
    // 6.6) its RETR goes out now, so its bytes travel while the caller stores this one.
    virtual boost::asio::awaitable<void> retrieve(unsigned number, const std::function<void(std::string_view)>& sink,
                                                  unsigned next = 0) = 0;
    // remove - DELE n (takes effect at QUIT, RFC 1939 6).
    virtual boost::asio::awaitable<void> remove(unsigned number) = 0;
    // quit - QUIT: the server's UPDATE state commits the deletions. Throws if it does not say +OK.
    virtual boost::asio::awaitable<void> quit() = 0;
    virtual std::string peer() const = 0;
};

}  // namespace mk::pop3
