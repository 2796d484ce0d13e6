// net/auth_throttle.cpp — per-IP failure counts with exponential delay; bounded in memory.
#include "net/auth_throttle.hpp"

#include <algorithm>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mk {

namespace {
// Past this many tracked addresses, forgotten entries are swept before adding another.
constexpr std::size_t kMaxTracked = 10000;
}

std::chrono::milliseconds AuthThrottle::delay_for(const boost::asio::ip::address& a) const {
    auto it = by_ip_.find(a.to_string());
    if (it == by_ip_.end() || it->second.failures == 0) return std::chrono::milliseconds(0);
    if (std::chrono::steady_clock::now() - it->second.last > kAuthForget) return std::chrono::milliseconds(0);
    unsigned shift = std::min(it->second.failures - 1, 16u);
    return std::min(max_, base_ * (1u << shift));
}

void AuthThrottle::record_failure(const boost::asio::ip::address& a) {
    auto now = std::chrono::steady_clock::now();
    if (by_ip_.size() >= kMaxTracked)
        std::erase_if(by_ip_, [&](const auto& kv) { return now - kv.second.last > kAuthForget; });
    Entry& e = by_ip_[a.to_string()];
    if (now - e.last > kAuthForget) e.failures = 0;
    ++e.failures;
    e.last = now;
}

void AuthThrottle::record_success(const boost::asio::ip::address& a) { by_ip_.erase(a.to_string()); }

boost::asio::awaitable<std::chrono::milliseconds> AuthThrottle::failed(const boost::asio::ip::address& a) {
    record_failure(a);
    const std::chrono::milliseconds delay = delay_for(a);
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
    boost::system::error_code ec;
    co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    co_return delay;
}

}  // namespace mk
