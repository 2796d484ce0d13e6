// tests/fuzz/fuzz_smtp_session.cpp — libFuzzer target: a whole SMTP server session (every role: MX,
// submission, submissions, ODMR, and the ODMR customer's reversed session; a loopback or a remote
// client, STARTTLS offered) fed hostile bytes over the in-memory pipe, with a real intake: no crash,
// no hang past kHangBound, bounded memory (libFuzzer's -rss_limit_mb). The odmr role's queue is a fake: anna may pull customer.example, where
// one message is held; after ATRN's 250 the fake reads the customer's 220 and says QUIT, as the relay's
// client would, so that the reversed connection is fuzzed too.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "session_fuzz.hpp"
#include "smtp/server_session.hpp"

namespace {

// odmr_household - the shared household with a hold domain and the fake queue's hooks, set up once.
mk::test::Household& odmr_household() {
    static mk::test::Household& h = [] () -> mk::test::Household& {
        mk::test::Household& hh = mk::fuzz::quiet_household();
        hh.config->odmr.hold = {{"customer.example", "anna"}, {"bens.example", "ben"}};
        hh.services.odmr.held_count = [](std::vector<std::string> domains) -> boost::asio::awaitable<std::size_t> {
            co_return domains.size() == 1 ? 1 : 0;   // one domain asked: held mail; more: none (453)
        };
        hh.services.odmr.turn = [](mk::Connection& conn, std::string, std::vector<std::string>)
            -> boost::asio::awaitable<mk::AtrnOutcome> {
            using namespace std::chrono_literals;
            mk::LineResult greeting = co_await conn.read_line(512, 1s);
            if (greeting.status != mk::ReadStatus::ok) co_return mk::AtrnOutcome{0, 1, 0, "no greeting"};
            co_await conn.write("QUIT\r\n", 1s);
            co_await conn.read_line(512, 1s);
            co_return mk::AtrnOutcome{};
        };
        return hh;
    }();
    return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mk::test::Household& h = odmr_household();
    const mk::fuzz::Options o = mk::fuzz::Options::from(data, size);
    // Roles 0-3, and the customer's side of a reversed ATRN connection (turned) for 4-7.
    constexpr mk::SmtpRole kRoles[] = {mk::SmtpRole::mx, mk::SmtpRole::submission, mk::SmtpRole::submissions,
                                       mk::SmtpRole::odmr, mk::SmtpRole::turned};
    const mk::SmtpRole role = kRoles[std::min(o.role, 4u)];
    mk::fuzz::drive([&](mk::Connection& c) { return mk::test::served(mk::smtp_session(c, h.services, role)); }, o);
    // What was accepted stays on disk: cleared so that the directory does not grow with the run.
    mk::fuzz::clear_files(h.dir.path / "mail");
    mk::fuzz::clear_files(h.dir.path / "queue");
    return 0;
}
