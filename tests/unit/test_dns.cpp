// tests/unit/test_dns.cpp — resolve_mx/resolve_host against a real resolver: a private dnsmasq on a
// free 127.0.0.1 port, serving a fixed .test zone; also a dead and a silent server for the failures.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "net/dns.hpp"

namespace mk {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";   // Debian's dnsmasq-base (scripts/deps.sh)
constexpr auto kStartDeadline = 10s;                    // until dnsmasq accepts on its TCP port
constexpr auto kSlack = 2s;                             // scheduling slack on top of kDnsTimeout

// The zone. --local=/test/ makes dnsmasq authoritative-like for .test: a name it knows without the
// asked type gets NODATA, an unknown name NXDOMAIN. Without it (plain --no-resolv) dnsmasq answers
// REFUSED to both, and it still does for names outside .test: that is our "refused" case.
const std::vector<std::string> kZone = {
    "--local=/test/",
    // preference order
    "--mx-host=example.test,mx2.example.test,20",
    "--mx-host=example.test,mx1.example.test,10",
    "--host-record=mx1.example.test,127.0.0.2",
    "--host-record=mx2.example.test,127.0.0.3",
    // equal preferences, behind one better one
    "--mx-host=equal.test,low.equal.test,5",
    "--mx-host=equal.test,a.equal.test,10",
    "--mx-host=equal.test,b.equal.test,10",
    "--mx-host=equal.test,c.equal.test,10",
    "--host-record=low.equal.test,127.0.1.1",
    "--host-record=a.equal.test,127.0.1.2",
    "--host-record=b.equal.test,127.0.1.3",
    "--host-record=c.equal.test,127.0.1.4",
    // implicit MX: an A record and no MX
    "--host-record=plain.test,127.0.0.4",
    // the domain exists (a TXT record) but has neither MX nor address
    "--txt-record=textonly.test,hello",
    // null MX (RFC 7505): dnsmasq writes the exchange "." as the root name
    "--mx-host=nullmx.test,.,0",
    // a null MX beside a real one
    "--mx-host=mixed.test,.,0",
    "--mx-host=mixed.test,mx1.example.test,10",
    // the better exchange does not exist: skipped
    "--mx-host=partial.test,ghost.partial.test,5",
    "--mx-host=partial.test,mx1.example.test,10",
    // no exchange exists: permanent
    "--mx-host=noaddr.test,ghost.noaddr.test,10",
    // the only exchange is outside .test: REFUSED, so temporary
    "--mx-host=tempaddr.test,mx.elsewhere.example,10",
    // A and AAAA; a CNAME
    "--host-record=dual.test,127.0.0.6,::6",
    "--cname=alias.test,plain.test",
};

// many.test: kMaxMxTargets + 2 exchanges, preferences 0, 1, ...; many-addr.test: more A records
// than kMaxAddressesPerFamily.
std::vector<std::string> many_args() {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < kMaxMxTargets + 2; ++i) {
        std::string host = "m" + std::to_string(i) + ".many.test";
        out.push_back("--mx-host=many.test," + host + "," + std::to_string(i));
        out.push_back("--host-record=" + host + ",127.0.2." + std::to_string(i + 1));
    }
    // One --host-record holds one address per family; repeating it adds more.
    for (int i = 0; i < kMaxAddressesPerFamily + 4; ++i)
        out.push_back("--host-record=many-addr.test,127.0.3." + std::to_string(i + 1));
    return out;
}

