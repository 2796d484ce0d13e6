// pop3/server_session.cpp — the POP3 server session (RFC 1939, 2449, 2595, 3206, 5034); talks to untrusted
// clients; reads one locked maildrop through store/ and deletes from it only in the UPDATE state.
#include "pop3/server_session.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/durable.hpp"
#include "core/ip.hpp"
#include "core/password.hpp"
#include "core/text.hpp"
#include "net/dot_stuffer.hpp"
#include "net/offload.hpp"
#include "net/sasl.hpp"
#include "pop3/command.hpp"
#include "store/maildir.hpp"

namespace mk {

namespace {

using pop3::Command;
using pop3::Reply;
using pop3::RespCode;
using pop3::Verb;

// RFC 1939 3: "an autologout timer ... of at least 10 minutes".
constexpr std::chrono::minutes kIdleTimeout{10};
// One write (a reply, or one chunk of a message) must get through in this long.
constexpr std::chrono::seconds kWriteTimeout{60};
// The STLS handshake, from "+OK" to the first encrypted command.
constexpr std::chrono::seconds kTlsHandshakeTimeout{60};
// Last words to a client we are dropping (timeout, lifetime): not worth waiting longer for.
constexpr std::chrono::seconds kGoodbyeTimeout{5};
// A session holds the maildrop lock; past this it is ended at its next command (never inside a RETR),
// so a client that NOOPs forever cannot keep the maildrop from everyone else. Nothing is deleted then.
constexpr std::chrono::hours kMaxSessionLifetime{2};
// Errors answered before the session is closed (Dovecot's bad-command cap; every -ERR counts).
constexpr unsigned kMaxBadCommands = 10;
// Message files are read, stuffed and written in chunks of this size: RETR memory is bounded by it.
constexpr std::size_t kRetrChunk = 64 * 1024;

enum class State { authorization, transaction, update };   // RFC 1939 3

// in - the bit of a state in CommandRow::states.
constexpr unsigned in(State s) { return 1u << static_cast<unsigned>(s); }

// state_name - RFC 1939's name of a state, for logs.
std::string_view state_name(State s) {
    switch (s) {
    case State::authorization: return "AUTHORIZATION";
    case State::transaction: return "TRANSACTION";
    case State::update: return "UPDATE";
    }
    return "?";
}

// What the loop does once a handler has answered.
enum class Next { proceed, close };

class Session;
using Handler = awaitable<Next> (Session::*)(const Command&);

// One row of the command table: the verb, its handler, the states it is legal in, and whether it may
// run on a plaintext connection from a non-loopback peer (false: it carries a password).
struct CommandRow {
    Verb verb;
    Handler handler;
    unsigned states;
    bool before_tls;
};

// names_user - whether a SASL authorization identity is the authenticated user itself (by name or one of
// its addresses). Acting as someone else (proxy authorization) is not offered.
bool names_user(const UserConfig& u, std::string_view id) {
    if (id == u.name) return true;
    for (const auto& a : u.addresses)
        if (iequals(a, id)) return true;
    return false;
}

// MaildropGuard - releases the maildrop lock when the session ends, whatever way it ends.
class MaildropGuard {
public:
    MaildropGuard(MaildropLocks& locks, std::string user) : locks_(locks), user_(std::move(user)) {}
    ~MaildropGuard() { locks_.unlock(user_); }
    MaildropGuard(const MaildropGuard&) = delete;
    MaildropGuard& operator=(const MaildropGuard&) = delete;
    const std::string& user() const { return user_; }

private:
    MaildropLocks& locks_;
    std::string user_;
};


class Session {
public:
    Session(Connection& conn, Services& services)
        : conn_(conn), services_(services), config_(services.config), peer_(conn.remote_address().to_string()),
          started_(std::chrono::steady_clock::now()) {}

