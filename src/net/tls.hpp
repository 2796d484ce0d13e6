// net/tls.hpp — TLS server contexts from PEM files, and the self-signed certificate of a first run.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace mk {

// make_server_context - TLS 1.2+ server context; throws std::runtime_error naming the bad file.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const std::filesystem::path& cert,
                                                               const std::filesystem::path& key);

// write_self_signed - a P-256 key and a 10-year certificate for hostname (CN and SAN); key 0600.
void write_self_signed(const std::filesystem::path& cert, const std::filesystem::path& key,
                       const std::string& hostname);

}  // namespace mk
