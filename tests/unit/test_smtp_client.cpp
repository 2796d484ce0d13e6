// tests/unit/test_smtp_client.cpp — the SMTP/LMTP client against real peers: Postfix's smtp-sink
// (what it received, byte for byte) and, for what smtp-sink cannot do (per-recipient refusals,
// STARTTLS, AUTH, SIZE limits, broken servers), a scripted in-test server over loopback.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "core/base64.hpp"
#include "net/connection.hpp"
#include "net/tls.hpp"
#include "smtp/client.hpp"
#include "smtp/command.hpp"
#include "temp_dir.hpp"

extern char** environ;

namespace mk::smtp {
namespace {

namespace fs = std::filesystem;
namespace ssl = boost::asio::ssl;
using namespace std::chrono_literals;

constexpr const char* kSmtpSink = "/usr/sbin/smtp-sink";

using test::TempDir;

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

std::string crlf_to_lf(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
        out += s[i];
    }
    return out;
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// free_port - a loopback port nobody listens on right now (bind to 0, read it, close).
std::uint16_t free_port() {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

tcp::endpoint loopback(std::uint16_t port) { return tcp::endpoint(asio::ip::make_address("127.0.0.1"), port); }

// eps - the endpoint list for Client::connect. XXX g++ 12 miscompiles a braced list inside a
// coroutine ("array used as initializer"), so the list is built outside it.
template <class... E>
std::vector<tcp::endpoint> eps(E... e) {
    return {e...};
}

// run_client - run body() on io until it finishes (and every session with it), bounded in time;
// rethrows what body threw.
template <class F>
void run_client(asio::io_context& io, F& body, std::function<void()> on_done = {}) {
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io, body(), [&](std::exception_ptr e) {
        error = e;
        done = true;
        if (on_done) on_done();
    });
    io.run_for(60s);
    ASSERT_TRUE(done) << "client did not finish in time";
    if (error) std::rethrow_exception(error);
}

// The messages: a Return-Path the client must skip, a From: to rewrite, lines that need
// dot-stuffing (a lone "." among them), and more than one 64 KiB chunk of body.
constexpr std::string_view kReturnPath = "Return-Path: <anna@home.arpa>\r\n";

std::string message_one_body() {
    std::string m =
        "From: Anna <anna@home.arpa>\r\n"
        "To: b@example.net, c@example.net, d@example.net\r\n"
        "Subject: one\r\n"
        "\r\n"
        ".leading dot\r\n"
        "..two dots\r\n"
        "From: anna@home.arpa in the body stays as it is\r\n"
        ".\r\n"
        "\r\n";
    for (int i = 0; i < 3000; ++i)
        m += fmt::format("{}line {} of the body, long enough to cross a few chunk boundaries\r\n", i % 7 == 0 ? "." : "", i);
    m += "end\r\n";
    return m;
}

std::string message_two_body() {
    return "From: someone@home.arpa\r\nSubject: two\r\n\r\nshort\r\n.\r\nlast line without CRLF";
}

// rewritten - what the server must receive for message one (From: rewritten in the header only).
std::string rewritten_one() {
    std::string m = message_one_body();
    m.replace(m.find("anna@home.arpa"), std::string_view("anna@home.arpa").size(), "anna.schmidt@provider.example");
    return m;
}

OutboundMessage make_message(const fs::path& file, std::string_view body, std::vector<std::string> rcpts) {
    spit(file, std::string(kReturnPath) + std::string(body));
    OutboundMessage m;
    m.sender = "anna.schmidt@provider.example";
    m.file = file;
    m.skip = kReturnPath.size();
    for (auto& r : rcpts) m.recipients.push_back(OutboundRecipient{r, 0, ""});
    return m;
}

ClientOptions plain_options() {
    ClientOptions o;
    o.helo = "client.test";
    o.tls = TlsMode::none;
    return o;
}

// ---------------------------------------------------------------------------------------------
// smtp-sink

// SmtpSink - Postfix's smtp-sink on a loopback port, dumping each transaction into dir; stopped
// (SIGTERM, then reaped) whatever the test does.
class SmtpSink {
public:
    SmtpSink(const fs::path& dir, std::vector<std::string> options) : port_(free_port()) {
        std::vector<std::string> args{kSmtpSink};
        for (auto& o : options) args.push_back(o);
        if (::geteuid() == 0) {
            // smtp-sink refuses to run as root; nobody must be able to write the dumps.
            args.push_back("-u");
            args.push_back("nobody");
            fs::permissions(dir, fs::perms::all);
            fs::permissions(dir.parent_path(), fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
        }
        args.push_back("-d");
        args.push_back((dir / "%M.").string());
        args.push_back(fmt::format("127.0.0.1:{}", port_));
        args.push_back("10");
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (::posix_spawn(&pid_, kSmtpSink, nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
        // Wait, bounded, until it accepts.
        for (int i = 0; i < 200 && pid_ > 0; ++i) {
            asio::io_context io;
            tcp::socket s(io);
            boost::system::error_code ec;
            s.connect(loopback(port_), ec);
            if (!ec) {
                ready_ = true;
                break;
            }
            std::this_thread::sleep_for(25ms);
        }
    }
    ~SmtpSink() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    bool ready() const { return ready_; }
    std::uint16_t port() const { return port_; }

private:
    std::uint16_t port_;
    pid_t pid_ = -1;
    bool ready_ = false;
};

// A transaction as smtp-sink dumped it: its X- records and the message (LF lines, unstuffed).
struct Dump {
    std::string mail_args;
    std::vector<std::string> rcpt_args;
    std::string message;
};

// read_dumps - every dump file in dir, once their number reaches want (bounded wait).
std::vector<Dump> read_dumps(const fs::path& dir, std::size_t want) {
    std::vector<fs::path> files;
    for (int i = 0; i < 200; ++i) {
        files.clear();
        for (auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
        if (files.size() >= want) break;
        std::this_thread::sleep_for(25ms);
    }
    std::vector<Dump> dumps;
    for (auto& f : files) {
        std::string text = slurp(f);
        Dump d;
        std::size_t pos = 0;
        bool in_received = false;
        while (pos < text.size()) {
            std::size_t nl = text.find('\n', pos);
            std::string line = text.substr(pos, nl - pos);
            bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
            if (line.rfind("X-Mail-Args: ", 0) == 0) d.mail_args = line.substr(13);
            else if (line.rfind("X-Rcpt-Args: ", 0) == 0) d.rcpt_args.push_back(line.substr(13));
            else if (line.rfind("Received: ", 0) == 0) in_received = true;
            else if (line.rfind("X-", 0) == 0) {
            } else if (!(in_received && continuation)) break;
            pos = nl + 1;
        }
        d.message = text.substr(pos);
        dumps.push_back(std::move(d));
    }
    return dumps;
}

TEST(SmtpClientSink, TwoMessagesOverOneConnectionArriveByteForByte) {
    ASSERT_TRUE(fs::exists(kSmtpSink)) << "Postfix's smtp-sink is needed";
    TempDir t;
    fs::create_directory(t.path / "dump");
    SmtpSink sink(t.path / "dump", {});
    ASSERT_TRUE(sink.ready());

    OutboundMessage one = make_message(t.path / "one.eml", message_one_body(), {"b@example.net", "c@example.net", "d@example.net"});
    one.from_rewrite_old = "anna@home.arpa";
    one.from_rewrite_new = "anna.schmidt@provider.example";
    one.recipients[0].notify = kNotifySuccess | kNotifyFailure;
    one.recipients[0].orcpt = "rfc822;b@example.net";
    one.ret = "HDRS";
    one.envid = "QQ123";
    one.body_8bit = true;
    OutboundMessage two = make_message(t.path / "two.eml", message_two_body(), {"e@example.net"});

    asio::io_context io;
    SendResult r1, r2;
    std::string extensions_seen;
    auto body = [&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(loopback(sink.port())), plain_options());
        EXPECT_TRUE(client->extensions().pipelining);
        EXPECT_TRUE(client->extensions().dsn);
        EXPECT_EQ(client->max_size(), 0u);   // smtp-sink announces no SIZE
        EXPECT_TRUE(contains(client->peer(), fmt::format("[127.0.0.1]:{}", sink.port()))) << client->peer();
        r1 = co_await client->send(one);
        r2 = co_await client->send(two);
        co_await client->quit();
    };
    run_client(io, body);

    ASSERT_EQ(r1.recipients.size(), 3u);
    for (auto& r : r1.recipients) EXPECT_TRUE(r.ok()) << r.text;
    EXPECT_TRUE(r1.message.ok()) << r1.message.text;
    ASSERT_EQ(r2.recipients.size(), 1u);
    EXPECT_TRUE(r2.recipients[0].ok()) << r2.recipients[0].text;

    auto dumps = read_dumps(t.path / "dump", 2);
    ASSERT_EQ(dumps.size(), 2u);
    if (!contains(dumps[0].message, "Subject: one")) std::swap(dumps[0], dumps[1]);
    // smtp-sink writes LF lines, dot-unstuffed, and one empty line after the message.
    EXPECT_EQ(dumps[0].message, crlf_to_lf(rewritten_one()) + "\n");
    EXPECT_EQ(dumps[1].message, crlf_to_lf(message_two_body()) + "\n\n");   // the missing line end was added
    EXPECT_EQ(dumps[0].mail_args, "<anna.schmidt@provider.example> BODY=8BITMIME RET=HDRS ENVID=QQ123");
    ASSERT_EQ(dumps[0].rcpt_args.size(), 3u);
    EXPECT_EQ(dumps[0].rcpt_args[0], "<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.net");
    EXPECT_EQ(dumps[0].rcpt_args[1], "<c@example.net>");
    EXPECT_EQ(dumps[0].rcpt_args[2], "<d@example.net>");
    EXPECT_EQ(dumps[1].mail_args, "<anna.schmidt@provider.example>");
}

TEST(SmtpClientSink, LmtpGivesOneReplyPerRecipient) {
    ASSERT_TRUE(fs::exists(kSmtpSink));
    TempDir t;
    fs::create_directory(t.path / "dump");
    SmtpSink sink(t.path / "dump", {"-L"});
    ASSERT_TRUE(sink.ready());
    OutboundMessage one = make_message(t.path / "one.eml", message_one_body(), {"b@x.test", "c@x.test", "d@x.test"});

    asio::io_context io;
    SendResult r;
    auto body = [&]() -> awaitable<void> {
        ClientOptions o = plain_options();
        o.lmtp = true;
        auto client = co_await Client::connect(eps(loopback(sink.port())), o);
        r = co_await client->send(one);
        co_await client->quit();
    };
    run_client(io, body);
    ASSERT_EQ(r.recipients.size(), 3u);
    for (auto& x : r.recipients) EXPECT_EQ(x.code, 250) << x.text;
    auto dumps = read_dumps(t.path / "dump", 1);
    ASSERT_EQ(dumps.size(), 1u);
    EXPECT_EQ(dumps[0].message, crlf_to_lf(message_one_body()) + "\n");
}

TEST(SmtpClientSink, RefusedRecipientsSendNoDataAndTheConnectionCarriesOn) {
    ASSERT_TRUE(fs::exists(kSmtpSink));
    // smtp-sink refuses every RCPT (-f: 5xx, -r: 4xx); both imply no PIPELINING.
    struct Case {
        std::string option;
        int code;
        bool permanent;
    };
    for (const Case& c : {Case{"-f", 500, true}, Case{"-r", 450, false}}) {
        SCOPED_TRACE(c.option);
        TempDir t;
        fs::create_directory(t.path / "dump");
        SmtpSink sink(t.path / "dump", {c.option, "RCPT"});
        ASSERT_TRUE(sink.ready());
        OutboundMessage one = make_message(t.path / "one.eml", message_one_body(), {"b@x.test", "c@x.test"});

        asio::io_context io;
        SendResult r1, r2;
        bool pipelining = true;
        auto body = [&]() -> awaitable<void> {
            auto client = co_await Client::connect(eps(loopback(sink.port())), plain_options());
            pipelining = client->extensions().pipelining;
            r1 = co_await client->send(one);
            r2 = co_await client->send(one);   // RSET made the connection fit for the next message
            co_await client->quit();
        };
        run_client(io, body);
        EXPECT_FALSE(pipelining);
        for (const SendResult* r : {&r1, &r2}) {
            ASSERT_EQ(r->recipients.size(), 2u);
            for (auto& x : r->recipients) {
                EXPECT_EQ(x.code, c.code) << x.text;
                EXPECT_EQ(x.permanent(), c.permanent);
            }
            EXPECT_FALSE(r->message.ok());
        }
        std::this_thread::sleep_for(100ms);
        EXPECT_TRUE(fs::is_empty(t.path / "dump"));   // no transaction reached DATA
    }
}

// ---------------------------------------------------------------------------------------------
// The scripted server: a small SMTP/LMTP server over mk::Connection, doing what a test asks.

struct FakeScript {
    std::string greeting = "220 fake.test ESMTP";
    std::vector<std::string> ehlo{"fake.test", "PIPELINING", "SIZE 10000000", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN"};
    bool refuse_ehlo = false;                      // 502: the client must fall back to HELO
    std::string raw_ehlo_reply;                    // written instead of the EHLO reply when set
    std::shared_ptr<ssl::context> tls;
    bool offer_starttls = false;
    bool inject_after_starttls = false;            // a reply smuggled behind the 220
    bool close_after_starttls = false;             // no TLS after the 220: the handshake fails
    bool implicit_tls = false;
    std::string auth;                              // mechanisms for the AUTH line; empty = no AUTH
    std::string user = "anna", password = "s3cret";
    std::vector<std::string> tokens;               // bearer tokens accepted
    std::map<std::string, std::string> rcpt;       // address -> its RCPT reply (default 250)
    std::map<std::string, std::string> after_dot;  // LMTP: address -> its reply ("CLOSE": hang up)
    std::string final_reply = "250 2.0.0 queued";
    bool lmtp = false;
};

struct FakeLog {
    std::vector<std::string> commands;   // every line the client sent outside DATA
    std::vector<std::string> messages;   // DATA contents, unstuffed, CRLF
    int connections = 0;
    bool pipelined = false;              // RCPT lines were already buffered when MAIL arrived
    bool tls_at_auth = false;
};

std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string multiline(int code, const std::vector<std::string>& lines) {
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i)
        out += fmt::format("{}{}{}\r\n", code, i + 1 == lines.size() ? ' ' : '-', lines[i]);
    return out;
}

// read_logged - the next line from the client, recorded.
awaitable<std::string> read_logged(Connection& c, FakeLog& log) {
    LineResult lr = co_await c.read_line(20000, 10s);
    std::string s(lr.line);
    log.commands.push_back(s);
    co_return s;
}

// fake_auth - one AUTH exchange; returns the final reply line.
awaitable<std::string> fake_auth(Connection& c, const FakeScript& sc, FakeLog& log, const std::string& line) {
    // "AUTH mech [initial]"
    std::string rest = line.substr(5);
    std::string mech = upper(rest.substr(0, rest.find(' ')));
    std::string initial = rest.find(' ') == std::string::npos ? "" : rest.substr(rest.find(' ') + 1);
    if (mech == "PLAIN") {
        if (initial.empty()) {
            co_await c.write("334 \r\n", 10s);
            initial = co_await read_logged(c, log);
        }
        auto d = base64_decode(initial);
        bool ok = d && *d == std::string(1, '\0') + sc.user + '\0' + sc.password;
        co_return ok ? "235 2.7.0 ok" : "535 5.7.8 bad credentials";
    }
    if (mech == "LOGIN") {
        co_await c.write("334 VXNlcm5hbWU6\r\n", 10s);
        std::string u = co_await read_logged(c, log);
        co_await c.write("334 UGFzc3dvcmQ6\r\n", 10s);
        std::string p = co_await read_logged(c, log);
        bool ok = base64_decode(u).value_or("") == sc.user && base64_decode(p).value_or("") == sc.password;
        co_return ok ? "235 2.7.0 ok" : "535 5.7.8 bad credentials";
    }
    if (mech == "XOAUTH2" || mech == "OAUTHBEARER") {
        std::string d = base64_decode(initial).value_or("");
        std::size_t at = d.find("auth=Bearer ");
        std::string token = at == std::string::npos ? "" : d.substr(at + 12, d.find('\x01', at) - at - 12);
        if (std::find(sc.tokens.begin(), sc.tokens.end(), token) != sc.tokens.end()) co_return "235 2.7.0 ok";
        co_await c.write("334 " + base64_encode(R"({"status":"invalid_token"})") + "\r\n", 10s);
        std::string ignored = co_await read_logged(c, log);
        co_return "535 5.7.8 token expired";
    }
    co_return "504 5.5.4 unknown mechanism";
}

awaitable<void> fake_session(tcp::socket s, const FakeScript& sc, FakeLog& log) {
    Connection c(std::move(s));
    if (sc.implicit_tls) co_await c.start_tls(*sc.tls, 10s);
    co_await c.write(sc.greeting + "\r\n", 10s);
    std::vector<std::string> accepted;
    for (;;) {
        LineResult lr = co_await c.read_line(20000, 10s);
        if (lr.status != ReadStatus::ok) co_return;
        std::string line(lr.line);
        log.commands.push_back(line);
        std::string verb = upper(line.substr(0, line.find(' ')));
        std::string reply;
        if (verb == "EHLO" || verb == "LHLO") {
            if (!sc.raw_ehlo_reply.empty()) {
                co_await c.write(sc.raw_ehlo_reply, 10s);
                continue;
            }
            if (sc.refuse_ehlo) {
                reply = "502 5.5.2 no EHLO here";
            } else {
                auto lines = sc.ehlo;
                if (sc.offer_starttls && !c.tls()) lines.push_back("STARTTLS");
                if (!sc.auth.empty()) lines.push_back("AUTH " + sc.auth);
                co_await c.write(multiline(250, lines), 10s);
                continue;
            }
        } else if (verb == "HELO") {
            reply = "250 fake.test";
        } else if (verb == "STARTTLS") {
            std::string go = sc.inject_after_starttls ? "220 2.0.0 go\r\n250 2.0.0 injected\r\n" : "220 2.0.0 go\r\n";
            co_await c.write(go, 10s);
            if (sc.close_after_starttls) co_return;   // a broken TLS stack hangs up on the ClientHello
            co_await c.start_tls(*sc.tls, 10s);
            continue;
        } else if (verb == "AUTH") {
            log.tls_at_auth = c.tls();
            reply = co_await fake_auth(c, sc, log, line);
        } else if (verb == "MAIL") {
            log.pipelined = c.buffered() > 0;
            accepted.clear();
            reply = "250 2.1.0 ok";
        } else if (verb == "RCPT") {
            std::string addr = line.substr(line.find('<') + 1, line.find('>') - line.find('<') - 1);
            reply = sc.rcpt.count(addr) ? sc.rcpt.at(addr) : "250 2.1.5 ok";
            if (reply[0] == '2') accepted.push_back(addr);
            if (reply.rfind("421", 0) == 0) {
                co_await c.write(reply + "\r\n", 10s);
                co_return;
            }
        } else if (verb == "DATA") {
            if (accepted.empty()) {
                reply = "554 5.5.1 no valid recipients";
            } else {
                co_await c.write("354 go ahead\r\n", 10s);
                std::string msg;
                for (;;) {
                    LineResult d = co_await c.read_line(20000, 10s);
                    if (d.status != ReadStatus::ok) co_return;
                    if (d.line == ".") break;
                    std::string_view l = d.line;
                    if (!l.empty() && l[0] == '.') l.remove_prefix(1);
                    msg.append(l);
                    msg += "\r\n";
                }
                log.messages.push_back(msg);
                if (!sc.lmtp) {
                    reply = sc.final_reply;
                } else {
                    std::string replies;
                    for (auto& a : accepted) {
                        std::string r = sc.after_dot.count(a) ? sc.after_dot.at(a) : "250 2.0.0 delivered to " + a;
                        if (r == "CLOSE") {
                            co_await c.write(replies, 10s);
                            co_return;
                        }
                        replies += r + "\r\n";
                    }
                    co_await c.write(replies, 10s);
                    continue;
                }
            }
        } else if (verb == "RSET") {
            accepted.clear();
            reply = "250 2.0.0 ok";
        } else if (verb == "QUIT") {
            co_await c.write("221 2.0.0 bye\r\n", 10s);
            co_return;
        } else {
            reply = "502 5.5.2 unknown command";
        }
        co_await c.write(reply + "\r\n", 10s);
    }
}

awaitable<void> fake_server(tcp::acceptor& acceptor, const FakeScript& sc, FakeLog& log) {
    for (;;) {
        boost::system::error_code ec;
        tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        ++log.connections;
        // A session that fails (a client hanging up mid-handshake) just ends.
        asio::co_spawn(acceptor.get_executor(), fake_session(std::move(s), sc, log), asio::detached);
    }
}

// Fake - the scripted server on a loopback port; run() drives one client body against it.
struct Fake {
    asio::io_context io;
    tcp::acceptor acceptor{io, loopback(0)};
    FakeScript script;
    FakeLog log;

    tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }
    template <class F>
    void run(F body) {
        asio::co_spawn(io, fake_server(acceptor, script, log), asio::detached);
        run_client(io, body, [this] {
            boost::system::error_code ec;
            acceptor.close(ec);
        });
    }
    bool sent(std::string_view prefix) const {
        return std::any_of(log.commands.begin(), log.commands.end(),
                           [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
    }
};

// ClientErrorOf - the ClientError that run threw (fails the test if it threw none).
template <class F>
std::optional<ClientError> client_error_of(F&& run) {
    try {
        run();
    } catch (const ClientError& e) {
        return e;
    }
    ADD_FAILURE() << "no ClientError";
    return std::nullopt;
}

// connect_error - the ClientError that connecting to f with options o throws.
std::optional<ClientError> connect_error(Fake& f, const ClientOptions& o) {
    return client_error_of([&] {
        f.run([&]() -> awaitable<void> { auto client = co_await Client::connect(eps(f.endpoint()), o); });
    });
}

// A self-signed certificate for "localhost", made by openssl req once per run.
struct TestCert {
    TempDir dir;
    fs::path cert, key;
    TestCert() : cert(dir.path / "cert.pem"), key(dir.path / "key.pem") {
        std::string cmd = fmt::format(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost "
            "-addext subjectAltName=DNS:localhost -keyout {} -out {} 2>/dev/null",
            key.string(), cert.string());
        EXPECT_EQ(std::system(cmd.c_str()), 0);
    }
    std::shared_ptr<ssl::context> server_context() const {
        auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
        ctx->use_certificate_chain_file(cert.string());
        ctx->use_private_key_file(key.string(), ssl::context::pem);
        return ctx;
    }
};

const TestCert& test_cert() {
    static TestCert c;
    return c;
}

ClientOptions tls_options() {
    ClientOptions o;
    o.helo = "client.test";
    o.tls = TlsMode::starttls;
    o.ca_file = test_cert().cert;
    o.server_name = "localhost";
    o.username = "anna";
    o.password = [] { return std::string("s3cret"); };
    return o;
}

TEST(SmtpClientFake, OneRefusedRecipientOfThreeAndPipelining) {
    TempDir t;
    Fake f;
    f.script.rcpt["c@x.test"] = "550 5.1.1 no such user";
    OutboundMessage m = make_message(t.path / "m.eml", message_one_body(), {"b@x.test", "c@x.test", "d@x.test"});
    SendResult r, again;
    f.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
        r = co_await client->send(m);
        again = co_await client->send(m);
        co_await client->quit();
    });
    ASSERT_EQ(r.recipients.size(), 3u);
    EXPECT_EQ(r.recipients[0].text, "250 2.0.0 queued");
    EXPECT_EQ(r.recipients[1].text, "550 5.1.1 no such user");
    EXPECT_TRUE(r.recipients[1].permanent());
    EXPECT_EQ(r.recipients[2].code, 250);
    EXPECT_EQ(r.message.code, 250);
    EXPECT_TRUE(f.log.pipelined);   // MAIL, RCPTs and DATA came in one write (RFC 2920)
    ASSERT_EQ(f.log.messages.size(), 2u);
    EXPECT_EQ(f.log.messages[0], message_one_body());
    EXPECT_EQ(again.recipients[2].code, 250);
    std::string size = fmt::format("MAIL FROM:<anna.schmidt@provider.example> SIZE={}", message_one_body().size());
    EXPECT_TRUE(f.sent(size)) << size;
    EXPECT_FALSE(f.sent("RSET"));   // nothing failed
    EXPECT_TRUE(f.sent("QUIT"));
}

TEST(SmtpClientFake, ReplyTextLosesControlCharacters) {
    // The text goes into logs and into DSNs for our users: a terminal escape stays out of both.
    TempDir t;
    Fake f;
    f.script.rcpt["b@x.test"] = "550 5.1.1 no\x1b[31m such\x7fuser\x01";
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test"});
    SendResult r;
    f.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
        r = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_EQ(r.recipients[0].text, "550 5.1.1 no [31m such user ");
}

TEST(SmtpClientFake, NoRecipientAcceptedMeansNoDataThenRset) {
    for (bool pipelining : {true, false}) {
        SCOPED_TRACE(pipelining);
        TempDir t;
        Fake f;
        if (!pipelining) f.script.ehlo = {"fake.test", "SIZE 10000000"};
        f.script.rcpt["b@x.test"] = "550 5.1.1 no such user";
        f.script.rcpt["c@x.test"] = "450 4.2.1 try later";
        OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test", "c@x.test"});
        SendResult r, next;
        f.run([&]() -> awaitable<void> {
            auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
            r = co_await client->send(m);
            m.recipients.push_back(OutboundRecipient{"ok@x.test", 0, ""});
            next = co_await client->send(m);
            co_await client->quit();
        });
        EXPECT_EQ(r.recipients[0].code, 550);
        EXPECT_EQ(r.recipients[1].code, 450);
        EXPECT_FALSE(r.message.ok());
        EXPECT_TRUE(f.sent("RSET"));
        // Pipelined, DATA goes out with the RCPTs and is refused by the server; else never sent.
        // (The next message's DATA is the other one.)
        EXPECT_EQ(std::count(f.log.commands.begin(), f.log.commands.end(), "DATA"), pipelining ? 2 : 1);
        EXPECT_EQ(f.log.pipelined, pipelining);
        ASSERT_EQ(f.log.messages.size(), 1u);    // only the next message got through
        EXPECT_EQ(f.log.messages[0], message_two_body() + "\r\n");
        EXPECT_EQ(next.recipients[2].code, 250);
    }
}

TEST(SmtpClientFake, SizeLimitRefusedBeforeMail) {
    TempDir t;
    Fake f;
    f.script.ehlo = {"fake.test", "PIPELINING", "SIZE 100"};
    OutboundMessage m = make_message(t.path / "m.eml", message_one_body(), {"b@x.test", "c@x.test"});
    SendResult r;
    std::uint64_t limit = 0;
    f.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
        limit = client->max_size();
        r = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_EQ(limit, 100u);
    EXPECT_EQ(r.message.code, 552);
    EXPECT_TRUE(contains(r.message.text, "552 5.3.4")) << r.message.text;
    for (auto& x : r.recipients) EXPECT_EQ(x.code, 552);
    EXPECT_FALSE(f.sent("MAIL"));
}

TEST(SmtpClientFake, SmtpUtf8AndEightBitAndDsnOnlyWhenOffered) {
    TempDir t;
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test"});
    m.smtputf8 = true;
    m.body_8bit = true;
    m.ret = "FULL";
    m.envid = "E1";
    m.recipients[0].notify = kNotifyNever;
    m.recipients[0].orcpt = "rfc822;b@x.test";
    {
        Fake f;   // no SMTPUTF8: refused locally, 553 5.6.7 (RFC 6531 3.4)
        SendResult r;
        f.run([&]() -> awaitable<void> {
            auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
            r = co_await client->send(m);
            co_await client->quit();
        });
        EXPECT_EQ(r.recipients[0].code, 553);
        EXPECT_TRUE(contains(r.recipients[0].text, "5.6.7"));
        EXPECT_FALSE(f.sent("MAIL"));
    }
    {
        Fake f;
        f.script.ehlo = {"fake.test", "SMTPUTF8", "8BITMIME", "DSN"};
        SendResult r;
        f.run([&]() -> awaitable<void> {
            auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
            r = co_await client->send(m);
            co_await client->quit();
        });
        EXPECT_EQ(r.recipients[0].code, 250);
        EXPECT_TRUE(f.sent("MAIL FROM:<anna.schmidt@provider.example> BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=E1"));
        EXPECT_TRUE(f.sent("RCPT TO:<b@x.test> NOTIFY=NEVER ORCPT=rfc822;b@x.test"));
    }
    {
        Fake f;
        f.script.ehlo = {"fake.test", "SMTPUTF8"};   // no 8BITMIME, no DSN: no parameters for them
        f.run([&]() -> awaitable<void> {
            auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
            SendResult ignored = co_await client->send(m);
            co_await client->quit();
        });
        EXPECT_TRUE(f.sent("MAIL FROM:<anna.schmidt@provider.example> SMTPUTF8"));
        EXPECT_FALSE(f.sent("MAIL FROM:<anna.schmidt@provider.example> SMTPUTF8 "));
        EXPECT_TRUE(f.sent("RCPT TO:<b@x.test>"));
        EXPECT_FALSE(f.sent("RCPT TO:<b@x.test> "));
    }
}

TEST(SmtpClientFake, HeloFallbackWithoutExtensions) {
    TempDir t;
    Fake f;
    f.script.refuse_ehlo = true;
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test", "c@x.test"});
    SendResult r;
    f.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
        r = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_TRUE(f.sent("EHLO client.test"));
    EXPECT_TRUE(f.sent("HELO client.test"));
    EXPECT_TRUE(f.sent("MAIL FROM:<anna.schmidt@provider.example>"));
    EXPECT_FALSE(f.sent("MAIL FROM:<anna.schmidt@provider.example> "));   // no SIZE without EHLO
    EXPECT_FALSE(f.log.pipelined);
    EXPECT_EQ(r.recipients[1].code, 250);
}

TEST(SmtpClientFake, LmtpPerRecipientRepliesAndNoHeloFallback) {
    TempDir t;
    OutboundMessage m = make_message(t.path / "m.eml", message_one_body(), {"a@x.test", "b@x.test", "c@x.test"});
    {
        Fake f;
        f.script.lmtp = true;
        f.script.rcpt["b@x.test"] = "550 5.1.1 no such user";
        f.script.after_dot["c@x.test"] = "452 4.2.2 mailbox full";
        SendResult r;
        f.run([&]() -> awaitable<void> {
            ClientOptions o = plain_options();
            o.lmtp = true;
            auto client = co_await Client::connect(eps(f.endpoint()), o);
            r = co_await client->send(m);
            co_await client->quit();
        });
        EXPECT_TRUE(f.sent("LHLO client.test"));
        EXPECT_EQ(r.recipients[0].text, "250 2.0.0 delivered to a@x.test");
        EXPECT_EQ(r.recipients[1].text, "550 5.1.1 no such user");
        EXPECT_EQ(r.recipients[2].text, "452 4.2.2 mailbox full");
        EXPECT_TRUE(r.message.ok());
    }
    {
        Fake f;   // the server hangs up after the first per-recipient reply
        f.script.lmtp = true;
        f.script.after_dot["c@x.test"] = "CLOSE";
        SendResult r;
        std::optional<ClientError> next_error;
        f.run([&]() -> awaitable<void> {
            ClientOptions o = plain_options();
            o.lmtp = true;
            auto client = co_await Client::connect(eps(f.endpoint()), o);
            r = co_await client->send(m);
            try {
                SendResult ignored = co_await client->send(m);
            } catch (const ClientError& e) {
                next_error = e;
            }
        });
        EXPECT_EQ(r.recipients[0].code, 250);
        EXPECT_EQ(r.recipients[1].code, 250);
        EXPECT_EQ(r.recipients[2].code, 451);   // never answered: retried, not bounced
        EXPECT_TRUE(contains(r.recipients[2].text, "4.4.2")) << r.recipients[2].text;
        EXPECT_EQ(r.message.code, 451);         // never a 250 to fall back on
        ASSERT_TRUE(next_error);
        EXPECT_EQ(next_error->code(), 0);
    }
    {
        Fake f;
        f.script.refuse_ehlo = true;
        auto e = client_error_of([&] {
            f.run([&]() -> awaitable<void> {
                ClientOptions o = plain_options();
                o.lmtp = true;
                auto client = co_await Client::connect(eps(f.endpoint()), o);
            });
        });
        ASSERT_TRUE(e);
        EXPECT_EQ(e->code(), 502);
        EXPECT_FALSE(e->temporary());
        EXPECT_FALSE(f.sent("HELO"));
    }
}

TEST(SmtpClientFake, ServerClosingWith421) {
    TempDir t;
    Fake f;
    f.script.rcpt["c@x.test"] = "421 4.3.2 shutting down";
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test", "c@x.test", "d@x.test"});
    SendResult r;
    std::optional<ClientError> next_error;
    f.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
        r = co_await client->send(m);
        try {
            SendResult ignored = co_await client->send(m);
        } catch (const ClientError& e) {
            next_error = e;
        }
    });
    for (auto& x : r.recipients) EXPECT_EQ(x.code, 421) << x.text;
    EXPECT_TRUE(f.log.messages.empty());
    ASSERT_TRUE(next_error);
    EXPECT_TRUE(next_error->temporary());
}

TEST(SmtpClientFake, StartTlsVerifiedThenAuthPlain) {
    TempDir t;
    Fake f;
    f.script.tls = test_cert().server_context();
    f.script.offer_starttls = true;
    f.script.auth = "LOGIN PLAIN";
    OutboundMessage m = make_message(t.path / "m.eml", message_one_body(), {"b@x.test"});
    m.from_rewrite_old = "anna@home.arpa";
    m.from_rewrite_new = "anna.schmidt@provider.example";
    SendResult r;
    std::string tls;
    f.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(f.endpoint()), tls_options());
        tls = client->tls();
        r = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_TRUE(contains(tls, "TLSv1.")) << tls;
    EXPECT_TRUE(f.log.tls_at_auth);
    ASSERT_GE(f.log.commands.size(), 4u);
    EXPECT_EQ(f.log.commands[0], "EHLO client.test");
    EXPECT_EQ(f.log.commands[1], "STARTTLS");
    EXPECT_EQ(f.log.commands[2], "EHLO client.test");   // RFC 3207 4.2: EHLO again
    EXPECT_EQ(f.log.commands[3], "AUTH PLAIN " + base64_encode(std::string("\0anna\0s3cret", 12)));
    EXPECT_EQ(r.recipients[0].code, 250);
    ASSERT_EQ(f.log.messages.size(), 1u);
    EXPECT_EQ(f.log.messages[0], rewritten_one());
}

TEST(SmtpClientFake, ImplicitTlsWithAuthLogin) {
    TempDir t;
    Fake f;
    f.script.tls = test_cert().server_context();
    f.script.implicit_tls = true;
    f.script.auth = "LOGIN";
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test"});
    SendResult r;
    f.run([&]() -> awaitable<void> {
        ClientOptions o = tls_options();
        o.tls = TlsMode::implicit;
        auto client = co_await Client::connect(eps(f.endpoint()), o);
        r = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_TRUE(f.log.tls_at_auth);
    EXPECT_TRUE(f.sent("AUTH LOGIN"));
    EXPECT_FALSE(f.sent("STARTTLS"));
    EXPECT_EQ(r.recipients[0].code, 250);
}

TEST(SmtpClientFake, CertificateProblemsAreTemporaryPolicyErrors) {
    struct Case {
        std::string name;
        std::string server_name;
        bool system_store;
        std::string message_part;
    };
    const std::vector<Case> cases = {
        {"wrong host name", "mail.example.net", false, "hostname mismatch"},
        {"CA not trusted", "localhost", true, "self-signed certificate"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Fake f;
        f.script.tls = test_cert().server_context();
        f.script.offer_starttls = true;
        f.script.auth = "PLAIN";
        auto e = client_error_of([&] {
            f.run([&]() -> awaitable<void> {
                ClientOptions o = tls_options();
                o.server_name = c.server_name;
                if (c.system_store) o.ca_file.clear();
                auto client = co_await Client::connect(eps(f.endpoint()), o);
            });
        });
        ASSERT_TRUE(e);
        EXPECT_EQ(e->code(), 0);
        EXPECT_TRUE(e->temporary());
        EXPECT_EQ(e->cause(), Cause::policy);   // the peer answered: not a line gone down
        EXPECT_TRUE(contains(e->what(), c.message_part)) << e->what();
        EXPECT_FALSE(f.sent("AUTH"));
    }
    {
        // Verification off (opportunistic direct delivery): the same certificate is accepted.
        Fake f;
        f.script.tls = test_cert().server_context();
        f.script.offer_starttls = true;
        f.run([&]() -> awaitable<void> {
            ClientOptions o = plain_options();
            o.tls = TlsMode::starttls;
            o.tls_verify = false;
            o.server_name = "mx.example.net";
            auto client = co_await Client::connect(eps(f.endpoint()), o);
            EXPECT_FALSE(client->tls().empty());
            co_await client->quit();
        });
    }
}

TEST(SmtpClientFake, StartTlsNotOfferedOrInjected) {
    {
        Fake f;   // required: a temporary failure, no AUTH attempted
        f.script.auth = "PLAIN";
        auto e = connect_error(f, tls_options());
        ASSERT_TRUE(e);
        EXPECT_TRUE(e->temporary());
        EXPECT_TRUE(contains(e->what(), "STARTTLS required")) << e->what();
        EXPECT_FALSE(f.sent("AUTH"));
    }
    {
        Fake f;   // opportunistic: plaintext goes on, but never the password
        f.script.auth = "PLAIN";
        auto e = client_error_of([&] {
            f.run([&]() -> awaitable<void> {
                ClientOptions o = tls_options();
                o.tls_required = false;
                auto client = co_await Client::connect(eps(f.endpoint()), o);
            });
        });
        ASSERT_TRUE(e);
        EXPECT_TRUE(contains(e->what(), "refusing AUTH without TLS")) << e->what();
        EXPECT_FALSE(f.sent("AUTH"));
    }
    {
        Fake f;   // opportunistic without AUTH: delivers in plaintext
        TempDir t;
        OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test"});
        SendResult r;
        f.run([&]() -> awaitable<void> {
            ClientOptions o = plain_options();
            o.tls = TlsMode::starttls;
            o.tls_required = false;
            auto client = co_await Client::connect(eps(f.endpoint()), o);
            r = co_await client->send(m);
            co_await client->quit();
        });
        EXPECT_EQ(r.recipients[0].code, 250);
    }
    {
        Fake f;   // a reply smuggled behind the 220 to STARTTLS
        f.script.tls = test_cert().server_context();
        f.script.offer_starttls = true;
        f.script.inject_after_starttls = true;
        auto e = connect_error(f, tls_options());
        ASSERT_TRUE(e);
        EXPECT_EQ(e->code(), 0);
        EXPECT_TRUE(contains(e->what(), "injection")) << e->what();
    }
}

TEST(SmtpClientFake, FailedOpportunisticHandshakeFallsBackToPlaintextOnce) {
    TempDir t;
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test"});
    {
        Fake f;   // opportunistic (direct MX): a second connection without STARTTLS delivers
        f.script.tls = test_cert().server_context();
        f.script.offer_starttls = true;
        f.script.close_after_starttls = true;
        SendResult r;
        f.run([&]() -> awaitable<void> {
            ClientOptions o = plain_options();
            o.tls = TlsMode::starttls;
            o.tls_required = false;
            o.tls_verify = false;
            auto client = co_await Client::connect(eps(f.endpoint()), o);
            EXPECT_TRUE(client->tls().empty());
            r = co_await client->send(m);
            co_await client->quit();
        });
        EXPECT_EQ(r.recipients[0].code, 250);
        EXPECT_EQ(f.log.connections, 2);
        EXPECT_EQ(std::count(f.log.commands.begin(), f.log.commands.end(), "STARTTLS"), 1);
        ASSERT_EQ(f.log.messages.size(), 1u);
    }
    {
        Fake f;   // required (a smarthost): no plaintext retry, a policy failure
        f.script.tls = test_cert().server_context();
        f.script.offer_starttls = true;
        f.script.close_after_starttls = true;
        auto e = connect_error(f, tls_options());
        ASSERT_TRUE(e);
        EXPECT_EQ(e->cause(), Cause::policy);
        EXPECT_TRUE(contains(e->what(), "TLS handshake")) << e->what();
        EXPECT_EQ(f.log.connections, 1);
        EXPECT_FALSE(f.sent("MAIL"));
    }
}

TEST(SmtpClientFake, AuthFailureIsPermanentAndNotRetriedElsewhere) {
    Fake f;
    f.script.tls = test_cert().server_context();
    f.script.offer_starttls = true;
    f.script.auth = "PLAIN LOGIN";
    f.script.password = "other";
    auto e = client_error_of([&] {
        f.run([&]() -> awaitable<void> {
            auto client = co_await Client::connect(eps(f.endpoint(), f.endpoint()), tls_options());
        });
    });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), 535);
    EXPECT_FALSE(e->temporary());
    EXPECT_EQ(f.log.connections, 1);
    EXPECT_FALSE(contains(e->what(), "s3cret"));
}

TEST(SmtpClientFake, OAuthTokenRefreshedOnceAfterRefusal) {
    struct Case {
        std::string offered;
        std::string mechanism;
        std::string dummy_response;   // what answers the error challenge
    };
    for (const Case& c : {Case{"XOAUTH2 PLAIN", "XOAUTH2", ""}, Case{"XOAUTH2 OAUTHBEARER", "OAUTHBEARER", "AQ=="}}) {
        SCOPED_TRACE(c.mechanism);
        Fake f;
        f.script.tls = test_cert().server_context();
        f.script.offer_starttls = true;
        f.script.auth = c.offered;
        f.script.tokens = {"fresh-token"};
        std::vector<bool> calls;
        f.run([&]() -> awaitable<void> {
            ClientOptions o = tls_options();
            o.password = nullptr;
            o.oauth_token = [&](bool refresh) {
                calls.push_back(refresh);
                return std::string(refresh ? "fresh-token" : "stale-token");
            };
            auto client = co_await Client::connect(eps(f.endpoint()), o);
            co_await client->quit();
        });
        EXPECT_EQ(calls, (std::vector<bool>{false, true}));
        std::vector<std::string> auth;
        for (std::size_t i = 0; i < f.log.commands.size(); ++i)
            if (f.log.commands[i].rfind("AUTH ", 0) == 0) auth.push_back(f.log.commands[i]);
        ASSERT_EQ(auth.size(), 2u);
        EXPECT_EQ(auth[0].substr(0, 5 + c.mechanism.size()), "AUTH " + c.mechanism);
        std::string first = base64_decode(auth[0].substr(6 + c.mechanism.size())).value_or("");
        std::string want = c.mechanism == "XOAUTH2" ? "user=anna\x01" "auth=Bearer stale-token\x01\x01"
                                                    : "n,a=anna,\x01" "auth=Bearer stale-token\x01\x01";
        EXPECT_EQ(first, want);
        auto it = std::find(f.log.commands.begin(), f.log.commands.end(), auth[0]);
        ASSERT_NE(it + 1, f.log.commands.end());
        EXPECT_EQ(*(it + 1), c.dummy_response);   // RFC 7628 3.2.3 / Google's XOAUTH2
    }
}

TEST(SmtpClientFake, GreetingRefusals) {
    struct Case {
        std::string greeting;
        int code;
        bool temporary;
    };
    for (const Case& c : {Case{"554 5.3.2 not accepting mail", 554, false}, Case{"421 4.3.2 busy", 421, true}}) {
        SCOPED_TRACE(c.greeting);
        Fake f;
        f.script.greeting = c.greeting;
        auto e = connect_error(f, plain_options());
        ASSERT_TRUE(e);
        EXPECT_EQ(e->code(), c.code);
        EXPECT_EQ(e->temporary(), c.temporary);
        EXPECT_TRUE(contains(e->what(), c.greeting)) << e->what();
    }
}

TEST(SmtpClientFake, MalformedRepliesBreakTheSession) {
    std::string long_reply;
    for (int i = 0; i < 101; ++i) long_reply += fmt::format("250-line {}\r\n", i);
    long_reply += "250 end\r\n";
    std::string ok_reply;
    for (int i = 0; i < 99; ++i) ok_reply += fmt::format("250-line {}\r\n", i);
    ok_reply += "250 PIPELINING\r\n";   // 100 lines: the most we take
    struct Case {
        std::string name;
        std::string reply;
        std::string message_part;   // empty: accepted
    };
    const std::vector<Case> cases = {
        {"101 lines", long_reply, "more than 100 lines"},
        {"100 lines", ok_reply, ""},
        {"over-long line", "250 " + std::string(600, 'x') + "\r\n", "over 512 octets"},
        {"line of 512 octets", "250 " + std::string(506, 'x') + "\r\n", ""},
        {"not a code", "2x0 hello\r\n", "malformed"},
        {"mixed codes", "250-a\r\n251 b\r\n", "inconsistent"},
        {"bad separator", "250*a\r\n", "malformed"},
        {"1yz code", "150 hm\r\n", "malformed"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Fake f;
        f.script.raw_ehlo_reply = c.reply;
        bool connected = false;
        std::optional<ClientError> error;
        try {
            f.run([&]() -> awaitable<void> {
                auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
                connected = true;
                co_await client->quit();
            });
        } catch (const ClientError& e) {
            error = e;
        }
        if (c.message_part.empty()) {
            EXPECT_TRUE(connected) << (error ? error->what() : "");
        } else {
            ASSERT_TRUE(error);
            EXPECT_EQ(error->code(), 0);
            EXPECT_TRUE(contains(error->what(), c.message_part)) << error->what();
        }
    }
}

TEST(SmtpClientFake, NextAddressAfterAConnectFailure) {
    TempDir t;
    Fake f;
    const tcp::endpoint server = f.endpoint();
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test"});
    SendResult r;
    std::string peer;
    f.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(loopback(free_port()), server), plain_options());
        peer = client->peer();
        r = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_TRUE(contains(peer, fmt::format(":{}", server.port()))) << peer;
    EXPECT_EQ(r.recipients[0].code, 250);
    EXPECT_EQ(f.log.connections, 1);

    auto e = client_error_of([&] {
        asio::io_context io;
        auto body = [&]() -> awaitable<void> {
            auto client = co_await Client::connect(eps(loopback(free_port())), plain_options());
        };
        run_client(io, body);
    });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), 0);
    EXPECT_TRUE(e->temporary());
    EXPECT_TRUE(contains(e->what(), "connect")) << e->what();
}

