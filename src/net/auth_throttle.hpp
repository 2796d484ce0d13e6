// net/auth_throttle.hpp — a growing delay after failed logins, per client IP, shared by SMTP, POP3 and IMAP.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

namespace mk {

// The default delays: the first failure waits kAuthBaseDelay, each further one twice the last, up to
// kAuthMaxDelay; forgotten after kAuthForget.
constexpr std::chrono::milliseconds kAuthBaseDelay{500};
constexpr std::chrono::milliseconds kAuthMaxDelay{15000};
constexpr std::chrono::minutes kAuthForget{15};

class AuthThrottle {
public:
    // AuthThrottle - the first failure from an address waits base, each further one twice the last,
    // up to max (a test that is not about the delay sets both to zero).
    explicit AuthThrottle(std::chrono::milliseconds base = kAuthBaseDelay, std::chrono::milliseconds max = kAuthMaxDelay)
        : base_(base), max_(max) {}

    // delay_for - how long to wait before answering a failure from this address (after record_failure).
    std::chrono::milliseconds delay_for(const boost::asio::ip::address& a) const;
    void record_failure(const boost::asio::ip::address& a);
    void record_success(const boost::asio::ip::address& a);
    // failed - a failure from a: recorded, then its delay waited out before the caller answers (the
    // wait makes guessing slow and holds nothing but that connection); the delay waited.
    boost::asio::awaitable<std::chrono::milliseconds> failed(const boost::asio::ip::address& a);

private:
    struct Entry {
        unsigned failures = 0;
        std::chrono::steady_clock::time_point last;
    };
    std::chrono::milliseconds base_, max_;
    std::unordered_map<std::string, Entry> by_ip_;
};

}  // namespace mk
