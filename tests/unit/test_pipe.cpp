// tests/unit/test_pipe.cpp — the in-memory pipe and a Connection over it: bytes cross, closing is end
// of file, buffering is bounded, the watchdog fires on reads and writes, TLS runs over it.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "net/connection.hpp"
#include "net/pipe.hpp"
#include "transcript.hpp"

namespace mk {
namespace {

using namespace std::chrono_literals;
namespace ip = boost::asio::ip;

// A timeout that never fires in these tests, and one that fires at once.
constexpr auto kLong = 10s;
constexpr auto kShort = 10ms;

// run - body on io to its end; rethrows what it threw.
template <class F>
void run(asio::io_context& io, F body) {
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io, body(), [&](std::exception_ptr e) {
        error = e;
        done = true;
    });
    io.run_for(kLong);
    ASSERT_TRUE(done);
    if (error) std::rethrow_exception(error);
}

TEST(Pipe, BytesCrossAndCloseIsEndOfFile) {
    asio::io_context io;
    PipeConnections p = make_pipe(io.get_executor());
    run(io, [&]() -> awaitable<void> {
        co_await p.client->write("HELO a\r\nNOOP\r\nQUIT", kLong);
        p.client->close();
        LineResult l = co_await p.server->read_line(100, kLong);
        EXPECT_EQ(l.status, ReadStatus::ok);
        EXPECT_EQ(l.line, "HELO a");
        EXPECT_TRUE(l.crlf);
        l = co_await p.server->read_line(100, kLong);
        EXPECT_EQ(l.line, "NOOP");
        // The bytes written before the close are read; then end of file.
        l = co_await p.server->read_line(100, kLong);
        EXPECT_EQ(l.status, ReadStatus::closed);
        EXPECT_EQ(p.server->buffered(), 4u);   // "QUIT" without its line end
        EXPECT_FALSE(p.server->timed_out());
        // Writing to a closed peer fails.
        EXPECT_FALSE((co_await p.server->write_failure("250 ok\r\n", kLong)).empty());
    });
}

TEST(Pipe, EndsSeeEachOthersAddress) {
    asio::io_context io;
    const ip::address remote = ip::make_address("192.0.2.7");
    PipeConnections p = make_pipe(io.get_executor(), remote);
    EXPECT_EQ(p.server->remote_address(), remote);
    EXPECT_EQ(p.server->local_address(), ip::address_v4::loopback());
    EXPECT_EQ(p.client->remote_address(), ip::address_v4::loopback());
    EXPECT_FALSE(p.server->tls());
    EXPECT_EQ(p.server->tls_description(), "");
}

TEST(Pipe, BufferingIsBounded) {
    asio::io_context io;
    constexpr std::size_t kCapacity = 8;
    PipeStreams p = make_pipe_streams(io.get_executor(), kCapacity);
    const std::string data = "0123456789abcdefghij";
    bool written = false;
    asio::async_write(p.client, asio::buffer(data), [&](boost::system::error_code ec, std::size_t n) {
        EXPECT_FALSE(ec);
        EXPECT_EQ(n, data.size());
        written = true;
    });
    io.poll();
    // The writer waits with the pipe full: the rest waits for the reader.
    EXPECT_FALSE(written);
    EXPECT_EQ(p.probe.available(PipeEnd::server), kCapacity);
    EXPECT_EQ(p.probe.writes(PipeEnd::client), 1u);
    std::string got(data.size(), '\0');
    bool read = false;
    asio::async_read(p.server, asio::buffer(got), [&](boost::system::error_code ec, std::size_t n) {
        EXPECT_FALSE(ec);
        EXPECT_EQ(n, data.size());
        read = true;
    });
    io.run_for(kLong);
    EXPECT_TRUE(written);
    EXPECT_TRUE(read);
    EXPECT_EQ(got, data);
    EXPECT_EQ(p.probe.available(PipeEnd::server), 0u);
    EXPECT_FALSE(p.probe.reading(PipeEnd::server));
}

TEST(Pipe, ReaderWaitingIsVisibleAndCancelAbortsIt) {
    asio::io_context io;
    PipeStreams p = make_pipe_streams(io.get_executor());
    char c;
    boost::system::error_code got;
    p.server.async_read_some(asio::buffer(&c, 1), [&](boost::system::error_code ec, std::size_t) { got = ec; });
    io.poll();
    EXPECT_TRUE(p.probe.reading(PipeEnd::server));
    boost::system::error_code ec;
    p.server.cancel(ec);
    io.run_for(kLong);
    EXPECT_EQ(got, asio::error::operation_aborted);
    EXPECT_FALSE(p.probe.reading(PipeEnd::server));
}

TEST(Pipe, WatchdogEndsASilentRead) {
    asio::io_context io;
    PipeConnections p = make_pipe(io.get_executor());
    run(io, [&]() -> awaitable<void> {
        LineResult l = co_await p.server->read_line(100, kShort);
        EXPECT_EQ(l.status, ReadStatus::timeout);
        EXPECT_TRUE(p.server->timed_out());
        std::string_view raw = co_await p.server->peek_some(kShort);
        EXPECT_TRUE(raw.empty());
    });
}

TEST(Pipe, WatchdogEndsAWriteNobodyReads) {
    asio::io_context io;
    PipeConnections p = make_pipe(io.get_executor());
    run(io, [&]() -> awaitable<void> {
        // More than the pipe holds, and the client never reads.
        std::string reason = co_await p.server->write_failure(std::string(kPipeCapacity + 1, 'x'), kShort);
        EXPECT_EQ(reason, "timed out");
    });
}

TEST(Pipe, TlsRunsOverThePipe) {
    asio::io_context io;
    test::TestTls tls;
    PipeConnections p = make_pipe(io.get_executor());
    bool server_done = false;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
            co_await p.server->start_tls(*tls.server, kLong);
            LineResult l = co_await p.server->read_line(100, kLong);
            EXPECT_EQ(l.line, "EHLO over tls");
            co_await p.server->write("250 fine\r\n", kLong);
            server_done = true;
        },
        asio::detached);
    run(io, [&]() -> awaitable<void> {
        EXPECT_EQ(co_await p.client->tls_client_failure(tls.client, "localhost", kLong), "");
        co_await p.client->write("EHLO over tls\r\n", kLong);
        LineResult l = co_await p.client->read_line(100, kLong);
        EXPECT_EQ(l.line, "250 fine");
    });
    EXPECT_TRUE(server_done);
    EXPECT_TRUE(p.server->tls());
    EXPECT_NE(p.server->tls_description().find("TLS"), std::string::npos);
}

TEST(Pipe, TlsHandshakeAgainstPlaintextFails) {
    asio::io_context io;
    test::TestTls tls;
    PipeConnections p = make_pipe(io.get_executor());
    run(io, [&]() -> awaitable<void> {
        co_await p.client->write("NOOP\r\n", kLong);   // plaintext where a ClientHello belongs
        bool failed = false;
        try {
            co_await p.server->start_tls(*tls.server, kLong);
        } catch (const boost::system::system_error&) {
            failed = true;
        }
        EXPECT_TRUE(failed);
    });
}

TEST(Pipe, CloseEndsAPendingRead) {
    asio::io_context io;
    PipeConnections p = make_pipe(io.get_executor());
    asio::co_spawn(
        io, [&]() -> awaitable<void> { co_await asio::post(io, asio::use_awaitable); p.server->close(); }, asio::detached);
    run(io, [&]() -> awaitable<void> {
        LineResult l = co_await p.server->read_line(100, kLong);
        EXPECT_EQ(l.status, ReadStatus::closed);
    });
}

}  // namespace
}  // namespace mk
