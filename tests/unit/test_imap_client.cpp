// tests/unit/test_imap_client.cpp — the IMAP client against a real Dovecot 2.3 started here on free
// loopback ports (one plaintext instance; one with ssl = required for STARTTLS and implicit TLS, with a
// self-signed certificate from openssl req), and, for what Dovecot will not do (LOGIN without
// AUTH=PLAIN, unsolicited EXISTS, BYE, injection after STARTTLS, garbage), a scripted in-test server.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "imap/client.hpp"
#include "imap/response.hpp"
#include "net/connection.hpp"

namespace mk::imap {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kDovecot = "/usr/sbin/dovecot";
constexpr const char* kDoveadm = "/usr/bin/doveadm";
// Dovecot refuses mail users below first_valid_uid (500) and we must not give it root: nobody.
constexpr uid_t kMailUid = 65534;
constexpr gid_t kMailGid = 65534;
constexpr const char* kPassword = "secret";

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void spit(const fs::path& p, std::string_view content) {
    std::ofstream out(p, std::ios::binary);
    out << content;
}

// free_port - a loopback port nobody listens on right now (bind to 0, read it, close).
std::uint16_t free_port() {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

tcp::endpoint loopback(std::uint16_t port) { return tcp::endpoint(asio::ip::make_address("127.0.0.1"), port); }

// eps - the endpoint list for Client::connect. XXX g++ 12 miscompiles a braced list inside a
// coroutine ("array used as initializer"), so the list is built outside it.
std::vector<tcp::endpoint> eps(tcp::endpoint e) {
    std::vector<tcp::endpoint> v;
    v.push_back(e);
    return v;
}

bool port_accepts(std::uint16_t port) {
    asio::io_context io;
    tcp::socket s(io);
    boost::system::error_code ec;
    s.connect(loopback(port), ec);
    return !ec;
}

// run_client - run body() on io until it finishes, bounded in time; rethrows what body threw.
template <class F>
void run_client(asio::io_context& io, F&& body, std::chrono::seconds limit = 60s) {
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io, body(), [&](std::exception_ptr e) {
        error = e;
        done = true;
    });
    io.restart();
    io.run_for(limit);
    ASSERT_TRUE(done) << "client did not finish in time";
    if (error) std::rethrow_exception(error);
}

// client_error_of - the ClientError that f threw (fails the test if it threw none).
template <class F>
std::optional<ClientError> client_error_of(F&& f) {
    try {
        f();
    } catch (const ClientError& e) {
        return e;
    }
    ADD_FAILURE() << "no ClientError";
    return std::nullopt;
}

// The three messages placed on the "provider", CRLF as Dovecot serves them: a small one, one of
// 200 KB (many reads, more than the parser would ever hold), one with 8-bit bytes.
std::vector<std::string> test_messages() {
    std::vector<std::string> m;
    m.push_back("From: Anna <anna@example.org>\r\nTo: bob@example.net\r\nSubject: one\r\n"
                "Message-ID: <one@example.org>\r\n\r\nHello Bob.\r\n");
    std::string big = "From: Carl <carl@example.org>\r\nTo: bob@example.net\r\nSubject: big\r\n"
                      "Message-ID: <big@example.org>\r\n\r\n";
    for (int i = 0; big.size() < 200 * 1024; ++i) big += fmt::format("line {:06} of the big message {{5}}\r\n", i);
    m.push_back(big);
    m.push_back("From: =?ISO-8859-1?Q?J=F6rg?= <joerg@example.org>\r\nTo: bob@example.net\r\nSubject: 8bit\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdf\x65 aus K\xf6ln \xff\x80\r\n");
    return m;
}

// chown_tree - the Maildir belongs to the mail user.
void chown_tree(const fs::path& p) {
    EXPECT_EQ(::chown(p.c_str(), kMailUid, kMailGid), 0);
    for (const auto& e : fs::recursive_directory_iterator(p)) EXPECT_EQ(::chown(e.path().c_str(), kMailUid, kMailGid), 0);
}

// A private Dovecot on loopback ports, one Maildir per user under root/mail.
class Dovecot {
public:
    Dovecot(const fs::path& root, const std::string& name, bool tls, const fs::path& cert, const fs::path& key)
        : root_(root / name), tls_(tls) {
        fs::create_directories(root_ / "run");
        fs::create_directories(root_ / "state");
        fs::create_directories(root_ / "mail");
        imap_port_ = free_port();
        imaps_port_ = free_port();
        std::string users;
        for (int i = 0; i < 20; ++i)
            users += fmt::format("u{}:{{PLAIN}}{}:{}:{}::{}\n", i, kPassword, kMailUid, kMailGid, (root_ / "mail" / fmt::format("u{}", i)).string());
        spit(root_ / "passwd", users);
        std::string ssl = tls ? fmt::format("ssl = required\nssl_cert = <{}\nssl_key = <{}\n", cert.string(), key.string())
                              : std::string("ssl = no\n");
        std::string imaps = tls ? fmt::format("  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {}\n    ssl = yes\n  }}\n", imaps_port_)
                                : std::string("  inet_listener imaps {\n    port = 0\n  }\n");
        config_ = root_ / "dovecot.conf";
        spit(config_, fmt::format(R"(# written by tests/unit/test_imap_client.cpp
base_dir = {root}/run
state_dir = {root}/state
instance_name = mk-imap-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login oauthbearer xoauth2
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
{imaps}}}
service anvil {{
  chroot =
  # no auth penalty: the tests fail logins on purpose and must not slow the next ones down
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
)",
                                  fmt::arg("root", root_.string()), fmt::arg("port", imap_port_), fmt::arg("ssl", ssl),
                                  fmt::arg("imaps", imaps)));
    }
    ~Dovecot() { stop(); }

