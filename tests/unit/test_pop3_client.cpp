// tests/unit/test_pop3_client.cpp — the POP3 fetch client: its parsers (dot-unstuffer fed whole, in
// pieces and byte by byte; response, CAPA and listing lines), then the client against a real Dovecot
// POP3/POP3S started here and, for what Dovecot will not do (no UIDL, OAuth, refusals, broken servers),
// a scripted server over loopback.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/sha256.hpp"
#include "net/connection.hpp"
#include "net/dot_stuffer.hpp"
#include "net/sasl.hpp"
#include "pop3/client.hpp"
#include "pop3/command.hpp"
#include "temp_dir.hpp"

extern char** environ;

namespace mk::pop3 {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace std::string_literals;

// ---------------------------------------------------------------------------------------------
// DotUnstuffer

struct UnstuffCase {
    std::string wire;          // what follows the status line's CRLF
    std::string want;          // the message bytes
    DotUnstuffer::Status status;
    std::string tail = {};     // the end of wire that is not consumed (the next response)
};

std::vector<UnstuffCase> unstuff_cases() {
    using S = DotUnstuffer::Status;
    return {
        {".\r\n", "", S::done},                                          // empty message
        {"a\r\n.\r\n", "a\r\n", S::done},
        {"a\r\n.\r\n+OK next\r\n", "a\r\n", S::done, "+OK next\r\n"},    // the next response stays
        {"a\r\n.\r\n.\r\n", "a\r\n", S::done, ".\r\n"},
        {"..\r\n.\r\n", ".\r\n", S::done},                               // a stuffed lone dot
        {"..a\r\n...b\r\n.\r\n", ".a\r\n..b\r\n", S::done},
        {".a\r\n.\r\n", "a\r\n", S::done},                               // RFC 1939 3: strip even unstuffed
        {"a\r\n\r\n.\r\n", "a\r\n\r\n", S::done},
        // Only CRLF "." CRLF ends: after a bare LF a dot is data, neither stuffing nor the end.
        {"a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", S::done},
        {"a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", S::done},
        {"a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n", S::done},
        {"\n..\r\n.\r\n", "\n..\r\n", S::done},
        {".\n.\r\n", "\n.\r\n", S::more},                                // ".\n" is stuffing + bare LF
        {".\n.\r\n.\r\n", "\n.\r\n", S::done},
        {".\r.\r\n.\r\n", "\r.\r\n", S::done},                           // ".\r" + non-LF: CR is data
        {".\r\r\n.\r\n", "\r\r\n", S::done},
        // Not finished yet.
        {"", "", S::more},
        {"a\r\n", "a\r\n", S::more},
        {"a\r\n.", "a\r\n", S::more},
        {"a\r\n.\r", "a\r\n", S::more},
        {"a\r\n.\n", "a\r\n\n", S::more},
    };
}

// feed_pieces - the wire in pieces of step bytes; returns {output, consumed, status}.
std::tuple<std::string, std::size_t, DotUnstuffer::Status> feed_pieces(std::string_view wire, std::size_t step,
                                                                       std::size_t max_line = kMaxMessageLine) {
    DotUnstuffer u(max_line);
    std::string out;
    std::size_t used = 0;
    for (std::size_t pos = 0; pos < wire.size() && u.status() == DotUnstuffer::Status::more; pos += step)
        used += u.feed(wire.substr(pos, step), out);
    return {out, used, u.status()};
}

TEST(Pop3DotUnstuffer, TableWholeAndByteByByteAndEverySplit) {
    for (const auto& c : unstuff_cases()) {
        SCOPED_TRACE(testing::PrintToString(c.wire));
        DotUnstuffer whole;
        std::string out;
        const std::size_t want_used = c.wire.size() - c.tail.size();
        EXPECT_EQ(whole.feed(c.wire, out), want_used);
        EXPECT_EQ(out, c.want);
        EXPECT_EQ(whole.status(), c.status);

        auto [bytes, bytes_used, bytes_status] = feed_pieces(c.wire, 1);
        EXPECT_EQ(bytes, c.want);
        EXPECT_EQ(bytes_used, want_used);
        EXPECT_EQ(bytes_status, c.status);

        for (std::size_t cut = 0; cut <= c.wire.size(); ++cut) {
            DotUnstuffer u;
            std::string split;
            std::size_t used = u.feed(std::string_view(c.wire).substr(0, cut), split);
            if (u.status() == DotUnstuffer::Status::more)
                used += u.feed(std::string_view(c.wire).substr(cut), split);
            EXPECT_EQ(split, c.want) << "cut at " << cut;
            EXPECT_EQ(used, want_used) << "cut at " << cut;
        }
    }
}

TEST(Pop3DotUnstuffer, UndoesTheServersStufferByteForByte) {
    std::string big;
    for (int i = 0; i < 5000; ++i) big += fmt::format("{}line {} with some text to pass chunk edges\r\n", i % 5 ? "" : ".", i);
    const std::vector<std::string> messages{
        "", "a\r\n", ".\r\n", "..\r\n", "Subject: x\r\n\r\n.\r\n.hidden\r\n", "no final line end", big,
    };
    for (const auto& m : messages) {
        std::string wire = dot_stuff(m);
        std::string want = m;
        if (!want.empty() && !want.ends_with("\r\n")) want += "\r\n";   // the stuffer closes the last line
        EXPECT_EQ(dot_unstuff(wire), want);
        for (std::size_t step : {1u, 2u, 3u, 7u, 4096u, 65536u}) {
            auto [out, used, status] = feed_pieces(wire, step);
            EXPECT_EQ(out, want) << "step " << step;
            EXPECT_EQ(used, wire.size());
            EXPECT_EQ(status, DotUnstuffer::Status::done);
        }
    }
}

TEST(Pop3DotUnstuffer, LineLimitIsAnErrorNeverACut) {
    // kMaxMessageLine bytes without LF pass; one more is an error wherever the chunks are cut.
    // (EXPECT_TRUE on comparisons: a failure must not print 64 KiB.)
    std::string ok(kMaxMessageLine, 'a');
    EXPECT_TRUE(dot_unstuff(ok + "\n.\r\n" + ".\r\n") == ok + "\n.\r\n");   // "\n." is data, not the end
    EXPECT_TRUE(dot_unstuff(ok + "\r\n.\r\n") == std::nullopt);   // the CR counts: one byte too many
    std::string fits(kMaxMessageLine - 1, 'a');
    EXPECT_TRUE(dot_unstuff(fits + "\r\n.\r\n") == fits + "\r\n");
    std::string over(kMaxMessageLine + 1, 'a');
    for (std::size_t step : {1u, 1000u, 70000u}) {
        auto [out, used, status] = feed_pieces(over + "\r\n.\r\n", step);
        EXPECT_EQ(status, DotUnstuffer::Status::line_too_long) << step;
        EXPECT_EQ(used, kMaxMessageLine) << step;
        EXPECT_EQ(out.size(), kMaxMessageLine) << step;
    }
    // Bare LFs reset the count (the limit is bytes without any LF), CRLF lines of course too.
    std::string lines;
    for (int i = 0; i < 4; ++i) lines += std::string(kMaxMessageLine - 1, 'b') + (i % 2 ? "\r\n" : "\n");
    EXPECT_TRUE(dot_unstuff(lines + ".\r\n") == lines);
    // The stuffed dot is transparency (RFC 1939 3), not part of the message's line: it does not count,
    // so a line beginning with "." has the same limit as any other.
    EXPECT_EQ(dot_unstuff("..abc\r\n.\r\n", 5), ".abc\r\n");
    EXPECT_EQ(dot_unstuff("..abcd\r\n.\r\n", 5), std::nullopt);
    std::string dotted = "." + fits.substr(1);   // kMaxMessageLine - 1 bytes beginning with "."
    EXPECT_TRUE(dot_unstuff("." + dotted + "\r\n.\r\n") == dotted + "\r\n");
    EXPECT_TRUE(dot_unstuff("." + dotted + "a\r\n.\r\n") == std::nullopt);
    for (std::size_t step : {1u, 1000u, 70000u}) {
        auto [out, used, status] = feed_pieces("." + dotted + "\r\n.\r\n", step);
        EXPECT_EQ(status, DotUnstuffer::Status::done) << step;
        EXPECT_TRUE(out == dotted + "\r\n") << step;
    }
}

TEST(Pop3DotUnstuffer, NothingAfterTheEnd) {
    DotUnstuffer u;
    std::string out;
    EXPECT_EQ(u.feed(".\r\n", out), 3u);
    EXPECT_EQ(u.feed("more\r\n", out), 0u);
    EXPECT_TRUE(out.empty());
}

// ---------------------------------------------------------------------------------------------
// Response, CAPA and listing lines

TEST(Pop3ResponseParser, StatusLines) {
    struct Case {
        std::string line;
        bool continuation;
        std::optional<Indicator> want;
        RespCode code = RespCode::none;
        std::string text = {};
    };
    const std::vector<Case> cases{
        {"+OK", false, Indicator::ok},
        {"+OK Dovecot ready.", false, Indicator::ok, RespCode::none, "Dovecot ready."},
        {"-ERR", false, Indicator::err},
        {"-ERR no such message", false, Indicator::err, RespCode::none, "no such message"},
        {"-ERR [AUTH] Authentication failed.", false, Indicator::err, RespCode::auth, "Authentication failed."},
        {"-ERR [SYS/TEMP] try later", false, Indicator::err, RespCode::sys_temp, "try later"},
        {"-ERR [IN-USE] locked", false, Indicator::err, RespCode::in_use, "locked"},
        {"-ERR [LOGIN-DELAY] wait", false, Indicator::err, RespCode::login_delay, "wait"},
        {"-ERR [auth] lower case code", false, Indicator::err, RespCode::auth, "lower case code"},
        {"-ERR [X-UNKNOWN] what", false, Indicator::err, RespCode::none, "what"},
        {"-ERR text\x01with\x7f" "controls", false, Indicator::err, RespCode::none, "text with controls"},
        {"+ ", true, Indicator::more, RespCode::none, ""},
        {"+", true, Indicator::more, RespCode::none, ""},
        {"+ eyJzdGF0dXMiOiI0MDEifQ==", true, Indicator::more, RespCode::none, "eyJzdGF0dXMiOiI0MDEifQ=="},
        {"+OK in an AUTH exchange", true, Indicator::ok, RespCode::none, "in an AUTH exchange"},
        // Not status lines.
        {"+ abc", false, std::nullopt},          // a continuation where none may come
        {"+OKAY", false, std::nullopt},
        {"-ERROR", false, std::nullopt},
        {"+ok", false, std::nullopt},            // RFC 1939 3: upper case
        {"OK", false, std::nullopt},
        {"", false, std::nullopt},
        {"+x", true, std::nullopt},
        {"+ a\rb", true, std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(testing::PrintToString(c.line));
        auto r = parse_response(c.line, c.continuation);
        ASSERT_EQ(r.has_value(), c.want.has_value());
        if (!r) continue;
        EXPECT_EQ(r->indicator, *c.want);
        EXPECT_EQ(r->code, c.code);
        EXPECT_EQ(r->text, c.text);
    }
}

TEST(Pop3ResponseParser, Capabilities) {
    Capabilities caps;
    for (std::string_view line : {"TOP", "user", "RESP-CODES", "PIPELINING", "UIDL", "STLS", "SASL PLAIN xoauth2 PLAIN",
                                  "EXPIRE NEVER", "IMPLEMENTATION Dovecot", "AUTH-RESP-CODE"})
        add_capability(caps, line);
    EXPECT_TRUE(caps.top && caps.user && caps.resp_codes && caps.pipelining && caps.uidl && caps.stls);
    EXPECT_EQ(caps.sasl, (std::vector<std::string>{"PLAIN", "XOAUTH2"}));
    Capabilities none;
    add_capability(none, "UIDLX");
    add_capability(none, "SASL");
    add_capability(none, "");
    EXPECT_FALSE(none.uidl);
    EXPECT_TRUE(none.sasl.empty());
}

TEST(Pop3ResponseParser, ScanAndUidListings) {
    std::uint64_t msg = 0, size = 0;
    EXPECT_TRUE(parse_scan_listing("1 120", msg, size));
    EXPECT_EQ(msg, 1u);
    EXPECT_EQ(size, 120u);
    EXPECT_TRUE(parse_scan_listing("7 0 extra info", msg, size));   // RFC 1939 5: anything may follow
    EXPECT_EQ(size, 0u);
    for (std::string_view bad : {"", "1", "0 10", "1  10", " 1 10", "1 -3", "a 1", "1 99999999999999999999", "1 1x"})
        EXPECT_FALSE(parse_scan_listing(bad, msg, size)) << bad;

    std::string uid;
    EXPECT_TRUE(parse_uid_listing("3 000000017a5bc123", msg, uid));
    EXPECT_EQ(msg, 3u);
    EXPECT_EQ(uid, "000000017a5bc123");
    EXPECT_TRUE(parse_uid_listing("1 " + std::string(kMaxUniqueId, '~'), msg, uid));
    for (std::string bad : {""s, "1"s, "1 "s, "0 abc"s, "1 a b"s, "1 a\x01"s, "1 \x80"s, "1 " + std::string(kMaxUniqueId + 1, 'x')})
        EXPECT_FALSE(parse_uid_listing(bad, msg, uid)) << bad;
}

// ---------------------------------------------------------------------------------------------
// Helpers for the network tests

using test::TempDir;

void spit(const fs::path& p, std::string_view content) {
    std::ofstream out(p, std::ios::binary);
    out << content;
}

tcp::endpoint loopback(std::uint16_t port) { return tcp::endpoint(asio::ip::make_address("127.0.0.1"), port); }

// free_ports - n loopback ports nobody listens on right now (all bound at once, so they differ).
std::vector<std::uint16_t> free_ports(std::size_t n) {
    asio::io_context io;
    std::vector<std::unique_ptr<tcp::acceptor>> held;
    std::vector<std::uint16_t> ports;
    for (std::size_t i = 0; i < n; ++i) {
        held.push_back(std::make_unique<tcp::acceptor>(io, loopback(0)));
        ports.push_back(held.back()->local_endpoint().port());
    }
    return ports;
}

bool port_accepts(std::uint16_t port) {
    asio::io_context io;
    tcp::socket s(io);
    boost::system::error_code ec;
    s.connect(loopback(port), ec);
    return !ec;
}

// eps - the endpoint list for Client::connect, built outside the coroutine (g++ 12 miscompiles a
// braced list inside one).
std::vector<tcp::endpoint> eps(std::uint16_t port) { return {loopback(port)}; }

// run_command - run args[0] with args, output to log, and wait: its exit status, or -1.
int run_command(const std::vector<std::string>& args, const fs::path& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// run_client - run body() on io until it finishes, bounded in time, then a moment more so that a
// scripted server sees the client close (one that hangs on purpose is left waiting); rethrows what
// body threw.
template <class F>
void run_client(asio::io_context& io, F& body) {
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io, body(), [&](std::exception_ptr e) {
        error = e;
        done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_for(1s);
    io.run_for(200ms);
    io.stop();
    ASSERT_TRUE(done) << "client did not finish in time";
    if (error) std::rethrow_exception(error);
}

// Collect - a retrieve() sink keeping the bytes and the size of each piece.
struct Collect {
    std::string data;
    std::vector<std::size_t> pieces;
    std::function<void(std::string_view)> sink() {
        return [this](std::string_view s) {
            data.append(s);
            pieces.push_back(s.size());
        };
    }
};

// ---------------------------------------------------------------------------------------------
// Dovecot

constexpr const char* kDovecot = "/usr/sbin/dovecot";
constexpr const char* kDoveadm = "/usr/bin/doveadm";
constexpr const char* kOpenssl = "/usr/bin/openssl";
// The mail user: never uid 0 (Dovecot refuses it); nobody/nogroup.
constexpr uid_t kMailUid = 65534;
constexpr gid_t kMailGid = 65534;

// The three stored messages: plain, dot-stuffing material, and 200 KB (several sink pieces).
std::vector<std::string> stored_messages() {
    const std::string head =
        "Return-Path: <sender@example.org>\r\n"
        "From: Sender <sender@example.org>\r\n"
        "To: anna@example.net\r\n"
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n";
    std::string big = head + "Subject: big\r\nMessage-ID: <three@example.org>\r\n\r\n";
    for (int i = 0; big.size() < 200 * 1024; ++i)
        big += fmt::format("{}line {:06} of a long message, enough text to make it two hundred kilobytes\r\n",
                           i % 9 == 0 ? "." : "", i);
    return {
        head + "Subject: one\r\nMessage-ID: <one@example.org>\r\n\r\nHello Anna.\r\n",
        head + "Subject: dots\r\nMessage-ID: <two@example.org>\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n. space\r\nend\r\n",
        big,
    };
}

// Dovecot - a private Dovecot 2.3 POP3 on loopback ports (as tests/blackbox/dovecot.py), with user
// anna/secret whose Maildir holds the given messages; tls: ssl = required and a pop3s listener with a
// self-signed certificate for "localhost". Stopped whatever the test does.
class Dovecot {
public:
    Dovecot(const fs::path& root, bool tls, const std::vector<std::string>& messages) : root_(root) {
        auto ports = free_ports(2);
        pop3_port = ports[0];
        pop3s_port = ports[1];
        fs::permissions(root_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
        fs::create_directories(root_ / "run");
        fs::create_directories(root_ / "state");
        maildir = root_ / "mail" / "anna";
        for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(maildir / sub);
        for (std::size_t i = 0; i < messages.size(); ++i)
            spit(maildir / "new" / fmt::format("17000000{:02}.M{}P1.mailkeep-test", i, i), messages[i]);
        for (const auto& p : {root_ / "mail", maildir, maildir / "cur", maildir / "new", maildir / "tmp"})
            ::chown(p.c_str(), kMailUid, kMailGid);
        for (auto& e : fs::directory_iterator(maildir / "new")) ::chown(e.path().c_str(), kMailUid, kMailGid);
        spit(root_ / "passwd", fmt::format("anna:{{PLAIN}}secret:{}:{}::{}\n", kMailUid, kMailGid, maildir.string()));
        if (tls) {
            cert = root_ / "cert.pem";
            int rc = run_command({kOpenssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                  "-nodes", "-keyout", (root_ / "key.pem").string(), "-out", cert.string(), "-days",
                                  "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"},
                                 root_ / "openssl.out");
            if (rc != 0) {
                error_ = "openssl req failed";
                return;
            }
        }
        config_ = root_ / "dovecot.conf";
        spit(config_, fmt::format(R"(# written by tests/unit/test_pop3_client.cpp
base_dir = {root}/run
state_dir = {root}/state
instance_name = mailkeep-pop3c-{port}
log_path = {root}/dovecot.log
protocols = pop3
listen = 127.0.0.1
{ssl}
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
mail_privileged_group =
default_login_user = dovenull
default_internal_user = dovecot
mail_fsync = always
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {sport}
  }}
}}
service anvil {{
  chroot =
}}
)",
                                  fmt::arg("root", root_.string()), fmt::arg("port", pop3_port),
                                  fmt::arg("sport", tls ? pop3s_port : 0),
                                  fmt::arg("ssl", tls ? fmt::format("ssl = required\nssl_cert = <{0}/cert.pem\n"
                                                                    "ssl_key = <{0}/key.pem\ndisable_plaintext_auth = yes",
                                                                    root_.string())
                                                      : std::string("ssl = no\ndisable_plaintext_auth = no"))));
        if (run_command({kDovecot, "-c", config_.string()}, root_ / "dovecot.out") != 0) {
            error_ = "dovecot did not start: " + slurp(root_ / "dovecot.out") + slurp(root_ / "dovecot.log");
            return;
        }
        started_ = true;
        for (int i = 0; i < 200; ++i) {
            if (port_accepts(pop3_port) && (!tls || port_accepts(pop3s_port))) {
                ready_ = true;
                return;
            }
            std::this_thread::sleep_for(50ms);
        }
        error_ = "dovecot does not accept connections: " + slurp(root_ / "dovecot.log");
    }
    ~Dovecot() {
        if (!started_) return;
        run_command({kDoveadm, "-c", config_.string(), "stop"}, root_ / "doveadm.out");
        for (int i = 0; i < 200 && fs::exists(root_ / "run" / "master.pid"); ++i) std::this_thread::sleep_for(50ms);
    }
    const std::string& error() const { return error_; }
    bool ready() const { return ready_; }
    // stored - the messages in the Maildir now (new/ and cur/).
    std::size_t stored() const {
        std::size_t n = 0;
        for (const char* sub : {"cur", "new"})
            for (auto& e : fs::directory_iterator(maildir / sub)) n += e.is_regular_file() ? 1 : 0;
        return n;
    }
    static std::string slurp(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

    std::uint16_t pop3_port = 0, pop3s_port = 0;
    fs::path maildir, cert;

private:
    fs::path root_, config_;
    std::string error_;
    bool started_ = false;
    bool ready_ = false;
};

ClientOptions anna(TlsMode security, std::string password = "secret") {
    ClientOptions o;
    o.tls = security;
    o.username = "anna";
    o.password = [password] { return password; };
    o.timeout = 10s;
    return o;
}

// stored_with_size - the stored message LIST reports with this size (the sizes of the three differ).
const std::string* stored_with_size(const std::vector<std::string>& stored, std::uint64_t size) {
    for (const auto& m : stored)
        if (m.size() == size) return &m;
    return nullptr;
}

// Pipelined RETR (RFC 2449 6.6): each retrieval names the next; one named but then not asked for is
// read away before the next command, and every message still arrives exactly.
TEST(Pop3ClientDovecot, PipelinedRetrieveAndAnUnusedReadAhead) {
    if (!fs::exists(kDovecot)) GTEST_SKIP() << "Dovecot is not installed";
    if (::geteuid() != 0) GTEST_SKIP() << "Dovecot's login and mail processes change users: run as root";
    TempDir t;
    const auto stored = stored_messages();
    Dovecot dovecot(t.path, false, stored);
    ASSERT_TRUE(dovecot.ready()) << dovecot.error();

    asio::io_context io;
    std::vector<MessageInfo> list;
    std::map<unsigned, Collect> got;
    auto body = [&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(dovecot.pop3_port), anna(TlsMode::none));
        list = co_await client->messages();
        auto s1 = got[1].sink();
        co_await client->retrieve(1, s1, 2);
        auto s2 = got[2].sink();
        co_await client->retrieve(2, s2, 3);   // 3 is sent ahead...
        co_await client->remove(1);            // ...and read away here, unused
        auto s3 = got[3].sink();
        co_await client->retrieve(3, s3);
        co_await client->quit();
    };
    run_client(io, body);