    // run - the command loop, from greeting to QUIT, close, timeout or the error cap.
    awaitable<void> run();
    // log_end - the one closing log line: logout with counts after a login, disconnect before.
    void log_end() const;
    // set_end_reason - why the session ended, for log_end (the caller knows when run() threw).
    void set_end_reason(std::string reason) { end_reason_ = std::move(reason); }

private:
    // Handlers: each checks (no side effects) and then acts; each answers exactly once.
    awaitable<Next> cmd_user(const Command& c);
    awaitable<Next> cmd_pass(const Command& c);
    awaitable<Next> cmd_auth(const Command& c);
    awaitable<Next> cmd_stat(const Command& c);
    awaitable<Next> listing(const Command& c, std::string_view title,
                            const std::function<std::string(std::size_t)>& field);
    awaitable<Next> cmd_list(const Command& c);
    awaitable<Next> cmd_retr(const Command& c);
    awaitable<Next> cmd_dele(const Command& c);
    awaitable<Next> cmd_noop(const Command& c);
    awaitable<Next> cmd_rset(const Command& c);
    awaitable<Next> cmd_quit(const Command& c);
    awaitable<Next> cmd_top(const Command& c);
    awaitable<Next> cmd_uidl(const Command& c);
    awaitable<Next> cmd_capa(const Command& c);
    awaitable<Next> cmd_stls(const Command& c);

    static const std::array<CommandRow, 14> kCommands;
    // find_row - the command table row of a verb.
    static const CommandRow* find_row(Verb v);

    // secure - whether a password may cross this connection: TLS, or a peer on this very machine.
    bool secure() const { return conn_.tls() || is_loopback(conn_.remote_address()); }
    // set_state - the one place the state changes, logged old -> new.
    void set_state(State s);

    // send - bytes to the client within kWriteTimeout, or throw (the session then ends, deleting nothing).
    awaitable<void> send(std::string_view bytes) { co_await conn_.write(bytes, kWriteTimeout); }
    // respond - send one status line; every -ERR counts toward kMaxBadCommands.
    awaitable<Next> respond(Reply r);
    // goodbye - a last -ERR to a client being dropped; a write failure then no longer matters.
    awaitable<void> goodbye(Reply r);
    // login - check a user name (or address) and password, then lock and snapshot the maildrop.
    awaitable<Next> login(const std::string& login, const std::string& password, std::string_view authzid,
                          std::string_view method);
    // update - RFC 1939 6: remove the messages marked deleted, then sign off.
    awaitable<Next> update();
    // remove_deleted - UPDATE's unlinks (blocking: run on the offload pool); returns how many failed.
    std::size_t remove_deleted();

    struct Lookup {
        std::size_t index = 0;
        std::optional<Reply> refusal;   // set: the message number names no live message
    };
    // lookup - message number n (1-based, RFC 1939 3) to an index into the snapshot, or why not.
    Lookup lookup(std::uint64_t n) const;
    // stream_message - "+OK" then the file through TopFilter (TOP) and DotStuffer, 64 KiB at a time;
    // counts a whole message sent in retrieved_.
    awaitable<Next> stream_message(std::size_t index, std::optional<std::uint64_t> top_lines);
    struct Totals {
        std::size_t count = 0;
        std::uint64_t octets = 0;
    };
    // live - count and octets of the messages not marked deleted (RFC 1939 5: those are what STAT counts).
    Totals live() const;
    // drop_summary - "N messages (M octets)" of the live messages.
    std::string drop_summary() const;

    Connection& conn_;
    Services& services_;
    const ConfigPtr config_;   // the config at session start; a SIGHUP does not change a running session
    const std::string peer_;
    const std::chrono::steady_clock::time_point started_;

    State state_ = State::authorization;
    std::string pending_user_;   // from USER, until PASS (RFC 1939 7); forgotten after STLS
    unsigned errors_ = 0;

    // TRANSACTION only: held from login to the end of the session (RFC 1939 8).
    std::optional<MaildropGuard> lock_;
    std::optional<Maildir> maildir_;
    std::vector<Maildir::Message> messages_;   // the snapshot: numbers and sizes fixed (RFC 1939 3)
    std::vector<bool> deleted_;