    // start - dovecot -c FILE daemonizes; wait until its ports accept.
    bool start() {
        std::string cmd = fmt::format("{} -c {} >{}/dovecot.out 2>&1", kDovecot, config_.string(), root_.string());
        if (std::system(cmd.c_str()) != 0) return false;
        started_ = true;
        for (int i = 0; i < 100; ++i) {
            if (port_accepts(imap_port_) && (!tls_ || port_accepts(imaps_port_))) return true;
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }
    // request_stop - doveadm stop, without waiting for the master to go (instances stop in parallel).
    void request_stop() {
        if (!started_ || stopping_) return;
        std::string cmd = fmt::format("{} -c {} stop >/dev/null 2>&1 &", kDoveadm, config_.string());
        [[maybe_unused]] int rc = std::system(cmd.c_str());
        stopping_ = true;
    }
    // stop - stopped, its master.pid gone (at most 10 s).
    void stop() {
        if (!started_) return;
        request_stop();
        for (int i = 0; i < 100 && fs::exists(root_ / "run" / "master.pid"); ++i) std::this_thread::sleep_for(100ms);
        started_ = false;
    }

    // maildir - a fresh Maildir for user holding messages, or empty.
    fs::path maildir(int user, const std::vector<std::string>& messages) {
        fs::path dir = root_ / "mail" / fmt::format("u{}", user);
        fs::remove_all(dir);
        for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(dir / sub);
        for (std::size_t i = 0; i < messages.size(); ++i)
            spit(dir / "cur" / fmt::format("17000000{:02}.M{}P1.mailkeep-test,S={}:2,", i, i, messages[i].size()), messages[i]);
        chown_tree(dir);
        return dir;
    }
    std::string log() const { return slurp(root_ / "dovecot.log"); }
    std::uint16_t imap_port() const { return imap_port_; }
    std::uint16_t imaps_port() const { return imaps_port_; }

private:
    fs::path root_;
    bool tls_;
    fs::path config_;
    std::uint16_t imap_port_ = 0, imaps_port_ = 0;
    bool started_ = false;
    bool stopping_ = false;
};

// The two instances, started once for the suite.
class ImapClientTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (::geteuid() != 0 || !fs::exists(kDovecot)) return;
        char tmpl[] = "/tmp/mk-imap-XXXXXX";
        root_ = ::mkdtemp(tmpl);
        // Dovecot's auth and mail processes (dovecot, nobody) must reach the passwd-file and Maildirs.
        ::chmod(root_.c_str(), 0711);
        cert_ = root_ / "cert.pem";
        key_ = root_ / "key.pem";
        std::string cmd = fmt::format(
            "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
            "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout {} -out {} 2>/dev/null",
            key_.string(), cert_.string());
        if (std::system(cmd.c_str()) != 0) return;
        ::chmod(key_.c_str(), 0644);   // read by Dovecot's config process; a throw-away test key
        plain_ = new Dovecot(root_, "plain", false, cert_, key_);
        tls_ = new Dovecot(root_, "tls", true, cert_, key_);
        if (!plain_->start() || !tls_->start()) {
            TearDownTestSuite();
            return;
        }
        ready_ = true;
    }
    static void TearDownTestSuite() {
        if (plain_) plain_->request_stop();
        if (tls_) tls_->request_stop();
        delete plain_;
        delete tls_;
        plain_ = tls_ = nullptr;
        if (!root_.empty()) fs::remove_all(root_);
        root_.clear();
        ready_ = false;
    }
    void SetUp() override {
        if (!ready_) GTEST_SKIP() << "needs root, Dovecot and openssl";
    }
    void TearDown() override {
        if (::testing::Test::HasFailure() && plain_ && tls_)
            std::cerr << "plain dovecot log:\n" << plain_->log() << "\ntls dovecot log:\n" << tls_->log() << "\n";
    }

    static ClientOptions options(int user, TlsMode security) {
        ClientOptions o;
        o.tls = security;
        o.username = fmt::format("u{}", user);
        o.password = [] { return std::string(kPassword); };
        o.server_name = "localhost";
        o.ca_file = cert_;
        o.timeout = 10s;
        return o;
    }

    static inline fs::path root_, cert_, key_;
    static inline Dovecot* plain_ = nullptr;
    static inline Dovecot* tls_ = nullptr;
    static inline bool ready_ = false;
    asio::io_context io_;
};

// fetch_all - select INBOX, list, retrieve every message: uid -> bytes, counting pieces.
struct Fetched {
    Folder folder;
    std::vector<MessageInfo> list;
    std::map<std::uint32_t, std::string> bodies;
    std::size_t pieces = 0;
};
awaitable<Fetched> fetch_all(Client& c) {
    Fetched f;
    f.folder = co_await c.select("INBOX");
    f.list = co_await c.messages();
    for (const auto& m : f.list) {
        std::string body;
        std::function<void(std::string_view)> sink = [&](std::string_view piece) {
            body.append(piece);
            ++f.pieces;
        };
        co_await c.retrieve(m.uid, sink);
        f.bodies[m.uid] = std::move(body);
    }
    co_return f;
}

// expect_stored - every listed message is one of the stored ones, byte for byte, with its size.
void expect_stored(const Fetched& f, const std::vector<std::string>& stored) {
    std::multiset<std::string> want(stored.begin(), stored.end());
    std::multiset<std::string> got;
    for (const auto& m : f.list) {
        ASSERT_TRUE(f.bodies.contains(m.uid));
        EXPECT_EQ(m.size, f.bodies.at(m.uid).size()) << "UID " << m.uid;
        got.insert(f.bodies.at(m.uid));
    }
    EXPECT_TRUE(got == want) << "the retrieved bytes differ from the stored ones";
}

TEST_F(ImapClientTest, PlainSelectListRetrieve) {
    auto stored = test_messages();
    plain_->maildir(1, stored);
    Fetched f;
    auto endpoint = eps(loopback(plain_->imap_port()));
    auto opts = options(1, TlsMode::none);
    run_client(io_, [&]() -> awaitable<void> {
        auto c = co_await Client::connect(endpoint, opts);
        f = co_await fetch_all(*c);
        co_await c->logout();
    });
    EXPECT_NE(f.folder.uidvalidity, 0u);
    EXPECT_EQ(f.folder.exists, 3u);
    EXPECT_GE(f.folder.uidnext, 4u);
    ASSERT_EQ(f.list.size(), 3u);
    for (std::size_t i = 1; i < f.list.size(); ++i) EXPECT_LT(f.list[i - 1].uid, f.list[i].uid);
    expect_stored(f, stored);
    // The 200 KB message came in many pieces, never as one buffer.
    EXPECT_GT(f.pieces, 10u);
}

