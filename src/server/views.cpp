// server/views.cpp — status and queue views as JSON; no I/O, trusted data only (our own queue files
// and state, already parsed).
#include "server/views.hpp"

#include "route/next_hop.hpp"

namespace mk {

namespace json = boost::json;

json::object status_view(const RelayStatus& relay, std::span<const Fetcher::Status> accounts,
                         std::span<const OdmrClient::Status> odmr) {
    json::array unreachable;
    for (const std::string& k : relay.unreachable) unreachable.push_back(json::string(k));
    json::array accts;
    for (const Fetcher::Status& a : accounts)
        accts.push_back(json::object{{"account", a.account},
                                     {"running", a.running},
                                     {"last_run", a.run.last_run},
                                     {"last_success", a.run.last_success},
                                     {"fetched", a.run.fetched_total},
                                     {"last_error", a.run.last_error}});
    json::array requests;
    for (const OdmrClient::Status& o : odmr)
        requests.push_back(json::object{{"request", o.request},
                                        {"provider", o.provider},
                                        {"running", o.running},
                                        {"last_run", o.last_run},
                                        {"last_success", o.last_success},
                                        {"received", o.received},
                                        {"last_error", o.last_error}});
    return {{"online", relay.online},          {"offline_since", relay.offline_since},
            {"messages", relay.messages},      {"recipients_pending", relay.recipients_pending},
            {"recipients_held", relay.recipients_held},
            {"oldest", relay.oldest},          {"unreachable", std::move(unreachable)},
            {"accounts", std::move(accts)},   {"odmr", std::move(requests)}};
}

json::array odmr_view(std::span<const OdmrReport> reports) {
    json::array out;
    for (const OdmrReport& r : reports)
        out.push_back(json::object{{"request", r.request},
                                   {"provider", r.provider},
                                   {"received", r.received},
                                   {"reply", r.reply},
                                   {"error", r.error}});
    return out;
}

json::array queue_view(std::span<const QueueEntry> entries, const Config& config) {
    json::array out;
    for (const QueueEntry& e : entries) {
        json::array rcpts;
        for (std::size_t i = 0; i < e.envelope.remote.size(); ++i) {
            const RecipientState& r = e.state.recipients.at(i);
            bool held = r.status == RecipientState::Status::pending &&
                        next_hop(config, e.envelope.sender, e.envelope.remote[i].address).hold;
            rcpts.push_back(json::object{{"address", e.envelope.remote[i].address},
                                         {"status", held ? std::string_view("held") : status_name(r.status)},
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

}  // namespace mk
