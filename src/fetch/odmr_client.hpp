// fetch/odmr_client.hpp — the customer side of on-demand relay: our domains' mail pulled from the
// provider that holds it (ATRN, RFC 2645: the connection we dial turns round, and the provider delivers
// on it through our ordinary SMTP server session, so every message enters by the intake), and
// providers asked to flush what they queue for us (ETRN, RFC 1985). The providers are untrusted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "service/services.hpp"

namespace mk {

using boost::asio::awaitable;

// RFC 2645 5.2.1: the provider may take up to ten minutes to answer ATRN.
inline constexpr std::chrono::minutes kAtrnReplyTimeout{10};

// OdmrReport - what one request came to: [odmr.client]'s ATRN or one [[etrn]].
struct OdmrReport {
    std::string request;       // "ATRN customer.example,other.example" or "ETRN customer.example"
    std::string provider;      // "host:port" as configured
    std::size_t received = 0;  // ATRN: messages accepted in the reversed session (durable before our 250)
    std::string reply;         // the provider's reply to ATRN or ETRN, "453 4.0.0 You have no mail"; empty
                               // when it never got that far
    std::string error;         // empty on success (2xx, or ATRN's 453: nothing held)
};

class OdmrClient {
public:
    OdmrClient(boost::asio::io_context& ioc, Services& services);

    // start - run every request at once, then on [odmr.client] interval (the default interval when
    // only [[etrn]] is configured); nothing configured: nothing runs.
    void start();
    // stop - SIGTERM: no new run; a reversed session waiting for the provider's next command closes
    // (one in DATA finishes its message first, as every server session does when draining).
    void stop();
    // wake - the line is up again (the relay says so): run at once.
    void wake();
    // run_now - every request once, started after the call (a run in progress is waited for first).
    awaitable<std::vector<OdmrReport>> run_now();

    struct Status {
        std::string request;
        std::string provider;
        std::int64_t last_run = 0;       // unix seconds; 0 never
        std::int64_t last_success = 0;
        std::uint64_t received = 0;      // since the daemon started
        std::string last_error;
        bool running = false;
    };
    // status - each configured request's last outcome, in config order.
    std::vector<Status> status() const;

private:
    awaitable<void> schedule();
    awaitable<std::vector<OdmrReport>> run_all();
    awaitable<OdmrReport> atrn(ConfigPtr config);
    awaitable<OdmrReport> etrn(ConfigPtr config, std::size_t index);
    void record(const OdmrReport& r);

    boost::asio::io_context& ioc_;
    Services& svc_;
    boost::asio::steady_timer timer_;
    bool running_ = false;
    bool stopping_ = false;
    std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters_;   // run_now calls waiting for a run
    Connection* turned_ = nullptr;                                      // the reversed session's, while it runs
    std::vector<Status> last_;                                          // by request key (record)
};

}  // namespace mk