    unsigned retrieved_ = 0;
    std::size_t removed_ = 0;
    std::string end_reason_ = "closed";
};

const std::array<CommandRow, 14> Session::kCommands{{
    // verb, handler, states it is legal in, allowed on plaintext from a non-loopback peer
    {Verb::user, &Session::cmd_user, in(State::authorization), false},
    {Verb::pass, &Session::cmd_pass, in(State::authorization), false},
    {Verb::auth, &Session::cmd_auth, in(State::authorization), false},
    {Verb::stls, &Session::cmd_stls, in(State::authorization), true},                 // RFC 2595 4
    {Verb::capa, &Session::cmd_capa, in(State::authorization) | in(State::transaction), true},  // RFC 2449 5
    {Verb::quit, &Session::cmd_quit, in(State::authorization) | in(State::transaction), true},
    {Verb::stat, &Session::cmd_stat, in(State::transaction), true},
    {Verb::list, &Session::cmd_list, in(State::transaction), true},
    {Verb::retr, &Session::cmd_retr, in(State::transaction), true},
    {Verb::dele, &Session::cmd_dele, in(State::transaction), true},
    {Verb::noop, &Session::cmd_noop, in(State::transaction), true},
    {Verb::rset, &Session::cmd_rset, in(State::transaction), true},
    {Verb::top, &Session::cmd_top, in(State::transaction), true},
    {Verb::uidl, &Session::cmd_uidl, in(State::transaction), true},
}};

// find_row - the command table row of a verb.
const CommandRow* Session::find_row(Verb v) {
    for (const auto& row : kCommands)
        if (row.verb == v) return &row;
    return nullptr;
}

// set_state - the one place the state changes, logged old -> new.
void Session::set_state(State s) {
    spdlog::debug("pop3 ip={} state {} -> {}", peer_, state_name(state_), state_name(s));
    state_ = s;
}

awaitable<Next> Session::respond(Reply r) {
    if (!r.ok && ++errors_ >= kMaxBadCommands) {
        // The cap replaces the answer to the last bad command: one reply per command, then close.
        spdlog::warn("pop3 ip={} too many errors, last: {}", peer_, r.text);
        end_reason_ = "too many errors";
        co_await send(pop3::format_reply(Reply::failure("too many errors")));
        co_return Next::close;
    }
    co_await send(pop3::format_reply(r));
    co_return Next::proceed;
}

awaitable<void> Session::goodbye(Reply r) {
    try {
        co_await conn_.write(pop3::format_reply(r), kGoodbyeTimeout);
    } catch (const std::exception&) {
        // The peer is gone or stuck; it was about to be dropped anyway.
    }
}

awaitable<void> Session::run() {
    spdlog::info("pop3 connect ip={} tls={}", peer_, conn_.tls());
    co_await send(pop3::format_reply(Reply::success("mailkeep POP3 ready")));

    while (state_ != State::update) {
        pop3::ParseResult parsed;
        {
            LineResult line = co_await conn_.read_line(pop3::kMaxCommandText, kIdleTimeout);
            switch (line.status) {
            case ReadStatus::closed:
                end_reason_ = "closed";   // RFC 1939 6: no QUIT, no UPDATE: nothing is deleted
                co_return;
            case ReadStatus::timeout:
                end_reason_ = "idle timeout";
                co_await goodbye(Reply::failure("autologout: idle for too long"));
                co_return;
            case ReadStatus::too_long:
                if (co_await respond(Reply::failure("line too long")) == Next::close) co_return;
                continue;
            case ReadStatus::ok:
                break;
            }
            // Checked when a command arrives: a RETR under way is never cut, and the client is told
            // why it is dropped (in answer to its command, so the reply pairs up).
            if (std::chrono::steady_clock::now() - started_ > kMaxSessionLifetime) {
                end_reason_ = "session lifetime";
                co_await goodbye(Reply::failure("session time limit reached", RespCode::sys_temp));
                co_return;
            }
            // The line view dies at the next read; the parsed command owns copies of its arguments.
            parsed = pop3::parse_command(line.line);
        }

        // Check: syntax, then state, then transport; nothing has changed yet.
        if (!parsed.ok()) {
            spdlog::debug("pop3 ip={} bad command: {}", peer_, pop3::error_text(parsed.error));
            if (co_await respond(Reply::failure(std::string(pop3::error_text(parsed.error)))) == Next::close)
                co_return;
            continue;
        }
        const Command& cmd = parsed.command;
        const CommandRow* row = find_row(cmd.verb);
        spdlog::trace("pop3 ip={} {}", peer_, pop3::verb_name(cmd.verb));   // never the arguments: PASS
        if (!row || !(row->states & in(state_))) {
            if (co_await respond(Reply::failure("command not valid in this state")) == Next::close) co_return;
            continue;
        }
        if (!row->before_tls && !secure()) {
            if (co_await respond(Reply::failure("plaintext authentication disallowed without TLS", RespCode::auth)) ==
                Next::close)
                co_return;
            continue;
        }
        // Act.
        if (co_await (this->*row->handler)(cmd) == Next::close) co_return;
    }
}

void Session::log_end() const {
    if (lock_) {
        spdlog::info("pop3 logout user={} ip={} retrieved={} deleted={} reason={}", lock_->user(), peer_,
                     retrieved_, removed_, end_reason_);
    } else {
        spdlog::info("pop3 disconnect ip={} reason={}", peer_, end_reason_);
    }
}

// ---- AUTHORIZATION -------------------------------------------------------------------------------

// cmd_user - USER name (RFC 1939 7): remembered for PASS.
awaitable<Next> Session::cmd_user(const Command& c) {
    // Always +OK: whether the name exists is told only together with a right password.
    pending_user_ = c.args[0];
    co_return co_await respond(Reply::success("send PASS"));
}

// cmd_pass - PASS string (RFC 1939 7): log in as the USER just given.
awaitable<Next> Session::cmd_pass(const Command& c) {
    if (pending_user_.empty()) co_return co_await respond(Reply::failure("USER first"));
    // RFC 1939 7: after PASS, right or wrong, a new attempt starts again with USER.
    std::string user = std::exchange(pending_user_, {});
    co_return co_await login(user, c.args[0], {}, "USER");
}

// cmd_auth - AUTH PLAIN [initial-response] (RFC 5034 4, RFC 4616).
awaitable<Next> Session::cmd_auth(const Command& c) {
    pending_user_.clear();
    if (!iequals(c.args[0], "PLAIN"))   // RFC 5034 4: an unsupported mechanism is refused
        co_return co_await respond(Reply::failure("unsupported authentication mechanism"));

    std::string response;
    if (c.args.size() == 2) {
        response = c.args[1];   // initial response (RFC 5034 4); "=" is the empty one
    } else {
        // RFC 5034 4: an empty challenge, then the client's response on a line of its own.
        co_await send("+ \r\n");
        LineResult line = co_await conn_.read_line(pop3::kMaxAuthLine, kIdleTimeout);
        switch (line.status) {
        case ReadStatus::closed:
            end_reason_ = "closed";
            co_return Next::close;
        case ReadStatus::timeout:
            end_reason_ = "idle timeout";
            co_await goodbye(Reply::failure("autologout: idle for too long"));
            co_return Next::close;
        case ReadStatus::too_long:
            co_return co_await respond(Reply::failure("line too long"));
        case ReadStatus::ok:
            break;
        }
        if (line.line == "*") co_return co_await respond(Reply::failure("authentication cancelled"));
        response.assign(line.line);
    }
    std::optional<SaslCredentials> creds = decode_plain(response);
    // RFC 5034 4: a response that is not valid base64 (or not PLAIN's three fields) fails the AUTH.
    if (!creds) co_return co_await respond(Reply::failure("invalid SASL response"));
    co_return co_await login(creds->authcid, creds->password, creds->authzid, "PLAIN");
}

// login - credentials to a user (throttled on failure), then the maildrop lock and snapshot.
awaitable<Next> Session::login(const std::string& login, const std::string& password, std::string_view authzid,
                               std::string_view method) {
    const asio::ip::address& addr = conn_.remote_address();
    // crypt(3) takes milliseconds by design: it runs on the blocking pool, not the network thread.
    const UserConfig* user = nullptr;
    if (!login.empty() && !password.empty())
        user = co_await offload([&] { return authenticate(*config_, login, password); });
    if (user && !authzid.empty() && !names_user(*user, authzid)) user = nullptr;

    if (!user) {
        const std::chrono::milliseconds delay = co_await services_.throttle.failed(addr);
        spdlog::warn("pop3 auth failed login={} ip={} method={} delay={}ms", login, peer_, method,
                     delay.count());
        co_return co_await respond(Reply::failure("invalid credentials", RespCode::auth));   // RFC 3206 5
    }
    services_.throttle.record_success(addr);

    // RFC 1939 8 / RFC 2449 8.1.1: one session per maildrop.
    std::string name = user->name;
    if (!services_.maildrop_locks.try_lock(name)) {
        spdlog::info("pop3 login user={} ip={} refused: maildrop in use", name, peer_);
        co_return co_await respond(Reply::failure("maildrop already locked", RespCode::in_use));
    }
    lock_.emplace(services_.maildrop_locks, std::move(name));
    // Mail that was on the user's provider a moment ago should be here now: stale accounts are
    // fetched first, for at most [fetch] login_wait.
    if (services_.before_login) co_await services_.before_login(lock_->user());

    bool listed = false;
    try {
        // Read only: a user who never received mail has no maildir yet, which list() reports as empty.
        // A maildrop of 100,000 messages takes a while to read, and a file another program wrote
        // without its CRLF size in the name is read to measure it: not on the network thread.
        Maildir md(maildir_path(config_->data_dir, lock_->user()));
        messages_ = co_await offload([&] { return md.list(); });
        maildir_.emplace(std::move(md));
        listed = true;
    } catch (const std::exception& e) {
        spdlog::error("pop3 user={} ip={} cannot read maildrop: {}", lock_->user(), peer_, e.what());
    }
    if (!listed) {
        messages_.clear();
        maildir_.reset();
        lock_.reset();
        co_return co_await respond(Reply::failure("maildrop unavailable", RespCode::sys_temp));
    }
    deleted_.assign(messages_.size(), false);
    set_state(State::transaction);

    spdlog::info("pop3 login user={} ip={} method={} tls={} messages={} octets={}", lock_->user(), peer_, method,
                 conn_.tls(), messages_.size(), live().octets);
    co_return co_await respond(Reply::success("maildrop has " + drop_summary()));
}

// cmd_stls - STLS (RFC 2595 4): upgrade to TLS, then AUTHORIZATION afresh.
awaitable<Next> Session::cmd_stls(const Command&) {
    // Check.
    if (conn_.tls()) co_return co_await respond(Reply::failure("already using TLS"));   // RFC 2595 4
    if (!services_.tls) co_return co_await respond(Reply::failure("STLS not available"));
    if (conn_.buffered() > 0) {
        // RFC 2595 / Postfix: plaintext sent behind STLS would be read as if it came over TLS.
        spdlog::warn("pop3 ip={} STLS refused: {} bytes pipelined behind it", peer_, conn_.buffered());
        co_return co_await respond(Reply::failure("pipelined commands after STLS refused"));
    }
    // Act.
    co_await send(pop3::format_reply(Reply::success("begin TLS negotiation")));
    try {
        co_await conn_.start_tls(*services_.tls, kTlsHandshakeTimeout);
    } catch (const std::exception& e) {
        spdlog::info("pop3 ip={} TLS handshake failed: {}", peer_, e.what());
        end_reason_ = "tls handshake failed";
        co_return Next::close;
    }
    // RFC 2595 4: start over in AUTHORIZATION; nothing said in plaintext carries over.
    pending_user_.clear();
    spdlog::info("pop3 starttls ip={} {}", peer_, conn_.tls_description());
    co_return Next::proceed;
}

// cmd_capa - CAPA (RFC 2449 5): what this session offers right now.
awaitable<Next> Session::cmd_capa(const Command&) {
    // RFC 2449 5; RFC 2595 4 (STLS); RFC 5034 (SASL); RFC 3206 (AUTH-RESP-CODE). USER and SASL are
    // announced only where they would be accepted, so a client does not send a password in vain.
    std::string out = pop3::format_reply(Reply::success("capability list follows"));
    out += "TOP\r\nUIDL\r\n";
    if (secure()) out += "USER\r\n";
    out += "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
    if (secure()) out += "SASL PLAIN\r\n";
    if (!conn_.tls() && services_.tls && state_ == State::authorization) out += "STLS\r\n";
    out += "IMPLEMENTATION mailkeep\r\n.\r\n";
    co_await send(out);
    co_return Next::proceed;
}

// cmd_quit - QUIT: sign off, through UPDATE when logged in (RFC 1939 4, 6).
awaitable<Next> Session::cmd_quit(const Command&) {
    if (state_ == State::transaction) co_return co_await update();
    // RFC 1939 4: QUIT in AUTHORIZATION ends the session without UPDATE.
    end_reason_ = "quit";
    co_await send(pop3::format_reply(Reply::success("mailkeep POP3 signing off")));
    co_return Next::close;
}

// ---- TRANSACTION ---------------------------------------------------------------------------------

// lookup - message number n to its snapshot index, or the reply refusing it.
Session::Lookup Session::lookup(std::uint64_t n) const {
    Lookup l;
    if (n == 0 || n > messages_.size()) {
        l.refusal = Reply::failure("no such message");
        return l;
    }
    l.index = static_cast<std::size_t>(n - 1);
    if (deleted_[l.index]) l.refusal = Reply::failure("message deleted");   // RFC 1939 5
    return l;
}

Session::Totals Session::live() const {
    Totals t;
    for (std::size_t i = 0; i < messages_.size(); ++i) {
        if (deleted_[i]) continue;
        ++t.count;
        t.octets += messages_[i].size;
    }
    return t;
}

std::string Session::drop_summary() const {
    Totals t = live();
    return fmt::format("{} messages ({} octets)", t.count, t.octets);
}

// cmd_stat - STAT (RFC 1939 5): count and octets of the live messages.
awaitable<Next> Session::cmd_stat(const Command&) {
    Totals t = live();   // RFC 1939 5: "+OK nn mm"
    co_return co_await respond(Reply::success(fmt::format("{} {}", t.count, t.octets)));
}

// listing - LIST and UIDL share their shape: one message's line, or a line for each message not
// deleted, sent in chunks; field(i) is what follows the message number.
awaitable<Next> Session::listing(const Command& c, std::string_view title,
                                 const std::function<std::string(std::size_t)>& field) {
    if (c.msg) {
        Lookup l = lookup(*c.msg);
        if (l.refusal) co_return co_await respond(*l.refusal);
        co_return co_await respond(Reply::success(fmt::format("{} {}", *c.msg, field(l.index))));
    }
    std::string out = pop3::format_reply(Reply::success(std::string(title)));
    for (std::size_t i = 0; i < messages_.size(); ++i) {
        if (deleted_[i]) continue;
        out += fmt::format("{} {}\r\n", i + 1, field(i));
        if (out.size() >= kRetrChunk) {
            co_await send(out);
            out.clear();
        }
    }
    out += ".\r\n";
    co_await send(out);
    co_return Next::proceed;
}

// cmd_list - LIST [msg] (RFC 1939 5): scan listings.
awaitable<Next> Session::cmd_list(const Command& c) {
    co_return co_await listing(c, drop_summary(), [this](std::size_t i) { return std::to_string(messages_[i].size); });
}

// cmd_uidl - UIDL [msg] (RFC 1939 7): unique-id listings.
awaitable<Next> Session::cmd_uidl(const Command& c) {
    co_return co_await listing(c, "unique-id listing follows",
                               [this](std::size_t i) { return pop3::unique_id(messages_[i].uid); });
}

namespace {

// A chunk of a message file: the bytes, or the errno of the failure.
struct Chunk {
    std::string bytes;
    int error = 0;
};

// read_chunk - up to want bytes at offset (fewer only at the end of the file). With nowait, only
// what the page cache holds (RWF_NOWAIT): the rest, if any, is left for the blocking pool.
Chunk read_chunk(int fd, std::uint64_t offset, std::size_t want, bool nowait) {
    Chunk c;
    c.bytes.resize(want);
    std::size_t got = 0;
    while (got < want) {
        iovec iov{c.bytes.data() + got, want - got};
        ssize_t n = ::preadv2(fd, &iov, 1, static_cast<off_t>(offset + got), nowait ? RWF_NOWAIT : 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && nowait && (errno == EAGAIN || errno == EOPNOTSUPP)) break;
        if (n < 0) {
            c.error = errno;
            break;
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
        if (nowait) break;   // a short read may mean "the rest is not cached": the pool reads on
    }
    c.bytes.resize(got);
    return c;
}

}  // namespace

awaitable<Next> Session::stream_message(std::size_t index, std::optional<std::uint64_t> top_lines) {
    // Check: the file must open before "+OK" goes out; after it, only closing can signal a failure.
    Maildir::Message& message = messages_[index];
    Fd file = maildir_->open(message);
    struct stat st {};
    if (!file || ::fstat(file.get(), &st) != 0) {
        int err = errno;
        spdlog::warn("pop3 user={} ip={} message {} ({}) unreadable: {}", lock_->user(), peer_, index + 1,
                     message.uid, std::strerror(err));
        co_return co_await respond(
            Reply::failure(err == ENOENT ? "message gone" : "message unreadable", RespCode::sys_temp));
    }
    // Maildir files do not change once delivered: their size bounds the reads.
    const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);

