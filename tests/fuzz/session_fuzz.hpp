// tests/fuzz/session_fuzz.hpp — shared by the session fuzz targets: feeds hostile bytes to a whole
// server session over the in-memory pipe, reads all it says, and requires it to end within a bound.
//
// The first input byte chooses how: bits 0-1 and 3 a role (for SMTP), bit 2 a remote client (no
// plaintext AUTH) instead of loopback, bits 4-7 a chunk size (0: all bytes in one write; n: n bytes per write,
// the session running until it waits again between writes). The rest is what the client sends.
// When the input is used up the client closes the connection: the session must then end.
// drive_writes is the same with the client's writes chosen by the target (fuzz_smtp_odmr: a fixed
// login first, then the input).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "household.hpp"
#include "net/connection.hpp"
#include "net/pipe.hpp"

namespace mk::fuzz {

namespace asio = boost::asio;

// A session that neither ends nor waits for the client within this long is hung: the target aborts.
// (Every wait of a session is minutes; the login throttle is zero here; crypt(3) and an fsync take
// milliseconds.)
constexpr std::chrono::seconds kHangBound{5};

// Options - what the first input byte says.
struct Options {
    unsigned role = 0;            // bits 0-1, and bit 3 as the value 4
    bool remote = false;          // bit 2
    std::size_t chunk = 0;        // bits 4-7; 0 = one write
    std::string_view input;       // the bytes after the first

    static Options from(const std::uint8_t* data, std::size_t size) {
        Options o;
        if (size == 0) return o;
        o.role = (data[0] & 3u) | ((data[0] & 8u) >> 1);
        o.remote = (data[0] & 4u) != 0;
        o.chunk = data[0] >> 4;
        o.input = std::string_view(reinterpret_cast<const char*>(data + 1), size - 1);
        return o;
    }
};

// quiet_household - the household of every input, with the logs off (a session logs every refusal).
inline test::Household& quiet_household() {
    static const bool quiet = [] {
        spdlog::set_level(spdlog::level::off);
        return true;
    }();
    static test::Household h;
    (void)quiet;
    return h;
}

// clear_files - remove the regular files under dir (delivered messages, queue entries), keeping the
// directories the intake knows to exist.
inline void clear_files(const std::filesystem::path& dir) {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file()) std::filesystem::remove(it->path(), ec);
}

// io - the one io_context of every input, as the daemon has one for its life, and never out of work:
// a blocking-pool thread finishing an offloaded call releases its hold on the io_context after the
// session it served has resumed, perhaps after that session ended; were that the last work, it would
// stop the io_context under the next input.
inline asio::io_context& io() {
    static asio::io_context context;
    static const auto forever = asio::make_work_guard(context);
    return context;
}

// Sink - the client's reads of all the session says; shared with its pending read, which may complete
// after drive returned.
struct Sink : std::enable_shared_from_this<Sink> {
    explicit Sink(PipeStream& s) : stream(s) {}
    PipeStream& stream;
    char bytes[4096];
    void read() {
        stream.async_read_some(asio::buffer(bytes), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
            if (!ec) self->read();
        });
    }
};

// drive_writes - run session over a new pipe from a remote or a loopback client that writes each of
// writes in turn, the next once the session has done all it could with the last (waits to read again,
// or ended); aborts if it hangs. Then the client closes: the session must end.
inline void drive_writes(const std::function<asio::awaitable<void>(Connection&)>& session, bool remote,
                         const std::vector<std::string_view>& writes) {
    asio::io_context& ctx = io();
    PipeStreams p = make_pipe_streams(ctx.get_executor());
    const asio::ip::address client =
        remote ? asio::ip::address(asio::ip::make_address_v4("192.0.2.7")) : asio::ip::address_v4::loopback();
    auto server = std::make_unique<Connection>(std::make_unique<StreamTransport<PipeStream>>(std::move(p.server)),
                                               Endpoints{client, 40000, asio::ip::address_v4::loopback()});
    auto ended = std::make_shared<bool>(false);
    asio::co_spawn(ctx, session(*server), [ended](std::exception_ptr) { *ended = true; });
    std::make_shared<Sink>(p.client)->read();

    auto run_until = [&](const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + kHangBound;
        while (!done()) {
            if (ctx.run_one_until(deadline) == 0 && !done()) {
                std::fprintf(stderr, "the session neither ended nor waited for the client in %llds\n",
                             static_cast<long long>(kHangBound.count()));
                std::abort();
            }
        }
    };
    auto quiet = [&] { return *ended || p.probe.reading(PipeEnd::server); };
    for (std::string_view bytes : writes) {
        if (*ended) break;
        auto written = std::make_shared<bool>(false);
        asio::async_write(p.client, asio::buffer(bytes), [written](boost::system::error_code, std::size_t) { *written = true; });
        run_until([&] { return *written; });
        run_until(quiet);
    }
    boost::system::error_code ignore;
    p.client.close(ignore);   // the end of the input: end of file for the session
    run_until([&] { return *ended; });
    server.reset();
    ctx.poll();   // the completions of the aborted operations
}

// drive - run session over a new pipe, fed as o says; aborts if it hangs.
inline void drive(const std::function<asio::awaitable<void>(Connection&)>& session, const Options& o) {
    const std::size_t chunk = o.chunk == 0 ? o.input.size() : o.chunk;
    std::vector<std::string_view> writes;
    for (std::size_t sent = 0; sent < o.input.size(); sent += chunk) writes.push_back(o.input.substr(sent, chunk));
    drive_writes(session, o.remote, writes);
}

}  // namespace mk::fuzz
