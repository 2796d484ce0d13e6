// service/services.hpp — what the daemon lends everything it runs (the protocol sessions, the relay,
// the fetcher): the current config, TLS, the intake, login throttling, maildrop locks and the drain
// flag. It sits below the protocols so that they share it without knowing the daemon: server/
// owns and fills it, the others borrow it for their lifetime.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include "core/config.hpp"
#include "net/auth_throttle.hpp"
#include "store/maildrop_locks.hpp"

namespace mk {

class Connection;
class Intake;

struct Services {
    ConfigPtr config;                                  // replaced whole on SIGHUP; sessions copy it at start
    std::shared_ptr<boost::asio::ssl::context> tls;    // server context from [tls]
    Intake* intake = nullptr;
    AuthThrottle throttle;
    MaildropLocks maildrop_locks;
    std::set<Connection*> connections;                 // live sessions (the daemon's), for draining on SIGTERM
    bool draining = false;                             // SIGTERM: finish what is in hand, start nothing
    // A local user has logged in to read mail (the fetcher catches up first); may be empty.
    std::function<boost::asio::awaitable<void>(std::string user)> before_login;
};

}  // namespace mk