    // Act. RFC 1939 RETR/TOP: "+OK", the dot-stuffed lines, ".". What the page cache holds is read
    // here at once; what would wait for the disk is read on the blocking pool, so that a cold disk
    // stalls this session only (a trip to the pool for every message would halve the POP3 rate).
    std::string out = pop3::format_reply(top_lines ? Reply::success("top of message follows")
                                                   : Reply::success(fmt::format("{} octets", message.size)));
    DotStuffer stuffer;
    std::optional<pop3::TopFilter> top;
    if (top_lines) top.emplace(*top_lines);
    std::uint64_t offset = 0;
    while (offset < size && !(top && top->done())) {
        const int fd = file.get();
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size - offset, kRetrChunk));
        Chunk chunk = read_chunk(fd, offset, want, true);
        if (chunk.error == 0 && chunk.bytes.size() < want) {
            const std::uint64_t at = offset + chunk.bytes.size();
            const std::size_t rest = want - chunk.bytes.size();
            Chunk cold = co_await offload([fd, at, rest] { return read_chunk(fd, at, rest, false); });
            chunk.bytes += cold.bytes;
            chunk.error = cold.error;
            if (chunk.error == 0 && chunk.bytes.size() < want) chunk.error = EIO;   // shorter than it was
        }
        if (chunk.error != 0) {
            // Half a message must never look like a whole one: no terminator, drop the connection.
            spdlog::error("pop3 user={} ip={} read of message {} failed: {}", lock_->user(), peer_, index + 1,
                          std::strerror(chunk.error));
            end_reason_ = "message read error";
            co_return Next::close;
        }
        offset += chunk.bytes.size();
        stuffer.feed(top ? top->feed(chunk.bytes) : std::string_view(chunk.bytes), out);
        if (out.size() >= kRetrChunk) {
            co_await send(out);
            out.clear();
        }
    }
    stuffer.finish(out);
    co_await send(out);
    // Counted when the whole message went out: RETR, or a TOP asking for more lines than the body has
    // (fetchmail's "TOP n 99999999", which downloads without marking anything seen).
    if (!top || !top->done()) ++retrieved_;
    co_return Next::proceed;
}

