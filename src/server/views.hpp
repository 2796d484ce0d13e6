// server/views.hpp — the daemon's state as the administrator sees it, built in one place: the
// control socket answers with these, the CLI prints them (and builds the queue view itself when no
// daemon runs), the HTTP API will serve them. Pure: the callers gather the data (on the network
// thread, or off it for what reads the disk), the views only shape it.
#pragma once

#include <span>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "fetch/fetcher.hpp"
#include "fetch/odmr_client.hpp"
#include "relay/queue_manager.hpp"
#include "store/queue.hpp"

namespace mk {

// status_view - the relay's state (online, queue size, oldest message, unreachable hops), each
// fetch account's last run and each ATRN/ETRN request's: {"online", "offline_since", "messages",
// "recipients_pending", "recipients_held" (of the pending, those held for ATRN), "oldest",
// "unreachable": [hop], "accounts": [{"account", "running", "last_run", "last_success", "fetched",
// "last_error"}], "odmr": [{"request", "provider", "running", "last_run", "last_success", "received",
// "last_error"}]}; times in unix seconds, 0 for never.
boost::json::object status_view(const RelayStatus& relay, std::span<const Fetcher::Status> accounts,
                                std::span<const OdmrClient::Status> odmr);

// odmr_view - what one ATRN/ETRN run did: [{"request", "provider", "received", "reply", "error"}].
boost::json::array odmr_view(std::span<const OdmrReport> reports);

// queue_view - the queued messages in the order given (oldest first): [{"id", "sender", "size",
// "received_at", "next_attempt", "recipients": [{"address", "status", "attempts", "last_reply"}]}],
// one recipient per remote recipient of the envelope. status is the queue's ("pending", "delivered",
// "failed"), except "held" for a pending recipient that config holds for ATRN ([[odmr.hold]]).
boost::json::array queue_view(std::span<const QueueEntry> entries, const Config& config);

}  // namespace mk