TEST(SmtpClientFake, NothingToConnectToOrNoCaFile) {
    struct Case {
        std::string name;
        std::vector<tcp::endpoint> endpoints;
        fs::path ca_file;
        std::string message_part;
        Cause cause;
    };
    const std::vector<Case> cases = {
        {"no endpoints", {}, test_cert().cert, "no address", Cause::network},
        {"missing CA file", {loopback(free_port())}, "/nonexistent/ca.pem", "cannot load CA certificates", Cause::policy},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto e = client_error_of([&] {
            asio::io_context io;
            auto body = [&]() -> awaitable<void> {
                ClientOptions o = tls_options();
                o.ca_file = c.ca_file;
                auto client = co_await Client::connect(c.endpoints, o);
            };
            run_client(io, body);
        });
        ASSERT_TRUE(e);
        EXPECT_EQ(e->code(), 0);
        EXPECT_TRUE(e->temporary());
        EXPECT_EQ(e->cause(), c.cause);
        EXPECT_TRUE(contains(e->what(), c.message_part)) << e->what();
    }
}

TEST(SmtpClientFake, UnreadableQueueFileIsATemporaryLocalFailure) {
    TempDir t;
    Fake f;
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test"});
    m.file = t.path / "missing.eml";
    SendResult r;
    f.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
        r = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_EQ(r.recipients[0].code, 451);
    EXPECT_FALSE(f.sent("MAIL"));
}