    ASSERT_EQ(list.size(), 3u);
    for (const auto& m : list) {
        SCOPED_TRACE(m.number);
        const std::string* want = stored_with_size(stored, m.size);
        ASSERT_NE(want, nullptr);
        EXPECT_EQ(got[m.number].data, *want);
    }
    EXPECT_EQ(dovecot.stored(), 2u);
}

TEST(Pop3ClientDovecot, ListRetrieveDeleteQuitOverPlaintext) {
    if (!fs::exists(kDovecot)) GTEST_SKIP() << "Dovecot is not installed";
    if (::geteuid() != 0) GTEST_SKIP() << "Dovecot's login and mail processes change users: run as root";
    TempDir t;
    const auto stored = stored_messages();
    Dovecot dovecot(t.path, false, stored);
    ASSERT_TRUE(dovecot.ready()) << dovecot.error();

    asio::io_context io;
    std::vector<MessageInfo> first, second;
    std::map<unsigned, Collect> got;
    std::optional<ClientError> wrong;
    auto body = [&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(dovecot.pop3_port), anna(TlsMode::none));
        first = co_await client->messages();
        for (const auto& m : first) {
            auto sink = got[m.number].sink();
            co_await client->retrieve(m.number, sink);
        }
        co_await client->remove(2);
        co_await client->quit();

        auto again = co_await Client::connect(eps(dovecot.pop3_port), anna(TlsMode::none));
        second = co_await again->messages();
        co_await again->quit();

        try {
            auto bad = co_await Client::connect(eps(dovecot.pop3_port), anna(TlsMode::none, "wrong"));
        } catch (const ClientError& e) {
            wrong = e;
        }
    };
    run_client(io, body);

    ASSERT_EQ(first.size(), 3u);
    for (const auto& m : first) {
        SCOPED_TRACE(m.number);
        EXPECT_FALSE(m.uid.empty());
        const std::string* want = stored_with_size(stored, m.size);
        ASSERT_NE(want, nullptr) << "LIST size " << m.size << " matches no stored message";
        EXPECT_TRUE(got[m.number].data == *want);   // byte for byte, CRLF, unstuffed (no 200 KB print)
        for (std::size_t piece : got[m.number].pieces) EXPECT_LE(piece, 64u * 1024);
    }
    // The 200 KB message came in several pieces, none over 64 KiB (bounded memory whatever the size).
    for (const auto& m : first)
        if (m.size == stored[2].size()) {
            EXPECT_GE(got[m.number].pieces.size(), 4u);
        }

    // DELE 2 took effect at QUIT; the other two keep their uids in the next session.
    ASSERT_EQ(second.size(), 2u);
    EXPECT_EQ(dovecot.stored(), 2u);
    std::vector<std::string> want_uids, have_uids;
    for (const auto& m : first)
        if (m.number != 2) want_uids.push_back(m.uid);
    for (const auto& m : second) have_uids.push_back(m.uid);
    EXPECT_EQ(have_uids, want_uids);

    ASSERT_TRUE(wrong.has_value()) << "a wrong password logged in";
    EXPECT_TRUE(wrong->auth()) << wrong->what();
}