// cmd_retr - RETR msg (RFC 1939 5): the whole message.
awaitable<Next> Session::cmd_retr(const Command& c) {
    Lookup l = lookup(*c.msg);
    if (l.refusal) co_return co_await respond(*l.refusal);
    co_return co_await stream_message(l.index, std::nullopt);
}

// cmd_top - TOP msg n (RFC 1939 7): the header and the first n body lines.
awaitable<Next> Session::cmd_top(const Command& c) {
    Lookup l = lookup(*c.msg);
    if (l.refusal) co_return co_await respond(*l.refusal);
    co_return co_await stream_message(l.index, c.lines);
}

// cmd_dele - DELE msg (RFC 1939 5): mark for removal at QUIT.
awaitable<Next> Session::cmd_dele(const Command& c) {
    Lookup l = lookup(*c.msg);
    if (l.refusal) co_return co_await respond(*l.refusal);
    // RFC 1939 5: only marked; the file goes in UPDATE, after QUIT, never on a dropped connection.
    deleted_[l.index] = true;
    co_return co_await respond(Reply::success(fmt::format("message {} deleted", *c.msg)));
}

// cmd_noop - NOOP (RFC 1939 5).
awaitable<Next> Session::cmd_noop(const Command&) { co_return co_await respond(Reply::success("")); }

