// tests/unit/test_queue_manager.cpp — the relay queue's life cycle on a private io_context: what
// keeps it running and what lets it end.
#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "household.hpp"
#include "relay/queue_manager.hpp"

namespace mk {
namespace {

using namespace std::chrono_literals;

// A delay notice is being written when SIGTERM comes: once it is written, the scheduler must end,
// not sleep until the next deadline (an hour here) and keep the daemon from exiting.
TEST(QueueManager, StopDuringADelayNoticeEnds) {
    test::Household h;
    h.config->relay.mode = RelayConfig::Mode::smarthost;
    h.config->relay.smarthost.host = "127.0.0.1";
    h.config->relay.smarthost.port = 9;   // nothing listens: deliveries would wait
    h.config->relay.smarthost.tls = TlsMode::none;
    h.config->relay.warn_after = 1s;
    h.config->relay.give_up_after = 1h;
    {
        auto file = h.intake.create("QUEUED00000000001");
        file->write("Subject: waits\r\n\r\nbody\r\n");
        Envelope env;
        env.id = "QUEUED00000000001";
        env.sender = "anna@home.arpa";
        env.remote = {{"someone@elsewhere.example"}};
        env.received_at = std::time(nullptr) - 60;   // past warn_after: the first pass warns
        h.intake.commit_sync(std::move(file), env);
    }
    boost::asio::io_context ioc;
    QueueManager queue(ioc, h.services);
    queue.start();
    // Runs once the scheduler waits for the notice's commit (the intake's thread), as SIGTERM would.
    boost::asio::post(ioc, [&] { queue.stop(); });
    auto until = std::chrono::steady_clock::now() + 10s;
    while (!ioc.stopped() && std::chrono::steady_clock::now() < until) ioc.run_for(100ms);
    EXPECT_TRUE(ioc.stopped()) << "the queue kept the io_context running after stop()";
    // The notice itself was written: the sender (a local user) has it.
    EXPECT_EQ(h.delivered("anna").size(), 1u);
}

}  // namespace
}  // namespace mk
