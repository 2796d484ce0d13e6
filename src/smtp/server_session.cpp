// smtp/server_session.cpp — SMTP server session; talks to untrusted peers; writes only through the intake.
//
// One coroutine per connection: read a command, check it against the command table (legal state),
// run its handler, which checks first and acts after. Replies are queued and flushed whenever the
// client has nothing more in flight, which is all PIPELINING (RFC 2920) asks of a server.
#include "smtp/server_session.hpp"

#include <algorithm>
#include <array>
#include <ctime>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "core/base64.hpp"
#include "core/date.hpp"
#include "core/ids.hpp"
#include "core/ip.hpp"
#include "core/password.hpp"
#include "core/text.hpp"
#include "net/offload.hpp"
#include "net/sasl.hpp"
#include "route/router.hpp"
#include "smtp/command.hpp"
#include "smtp/dot_decoder.hpp"
#include "smtp/reply.hpp"
#include "store/intake.hpp"

namespace mk {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using smtp::Reply;

// RFC 5321 4.5.3.2.7: the server waits at least 5 minutes for the next command.
constexpr auto kCommandTimeout = 5min;
// RFC 5321 4.5.3.2.6: data block timeout, 3 minutes between reads of DATA.
constexpr auto kDataTimeout = 3min;
constexpr auto kWriteTimeout = 2min;
constexpr auto kTlsHandshakeTimeout = 30s;
// Postfix smtpd_hard_error_limit: a client this wrong is broken or hostile.
constexpr unsigned kMaxBadCommands = 20;
// This many commands without a message accepted is a client stuck in a loop. Counted from the last
// accepted message, not the session's start: an ODMR provider hands thousands over one session.
constexpr unsigned kMaxCommands = 10000;
// RFC 4954 4: an AUTH response line may be up to 12288 octets.
constexpr std::size_t kMaxAuthLine = 12288;
// Postfix's smtpd_soft_error_limit and smtpd_error_sleep_time: after this many refused recipients in
// a session each further refusal is answered Services::rcpt_tarpit late, so that harvesting addresses
// costs the prober time; every refusal is an error (kMaxBadCommands of them end the session).
constexpr unsigned kRefusedRcptsFree = 3;
// Refused recipients logged one by one; the others are counted in one line when the session ends.
constexpr unsigned kRefusedRcptsLogged = 3;
// DATA is written to the spool in pieces of this size.
constexpr std::size_t kSpoolChunk = 64 * 1024;

// Which roles a verb exists in; elsewhere 502 5.5.1 (the odmr port is not an MTA port).
constexpr unsigned role_bit(SmtpRole r) { return 1u << static_cast<unsigned>(r); }
constexpr unsigned kMailRoles = role_bit(SmtpRole::mx) | role_bit(SmtpRole::submission) |
                               role_bit(SmtpRole::submissions) | role_bit(SmtpRole::turned);
constexpr unsigned kAllRoles = kMailRoles | role_bit(SmtpRole::odmr);
constexpr unsigned kOdmrRole = role_bit(SmtpRole::odmr);
// After ATRN the connection's security was settled by the customer as a client: nothing to add.
constexpr unsigned kLoginRoles = kAllRoles & ~role_bit(SmtpRole::turned);

enum class State { fresh, greeted, mail, rcpt };
constexpr unsigned bit(State s) { return 1u << static_cast<unsigned>(s); }
constexpr unsigned kAnyState = bit(State::fresh) | bit(State::greeted) | bit(State::mail) | bit(State::rcpt);
constexpr unsigned kGreeted = bit(State::greeted) | bit(State::mail) | bit(State::rcpt);

const char* state_name(State s) {
    switch (s) {
        case State::fresh: return "fresh";
        case State::greeted: return "greeted";
        case State::mail: return "mail";
        case State::rcpt: return "rcpt";
    }
    return "?";
}

struct AcceptedRcpt {
    smtp::RcptArgs args;
    std::vector<Target> targets;
};

class Session {
public:
    Session(Connection& conn, Services& svc, SmtpRole role)
        : conn_(conn), svc_(svc), config_(svc.config), role_(role) {}
    ~Session() {
        if (refused_rcpts_ > kRefusedRcptsLogged)
            spdlog::info("smtp {}: {} recipients refused in this session, {} of them not logged one by one", client(),
                         refused_rcpts_, refused_rcpts_ - kRefusedRcptsLogged);
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // run - the session to its end.
    awaitable<SmtpSessionEnd> run();

private:
    using Handler = awaitable<void> (Session::*)(std::string_view args);
    struct Row {
        smtp::Verb verb;
        Handler handler;
        unsigned states;   // where the verb is legal; elsewhere 503 5.5.1
        unsigned roles;    // the roles that have the verb; elsewhere 502 5.5.1
    };
    static const std::array<Row, 14> kTable;

    awaitable<void> on_ehlo(std::string_view args) { return greet(args, true); }
    awaitable<void> on_helo(std::string_view args) { return greet(args, false); }
    awaitable<void> greet(std::string_view args, bool esmtp);
    awaitable<void> on_mail(std::string_view args);
    awaitable<void> on_rcpt(std::string_view args);
    awaitable<void> on_data(std::string_view args);
    awaitable<void> on_rset(std::string_view args);
    awaitable<void> on_noop(std::string_view args);
    awaitable<void> on_quit(std::string_view args);
    awaitable<void> on_vrfy(std::string_view args);
    awaitable<void> on_help(std::string_view args);
    awaitable<void> on_starttls(std::string_view args);
    awaitable<void> on_auth(std::string_view args);
    awaitable<void> on_unsupported(std::string_view args);
    awaitable<void> on_atrn(std::string_view args);

    // check_atrn - decide ATRN without acting: the domains to turn for, or the refusal (RFC 2645 5.2.1).
    std::optional<Reply> check_atrn(std::string_view args, std::vector<std::string>& domains) const;
    // turn - after ATRN's 250: the connection is the customer's SMTP server now (Services::odmr.turn).
    awaitable<void> turn(const std::vector<std::string>& domains);

    // receive_data - read the message after 354 into the spool; returns the final reply.
    awaitable<Reply> receive_data();
    // auth_response - send a 334 challenge and read the client's answer; nullopt when the exchange is
    // over (an over-long answer is refused here; a closed or silent client ends the session).
    awaitable<std::optional<std::string>> auth_response(std::string_view challenge);
    awaitable<void> auth_failed(std::string_view login);

    void reply(const Reply& r) { out_ += r.format(esmtp_); }
    void reply(int code, std::string_view e, std::string text) { reply(Reply{code, e, std::move(text)}); }
    awaitable<void> flush();
    void set_state(State s);
    void reset_transaction();
    // refuse_pipelined - after a verb that changes who speaks or how (STARTTLS, ATRN): bytes already
    // buffered behind it are refused with 554 and the session ends; false when there are none.
    bool refuse_pipelined(std::string_view verb);
    bool relay_allowed() const;
    bool plaintext_auth_ok() const;
    bool auth_offered() const;
    std::string_view auth_mechanisms() const;
    bool mechanism_offered(std::string_view mech) const;
    bool sender_owned(const Address& sender) const;
    std::string trace_headers() const;
    std::string client() const { return fmt::format("{}[{}]", helo_.empty() ? "unknown" : helo_, conn_.remote_address().to_string()); }

    Connection& conn_;
    Services& svc_;
    ConfigPtr config_;   // one snapshot for the whole session, whatever SIGHUP does meanwhile
    SmtpRole role_;
    State state_ = State::fresh;
    bool esmtp_ = false;
    bool quit_ = false;
    std::string helo_;
    std::string auth_user_;   // the local user's name once authenticated
    std::string out_;         // replies not yet written
    unsigned bad_ = 0;
    unsigned refused_rcpts_ = 0;      // RCPTs refused (unknown user, no relaying): the tarpit's count
    std::size_t accepted_ = 0;        // messages answered 250 after DATA
    std::uint64_t commands_ = 0;              // commands read (bounded by kMaxCommands, see there)
    std::uint64_t commands_at_last_message_ = 0;   // commands_ when the last message was accepted
    bool quit_by_client_ = false;     // the session ended with the client's QUIT

    // The transaction.
    std::string id_;
    smtp::MailArgs mail_;
    std::vector<AcceptedRcpt> rcpts_;
};

const std::array<Session::Row, 14> Session::kTable{{
    {smtp::Verb::ehlo, &Session::on_ehlo, kAnyState, kAllRoles},
    {smtp::Verb::helo, &Session::on_helo, kAnyState, kAllRoles},
    {smtp::Verb::mail, &Session::on_mail, bit(State::greeted), kMailRoles},
    {smtp::Verb::rcpt, &Session::on_rcpt, bit(State::mail) | bit(State::rcpt), kMailRoles},
    {smtp::Verb::data, &Session::on_data, bit(State::rcpt), kMailRoles},
    {smtp::Verb::rset, &Session::on_rset, kAnyState, kAllRoles},
    {smtp::Verb::noop, &Session::on_noop, kAnyState, kAllRoles},
    {smtp::Verb::quit, &Session::on_quit, kAnyState, kAllRoles},
    {smtp::Verb::vrfy, &Session::on_vrfy, kAnyState, kMailRoles},
    {smtp::Verb::help, &Session::on_help, kAnyState, kAllRoles},
    {smtp::Verb::starttls, &Session::on_starttls, bit(State::greeted), kLoginRoles},
    {smtp::Verb::auth, &Session::on_auth, bit(State::greeted), kLoginRoles},
    {smtp::Verb::expn, &Session::on_unsupported, kAnyState, kAllRoles},
    // RFC 2645 5.2.1: not inside a mail transaction (503); the mail roles do not have it (502).
    {smtp::Verb::atrn, &Session::on_atrn, bit(State::greeted), kOdmrRole},
}};

void Session::set_state(State s) {
    if (s != state_) spdlog::debug("smtp {}: state {} -> {}", client(), state_name(state_), state_name(s));
    state_ = s;
}

void Session::reset_transaction() {
    id_.clear();
    mail_ = {};
    rcpts_.clear();
    if (state_ != State::fresh) set_state(State::greeted);
}

bool Session::relay_allowed() const {
    if (!auth_user_.empty()) return true;
    return role_ == SmtpRole::mx && in_any(config_->trusted_networks, conn_.remote_address());
}

// AUTH is offered over TLS, or in the clear only to loopback clients (nothing crosses a wire).
// plaintext_auth_ok - whether a password may cross this connection: under TLS, or from loopback.
bool Session::plaintext_auth_ok() const { return conn_.tls() || is_loopback(conn_.remote_address()); }

// auth_offered - whether EHLO lists AUTH at all. CRAM-MD5 sends no password, so the odmr role offers
// it in the clear too (RFC 2645 5.1.2 names it; fetchmail's ODMR client speaks nothing else).
bool Session::auth_offered() const {
    if (role_ == SmtpRole::turned) return false;
    return role_ == SmtpRole::odmr || plaintext_auth_ok();
}

// auth_mechanisms - what EHLO lists after AUTH, and all on_auth accepts.
std::string_view Session::auth_mechanisms() const {
    if (role_ != SmtpRole::odmr) return "PLAIN LOGIN";
    return plaintext_auth_ok() ? "CRAM-MD5 PLAIN" : "CRAM-MD5";
}

bool Session::mechanism_offered(std::string_view mech) const {
    std::string_view list = auth_mechanisms();
    while (!list.empty()) {
        std::string_view m = list.substr(0, list.find(' '));
        if (iequals(m, mech)) return true;
        list.remove_prefix(std::min(list.size(), m.size() + 1));
    }
    return false;
}

bool Session::sender_owned(const Address& sender) const {
    const UserConfig* u = config_->find_user(auth_user_);
    if (!u) return false;
    if (sender.empty()) return true;   // DSNs from a client's own filters
    std::string want = lowercase_ascii(sender.str());
    for (const std::string& a : u->addresses)
        if (lowercase_ascii(a) == want) return true;
    return config_->is_local_domain(sender.domain) && lowercase_ascii(sender.local) == u->name;
}

awaitable<void> Session::flush() {
    if (out_.empty()) co_return;
    std::string data;
    data.swap(out_);
    co_await conn_.write(data, kWriteTimeout);
}

awaitable<SmtpSessionEnd> Session::run() {
    reply(220, {}, fmt::format("{} ESMTP mailkeep", config_->hostname));
    while (!quit_) {
        if (conn_.buffered() == 0) co_await flush();
        if (svc_.draining) {
            reply(421, esc::kOther, fmt::format("{} shutting down", config_->hostname));
            break;
        }
        conn_.set_idle(true);
        LineResult line = co_await conn_.read_line(smtp::kMaxCommandLine, kCommandTimeout);
        conn_.set_idle(false);
        if (line.status == ReadStatus::closed) co_return SmtpSessionEnd{accepted_, false};
        if (line.status == ReadStatus::timeout) {
            reply(421, esc::kTimeout, fmt::format("{} timeout, closing", config_->hostname));
            break;
        }
        if (line.status == ReadStatus::too_long) {
            // RFC 5321 4.5.3.1.4; the client is out of step with us, so it is not kept.
            reply(500, esc::kSyntax, "line too long");
            break;
        }
        if (++commands_ - commands_at_last_message_ > kMaxCommands) {
            reply(421, esc::kOther, "too many commands, closing");
            break;
        }
        smtp::Command cmd = smtp::parse_command(line.line);
        const Row* row = nullptr;
        for (const Row& r : kTable)
            if (r.verb == cmd.verb) row = &r;
        if (!row) {
            reply(cmd.verb == smtp::Verb::bdat ? 502 : 500, esc::kInvalidCommand, "command not recognized");
        } else if (!(row->roles & role_bit(role_))) {
            reply(502, esc::kInvalidCommand, "command not implemented");
            ++bad_;
        } else if (!(row->states & bit(state_))) {
            reply(503, esc::kBadSequence, state_ == State::fresh ? "send HELO/EHLO first" : "bad sequence of commands");
            ++bad_;
        } else {
            co_await (this->*(row->handler))(cmd.args);
        }
        if (!row) ++bad_;
        if (bad_ >= kMaxBadCommands) {
            reply(421, esc::kOther, "too many errors, closing");
            break;
        }
    }
    co_await flush();
    co_return SmtpSessionEnd{accepted_, quit_by_client_};
}

awaitable<void> Session::greet(std::string_view args, bool esmtp) {
    if (args.empty()) {
        reply(501, esc::kBadArgs, esmtp ? "syntax: EHLO hostname" : "syntax: HELO hostname");
        ++bad_;
        co_return;
    }
    std::string_view name = args.substr(0, args.find(' '));
    if (!smtp::valid_helo_name(name)) {
        // RFC 5321 4.1.1.1: a domain or an address literal; anything else would be written as is
        // into Received: and the log. Refused, as Exim does, rather than recorded.
        spdlog::info("smtp {}: reject: {} {}: not a domain or address literal", client(), esmtp ? "EHLO" : "HELO", name);
        reply(501, esc::kSyntax, "invalid domain name: a domain or an address literal, please");
        ++bad_;
        co_return;
    }
    helo_ = std::string(name);
    esmtp_ = esmtp;
    set_state(State::greeted);
    reset_transaction();
    if (!esmtp) {
        reply(250, {}, config_->hostname);
        co_return;
    }
    if (role_ == SmtpRole::odmr) {
        // RFC 2645 5.1.1: ATRN and AUTH; no PIPELINING, SIZE or the like, since no mail is taken here.
        std::string text = fmt::format("{}\nENHANCEDSTATUSCODES\nATRN", config_->hostname);
        if (!conn_.tls() && svc_.tls) text += "\nSTARTTLS";
        if (auth_offered() && auth_user_.empty()) text += fmt::format("\nAUTH {}", auth_mechanisms());
        reply(Reply{250, {}, text});
        co_return;
    }
    std::string text = fmt::format("{}\nPIPELINING\nSIZE {}\n8BITMIME\nENHANCEDSTATUSCODES\nSMTPUTF8\nDSN",
                                   config_->hostname, config_->limits.max_message_size);
    if (!conn_.tls() && svc_.tls && role_ != SmtpRole::turned) text += "\nSTARTTLS";
    if (auth_offered() && auth_user_.empty()) text += fmt::format("\nAUTH {}", auth_mechanisms());
    reply(Reply{250, {}, text});
}

awaitable<void> Session::on_mail(std::string_view args) {
    // Submission needs a login; the MX, and the provider delivering after our ATRN, take mail for us
    // from anyone.
    if (role_ != SmtpRole::mx && role_ != SmtpRole::turned && auth_user_.empty()) {
        reply(530, esc::kAuthRequired, "authentication required");
        co_return;
    }
    auto parsed = smtp::parse_mail_args(args);
    if (!parsed.ok()) {
        reply(parsed.error.code, parsed.error.esc, parsed.error.text);
        ++bad_;
        co_return;
    }
    const smtp::MailArgs& m = *parsed.value;
    if (m.size && *m.size > config_->limits.max_message_size) {
        reply(552, esc::kTooBig, "message size exceeds fixed limit");   // RFC 1870 6.1
        co_return;
    }
    if (!auth_user_.empty() && !sender_owned(m.sender)) {
        spdlog::warn("smtp {}: user {} may not send as <{}>", client(), auth_user_, m.sender.str());
        reply(553, esc::kRelayDenied, "sender address not owned by you");
        co_return;
    }
    mail_ = m;
    id_ = new_queue_id();
    set_state(State::mail);
    reply(250, "1.0", "ok");
}

awaitable<void> Session::on_rcpt(std::string_view args) {
    auto parsed = smtp::parse_rcpt_args(args, mail_.smtputf8);
    if (!parsed.ok()) {
        reply(parsed.error.code, parsed.error.esc, parsed.error.text);
        ++bad_;
        co_return;
    }
    if (rcpts_.size() >= config_->limits.max_recipients) {
        reply(452, esc::kTooManyRecipients, "too many recipients");   // RFC 5321 4.5.3.1.10
        co_return;
    }
    RouteResult route = route_recipient(*config_, parsed.value->recipient, relay_allowed());
    if (!route.accepted()) {
        ++bad_;
        if (++refused_rcpts_ <= kRefusedRcptsLogged)
            spdlog::info("{}: reject: RCPT from {}: <{}>: {}", id_, client(), parsed.value->recipient.str(), route.reason);
        if (refused_rcpts_ > kRefusedRcptsFree && svc_.rcpt_tarpit.count() > 0) {
            co_await flush();   // what was answered before goes out now; this answer waits
            const auto executor = co_await asio::this_coro::executor;
            asio::steady_timer tarpit(executor, svc_.rcpt_tarpit);
            boost::system::error_code ec;
            co_await tarpit.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        std::string_view text = route.code == 554 && route.esc == esc::kRelayDenied ? "relay access denied"
                                : route.code == 550                                  ? "no such user here"
                                                                                     : "recipient refused";
        reply(route.code, route.esc, std::string(text));
        co_return;
    }
    rcpts_.push_back(AcceptedRcpt{*parsed.value, std::move(route.targets)});
    set_state(State::rcpt);
    reply(250, esc::kDestValid, "ok");
}

std::string Session::trace_headers() const {
    // RFC 3848 protocol names: ESMTP, then S for TLS and A for AUTH; UTF8 variants (RFC 6531 4.3).
    std::string proto = esmtp_ ? (mail_.smtputf8 ? "UTF8SMTP" : "ESMTP") : "SMTP";
    if (esmtp_ && conn_.tls()) proto += "S";
    if (esmtp_ && !auth_user_.empty()) proto += "A";
    std::string tls = conn_.tls() ? fmt::format("\r\n\t(using {})", conn_.tls_description()) : "";
    std::string for_clause = rcpts_.size() == 1 ? fmt::format("\r\n\tfor <{}>", rcpts_.front().args.recipient.str()) : "";
    return fmt::format("Return-Path: <{}>\r\nReceived: from {} ([{}]){}\r\n\tby {} (mailkeep) with {} id {}{};\r\n\t{}\r\n",
                       mail_.sender.str(), helo_, conn_.remote_address().to_string(), tls, config_->hostname, proto,
                       id_, for_clause, rfc5322_date(std::time(nullptr)));
}

awaitable<Reply> Session::receive_data() {
    const std::uint64_t limit = config_->limits.max_message_size;
    std::unique_ptr<SpoolFile> spool;
    try {
        spool = svc_.intake->create(id_);
    } catch (const std::exception& e) {
        spdlog::error("{}: cannot create spool file: {}", id_, e.what());
        co_return Reply{451, esc::kSystemStorage, "local error, try again later"};
    }
    reply(354, {}, "end data with <CR><LF>.<CR><LF>");
    co_await flush();

    std::string headers = trace_headers();
    std::uint64_t return_path_length = headers.find("\r\n") + 2;
    smtp::DotDecoder decoder;
    std::string body;
    std::uint64_t size = 0;
    bool too_big = false, write_failed = false;
    try {
        spool->write(headers);
    } catch (const std::exception& e) {
        spdlog::error("{}: spool write: {}", id_, e.what());
        write_failed = true;
    }
    while (!decoder.done()) {
        std::string_view in = co_await conn_.peek_some(kDataTimeout);
        if (in.empty()) {
            quit_ = true;
            if (conn_.timed_out()) co_return Reply{421, esc::kTimeout, "timeout during DATA, closing"};
            co_return Reply{0, {}, {}};   // the client went away: nothing was acknowledged, nothing kept
        }
        std::size_t before = body.size();
        conn_.consume(decoder.feed(in, body));
        size += body.size() - before;
        if (size > limit) too_big = true;
        if (too_big || write_failed) {
            body.clear();   // keep reading to the end, keep nothing (RFC 5321 4.5.3.1.7)
            continue;
        }
        if (body.size() >= kSpoolChunk || decoder.done()) {
            try {
                spool->write(body);
            } catch (const std::exception& e) {
                spdlog::error("{}: spool write: {}", id_, e.what());
                write_failed = true;
            }
            body.clear();
        }
    }
    if (decoder.smuggling()) {
        spdlog::warn("{}: reject: bare <LF>.<LF> or <CR>.<CR> in DATA from {}", id_, client());
        co_return Reply{554, esc::kSyntax, "message contains a bare CR or LF next to a lone dot"};
    }
    if (decoder.line_too_long()) {
        quit_ = true;
        co_return Reply{554, esc::kContent, "message has a line longer than 1000 octets"};
    }
    if (too_big) co_return Reply{552, esc::kTooBig, "message size exceeds fixed limit"};
    if (write_failed) co_return Reply{451, esc::kSystemStorage, "local error, try again later"};

    Envelope env;
    env.id = id_;
    env.sender = mail_.sender.str();
    env.ret = mail_.ret;
    env.envid = mail_.envid;
    env.smtputf8 = mail_.smtputf8;
    env.body_8bit = mail_.body_8bit;
    env.client = client();
    env.auth_user = auth_user_;
    env.received_at = std::time(nullptr);
    env.return_path_length = return_path_length;
    for (const AcceptedRcpt& r : rcpts_) {
        for (const Target& t : r.targets) {
            if (t.kind == Target::Kind::mailbox) {
                if (std::find(env.mailboxes.begin(), env.mailboxes.end(), t.name) == env.mailboxes.end())
                    env.mailboxes.push_back(t.name);
            } else {
                bool seen = false;
                for (const QueuedRecipient& q : env.remote) seen = seen || q.address == t.name;
                if (!seen) env.remote.push_back({t.name, r.args.notify, r.args.orcpt, t.original});
            }
        }
    }
    try {
        co_await svc_.intake->commit(std::move(spool), env);
    } catch (const std::exception& e) {
        spdlog::error("{}: not accepted: {}", id_, e.what());
        co_return Reply{451, esc::kSystemStorage, "local error, try again later"};
    }
    spdlog::info("{}: from=<{}>, size={}, nrcpt={}, client={}{}, local={}, queued={}", id_, env.sender, size,
                 rcpts_.size(), client(), auth_user_.empty() ? "" : ", sasl_username=" + auth_user_,
                 env.mailboxes.size(), env.remote.size());
    co_return Reply{250, esc::kOk, fmt::format("ok: queued as {}", id_)};
}

awaitable<void> Session::on_data(std::string_view args) {
    if (!args.empty()) {
        reply(501, esc::kBadArgs, "syntax: DATA");
        co_return;
    }
    Reply r = co_await receive_data();
    if (r.code != 0) reply(r);
    if (r.code == 250) {
        ++accepted_;
        commands_at_last_message_ = commands_;
    }
    reset_transaction();
}

awaitable<void> Session::on_rset(std::string_view) {
    reset_transaction();
    reply(250, esc::kOk, "ok");
    co_return;
}

awaitable<void> Session::on_noop(std::string_view) {
    reply(250, esc::kOk, "ok");
    co_return;
}

awaitable<void> Session::on_quit(std::string_view) {
    reply(221, esc::kOk, fmt::format("{} closing connection", config_->hostname));
    quit_ = true;
    quit_by_client_ = true;
    co_return;
}

awaitable<void> Session::on_vrfy(std::string_view) {
    // RFC 5321 3.5.3: 252 when we will not say; address harvesting gets nothing.
    reply(252, "5.0", "cannot VRFY user, but will accept message and attempt delivery");
    co_return;
}

awaitable<void> Session::on_help(std::string_view) {
    reply(214, esc::kOk, "see RFC 5321; mailkeep");
    co_return;
}

awaitable<void> Session::on_unsupported(std::string_view) {
    reply(502, esc::kInvalidCommand, "command not implemented");
    co_return;
}

bool Session::refuse_pipelined(std::string_view verb) {
    if (conn_.buffered() == 0) return false;
    spdlog::warn("smtp {}: data pipelined after {}, closing", client(), verb);
    reply(554, esc::kSecurity, fmt::format("pipelined data after {}, closing", verb));
    quit_ = true;
    return true;
}

awaitable<void> Session::on_starttls(std::string_view args) {
    if (!args.empty()) {
        reply(501, esc::kBadArgs, "syntax: STARTTLS");
        co_return;
    }
    if (conn_.tls() || !svc_.tls) {
        reply(conn_.tls() ? 503 : 454, conn_.tls() ? esc::kBadSequence : esc::kTls,
              conn_.tls() ? "TLS already active" : "TLS not available");
        co_return;
    }
    // Plaintext pipelined behind STARTTLS would be read as if it came over TLS (CVE-2011-0411).
    if (refuse_pipelined("STARTTLS")) co_return;
    reply(220, esc::kOk, "ready to start TLS");
    co_await flush();
    try {
        co_await conn_.start_tls(*svc_.tls, kTlsHandshakeTimeout);
    } catch (const std::exception& e) {
        spdlog::info("smtp {}: TLS handshake failed: {}", client(), e.what());
        quit_ = true;
        co_return;
    }
    // RFC 3207 4.2: forget everything learnt from the client before TLS: the greeting, the transaction,
    // and a login made in plaintext (allowed from loopback) — the client authenticates again over TLS.
    helo_.clear();
    esmtp_ = false;
    auth_user_.clear();
    reset_transaction();
    set_state(State::fresh);
}

awaitable<std::optional<std::string>> Session::auth_response(std::string_view challenge) {
    reply(334, {}, std::string(challenge));
    co_await flush();
    LineResult line = co_await conn_.read_line(kMaxAuthLine, kCommandTimeout);
    if (line.status == ReadStatus::too_long) {
        // RFC 4954 4. The line was read to its end, so the client is still in step: the AUTH fails and
        // the session goes on, as Postfix's does.
        reply(500, esc::kAuthLineTooLong, "Authentication Exchange line is too long");
        ++bad_;
        co_return std::nullopt;
    }
    if (line.status != ReadStatus::ok) {
        quit_ = true;
        co_return std::nullopt;
    }
    co_return std::string(line.line);
}

awaitable<void> Session::auth_failed(std::string_view login) {
    const std::chrono::milliseconds delay = co_await svc_.throttle.failed(conn_.remote_address());
    spdlog::warn("smtp {}: authentication failed for '{}' delay={}ms", client(), login, delay.count());
    reply(535, esc::kAuthFailed, "authentication credentials invalid");
}

awaitable<void> Session::on_auth(std::string_view args) {
    if (!auth_user_.empty()) {
        reply(503, esc::kBadSequence, "already authenticated");
        co_return;
    }
    if (!auth_offered()) {
        reply(538, esc::kEncryptionRequired, "encryption required for requested authentication mechanism");
        co_return;
    }
    std::string_view mech = args.substr(0, args.find(' '));
    std::string_view initial = mech.size() < args.size() ? args.substr(mech.size() + 1) : std::string_view{};
    if (!mechanism_offered(mech)) {
        if (role_ == SmtpRole::odmr && iequals(mech, "PLAIN"))   // offered, but not in the clear
            reply(538, esc::kEncryptionRequired, "encryption required for requested authentication mechanism");
        else
            reply(504, esc::kBadArgs, "unrecognized authentication mechanism");
        co_return;
    }
    // args point into the connection's buffer, which the exchange below reuses: the name is kept.
    const std::string mechanism = uppercase_ascii(mech);
    std::string login, password;
    const UserConfig* user = nullptr;
    bool checked = false;   // CRAM-MD5 is checked in its branch: no crypt(3) to offload
    auto cancelled = [&](const std::optional<std::string>& r) {
        if (!r) return true;
        if (*r == "*") {
            reply(501, esc::kSecurity, "authentication cancelled");   // RFC 4954 4
            return true;
        }
        return false;
    };
    if (iequals(mech, "PLAIN")) {
        std::optional<std::string> resp{std::string(initial)};
        if (initial.empty()) resp = co_await auth_response("");
        if (cancelled(resp)) co_return;
        auto creds = decode_plain(*resp);
        if (!creds || (!creds->authzid.empty() && creds->authzid != creds->authcid)) {
            reply(501, esc::kSyntax, "malformed AUTH PLAIN response");
            ++bad_;
            co_return;
        }
        login = creds->authcid;
        password = creds->password;
    } else if (iequals(mech, "LOGIN")) {
        std::optional<std::string> user{std::string(initial)};
        if (initial.empty()) user = co_await auth_response(base64_encode("Username:"));
        if (cancelled(user)) co_return;
        std::optional<std::string> pass = co_await auth_response(base64_encode("Password:"));
        if (cancelled(pass)) co_return;
        auto u = base64_decode(*user);
        auto p = base64_decode(*pass);
        if (!u || !p) {
            reply(501, esc::kSyntax, "malformed AUTH LOGIN response");
            ++bad_;
            co_return;
        }
        login = *u;
        password = *p;
    } else if (iequals(mech, "CRAM-MD5")) {
        if (!initial.empty()) {   // RFC 2195: the server speaks first
            reply(501, esc::kSyntax, "CRAM-MD5 takes no initial response");
            ++bad_;
            co_return;
        }
        std::uint64_t random = 0;
        RAND_bytes(reinterpret_cast<unsigned char*>(&random), sizeof random);
        const std::string challenge = cram_md5_challenge(random, std::time(nullptr), config_->hostname);
        std::optional<std::string> resp = co_await auth_response(base64_encode(challenge));
        if (cancelled(resp)) co_return;
        auto answer = decode_cram_md5(*resp);
        if (!answer) {
            reply(501, esc::kSyntax, "malformed AUTH CRAM-MD5 response");
            ++bad_;
            co_return;
        }
        login = answer->user;
        user = authenticate_cram_md5(*config_, login, challenge, answer->digest);
        checked = true;
    } else {
        reply(504, esc::kBadArgs, "unrecognized authentication mechanism");
        co_return;
    }
    // crypt(3) takes milliseconds by design: it runs on the blocking pool, not the network thread.
    if (!checked) user = co_await offload([&] { return authenticate(*config_, login, password); });
    if (!user) {
        co_await auth_failed(login);
        co_return;
    }
    svc_.throttle.record_success(conn_.remote_address());
    auth_user_ = user->name;
    spdlog::info("smtp {}: authenticated as {}, sasl_method={}", client(), auth_user_, mechanism);
    reply(235, esc::kAuthSucceeded, "authentication successful");
}

std::optional<Reply> Session::check_atrn(std::string_view args, std::vector<std::string>& domains) const {
    // RFC 2645 5.2.1 and 6: the replies and their texts are the RFC's.
    if (auth_user_.empty()) return Reply{530, esc::kAuthRequired, "Authentication required"};
    auto asked = smtp::parse_atrn_domains(args);
    if (!asked) return Reply{501, esc::kBadArgs, "syntax: ATRN [domain[,domain...]]"};
    if (asked->empty()) {
        // No argument: every domain held for this user.
        for (const OdmrHoldConfig& h : config_->odmr.hold)
            if (h.user == auth_user_ && std::find(asked->begin(), asked->end(), h.domain) == asked->end())
                asked->push_back(h.domain);
        if (asked->empty()) {
            spdlog::info("smtp {}: ATRN refused: user {} may pull no domain", client(), auth_user_);
            return Reply{450, esc::kNotAuthorized, "ATRN request refused"};
        }
    }
    for (const std::string& d : *asked) {
        const OdmrHoldConfig* h = config_->odmr.hold_for(d);
        if (!h || h->user != auth_user_) {
            spdlog::info("smtp {}: ATRN refused: user {} may not pull {}", client(), auth_user_, d);
            return Reply{450, esc::kNotAuthorized, "ATRN request refused"};
        }
    }
    if (!svc_.odmr.held_count || !svc_.odmr.turn) {
        spdlog::warn("smtp {}: ATRN: the queue has no held mail service in this daemon", client());
        return Reply{451, esc::kSystemError, "Unable to process ATRN request now"};
    }
    domains = std::move(*asked);
    return std::nullopt;
}

awaitable<void> Session::on_atrn(std::string_view args) {
    std::vector<std::string> domains;
    if (std::optional<Reply> refusal = check_atrn(args, domains)) {
        if (refusal->code == 501) ++bad_;
        reply(*refusal);
        co_return;
    }
    std::size_t held = 0;
    bool failed = false;
    try {
        held = co_await svc_.odmr.held_count(domains);
    } catch (const std::exception& e) {
        spdlog::error("smtp {}: ATRN: cannot count held mail: {}", client(), e.what());
        failed = true;
    }
    if (failed) {
        reply(451, esc::kSystemError, "Unable to process ATRN request now");
        co_return;
    }
    if (held == 0) {
        reply(453, esc::kOther, "You have no mail");
        co_return;
    }
    // After 250 the next bytes must be the customer's 220 as a server; anything already sent was
    // written before it saw our answer, so it is out of step (and, as after STARTTLS, would be read as
    // if it came from the other role).
    if (refuse_pipelined("ATRN")) co_return;
    reply(250, esc::kOk, "OK now reversing the connection");
    co_await flush();
    spdlog::info("smtp {}: ATRN by {} for {}: {} held, reversing", client(), auth_user_, fmt::join(domains, ","), held);
    co_await turn(domains);
    quit_ = true;   // the hook said QUIT as the client: the connection is done
}

awaitable<void> Session::turn(const std::vector<std::string>& domains) {
    AtrnOutcome outcome;
    try {
        outcome = co_await svc_.odmr.turn(conn_, auth_user_, domains);
    } catch (const std::exception& e) {
        outcome.error = e.what();
    }
    if (outcome.error.empty())
        spdlog::info("smtp {}: ATRN done: delivered={}, deferred={}, failed={}", client(), outcome.delivered,
                     outcome.deferred, outcome.failed);
    else
        spdlog::warn("smtp {}: ATRN stopped: delivered={}, deferred={}, failed={}: {}", client(), outcome.delivered,
                     outcome.deferred, outcome.failed, outcome.error);
}

}  // namespace

awaitable<SmtpSessionEnd> smtp_session(Connection& conn, Services& services, SmtpRole role) {
    Session s(conn, services, role);
    co_return co_await s.run();
}

}  // namespace mk
