// tests/unit/transcript.hpp — drives a server session over the in-memory pipe from tables of
// {client sends, server answers}, each table fed whole and one byte at a time (the test is the client).
//
// The driver runs the io_context on the test's thread until the session waits for the client again
// (the pipe shows its read pending) or has ended, and every byte it wrote was read: a step's answer
// is then exactly what the session said to it. Nothing sleeps; a session that neither answers nor
// waits within kStuck fails the test.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <fmt/format.h>

#include "core/base64.hpp"

#include "household.hpp"
#include "net/connection.hpp"
#include "net/pipe.hpp"

namespace mk::test {

using namespace std::chrono_literals;

// How long the session may go without answering or waiting before the test calls it stuck (it
// normally takes microseconds; the bound only keeps a hung test from hanging the suite).
constexpr std::chrono::seconds kStuck{20};

// plain - a SASL PLAIN response (AUTH PLAIN, AUTHENTICATE PLAIN): authzid NUL authcid NUL password, base64.
inline std::string plain(std::string_view authzid, std::string_view authcid, std::string_view password) {
    std::string raw(authzid);
    raw += '\0';
    raw += authcid;
    raw += '\0';
    raw += password;
    return base64_encode(raw);
}

enum class Feed { whole, bytewise };

inline const char* feed_name(Feed f) { return f == Feed::whole ? "whole" : "one byte at a time"; }

// One row of a transcript: what the client sends and what the server answers to it.
struct Step {
    std::string send;
    std::string want;        // the whole answer; '*' matches any run of characters within a line
    bool atomic = false;     // sent in one write whatever the feed (bytes pipelined behind STARTTLS)
    bool tls = false;        // after the answer, the client starts TLS (STARTTLS or STLS said yes)
};

// glob_match - want against got, '*' standing for any run of characters other than CR and LF.
inline bool glob_match(std::string_view want, std::string_view got) {
    if (want.empty()) return got.empty();
    if (want[0] == '*') {
        for (std::size_t i = 0;; ++i) {
            if (glob_match(want.substr(1), got.substr(i))) return true;
            if (i == got.size() || got[i] == '\r' || got[i] == '\n') return false;
        }
    }
    return !got.empty() && want[0] == got[0] && glob_match(want.substr(1), got.substr(1));
}

// visible - CR and LF shown, so that a failed comparison reads line by line; past kShown bytes only
// the length is told.
inline std::string visible(std::string_view s) {
    constexpr std::size_t kShown = 400;
    std::string out;
    for (char c : s.substr(0, kShown)) {
        if (c == '\r') out += "\\r";
        else if (c == '\n') out += "\\n\n";
        else out += c;
    }
    if (s.size() > kShown) out += fmt::format("... ({} bytes)", s.size());
    return out;
}

// test_io - the io_context of every driver, as the daemon has one for its life, and never out of
// work: a blocking-pool thread finishing an offloaded call (crypt, a maildrop listing) releases its hold
// on the io_context after the session it served has resumed, perhaps after the session and its driver
// are gone; a driver's own io_context could be destroyed, or stopped, under it.
inline boost::asio::io_context& test_io() {
    static boost::asio::io_context io;
    static const auto forever = boost::asio::make_work_guard(io);
    return io;
}

class SessionDriver {
public:
    using Session = std::function<boost::asio::awaitable<void>(Connection&)>;

    // SessionDriver - a pipe whose client end the test holds and whose server end runs session;
    // client is the address the session sees the client at.
    explicit SessionDriver(const Session& session,
                           const boost::asio::ip::address& client = boost::asio::ip::address_v4::loopback())
        : pipe_(make_pipe(io_.get_executor(), client)) {
        boost::asio::co_spawn(io_, session(*pipe_.server), [this](std::exception_ptr e) {
            error_ = e;
            ended_ = true;
            pipe_.server->close();   // as the daemon does when a session returns
        });
    }
    ~SessionDriver() {
        // The session and the client's last read end before the objects they use go.
        pipe_.client->close();
        pipe_.server->close();
        try {
            run_until([&] { return ended_ && !reading_; });
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
        }
    }
    SessionDriver(const SessionDriver&) = delete;
    SessionDriver& operator=(const SessionDriver&) = delete;