TEST(Pop3ClientDovecot, ImplicitTlsAndStlsVerifyTheCertificate) {
    if (!fs::exists(kDovecot)) GTEST_SKIP() << "Dovecot is not installed";
    if (::geteuid() != 0) GTEST_SKIP() << "Dovecot's login and mail processes change users: run as root";
    TempDir t;
    const auto stored = stored_messages();
    Dovecot dovecot(t.path, true, stored);
    ASSERT_TRUE(dovecot.ready()) << dovecot.error();

    auto tls_options = [&](TlsMode s, std::string name) {
        ClientOptions o = anna(s);
        o.ca_file = dovecot.cert;
        o.server_name = std::move(name);
        return o;
    };
    asio::io_context io;
    std::vector<MessageInfo> implicit_list, stls_list;
    Collect implicit_dots;
    std::optional<ClientError> wrong_name;
    auto body = [&]() -> awaitable<void> {
        auto a = co_await Client::connect(eps(dovecot.pop3s_port), tls_options(TlsMode::implicit, "localhost"));
        implicit_list = co_await a->messages();
        for (const auto& m : implicit_list) {
            if (m.size != stored[1].size()) continue;
            auto sink = implicit_dots.sink();
            co_await a->retrieve(m.number, sink);
        }
        co_await a->quit();

        auto b = co_await Client::connect(eps(dovecot.pop3_port), tls_options(TlsMode::starttls, "localhost"));
        stls_list = co_await b->messages();
        co_await b->quit();

        // The certificate is for localhost: another name fails the handshake, before any password.
        try {
            auto c = co_await Client::connect(eps(dovecot.pop3s_port), tls_options(TlsMode::implicit, "other.example"));
        } catch (const ClientError& e) {
            wrong_name = e;
        }
    };
    run_client(io, body);

    ASSERT_EQ(implicit_list.size(), 3u);
    EXPECT_EQ(implicit_dots.data, stored[1]);
    ASSERT_EQ(stls_list.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(stls_list[i].uid, implicit_list[i].uid);
        EXPECT_EQ(stls_list[i].size, implicit_list[i].size);
    }
    ASSERT_TRUE(wrong_name.has_value());
    EXPECT_FALSE(wrong_name->auth());
    EXPECT_NE(std::string(wrong_name->what()).find("TLS"), std::string::npos) << wrong_name->what();
}

