// server/control.hpp — the daemon's control socket (data_dir/control.sock, mode 0600): one
// request line from the local CLI, one JSON answer. Only the local administrator reaches it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace mk {

class QueueManager;
class Fetcher;
class OdmrClient;

// control_path - where the socket of the daemon using data_dir lives.
std::filesystem::path control_path(const std::filesystem::path& data_dir);

// serve_control - accept requests until the acceptor is closed: "status", "queue list",
// "queue flush", "queue remove ID", "fetch [ACCOUNT]", "odmr" (ATRN and ETRN now).
boost::asio::awaitable<void> serve_control(boost::asio::local::stream_protocol::acceptor& acceptor,
                                           QueueManager& queue, Fetcher& fetcher, OdmrClient& odmr);

// control_request - the CLI side: the daemon's JSON answer, or nullopt when no daemon listens.
std::optional<std::string> control_request(const std::filesystem::path& data_dir, const std::string& request);

// Requests are one short line; anything longer is not from our CLI.
constexpr std::size_t kMaxControlRequest = 256;

}  // namespace mk
