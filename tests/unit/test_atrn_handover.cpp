// tests/unit/test_atrn_handover.cpp — the provider's half of ATRN (RFC 2645) after its 250: the
// relay queue hands the mail it holds for a domain over a connection the customer dialled, to
// mailkeep's own SMTP server session as the customer runs it, over the in-memory pipe.
#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "household.hpp"
#include "net/connection.hpp"
#include "net/pipe.hpp"
#include "relay/queue_manager.hpp"
#include "smtp/server_session.hpp"
#include "store/queue.hpp"

namespace mk {
namespace {

using namespace std::chrono_literals;

// Provider - a mailkeep on a VPS: local domain provider.example with user carl, the MX of home.arpa
// (the customer's domain), holding its mail for carl to pull; a smarthost where nothing listens, so
// that a delivery the scheduler should never try would show as an unreachable hop.
struct Provider {
    test::Household h;
    Provider() {
        h.config->hostname = "odmr.provider.example";
        h.config->local_domains = {"provider.example"};
        h.config->postmaster = "carl@provider.example";
        h.config->users = {{"carl", test::cheap_hash("carl-secret"), {"carl@provider.example"}, {}, true}};
        h.config->odmr.hold = {{"home.arpa", "carl"}};
        h.config->relay.mode = RelayConfig::Mode::smarthost;
        h.config->relay.smarthost.host = "127.0.0.1";
        h.config->relay.smarthost.port = 9;
        h.config->relay.smarthost.tls = TlsMode::none;
        h.config->relay.warn_after = 4h;
        h.config->relay.give_up_after = 5 * 24h;
    }
    // queue - a message from carl to rcpts, queued as the intake queues mail for a hold domain.
    void queue(const std::string& id, const std::string& body, const std::vector<std::string>& rcpts,
               std::chrono::seconds age = 0s) {
        auto file = h.intake.create(id);
        file->write(body);
        Envelope env;
        env.id = id;
        env.sender = "carl@provider.example";
        for (const std::string& r : rcpts) env.remote.push_back({r});
        env.received_at = std::time(nullptr) - age.count();
        h.intake.commit_sync(std::move(file), env);
    }
};

// run_until - the io_context until done() or a bound (a hung hand-over fails, not hangs).
template <class Done>
bool run_until(boost::asio::io_context& ioc, Done done) {
    auto until = std::chrono::steady_clock::now() + 20s;
    while (!done() && std::chrono::steady_clock::now() < until) {
        ioc.restart();
        ioc.run_for(10ms);
    }
    return done();
}

// Handover - one ATRN reversal: the customer's SMTP server session on one end of a pipe, the
// provider's deliver_held on the other.
struct Handover {
    std::optional<AtrnOutcome> outcome;
    bool customer_ended = false;
    std::size_t customer_accepted = 0;   // messages the customer's session answered 250 after DATA
    bool customer_quit = false;          // the provider ended the reversed session with QUIT
};

void hand_over(boost::asio::io_context& ioc, QueueManager& queue, test::Household& customer, Handover& out) {
    auto pipe = make_pipe(ioc.get_executor());
    boost::asio::co_spawn(ioc, smtp_session(*pipe.server, customer.services, SmtpRole::turned),
                          [&out](std::exception_ptr, SmtpSessionEnd end) {
                              out.customer_ended = true;
                              out.customer_accepted = end.accepted;
                              out.customer_quit = end.quit;
                          });
    boost::asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            std::vector<std::string> domains{"home.arpa"};   // g++ 12: no braced list in a co_await
            out.outcome = co_await queue.deliver_held(*pipe.client, std::move(domains));
        },
        boost::asio::detached);
    ASSERT_TRUE(run_until(ioc, [&] { return out.outcome.has_value() && out.customer_ended; }))
        << "the hand-over did not end";
}

// deliver_held - the queue's hand-over of home.arpa's held mail on conn, run to its end (bounded);
// nullopt when it did not end.
std::optional<AtrnOutcome> deliver_held(boost::asio::io_context& ioc, QueueManager& queue, Connection& conn) {
    std::optional<AtrnOutcome> outcome;
    boost::asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            std::vector<std::string> domains{"home.arpa"};   // g++ 12: no braced list in a co_await
            outcome = co_await queue.deliver_held(conn, std::move(domains));
        },
        boost::asio::detached);
    run_until(ioc, [&] { return outcome.has_value(); });
    return outcome;
}