// ---------------------------------------------------------------------------------------------
// A connection someone else opened (ODMR: the provider's client runs on the socket the customer
// dialled, RFC 2645 5.3): the test dials and hands the connected socket in.

// dialled - a Connection to the fake, opened by the test rather than by the client.
awaitable<std::unique_ptr<Connection>> dialled(Fake& f) {
    tcp::socket s(f.io);
    co_await s.async_connect(f.endpoint(), asio::use_awaitable);
    co_return std::make_unique<Connection>(std::move(s));
}

TEST(SmtpClientOverAConnection, RunsTheSessionOnASocketItDidNotOpen) {
    TempDir t;
    Fake f;
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test", "c@x.test"});
    SendResult r;
    std::string peer;
    const std::uint16_t port = f.endpoint().port();   // the acceptor is closed after the run
    f.run([&]() -> awaitable<void> {
        std::unique_ptr<Connection> conn = co_await dialled(f);
        auto client = co_await Client::start(std::move(conn), plain_options());
        peer = client->peer();
        r = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_EQ(f.log.connections, 1);
    EXPECT_TRUE(contains(peer, fmt::format("[127.0.0.1]:{}", port))) << peer;
    ASSERT_GE(f.log.commands.size(), 1u);
    EXPECT_EQ(f.log.commands[0], "EHLO client.test");   // after the greeting, as RFC 2645 5.3 has it
    ASSERT_EQ(r.recipients.size(), 2u);
    for (const auto& x : r.recipients) EXPECT_EQ(x.code, 250) << x.text;
    ASSERT_EQ(f.log.messages.size(), 1u);
    EXPECT_TRUE(f.sent("QUIT"));
}

TEST(SmtpClientOverAConnection, TlsAlreadyOnIsKeptWithoutStartTls) {
    // ODMR keeps the TLS of the ATRN session: no STARTTLS on top, and AUTH may go.
    TempDir t;
    Fake f;
    f.script.tls = test_cert().server_context();
    f.script.implicit_tls = true;
    f.script.offer_starttls = true;   // offered only without TLS: must not be asked for
    f.script.auth = "PLAIN";
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test"});
    SendResult r;
    std::string tls;
    f.run([&]() -> awaitable<void> {
        std::unique_ptr<Connection> conn = co_await dialled(f);
        auto ctx = make_client_context(true, test_cert().cert);
        co_await conn->start_tls_client(*ctx, "localhost", 10s);
        ClientOptions o = tls_options();   // STARTTLS mode; the connection is encrypted already
        o.ca_file = "/nonexistent/ca.pem";  // not needed: no context is made for it
        auto client = co_await Client::start(std::move(conn), o);
        tls = client->tls();
        r = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_TRUE(contains(tls, "TLSv1.")) << tls;
    EXPECT_FALSE(f.sent("STARTTLS"));
    EXPECT_TRUE(f.log.tls_at_auth);
    EXPECT_TRUE(f.sent("AUTH PLAIN"));
    EXPECT_EQ(r.recipients[0].code, 250);
}

TEST(SmtpClientOverAConnection, RefusedGreetingIsTheServersReply) {
    Fake f;
    f.script.greeting = "554 5.3.2 not now";
    std::optional<ClientError> e = client_error_of([&] {
        f.run([&]() -> awaitable<void> {
            std::unique_ptr<Connection> conn = co_await dialled(f);
            auto client = co_await Client::start(std::move(conn), plain_options());
        });
    });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->cause(), Cause::reply);
    EXPECT_EQ(e->code(), 554);
    EXPECT_FALSE(e->temporary());
    EXPECT_TRUE(f.log.commands.empty());
}

// ---------------------------------------------------------------------------------------------
// Enhanced status codes (RFC 3463, RFC 2034), typed once in every Result.

TEST(SmtpEnhancedStatus, Table) {
    struct Row {
        int code;
        std::string_view text;
        EnhancedStatus want;
    };
    const std::vector<Row> rows = {
        {550, "5.1.1 no such user", {5, 1, 1}},
        {250, "2.0.0", {2, 0, 0}},
        {451, "4.7.123 greylisted", {4, 7, 123}},
        {552, "5.3.4 message too big", {5, 3, 4}},
        {550, "4.1.1 class disagrees with the reply", {}},   // RFC 3463 2: the class must agree
        {550, "5.1.1000 detail too long", {}},
        {550, "5.1000.1 subject too long", {}},
        {550, "5.1. missing detail", {}},
        {550, "5..1 missing subject", {}},
        {550, "5.1.1x glued", {}},
        {550, "no such user", {}},
        {550, "", {}},
        {354, "3.0.0 start mail input", {}},                 // classes are 2, 4 and 5 only
    };
    for (const Row& r : rows) {
        SCOPED_TRACE(std::string(r.text));
        EnhancedStatus got = parse_enhanced_status(r.code, r.text);
        EXPECT_EQ(got, r.want);
        EXPECT_EQ(static_cast<bool>(got), static_cast<bool>(r.want));
    }
    EXPECT_EQ((EnhancedStatus{4, 7, 123}).str(), "4.7.123");
    EXPECT_EQ(EnhancedStatus{}.str(), "");
}

TEST(SmtpEnhancedStatus, EveryResultCarriesItTyped) {
    TempDir t;
    Fake f;
    f.script.rcpt["b@x.test"] = "550 5.1.1 no such user";
    f.script.rcpt["c@x.test"] = "450-4.2.0 greylisted,\r\n450 4.2.0 come back later";
    f.script.rcpt["d@x.test"] = "550 no such user, no code";
    OutboundMessage m = make_message(t.path / "m.eml", message_two_body(), {"b@x.test", "c@x.test", "d@x.test", "e@x.test"});
    SendResult r;
    f.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(f.endpoint()), plain_options());
        r = co_await client->send(m);
        co_await client->quit();
    });
    ASSERT_EQ(r.recipients.size(), 4u);
    EXPECT_EQ(r.recipients[0].status, (EnhancedStatus{5, 1, 1}));
    EXPECT_EQ(r.recipients[0].text, "550 5.1.1 no such user");   // the text as before
    EXPECT_EQ(r.recipients[1].status, (EnhancedStatus{4, 2, 0}));
    EXPECT_FALSE(r.recipients[2].status);
    EXPECT_EQ(r.recipients[3].status, (EnhancedStatus{2, 0, 0}));   // "250 2.0.0 queued"
    // A refusal decided here carries its code as well.
    Fake small;
    small.script.ehlo = {"fake.test", "SIZE 10"};
    SendResult big;
    small.run([&]() -> awaitable<void> {
        auto client = co_await Client::connect(eps(small.endpoint()), plain_options());
        big = co_await client->send(m);
        co_await client->quit();
    });
    EXPECT_EQ(big.message.code, 552);
    EXPECT_EQ(big.message.status, (EnhancedStatus{5, 3, 4}));
}

