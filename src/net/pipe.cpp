// net/pipe.cpp — the in-memory duplex pipe: two bounded byte queues and the operations waiting on them;
// carries whatever the ends write, interprets none of it.
#include "net/pipe.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "net/connection.hpp"
#include "net/stream.hpp"

namespace mk {

namespace detail {

using Handler = asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

// A pending operation: its handler, its buffer, and the work that keeps the io_context running for it
// (as a socket operation would).
template <class Buffer>
struct Pending {
    Handler handler;
    Buffer buffer;
    asio::executor_work_guard<asio::any_io_executor> work;
};

// One direction: what one end wrote and the other has not read yet.
struct Direction {
    std::string bytes;
    std::size_t consumed = 0;       // bytes[0, consumed) were read
    bool writer_closed = false;     // end of file after the bytes
    bool reader_closed = false;     // writes fail with broken_pipe
    std::uint64_t writes = 0;       // write operations completed
    std::optional<Pending<asio::mutable_buffer>> read;
    std::optional<Pending<asio::const_buffer>> write;

    std::size_t unread() const { return bytes.size() - consumed; }
};

struct PipeState {
    PipeState(asio::any_io_executor e, std::size_t cap) : ex(std::move(e)), capacity(cap) {}
    asio::any_io_executor ex;
    std::size_t capacity;
    Direction dir[2];          // dir[e]: written by end e, read by the other
    bool closed[2] = {false, false};

    // outgoing/incoming - the direction end e writes into / reads from.
    Direction& outgoing(PipeEnd e) { return dir[static_cast<int>(e)]; }
    Direction& incoming(PipeEnd e) { return dir[1 - static_cast<int>(e)]; }
    const Direction& outgoing(PipeEnd e) const { return dir[static_cast<int>(e)]; }
    const Direction& incoming(PipeEnd e) const { return dir[1 - static_cast<int>(e)]; }

    // complete - hand a result to a pending operation's handler, never from inside an initiating call.
    template <class Buffer>
    void complete(std::optional<Pending<Buffer>>& op, boost::system::error_code ec, std::size_t n) {
        Pending<Buffer> p = std::move(*op);
        op.reset();
        asio::post(ex, [h = std::move(p.handler), ec, n]() mutable { std::move(h)(ec, n); });
    }