std::string recipient_status(const QueueManager& q, const std::string& id, std::size_t i) {
    for (const QueueEntry& e : q.entries())
        if (e.envelope.id == id) return std::string(status_name(e.state.recipients.at(i).status));
    return "gone";
}

TEST(AtrnHandover, HeldMailGoesToTheCustomerRecipientByRecipient) {
    Provider p;
    test::Household customer;   // home.arpa: anna and ben
    customer.config->limits.max_recipients = 1;   // a second recipient in one transaction gets 452
    const std::string first = "From: carl@provider.example\r\nSubject: held one\r\n\r\nfor anna and co\r\n";
    const std::string second = "From: carl@provider.example\r\nSubject: held two\r\n\r\nfor ben\r\n";
    // nobody@home.arpa: 550 (no such user); anna: 250; ben: 452 (too many recipients) -> stays held.
    p.queue("HELD0000000000001", first, {"nobody@home.arpa", "anna@home.arpa", "ben@home.arpa"});
    p.queue("HELD0000000000002", second, {"ben@home.arpa"});

    boost::asio::io_context ioc;
    QueueManager queue(ioc, p.h.services);
    queue.start();
    // The scheduler passes them by: no connection to the smarthost (which would be unreachable), no
    // counted attempt.
    for (int i = 0; i < 20; ++i) {
        ioc.restart();
        ioc.run_for(10ms);
    }
    RelayStatus before = queue.status();
    EXPECT_TRUE(before.online);
    EXPECT_TRUE(before.unreachable.empty());
    EXPECT_EQ(before.recipients_pending, 4u);
    EXPECT_EQ(before.recipients_held, 4u);
    for (const QueueEntry& e : queue.entries())
        for (const RecipientState& r : e.state.recipients) EXPECT_EQ(r.attempts, 0u);
    EXPECT_EQ(queue.held_count({"home.arpa"}), 2u);
    EXPECT_EQ(queue.held_count({"HOME.ARPA", "other.example"}), 2u);
    EXPECT_EQ(queue.held_count({"other.example"}), 0u);
    EXPECT_EQ(queue.held_count({}), 0u);

    Handover one;
    hand_over(ioc, queue, customer, one);
    ASSERT_TRUE(one.outcome);
    EXPECT_EQ(one.outcome->delivered, 2u);   // anna, and ben's own message
    EXPECT_EQ(one.outcome->failed, 1u);      // nobody
    EXPECT_EQ(one.outcome->deferred, 1u);    // ben in the first message
    EXPECT_EQ(one.outcome->error, "");
    EXPECT_EQ(one.customer_accepted, 2u);   // the two messages the customer took, as its session counts them
    EXPECT_TRUE(one.customer_quit);

    // The bytes arrived, as queued, behind the customer's own trace header.
    auto anna = customer.delivered("anna");
    ASSERT_EQ(anna.size(), 1u);
    EXPECT_TRUE(anna[0].ends_with(first)) << anna[0];
    auto ben = customer.delivered("ben");
    ASSERT_EQ(ben.size(), 1u);
    EXPECT_TRUE(ben[0].ends_with(second)) << ben[0];
    // The second message left the queue; the first waits for ben, still held.
    EXPECT_EQ(recipient_status(queue, "HELD0000000000002", 0), "gone");
    EXPECT_EQ(recipient_status(queue, "HELD0000000000001", 0), "failed");
    EXPECT_EQ(recipient_status(queue, "HELD0000000000001", 1), "delivered");
    EXPECT_EQ(recipient_status(queue, "HELD0000000000001", 2), "pending");
    EXPECT_EQ(queue.status().recipients_held, 1u);
    EXPECT_EQ(queue.held_count({"home.arpa"}), 1u);
    // ... and so on disk: a restart would find the same.
    QueueListing disk = list_queue(p.h.dir.path);
    ASSERT_EQ(disk.entries.size(), 1u);
    EXPECT_EQ(disk.entries[0].envelope.id, "HELD0000000000001");
    ASSERT_EQ(disk.entries[0].state.recipients.size(), 3u);
    EXPECT_EQ(disk.entries[0].state.recipients[2].status, RecipientState::Status::pending);
    EXPECT_TRUE(disk.entries[0].state.recipients[2].last_reply.starts_with("452")) << disk.entries[0].state.recipients[2].last_reply;
    // No DSN yet: the message is not final (ben is held); nobody's failure is reported with it.
    EXPECT_TRUE(p.h.delivered("carl").empty());

    // The next ATRN: the customer takes ben now; the message is final, nobody's DSN goes to carl.
    customer.config->limits.max_recipients = 100;
    Handover two;
    hand_over(ioc, queue, customer, two);
    ASSERT_TRUE(two.outcome);
    EXPECT_EQ(two.outcome->delivered, 1u);
    EXPECT_EQ(two.outcome->failed, 0u);
    EXPECT_EQ(two.outcome->deferred, 0u);
    EXPECT_EQ(customer.delivered("ben").size(), 2u);
    EXPECT_EQ(customer.delivered("anna").size(), 1u);   // never twice
    EXPECT_TRUE(queue.entries().empty());
    EXPECT_TRUE(list_queue(p.h.dir.path).entries.empty());
    auto dsn = p.h.delivered("carl");
    ASSERT_EQ(dsn.size(), 1u);
    EXPECT_NE(dsn[0].find("nobody@home.arpa"), std::string::npos) << dsn[0];
    EXPECT_NE(dsn[0].find("Action: failed"), std::string::npos) << dsn[0];
    EXPECT_EQ(dsn[0].find("ben@home.arpa"), std::string::npos) << dsn[0];

    // Nothing held: the hand-over still greets and says QUIT, and counts nothing.
    Handover three;
    hand_over(ioc, queue, customer, three);
    ASSERT_TRUE(three.outcome);
    EXPECT_EQ(three.outcome->delivered + three.outcome->failed + three.outcome->deferred, 0u);

    queue.stop();
    EXPECT_TRUE(run_until(ioc, [&] { return ioc.stopped(); })) << "the queue kept running after stop()";
}

