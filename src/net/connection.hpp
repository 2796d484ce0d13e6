// net/connection.hpp — one connection over any byte stream (TCP, the in-memory pipe; plaintext or TLS,
// upgradable by STARTTLS/STLS), with a bounded line reader and a watchdog deadline; everything read
// from it is untrusted.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/stream.hpp"

namespace mk {

namespace asio = boost::asio;
using asio::awaitable;
using tcp = asio::ip::tcp;

enum class ReadStatus { ok, too_long, timeout, closed };

struct LineResult {
    ReadStatus status = ReadStatus::closed;
    std::string_view line;   // without the terminator; valid until the next read
    bool crlf = false;       // ended in CRLF (false: a bare LF)
};

// Endpoints - who is at either end of a connection (a pipe has no addresses of its own).
struct Endpoints {
    asio::ip::address remote;
    std::uint16_t remote_port = 0;
    asio::ip::address local;
};

class Connection {
public:
    explicit Connection(tcp::socket socket);
    // Connection - over any transport (see net/stream.hpp; make_pipe in net/pipe.hpp builds two).
    Connection(std::unique_ptr<Transport> transport, const Endpoints& endpoints);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // read_line - the next line of at most max bytes (terminator excluded). An over-long line is
    // drained up to its terminator (bounded by drain_max) and reported as too_long.
    awaitable<LineResult> read_line(std::size_t max, std::chrono::steady_clock::duration timeout);
    // peek_some - raw bytes (buffered first) without consuming them, for DATA; an empty view means
    // closed or timed out. consume() then takes what was used; the rest stays for the next command.
    awaitable<std::string_view> peek_some(std::chrono::steady_clock::duration timeout);
    void consume(std::size_t n) { pos_ += n; }
    // write - the whole buffer, or throw. Writes are bounded by the same watchdog.
    awaitable<void> write(std::string_view data, std::chrono::steady_clock::duration timeout);

    // buffered - bytes already read but not consumed (STARTTLS must refuse when this is non-zero).
    std::size_t buffered() const { return in_.size() - pos_; }
    // start_tls - server-side handshake; throws on failure. Buffered plaintext is discarded.
    awaitable<void> start_tls(asio::ssl::context& ctx, std::chrono::steady_clock::duration timeout);

    // connect - the client side (relay, LMTP, downstream, fetch): a TCP connection to endpoint
    // within timeout, or an empty pointer and failure set ("Connection refused", "Connection timed
    // out"), which each protocol client reports as its own error.
    static awaitable<std::unique_ptr<Connection>> connect(const tcp::endpoint& endpoint,
                                                          std::chrono::steady_clock::duration timeout,
                                                          std::string& failure);
    // start_tls_client - client-side handshake (after STARTTLS's 220, or at once for implicit TLS).
    // server_name goes out as SNI (host names only, RFC 6066 3) and, when ctx verifies the peer, is
    // the name the certificate must carry (RFC 6125; an IP literal is matched against IP SANs); an
    // empty server_name with verification on fails. Throws boost::system::system_error, naming the
    // certificate problem when verification failed. Buffered plaintext is discarded.
    awaitable<void> start_tls_client(asio::ssl::context& ctx, const std::string& server_name,
                                     std::chrono::steady_clock::duration timeout);
    // write_failure - write for the protocol clients: the empty string on success, else why
    // ("timed out", or the system's reason), for their own error reporting.
    awaitable<std::string> write_failure(std::string_view data, std::chrono::steady_clock::duration timeout);
    // tls_client_failure - start_tls_client for the protocol clients: the empty string on success,
    // else why ("timed out", or the certificate problem), for their own error reporting.
    awaitable<std::string> tls_client_failure(asio::ssl::context& ctx, const std::string& server_name,
                                              std::chrono::steady_clock::duration timeout);
    bool tls() const { return tls_ != nullptr; }
    std::string tls_description() const;   // "TLSv1.3 TLS_AES_256_GCM_SHA384", or empty

    bool timed_out() const { return timed_out_; }
    // idle - the session waits for a command: a draining daemon may close it without losing anything.
    bool idle() const { return idle_; }
    void set_idle(bool idle) { idle_ = idle; }
    const asio::ip::address& remote_address() const { return endpoints_.remote; }
    std::uint16_t remote_port() const { return endpoints_.remote_port; }
    const asio::ip::address& local_address() const { return endpoints_.local; }
    void close();

private:
    awaitable<std::size_t> fill(std::chrono::steady_clock::duration timeout);
    void arm(std::chrono::steady_clock::duration timeout);
    void disarm();
    // stream - where reads and writes go: the TLS layer once there is one, else the transport.
    ByteStream& stream() { return tls_ ? static_cast<ByteStream&>(*tls_) : *transport_; }
    // begin_tls - the TLS layer over the transport; the plaintext read so far is discarded.
    SSL* begin_tls(asio::ssl::context& ctx);

    std::unique_ptr<Transport> transport_;
    std::unique_ptr<TlsStream> tls_;   // over *transport_: declared after it, so destroyed before it
    asio::steady_timer watchdog_;
    std::string in_;
    std::size_t pos_ = 0;
    bool timed_out_ = false;
    bool idle_ = false;
    Endpoints endpoints_;
};

// Socket reads come in chunks of this size; a line may span several.
constexpr std::size_t kReadChunk = 16 * 1024;

}  // namespace mk