// free_port - a port that was free for both UDP and TCP on 127.0.0.1 a moment ago.
int free_port() {
    for (int attempt = 0; attempt < 50; ++attempt) {
        int u = ::socket(AF_INET, SOCK_DGRAM, 0);
        int t = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sa;
        int port = 0;
        if (::bind(u, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
            ::getsockname(u, reinterpret_cast<sockaddr*>(&sa), &len) == 0 &&
            ::bind(t, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0)
            port = ntohs(sa.sin_port);
        ::close(u);
        ::close(t);
        if (port != 0) return port;
    }
    return 0;
}

// tcp_accepts - whether something accepts TCP on 127.0.0.1:port.
bool tcp_accepts(int port) {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(s);
    return ok;
}

// A private dnsmasq: started with fork/exec (no shell), killed with the test process at the latest
// (PR_SET_PDEATHSIG), its log in a temp dir.
struct Dnsmasq {
    pid_t pid = -1;
    int port = 0;
    fs::path dir;

    // start - run dnsmasq on a free port; false (with the reason in *why) if it does not come up.
    bool start(std::string* why) {
        char tmpl[] = "/tmp/mk-dns-XXXXXX";
        dir = ::mkdtemp(tmpl);
        for (int attempt = 0; attempt < 5; ++attempt) {   // the free port may be taken meanwhile
            port = free_port();
            std::vector<std::string> args = {kDnsmasq, "--no-daemon", "--port=" + std::to_string(port),
                                             "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                                             "--no-hosts", "--conf-file=/dev/null", "--pid-file=", "--log-queries"};
            args.insert(args.end(), kZone.begin(), kZone.end());
            auto many = many_args();
            args.insert(args.end(), many.begin(), many.end());
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            std::string log = (dir / "dnsmasq.log").string();
            pid_t parent = ::getpid();
            pid = ::fork();
            if (pid == 0) {
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (::getppid() != parent) ::_exit(127);
                int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
                if (fd >= 0) {
                    ::dup2(fd, 1);
                    ::dup2(fd, 2);
                }
                ::execv(kDnsmasq, argv.data());
                ::_exit(127);
            }
            if (pid < 0) break;
            auto end = std::chrono::steady_clock::now() + kStartDeadline;
            while (std::chrono::steady_clock::now() < end) {
                int status = 0;
                if (::waitpid(pid, &status, WNOHANG) == pid) {
                    pid = -1;
                    break;   // exited: port taken, or a bad option; try again, then report
                }
                if (tcp_accepts(port)) return true;
                std::this_thread::sleep_for(20ms);
            }
            stop();
        }
        std::ifstream in(dir / "dnsmasq.log");
        std::stringstream s;
        s << in.rdbuf();
        *why = "dnsmasq did not start; its log:\n" + s.str();
        return false;
    }

    // stop - SIGTERM and reap.
    void stop() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, nullptr, 0);
        }
        pid = -1;
    }

    std::string server() const { return "127.0.0.1:" + std::to_string(port); }
};

// run - drive one coroutine to its end on a fresh io_context; also report on which thread the
// coroutine was resumed after the lookup (it must be the io_context's, here: this one).
template <class T>
T run(asio::awaitable<T> lookup, std::thread::id* resumed_on = nullptr) {
    asio::io_context ioc;
    std::optional<T> out;
    std::exception_ptr error;
    auto wrapper = [](asio::awaitable<T> a, std::optional<T>& o, std::thread::id* where) -> asio::awaitable<void> {
        T v = co_await std::move(a);
        if (where) *where = std::this_thread::get_id();
        o = std::move(v);
    };
    asio::co_spawn(ioc, wrapper(std::move(lookup), out, resumed_on),
                   [&error](std::exception_ptr e) { error = e; });
    ioc.run();
    if (error) std::rethrow_exception(error);
    return std::move(*out);
}

// failure - the DnsError a lookup throws (the test fails if it does not throw one).
template <class T>
std::optional<DnsError> failure(asio::awaitable<T> lookup) {
    try {
        run(std::move(lookup));
    } catch (const DnsError& e) {
        return e;
    }
    ADD_FAILURE() << "no DnsError thrown";
    return std::nullopt;
}

std::vector<std::string> hosts(const std::vector<MxTarget>& mx) {
    std::vector<std::string> out;
    for (const auto& t : mx) out.push_back(t.host);
    return out;
}

std::set<std::string> addrs(const std::vector<asio::ip::address>& a) {
    std::set<std::string> out;
    for (const auto& x : a) out.insert(x.to_string());
    return out;
}

class DnsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dns_ = new Dnsmasq;
        if (!dns_->start(&start_error_)) dns_->port = 0;
    }
    static void TearDownTestSuite() {
        dns_->stop();
        std::error_code ec;
        fs::remove_all(dns_->dir, ec);
        delete dns_;
        dns_ = nullptr;
    }
    void SetUp() override { ASSERT_NE(dns_->port, 0) << start_error_; }

    static std::string server() { return dns_->server(); }

    static Dnsmasq* dns_;
    static std::string start_error_;
};
Dnsmasq* DnsTest::dns_ = nullptr;
std::string DnsTest::start_error_;

