// fetch/source.cpp — POP3 and IMAP behind the one Source interface; talks to the provider through
// the protocol clients only.
#include "fetch/source.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "core/secret.hpp"
#include "imap/client.hpp"
#include "net/dns.hpp"
#include "pop3/client.hpp"

namespace mk {

namespace {

namespace asio = boost::asio;
using Protocol = AccountConfig::Protocol;

class Pop3Source : public Source {
public:
    Pop3Source(std::unique_ptr<pop3::Client> c, std::string name) : c_(std::move(c)), name_(std::move(name)) {}

    asio::awaitable<std::vector<RemoteMessage>> list() override {
        std::vector<RemoteMessage> out;
        auto infos = co_await c_->messages();
        for (const auto& i : infos) out.push_back({i.uid, i.size, i.number});
        co_return out;
    }
    asio::awaitable<void> retrieve(const RemoteMessage& m, const std::function<void(std::string_view)>& sink,
                                   const RemoteMessage* next) override {
        co_await c_->retrieve(static_cast<unsigned>(m.handle), sink, next ? static_cast<unsigned>(next->handle) : 0u);
    }
    asio::awaitable<void> remove(const std::vector<RemoteMessage>& ms) override {
        for (const RemoteMessage& m : ms) co_await c_->remove(static_cast<unsigned>(m.handle));
    }
    // RFC 1939 6: the deletions happen in the UPDATE state, which only QUIT enters.
    asio::awaitable<void> close() override { co_await c_->quit(); }
    std::string protocol_name() const override { return name_; }

private:
    std::unique_ptr<pop3::Client> c_;
    std::string name_;
};

class ImapFolder : public Source {
public:
    ImapFolder(std::shared_ptr<imap::Client> c, std::string folder, std::string name, bool last)
        : c_(std::move(c)), folder_(std::move(folder)), name_(std::move(name)), last_(last) {}

    asio::awaitable<std::vector<RemoteMessage>> list() override {
        imap::Folder f = co_await c_->select(folder_);
        std::vector<RemoteMessage> out;
        auto infos = co_await c_->messages();
        // A UID means nothing without its folder's UIDVALIDITY (RFC 3501 2.3.1.1).
        for (const auto& i : infos) out.push_back({fmt::format("{}/{}/{}", folder_, f.uidvalidity, i.uid), i.size, i.uid});
        co_return out;
    }
    asio::awaitable<void> retrieve(const RemoteMessage& m, const std::function<void(std::string_view)>& sink,
                                   const RemoteMessage*) override {
        co_await c_->retrieve(static_cast<std::uint32_t>(m.handle), sink);
    }
    asio::awaitable<void> remove(const std::vector<RemoteMessage>& ms) override {
        std::vector<std::uint32_t> uids;
        for (const RemoteMessage& m : ms) uids.push_back(static_cast<std::uint32_t>(m.handle));
        if (!uids.empty()) co_await c_->remove(uids);
    }
    bool can_watch() const override { return c_->can_idle(); }
    void abort() override { c_->abort(); }
    asio::awaitable<bool> watch(std::chrono::seconds max_wait) override {
        if (!selected_) {
            co_await c_->select(folder_);
            selected_ = true;
        }
        co_return co_await c_->idle(max_wait);
    }
    // The folders share one connection: the last one to close logs out.
    asio::awaitable<void> close() override {
        if (last_) co_await c_->logout();
    }
    std::string protocol_name() const override { return name_; }

private:
    std::shared_ptr<imap::Client> c_;
    std::string folder_, name_;
    bool last_;
    bool selected_ = false;
};

}  // namespace

asio::awaitable<bool> Source::watch(std::chrono::seconds) { throw std::logic_error("watch without can_watch"); }

asio::awaitable<std::vector<std::unique_ptr<Source>>> open_sources(const Config& config, const AccountConfig& a) {
    std::vector<asio::ip::tcp::endpoint> eps;
    try {
        auto addrs = co_await resolve_host(a.host, config.relay.dns_server);
        for (auto& addr : addrs) eps.emplace_back(addr, a.port);
    } catch (const DnsError& e) {
        throw std::runtime_error(fmt::format("{}: {}", a.host, e.what()));
    }
    const bool implicit_tls = a.protocol == Protocol::pop3s || a.protocol == Protocol::imaps;
    // The options both protocols share (net/client); IMAP adds a size limit, left at its default.
    ClientOptions o;
    o.tls = implicit_tls ? TlsMode::implicit : a.starttls ? TlsMode::starttls : TlsMode::none;
    o.tls_verify = a.tls_verify;
    if (!a.ca_file.empty()) o.ca_file = config.resolve(a.ca_file);
    o.server_name = a.host;
    o.timeout = a.timeout;
    o.username = a.username;
    o.password = password_source(a.password, a.password_command);
    o.oauth_token = token_source(a.oauth2_token_command);
    std::vector<std::unique_ptr<Source>> out;
    if (a.protocol == Protocol::pop3 || a.protocol == Protocol::pop3s) {
        auto c = co_await pop3::Client::connect(eps, o);
        out.push_back(std::make_unique<Pop3Source>(std::move(c), o.tls == TlsMode::none ? "POP3" : "POP3S"));
        co_return out;
    }
    imap::ClientOptions imap_options{o};
    std::shared_ptr<imap::Client> c = co_await imap::Client::connect(eps, imap_options);
    std::string name = o.tls == TlsMode::none ? "IMAP" : "IMAPS";
    for (std::size_t i = 0; i < a.folders.size(); ++i)
        out.push_back(std::make_unique<ImapFolder>(c, a.folders[i], name, i + 1 == a.folders.size()));
    co_return out;
}

}  // namespace mk
