// server/memory_release.hpp — gives memory back to the system after a burst. A daemon that lives
// for months must not keep, idle, what one 100,000-message POP3 session or a 10,000-message queue
// flush once needed: glibc's malloc keeps freed memory in its arenas (one per thread that
// allocated) unless told to trim.
#pragma once

#include <chrono>
#include <cstddef>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace mk {

class MemoryRelease {
public:
    // one_arena - every thread allocates from malloc's main arena. Call before any thread starts.
    // A per-thread arena gives back only free chunks, never its top: 8 MB listed by a pool thread
    // for one POP3 session would stay resident for good. The daemon's few threads (network, intake
    // committer, blocking pool) hardly contend, and thread caches serve small allocations.
    static void one_arena();

    explicit MemoryRelease(boost::asio::io_context& ioc) : ioc_(ioc), timer_(ioc) {}
    // start - look every kInterval; when malloc holds more than kSlack free, trim every arena.
    void start();
    // now - look at once (the last session just ended: whatever it needed is free now).
    void now() { timer_.cancel(); }
    void stop();

    static constexpr std::chrono::seconds kInterval{30};
    static constexpr std::size_t kSlack = 4 * 1024 * 1024;
    static constexpr std::chrono::seconds kMinGap{1};

private:
    boost::asio::awaitable<void> run();
    boost::asio::io_context& ioc_;
    boost::asio::steady_timer timer_;
    bool stopped_ = false;
    std::chrono::steady_clock::time_point last_trim_{};
};

}  // namespace mk
