// fetch/odmr_client.cpp — ATRN and ETRN as the customer (RFC 2645, RFC 1985). The provider is
// untrusted: after ATRN's 250 it is an SMTP client of ours like any other on the MX port, except that
// we dialled it; what it sends goes through smtp_session (role turned) and the intake, and is ours only
// once our 250 says so. A run never deletes anything anywhere: the provider removes a message from its
// hold after that 250, which is its side of "nothing lost".
#include "fetch/odmr_client.hpp"

#include <ctime>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "net/connection.hpp"
#include "net/dns.hpp"
#include "smtp/client.hpp"
#include "smtp/server_session.hpp"

namespace mk {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// How often [[etrn]] alone runs (without [odmr.client], whose interval rules): the ODMR default.
const std::chrono::seconds kDefaultInterval = OdmrClientConfig{}.interval;
// RFC 5321 4.5.3.2.7's five minutes would hold a run long after a provider stopped caring; ETRN's
// reply comes at once (the flush runs after it).
constexpr std::chrono::seconds kEtrnReplyTimeout = 2min;

std::string provider_of(const HopConfig& hop) { return fmt::format("{}:{}", hop.host, hop.port); }

// The command each request sends, which with the provider names it in reports and status.
std::string atrn_request(const OdmrClientConfig& c) { return fmt::format("ATRN {}", fmt::join(c.domains, ",")); }
std::string etrn_request(const EtrnConfig& c) { return "ETRN " + c.domain; }

// connect - the provider's SMTP (or odmr) port with TLS and login as configured. Throws ClientError
// (DNS failures as network ones: the line may be down).
awaitable<std::unique_ptr<smtp::Client>> connect(const Config& c, const HopConfig& hop) {
    std::vector<asio::ip::address> addrs;
    try {
        addrs = co_await resolve_host(hop.host, c.relay.dns_server);
    } catch (const DnsError& e) {
        throw smtp::ClientError(fmt::format("DNS: {}", e.what()), smtp::Cause::network);
    }
    std::vector<asio::ip::tcp::endpoint> eps;
    for (const auto& a : addrs) eps.emplace_back(a, hop.port);
    co_return co_await smtp::Client::connect(std::move(eps), smtp::hop_options(c, hop, hop.host));
}

}  // namespace

OdmrClient::OdmrClient(asio::io_context& ioc, Services& services) : ioc_(ioc), svc_(services), timer_(ioc) {}

void OdmrClient::start() {
    const Config& c = *svc_.config;
    if (!c.odmr.client && c.etrn.empty()) return;
    asio::co_spawn(ioc_, schedule(), asio::detached);
}

void OdmrClient::stop() {
    stopping_ = true;
    timer_.cancel();
    for (auto& w : waiters_) w->cancel();
    if (turned_ && turned_->idle()) turned_->close();
}

void OdmrClient::wake() { timer_.cancel(); }

