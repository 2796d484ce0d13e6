// server/control.cpp — control requests answered from the queue manager's and fetcher's state, as
// JSON (server/views); only the local administrator reaches the socket.
#include "server/control.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "fetch/fetcher.hpp"
#include "fetch/odmr_client.hpp"
#include "relay/queue_manager.hpp"
#include "server/views.hpp"

namespace mk {

using boost::asio::awaitable;

namespace asio = boost::asio;
namespace json = boost::json;
using local = asio::local::stream_protocol;

std::filesystem::path control_path(const std::filesystem::path& data_dir) { return data_dir / "control.sock"; }

namespace {

// The daemon's parts a request may reach.
struct Parts {
    QueueManager& queue;
    Fetcher& fetcher;
    OdmrClient& odmr;
};

awaitable<std::string> answer(const std::string& request, Parts p) {
    QueueManager& q = p.queue;
    Fetcher& f = p.fetcher;
    if (request == "status") {
        std::vector<Fetcher::Status> accounts = co_await f.status();
        co_return json::serialize(status_view(q.status(), accounts, p.odmr.status()));
    }
    if (request == "queue list") co_return json::serialize(queue_view(q.entries(), *q.config()));
    if (request == "queue flush") {
        q.flush();
        co_return json::serialize(json::object{{"ok", true}});
    }
    if (request.starts_with("queue remove ")) {
        bool ok = co_await q.remove(request.substr(13));
        co_return json::serialize(json::object{{"ok", ok}, {"error", ok ? "" : "no such message, or it is being delivered"}});
    }
    if (request == "fetch" || request.starts_with("fetch ")) {
        std::string account = request.size() > 6 ? request.substr(6) : "";
        auto reports = co_await f.run_now(account);
        json::array out;
        for (const CycleReport& r : reports)
            out.push_back(json::object{{"account", r.account}, {"delivered", r.delivered}, {"removed", r.removed},
                                       {"left", r.left}, {"error", r.error}});
        co_return json::serialize(json::object{{"ok", !reports.empty()}, {"error", reports.empty() ? "no such account" : ""},
                                               {"reports", std::move(out)}});
    }
    if (request == "odmr") {
        std::vector<OdmrReport> reports = co_await p.odmr.run_now();
        co_return json::serialize(json::object{{"ok", !reports.empty()},
                                               {"error", reports.empty() ? "neither [odmr.client] nor [[etrn]] is configured" : ""},
                                               {"reports", odmr_view(reports)}});
    }
    co_return json::serialize(json::object{{"ok", false}, {"error", "unknown request"}});
}

awaitable<void> serve_one(local::socket socket, Parts parts) {
    asio::streambuf buf(kMaxControlRequest);
    boost::system::error_code ec;
    std::size_t n = co_await asio::async_read_until(socket, buf, '\n', asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n) - 1);
    std::string reply = co_await answer(line, parts);
    reply += "\n";
    co_await asio::async_write(socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

awaitable<void> serve_control(local::acceptor& acceptor, QueueManager& queue, Fetcher& fetcher, OdmrClient& odmr) {
    for (;;) {
        boost::system::error_code ec;
        local::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        // Each request runs on its own: a `fetch` may take a while, `status` must not wait for it.
        asio::co_spawn(acceptor.get_executor(), serve_one(std::move(s), Parts{queue, fetcher, odmr}), asio::detached);
    }
}

std::optional<std::string> control_request(const std::filesystem::path& data_dir, const std::string& request) {
    asio::io_context ioc;
    local::socket s(ioc);
    boost::system::error_code ec;
    s.connect(local::endpoint(control_path(data_dir).string()), ec);
    if (ec) return std::nullopt;
    asio::write(s, asio::buffer(request + "\n"), ec);
    if (ec) return std::nullopt;
    std::string out;
    asio::read(s, asio::dynamic_buffer(out), ec);   // until the daemon closes
    if (out.empty()) return std::nullopt;
    return out;
}

}  // namespace mk
