// service/services.hpp — what the daemon lends everything it runs (the protocol sessions, the relay,
// the fetcher): the current config, TLS, the intake, login throttling, maildrop locks and the drain
// flag. It sits below the protocols so that they share it without knowing the daemon: server/
// owns and fills it, the others borrow it for their lifetime.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include "core/config.hpp"
#include "net/auth_throttle.hpp"
#include "store/maildrop_locks.hpp"

namespace mk {

class Connection;
class Intake;

// AtrnOutcome - what one ATRN reversal did (RFC 2645), for the provider's log, by recipient: the customer
// took (2xx), left held (4xx, or not tried when the connection ended), and refused for good (5xx,
// bounced to their senders); error says why the reversal stopped early, empty when it ran to QUIT.
struct AtrnOutcome {
    std::size_t delivered = 0;
    std::size_t deferred = 0;
    std::size_t failed = 0;
    std::string error;
};

// OdmrHooks - what the SMTP session's odmr role asks of the queue (the daemon wires both to the
// QueueManager's held mail; either may be empty, and ATRN then answers 451 4.3.0).
struct OdmrHooks {
    // held_count - how many messages are held for these domains (lowercase, each a hold domain of
    // the user). Asked before ATRN's 250 (0: 453). Answers from memory, without network I/O: the
    // session does not put a timer on it. Throws on a temporary problem (451).
    std::function<boost::asio::awaitable<std::size_t>(std::vector<std::string> domains)> held_count;
    // turn - after ATRN's 250 the roles reverse on the same connection (TLS kept): as the SMTP client
    // (smtp::Client::start), read the customer's 220, deliver the held mail for domains, send QUIT;
    // bounded by the client's per-command timeouts (RFC 5321 4.5.3.2). user is the login that asked.
    // The session ends when it returns; an exception is logged like an outcome with an error.
    std::function<boost::asio::awaitable<AtrnOutcome>(Connection& conn, std::string user,
                                                      std::vector<std::string> domains)>
        turn;
};

struct Services {
    ConfigPtr config;                                  // replaced whole on SIGHUP; sessions copy it at start
    std::shared_ptr<boost::asio::ssl::context> tls;    // server context from [tls]
    Intake* intake = nullptr;
    AuthThrottle throttle;
    std::chrono::milliseconds rcpt_tarpit{1000};      // each refused RCPT past the first few waits this long
    MaildropLocks maildrop_locks;
    std::map<std::string, std::size_t> imap_logins;    // IMAP sessions logged in, per user (one thread)
    std::set<Connection*> connections;                 // live sessions (the daemon's), for draining on SIGTERM
    bool draining = false;                             // SIGTERM: finish what is in hand, start nothing
    // A local user has logged in to read mail (the fetcher catches up first); may be empty.
    std::function<boost::asio::awaitable<void>(std::string user)> before_login;
    OdmrHooks odmr;                                    // ATRN on the odmr listener (RFC 2645)
};

}  // namespace mk