// ---------------------------------------------------------------------------------------------
// Scripted server: one connection, a greeting, then for each step the exact line the client must send
// and the bytes to answer with.

struct Step {
    std::string expect;
    std::string reply;
    bool hang = false;   // after reading the line, answer nothing and keep the connection open
};

struct Transcript {
    std::vector<std::string> received;
    std::vector<bool> more_buffered;   // more bytes already there after this line: pipelined
    bool finished = false;             // every step done, then the client closed
};

class ScriptedServer {
public:
    explicit ScriptedServer(asio::io_context& io) : acceptor_(io, loopback(0)) {}
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    void start(std::string greeting, std::vector<Step> steps) {
        asio::co_spawn(acceptor_.get_executor(), serve(std::move(greeting), std::move(steps)), asio::detached);
    }
    Transcript transcript;

private:
    awaitable<void> serve(std::string greeting, std::vector<Step> steps) {
        tcp::socket socket = co_await acceptor_.async_accept(asio::use_awaitable);
        Connection conn(std::move(socket));
        co_await conn.write(greeting, 5s);
        for (const auto& step : steps) {
            LineResult line = co_await conn.read_line(20000, 20s);
            if (line.status != ReadStatus::ok) co_return;
            transcript.received.emplace_back(line.line);
            transcript.more_buffered.push_back(conn.buffered() > 0);
            if (transcript.received.back() != step.expect) {
                ADD_FAILURE() << "client sent \"" << transcript.received.back() << "\", script expects \"" << step.expect << '"';
                co_return;
            }
            if (step.hang) {
                asio::steady_timer wait(acceptor_.get_executor(), 60s);
                co_await wait.async_wait(asio::use_awaitable);
                co_return;
            }
            co_await conn.write(step.reply, 5s);
        }
        LineResult after = co_await conn.read_line(20000, 20s);
        if (after.status == ReadStatus::ok) transcript.received.emplace_back(after.line);
        else transcript.finished = after.status == ReadStatus::closed;
    }