TEST_F(ImapClientTest, ImplicitTlsRemove) {
    auto stored = test_messages();
    fs::path dir = tls_->maildir(2, stored);
    auto endpoint = eps(loopback(tls_->imaps_port()));
    auto opts = options(2, TlsMode::implicit);
    std::vector<MessageInfo> before, after, reopened;
    Folder folder2;
    std::uint32_t removed = 0;
    run_client(io_, [&]() -> awaitable<void> {
        auto c = co_await Client::connect(endpoint, opts);
        co_await c->select("INBOX");
        before = co_await c->messages();
        removed = before.at(1).uid;
        std::vector<std::uint32_t> uids;
        uids.push_back(removed);
        co_await c->remove(uids);
        after = co_await c->messages();
        co_await c->logout();
        // A new session sees the same.
        auto d = co_await Client::connect(endpoint, opts);
        folder2 = co_await d->select("INBOX");
        reopened = co_await d->messages();
        co_await d->logout();
    });
    ASSERT_EQ(before.size(), 3u);
    ASSERT_EQ(after.size(), 2u);
    for (const auto& m : after) EXPECT_NE(m.uid, removed);
    EXPECT_EQ(after[0].uid, before[0].uid);
    EXPECT_EQ(after[1].uid, before[2].uid);
    EXPECT_EQ(folder2.exists, 2u);
    EXPECT_EQ(reopened.size(), 2u);
    std::size_t files = 0;
    for (const char* sub : {"cur", "new"})
        for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / sub)) ++files;
    EXPECT_EQ(files, 2u);
}

TEST_F(ImapClientTest, StartTlsRetrieve) {
    auto stored = test_messages();
    tls_->maildir(3, stored);
    Fetched f;
    auto endpoint = eps(loopback(tls_->imap_port()));
    auto opts = options(3, TlsMode::starttls);
    run_client(io_, [&]() -> awaitable<void> {
        auto c = co_await Client::connect(endpoint, opts);
        f = co_await fetch_all(*c);
        co_await c->logout();
    });
    EXPECT_EQ(f.folder.exists, 3u);
    ASSERT_EQ(f.list.size(), 3u);
    expect_stored(f, stored);
    EXPECT_NE(tls_->log().find("user=<u3>, method=PLAIN"), std::string::npos);
    EXPECT_NE(tls_->log().find("TLS"), std::string::npos);
}

TEST_F(ImapClientTest, StartTlsRequiredButNotOffered) {
    plain_->maildir(4, test_messages());
    auto endpoint = eps(loopback(plain_->imap_port()));
    auto opts = options(4, TlsMode::starttls);
    auto e = client_error_of([&] {
        run_client(io_, [&]() -> awaitable<void> { co_await Client::connect(endpoint, opts); });
    });
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->auth());
    EXPECT_NE(std::string(e->what()).find("STARTTLS"), std::string::npos) << e->what();
    EXPECT_EQ(plain_->log().find("user=<u4>"), std::string::npos);   // no credentials went out
}

TEST_F(ImapClientTest, TlsVerification) {
    auto endpoint = eps(loopback(tls_->imaps_port()));
    // Not signed by anything in the system store.
    auto untrusted = options(5, TlsMode::implicit);
    untrusted.ca_file.clear();
    auto e = client_error_of([&] {
        run_client(io_, [&]() -> awaitable<void> { co_await Client::connect(endpoint, untrusted); });
    });
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->auth());
    EXPECT_NE(std::string(e->what()).find("TLS"), std::string::npos) << e->what();
    // Signed, but for another name.
    auto wrong_name = options(5, TlsMode::implicit);
    wrong_name.server_name = "imap.example.org";
    auto e2 = client_error_of([&] {
        run_client(io_, [&]() -> awaitable<void> { co_await Client::connect(endpoint, wrong_name); });
    });
    ASSERT_TRUE(e2);
    EXPECT_FALSE(e2->auth());
    // tls_verify = false accepts it.
    auto unverified = options(5, TlsMode::implicit);
    unverified.ca_file.clear();
    unverified.tls_verify = false;
    tls_->maildir(5, {});
    run_client(io_, [&]() -> awaitable<void> {
        auto c = co_await Client::connect(endpoint, unverified);
        co_await c->logout();
    });
}

TEST_F(ImapClientTest, WrongPassword) {
    plain_->maildir(6, {});
    tls_->maildir(6, {});
    auto plain_ep = eps(loopback(plain_->imap_port()));
    auto tls_ep = eps(loopback(tls_->imaps_port()));
    auto plain_opts = options(6, TlsMode::none);
    plain_opts.password = [] { return std::string("wrong"); };
    auto tls_opts = options(6, TlsMode::implicit);
    tls_opts.password = [] { return std::string("wrong"); };
    for (auto* which : {&plain_opts, &tls_opts}) {
        auto& ep = which == &plain_opts ? plain_ep : tls_ep;
        auto e = client_error_of([&] {
            run_client(io_, [&]() -> awaitable<void> { co_await Client::connect(ep, *which); });
        });
        ASSERT_TRUE(e);
        EXPECT_TRUE(e->auth()) << e->what();
        EXPECT_NE(std::string(e->what()).find("AUTHENTICATIONFAILED"), std::string::npos) << e->what();
    }
}

TEST_F(ImapClientTest, PasswordWithLineBreakIsNotSent) {
    plain_->maildir(7, {});
    auto endpoint = eps(loopback(plain_->imap_port()));
    auto opts = options(7, TlsMode::none);
    opts.password = [] { return std::string("secret\r\nA999 LOGOUT"); };
    auto e = client_error_of([&] {
        run_client(io_, [&]() -> awaitable<void> { co_await Client::connect(endpoint, opts); });
    });
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->auth());
    EXPECT_NE(std::string(e->what()).find("CR, LF or NUL"), std::string::npos) << e->what();
    auto nul = options(7, TlsMode::none);
    nul.password = [] { return std::string("sec\0ret", 7); };
    auto e2 = client_error_of([&] {
        run_client(io_, [&]() -> awaitable<void> { co_await Client::connect(endpoint, nul); });
    });
    ASSERT_TRUE(e2);
    EXPECT_TRUE(e2->auth());
}

