// server/services.hpp — what every protocol session shares: the current config, TLS, the intake,
// login throttling and maildrop locks. Owned by the daemon; sessions borrow it for their lifetime.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <set>

#include <boost/asio/ssl/context.hpp>

#include "core/config.hpp"
#include "net/auth_throttle.hpp"
#include "pop3/maildrop_locks.hpp"

namespace mk {

class Connection;
class Intake;

struct Services {
    ConfigPtr config;                                  // replaced whole on SIGHUP; sessions copy it at start
    std::shared_ptr<boost::asio::ssl::context> tls;    // server context from [tls]
    Intake* intake = nullptr;
    AuthThrottle throttle;
    MaildropLocks maildrop_locks;
    std::set<Connection*> connections;                 // live sessions, for draining on SIGTERM
    bool draining = false;                             // SIGTERM: finish what is in hand, start nothing
    // A local user has logged in to read mail (the fetcher catches up first); may be empty.
    std::function<boost::asio::awaitable<void>(std::string user)> before_login;
};

}  // namespace mk