awaitable<void> OdmrClient::schedule() {
    while (!stopping_) {
        co_await run_now();
        const ConfigPtr config = svc_.config;
        if (!config->odmr.client && config->etrn.empty()) co_return;   // removed by a reload
        timer_.expires_after(config->odmr.client ? config->odmr.client->interval : kDefaultInterval);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

awaitable<std::vector<OdmrReport>> OdmrClient::run_now() {
    // One run at a time: a second request waits for the running one, then runs its own (what
    // `mailkeep odmr` promises: a run that started after it asked).
    while (running_) {
        auto done = std::make_shared<asio::steady_timer>(ioc_, std::chrono::steady_clock::time_point::max());
        waiters_.push_back(done);
        boost::system::error_code ec;
        co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopping_) co_return std::vector<OdmrReport>{};
    }
    running_ = true;
    std::vector<OdmrReport> reports;
    try {
        reports = co_await run_all();
    } catch (...) {
        running_ = false;
        throw;
    }
    running_ = false;
    for (auto& w : waiters_) w->cancel();
    waiters_.clear();
    co_return reports;
}

awaitable<std::vector<OdmrReport>> OdmrClient::run_all() {
    // One snapshot for the run, whatever SIGHUP does meanwhile.
    const ConfigPtr config = svc_.config;
    std::vector<OdmrReport> reports;
    if (config->odmr.client && !stopping_) reports.push_back(co_await atrn(config));
    for (std::size_t i = 0; i < config->etrn.size() && !stopping_; ++i) reports.push_back(co_await etrn(config, i));
    for (const OdmrReport& r : reports) record(r);
    co_return reports;
}

awaitable<OdmrReport> OdmrClient::atrn(ConfigPtr config) {
    const OdmrClientConfig& oc = *config->odmr.client;
    OdmrReport r;
    r.request = atrn_request(oc);
    r.provider = provider_of(oc.hop);
    std::unique_ptr<smtp::Client> client;
    try {
        client = co_await connect(*config, oc.hop);
        if (!client->extensions().atrn)
            spdlog::info("odmr {}: ATRN is not in the provider's EHLO reply; asking anyway", client->peer());
        smtp::Result answer = co_await client->command(r.request, kAtrnReplyTimeout);
        r.reply = answer.text;
        if (answer.code == 453) {   // RFC 2645 5.2.1: nothing held
            spdlog::info("odmr {}: {}: {}", client->peer(), r.request, answer.text);
            co_await client->quit();
            co_return r;
        }
        if (answer.code != 250) {
            r.error = fmt::format("{} refused: {}", r.request, answer.text);
            co_await client->quit();
            co_return r;
        }
    } catch (const smtp::ClientError& e) {
        r.error = e.what();
        co_return r;
    }
    // RFC 2645 5.3: the roles reverse on this connection; we are its SMTP server now, and the
    // provider's mail is ours message by message, as our 250 after each DATA says.
    spdlog::info("odmr {}: {}: reversing", client->peer(), r.request);
    Connection& conn = client->turned();
    turned_ = &conn;
    try {
        SmtpSessionEnd end = co_await smtp_session(conn, svc_, SmtpRole::turned);
        r.received = end.accepted;
        // The provider says QUIT when it has handed over all it holds for us (RFC 2645 5.3); without
        // it the rest is still held there, for the next run.
        if (!end.quit) r.error = "the provider ended the reversed session without QUIT";
    } catch (const std::exception& e) {
        r.error = fmt::format("the reversed session failed: {}", e.what());
    }
    turned_ = nullptr;
    spdlog::info("odmr {}: {} done: {} message(s) received{}", client->peer(), r.request, r.received,
                 r.error.empty() ? "" : ", " + r.error);
    co_return r;
}

awaitable<OdmrReport> OdmrClient::etrn(ConfigPtr config, std::size_t index) {
    const EtrnConfig& ec = config->etrn[index];
    OdmrReport r;
    r.request = etrn_request(ec);
    r.provider = provider_of(ec.hop);
    try {
        std::unique_ptr<smtp::Client> client = co_await connect(*config, ec.hop);
        smtp::Result answer = co_await client->command(r.request, kEtrnReplyTimeout);
        r.reply = answer.text;
        // RFC 1985 5: 250 started, 251 nothing waiting, 252 and 253 pending messages started.
        if (!answer.ok()) r.error = fmt::format("{} refused: {}", r.request, answer.text);
        spdlog::info("etrn {}: {}: {}", client->peer(), r.request, answer.text);
        co_await client->quit();
    } catch (const smtp::ClientError& e) {
        r.error = e.what();
    }
    co_return r;
}

void OdmrClient::record(const OdmrReport& r) {
    const std::int64_t now = std::time(nullptr);
    Status* s = nullptr;
    for (Status& x : last_)
        if (x.request == r.request && x.provider == r.provider) s = &x;
    if (!s) {
        last_.push_back(Status{r.request, r.provider});
        s = &last_.back();
    }
    s->last_run = now;
    if (r.error.empty()) s->last_success = now;
    s->received += r.received;
    s->last_error = r.error;
    if (!r.error.empty()) spdlog::warn("odmr: {} at {}: {}", r.request, r.provider, r.error);
}

std::vector<OdmrClient::Status> OdmrClient::status() const {
    const ConfigPtr config = svc_.config;
    std::vector<std::pair<std::string, std::string>> requests;
    if (const auto& oc = config->odmr.client) requests.emplace_back(atrn_request(*oc), provider_of(oc->hop));
    for (const EtrnConfig& e : config->etrn) requests.emplace_back(etrn_request(e), provider_of(e.hop));
    std::vector<Status> out;
    for (const auto& [request, provider] : requests) {
        Status s{request, provider};
        for (const Status& x : last_)
            if (x.request == request && x.provider == provider) s = x;
        s.running = running_;
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace mk