TEST_F(ImapClientTest, OAuthTokenRefreshedOnce) {
    // Dovecot 2.3 checks an XOAUTH2/OAUTHBEARER token like a password against the passdb: the test's
    // "valid token" is the password.
    tls_->maildir(8, test_messages());
    auto endpoint = eps(loopback(tls_->imaps_port()));
    auto opts = options(8, TlsMode::implicit);
    opts.password = nullptr;
    std::vector<bool> calls;
    opts.oauth_token = [&](bool refresh) {
        calls.push_back(refresh);
        return std::string(refresh ? kPassword : "expired-token");
    };
    Folder folder;
    run_client(io_, [&]() -> awaitable<void> {
        auto c = co_await Client::connect(endpoint, opts);
        folder = co_await c->select("INBOX");
        co_await c->logout();
    });
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_FALSE(calls[0]);
    EXPECT_TRUE(calls[1]);
    EXPECT_EQ(folder.exists, 3u);
    EXPECT_NE(tls_->log().find("user=<u8>, method=OAUTHBEARER"), std::string::npos);

    // Refused twice: an auth error, and no third try.
    calls.clear();
    opts.oauth_token = [&](bool refresh) {
        calls.push_back(refresh);
        return std::string("bad-token");
    };
    auto e = client_error_of([&] {
        run_client(io_, [&]() -> awaitable<void> { co_await Client::connect(endpoint, opts); });
    });
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->auth()) << e->what();
    EXPECT_EQ(calls.size(), 2u);
}

TEST_F(ImapClientTest, EmptyFolderAndMissingFolder) {
    plain_->maildir(9, {});
    auto endpoint = eps(loopback(plain_->imap_port()));
    auto opts = options(9, TlsMode::none);
    Folder folder;
    std::vector<MessageInfo> list;
    std::optional<ClientError> missing;
    Folder again;
    run_client(io_, [&]() -> awaitable<void> {
        auto c = co_await Client::connect(endpoint, opts);
        folder = co_await c->select("INBOX");
        list = co_await c->messages();
        try {
            co_await c->select("No such folder");
        } catch (const ClientError& e) {
            missing = e;
        }
        // A refused SELECT leaves the session usable.
        again = co_await c->select("INBOX");
        co_await c->logout();
    });
    EXPECT_EQ(folder.exists, 0u);
    EXPECT_NE(folder.uidvalidity, 0u);
    EXPECT_TRUE(list.empty());
    ASSERT_TRUE(missing);
    EXPECT_FALSE(missing->auth());
    EXPECT_EQ(again.uidvalidity, folder.uidvalidity);
}

// drop_message - what a provider's delivery does: write into tmp/, rename into new/.
void drop_message(const fs::path& maildir, const std::string& name, const std::string& content) {
    fs::path tmp = maildir / "tmp" / name;
    spit(tmp, content);
    EXPECT_EQ(::chown(tmp.c_str(), kMailUid, kMailGid), 0);
    fs::rename(tmp, maildir / "new" / name);
}

// idle_case - IDLE with no change returns false at max_wait and the session goes on; a message
// delivered while idling ends it with true within 2 s.
void idle_case(asio::io_context& io, Dovecot& dovecot, int user, std::uint16_t port, const ClientOptions& opts) {
    fs::path dir = dovecot.maildir(user, test_messages());
    auto endpoint = eps(loopback(port));
    bool can_idle = false;
    bool quiet = true, woke = false;
    std::chrono::milliseconds quiet_took{}, woke_after{};
    std::size_t listed_after_quiet = 0, listed_after_wake = 0;
    std::atomic<std::chrono::steady_clock::time_point> dropped_at{};
    std::thread dropper;
    run_client(io, [&]() -> awaitable<void> {
        auto c = co_await Client::connect(endpoint, opts);
        co_await c->select("INBOX");
        auto first = co_await c->messages();
        can_idle = c->can_idle();
        auto t0 = std::chrono::steady_clock::now();
        quiet = co_await c->idle(1s);
        quiet_took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        // The read cancelled at the deadline leaves the connection (and TLS) usable.
        auto second = co_await c->messages();
        listed_after_quiet = second.size();
        dropper = std::thread([&] {
            std::this_thread::sleep_for(300ms);
            dropped_at = std::chrono::steady_clock::now();
            drop_message(dir, "1700000100.M9P1.mailkeep-test", "Subject: pushed\r\n\r\nnew\r\n");
        });
        woke = co_await c->idle(20s);
        woke_after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                           dropped_at.load());
        auto third = co_await c->messages();
        listed_after_wake = third.size();
        co_await c->logout();
        EXPECT_EQ(first.size(), 3u);
    });
    if (dropper.joinable()) dropper.join();
    EXPECT_TRUE(can_idle);
    EXPECT_FALSE(quiet);
    EXPECT_GE(quiet_took, 900ms);
    EXPECT_LT(quiet_took, 3s);
    EXPECT_EQ(listed_after_quiet, 3u);
    EXPECT_TRUE(woke);
    EXPECT_LT(woke_after, 2s);
    EXPECT_EQ(listed_after_wake, 4u);
}

TEST_F(ImapClientTest, IdleOverTls) {
    idle_case(io_, *tls_, 10, tls_->imaps_port(), options(10, TlsMode::implicit));
}

TEST_F(ImapClientTest, IdlePlain) {
    idle_case(io_, *plain_, 11, plain_->imap_port(), options(11, TlsMode::none));
}

TEST_F(ImapClientTest, RetrieveUnknownUid) {
    plain_->maildir(12, test_messages());
    auto endpoint = eps(loopback(plain_->imap_port()));
    auto opts = options(12, TlsMode::none);
    std::optional<ClientError> error;
    std::size_t listed = 0;
    run_client(io_, [&]() -> awaitable<void> {
        auto c = co_await Client::connect(endpoint, opts);
        co_await c->select("INBOX");
        std::function<void(std::string_view)> sink = [](std::string_view) { ADD_FAILURE() << "bytes for no message"; };
        try {
            co_await c->retrieve(999, sink);
        } catch (const ClientError& e) {
            error = e;
        }
        auto list = co_await c->messages();   // still usable
        listed = list.size();
        co_await c->logout();
    });
    ASSERT_TRUE(error);
    EXPECT_FALSE(error->auth());
    EXPECT_EQ(listed, 3u);
}

