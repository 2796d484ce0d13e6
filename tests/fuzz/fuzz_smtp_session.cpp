// tests/fuzz/fuzz_smtp_session.cpp — libFuzzer target: a whole SMTP server session (every role, a
// loopback or a remote client, STARTTLS offered) fed hostile bytes over the in-memory pipe, with a real
// intake: no crash, no hang past kHangBound, bounded memory (libFuzzer's -rss_limit_mb).
#include <cstddef>
#include <cstdint>

#include "session_fuzz.hpp"
#include "smtp/server_session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mk::test::Household& h = mk::fuzz::quiet_household();
    const mk::fuzz::Options o = mk::fuzz::Options::from(data, size);
    constexpr mk::SmtpRole kRoles[] = {mk::SmtpRole::mx, mk::SmtpRole::submission, mk::SmtpRole::submissions,
                                       mk::SmtpRole::mx};
    const mk::SmtpRole role = kRoles[o.role];
    mk::fuzz::drive([&](mk::Connection& c) { return mk::smtp_session(c, h.services, role); }, o);
    // What was accepted stays on disk: cleared so that the directory does not grow with the run.
    mk::fuzz::clear_files(h.dir.path / "mail");
    mk::fuzz::clear_files(h.dir.path / "queue");
    return 0;
}
