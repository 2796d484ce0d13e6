// pop3/client.cpp — the POP3 client used by the fetcher (RFC 1939, 2449 CAPA, 2595 STLS, 5034 AUTH); the
// provider's server is untrusted: every line is bounded, every response checked, every listing verified.
//
// One connection, one state machine: connected (implicit TLS) -> authorization (greeting, CAPA,
// STLS and CAPA again, login) -> transaction (LIST/UIDL, RETR, DELE) -> closed after QUIT. A network
// failure, a timeout or a protocol violation makes the session broken: the connection is closed without
// QUIT, so the server never enters its UPDATE state and no DELE of this session takes effect (RFC 1939 6).
// A plain -ERR to RETR or DELE leaves the session usable.
#include "pop3/client.hpp"

#include <algorithm>
#include <climits>
#include <unordered_set>
#include <utility>

#include <boost/asio/ssl.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/base64.hpp"
#include "core/sha256.hpp"
#include "core/text.hpp"
#include "net/connection.hpp"
#include "net/sasl_client.hpp"
#include "pop3/command.hpp"

namespace mk::pop3 {

namespace {

using namespace std::chrono_literals;
namespace ssl = boost::asio::ssl;
using Duration = std::chrono::steady_clock::duration;

// RFC 2449 5 sets no number of CAPA lines; servers send about ten, so 100 is a server talking without end.
constexpr std::size_t kMaxCapaLines = 100;
// RFC 1939 sets no maildrop size. One listing entry costs about 100 bytes here (number, size, uid), so
// this caps a LIST/UIDL at ~25 MB of memory; a maildrop larger than this cannot be fetched over POP3
// in any sensible cycle and is reported instead.
constexpr std::size_t kMaxListing = 250'000;
// The message is handed to the sink in pieces of at most this many bytes (bounded memory whatever its
// size; the same figure as the SMTP client's data chunk).
constexpr std::size_t kSinkChunk = 64 * 1024;
// RFC 2449 6.6 PIPELINING lets the client send commands without waiting, but a client that writes
// without reading can deadlock against a server whose responses fill the socket buffers: TOP n 0 goes
// out in groups of this many (~1.2 KiB of commands, each answered by a header block).
constexpr std::size_t kMaxPipelineGroup = 100;

enum class State { connected, authorization, transaction, broken, closed };

// state_name - for the log.
const char* state_name(State s) {
    switch (s) {
        case State::connected: return "connected";
        case State::authorization: return "authorization";
        case State::transaction: return "transaction";
        case State::broken: return "broken";
        case State::closed: return "closed";
    }
    return "?";
}

// summary - "-ERR [AUTH] text" for logs and errors (the text is already free of control characters).
std::string summary(const Response& r) {
    std::string s = r.indicator == Indicator::ok ? "+OK" : r.indicator == Indicator::err ? "-ERR" : "+";
    std::string_view code = resp_code_text(r.code);
    if (!code.empty()) s += fmt::format(" [{}]", code);
    if (!r.text.empty() && r.indicator != Indicator::more) s += " " + r.text;
    return s;
}

// temporary - a refusal whose response code says it may pass (RFC 3206 4 SYS/TEMP, RFC 2449 8.1 IN-USE,
// LOGIN-DELAY).
bool temporary(RespCode code) {
    return code == RespCode::sys_temp || code == RespCode::in_use || code == RespCode::login_delay;
}

// credentials - a login refusal aimed at the credentials: [AUTH], or no code at all. RFC 3206 and RFC
// 2449 8.1 codes say when the cause lies elsewhere (SYS/TEMP, SYS/PERM, IN-USE, LOGIN-DELAY): those are
// not reported as auth failures, so the fetcher does not tell the user to fix a password that is right.
bool credentials(RespCode code) { return code == RespCode::auth || code == RespCode::none; }

// The concrete client over one mk::Connection; it frames the SASL exchanges of AUTH itself. Closing
// without QUIT (ClientSession) keeps the server out of UPDATE: nothing marked here is deleted (RFC 1939 6).
class Pop3Client final : public Client, public ClientSession, private SaslFraming {
public:
    Pop3Client(std::unique_ptr<Connection> conn, ClientOptions options, std::shared_ptr<ssl::context> tls_ctx)
        : ClientSession(std::move(conn), std::move(tls_ctx), options.server_name),
          options_(std::move(options)),
          timeout_(idle_timeout(options_)) {}

