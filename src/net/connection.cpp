// net/connection.cpp — bounded line reading, the watchdog and the TLS upgrade over any transport;
// the bytes read are untrusted.
#include "net/connection.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/x509v3.h>

namespace mk {

namespace {
// An over-long line is read to its end so the session can answer and go on, but not forever.
constexpr std::size_t kDrainMax = 1024 * 1024;

// tcp_endpoints - the addresses of a connected socket, as the sessions log and check them.
Endpoints tcp_endpoints(const tcp::socket& socket) {
    Endpoints e;
    boost::system::error_code ec;
    auto r = socket.remote_endpoint(ec);
    if (!ec) {
        e.remote = r.address();
        e.remote_port = r.port();
    }
    auto l = socket.local_endpoint(ec);
    if (!ec) e.local = l.address();
    return e;
}

}  // namespace

Connection::Connection(tcp::socket socket)
    : watchdog_(socket.get_executor()), endpoints_(tcp_endpoints(socket)) {
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    transport_ = std::make_unique<StreamTransport<tcp::socket>>(std::move(socket));
}

Connection::Connection(std::unique_ptr<Transport> transport, const Endpoints& endpoints)
    : transport_(std::move(transport)), watchdog_(transport_->executor()), endpoints_(endpoints) {}

Connection::~Connection() { close(); }

void Connection::close() {
    watchdog_.cancel();
    transport_->close();
}

// arm - start the watchdog: when it fires, the pending operation is cancelled and timed_out() set.
void Connection::arm(std::chrono::steady_clock::duration timeout) {
    watchdog_.expires_after(timeout);
    watchdog_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;   // re-armed or disarmed
        // A completion already queued when the timer was re-armed must not fire the new deadline.
        if (watchdog_.expiry() > std::chrono::steady_clock::now()) return;
        timed_out_ = true;
        transport_->cancel();
    });
}

void Connection::disarm() { watchdog_.cancel(); }

// fill - read one more chunk into the buffer; 0 means closed, failed or timed out.
awaitable<std::size_t> Connection::fill(std::chrono::steady_clock::duration timeout) {
    if (pos_ > 0 && pos_ == in_.size()) {
        in_.clear();
        pos_ = 0;
    } else if (pos_ > kReadChunk) {
        in_.erase(0, pos_);
        pos_ = 0;
    }
    std::size_t old = in_.size();
    in_.resize(old + kReadChunk);
    auto buf = asio::buffer(in_.data() + old, kReadChunk);
    boost::system::error_code ec;
    arm(timeout);
    std::size_t n = co_await stream().read_some(buf, ec);
    disarm();
    in_.resize(old + (ec ? 0 : n));
    co_return ec ? 0 : n;
}

awaitable<LineResult> Connection::read_line(std::size_t max, std::chrono::steady_clock::duration timeout) {
    std::size_t scanned = pos_;
    std::size_t drained = 0;
    bool overlong = false;
    for (;;) {
        std::size_t nl = in_.find('\n', scanned);
        if (nl != std::string::npos) {
            std::size_t start = pos_;
            pos_ = nl + 1;
            if (overlong) co_return LineResult{ReadStatus::too_long, {}, false};
            bool crlf = nl > start && in_[nl - 1] == '\r';
            std::size_t len = nl - start - (crlf ? 1 : 0);
            if (len > max) co_return LineResult{ReadStatus::too_long, {}, crlf};
            co_return LineResult{ReadStatus::ok, std::string_view(in_).substr(start, len), crlf};
        }
        if (in_.size() - pos_ > max + 1) {
            // Too long already: drop what we have and keep reading to the terminator.
            overlong = true;
            drained += in_.size() - pos_;
            pos_ = in_.size();
            if (drained > kDrainMax) co_return LineResult{ReadStatus::too_long, {}, false};
        }
        scanned = in_.size();
        std::size_t consumed_before = pos_;
        std::size_t n = co_await fill(timeout);
        if (n == 0)
            co_return LineResult{timed_out_ ? ReadStatus::timeout : ReadStatus::closed, {}, false};
        // fill() may have compacted the buffer: keep scanned relative to pos_.
        if (pos_ != consumed_before) scanned = scanned - consumed_before + pos_;
        if (scanned > in_.size()) scanned = pos_;
    }
}

awaitable<std::string_view> Connection::peek_some(std::chrono::steady_clock::duration timeout) {
    // XXX g++ 12 miscompiles co_await inside && and ?: (SIGILL): keep every co_await a statement.
    if (buffered() == 0) {
        std::size_t n = co_await fill(timeout);
        if (n == 0) co_return std::string_view{};
    }
    co_return std::string_view(in_).substr(pos_);
}