// cmd_rset - RSET (RFC 1939 5): unmark every message.
awaitable<Next> Session::cmd_rset(const Command&) {
    deleted_.assign(messages_.size(), false);
    co_return co_await respond(Reply::success("maildrop has " + drop_summary()));
}

// ---- UPDATE --------------------------------------------------------------------------------------

std::size_t Session::remove_deleted() {
    // Names may have changed since the snapshot (new/ -> cur/, flags): remove by uid from a fresh
    // listing, or remove() would find nothing, call that success, and leave the message behind.
    std::unordered_map<std::string, std::string> current;
    try {
        current = maildir_->paths();
    } catch (const std::exception& e) {
        spdlog::warn("pop3 user={} cannot relist maildrop before UPDATE: {}", lock_->user(), e.what());
    }
    std::size_t failed = 0;
    for (std::size_t i = 0; i < messages_.size(); ++i) {
        if (!deleted_[i]) continue;
        Maildir::Message m = messages_[i];
        if (auto it = current.find(m.uid); it != current.end()) m.path = it->second;
        try {
            maildir_->remove(m);
            ++removed_;
        } catch (const std::exception& e) {
            ++failed;
            spdlog::error("pop3 user={} cannot remove {}: {}", lock_->user(), m.path, e.what());
        }
    }
    return failed;
}