TEST_F(DnsTest, MxInPreferenceOrderWithAddresses) {
    std::thread::id resumed;
    auto mx = run(resolve_mx("example.test", server()), &resumed);
    EXPECT_EQ(resumed, std::this_thread::get_id()) << "not resumed on the caller's executor";
    ASSERT_EQ(hosts(mx), (std::vector<std::string>{"mx1.example.test", "mx2.example.test"}));
    EXPECT_EQ(mx[0].preference, 10u);
    EXPECT_EQ(mx[1].preference, 20u);
    EXPECT_EQ(addrs(mx[0].addresses), (std::set<std::string>{"127.0.0.2"}));
    EXPECT_EQ(addrs(mx[1].addresses), (std::set<std::string>{"127.0.0.3"}));
}

TEST_F(DnsTest, DomainIsCaseInsensitiveAndMayEndInADot) {
    auto mx = run(resolve_mx("Example.TEST.", server()));
    EXPECT_EQ(hosts(mx), (std::vector<std::string>{"mx1.example.test", "mx2.example.test"}));
}

TEST_F(DnsTest, EqualPreferencesAreShuffled) {
    std::set<std::vector<std::string>> orders;
    for (int i = 0; i < 30; ++i) {
        auto mx = run(resolve_mx("equal.test", server()));
        ASSERT_EQ(mx.size(), 4u);
        EXPECT_EQ(mx[0].host, "low.equal.test");   // the better preference always first
        orders.insert(hosts(mx));
    }
    // 30 draws of 6 orders all alike: (1/6)^29, never by chance.
    EXPECT_GT(orders.size(), 1u);
}

TEST_F(DnsTest, OnlyTheBestExchangesAreResolved) {
    auto mx = run(resolve_mx("many.test", server()));
    ASSERT_EQ(mx.size(), kMaxMxTargets);
    for (std::size_t i = 0; i < mx.size(); ++i) EXPECT_EQ(mx[i].preference, i);
}

TEST_F(DnsTest, AddressesPerFamilyAreCapped) {
    EXPECT_EQ(run(resolve_host("many-addr.test", server())).size(), static_cast<std::size_t>(kMaxAddressesPerFamily));
}

TEST_F(DnsTest, NoMxMeansTheDomainIsItsOwnMx) {
    auto mx = run(resolve_mx("plain.test", server()));
    ASSERT_EQ(mx.size(), 1u);
    EXPECT_EQ(mx[0].host, "plain.test");
    EXPECT_EQ(mx[0].preference, 0u);
    EXPECT_EQ(addrs(mx[0].addresses), (std::set<std::string>{"127.0.0.4"}));
}

TEST_F(DnsTest, NoMxAndNoAddressIsPermanent) {
    auto e = failure(resolve_mx("textonly.test", server()));
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->temporary()) << e->what();
}

TEST_F(DnsTest, NxdomainIsPermanent) {
    auto e = failure(resolve_mx("nx.test", server()));
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->temporary()) << e->what();
    EXPECT_NE(std::string(e->what()).find("NXDOMAIN"), std::string::npos) << e->what();
}

TEST_F(DnsTest, NullMxIsPermanent) {
    auto e = failure(resolve_mx("nullmx.test", server()));
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->temporary()) << e->what();
    EXPECT_NE(std::string(e->what()).find("accepts no mail"), std::string::npos) << e->what();
}

TEST_F(DnsTest, NullMxBesideRealOnesIsIgnored) {
    auto mx = run(resolve_mx("mixed.test", server()));
    EXPECT_EQ(hosts(mx), (std::vector<std::string>{"mx1.example.test"}));
}

TEST_F(DnsTest, ExchangeWithoutAddressIsSkipped) {
    auto mx = run(resolve_mx("partial.test", server()));
    EXPECT_EQ(hosts(mx), (std::vector<std::string>{"mx1.example.test"}));
}

TEST_F(DnsTest, NoExchangeWithAddressIsPermanent) {
    auto e = failure(resolve_mx("noaddr.test", server()));
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->temporary()) << e->what();
}

TEST_F(DnsTest, NoExchangeWithAddressAfterATemporaryFailureIsTemporary) {
    auto e = failure(resolve_mx("tempaddr.test", server()));
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->temporary()) << e->what();
}