    // pump - move bytes between the pending operations of direction d until neither can proceed.
    void pump(Direction& d) {
        for (bool progress = true; progress;) {
            progress = false;
            if (d.write && d.reader_closed) {
                complete(d.write, asio::error::broken_pipe, 0);
            } else if (d.write && d.unread() < capacity) {
                if (d.consumed > 0 && d.consumed == d.bytes.size()) {
                    d.bytes.clear();
                    d.consumed = 0;
                }
                const std::size_t n = std::min(capacity - d.unread(), d.write->buffer.size());
                d.bytes.append(static_cast<const char*>(d.write->buffer.data()), n);
                ++d.writes;
                complete(d.write, {}, n);
                progress = true;
            }
            if (d.read && d.unread() > 0) {
                const std::size_t n = std::min(d.unread(), d.read->buffer.size());
                std::memcpy(d.read->buffer.data(), d.bytes.data() + d.consumed, n);
                d.consumed += n;
                if (d.consumed > capacity) {
                    d.bytes.erase(0, d.consumed);
                    d.consumed = 0;
                }
                complete(d.read, {}, n);
                progress = true;
            } else if (d.read && d.writer_closed) {
                complete(d.read, asio::error::eof, 0);
            }
        }
    }
};

}  // namespace detail

PipeStream::PipeStream(std::shared_ptr<detail::PipeState> state, PipeEnd end) : state_(std::move(state)), end_(end) {}

PipeStream::PipeStream(PipeStream&& other) noexcept : state_(std::move(other.state_)), end_(other.end_) {}

PipeStream::~PipeStream() {
    boost::system::error_code ignore;
    if (state_) close(ignore);
}

PipeStream::executor_type PipeStream::get_executor() const { return state_->ex; }

void PipeStream::start_read(asio::mutable_buffer buf, Handler handler) {
    detail::PipeState& s = *state_;
    detail::Direction& in = s.incoming(end_);
    std::optional<detail::Pending<asio::mutable_buffer>> op{{std::move(handler), buf, asio::make_work_guard(s.ex)}};
    if (s.closed[static_cast<int>(end_)]) return s.complete(op, asio::error::bad_descriptor, 0);
    if (in.read) return s.complete(op, asio::error::in_progress, 0);   // one read at a time, as Asio requires
    if (buf.size() == 0) return s.complete(op, {}, 0);
    in.read.emplace(std::move(*op));
    s.pump(in);
}

void PipeStream::start_write(asio::const_buffer buf, Handler handler) {
    detail::PipeState& s = *state_;
    detail::Direction& out = s.outgoing(end_);
    std::optional<detail::Pending<asio::const_buffer>> op{{std::move(handler), buf, asio::make_work_guard(s.ex)}};
    if (s.closed[static_cast<int>(end_)]) return s.complete(op, asio::error::bad_descriptor, 0);
    if (out.write) return s.complete(op, asio::error::in_progress, 0);
    if (buf.size() == 0) return s.complete(op, {}, 0);
    out.write.emplace(std::move(*op));
    s.pump(out);
}

void PipeStream::cancel(boost::system::error_code& ec) {
    ec = {};
    detail::PipeState& s = *state_;
    if (s.incoming(end_).read) s.complete(s.incoming(end_).read, asio::error::operation_aborted, 0);
    if (s.outgoing(end_).write) s.complete(s.outgoing(end_).write, asio::error::operation_aborted, 0);
}

void PipeStream::close(boost::system::error_code& ec) {
    detail::PipeState& s = *state_;
    if (s.closed[static_cast<int>(end_)]) {
        ec = {};
        return;
    }
    cancel(ec);
    s.closed[static_cast<int>(end_)] = true;
    detail::Direction& out = s.outgoing(end_);
    detail::Direction& in = s.incoming(end_);
    out.writer_closed = true;
    in.reader_closed = true;
    in.bytes.clear();
    in.consumed = 0;
    s.pump(out);   // the peer's pending read sees end of file
    s.pump(in);    // the peer's pending write fails
}

std::size_t PipeProbe::available(PipeEnd end) const { return state_->incoming(end).unread(); }

bool PipeProbe::reading(PipeEnd end) const { return state_->incoming(end).read.has_value(); }

std::uint64_t PipeProbe::writes(PipeEnd end) const { return state_->outgoing(end).writes; }

PipeStreams make_pipe_streams(const asio::any_io_executor& ex, std::size_t capacity) {
    auto state = std::make_shared<detail::PipeState>(ex, capacity);
    return PipeStreams{PipeStream(state, PipeEnd::client), PipeStream(state, PipeEnd::server), PipeProbe(state)};
}

PipeConnections make_pipe(const asio::any_io_executor& ex, const asio::ip::address& client_address,
                          const asio::ip::address& server_address) {
    PipeStreams p = make_pipe_streams(ex);
    // Ports for the logs, as a TCP connection to a submission port would show them.
    constexpr std::uint16_t kClientPort = 40000, kServerPort = 587;
    auto client = std::make_unique<Connection>(std::make_unique<StreamTransport<PipeStream>>(std::move(p.client)),
                                               Endpoints{server_address, kServerPort, client_address});
    auto server = std::make_unique<Connection>(std::make_unique<StreamTransport<PipeStream>>(std::move(p.server)),
                                               Endpoints{client_address, kClientPort, server_address});
    return PipeConnections{std::move(client), std::move(server), std::move(p.probe)};
}

}  // namespace mk