    // exchange - send bytes as feed says (one byte at a time: the session runs between bytes), then
    // return all the session said until it waits for the client again or has ended.
    std::string exchange(std::string_view bytes, Feed feed) {
        if (feed == Feed::whole) {
            write(bytes);
        } else {
            for (char c : bytes) {
                write(std::string_view(&c, 1));
                settle();
            }
        }
        settle();
        return std::exchange(received_, {});
    }
    // unsolicited - what the session says of its own accord while it waits for the client (IDLE's
    // updates, which it finds on a timer): run until it has said something and waits again.
    std::string unsolicited() {
        run_until([&] { return !received_.empty(); });
        settle();
        return std::exchange(received_, {});
    }
    // start_tls - the client's handshake after the session said yes to STARTTLS or STLS.
    void start_tls(boost::asio::ssl::context& ctx) {
        // What the client coroutine touches is shared: it may outlive this frame if the test fails.
        auto failure = std::make_shared<std::optional<std::string>>();
        boost::asio::co_spawn(
            io_,
            [client = pipe_.client.get(), &ctx, failure]() -> boost::asio::awaitable<void> {
                *failure = co_await client->tls_client_failure(ctx, "localhost", kStuck);
            },
            boost::asio::detached);
        run_until([&] { return failure->has_value(); });
        if (!failure->value().empty()) throw std::runtime_error("client TLS handshake: " + failure->value());
        settle();
    }
    // ended - the session returned (and closed its end).
    bool ended() const { return ended_; }
    // closed - the client read end of file: the server closed the connection.
    bool closed() const { return eof_; }
    std::exception_ptr error() const { return error_; }
    const PipeProbe& probe() const { return pipe_.probe; }
    boost::asio::io_context& io() { return io_; }

private:
    // write - bytes from the client in one write (which may wait for the session to read).
    void write(std::string_view bytes) {
        auto done = std::make_shared<bool>(false);
        boost::asio::co_spawn(
            io_,
            [client = pipe_.client.get(), data = std::string(bytes), done]() -> boost::asio::awaitable<void> {
                // A session that closed may refuse the bytes: what it said before tells the test.
                co_await client->write_failure(data, kStuck);
                *done = true;
            },
            boost::asio::detached);
        run_until([&] { return *done; });
    }
    // settle - run until the session waits for the client (or has ended and the client saw it close),
    // with everything it said read.
    void settle() {
        run_until([&] {
            if (reading_ || pipe_.probe.available(PipeEnd::client) > 0) return false;
            return ended_ ? eof_ : pipe_.probe.reading(PipeEnd::server);
        });
    }
    // run_until - run the io_context until done(), the client reading whatever the session writes.
    void run_until(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + kStuck;
        for (;;) {
            if (!reading_ && (pipe_.probe.available(PipeEnd::client) > 0 || (ended_ && !eof_))) read();
            if (done()) return;
            if (std::chrono::steady_clock::now() > deadline || io_.run_one_for(kStuck) == 0)
                throw std::runtime_error("the session neither answered nor waited for the client");
        }
    }
    // read - one read of what the session wrote, appended to received_.
    void read() {
        reading_ = true;
        boost::asio::co_spawn(
            io_,
            [this]() -> boost::asio::awaitable<void> {
                std::string_view got = co_await pipe_.client->peek_some(kStuck);
                if (got.empty()) eof_ = true;
                received_.append(got);
                pipe_.client->consume(got.size());
                reading_ = false;
            },
            boost::asio::detached);
    }

    boost::asio::io_context& io_ = test_io();
    PipeConnections pipe_;
    std::string received_;
    bool reading_ = false;
    bool eof_ = false;
    bool ended_ = false;
    std::exception_ptr error_;
};

// run_transcript - the steps in order over a new session, fed as feed says; returns whether every
// answer matched (each mismatch is reported with its step and feed). tls is the client's context
// for steps that start TLS.
inline bool run_transcript(const SessionDriver::Session& session, const std::vector<Step>& steps, Feed feed,
                           const boost::asio::ip::address& client = boost::asio::ip::address_v4::loopback(),
                           boost::asio::ssl::context* tls = nullptr) {
    SessionDriver d(session, client);
    bool ok = true;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const Step& s = steps[i];
        std::string got = d.exchange(s.send, s.atomic ? Feed::whole : feed);
        if (!glob_match(s.want, got)) {
            ADD_FAILURE() << fmt::format("step {} ({}), sent:\n{}\nwant:\n{}\ngot:\n{}", i, feed_name(feed),
                                         visible(s.send), visible(s.want), visible(got));
            ok = false;
        }
        if (s.tls) {
            if (!tls) throw std::logic_error("a step starts TLS but no client context was given");
            d.start_tls(*tls);
        }
    }
    if (d.error()) std::rethrow_exception(d.error());
    return ok;
}

// expect_transcript - run_transcript fed whole, then one byte at a time.
inline void expect_transcript(const SessionDriver::Session& session, const std::vector<Step>& steps,
                              const boost::asio::ip::address& client = boost::asio::ip::address_v4::loopback(),
                              boost::asio::ssl::context* tls = nullptr) {
    for (Feed f : {Feed::whole, Feed::bytewise}) run_transcript(session, steps, f, client, tls);
}

}  // namespace mk::test
