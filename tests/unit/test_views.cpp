// tests/unit/test_views.cpp — the status and queue views: the JSON that the control socket sends,
// the CLI reads and the HTTP API will serve, key for key.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "server/views.hpp"

namespace mk {
namespace {

TEST(Views, QueueViewOneRecipientPerRemote) {
    QueueEntry e;
    e.envelope.id = "q1";
    e.envelope.sender = "anna@home.arpa";
    e.envelope.mailboxes = {"bert"};   // local: not the relay's, not shown
    e.envelope.remote = {{"x@example.com"}, {"y@example.org"}};
    e.envelope.received_at = 1700000000;
    e.size = 1234;
    e.state.next_attempt = 1700000600;
    e.state.recipients.resize(2);
    e.state.recipients[0].status = RecipientState::Status::pending;
    e.state.recipients[0].attempts = 2;
    e.state.recipients[0].last_reply = "451 4.3.0 later";
    e.state.recipients[1].status = RecipientState::Status::delivered;
    const QueueEntry entries[] = {e};
    EXPECT_EQ(boost::json::serialize(queue_view(entries, Config{})),
              R"([{"id":"q1","sender":"anna@home.arpa","size":1234,"received_at":1700000000,"next_attempt":1700000600,)"
              R"("recipients":[{"address":"x@example.com","status":"pending","attempts":2,"last_reply":"451 4.3.0 later"},)"
              R"({"address":"y@example.org","status":"delivered","attempts":0,"last_reply":""}]}])");
    EXPECT_EQ(boost::json::serialize(queue_view({}, Config{})), "[]");
}

TEST(Views, StatusViewRelayAndAccounts) {
    RelayStatus relay;
    relay.online = false;
    relay.offline_since = 1700000100;
    relay.messages = 3;
    relay.recipients_pending = 4;
    relay.recipients_held = 1;
    relay.oldest = 1700000000;
    relay.unreachable = {"smarthost:mail.example.net:587"};
    Fetcher::Status a;
    a.account = "anna-pop";
    a.running = true;
    a.run.last_run = 1700000200;
    a.run.last_success = 1700000150;
    a.run.fetched_total = 17;
    a.run.last_error = "connect: refused";
    const Fetcher::Status accounts[] = {a};
    OdmrClient::Status o;
    o.request = "ATRN customer.example";
    o.provider = "odmr.provider.example:366";
    o.last_run = 1700000300;
    o.last_success = 1700000300;
    o.received = 5;
    const OdmrClient::Status odmr[] = {o};
    EXPECT_EQ(boost::json::serialize(status_view(relay, accounts, odmr)),
              R"({"online":false,"offline_since":1700000100,"messages":3,"recipients_pending":4,"recipients_held":1,"oldest":1700000000,)"
              R"("unreachable":["smarthost:mail.example.net:587"],"accounts":[{"account":"anna-pop","running":true,)"
              R"("last_run":1700000200,"last_success":1700000150,"fetched":17,"last_error":"connect: refused"}],)"
              R"("odmr":[{"request":"ATRN customer.example","provider":"odmr.provider.example:366","running":false,)"
              R"("last_run":1700000300,"last_success":1700000300,"received":5,"last_error":""}]})");
}

// What `mailkeep odmr` prints from: one object per request, the provider's reply and what arrived.
TEST(Views, OdmrViewReportsEachRequest) {
    const OdmrReport reports[] = {{"ATRN customer.example", "odmr.example:366", 3, "250 2.0.0 OK now reversing", ""},
                                  {"ETRN customer.example", "mx.example:25", 0, "459 no", "ETRN customer.example refused: 459 no"}};
    EXPECT_EQ(boost::json::serialize(odmr_view(reports)),
              R"([{"request":"ATRN customer.example","provider":"odmr.example:366","received":3,"reply":"250 2.0.0 OK now reversing","error":""},)"
              R"({"request":"ETRN customer.example","provider":"mx.example:25","received":0,"reply":"459 no",)"
              R"("error":"ETRN customer.example refused: 459 no"}])");
}

}  // namespace
}  // namespace mk

namespace mk {
namespace {

// A pending recipient in a hold domain shows as "held" (waiting for ATRN, not for a retry); once
// delivered or failed it shows as such.
TEST(Views, QueueViewShowsHeldForAtrn) {
    Config c;
    c.odmr.hold = {{"customer.example", "anna"}};
    QueueEntry e;
    e.envelope.id = "q2";
    e.envelope.sender = "someone@far.example";
    e.envelope.remote = {{"bob@customer.example"}, {"x@example.com"}, {"eve@customer.example"}};
    e.state.recipients.resize(3);
    e.state.recipients[2].status = RecipientState::Status::failed;
    const QueueEntry entries[] = {e};
    boost::json::array v = queue_view(entries, c);
    const auto& r = v.at(0).as_object().at("recipients").as_array();
    EXPECT_EQ(r.at(0).as_object().at("status").as_string(), "held");
    EXPECT_EQ(r.at(1).as_object().at("status").as_string(), "pending");
    EXPECT_EQ(r.at(2).as_object().at("status").as_string(), "failed");
}

}  // namespace
}  // namespace mk
