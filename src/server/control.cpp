// server/control.cpp — control requests answered from the queue manager's state, as JSON.
#include "server/control.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "relay/queue_manager.hpp"
#include "server/services.hpp"

namespace mk {

using boost::asio::awaitable;

namespace asio = boost::asio;
namespace json = boost::json;
using local = asio::local::stream_protocol;

std::filesystem::path control_path(const std::filesystem::path& data_dir) { return data_dir / "control.sock"; }

namespace {

const char* status_name(RecipientState::Status s) {
    switch (s) {
        case RecipientState::Status::pending: return "pending";
        case RecipientState::Status::delivered: return "delivered";
        case RecipientState::Status::failed: return "failed";
    }
    return "?";
}

json::object status_json(const QueueManager& q) {
    RelayStatus s = q.status();
    json::array unreachable;
    for (const std::string& k : s.unreachable) unreachable.push_back(json::string(k));
    return {{"online", s.online},          {"offline_since", s.offline_since},
            {"messages", s.messages},      {"recipients_pending", s.recipients_pending},
            {"oldest", s.oldest},          {"unreachable", std::move(unreachable)}};
}

json::array queue_json(const QueueManager& q) {
    json::array out;
    for (const QueueEntry& e : q.entries()) {
        json::array rcpts;
        for (std::size_t i = 0; i < e.envelope.remote.size(); ++i) {
            const RecipientState& r = e.state.recipients.at(i);
            rcpts.push_back(json::object{{"address", e.envelope.remote[i].address},
                                         {"status", status_name(r.status)},
                                         {"attempts", r.attempts},
                                         {"last_reply", r.last_reply}});
        }
        out.push_back(json::object{{"id", e.envelope.id},
                                   {"sender", e.envelope.sender},
                                   {"size", e.size},
                                   {"received_at", e.envelope.received_at},
                                   {"next_attempt", e.state.next_attempt},
                                   {"recipients", std::move(rcpts)}});
    }
    return out;
}

std::string answer(const std::string& request, QueueManager& q) {
    if (request == "status") return json::serialize(status_json(q));
    if (request == "queue list") return json::serialize(queue_json(q));
    if (request == "queue flush") {
        q.flush();
        return json::serialize(json::object{{"ok", true}});
    }
    if (request.starts_with("queue remove ")) {
        bool ok = q.remove(request.substr(13));
        return json::serialize(json::object{{"ok", ok}, {"error", ok ? "" : "no such message, or it is being delivered"}});
    }
    return json::serialize(json::object{{"ok", false}, {"error", "unknown request"}});
}

awaitable<void> serve_one(local::socket socket, QueueManager& q) {
    asio::streambuf buf(kMaxControlRequest);
    boost::system::error_code ec;
    std::size_t n = co_await asio::async_read_until(socket, buf, '\n', asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n) - 1);
    std::string reply = answer(line, q) + "\n";
    co_await asio::async_write(socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

awaitable<void> serve_control(local::acceptor& acceptor, QueueManager& queue, Services&) {
    for (;;) {
        boost::system::error_code ec;
        local::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        // One request at a time: they are tiny, and the queue manager lives on this thread.
        co_await serve_one(std::move(s), queue);
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