    // open - everything start() promises on this connection; throws ClientError.
    awaitable<void> open();

    awaitable<std::vector<MessageInfo>> messages() override;
    awaitable<void> retrieve(unsigned number, const std::function<void(std::string_view)>& sink,
                             unsigned next = 0) override;
    awaitable<void> remove(unsigned number) override;
    awaitable<void> quit() override;
    std::string peer() const override { return peer_; }

private:
    void set_state(State s);
    void broken() override { set_state(State::broken); }
    [[noreturn]] void login_error(const std::string& what, const Response& r);
    void require_transaction(const char* what) const;
    awaitable<Response> read_response(const char* what, bool continuation = false,
                                      std::size_t max = kMaxResponseText);
    awaitable<Response> command(std::string line, const char* what, bool continuation = false,
                                std::size_t max = kMaxResponseText);
    awaitable<void> read_lines(const char* what, std::size_t max_lines,
                               const std::function<void(std::string_view)>& line_fn);
    awaitable<void> read_body(const std::string& what, const std::function<void(std::string_view)>& sink);
    awaitable<bool> capa();
    awaitable<void> stls();
    awaitable<void> login();
    awaitable<void> user_pass(const std::string& password);
    awaitable<SaslStep> sasl_start(std::string_view mechanism, const std::optional<std::string>& initial) override;
    awaitable<SaslStep> sasl_respond(std::string_view response) override;
    awaitable<SaslStep> sasl_cancel() override;
    awaitable<void> uids_from_top(std::vector<MessageInfo>& list);
    awaitable<void> drain_ahead();

