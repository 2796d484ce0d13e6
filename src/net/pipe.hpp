// net/pipe.hpp — an in-memory duplex byte pipe: two connected ends in one io_context, so that a
// session can be driven from a test or a fuzz target without a socket; it trusts neither end.
//
// What one end writes becomes readable at the other; closing an end is end of file for the other
// (after the bytes already written) and a broken pipe for the other's writes. Each direction holds
// at most a capacity of unread bytes, as a socket buffer does: a write beyond it waits for the
// reader. Both ends must run on one thread (an io_context run by one thread), as the sessions do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>

namespace mk {

namespace asio = boost::asio;

class Connection;

// The unread bytes one direction holds before a write waits: the order of a socket's buffer.
constexpr std::size_t kPipeCapacity = 64 * 1024;

// The two ends of a pipe. make_pipe names them after the roles the tests give them.
enum class PipeEnd { client = 0, server = 1 };

namespace detail {
struct PipeState;
}

// PipeStream - one end of a pipe, an Asio AsyncReadStream and AsyncWriteStream (so that
// asio::ssl::stream can run over it).
class PipeStream {
public:
    using executor_type = asio::any_io_executor;
    using lowest_layer_type = PipeStream;

    PipeStream(std::shared_ptr<detail::PipeState> state, PipeEnd end);
    PipeStream(PipeStream&& other) noexcept;
    PipeStream& operator=(PipeStream&&) = delete;
    ~PipeStream();   // closes this end

    executor_type get_executor() const;
    lowest_layer_type& lowest_layer() { return *this; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, asio::mutable_buffer buf) { start_read(buf, Handler(std::move(handler))); }, token,
            first_buffer<asio::mutable_buffer>(buffers));
    }
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, asio::const_buffer buf) { start_write(buf, Handler(std::move(handler))); }, token,
            first_buffer<asio::const_buffer>(buffers));
    }

    // cancel - this end's pending read and write complete with operation_aborted.
    void cancel(boost::system::error_code& ec);
    // close - end this end: its pending operations are aborted, the peer reads end of file after what
    // was written, and the peer's writes fail with broken_pipe. Bytes not yet read here are dropped.
    void close(boost::system::error_code& ec);

private:
    using Handler = asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

    // first_buffer - the first non-empty buffer of a sequence (read_some and write_some use one).
    template <class Buffer, class Sequence>
    static Buffer first_buffer(const Sequence& buffers) {
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
            Buffer b(*it);
            if (b.size() > 0) return b;
        }
        return Buffer();
    }
    void start_read(asio::mutable_buffer buf, Handler handler);
    void start_write(asio::const_buffer buf, Handler handler);

    std::shared_ptr<detail::PipeState> state_;
    PipeEnd end_;
};

// PipeProbe - what a test driver may ask of a pipe without touching its bytes.
class PipeProbe {
public:
    explicit PipeProbe(std::shared_ptr<const detail::PipeState> state) : state_(std::move(state)) {}
    // available - bytes the other end wrote that `end` has not read yet.
    std::size_t available(PipeEnd end) const;
    // reading - `end` waits in a read on an empty pipe: a session there has done all it could.
    bool reading(PipeEnd end) const;
    // writes - the write operations `end` has completed (a session's replies sent as one group show
    // as one write).
    std::uint64_t writes(PipeEnd end) const;

private:
    std::shared_ptr<const detail::PipeState> state_;
};

// make_pipe_streams - the two ends of a new pipe on executor ex, and a probe of it.
struct PipeStreams {
    PipeStream client, server;
    PipeProbe probe;
};
PipeStreams make_pipe_streams(const asio::any_io_executor& ex, std::size_t capacity = kPipeCapacity);

// make_pipe - two Connections over a new pipe. Each sees the other's address as its remote address
// (loopback unless given: a test acts as a remote client by giving another address).
struct PipeConnections {
    std::unique_ptr<Connection> client, server;
    PipeProbe probe;
};
PipeConnections make_pipe(const asio::any_io_executor& ex,
                          const asio::ip::address& client_address = asio::ip::address_v4::loopback(),
                          const asio::ip::address& server_address = asio::ip::address_v4::loopback());

}  // namespace mk
