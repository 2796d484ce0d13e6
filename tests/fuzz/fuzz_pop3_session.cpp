// tests/fuzz/fuzz_pop3_session.cpp — libFuzzer target: a whole POP3 server session (a loopback or a
// remote client, STLS offered) over a maildrop of three messages, fed hostile bytes over the in-memory
// pipe: no crash, no hang past kHangBound, bounded memory (libFuzzer's -rss_limit_mb).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pop3/server_session.hpp"
#include "session_fuzz.hpp"

namespace {

// The maildrop every input starts from: dot-stuffing, a bare LF, a message without a last line end.
constexpr std::string_view kMessages[] = {
    "Subject: one\r\n\r\n.a dot\r\n..two\r\nbody\r\n",
    "Subject: two\nFrom: lf@home.arpa\n\nbare LF lines\n.\n",
    "Subject: three\r\n\r\nno line end at the end",
};

// refill - put the maildrop back as it was when a QUIT removed messages from it.
void refill(mk::test::Household& h) {
    if (h.delivered("anna").size() == std::size(kMessages)) return;
    mk::fuzz::clear_files(h.dir.path / "mail");
    for (std::string_view m : kMessages) h.deliver("anna", m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mk::test::Household& h = mk::fuzz::quiet_household();
    refill(h);
    mk::fuzz::drive([&](mk::Connection& c) { return mk::pop3_session(c, h.services); },
                    mk::fuzz::Options::from(data, size));
    return 0;
}