// A customer that greets with a refusal keeps the mail held (never bounced: it is the only way out),
// and the hand-over reports why.
TEST(AtrnHandover, RefusedGreetingKeepsTheMailHeld) {
    Provider p;
    p.queue("HELD0000000000003", "Subject: x\r\n\r\ny\r\n", {"anna@home.arpa"});
    boost::asio::io_context ioc;
    QueueManager queue(ioc, p.h.services);
    queue.start();
    auto pipe = make_pipe(ioc.get_executor());
    boost::asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            std::string greeting = "554 5.3.2 not now\r\n";
            co_await pipe.server->write(greeting, 5s);
        },
        boost::asio::detached);
    std::optional<AtrnOutcome> outcome = deliver_held(ioc, queue, *pipe.client);
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->deferred, 1u);
    EXPECT_NE(outcome->error.find("554"), std::string::npos) << outcome->error;
    EXPECT_EQ(recipient_status(queue, "HELD0000000000003", 0), "pending");
    EXPECT_EQ(queue.held_count({"home.arpa"}), 1u);
    queue.stop();
    EXPECT_TRUE(run_until(ioc, [&] { return ioc.stopped(); }));
}

// recipient_attempts - the counted tries of recipient i of message id, or -1 when it is gone.
long recipient_attempts(const QueueManager& q, const std::string& id, std::size_t i) {
    for (const QueueEntry& e : q.entries())
        if (e.envelope.id == id) return static_cast<long>(e.state.recipients.at(i).attempts);
    return -1;
}

