// server/listeners.cpp — the table of listener roles; untrusted peers reach the sessions it names.
#include "server/listeners.hpp"

#include "imap/server_session.hpp"
#include "pop3/command.hpp"
#include "pop3/server_session.hpp"
#include "smtp/reply.hpp"
#include "smtp/server_session.hpp"

namespace mk {

namespace {

// The SMTP roles differ only in what the session is told.
template <SmtpRole R>
boost::asio::awaitable<void> smtp_as(Connection& conn, Services& services) {
    co_await smtp_session(conn, services, R);
}

constexpr std::string_view kTooMany = "too many connections, try again later";

}  // namespace

std::span<const ListenerRole> listener_roles() {
    // Cap full: RFC 5321 3.8 lets a server that cannot take a connection answer 421 and close.
    static const std::string kSmtpRefusal = smtp::Reply{421, esc::kSecurity, std::string(kTooMany)}.format();
    // RFC 3206 4: SYS/TEMP, a passing trouble of the system, not of the user's mailbox.
    static const std::string kPop3Refusal =
        pop3::format_reply(pop3::Reply::failure(std::string(kTooMany), pop3::RespCode::sys_temp));
    // RFC 9051 7.1.5: BYE at the greeting, the server will not take the connection.
    static const std::string kImapRefusal = "* BYE [UNAVAILABLE] " + std::string(kTooMany) + "\r\n";
    static const ListenerRole roles[] = {
        {"smtp", &ListenConfig::smtp, ListenTls::starttls, smtp_as<SmtpRole::mx>, kSmtpRefusal},
        {"submission", &ListenConfig::submission, ListenTls::required, smtp_as<SmtpRole::submission>, kSmtpRefusal},
        {"submissions", &ListenConfig::submissions, ListenTls::implicit, smtp_as<SmtpRole::submissions>, kSmtpRefusal},
        {"pop3", &ListenConfig::pop3, ListenTls::starttls, pop3_session, kPop3Refusal},
        {"pop3s", &ListenConfig::pop3s, ListenTls::implicit, pop3_session, kPop3Refusal},
        {"imap", &ListenConfig::imap, ListenTls::starttls, imap_session, kImapRefusal},
        {"imaps", &ListenConfig::imaps, ListenTls::implicit, imap_session, kImapRefusal},
        // RFC 2645: an SMTP greeting and replies, so SMTP's refusal; STARTTLS as on port 25.
        {"odmr", &ListenConfig::odmr, ListenTls::starttls, smtp_as<SmtpRole::odmr>, kSmtpRefusal},
    };
    return roles;
}

}  // namespace mk
