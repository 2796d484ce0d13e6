// net/tls.hpp — TLS server contexts from PEM files, client contexts for the clients (relay, fetcher),
// and the self-signed certificate of a first run.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace mk {

// make_server_context - TLS 1.2+ server context; throws std::runtime_error naming the bad file.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const std::filesystem::path& cert,
                                                               const std::filesystem::path& key);

// make_client_context - TLS 1.2+ client context that verifies the peer's chain against ca_file (empty:
// the system store), or verifies nothing when verify is false; the host name is checked per connection
// (Connection::start_tls_client). Throws std::runtime_error naming the CA source that failed to load.
std::shared_ptr<boost::asio::ssl::context> make_client_context(bool verify, const std::filesystem::path& ca_file);

// write_self_signed - a P-256 key and a 10-year certificate for hostname (CN and SAN); key 0600.
void write_self_signed(const std::filesystem::path& cert, const std::filesystem::path& key,
                       const std::string& hostname);

}  // namespace mk