awaitable<Next> Session::update() {
    set_state(State::update);
    end_reason_ = "quit";

    std::size_t marked = 0;
    for (bool d : deleted_) marked += d ? 1 : 0;
    // The relisting and the unlinks run on the blocking pool: thousands of them would stall every
    // other session on the network thread.
    std::size_t failed = 0;
    if (marked > 0) failed = co_await offload([this] { return remove_deleted(); });
    if (failed > 0) {
        // RFC 1939 6: "-ERR" when some deleted messages were not removed; the session ends either way.
        co_await send(pop3::format_reply(Reply::failure("some deleted messages not removed", RespCode::sys_temp)));
        co_return Next::close;
    }
    std::size_t left = messages_.size() - marked;
    co_await send(pop3::format_reply(Reply::success(
        fmt::format("mailkeep POP3 signing off ({} messages deleted, {} left)", removed_, left))));
    co_return Next::close;
}

}  // namespace

awaitable<void> pop3_session(Connection& conn, Services& services) {
    Session session(conn, services);
    try {
        co_await session.run();
    } catch (const std::exception& e) {
        // A write that failed or timed out: the peer is gone. Nothing was deleted unless UPDATE ran.
        session.set_end_reason(conn.timed_out() ? "write timeout" : std::string("error: ") + e.what());
    }
    session.log_end();
    // The maildrop lock is released by ~Session, on this path and on every other.
}

}  // namespace mk