// A customer that goes away part-way (it crashed): the message it took is gone from the hold, the
// one in flight keeps one counted try, and the ones never sent are left as they were (no try
// counted) for its next ATRN; the outcome says the hand-over broke.
TEST(AtrnHandover, ACustomerLostPartWayLeavesTheRestUntouched) {
    Provider p;
    for (const char* id : {"HELD0000000000011", "HELD0000000000012", "HELD0000000000013"})
        p.queue(id, "Subject: x\r\n\r\ny\r\n", {"anna@home.arpa"});
    boost::asio::io_context ioc;
    QueueManager queue(ioc, p.h.services);
    queue.start();
    auto pipe = make_pipe(ioc.get_executor());
    // The customer: takes the first message, then hangs up when the second one's MAIL comes.
    boost::asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            Connection& c = *pipe.server;
            co_await c.write("220 customer ready\r\n", 5s);
            unsigned mails = 0;
            bool in_data = false;
            for (;;) {
                LineResult l = co_await c.read_line(1000, 5s);
                if (l.status != ReadStatus::ok) co_return;
                std::string line(l.line);
                if (in_data) {
                    if (line == ".") {
                        in_data = false;
                        co_await c.write("250 ok\r\n", 5s);
                    }
                    continue;
                }
                if (line.starts_with("MAIL") && ++mails == 2) {
                    c.close();
                    co_return;
                }
                if (line == "DATA") {
                    in_data = true;
                    co_await c.write("354 go\r\n", 5s);
                } else {
                    co_await c.write(line.starts_with("EHLO") ? "250 customer\r\n" : "250 ok\r\n", 5s);
                }
            }
        },
        boost::asio::detached);
    std::optional<AtrnOutcome> outcome = deliver_held(ioc, queue, *pipe.client);
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->delivered, 1u);
    EXPECT_EQ(outcome->deferred, 2u);
    EXPECT_NE(outcome->error.find("lost connection"), std::string::npos) << outcome->error;
    EXPECT_EQ(recipient_attempts(queue, "HELD0000000000011", 0), -1);   // handed over: gone
    EXPECT_EQ(recipient_attempts(queue, "HELD0000000000012", 0), 1);    // in flight: one try
    EXPECT_EQ(recipient_attempts(queue, "HELD0000000000013", 0), 0);    // never sent: untouched
    EXPECT_EQ(queue.held_count({"home.arpa"}), 2u);
    queue.stop();
    EXPECT_TRUE(run_until(ioc, [&] { return ioc.stopped(); }));
}

// Held mail follows the queue's deadlines: past warn_after its sender hears of the delay, past
// give_up_after of the failure; the scheduler never tries to send it meanwhile.
TEST(AtrnHandover, HeldMailWarnsAndExpires) {
    Provider p;
    p.h.config->relay.warn_after = 1s;
    p.h.config->relay.give_up_after = 1h;
    p.queue("HELD0000000000004", "Subject: late\r\n\r\nwaits\r\n", {"anna@home.arpa"}, 60s);
    p.queue("HELD0000000000005", "Subject: old\r\n\r\nexpires\r\n", {"ben@home.arpa"}, 2h);
    boost::asio::io_context ioc;
    QueueManager queue(ioc, p.h.services);
    queue.start();
    ASSERT_TRUE(run_until(ioc, [&] {
        return p.h.delivered("carl").size() == 2 && recipient_status(queue, "HELD0000000000005", 0) == "gone";
    })) << p.h.delivered("carl").size();
    auto notices = p.h.delivered("carl");
    bool delayed = false, failed = false;
    for (const std::string& n : notices) {
        delayed = delayed || (n.find("Action: delayed") != std::string::npos && n.find("anna@home.arpa") != std::string::npos);
        failed = failed || (n.find("Action: failed") != std::string::npos && n.find("ben@home.arpa") != std::string::npos);
    }
    EXPECT_TRUE(delayed);
    EXPECT_TRUE(failed);
    // The expired message is gone; the late one still held, not tried, its hop never unreachable.
    EXPECT_EQ(recipient_status(queue, "HELD0000000000005", 0), "gone");
    EXPECT_EQ(recipient_status(queue, "HELD0000000000004", 0), "pending");
    EXPECT_EQ(queue.status().recipients_held, 1u);
    EXPECT_TRUE(queue.status().unreachable.empty());
    queue.stop();
    EXPECT_TRUE(run_until(ioc, [&] { return ioc.stopped(); }));
}

}  // namespace
}  // namespace mk