struct ExtCase {
    std::vector<std::string> lines;
    ServerExtensions want;
};

TEST(SmtpClientExtensions, Table) {
    auto ext = [](auto fn) {
        ServerExtensions e;
        fn(e);
        return e;
    };
    const std::vector<ExtCase> cases = {
        {{"mx.example"}, {}},
        {{"mx.example", "pipelining", "Size 1000", "8BITMIME", "SMTPUTF8", "DSN", "STARTTLS", "ENHANCEDSTATUSCODES"},
         ext([](ServerExtensions& e) {
             e.pipelining = e.eightbitmime = e.smtputf8 = e.dsn = e.starttls = e.enhanced_status_codes = true;
             e.size = 1000;
         })},
        {{"mx.example", "SIZE"}, ext([](ServerExtensions& e) { e.size = 0; })},
        {{"mx.example", "SIZE abc"}, ext([](ServerExtensions& e) { e.size = 0; })},
        {{"mx.example", "AUTH PLAIN login", "AUTH=LOGIN XOAUTH2"},
         ext([](ServerExtensions& e) { e.auth = {"PLAIN", "LOGIN", "XOAUTH2"}; })},
        {{"odmr.example", "ATRN", "etrn"}, ext([](ServerExtensions& e) { e.atrn = e.etrn = true; })},
        {{"PIPELINING"}, {}},   // the first line is the server's name, never a keyword
    };
    for (const auto& c : cases) {
        ServerExtensions got = parse_extensions(c.lines);
        EXPECT_EQ(got.pipelining, c.want.pipelining);
        EXPECT_EQ(got.size, c.want.size);
        EXPECT_EQ(got.eightbitmime, c.want.eightbitmime);
        EXPECT_EQ(got.smtputf8, c.want.smtputf8);
        EXPECT_EQ(got.dsn, c.want.dsn);
        EXPECT_EQ(got.starttls, c.want.starttls);
        EXPECT_EQ(got.enhanced_status_codes, c.want.enhanced_status_codes);
        EXPECT_EQ(got.auth, c.want.auth);
        EXPECT_EQ(got.atrn, c.want.atrn);
        EXPECT_EQ(got.etrn, c.want.etrn);
    }
}

}  // namespace
}  // namespace mk::smtp
