// tests/unit/household.hpp — what a server session borrows, built in code for tests and fuzz targets:
// users with cheap password hashes, an Intake in a private directory, a self-signed certificate.
// No test framework here: the fuzz targets include it too.
#pragma once

#include <crypt.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl.hpp>
#include <fmt/format.h>

#include "core/config.hpp"
#include "net/tls.hpp"
#include "service/services.hpp"
#include "store/intake.hpp"
#include "store/maildir.hpp"
#include "temp_dir.hpp"

namespace mk::test {

// served - a session that returns something (smtp_session: how many messages it accepted) as the
// session drivers run one, its result dropped.
template <class T>
boost::asio::awaitable<void> served(boost::asio::awaitable<T> session) {
    co_await std::move(session);
}

// TestTls - a self-signed certificate for "localhost" in a private directory, the server context
// over it and a client context that verifies nothing. Session tickets are off: a TLS 1.3 ticket is
// a record without application data, which a test client would wait behind.
struct TestTls {
    TempDir dir{"tls"};
    std::shared_ptr<boost::asio::ssl::context> server;
    boost::asio::ssl::context client{boost::asio::ssl::context::tls_client};
    TestTls() {
        write_self_signed(dir.path / "cert.pem", dir.path / "key.pem", "localhost");
        server = make_server_context(dir.path / "cert.pem", dir.path / "key.pem");
        SSL_CTX_set_num_tickets(server->native_handle(), 0);
        client.set_verify_mode(boost::asio::ssl::verify_none);
    }
};

// cheap_hash - a crypt(3) SHA-256 hash at the lowest cost, so that a login takes microseconds.
inline std::string cheap_hash(const char* password) { return crypt(password, "$5$rounds=1000$mailkeeptest$"); }

// Household - what a session borrows, built in code: users anna and ben (passwords "anna-secret" and
// "ben-secret") at home.arpa on host mx.test, an Intake writing into a private directory, a TLS
// certificate (offered unless offer_tls is false), and logins answered without delay. A test may
// change *config before its sessions start.
struct Household {
    TempDir dir{"household"};
    TestTls tls;
    Intake intake{dir.path};
    std::shared_ptr<Config> config = std::make_shared<Config>();
    Services services;

    explicit Household(bool offer_tls = true) {
        config->hostname = "mx.test";
        config->data_dir = dir.path;
        config->local_domains = {"home.arpa"};
        config->postmaster = "anna@home.arpa";
        config->users = {
            {"anna", cheap_hash("anna-secret"), {"anna@home.arpa"}, {}, true},
            {"ben", cheap_hash("ben-secret"), {"ben@home.arpa"}, {}, true},
        };
        services.config = config;
        if (offer_tls) services.tls = tls.server;
        services.intake = &intake;
        services.throttle = AuthThrottle(std::chrono::milliseconds(0), std::chrono::milliseconds(0));
        services.rcpt_tarpit = std::chrono::milliseconds(0);
    }
    // deliver - a message into user's Maildir through the intake, as SMTP would.
    void deliver(const std::string& user, std::string_view message) {
        static unsigned serial = 0;
        const std::string id = fmt::format("TEST{:08}", ++serial);
        auto file = intake.create(id);
        file->write(message);
        Envelope env;
        env.id = id;
        env.sender = "ben@home.arpa";
        env.mailboxes = {user};
        intake.commit_sync(std::move(file), env);
    }
    // delivered - the contents of the files in a user's Maildir, sorted.
    std::vector<std::string> delivered(const std::string& user) const {
        std::vector<std::string> out;
        for (const auto& m : Maildir(maildir_path(dir.path, user)).list()) {
            std::ifstream in(m.path, std::ios::binary);
            std::stringstream s;
            s << in.rdbuf();
            out.push_back(s.str());
        }
        std::sort(out.begin(), out.end());
        return out;
    }
};

}  // namespace mk::test
