// imap/client.hpp — the IMAP4rev1 client (RFC 3501, 2177 IDLE, 4315 UIDPLUS, 2595 STARTTLS) used by
// the fetcher; the provider's server is untrusted: responses and literals are bounded and checked.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/client.hpp"

namespace mk::imap {

// The shared client options (net/client), and the size limit of retrieve().
struct ClientOptions : mk::ClientOptions {
    // The largest message retrieve() accepts (the literal's announced size); 0: the largest an
    // IMAP4rev1 literal can be (RFC 3501 9 number, 2^32-1 octets).
    std::uint64_t max_message_size = 0;
};

// The shared error (net/client). auth(): the login was refused or could not be tried with what we
// have (no secret, one we will not send, no way the server offers); otherwise network, TLS or
// protocol trouble, or a command's refusal (NO, BAD), which leaves the session usable.
using ClientError = mk::ClientError;

struct Folder {
    std::uint32_t uidvalidity = 0;
    std::uint32_t exists = 0;
    std::uint32_t uidnext = 0;
};

struct MessageInfo {
    std::uint32_t uid = 0;
    std::uint64_t size = 0;        // RFC822.SIZE
};

class Client {
public:
    virtual ~Client() = default;
    // connect - TCP to each endpoint in turn, then start() on it. Throws ClientError.
    static boost::asio::awaitable<std::unique_ptr<Client>> connect(std::vector<boost::asio::ip::tcp::endpoint> endpoints,
                                                                   ClientOptions options);
    // start - the session on a connection already open: implicit TLS unless TLS is on already,
    // greeting, CAPABILITY, STARTTLS per options unless TLS is on, login (AUTHENTICATE OAUTHBEARER/
    // XOAUTH2 or PLAIN, or LOGIN). Throws ClientError; the connection is closed then.
    static boost::asio::awaitable<std::unique_ptr<Client>> start(std::unique_ptr<Connection> connection,
                                                                 ClientOptions options);
    virtual boost::asio::awaitable<Folder> select(const std::string& folder) = 0;
    // messages - UID and size of every message in the selected folder: UID SEARCH by windows of
    // sequence numbers, then UID FETCH (RFC822.SIZE) in batches.
    virtual boost::asio::awaitable<std::vector<MessageInfo>> messages() = 0;
    // retrieve - UID FETCH uid BODY.PEEK[]: the literal streamed to sink in pieces (any size, bounded
    // memory); \Seen is not set. When it throws, what the sink got is not the message: discard it. A
    // sink that throws breaks the session and its exception goes on. No such UID: ClientError.
    virtual boost::asio::awaitable<void> retrieve(std::uint32_t uid, const std::function<void(std::string_view)>& sink) = 0;
    // remove - UID STORE +FLAGS.SILENT (\Deleted), then UID EXPUNGE (UIDPLUS) or EXPUNGE.
    virtual boost::asio::awaitable<void> remove(const std::vector<std::uint32_t>& uids) = 0;
    virtual bool can_idle() const = 0;
    // idle - IDLE until the server reports a change (true) or max_wait passes (false); DONE is sent
    // either way. Callers re-arm before 29 minutes (RFC 2177 3).
    virtual boost::asio::awaitable<bool> idle(std::chrono::seconds max_wait) = 0;
    virtual boost::asio::awaitable<void> logout() = 0;
    virtual std::string peer() const = 0;
    // abort - close the connection now (shutdown of a long IDLE); whatever is pending fails.
    virtual void abort() = 0;
};

}  // namespace mk::imap
