// smtp/client.hpp — the SMTP/LMTP client (RFC 5321, RFC 2033 LMTP) used by the relay and for
// downstream delivery; the server it talks to is untrusted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/config.hpp"
#include "store/durable.hpp"

namespace mk::smtp {

struct ClientOptions {
    std::string helo;                        // our hostname
    TlsMode tls = TlsMode::starttls;
    bool tls_required = true;                // false: opportunistic STARTTLS (direct MX delivery)
    bool tls_verify = true;                  // chain and host name (RFC 6125)
    std::filesystem::path ca_file;           // empty = system store
    std::string server_name;                 // SNI and the name the certificate must carry
    std::string username;                    // empty = no AUTH
    std::function<std::string()> password;   // called when needed (may run password_command)
    // oauth_token(refresh): a bearer token for XOAUTH2/OAUTHBEARER; refresh=true after the server
    // refused the previous one as expired (the token command is re-run).
    std::function<std::string(bool refresh)> oauth_token;
    bool lmtp = false;                       // LHLO and one reply per recipient after DATA
};

// A failure of the whole connection or session before any per-recipient answer.
// Why a session failed. Only a network failure may mean that the line is down (the relay then
// waits and probes); the others are counted retries that show their reason in `queue list`.
enum class Cause {
    reply,     // the server answered with code()
    network,   // no conversation: connect failed, a timeout, the connection lost
    policy,    // it cannot go on by our rules, or the peer broke the protocol: TLS verification,
               // STARTTLS required but not offered, no usable AUTH, a malformed reply
};

class ClientError : public std::runtime_error {
public:
    // A server's refusal.
    ClientError(const std::string& what, int code, bool temporary)
        : std::runtime_error(what), code_(code), temporary_(temporary), cause_(Cause::reply) {}
    // A failure with no reply code: always temporary.
    ClientError(const std::string& what, Cause cause) : std::runtime_error(what), code_(0), temporary_(true), cause_(cause) {}
    int code() const { return code_; }            // the server's reply code, or 0
    bool temporary() const { return temporary_; }
    Cause cause() const { return cause_; }

private:
    int code_;
    bool temporary_;
    Cause cause_;
};

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

struct Result {
    int code = 0;                            // 0 = never answered (connection lost)
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
    std::vector<std::string> auth;           // RFC 4954 mechanisms, uppercase ("AUTH=" form included)
};

// parse_extensions - the keywords of an EHLO reply; lines are the reply's texts without the
// "250-" prefixes, the first (the server's name) included. Unknown keywords are ignored.
ServerExtensions parse_extensions(const std::vector<std::string>& lines);

class Client {
public:
    virtual ~Client() = default;
    // connect - TCP to each endpoint in turn, greeting, EHLO (HELO fallback), STARTTLS or implicit
    // TLS per options, EHLO again, AUTH. Throws ClientError.
    static boost::asio::awaitable<std::unique_ptr<Client>> connect(std::vector<boost::asio::ip::tcp::endpoint> endpoints,
                                                                   ClientOptions options);
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
};

}  // namespace mk::smtp