TEST_F(DnsTest, RefusedIsTemporary) {
    auto e = failure(resolve_mx("elsewhere.example", server()));
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->temporary()) << e->what();
    // c-ares 1.18 reports it as ECONNREFUSED (it skips the refusing server and then has none).
    EXPECT_NE(std::string(e->what()).find("REFUSED"), std::string::npos) << e->what();
}

TEST_F(DnsTest, InvalidDomainIsPermanentWithoutAsking) {
    std::string too_long;   // 255 octets of short labels: over RFC 1035's 253
    while (too_long.size() < 254) too_long += "a.";
    too_long += "a";
    const std::vector<std::string> bad_names = {"", ".", "exa mple.test", "a..test", "b\xc3\xa4r.test",
                                                std::string(64, 'a') + ".test", too_long};
    for (const auto& bad : bad_names) {
        auto e = failure(resolve_mx(bad, "127.0.0.1:1"));
        ASSERT_TRUE(e) << bad;
        EXPECT_FALSE(e->temporary()) << bad << ": " << e->what();
    }
}

TEST_F(DnsTest, AddressLiteralDomainNeedsNoDns) {
    auto mx = run(resolve_mx("[127.0.0.9]", "127.0.0.1:1"));
    ASSERT_EQ(mx.size(), 1u);
    EXPECT_EQ(addrs(mx[0].addresses), (std::set<std::string>{"127.0.0.9"}));
    mx = run(resolve_mx("[IPv6:::1]", "127.0.0.1:1"));
    ASSERT_EQ(mx.size(), 1u);
    EXPECT_EQ(addrs(mx[0].addresses), (std::set<std::string>{"::1"}));
}

TEST_F(DnsTest, ResolveHostLiteralNeedsNoDns) {
    // The server is a port nothing listens on: any query would fail.
    EXPECT_EQ(addrs(run(resolve_host("192.0.2.7", "127.0.0.1:1"))), (std::set<std::string>{"192.0.2.7"}));
    EXPECT_EQ(addrs(run(resolve_host("2001:db8::7", "127.0.0.1:1"))), (std::set<std::string>{"2001:db8::7"}));
    EXPECT_EQ(addrs(run(resolve_host("[::1]", "127.0.0.1:1"))), (std::set<std::string>{"::1"}));
}

TEST_F(DnsTest, ResolveHostName) {
    std::thread::id resumed;
    auto a = run(resolve_host("dual.test", server()), &resumed);
    EXPECT_EQ(resumed, std::this_thread::get_id());
    EXPECT_EQ(addrs(a), (std::set<std::string>{"127.0.0.6", "::6"}));
    EXPECT_EQ(addrs(run(resolve_host("alias.test", server()))), (std::set<std::string>{"127.0.0.4"}));
}

TEST_F(DnsTest, ResolveHostUnknownIsPermanent) {
    auto e = failure(resolve_host("nohost.test", server()));
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->temporary()) << e->what();
}

TEST_F(DnsTest, BadServerSettingIsTemporary) {
    auto e = failure(resolve_mx("example.test", "not a server"));
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->temporary()) << e->what();
}

// A port nothing listens on: the ICMP "port unreachable" fails the query at once.
TEST(DnsDeadServer, DeadServerIsTemporaryWithinTheTimeout) {
    int port = free_port();
    ASSERT_NE(port, 0);
    auto start = std::chrono::steady_clock::now();
    auto e = failure(resolve_mx("example.test", "127.0.0.1:" + std::to_string(port)));
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->temporary()) << e->what();
    EXPECT_LT(took, kDnsTimeout + kSlack);
}

// A server that never answers: c-ares' own tries time out, and the lookup ends within kDnsTimeout.
TEST(DnsDeadServer, SilentServerTimesOutTemporarilyWithinTheTimeout) {
    int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len), 0);
    auto start = std::chrono::steady_clock::now();
    auto e = failure(resolve_host("example.test", "127.0.0.1:" + std::to_string(ntohs(sa.sin_port))));
    auto took = std::chrono::steady_clock::now() - start;
    ::close(s);
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->temporary()) << e->what();
    EXPECT_LT(took, kDnsTimeout + kSlack);
}

}  // namespace
}  // namespace mk
