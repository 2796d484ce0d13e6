// smtp/client.hpp — the SMTP/LMTP client (RFC 5321, RFC 2033 LMTP) used by the relay and for
// downstream delivery; the server it talks to is untrusted.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/config.hpp"
#include "core/durable.hpp"
#include "core/enhanced_status.hpp"
#include "net/client.hpp"

namespace mk::smtp {

// The SMTP client's options: the shared ones (net/client), tls defaulting to STARTTLS, and these.
struct ClientOptions : mk::ClientOptions {
    std::string helo;                        // our hostname
    bool tls_required = true;                // false: opportunistic STARTTLS (direct MX delivery)
    bool lmtp = false;                       // LHLO and one reply per recipient after DATA
};

// hop_options - the options for a hop from the configuration (smarthost, route, ODMR or ETRN
// provider): our hostname for EHLO, TLS as configured, required and verified as configured, its login.
ClientOptions hop_options(const Config& config, const HopConfig& hop, std::string server_name);

// The clients' one error type (net/client): a server's refusal with its reply code, or a failure of
// the network or by policy, always with its temporary/permanent bit. Cause says which.
using ClientError = mk::ClientError;
using Cause = mk::ClientCause;

struct OutboundRecipient {
    std::string address;
    unsigned notify = 0;                     // RFC 3461 NOTIFY bits (smtp::Notify); passed on with DSN
    std::string orcpt;
};

struct OutboundMessage {
    std::string sender;                      // MAIL FROM, already rewritten; empty = <>
    std::vector<OutboundRecipient> recipients;
    std::filesystem::path file;              // the queued message, CRLF line ends
    std::uint64_t skip = 0;                  // leading bytes not to send (the local Return-Path:)
    std::string from_rewrite_old;            // if set: this address in the From: header ...
    std::string from_rewrite_new;            // ... is replaced by this one
    bool body_8bit = false;
    bool smtputf8 = false;
    std::string ret, envid;                  // RFC 3461, passed on when the server offers DSN
    std::shared_ptr<Fd> converted;           // set by the client: a 7-bit copy sent instead of file
};

// A reply that decides something, typed once: code, enhanced status, and the whole reply as text.
struct Result {
    int code = 0;                            // 0 = never answered (connection lost)
    EnhancedStatus status;                   // from the reply (or our own local refusal), if any
    std::string text;                        // the server's whole reply, as "550 5.1.1 no such user"
    bool ok() const { return code >= 200 && code < 300; }
    bool permanent() const { return code >= 500; }
};

struct SendResult {
    Result message;                          // MAIL / DATA level: a failure here applies to all
    std::vector<Result> recipients;          // one per OutboundMessage::recipients, same order
};

// What a server announced in its EHLO/LHLO reply (RFC 5321 4.1.1.1, one keyword per line).
struct ServerExtensions {
    bool pipelining = false;                 // RFC 2920
    std::optional<std::uint64_t> size;       // RFC 1870 SIZE: offered; 0 = no fixed limit
    bool eightbitmime = false;               // RFC 6152
    bool smtputf8 = false;                   // RFC 6531
    bool dsn = false;                        // RFC 3461
    bool starttls = false;                   // RFC 3207
    bool enhanced_status_codes = false;      // RFC 2034
    bool atrn = false;                       // RFC 2645 (the provider's odmr port)
    bool etrn = false;                       // RFC 1985
    std::vector<std::string> auth;           // RFC 4954 mechanisms, uppercase ("AUTH=" form included)
};

// parse_extensions - the keywords of an EHLO reply; lines are the reply's texts without the
// "250-" prefixes, the first (the server's name) included. Unknown keywords are ignored.
ServerExtensions parse_extensions(const std::vector<std::string>& lines);

class Client {
public:
    virtual ~Client() = default;
    // connect - TCP to each endpoint in turn, then start() on it. Throws ClientError.
    static boost::asio::awaitable<std::unique_ptr<Client>> connect(std::vector<boost::asio::ip::tcp::endpoint> endpoints,
                                                                   ClientOptions options);
    // start - the session on a connection already open, whoever opened it (ODMR: the one a customer
    // dialled, whose 220 follows its ATRN's 250, RFC 2645 5.3): implicit TLS unless TLS is on already,
    // greeting, EHLO (HELO fallback), STARTTLS per options unless TLS is on, EHLO again, AUTH.
    // Throws ClientError; the connection is closed then.
    static boost::asio::awaitable<std::unique_ptr<Client>> start(std::unique_ptr<Connection> connection,
                                                                 ClientOptions options);
    // start - the same on a connection borrowed from its owner, who keeps it alive until the client
    // is gone (ODMR: the provider's server session after ATRN's 250, RFC 2645 5.3). TLS already on
    // is kept; none is started (options.tls is taken as none without it). QUIT, and a failure of the
    // network or of the protocol, close the connection; a refusal (a 554 greeting, EHLO refused)
    // and destroying the client leave it to its owner.
    static boost::asio::awaitable<std::unique_ptr<Client>> start(Connection& connection, ClientOptions options);
    // max_size - the server's SIZE limit (RFC 1870), 0 when it gave none.
    virtual std::uint64_t max_size() const = 0;
    virtual std::string peer() const = 0;    // "host[addr]:port" for logs and DSN Remote-MTA
    // extensions - what the server offered in its last EHLO/LHLO (after TLS, the one after TLS).
    // Not pure, so that fakes written against the first version of this interface still compile.
    virtual const ServerExtensions& extensions() const {
        static const ServerExtensions none;
        return none;
    }
    // tls - "TLSv1.3 TLS_AES_256_GCM_SHA384" when the session is encrypted, else empty (for logs).
    virtual std::string tls() const { return {}; }
    // send - one transaction (MAIL, RCPT..., DATA or its refusal); RSET after a failed one so the
    // connection can carry the next message. Throws ClientError when the connection is lost.
    // recipients[i] is always the reply that decides recipient i: its RCPT refusal, or the DATA
    // refusal or final reply (LMTP: its own reply after the dot, RFC 2033 4.2), or the MAIL refusal;
    // refusals made locally before anything is sent use the same codes (552 5.3.4 SIZE, 553 5.6.7
    // SMTPUTF8, 451 4.3.0 unreadable queue file); after send returns every recipient has a
    // non-zero code. Exception to the throw: when an LMTP server hangs up after some per-recipient
    // replies, the answered ones keep their replies (they are delivered), the rest and the message
    // get a local 451 4.4.2, and the client is unusable afterwards (the next send throws).
    virtual boost::asio::awaitable<SendResult> send(const OutboundMessage& message) = 0;
    virtual boost::asio::awaitable<void> quit() = 0;
    // command - one command outside a mail transaction (ETRN, ATRN: line without CRLF) and its reply,
    // waiting up to timeout for it. Throws ClientError when the connection is lost.
    virtual boost::asio::awaitable<Result> command(std::string line, std::chrono::seconds timeout) = 0;
    // turned - after a 250 to ATRN (RFC 2645 5.3) the connection is the caller's to serve the SMTP
    // session the provider now starts on it; this client says nothing more on it (quit() is a no-op)
    // and keeps it, with its TLS, alive until the client is destroyed.
    virtual Connection& turned() = 0;
};

}  // namespace mk::smtp
