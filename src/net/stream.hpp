// net/stream.hpp — the byte streams under a Connection (TCP, the in-memory pipe, TLS over either),
// behind one small interface; they carry untrusted bytes and neither parse nor bound them.
//
// A Connection reads and writes through ByteStream, cancels and closes through Transport (the bottom
// stream, which owns the descriptor or the pipe end), and upgrades with Transport::tls, which layers
// asio::ssl::stream over the concrete transport type. The operations return the awaitable of the
// Asio operation itself: no coroutine frame is added per read or write.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace mk {

namespace asio = boost::asio;
using asio::awaitable;

// ByteStream - reads and writes of one stream; failures come back in ec, never as exceptions.
class ByteStream {
public:
    virtual ~ByteStream() = default;
    // read_some - at least one byte into buf, or ec (asio::error::eof once the peer closed).
    virtual awaitable<std::size_t> read_some(asio::mutable_buffer buf, boost::system::error_code& ec) = 0;
    // write - all of data, or ec.
    virtual awaitable<std::size_t> write(asio::const_buffer data, boost::system::error_code& ec) = 0;
};

// TlsStream - TLS over a transport: the handshake and the OpenSSL session behind it.
class TlsStream : public ByteStream {
public:
    virtual awaitable<void> handshake(asio::ssl::stream_base::handshake_type type, boost::system::error_code& ec) = 0;
    virtual SSL* native_handle() = 0;
};

// Transport - the bottom stream (a TCP socket, a pipe end): what the watchdog cancels and close ends.
class Transport : public ByteStream {
public:
    virtual asio::any_io_executor executor() = 0;
    // cancel - the pending operations complete at once with operation_aborted.
    virtual void cancel() = 0;
    // close - shut the stream; the peer sees end of file, pending operations end.
    virtual void close() = 0;
    // tls - a TLS stream over this transport, which must outlive it.
    virtual std::unique_ptr<TlsStream> tls(asio::ssl::context& ctx) = 0;
};

// AsioByteStream - ByteStream's two operations over an Asio stream S, for the classes below.
template <class Interface, class S>
class AsioByteStream : public Interface {
public:
    template <class... Args>
    explicit AsioByteStream(Args&&... args) : s_(std::forward<Args>(args)...) {}

    awaitable<std::size_t> read_some(asio::mutable_buffer buf, boost::system::error_code& ec) override {
        return s_.async_read_some(buf, asio::redirect_error(asio::use_awaitable, ec));
    }
    awaitable<std::size_t> write(asio::const_buffer data, boost::system::error_code& ec) override {
        return asio::async_write(s_, data, asio::redirect_error(asio::use_awaitable, ec));
    }

protected:
    S s_;
};

// TlsOver - TLS over the transport stream S (held by reference: the transport owns it).
template <class S>
class TlsOver final : public AsioByteStream<TlsStream, asio::ssl::stream<S&>> {
public:
    TlsOver(S& next, asio::ssl::context& ctx) : AsioByteStream<TlsStream, asio::ssl::stream<S&>>(next, ctx) {}

    awaitable<void> handshake(asio::ssl::stream_base::handshake_type type, boost::system::error_code& ec) override {
        return this->s_.async_handshake(type, asio::redirect_error(asio::use_awaitable, ec));
    }
    SSL* native_handle() override { return this->s_.native_handle(); }
};

// StreamTransport - a Transport over the Asio stream S (tcp::socket, PipeStream), which it owns.
template <class S>
class StreamTransport final : public AsioByteStream<Transport, S> {
public:
    explicit StreamTransport(S s) : AsioByteStream<Transport, S>(std::move(s)) {}
    ~StreamTransport() override { close(); }

    asio::any_io_executor executor() override { return this->s_.get_executor(); }
    void cancel() override {
        boost::system::error_code ignore;
        this->s_.cancel(ignore);
    }
    void close() override {
        boost::system::error_code ignore;
        if constexpr (requires { this->s_.shutdown(S::shutdown_both, ignore); })
            this->s_.shutdown(S::shutdown_both, ignore);   // a socket: FIN now, even if a copy of it lives on
        this->s_.close(ignore);
    }
    std::unique_ptr<TlsStream> tls(asio::ssl::context& ctx) override { return std::make_unique<TlsOver<S>>(this->s_, ctx); }
};

}  // namespace mk
