// server/memory_release.cpp — mallinfo2(3) sums the free bytes of every arena; malloc_trim(3)
// hands the free pages of every arena back (not only the top of the heap), with madvise.
#include "server/memory_release.hpp"

#include <malloc.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace mk {

namespace asio = boost::asio;

void MemoryRelease::one_arena() { ::mallopt(M_ARENA_MAX, 1); }

void MemoryRelease::start() { asio::co_spawn(ioc_, run(), asio::detached); }

void MemoryRelease::stop() {
    stopped_ = true;
    timer_.cancel();
}

asio::awaitable<void> MemoryRelease::run() {
    while (!stopped_) {
        timer_.expires_after(kInterval);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopped_) co_return;
        // Cut short by now() or not: look. mallinfo2 walks the arenas' counters; cheap. A trim
        // walks the free lists and the pages it returns fault in again when reused: during a burst
        // of short sessions (each end calls now()) it runs at most once per kMinGap.
        struct mallinfo2 before = ::mallinfo2();
        auto since = std::chrono::steady_clock::now() - last_trim_;
        if (before.fordblks <= kSlack || since < kMinGap) continue;
        ::malloc_trim(0);
        last_trim_ = std::chrono::steady_clock::now();
        spdlog::debug("memory: {} KiB free in malloc's arenas handed back to the system", before.fordblks / 1024);
    }
}

}  // namespace mk