TEST_F(ImapClientTest, ListMoreThanOneBatch) {
    // 1,200 tiny messages: more than one UID FETCH batch (500); every UID listed once, in order,
    // with its size.
    std::vector<std::string> stored;
    for (int i = 0; i < 1200; ++i)
        stored.push_back(fmt::format("From: a@example.org\r\nSubject: {}\r\n\r\n{}\r\n", i, std::string(i % 7, 'x')));
    plain_->maildir(13, stored);
    auto endpoint = eps(loopback(plain_->imap_port()));
    auto opts = options(13, TlsMode::none);
    Folder folder;
    std::vector<MessageInfo> list;
    run_client(io_, [&]() -> awaitable<void> {
        auto c = co_await Client::connect(endpoint, opts);
        folder = co_await c->select("INBOX");
        list = co_await c->messages();
        co_await c->logout();
    });
    EXPECT_EQ(folder.exists, 1200u);
    ASSERT_EQ(list.size(), 1200u);
    std::multiset<std::uint64_t> want, got;
    for (const auto& m : stored) want.insert(m.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (i > 0) {
            EXPECT_LT(list[i - 1].uid, list[i].uid);
        }
        got.insert(list[i].size);
    }
    EXPECT_TRUE(got == want) << "the listed sizes differ from the stored ones";
}

// ---- A scripted server, for what Dovecot does not do ----

// One exchange: the client line expected (a prefix; empty: none, the reply goes out at once) and the
// bytes sent back.
struct Step {
    std::string expect;
    std::string reply;
};

struct Script {
    std::vector<Step> steps;
    std::vector<std::string> received;   // every line the client sent
    bool mismatch = false;
    bool close_after = false;            // hang up after the last step instead of listening on
};

awaitable<void> scripted_session(tcp::socket s, Script& script) {
    asio::streambuf buf;
    for (const auto& step : script.steps) {
        if (!step.expect.empty()) {
            boost::system::error_code ec;
            std::size_t n = co_await asio::async_read_until(s, buf, "\r\n", asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n) - 2);
            buf.consume(n);
            script.received.push_back(line);
            if (line.rfind(step.expect, 0) != 0) {
                script.mismatch = true;
                ADD_FAILURE() << "expected \"" << step.expect << "\", client sent \"" << line << "\"";
                co_return;
            }
        }
        boost::system::error_code ec;
        co_await asio::async_write(s, asio::buffer(step.reply), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
    }
    if (script.close_after) co_return;
    // Then read whatever else comes until the client hangs up.
    for (;;) {
        boost::system::error_code ec;
        std::size_t n = co_await asio::async_read_until(s, buf, "\r\n", asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n) - 2);
        buf.consume(n);
        script.received.push_back(line);
    }
}

// run_scripted - one connection to a scripted server; body gets the endpoint.
template <class F>
void run_scripted(Script& script, F&& body) {
    asio::io_context io;
    tcp::acceptor acceptor(io, loopback(0));
    auto endpoint = eps(acceptor.local_endpoint());
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
            tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
            co_await scripted_session(std::move(s), script);
        },
        asio::detached);
    run_client(io, [&]() -> awaitable<void> { co_await body(endpoint); }, 20s);
}

ClientOptions scripted_options(std::string password) {
    ClientOptions o;
    o.tls = TlsMode::none;
    o.username = "anna";
    o.password = [password] { return password; };
    o.timeout = 5s;
    return o;
}

constexpr const char* kGreetingNoPlain = "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n";

TEST(ImapClientScripted, LoginQuotesAndLiterals) {
    // No AUTH=PLAIN, no LITERAL+: LOGIN with a quoted user name and the 8-bit password as a
    // synchronizing literal (RFC 3501 4.3), sent only after the "+".
    Script script;
    script.steps = {
        {"", kGreetingNoPlain},
        {"A001 LOGIN \"anna\" {8}", "+ go ahead\r\n"},
        {"p\xc3\xa4ss\"\\x", "A001 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n"},
        {"A002 LOGOUT", "* BYE bye\r\nA002 OK done\r\n"},
    };
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("p\xc3\xa4ss\"\\x"));
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
    // A 7-bit password with quotes and backslashes goes as a quoted string, escaped.
    Script quoted;
    quoted.steps = {
        {"", kGreetingNoPlain},
        {"A001 LOGIN \"anna\" \"pa\\\"ss\\\\word\"", "A001 NO [AUTHENTICATIONFAILED] no\r\n"},
    };
    std::optional<ClientError> e;
    run_scripted(quoted, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        try {
            co_await Client::connect(ep, scripted_options("pa\"ss\\word"));
        } catch (const ClientError& err) {
            e = err;
        }
    });
    EXPECT_FALSE(quoted.mismatch);
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->auth());
}

TEST(ImapClientScripted, LoginNonSynchronizingLiteral) {
    // With LITERAL+ (RFC 7888) the literal follows at once, without waiting for "+"; a tagged OK
    // without [CAPABILITY] makes the client ask again (capabilities may change at login).
    Script script;
    script.steps = {
        {"", "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"},
        {"A001 LOGIN \"anna\" {8+}", ""},
        {"p\xc3\xa4ss\"\\x", "A001 OK in\r\n"},
        {"A002 CAPABILITY", "* CAPABILITY IMAP4rev1 UIDPLUS\r\nA002 OK done\r\n"},
        {"A003 LOGOUT", "* BYE bye\r\nA003 OK done\r\n"},
    };
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("p\xc3\xa4ss\"\\x"));
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
    EXPECT_EQ(script.received.size(), 4u);
}

TEST(ImapClientScripted, EmptyFolderNoFetch) {
    // RFC 3501 6.4.8: "1:*" on an empty folder is an error on some servers: no FETCH is sent at all.
    Script script;
    script.steps = {
        {"", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS] ready\r\n"},
        {"A001 AUTHENTICATE PLAIN", "A001 OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\n"},
        {"A002 SELECT \"Entw&APw-rfe\"", "* 0 EXISTS\r\n* OK [UIDVALIDITY 3] ok\r\nA002 OK [READ-WRITE] selected\r\n"},
        {"A003 LOGOUT", "* BYE bye\r\nA003 OK done\r\n"},
    };
    std::vector<MessageInfo> list;
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("pass"));
        Folder f = co_await c->select("Entw\xc3\xbcrfe");   // modified UTF-7 on the wire (RFC 3501 5.1.3)
        EXPECT_EQ(f.exists, 0u);
        list = co_await c->messages();
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
    EXPECT_TRUE(list.empty());
}