awaitable<void> Connection::write(std::string_view data, std::chrono::steady_clock::duration timeout) {
    boost::system::error_code ec;
    arm(timeout);
    co_await stream().write(asio::buffer(data), ec);
    disarm();
    if (ec) throw boost::system::system_error(ec);
}

SSL* Connection::begin_tls(asio::ssl::context& ctx) {
    in_.clear();
    pos_ = 0;
    tls_ = transport_->tls(ctx);
    return tls_->native_handle();
}

awaitable<void> Connection::start_tls(asio::ssl::context& ctx, std::chrono::steady_clock::duration timeout) {
    // RFC 3207 6: anything the client sent before the handshake is discarded, never interpreted.
    begin_tls(ctx);
    boost::system::error_code ec;
    arm(timeout);
    co_await tls_->handshake(asio::ssl::stream_base::server, ec);
    disarm();
    if (ec) throw boost::system::system_error(ec);
}

awaitable<std::unique_ptr<Connection>> Connection::connect(const tcp::endpoint& endpoint,
                                                           std::chrono::steady_clock::duration timeout,
                                                           std::string& failure) {
    auto ex = co_await asio::this_coro::executor;
    // The timer's handler may run after this frame is gone (it was queued as the connect completed),
    // so what it touches is shared, not on the frame.
    auto socket = std::make_shared<tcp::socket>(ex);
    auto fired = std::make_shared<bool>(false);
    asio::steady_timer timer(ex, timeout);
    timer.async_wait([socket, fired](boost::system::error_code ec) {
        if (ec) return;
        *fired = true;
        boost::system::error_code ignore;
        socket->close(ignore);
    });
    boost::system::error_code ec;
    co_await socket->async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    if (*fired) ec = asio::error::timed_out;
    if (ec) {
        failure = ec.message();
        co_return nullptr;
    }
    co_return std::make_unique<Connection>(std::move(*socket));
}

awaitable<void> Connection::start_tls_client(asio::ssl::context& ctx, const std::string& server_name,
                                             std::chrono::steady_clock::duration timeout) {
    // RFC 3207 4.2 (and the STARTTLS response-injection attacks): nothing the server sent before the
    // handshake may be read as a reply after it. The caller refuses when buffered() was non-zero.
    SSL* s = begin_tls(ctx);
    boost::system::error_code addr_ec;
    asio::ip::make_address(server_name, addr_ec);
    const bool is_ip = !server_name.empty() && !addr_ec;
    // RFC 6066 3: SNI carries host names only, never an address literal.
    if (!server_name.empty() && !is_ip) SSL_set_tlsext_host_name(s, server_name.c_str());
    if (SSL_CTX_get_verify_mode(SSL_get_SSL_CTX(s)) & SSL_VERIFY_PEER) {
        // A verified chain proves nothing without a name to match it against: fail closed.
        if (server_name.empty())
            throw boost::system::system_error(asio::error::invalid_argument, "TLS: no server name to verify");
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), server_name.c_str())
                       : SSL_set1_host(s, server_name.c_str());
        if (ok != 1) throw boost::system::system_error(asio::error::invalid_argument, "TLS: bad server name");
    }
    boost::system::error_code ec;
    arm(timeout);
    co_await tls_->handshake(asio::ssl::stream_base::client, ec);
    disarm();
    if (ec) {
        long verify = SSL_get_verify_result(s);
        if (verify != X509_V_OK)
            throw boost::system::system_error(ec, X509_verify_cert_error_string(verify));
        throw boost::system::system_error(ec);
    }
}

awaitable<std::string> Connection::write_failure(std::string_view data, std::chrono::steady_clock::duration timeout) {
    std::string reason;
    try {
        co_await write(data, timeout);
    } catch (const boost::system::system_error& e) {
        reason = timed_out_ ? std::string("timed out") : e.code().message();
    }
    co_return reason;
}

awaitable<std::string> Connection::tls_client_failure(asio::ssl::context& ctx, const std::string& server_name,
                                                      std::chrono::steady_clock::duration timeout) {
    std::string reason;
    try {
        co_await start_tls_client(ctx, server_name, timeout);
    } catch (const boost::system::system_error& e) {
        reason = timed_out_ ? std::string("timed out") : std::string(e.what());
    }
    co_return reason;
}

std::string Connection::tls_description() const {
    if (!tls_) return {};
    SSL* s = tls_->native_handle();
    return std::string(SSL_get_version(s)) + " " + SSL_get_cipher_name(s);
}

}  // namespace mk
