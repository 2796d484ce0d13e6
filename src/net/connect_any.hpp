// net/connect_any.hpp — the clients' way to a server: each address in turn until one opens a
// session (a refused login stops at once), and the name a session goes by in logs and reports.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/tls.hpp"

namespace mk {

// peer_name - "host[address]:port", as Postfix names its peers in logs ("unknown" without a host).
inline std::string peer_name(const std::string& server_name, const boost::asio::ip::tcp::endpoint& endpoint) {
    return fmt::format("{}[{}]:{}", server_name.empty() ? "unknown" : server_name, endpoint.address().to_string(),
                       endpoint.port());
}

// connect_any - make(endpoint) then open() for each endpoint; the first session that opens wins.
// Not after a refused login (Impl::login_failed()): every address gets the same credentials, and
// repeated failures can lock the account. Throws the last Error; endpoints must not be empty.
template <class Impl, class Error, class Make>
boost::asio::awaitable<std::unique_ptr<Impl>> connect_any(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
                                                          Make make) {
    std::optional<Error> last;
    for (const auto& endpoint : endpoints) {
        std::unique_ptr<Impl> client = make(endpoint);
        bool login_failed = false;
        try {
            co_await client->open();
            co_return client;
        } catch (const Error& e) {
            spdlog::info("{}", e.what());
            last = e;
            login_failed = client->login_failed();
        }
        if (login_failed) throw *last;
    }
    throw *last;
}

// client_context - the TLS context for a client session (null when it will not use TLS); a
// context that cannot be made (an unreadable ca_file) becomes the client's own Error.
template <class Error>
std::shared_ptr<boost::asio::ssl::context> client_context(bool tls, bool verify, const std::filesystem::path& ca_file) {
    if (!tls) return nullptr;
    try {
        return make_client_context(verify, ca_file);
    } catch (const std::runtime_error& e) {
        throw Error(e.what(), false);
    }
}

}  // namespace mk