TEST(ImapClientScripted, RemoveWithUidPlus) {
    // UIDPLUS: UID EXPUNGE of exactly these UIDs (RFC 4315 2.1), as ranges.
    Script script;
    script.steps = {
        {"", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"},
        {"A001 AUTHENTICATE PLAIN", "A001 OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\n"},
        {"A002 SELECT \"INBOX\"", "* 4 EXISTS\r\n* OK [UIDVALIDITY 3] ok\r\nA002 OK [READ-WRITE] selected\r\n"},
        {"A003 UID STORE 2:4,9 +FLAGS.SILENT (\\Deleted)", "A003 OK stored\r\n"},
        {"A004 UID EXPUNGE 2:4,9", "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\nA004 OK expunged\r\n"},
        {"A005 LOGOUT", "* BYE bye\r\nA005 OK done\r\n"},
    };
    const std::vector<std::uint32_t> remove_these = {9, 3, 2, 4, 3};   // unsorted, a duplicate
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("pass"));
        co_await c->select("INBOX");
        co_await c->remove(remove_these);
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
}

TEST(ImapClientScripted, LoginDisabledWithoutPlain) {
    Script script;
    script.steps = {{"", "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n"}};
    std::optional<ClientError> e;
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        try {
            co_await Client::connect(ep, scripted_options("x"));
        } catch (const ClientError& err) {
            e = err;
        }
    });
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->auth());
    EXPECT_TRUE(script.received.empty()) << script.received.front();
}

// A logged-in session's first steps with a folder of 2 messages.
std::vector<Step> logged_in_selected() {
    return {
        {"", "* OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN SASL-IR] ready\r\n"},
        {"A001 AUTHENTICATE PLAIN AGFubmEAcGFzcw==", "A001 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n"},
        {"A002 SELECT \"INBOX\"",
         "* FLAGS (\\Seen \\Deleted)\r\n* 2 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 77] ok\r\n"
         "* OK [UIDNEXT 9] next\r\nA002 OK [READ-WRITE] selected\r\n"},
    };
}

TEST(ImapClientScripted, UnsolicitedResponsesAnyTime) {
    // Flag changes, RECENT and a new EXISTS in the middle of the listing; a body literal interleaved
    // with FLAGS; EXPUNGE after STORE. The new mail announced during the listing makes the next
    // idle() return at once, without IDLE.
    Script script;
    script.steps = logged_in_selected();
    script.steps.push_back({"A003 UID SEARCH 1:*", "* 1 FETCH (FLAGS ())\r\n* SEARCH 8 5\r\nA003 OK done\r\n"});
    script.steps.push_back({"A004 UID FETCH 5,8 (UID RFC822.SIZE)",
                            "* 1 FETCH (UID 5 RFC822.SIZE 10)\r\n* 2 FETCH (FLAGS (\\Seen))\r\n* 3 EXISTS\r\n"
                            "* 1 RECENT\r\n* 2 FETCH (UID 8 RFC822.SIZE 2000)\r\nA004 OK done\r\n"});
    script.steps.push_back({"A005 UID FETCH 8 (BODY.PEEK[])",
                            "* 1 FETCH (FLAGS (\\Seen))\r\n* 2 FETCH (UID 8 BODY[] {12}\r\nHello\r\nWorld FLAGS ())\r\n"
                            "A005 OK done\r\n"});
    script.steps.push_back({"A006 UID STORE 5,8 +FLAGS.SILENT (\\Deleted)", "A006 OK stored\r\n"});
    script.steps.push_back({"A007 EXPUNGE", "* 2 EXPUNGE\r\n* 1 EXPUNGE\r\nA007 OK expunged\r\n"});
    script.steps.push_back({"A008 LOGOUT", "* BYE bye\r\nA008 OK done\r\n"});
    std::vector<MessageInfo> list;
    std::string body;
    bool woke = false;
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("pass"));
        Folder f = co_await c->select("INBOX");
        EXPECT_EQ(f.uidvalidity, 77u);
        EXPECT_EQ(f.exists, 2u);
        EXPECT_EQ(f.uidnext, 9u);
        list = co_await c->messages();
        std::function<void(std::string_view)> sink = [&](std::string_view p) { body.append(p); };
        co_await c->retrieve(8, sink);
        std::vector<std::uint32_t> uids;
        uids.push_back(8);
        uids.push_back(5);
        co_await c->remove(uids);
        woke = co_await c->idle(5s);
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].uid, 5u);
    EXPECT_EQ(list[1].size, 2000u);
    EXPECT_EQ(body, "Hello\r\nWorld");
    EXPECT_TRUE(woke);
}

TEST(ImapClientScripted, ListingInBatches) {
    // 1,200 UIDs: UID SEARCH 1:* (the UIDs in two SEARCH responses, out of order, one twice), then
    // UID FETCH in batches of 500 as sequence sets, merged in UID order. UID 1001 is expunged between
    // the SEARCH and its FETCH: not answered, not listed.
    std::vector<std::uint32_t> uids;
    for (std::uint32_t i = 0; i < 1200; ++i) uids.push_back(2 * i + 3);
    std::string first, second;
    for (std::size_t i = 0; i < 600; ++i) first += fmt::format(" {}", uids[599 - i]);
    for (std::size_t i = 600; i < 1200; ++i) second += fmt::format(" {}", uids[i]);
    Script script;
    script.steps = logged_in_selected();
    script.steps.push_back(
        {"A003 UID SEARCH 1:*", fmt::format("* SEARCH{}\r\n* SEARCH{} 3\r\nA003 OK done\r\n", second, first)});
    std::size_t tag = 4;
    for (std::size_t i = 0; i < uids.size(); i += 500, ++tag) {
        std::vector<std::uint32_t> batch(uids.begin() + static_cast<std::ptrdiff_t>(i),
                                         uids.begin() + static_cast<std::ptrdiff_t>(std::min(uids.size(), i + 500)));
        std::string reply;
        for (std::uint32_t u : batch)
            if (u != 1001) reply += fmt::format("* {} FETCH (UID {} RFC822.SIZE {})\r\n", (u - 1) / 2, u, u * 10);
        reply += fmt::format("A{:03} OK done\r\n", tag);
        script.steps.push_back({fmt::format("A{:03} UID FETCH {} (UID RFC822.SIZE)", tag, uid_set(batch)), reply});
    }
    script.steps.push_back({fmt::format("A{:03} LOGOUT", tag), fmt::format("* BYE bye\r\nA{:03} OK done\r\n", tag)});
    std::vector<MessageInfo> list;
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("pass"));
        co_await c->select("INBOX");
        list = co_await c->messages();
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
    std::size_t fetches = 0;
    for (const auto& line : script.received)
        if (line.find(" UID FETCH ") != std::string::npos) {
            ++fetches;
            EXPECT_LT(line.size(), 8192u);   // RFC 7162 4
        }
    EXPECT_EQ(fetches, 3u);
    ASSERT_EQ(list.size(), 1199u);
    std::size_t j = 0;
    for (std::uint32_t u : uids) {
        if (u == 1001) continue;
        EXPECT_EQ(list[j].uid, u);
        EXPECT_EQ(list[j].size, u * 10u);
        ++j;
    }
}