    ClientOptions options_;
    Duration timeout_;
    State state_ = State::connected;
    Capabilities caps_;
    std::optional<unsigned> ahead_;   // a RETR sent ahead (pipelined), its answer not yet read
};

// sasl_step - a response as a step of an AUTH exchange (RFC 5034 4): "+" carries a challenge.
SaslStep sasl_step(const Response& r) {
    if (r.indicator == Indicator::more) return SaslStep{SaslStep::Kind::challenge, r.text};
    if (r.indicator == Indicator::ok) return SaslStep{SaslStep::Kind::success};
    return SaslStep{SaslStep::Kind::failure, {}, 0, temporary(r.code), credentials(r.code), summary(r)};
}

// set_state - the one place the session changes state, logged old -> new.
void Pop3Client::set_state(State s) {
    if (s != state_) spdlog::debug("pop3 client {}: state {} -> {}", peer_, state_name(state_), state_name(s));
    state_ = s;
}

// login_error - the server refused USER or PASS: the login failed, for the credentials or not (see
// credentials()); a SYS/TEMP or IN-USE may pass.
void Pop3Client::login_error(const std::string& what, const Response& r) {
    set_state(State::broken);
    conn_->close();
    throw ClientError(fmt::format("{}: {} as {} refused: {}", peer_, what, options_.username, summary(r)), 0,
                      temporary(r.code))
        .at_login(credentials(r.code));
}

// require_transaction - check before a command of the transaction state that the session can take it.
void Pop3Client::require_transaction(const char* what) const {
    if (state_ != State::transaction)
        throw ClientError(fmt::format("{}: {}: session not usable ({})", peer_, what, state_name(state_)),
                          ClientCause::network);
}

// read_response - one status line, bounded (RFC 2449 4: 512 octets with CRLF; AUTH challenges get
// more, RFC 5034 4), "+" accepted only where an AUTH continuation may come.
awaitable<Response> Pop3Client::read_response(const char* what, bool continuation, std::size_t max) {
    LineResult line = co_await conn_->read_line(max, timeout_);
    if (line.status == ReadStatus::timeout)
        fail(fmt::format("timed out waiting for the response to {}", what), ClientCause::network);
    if (line.status == ReadStatus::closed)
        fail(fmt::format("connection closed waiting for the response to {}", what), ClientCause::network);
    if (line.status == ReadStatus::too_long)
        fail(fmt::format("response to {} is longer than {} octets", what, max + 2), ClientCause::policy);
    std::optional<Response> r = parse_response(line.line, continuation);
    if (!r) fail(fmt::format("malformed response to {}", what), ClientCause::policy);
    co_return std::move(*r);
}

// command - write one line (CRLF added) and read its status line.
awaitable<Response> Pop3Client::command(std::string line, const char* what, bool continuation, std::size_t max) {
    line += "\r\n";
    co_await write(line, what, timeout_);
    Response r = co_await read_response(what, continuation, max);
    co_return r;
}

// read_lines - the lines of a multi-line CAPA/LIST/UIDL response up to its "." (RFC 1939 3), each
// bounded by RFC 2449 4, CRLF-terminated, unstuffed, at most max_lines of them. line_fn may call fail().
awaitable<void> Pop3Client::read_lines(const char* what, std::size_t max_lines,
                                       const std::function<void(std::string_view)>& line_fn) {
    for (std::size_t n = 0;; ++n) {
        LineResult line = co_await conn_->read_line(kMaxResponseText, timeout_);
        if (line.status == ReadStatus::timeout) fail(fmt::format("timed out in the {} listing", what), ClientCause::network);
        if (line.status == ReadStatus::closed)
            fail(fmt::format("connection closed in the {} listing", what), ClientCause::network);
        if (line.status == ReadStatus::too_long)
            fail(fmt::format("a line of the {} listing is longer than {} octets", what, kMaxResponseLine),
                 ClientCause::policy);
        // Only CRLF "." CRLF ends a multi-line response; a bare LF in a listing is no POP3 at all.
        if (!line.crlf) fail(fmt::format("bare LF in the {} listing", what), ClientCause::policy);
        std::string_view text = line.line;
        if (text == ".") co_return;
        if (n == max_lines) fail(fmt::format("the {} listing has more than {} lines", what, max_lines), ClientCause::policy);
        if (text.starts_with('.')) text.remove_prefix(1);   // RFC 1939 3: byte-stuffed
        line_fn(text);
    }
}

// read_body - the body of a multi-line RETR/TOP response, unstuffed, handed to sink in pieces of at most
// kSinkChunk bytes; the bytes after the terminator stay buffered for the next (pipelined) response.
// A sink that throws breaks the session (the rest of the response is unread) and its exception goes on.
awaitable<void> Pop3Client::read_body(const std::string& what, const std::function<void(std::string_view)>& sink) {
    DotUnstuffer unstuffer;
    std::string out;
    out.reserve(kSinkChunk);
    auto deliver = [&] {
        if (out.empty()) return;
        try {
            sink(out);
        } catch (...) {
            set_state(State::broken);
            conn_->close();
            throw;
        }
        out.clear();
    };
    for (;;) {
        std::string_view data = co_await conn_->peek_some(timeout_);
        if (data.empty())
            fail(fmt::format("{} in the middle of {}", conn_->timed_out() ? "timed out" : "connection closed", what),
                 ClientCause::network);
        std::size_t used = 0;
        while (used < data.size() && unstuffer.status() == DotUnstuffer::Status::more) {
            // The output is never longer than the input, so a slice of this size cannot overfill out.
            used += unstuffer.feed(data.substr(used, kSinkChunk - out.size()), out);
            if (out.size() >= kSinkChunk / 2) deliver();
        }
        conn_->consume(used);
        if (unstuffer.status() == DotUnstuffer::Status::line_too_long)
            fail(fmt::format("{}: a line longer than {} bytes without LF (not a message; nothing kept)", what,
                             kMaxMessageLine),
                 ClientCause::policy);
        if (unstuffer.status() == DotUnstuffer::Status::done) {
            deliver();
            co_return;
        }
    }
}

// capa - RFC 2449 5: what the server offers now, into caps_; false (caps_ untouched) when the server
// refuses CAPA, a server from before RFC 2449.
awaitable<bool> Pop3Client::capa() {
    Response r = co_await command("CAPA", "CAPA");
    if (r.indicator != Indicator::ok) {
        spdlog::debug("pop3 client {}: CAPA refused ({})", peer_, summary(r));
        co_return false;
    }
    Capabilities caps;
    const std::function<void(std::string_view)> add = [&](std::string_view line) { add_capability(caps, line); };
    co_await read_lines("CAPA", kMaxCapaLines, add);
    caps_ = std::move(caps);
    co_return true;
}

// stls - RFC 2595 4: STLS, the handshake, and CAPA again. Required when configured: a server that does
// not offer it or refuses it gets no credentials in plaintext.
awaitable<void> Pop3Client::stls() {
    if (!caps_.stls) fail("STLS required but not offered (no credentials sent)", ClientCause::policy);
    Response r = co_await command("STLS", "STLS");
    if (r.indicator != Indicator::ok)
        fail(fmt::format("STLS refused: {} (no credentials sent)", summary(r)), ClientCause::policy);
    // Anything after the +OK was sent before the handshake: a man in the middle injecting responses
    // that would be read as if they came over TLS (the STARTTLS injection attacks, CVE-2011-0411 kin).
    if (conn_->buffered() != 0) fail("data after the +OK to STLS (response injection)", ClientCause::policy);
    co_await start_tls(timeout_);
    // RFC 2595 4: the client MUST discard what it learnt before TLS and ask again.
    caps_ = Capabilities{};
    bool answered = co_await capa();
    (void)answered;   // refused: assume nothing, as before TLS
}

// sasl_start - AUTH with the initial response on the command line (RFC 5034 4), or, when that line
// would pass RFC 2449's 255 octets (bearer tokens do), with the response after an empty challenge.
awaitable<SaslStep> Pop3Client::sasl_start(std::string_view mechanism, const std::optional<std::string>& initial) {
    std::string line = fmt::format("AUTH {}", mechanism);
    if (!initial) {
        Response r = co_await command(std::move(line), "AUTH", true, kMaxAuthLine);
        co_return sasl_step(r);
    }
    std::string encoded = base64_encode(*initial);
    // RFC 5034 4: an empty initial response is sent as "=".
    std::string with_initial = fmt::format("{} {}", line, encoded.empty() ? std::string("=") : encoded);
    if (with_initial.size() <= kMaxCommandText) {
        Response r = co_await command(std::move(with_initial), "AUTH", true, kMaxAuthLine);
        co_return sasl_step(r);
    }
    Response r = co_await command(std::move(line), "AUTH", true, kMaxAuthLine);
    if (r.indicator != Indicator::more) co_return sasl_step(r);
    // RFC 5034 4: response lines are bound by the mechanism, not by the 255 octets of a command.
    Response f = co_await command(std::move(encoded), "AUTH", true, kMaxAuthLine);
    co_return sasl_step(f);
}

// sasl_respond - one base64 response line to a "+" challenge.
awaitable<SaslStep> Pop3Client::sasl_respond(std::string_view response) {
    Response r = co_await command(base64_encode(response), "AUTH", true, kMaxAuthLine);
    co_return sasl_step(r);
}

// sasl_cancel - RFC 5034 4: "*" ends the exchange; the server answers -ERR.
awaitable<SaslStep> Pop3Client::sasl_cancel() {
    Response r = co_await command("*", "AUTH", true, kMaxAuthLine);
    co_return sasl_step(r);
}

// user_pass - RFC 1939 7 USER and PASS, where the server offers no SASL mechanism for a password.
awaitable<void> Pop3Client::user_pass(const std::string& password) {
    // Check, then act: RFC 1939 3 arguments are printable; a control character would corrupt the line.
    if (has_control(options_.username) || has_control(password))
        throw ClientError(fmt::format("{}: no password: control character in the user name or password", peer_),
                          ClientCause::policy)
            .at_login(true);
    // RFC 2449 4: a command line is 255 octets with CRLF; USER/PASS has no way around it.
    std::string user = "USER " + options_.username;
    std::string pass = "PASS " + password;
    if (user.size() > kMaxCommandText || pass.size() > kMaxCommandText)
        throw ClientError(fmt::format("{}: user name or password too long for USER/PASS (RFC 2449 4) and no AUTH PLAIN",
                                      peer_),
                          ClientCause::policy)
            .at_login(true);
    Response u = co_await command(std::move(user), "USER");
    if (u.indicator != Indicator::ok) login_error("USER", u);
    Response p = co_await command(std::move(pass), "PASS");
    if (p.indicator != Indicator::ok) login_error("PASS", p);
}

// login - the best way the server offers for the secret we have: AUTH OAUTHBEARER/XOAUTH2 or AUTH PLAIN
// (RFC 5034, net/sasl_client), else USER/PASS.
awaitable<void> Pop3Client::login() {
    // The flow guarantees TLS when it was configured; check anyway before any secret leaves.
    if (options_.tls != TlsMode::none && !conn_->tls()) fail("refusing to log in without TLS", ClientCause::policy);
    SaslClient sasl(*this, options_, SaslContext{"AUTH", peer_, "pop3 client", conn_->tls()});
    std::optional<std::string> password = co_await sasl.login(caps_.sasl, false, true);
    if (password) co_await user_pass(*password);
}

awaitable<void> Pop3Client::open() {
    // RFC 8314 3.3: implicit TLS starts at once, before the server says anything.
    if (options_.tls == TlsMode::implicit && !conn_->tls()) co_await start_tls(timeout_);

    Response greeting = co_await read_response("the greeting");
    if (greeting.indicator != Indicator::ok) fail(fmt::format("greeting: {}", summary(greeting)), ClientCause::reply);
    set_state(State::authorization);
    // A -ERR is a server from before CAPA: assume nothing (USER/PASS and UIDL are still tried, they
    // are RFC 1939's; STLS is not, and a required STLS then fails).
    bool answered = co_await capa();
    (void)answered;
    if (options_.tls == TlsMode::starttls && !conn_->tls()) co_await stls();
    co_await login();
    set_state(State::transaction);
    // RFC 2449 5: capabilities may differ after login (PIPELINING, UIDL, TOP are what the transaction
    // state uses); a server that refuses CAPA now keeps what it said before.
    answered = co_await capa();
    spdlog::info("pop3 client {}: logged in as {}{}{}", peer_, options_.username, conn_->tls() ? ", " : "",
                 conn_->tls_description());
}

// uids_from_top - for a server without UIDL: uid = "sha256:" + hex SHA-256 of the TOP n 0 response
// (the header block and its blank line, unstuffed) followed by a NUL and the LIST size in decimal.
// Stable enough: a POP3 server does not change a stored message between sessions (RFC 1939 gives it no
// way to), and its header carries the Received trace, Message-ID and Date set at delivery, so two
// different messages with the same header bytes and the same size are two copies of one delivery,
// which the fetcher may treat as one. XXX A server that rewrites the header after a retrieval (old
// qpopper/UW ipop3d adding "Status: RO") changes both hash and size: such a message would be seen as
// new once; nothing here can tell, and a server that old also tends to have UIDL.
awaitable<void> Pop3Client::uids_from_top(std::vector<MessageInfo>& list) {
    const std::size_t group = caps_.pipelining ? kMaxPipelineGroup : 1;
    for (std::size_t first = 0; first < list.size(); first += group) {
        const std::size_t last = std::min(first + group, list.size());
        std::string batch;
        for (std::size_t i = first; i < last; ++i) batch += fmt::format("TOP {} 0\r\n", list[i].number);
        co_await write(batch, "TOP", timeout_);
        for (std::size_t i = first; i < last; ++i) {
            Response r = co_await read_response("TOP");
            if (r.indicator != Indicator::ok)
                fail(fmt::format("no UIDL and TOP {} 0 refused ({}): the messages cannot be identified", list[i].number,
                                 summary(r)),
                     ClientCause::reply);
            Sha256 hash;
            const std::string what = fmt::format("TOP {} 0", list[i].number);
            const std::function<void(std::string_view)> add = [&](std::string_view piece) { hash.update(piece); };
            co_await read_body(what, add);
            hash.update(std::string_view("\0", 1));
            hash.update(std::to_string(list[i].size));
            list[i].uid = "sha256:" + hash.hex();
        }
    }
}

awaitable<std::vector<MessageInfo>> Pop3Client::messages() {
    require_transaction("LIST");
    // RFC 2449 6.6: with PIPELINING, LIST and UIDL go in one write and their responses come in order.
    const bool pipelined = caps_.pipelining;
    const std::string_view first_write = pipelined ? "LIST\r\nUIDL\r\n" : "LIST\r\n";
    co_await write(first_write, "LIST", timeout_);
    Response list = co_await read_response("LIST");
    if (list.indicator != Indicator::ok) fail(fmt::format("LIST refused: {}", summary(list)), ClientCause::reply);
    std::vector<MessageInfo> out;
    const std::function<void(std::string_view)> add_scan = [&](std::string_view line) {
        std::uint64_t number = 0, size = 0;
        if (!parse_scan_listing(line, number, size) || number > UINT_MAX) fail("malformed LIST line", ClientCause::policy);
        out.push_back(MessageInfo{static_cast<unsigned>(number), size, {}});
    };
    co_await read_lines("LIST", kMaxListing, add_scan);
    std::sort(out.begin(), out.end(), [](const MessageInfo& a, const MessageInfo& b) { return a.number < b.number; });
    for (std::size_t i = 1; i < out.size(); ++i)
        if (out[i].number == out[i - 1].number) fail(fmt::format("LIST names message {} twice", out[i].number), ClientCause::policy);

    if (!pipelined) co_await write("UIDL\r\n", "UIDL", timeout_);
    Response uidl = co_await read_response("UIDL");
    if (uidl.indicator != Indicator::ok) {
        spdlog::debug("pop3 client {}: UIDL refused ({}), identifying messages by their header", peer_, summary(uidl));
        co_await uids_from_top(out);
        co_return out;
    }
    std::vector<std::pair<std::uint64_t, std::string>> uids;
    const std::function<void(std::string_view)> add_uid = [&](std::string_view line) {
        std::uint64_t number = 0;
        std::string uid;
        if (!parse_uid_listing(line, number, uid)) fail("malformed UIDL line", ClientCause::policy);
        uids.emplace_back(number, std::move(uid));
    };
    co_await read_lines("UIDL", kMaxListing, add_uid);
    std::sort(uids.begin(), uids.end());
    // The fetcher decides "delivered already" and "delete" by uid: a listing that does not match LIST
    // one to one, or names one uid twice, could make it delete a message it never fetched.
    if (uids.size() != out.size())
        fail(fmt::format("LIST has {} messages, UIDL {}", out.size(), uids.size()), ClientCause::policy);
    std::unordered_set<std::string_view> seen;   // views into uids: nothing is moved out until checked
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (uids[i].first != out[i].number) fail("LIST and UIDL name different messages", ClientCause::policy);
        if (!seen.insert(uids[i].second).second) fail("UIDL gives two messages the same uid", ClientCause::policy);
    }
    seen.clear();
    for (std::size_t i = 0; i < out.size(); ++i) out[i].uid = std::move(uids[i].second);
    co_return out;
}

awaitable<void> Pop3Client::retrieve(unsigned number, const std::function<void(std::string_view)>& sink, unsigned next) {
    require_transaction("RETR");
    if (number == 0) throw ClientError(fmt::format("{}: RETR 0: messages are numbered from 1", peer_), ClientCause::policy);
    // Check, then act: a RETR already on the wire for another message is read away first.
    if (ahead_ && *ahead_ != number) co_await drain_ahead();
    std::string out;
    if (!ahead_) out += fmt::format("RETR {}\r\n", number);
    ahead_.reset();
    if (next != 0 && caps_.pipelining) {
        out += fmt::format("RETR {}\r\n", next);
        ahead_ = next;
    }
    if (!out.empty()) co_await write(out, "RETR", timeout_);
    Response r = co_await read_response("RETR", false, kMaxResponseText);
    // A refusal (deleted, or gone) leaves the session usable (a pipelined RETR stays ahead).
    if (r.indicator != Indicator::ok)
        throw ClientError(fmt::format("{}: RETR {} refused: {}", peer_, number, summary(r)), 0, temporary(r.code));
    const std::string what = fmt::format("RETR {}", number);
    co_await read_body(what, sink);
}

// drain_ahead - read and drop the answer to a RETR sent ahead that the caller did not ask for after all.
awaitable<void> Pop3Client::drain_ahead() {
    unsigned n = *ahead_;
    ahead_.reset();
    Response r = co_await read_response("RETR", false, kMaxResponseText);
    if (r.indicator == Indicator::ok) co_await read_body(fmt::format("RETR {} (not used)", n), [](std::string_view) {});
}

awaitable<void> Pop3Client::remove(unsigned number) {
    require_transaction("DELE");
    if (ahead_) co_await drain_ahead();
    if (number == 0) throw ClientError(fmt::format("{}: DELE 0: messages are numbered from 1", peer_), ClientCause::policy);
    Response r = co_await command(fmt::format("DELE {}", number), "DELE");
    if (r.indicator != Indicator::ok)
        throw ClientError(fmt::format("{}: DELE {} refused: {}", peer_, number, summary(r)), 0, temporary(r.code));
}

awaitable<void> Pop3Client::quit() {
    // Only a session in the transaction state has deletions to commit; any other has lost them.
    require_transaction("QUIT");
    if (ahead_) co_await drain_ahead();
    Response r = co_await command("QUIT", "QUIT");
    conn_->close();
    set_state(State::closed);
    // RFC 1939 6: "-ERR some deleted messages not removed": the deletions are not (all) committed.
    if (r.indicator != Indicator::ok)
        throw ClientError(fmt::format("{}: QUIT refused, deletions not committed: {}", peer_, summary(r)), 0,
                          temporary(r.code));
}

}  // namespace

awaitable<std::unique_ptr<Client>> Client::connect(std::vector<boost::asio::ip::tcp::endpoint> endpoints,
                                                   ClientOptions options) {
    auto client = co_await connect_any<Pop3Client>(endpoints, options, idle_timeout(options));
    co_return std::unique_ptr<Client>(std::move(client));
}

awaitable<std::unique_ptr<Client>> Client::start(std::unique_ptr<Connection> connection, ClientOptions options) {
    auto client = co_await start_session<Pop3Client>(std::move(connection), std::move(options));
    co_return std::unique_ptr<Client>(std::move(client));
}

}  // namespace mk::pop3