    tcp::acceptor acceptor_;
};

const std::string kGreeting = "+OK scripted POP3 ready\r\n";

TEST(Pop3ClientScripted, UserPassAndUidsFromTopWhenUidlIsRefused) {
    asio::io_context io;
    ScriptedServer server(io);
    const std::string top1 = "Subject: a\r\nMessage-ID: <a@x>\r\n\r\n";
    const std::string top2_wire = "Subject: b\r\n..dotted: x\r\n\r\n";
    const std::string top2 = "Subject: b\r\n.dotted: x\r\n\r\n";
    server.start(kGreeting, {
        {"CAPA", "+OK\r\nUSER\r\nTOP\r\nPIPELINING\r\n.\r\n"},
        {"USER anna", "+OK\r\n"},
        {"PASS secret with spaces", "+OK logged in\r\n"},
        {"CAPA", "-ERR not after login\r\n"},   // the capabilities from before stay
        {"LIST", "+OK 2 messages\r\n1 30\r\n2 40 extra\r\n.\r\n"},
        {"UIDL", "-ERR no UIDL here\r\n"},
        {"TOP 1 0", "+OK\r\n" + top1 + ".\r\n"},
        {"TOP 2 0", "+OK\r\n" + top2_wire + ".\r\n"},
        // A "." after a bare LF is data, never the end: nothing smuggled past it is read as a response.
        {"RETR 2", "+OK\r\nline one\r\n\n.\nnot the end\r\n..stuffed\r\n.\r\n"},
        {"DELE 2", "+OK marked\r\n"},
        {"QUIT", "+OK bye\r\n"},
    });
    std::vector<MessageInfo> list;
    Collect got;
    auto body = [&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(server.port()), anna(TlsMode::none, "secret with spaces"));
        list = co_await client->messages();
        auto sink = got.sink();
        co_await client->retrieve(2, sink);
        co_await client->remove(2);
        co_await client->quit();
    };
    run_client(io, body);

    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].number, 1u);
    EXPECT_EQ(list[0].size, 30u);
    EXPECT_EQ(list[1].size, 40u);
    EXPECT_EQ(list[0].uid, "sha256:" + sha256_hex(top1 + '\0' + "30"));
    EXPECT_EQ(list[1].uid, "sha256:" + sha256_hex(top2 + '\0' + "40"));
    EXPECT_EQ(got.data, "line one\r\n\n.\nnot the end\r\n.stuffed\r\n");
    // PIPELINING: LIST and UIDL in one write, and the two TOPs.
    const auto& t = server.transcript;
    ASSERT_GE(t.received.size(), 8u);
    EXPECT_TRUE(t.more_buffered[4]) << "LIST was not pipelined with UIDL";
    EXPECT_TRUE(t.more_buffered[6]) << "TOP 1 0 was not pipelined with TOP 2 0";
    EXPECT_TRUE(t.finished);
}