TEST(ImapClientScripted, SearchRefusedLeavesSessionUsable) {
    // A NO to UID SEARCH is an error of this command only; no FETCH follows, the session goes on.
    Script script;
    script.steps = logged_in_selected();
    script.steps.push_back({"A003 UID SEARCH 1:*", "A003 NO [SERVERBUG] try later\r\n"});
    script.steps.push_back({"A004 UID SEARCH 1:*", "* SEARCH\r\nA004 OK done\r\n"});   // none (expunged meanwhile)
    script.steps.push_back({"A005 LOGOUT", "* BYE bye\r\nA005 OK done\r\n"});
    std::optional<ClientError> e;
    std::vector<MessageInfo> list;
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("pass"));
        co_await c->select("INBOX");
        try {
            co_await c->messages();
        } catch (const ClientError& err) {
            e = err;
        }
        list = co_await c->messages();
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
    ASSERT_TRUE(e);
    EXPECT_NE(std::string(e->what()).find("UID SEARCH refused"), std::string::npos) << e->what();
    EXPECT_TRUE(list.empty());
}

TEST(ImapClientScripted, IdleAnswers) {
    // "+ idling", untagged EXISTS, DONE, the tagged OK (RFC 2177 3).
    Script script;
    script.steps = logged_in_selected();
    script.steps.push_back({"A003 IDLE", "+ idling\r\n* 1 RECENT\r\n"});   // RECENT alone is no change
    script.steps.push_back({"", "* 3 EXISTS\r\n"});
    script.steps.push_back({"DONE", "A003 OK Idle completed\r\n"});
    script.steps.push_back({"A004 LOGOUT", "* BYE bye\r\nA004 OK done\r\n"});
    bool woke = false;
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("pass"));
        co_await c->select("INBOX");
        woke = co_await c->idle(5s);
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
    EXPECT_TRUE(woke);
}

// expect_broken - body fails with a non-auth ClientError whose text has want.
template <class F>
void expect_broken(Script& script, F&& body, std::string_view want) {
    std::optional<ClientError> e;
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        try {
            co_await body(ep);
        } catch (const ClientError& err) {
            e = err;
        }
    });
    ASSERT_TRUE(e) << "no error";
    EXPECT_FALSE(e->auth()) << e->what();
    EXPECT_NE(std::string(e->what()).find(want), std::string::npos) << e->what();
}

TEST(ImapClientScripted, ByeAndViolations) {
    auto select_then_list = [](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("pass"));
        co_await c->select("INBOX");
        co_await c->messages();
    };
    {
        Script s;
        s.steps = {{"", "* BYE too many connections\r\n"}};
        expect_broken(s, select_then_list, "too many connections");
    }
    {
        Script s;
        s.steps = logged_in_selected();
        s.steps.push_back({"A003 UID SEARCH 1:*", "* SEARCH 5 6\r\nA003 OK done\r\n"});
        s.steps.push_back({"A004 UID FETCH 5:6 (UID RFC822.SIZE)", "* BYE shutting down\r\n"});
        expect_broken(s, select_then_list, "shutting down");
    }
    {
        Script s;
        s.steps = logged_in_selected();
        s.steps.push_back({"A003 UID SEARCH 1:*", "* SEARCH 5 6\r\nA003 OK done\r\n"});
        s.steps.push_back({"A004 UID FETCH 5:6 (UID RFC822.SIZE)", "* 1 FETCH (UID 5 RFC822.SIZE \"x\")\r\n"});
        expect_broken(s, select_then_list, "protocol violation");
    }
    {
        Script s;
        s.steps = logged_in_selected();
        s.steps.push_back({"A003 UID SEARCH 1:*", "* SEARCH 5 6\r\nA003 OK done\r\n"});
        s.steps.push_back({"A004 UID FETCH 5:6 (UID RFC822.SIZE)", "A999 OK not yours\r\n"});
        expect_broken(s, select_then_list, "A999");
    }
    {
        Script s;
        s.steps = logged_in_selected();
        s.steps.push_back({"A003 UID SEARCH 1:*", "* SEARCH 5 6\r\nA003 OK done\r\n"});
        s.steps.push_back({"A004 UID FETCH 5:6 (UID RFC822.SIZE)", "* 1 FETCH (UID 5 RFC822.SIZE 3)\r\n"});   // then silence
        auto impatient = [](std::vector<tcp::endpoint> ep) -> awaitable<void> {
            auto o = scripted_options("pass");
            o.timeout = 1s;
            auto c = co_await Client::connect(ep, o);
            co_await c->select("INBOX");
            co_await c->messages();
        };
        expect_broken(s, impatient, "timed out");
    }
    {
        Script s;
        s.steps = logged_in_selected();
        s.steps.push_back({"A003 UID SEARCH 1:*", "* SEARCH 5 6\r\nA003 OK done\r\n"});
        s.steps.push_back({"A004 UID FETCH 5:6 (UID RFC822.SIZE)", "* 1 FETCH (UID 5 RFC822.SIZE 3)\r\n* 2 FETCH (UID 6 BODY[] {100}\r\nabc"});
        s.close_after = true;   // hangs up: connection closed, not a timeout
        expect_broken(s, select_then_list, "connection closed");
    }
    {
        Script s;
        s.steps = logged_in_selected();
        s.steps.push_back({"A003 UID SEARCH 1:*", "* SEARCH 5\r\n* BYE going away\r\n"});
        expect_broken(s, select_then_list, "going away");
    }
    {
        Script s;
        s.steps = logged_in_selected();
        s.steps.push_back({"A003 UID SEARCH 1:*", "* SEARCH 5 0\r\nA003 OK done\r\n"});   // UID 0 does not exist
        expect_broken(s, select_then_list, "not a UID");
    }
    {
        // No UIDVALIDITY: UIDs cannot be tracked across sessions.
        Script s;
        s.steps = {
            {"", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"},
            {"A001 AUTHENTICATE PLAIN", "A001 OK in\r\n"},
            {"A002 CAPABILITY", "* CAPABILITY IMAP4rev1\r\nA002 OK done\r\n"},
            {"A003 SELECT", "* 2 EXISTS\r\nA003 OK selected\r\n"},
        };
        expect_broken(s, select_then_list, "UIDVALIDITY");
    }
}

