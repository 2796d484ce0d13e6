// net/auth_throttle.hpp — a growing delay after failed logins, per client IP, shared by SMTP and POP3.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

namespace mk {

class AuthThrottle {
public:
    // delay_for - how long to wait before answering a failure from this address (after record_failure).
    std::chrono::milliseconds delay_for(const boost::asio::ip::address& a) const;
    void record_failure(const boost::asio::ip::address& a);
    void record_success(const boost::asio::ip::address& a);

private:
    struct Entry {
        unsigned failures = 0;
        std::chrono::steady_clock::time_point last;
    };
    std::unordered_map<std::string, Entry> by_ip_;
};

// First failure waits kBaseDelay, each further one doubles it, up to kMaxDelay; forgotten after kForget.
constexpr std::chrono::milliseconds kAuthBaseDelay{500};
constexpr std::chrono::milliseconds kAuthMaxDelay{15000};
constexpr std::chrono::minutes kAuthForget{15};

}  // namespace mk