TEST(Pop3ClientScripted, OAuthTokenRefreshedOnceAndLongTokenAfterTheChallenge) {
    asio::io_context io;
    ScriptedServer server(io);
    const std::string old_token = "old-token";
    const std::string new_token(300, 't');   // too long for the AUTH line (RFC 2449 4: 255 octets)
    server.start(kGreeting, {
        {"CAPA", "+OK\r\nSASL PLAIN XOAUTH2\r\nUIDL\r\nUSER\r\n.\r\n"},
        {"AUTH XOAUTH2 " + base64_encode(oauth_response("XOAUTH2", "anna", old_token)),
         "+ " + base64_encode(R"({"status":"401","schemes":"bearer"})") + "\r\n"},
        {"", "-ERR [AUTH] invalid token\r\n"},
        {"AUTH XOAUTH2", "+ \r\n"},
        {base64_encode(oauth_response("XOAUTH2", "anna", new_token)), "+OK welcome\r\n"},
        {"CAPA", "+OK\r\nUIDL\r\n.\r\n"},
        {"QUIT", "+OK\r\n"},
    });
    std::vector<bool> refreshes;
    auto body = [&]() -> awaitable<void> {
        ClientOptions o = anna(TlsMode::none);
        o.oauth_token = [&](bool refresh) {
            refreshes.push_back(refresh);
            return refresh ? new_token : old_token;
        };
        auto client = co_await Client::connect(eps(server.port()), o);
        co_await client->quit();
    };
    run_client(io, body);
    EXPECT_EQ(refreshes, (std::vector<bool>{false, true}));
    EXPECT_TRUE(server.transcript.finished);
}