TEST(ImapClientScripted, RetrieveBodyOfAnotherMessage) {
    // The body arrives before its UID, and the UID is not the one asked for: an error, never a silent
    // mix-up (the caller discards what the sink got).
    Script s;
    s.steps = logged_in_selected();
    s.steps.push_back({"A003 UID FETCH 8 (BODY.PEEK[])", "* 1 FETCH (BODY[] {3}\r\nabc UID 5)\r\nA003 OK done\r\n"});
    expect_broken(
        s,
        [](std::vector<tcp::endpoint> ep) -> awaitable<void> {
            auto c = co_await Client::connect(ep, scripted_options("pass"));
            co_await c->select("INBOX");
            std::function<void(std::string_view)> sink = [](std::string_view) {};
            co_await c->retrieve(8, sink);
        },
        "another message");
}

TEST(ImapClientScripted, StartTlsResponseInjection) {
    // A man in the middle appends a response to the OK for STARTTLS (CVE-2011-0411's kin): refused
    // before the handshake, so nothing injected is ever read as if it came over TLS.
    Script s;
    s.steps = {
        {"", "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n"},
        {"A001 STARTTLS", "A001 OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"},
    };
    expect_broken(
        s,
        [](std::vector<tcp::endpoint> ep) -> awaitable<void> {
            auto o = scripted_options("pass");
            o.tls = TlsMode::starttls;
            o.tls_verify = false;
            co_await Client::connect(ep, o);
        },
        "injection");
}

TEST(ImapClientScripted, PreauthWhereStartTlsIsRequired) {
    Script s;
    s.steps = {{"", "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in already\r\n"}};
    expect_broken(
        s,
        [](std::vector<tcp::endpoint> ep) -> awaitable<void> {
            auto o = scripted_options("pass");
            o.tls = TlsMode::starttls;
            o.tls_verify = false;
            co_await Client::connect(ep, o);
        },
        "PREAUTH");
}

TEST(ImapClientScripted, MessageOverTheLimit) {
    Script s;
    s.steps = logged_in_selected();
    s.steps.push_back({"A003 UID FETCH 8 (BODY.PEEK[])", "* 1 FETCH (UID 8 BODY[] {1001}\r\n"});
    expect_broken(
        s,
        [](std::vector<tcp::endpoint> ep) -> awaitable<void> {
            auto o = scripted_options("pass");
            o.max_message_size = 1000;
            auto c = co_await Client::connect(ep, o);
            co_await c->select("INBOX");
            std::function<void(std::string_view)> sink = [](std::string_view) { ADD_FAILURE() << "bytes passed"; };
            co_await c->retrieve(8, sink);
        },
        "literal too large");
}

}  // namespace
}  // namespace mk::imap

namespace mk::imap {
namespace {

TEST(ImapClientScripted, SearchGoesByWindowsOfSequenceNumbers) {
    // 5,001 messages: two SEARCH windows (1:5000, then the open-ended rest), so that no answer line
    // outgrows the parser's bound however many messages the folder holds.
    Script script;
    script.steps = logged_in_selected();
    script.steps[2].reply = "* 5001 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\nA002 OK [READ-WRITE] selected\r\n";
    script.steps.push_back({"A003 UID SEARCH 1:5000", "* SEARCH 10 11\r\nA003 OK done\r\n"});
    script.steps.push_back({"A004 UID SEARCH 5001:*", "* SEARCH 12\r\nA004 OK done\r\n"});
    script.steps.push_back({"A005 UID FETCH 10:12 (UID RFC822.SIZE)",
                            "* 1 FETCH (UID 10 RFC822.SIZE 100)\r\n* 2 FETCH (UID 11 RFC822.SIZE 110)\r\n"
                            "* 5001 FETCH (UID 12 RFC822.SIZE 120)\r\nA005 OK done\r\n"});
    script.steps.push_back({"A006 LOGOUT", "* BYE bye\r\nA006 OK done\r\n"});
    std::vector<MessageInfo> list;
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto c = co_await Client::connect(ep, scripted_options("pass"));
        co_await c->select("INBOX");
        list = co_await c->messages();
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[2].uid, 12u);
    EXPECT_EQ(list[2].size, 120u);
}

TEST(ImapClientScripted, RunsOnAConnectionItDidNotOpen) {
    Script script;
    script.steps = {
        {"", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"},
        {"A001 AUTHENTICATE PLAIN AGFubmEAcGFzcw==", "A001 OK [CAPABILITY IMAP4rev1] in\r\n"},
        {"A002 LOGOUT", "* BYE bye\r\nA002 OK done\r\n"},
    };
    run_scripted(script, [&](std::vector<tcp::endpoint> ep) -> awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        tcp::socket s(executor);
        co_await s.async_connect(ep.front(), asio::use_awaitable);
        auto c = co_await Client::start(std::make_unique<Connection>(std::move(s)), scripted_options("pass"));
        co_await c->logout();
    });
    EXPECT_FALSE(script.mismatch);
    EXPECT_EQ(script.received.size(), 2u);
}

}  // namespace
}  // namespace mk::imap
