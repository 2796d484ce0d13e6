// tests/fuzz/fuzz_smtp_odmr.cpp — libFuzzer target: ATRN on the provider's side (RFC 2645). The SMTP
// server session in the odmr role, already past EHLO and AUTH (a fixed prefix: AUTH PLAIN from the
// loopback client, where plaintext auth is allowed), is fed hostile bytes over the in-memory pipe: ATRN
// lines with hostile domain lists, bytes pipelined behind them, and after ATRN's 250 the "customer's"
// side of the reversed session (greeting, EHLO, MAIL/RCPT/DATA replies), which the real SMTP client
// (smtp::Client::start on the borrowed connection, as QueueManager::deliver_held does) parses while it
// sends two small held messages. No crash, no hang past kHangBound, bounded memory.
//
// The first input byte says how the client writes the rest: bit 7 all in one write (pipelining); else
// bits 0-3 n, n bytes per write, or when 0 one line (up to LF) per write, as a customer that waits for
// each reply would. Bit 4: the messages are SMTPUTF8; bit 5: they carry DSN parameters (RET, ENVID,
// NOTIFY, ORCPT). Each write goes once the session waits for the client again.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "session_fuzz.hpp"
#include "smtp/client.hpp"
#include "smtp/command.hpp"
#include "smtp/server_session.hpp"

namespace {

// The client's fixed prefix: EHLO, then anna's login ("\0anna\0anna-secret"), each its own write.
constexpr std::string_view kEhlo = "EHLO customer.example\r\n";
constexpr std::string_view kAuth = "AUTH PLAIN AGFubmEAYW5uYS1zZWNyZXQ=\r\n";

// The held message as the queue keeps it: the local Return-Path: line (skipped when sent), CRLF line
// ends, a line that needs dot-stuffing.
constexpr std::string_view kReturnPath = "Return-Path: <ben@home.arpa>\r\n";
constexpr std::string_view kMessage =
    "From: ben@home.arpa\r\nTo: x@customer.example\r\nSubject: held\r\n\r\nhello\r\n.a line with a dot\r\n.\r\nend\r\n";

// How this input's messages look: what the first byte's bits 4-5 say.
struct Flavour {
    bool smtputf8 = false;
    bool dsn = false;
};
Flavour flavour;

// message - held message n (0 or 1): two recipients, then one.
mk::smtp::OutboundMessage message(const std::filesystem::path& file, int n) {
    mk::smtp::OutboundMessage m;
    m.sender = "ben@home.arpa";
    m.recipients.push_back({"x@customer.example", 0, {}});
    if (n == 0) m.recipients.push_back({"y@other.example", 0, {}});
    m.file = file;
    m.skip = kReturnPath.size();
    m.smtputf8 = flavour.smtputf8;
    if (flavour.dsn) {
        m.ret = "HDRS";
        m.envid = "QQ123";
        for (auto& r : m.recipients) {
            r.notify = mk::smtp::kNotifyFailure | mk::smtp::kNotifyDelay;
            r.orcpt = "rfc822;" + r.address;
        }
    }
    return m;
}

// turn - the provider's client on the reversed connection, as deliver_held runs it: start, send the
// held messages while the connection lasts, QUIT.
boost::asio::awaitable<mk::AtrnOutcome> turn(mk::Connection& conn, const mk::Config& config,
                                             const std::filesystem::path& file, std::vector<std::string> domains) {
    mk::AtrnOutcome out;
    mk::smtp::ClientOptions o;
    o.helo = config.hostname;
    o.server_name = domains.empty() ? std::string() : domains.front();
    o.tls = mk::TlsMode::none;
    o.tls_required = false;
    o.tls_verify = false;
    std::unique_ptr<mk::smtp::Client> client;
    try {
        client = co_await mk::smtp::Client::start(conn, std::move(o));
    } catch (const mk::smtp::ClientError& e) {
        out.error = e.what();
        co_return out;
    }
    for (int n = 0; n < 2 && client; ++n) {
        try {
            mk::smtp::SendResult r = co_await client->send(message(file, n));
            for (const mk::smtp::Result& res : r.recipients)
                ++(res.ok() ? out.delivered : res.permanent() ? out.failed : out.deferred);
        } catch (const mk::smtp::ClientError& e) {
            out.error = e.what();
            client.reset();
        }
    }
    if (client) {
        try {
            co_await client->quit();
        } catch (const std::exception&) {
        }
    }
    co_return out;
}

// odmr_household - the shared household with hold domains and hooks, set up once. anna may pull
// customer.example and other.example (mail held), empty.example (none: 453) and broken.example (asked
// first, the count fails: 451); bens.example is ben's (450). ATRN without a domain asks for all four.
mk::test::Household& odmr_household() {
    static mk::test::Household& h = []() -> mk::test::Household& {
        mk::test::Household& hh = mk::fuzz::quiet_household();
        hh.config->odmr.hold = {{"customer.example", "anna"},
                                {"other.example", "anna"},
                                {"empty.example", "anna"},
                                {"broken.example", "anna"},
                                {"bens.example", "ben"}};
        static const std::filesystem::path file = hh.dir.path / "held.eml";
        std::ofstream(file, std::ios::binary) << kReturnPath << kMessage;
        hh.services.odmr.held_count = [](std::vector<std::string> domains) -> boost::asio::awaitable<std::size_t> {
            if (!domains.empty() && domains.front() == "broken.example") throw std::runtime_error("held mail cannot be counted");
            std::size_t held = 0;
            for (const std::string& d : domains) held += d == "customer.example" || d == "other.example";
            co_return held;
        };
        hh.services.odmr.turn = [config = hh.config](mk::Connection& conn, std::string, std::vector<std::string> domains) {
            return turn(conn, *config, file, std::move(domains));
        };
        return hh;
    }();
    return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    mk::test::Household& h = odmr_household();
    const std::uint8_t mode = data[0];
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    flavour = Flavour{(mode & 0x10u) != 0, (mode & 0x20u) != 0};

    std::vector<std::string_view> writes{kEhlo, kAuth};
    if (mode & 0x80u) {
        if (!input.empty()) writes.push_back(input);
    } else if (const std::size_t chunk = mode & 0x0fu; chunk != 0) {
        for (std::size_t at = 0; at < input.size(); at += chunk) writes.push_back(input.substr(at, chunk));
    } else {
        for (std::size_t at = 0; at < input.size();) {
            const std::size_t lf = input.find('\n', at);
            const std::size_t end = lf == std::string_view::npos ? input.size() : lf + 1;
            writes.push_back(input.substr(at, end - at));
            at = end;
        }
    }
    mk::fuzz::drive_writes(
        [&](mk::Connection& c) { return mk::test::served(mk::smtp_session(c, h.services, mk::SmtpRole::odmr)); }, false,
        writes);
    return 0;
}