TEST(Pop3ClientScripted, AuthPlainWithInitialResponse) {
    asio::io_context io;
    ScriptedServer server(io);
    server.start(kGreeting, {
        {"CAPA", "+OK\r\nSASL PLAIN LOGIN\r\nUIDL\r\n.\r\n"},
        {"AUTH PLAIN " + base64_encode(std::string("\0anna\0secret", 12)), "+OK\r\n"},
        {"CAPA", "+OK\r\nUIDL\r\n.\r\n"},
        {"LIST", "+OK\r\n.\r\n"},
        {"UIDL", "+OK\r\n.\r\n"},
        {"QUIT", "+OK\r\n"},
    });
    std::vector<MessageInfo> list{MessageInfo{}};
    auto body = [&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(server.port()), anna(TlsMode::none));
        list = co_await client->messages();
        co_await client->quit();
    };
    run_client(io, body);
    EXPECT_TRUE(list.empty());
    EXPECT_TRUE(server.transcript.finished);
}

TEST(Pop3ClientScripted, StlsRequiredButNotOfferedSendsNoCredentials) {
    asio::io_context io;
    ScriptedServer server(io);
    server.start(kGreeting, {{"CAPA", "+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"}});
    std::optional<ClientError> error;
    auto body = [&]() -> awaitable<void> {
        ClientOptions o = anna(TlsMode::starttls);
        o.tls_verify = false;
        try {
            auto client = co_await Client::connect(eps(server.port()), o);
        } catch (const ClientError& e) {
            error = e;
        }
    };
    run_client(io, body);
    ASSERT_TRUE(error.has_value());
    EXPECT_FALSE(error->auth());
    EXPECT_NE(std::string(error->what()).find("STLS"), std::string::npos) << error->what();
    EXPECT_EQ(server.transcript.received, (std::vector<std::string>{"CAPA"}));
}

TEST(Pop3ClientScripted, LoginRefusalsSayWhetherTheCredentialsAreWrong) {
    struct Case {
        std::string pass_reply;
        bool auth;
    };
    for (const Case& c : {Case{"-ERR [AUTH] bad password\r\n", true}, Case{"-ERR invalid\r\n", true},
                          Case{"-ERR [SYS/TEMP] backend down\r\n", false}, Case{"-ERR [IN-USE] locked\r\n", false}}) {
        SCOPED_TRACE(c.pass_reply);
        asio::io_context io;
        ScriptedServer server(io);
        server.start(kGreeting, {{"CAPA", "-ERR what?\r\n"}, {"USER anna", "+OK\r\n"}, {"PASS secret", c.pass_reply}});
        std::optional<ClientError> error;
        auto body = [&]() -> awaitable<void> {
            try {
                auto client = co_await Client::connect(eps(server.port()), anna(TlsMode::none));
            } catch (const ClientError& e) {
                error = e;
            }
        };
        run_client(io, body);
        ASSERT_TRUE(error.has_value());
        EXPECT_EQ(error->auth(), c.auth) << error->what();
    }
}

// logged_in - the steps that take the client to the transaction state with UIDL and no PIPELINING.
std::vector<Step> logged_in(std::vector<Step> then) {
    std::vector<Step> steps{{"CAPA", "+OK\r\nUSER\r\nUIDL\r\n.\r\n"}, {"USER anna", "+OK\r\n"}, {"PASS secret", "+OK\r\n"},
                            {"CAPA", "+OK\r\nUIDL\r\n.\r\n"}};
    for (auto& s : then) steps.push_back(std::move(s));
    return steps;
}

