// net/client.cpp — the clients' shared ground: TLS contexts, dialling, and the session core whose
// failures close the connection to the untrusted server and say why.
#include "net/client.hpp"

#include <fmt/format.h>

#include "net/tls.hpp"

namespace mk {

namespace ssl = boost::asio::ssl;
using Duration = std::chrono::steady_clock::duration;

Duration idle_timeout(const ClientOptions& options) {
    return options.timeout > std::chrono::seconds::zero() ? Duration(options.timeout) : Duration(kDefaultClientTimeout);
}

std::string peer_name(const std::string& server_name, const tcp::endpoint& endpoint) {
    return fmt::format("{}[{}]:{}", server_name.empty() ? "unknown" : server_name, endpoint.address().to_string(),
                       endpoint.port());
}

std::shared_ptr<ssl::context> client_tls_context(const ClientOptions& options) {
    if (options.tls == TlsMode::none) return nullptr;
    try {
        return make_client_context(options.tls_verify, options.ca_file);
    } catch (const std::runtime_error& e) {
        throw ClientError(e.what(), ClientCause::policy);
    }
}

awaitable<std::unique_ptr<Connection>> dial(const tcp::endpoint& endpoint, const std::string& server_name,
                                            Duration timeout) {
    std::string reason;
    std::unique_ptr<Connection> conn = co_await Connection::connect(endpoint, timeout, reason);
    if (!conn) throw ClientError(fmt::format("{}: connect: {}", peer_name(server_name, endpoint), reason), ClientCause::network);
    co_return conn;
}

ClientSession::ClientSession(std::unique_ptr<Connection> conn, std::shared_ptr<ssl::context> tls_ctx,
                             std::string server_name)
    : tls_ctx_(std::move(tls_ctx)), owned_(std::move(conn)), conn_(owned_.get()), server_name_(std::move(server_name)) {
    peer_ = peer_name(server_name_, tcp::endpoint(conn_->remote_address(), conn_->remote_port()));
}

ClientSession::ClientSession(Connection& conn, std::string server_name) : conn_(&conn), server_name_(std::move(server_name)) {
    peer_ = peer_name(server_name_, tcp::endpoint(conn_->remote_address(), conn_->remote_port()));
}

ClientSession::~ClientSession() {
    if (owned_) owned_->close();
}

void ClientSession::fail(const std::string& what, ClientCause cause) {
    broken();
    if (conn_) conn_->close();
    throw ClientError(fmt::format("{}: {}", peer_, what), cause);
}

awaitable<void> ClientSession::write(std::string_view data, const char* what, Duration timeout) {
    std::string failure = co_await conn_->write_failure(data, timeout);
    if (!failure.empty()) fail(fmt::format("writing {}: {}", what, failure), ClientCause::network);
}

awaitable<void> ClientSession::start_tls(Duration timeout) {
    if (!tls_ctx_) fail("TLS is not configured for this session", ClientCause::policy);
    std::string name = server_name_.empty() ? conn_->remote_address().to_string() : server_name_;
    std::string failure = co_await conn_->tls_client_failure(*tls_ctx_, name, timeout);
    if (failure.empty()) co_return;
    fail(fmt::format("TLS handshake: {}", failure), conn_->timed_out() ? ClientCause::network : ClientCause::policy);
}

}  // namespace mk