TEST(Pop3ClientScripted, OverlongLineInRetrIsAnErrorNotATruncatedMessage) {
    asio::io_context io;
    ScriptedServer server(io);
    server.start(kGreeting, logged_in({{"RETR 1", "+OK\r\nSubject: x\r\n\r\n" + std::string(70 * 1024, 'a') + "\r\n.\r\n"}}));
    std::optional<ClientError> error, after;
    Collect got;
    auto body = [&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(server.port()), anna(TlsMode::none));
        try {
            auto sink = got.sink();
            co_await client->retrieve(1, sink);
        } catch (const ClientError& e) {
            error = e;
        }
        try {
            auto list = co_await client->messages();
        } catch (const ClientError& e) {
            after = e;   // the session is broken: nothing more goes over it (and no QUIT commits)
        }
    };
    run_client(io, body);
    ASSERT_TRUE(error.has_value());
    EXPECT_FALSE(error->auth());
    EXPECT_LT(got.data.size(), 70u * 1024);
    ASSERT_TRUE(after.has_value());
}

TEST(Pop3ClientScripted, ServerThatStopsMidRetrTimesOut) {
    asio::io_context io;
    ScriptedServer server(io);
    Step retr{"RETR 1", "", true};
    server.start(kGreeting, logged_in({retr}));
    std::optional<ClientError> error;
    std::chrono::steady_clock::duration took{};
    auto body = [&]() -> awaitable<void> {
        ClientOptions o = anna(TlsMode::none);
        o.timeout = 1s;
        auto client = co_await Client::connect(eps(server.port()), o);
        auto start = std::chrono::steady_clock::now();
        try {
            Collect got;
            auto sink = got.sink();
            co_await client->retrieve(1, sink);
        } catch (const ClientError& e) {
            error = e;
        }
        took = std::chrono::steady_clock::now() - start;
    };
    run_client(io, body);
    ASSERT_TRUE(error.has_value());
    EXPECT_NE(std::string(error->what()).find("timed out"), std::string::npos) << error->what();
    EXPECT_LT(took, 5s);
}

TEST(Pop3ClientScripted, ListingsThatDoNotMatchAreRefused) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"+OK\r\n1 10\r\n2 20\r\n.\r\n", "+OK\r\n1 same\r\n2 same\r\n.\r\n"},    // one uid for two messages
        {"+OK\r\n1 10\r\n2 20\r\n.\r\n", "+OK\r\n1 a\r\n.\r\n"},                 // a message without uid
        {"+OK\r\n1 10\r\n2 20\r\n.\r\n", "+OK\r\n1 a\r\n3 b\r\n.\r\n"},          // different numbers
        {"+OK\r\n1 10\r\n1 20\r\n.\r\n", "+OK\r\n1 a\r\n1 b\r\n.\r\n"},          // a number twice
        {"+OK\r\n1 10\r\n.\r\n", "+OK\r\n1 has space\r\n.\r\n"},                 // not a uid
        {"+OK\r\n1 ten\r\n.\r\n", "+OK\r\n1 a\r\n.\r\n"},                        // not a size
        {"+OK\r\n1 10\n.\r\n", "+OK\r\n.\r\n"},                                   // bare LF in a listing
    };
    for (const auto& [list, uidl] : cases) {
        SCOPED_TRACE(list + uidl);
        asio::io_context io;
        ScriptedServer server(io);
        server.start(kGreeting, logged_in({{"LIST", list}, {"UIDL", uidl}}));
        std::optional<ClientError> error;
        auto body = [&]() -> awaitable<void> {
            auto client = co_await Client::connect(eps(server.port()), anna(TlsMode::none));
            try {
                auto l = co_await client->messages();
            } catch (const ClientError& e) {
                error = e;
            }
        };
        run_client(io, body);
        ASSERT_TRUE(error.has_value());
        EXPECT_FALSE(error->auth());
    }
}

TEST(Pop3ClientScripted, QuitMustBeAnsweredOk) {
    asio::io_context io;
    ScriptedServer server(io);
    server.start(kGreeting, logged_in({{"DELE 1", "+OK\r\n"}, {"QUIT", "-ERR some deleted messages not removed\r\n"}}));
    std::optional<ClientError> error;
    auto body = [&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(server.port()), anna(TlsMode::none));
        co_await client->remove(1);
        try {
            co_await client->quit();
        } catch (const ClientError& e) {
            error = e;
        }
    };
    run_client(io, body);
    ASSERT_TRUE(error.has_value());
    EXPECT_NE(std::string(error->what()).find("not committed"), std::string::npos) << error->what();
}

TEST(Pop3ClientScripted, RunsOnAConnectionItDidNotOpen) {
    asio::io_context io;
    ScriptedServer server(io);
    server.start(kGreeting, logged_in({{"LIST", "+OK\r\n.\r\n"}, {"UIDL", "+OK\r\n.\r\n"}, {"QUIT", "+OK\r\n"}}));
    std::vector<MessageInfo> list{MessageInfo{}};
    std::string peer;
    auto body = [&]() -> awaitable<void> {
        tcp::socket s(io);
        co_await s.async_connect(loopback(server.port()), asio::use_awaitable);
        auto client = co_await Client::start(std::make_unique<Connection>(std::move(s)), anna(TlsMode::none));
        peer = client->peer();
        list = co_await client->messages();
        co_await client->quit();
    };
    run_client(io, body);
    EXPECT_TRUE(list.empty());
    EXPECT_NE(peer.find(fmt::format("[127.0.0.1]:{}", server.port())), std::string::npos) << peer;
    EXPECT_TRUE(server.transcript.finished);
}

}  // namespace
}  // namespace mk::pop3
