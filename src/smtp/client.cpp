// smtp/client.cpp — the SMTP/LMTP client (relay, downstream delivery); the server is untrusted:
// its replies are bounded and parsed strictly, and only their codes decide anything.
//
// One connection, one state machine: connected (by us, or by whoever hands the connection in) ->
// implicit TLS -> greeting -> EHLO/LHLO (HELO fallback) -> STARTTLS and EHLO again -> AUTH -> ready;
// each send() runs one transaction from ready back to ready (RSET after a failed one); any network
// failure or protocol violation makes the session broken, and the caller gets a temporary
// ClientError with code 0.
#include "smtp/client.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ssl.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/base64.hpp"
#include "core/pread.hpp"
#include "core/secret.hpp"
#include "core/text.hpp"
#include "mime/seven_bit.hpp"
#include "net/connection.hpp"
#include "net/dot_stuffer.hpp"
#include "net/offload.hpp"
#include "net/sasl.hpp"
#include "net/sasl_client.hpp"
#include "smtp/command.hpp"     // smtp::Notify bits
#include "smtp/header_rewrite.hpp"

namespace mk::smtp {

namespace {

using namespace std::chrono_literals;
namespace ssl = boost::asio::ssl;
using Duration = std::chrono::steady_clock::duration;

// RFC 5321 4.5.3.2 client timeouts.
constexpr Duration kGreetingTimeout = 5min;     // 4.5.3.2.1 initial 220 message
constexpr Duration kMailTimeout = 5min;         // 4.5.3.2.2 MAIL command
constexpr Duration kRcptTimeout = 5min;         // 4.5.3.2.3 RCPT command
constexpr Duration kDataInitTimeout = 2min;     // 4.5.3.2.4 DATA initiation (the 354)
constexpr Duration kDataBlockTimeout = 3min;    // 4.5.3.2.5 each write of the data
constexpr Duration kDataFinalTimeout = 10min;   // 4.5.3.2.6 the reply to the final dot
// Commands 4.5.3.2 gives no figure for (EHLO, STARTTLS, AUTH, RSET) wait as long as MAIL does,
// as Postfix's smtp_helo_timeout does.
constexpr Duration kCommandTimeout = 5min;
// No RFC figure: a host that does not complete a TCP or TLS handshake in this time is down for
// us (Postfix smtp_connect_timeout is 30 s).
constexpr Duration kConnectTimeout = 30s;
constexpr Duration kTlsHandshakeTimeout = 1min;
// The mail is delivered by then; only the goodbye is at stake, so QUIT does not hold the relay long.
constexpr Duration kQuitTimeout = 30s;

// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets including the code and CRLF.
constexpr std::size_t kMaxReplyLine = 512 - 2;
// RFC 5321 sets no limit on the lines of a multi-line reply; an EHLO reply has a dozen, so 100
// is a server that talks without end.
constexpr std::size_t kMaxReplyLines = 100;
// RFC 4954 4: an AUTH command or response line may be 12288 octets (bearer tokens are long).
constexpr std::size_t kMaxAuthLine = 12288 - 2;
// The message is read from the queue file and written to the server in pieces of this size.
constexpr std::size_t kDataChunk = 64 * 1024;
// RFC 2920 3.1 lets the client send any number of commands at once, but a client that writes
// without reading can deadlock with a server whose replies fill the socket buffers: this many
// commands (at most ~50 KiB) go out before their replies are read.
constexpr std::size_t kMaxPipelineGroup = 100;

enum class State { connected, greeted, ready, transaction, broken, closed };

// state_name - for the log.
const char* state_name(State s) {
    switch (s) {
        case State::connected: return "connected";
        case State::greeted: return "greeted";
        case State::ready: return "ready";
        case State::transaction: return "transaction";
        case State::broken: return "broken";
        case State::closed: return "closed";
    }
    return "?";
}

// A server reply: one code, the text of each line.
struct ServerReply {
    int code = 0;
    std::vector<std::string> lines;   // text after "NNN-" / "NNN "

    bool positive() const { return code >= 200 && code < 400; }
    // summary - "550 5.1.1 no such user" (the lines of a multi-line reply joined with spaces).
    std::string summary() const {
        std::string s = std::to_string(code);
        for (const auto& l : lines) {
            if (l.empty()) continue;
            s += ' ';
            s += l;
        }
        return s;
    }
    Result result() const {
        return Result{code, parse_enhanced_status(code, lines.empty() ? std::string_view() : lines.front()), summary()};
    }
    // sasl_step - the reply as a step of an AUTH exchange (RFC 4954 4): 334 carries a challenge, 235
    // is success; 535 refuses the credentials (a fresh token may cure it), the rest other causes.
    SaslStep sasl_step() const {
        if (code == 334) return SaslStep{SaslStep::Kind::challenge, lines.empty() ? std::string() : lines.front()};
        if (code == 235) return SaslStep{SaslStep::Kind::success};
        return SaslStep{SaslStep::Kind::failure, {}, code, code < 500, code == 535, summary()};
    }
};

// A failure decided locally, worded like a server reply so the DSN and the log read the same.
Result local_result(int code, std::string_view esc_code, std::string_view text) {
    return Result{code, parse_enhanced_status(code, esc_code), fmt::format("{} {} {}", code, esc_code, text)};
}

// parse_reply_line - "NNN-text" / "NNN text" / "NNN" into code, text and whether more lines follow;
// false when the line is not a reply line (RFC 5321 4.2: three digits, 2yz..5yz).
bool parse_reply_line(std::string_view line, int& code, std::string& text, bool& more) {
    if (line.size() < 3) return false;
    if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' || line[2] < '0' || line[2] > '9')
        return false;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    more = false;
    if (line.size() == 3) {
        text.clear();
        return true;
    }
    if (line[3] != ' ' && line[3] != '-') return false;
    more = line[3] == '-';
    // The text ends up in logs and in DSNs sent to our users: no control characters from the peer.
    text.clear();
    for (char c : line.substr(4)) {
        auto u = static_cast<unsigned char>(c);
        text += (u < 0x20 && c != '\t') || u == 0x7f ? ' ' : c;
    }
    return true;
}

// valid_path_text - an address we may put between < and > in MAIL/RCPT.
bool valid_path_text(std::string_view s) {
    return !has_control(s) && s.find('<') == std::string_view::npos && s.find('>') == std::string_view::npos;
}

// valid_esmtp_value - RFC 5321 4.1.2 esmtp-value: 1*(%d33-60 / %d62-126).
bool valid_esmtp_value(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= 33 && u <= 126 && u != '=';
    });
}

// notify_param - RFC 3461 4.1 NOTIFY value from smtp::Notify bits ("NEVER" alone, or a list).
std::string notify_param(unsigned bits) {
    if (bits & kNotifyNever) return "NEVER";
    std::string s;
    auto add = [&](unsigned bit, const char* word) {
        if (!(bits & bit)) return;
        if (!s.empty()) s += ',';
        s += word;
    };
    add(kNotifySuccess, "SUCCESS");
    add(kNotifyFailure, "FAILURE");
    add(kNotifyDelay, "DELAY");
    return s;
}

// A queued message ready to go: its (rewritten) header, where the unchanged rest starts, its size.
struct PreparedMessage {
    std::shared_ptr<Fd> file;
    std::string header;          // sent first; empty when nothing is rewritten
    std::uint64_t rest = 0;      // file offset of the bytes after the header
    std::uint64_t end = 0;       // file size
    std::uint64_t size = 0;      // RFC 1870 size: the octets sent, before dot-stuffing
    std::size_t replaced = 0;    // From: addresses rewritten
};

// prepare_message - open the queue file and rewrite its header; nullopt (error set) when it
// cannot be read. Reads at most kMaxHeaderBlock bytes; the body is streamed later.
std::optional<PreparedMessage> prepare_message(const OutboundMessage& m, std::string& error) {
    int raw = m.converted ? ::dup(m.converted->get()) : ::open(m.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (raw < 0) {
        error = fmt::format("{}: {}", m.file.string(), std::strerror(errno));
        return std::nullopt;
    }
    PreparedMessage p;
    p.file = std::make_shared<Fd>(raw);
    struct stat st {};
    if (::fstat(raw, &st) != 0) {
        error = fmt::format("{}: {}", m.file.string(), std::strerror(errno));
        return std::nullopt;
    }
    p.end = static_cast<std::uint64_t>(st.st_size);
    if (p.end < m.skip) {
        error = fmt::format("{}: shorter ({} bytes) than its {} bytes to skip", m.file.string(), p.end, m.skip);
        return std::nullopt;
    }
    p.rest = m.skip;
    if (!m.from_rewrite_old.empty() && p.end > m.skip) {
        std::string head(std::min<std::uint64_t>(kMaxHeaderBlock, p.end - m.skip), '\0');
        ssize_t got = pread_full(raw, head.data(), head.size(), m.skip);
        if (got < 0) {
            error = fmt::format("{}: {}", m.file.string(), std::strerror(errno));
            return std::nullopt;
        }
        head.resize(static_cast<std::size_t>(got));
        std::size_t len = header_end(head);
        if (len == std::string::npos) {
            // No empty line: either the whole message is header (then all of it is read), or the
            // header is longer than we look; then rewrite up to its last complete line.
            bool whole = m.skip + head.size() == p.end;
            std::size_t nl = head.rfind('\n');
            len = whole ? head.size() : (nl == std::string::npos ? 0 : nl + 1);
        }
        auto rw = rewrite_from_header(std::string_view(head).substr(0, len), m.from_rewrite_old, m.from_rewrite_new);
        p.header = std::move(rw.header);
        p.replaced = rw.replaced;
        p.rest = m.skip + len;
    }
    p.size = p.header.size() + (p.end - p.rest);
    // The DotStuffer closes a last line without CRLF: those two octets are sent as well.
    char last = '\n';
    if (p.end > p.rest) {
        if (pread_full(raw, &last, 1, p.end - 1) != 1) last = '\n';
    } else if (!p.header.empty()) {
        last = p.header.back();
    }
    if (last != '\n') p.size += 2;
    return p;
}

// The concrete client over one mk::Connection; it frames the SASL exchanges of AUTH itself.
class SmtpClient final : public Client, public ClientSession, private SaslFraming {
public:
    SmtpClient(std::unique_ptr<Connection> conn, ClientOptions options, std::shared_ptr<ssl::context> tls_ctx)
        : ClientSession(std::move(conn), std::move(tls_ctx), options.server_name), options_(std::move(options)) {}
    // SmtpClient - on a connection borrowed from its owner (start_borrowed): no TLS of its own.
    SmtpClient(Connection& conn, ClientOptions options) : ClientSession(conn, options.server_name), options_(std::move(options)) {}

    // open - everything start() promises on this connection; throws ClientError.
    awaitable<void> open();
    // again - an opportunistic STARTTLS handshake failed (the session is gone): a new connection to
    // the same address may go on in plaintext (without_starttls) rather than keep the mail.
    bool again() const override { return opportunistic_tls_failed_; }
    void without_starttls() { skip_starttls_ = true; }

    std::uint64_t max_size() const override { return ext_.size.value_or(0); }
    std::string peer() const override { return peer_; }
    const ServerExtensions& extensions() const override { return ext_; }
    std::string tls() const override { return conn_ ? conn_->tls_description() : std::string(); }
    awaitable<SendResult> send(const OutboundMessage& message) override;
    awaitable<void> quit() override;
    awaitable<Result> command(std::string line, std::chrono::seconds timeout) override;
    Connection& turned() override;

private:
    // One command of a transaction and what its reply decides.
    struct Step {
        enum class Kind { mail, rcpt, data } kind;
        std::size_t recipient = 0;   // rcpt: index into OutboundMessage::recipients
        std::string line;            // with CRLF
        Duration timeout;
    };

    void set_state(State s);
    void broken() override { set_state(State::broken); }
    awaitable<ServerReply> read_reply(const char* what, Duration timeout);
    awaitable<ServerReply> exchange(std::string line, const char* what, Duration timeout);
    awaitable<void> tls_handshake();
    awaitable<void> hello();
    awaitable<void> starttls();
    awaitable<void> authenticate();
    awaitable<SaslStep> sasl_start(std::string_view mechanism, const std::optional<std::string>& initial) override;
    awaitable<SaslStep> sasl_respond(std::string_view response) override;
    awaitable<SaslStep> sasl_cancel() override;
    // What the server answered to MAIL, the RCPTs and DATA.
    struct EnvelopeOutcome {
        bool mail_ok = false;
        std::vector<std::size_t> accepted;     // recipients whose RCPT got 2xx, in order
        std::optional<ServerReply> data;       // the reply to DATA, if it was sent
        std::optional<ServerReply> closing;    // a 421: the server is going away
    };

    std::optional<Result> check_message(const OutboundMessage& m, std::optional<PreparedMessage>& prepared) const;
    std::vector<Step> transaction_steps(const OutboundMessage& m, const PreparedMessage& p, SendResult& out) const;
    awaitable<EnvelopeOutcome> envelope(const std::vector<Step>& steps, SendResult& out);
    awaitable<void> lmtp_replies(const std::vector<std::size_t>& accepted, SendResult& out);
    awaitable<void> stream_body(const PreparedMessage& p);
    awaitable<void> reset();

    ClientOptions options_;
    State state_ = State::connected;
    ServerExtensions ext_;
    bool opportunistic_tls_failed_ = false;
    bool skip_starttls_ = false;
};

// set_state - the one place the session changes state, logged old -> new.
void SmtpClient::set_state(State s) {
    if (s != state_) spdlog::debug("smtp client {}: state {} -> {}", peer_, state_name(state_), state_name(s));
    state_ = s;
}

// read_reply - one whole reply, bounded in line length and line count (RFC 5321 4.2, 4.5.3.1.5).
awaitable<ServerReply> SmtpClient::read_reply(const char* what, Duration timeout) {
    ServerReply r;
    for (;;) {
        LineResult line = co_await conn_->read_line(kMaxReplyLine, timeout);
        if (line.status == ReadStatus::timeout) fail(fmt::format("timed out waiting for the reply to {}", what), Cause::network);
        if (line.status == ReadStatus::closed) fail(fmt::format("connection closed waiting for the reply to {}", what), Cause::network);
        if (line.status == ReadStatus::too_long)
            fail(fmt::format("reply to {} has a line over {} octets", what, kMaxReplyLine + 2), Cause::policy);
        int code = 0;
        std::string text;
        bool more = false;
        if (!parse_reply_line(line.line, code, text, more))
            fail(fmt::format("malformed reply to {}", what), Cause::policy);
        // RFC 5321 4.2.1: every line of a multi-line reply carries the same code.
        if (!r.lines.empty() && code != r.code) fail(fmt::format("inconsistent multi-line reply to {}", what), Cause::policy);
        if (r.lines.size() == kMaxReplyLines)
            fail(fmt::format("reply to {} has more than {} lines", what, kMaxReplyLines), Cause::policy);
        r.code = code;
        r.lines.push_back(std::move(text));
        if (!more) break;
    }
    co_return r;
}

// exchange - write one line (CRLF added) and read its reply.
awaitable<ServerReply> SmtpClient::exchange(std::string line, const char* what, Duration timeout) {
    line += "\r\n";
    co_await write(line, what, timeout);
    ServerReply r = co_await read_reply(what, timeout);
    co_return r;
}

// tls_handshake - client side of TLS on the connection (ClientSession::start_tls). An opportunistic
// STARTTLS whose handshake failed with the peer answering (not a timeout: the line may be down) asks
// for a plaintext retry (again()).
awaitable<void> SmtpClient::tls_handshake() {
    try {
        co_await start_tls(kTlsHandshakeTimeout);
    } catch (const ClientError& e) {
        if (options_.tls == TlsMode::starttls && !options_.tls_required && e.cause() == Cause::policy)
            opportunistic_tls_failed_ = true;
        throw;
    }
}

// hello - EHLO (LHLO for LMTP), HELO when a plain SMTP server refuses EHLO (RFC 5321 4.1.4).
awaitable<void> SmtpClient::hello() {
    std::string name = options_.helo;
    if (name.empty()) {
        // RFC 5321 4.1.4: without a name, the address literal of our end of the connection.
        const auto& a = conn_->local_address();
        name = a.is_v6() ? "[IPv6:" + a.to_string() + "]" : "[" + a.to_string() + "]";
    }
    const char* verb = options_.lmtp ? "LHLO" : "EHLO";
    ServerReply r = co_await exchange(fmt::format("{} {}", verb, name), verb, kCommandTimeout);
    if (r.code == 250) {
        ext_ = parse_extensions(r.lines);
        co_return;
    }
    // RFC 2033 4.1: an LMTP server has no HELO to fall back to. A 4xx (421 above all) is not "I do
    // not know EHLO": it says come back later.
    if (options_.lmtp || r.code < 500)
        throw ClientError(fmt::format("{}: {} refused: {}", peer_, verb, r.summary()), r.code, r.code < 500);
    ServerReply h = co_await exchange(fmt::format("HELO {}", name), "HELO", kCommandTimeout);
    if (h.code != 250)
        throw ClientError(fmt::format("{}: HELO refused: {}", peer_, h.summary()), h.code, h.code < 500);
    ext_ = ServerExtensions{};   // RFC 5321 4.1.1.1: HELO means no extensions
}

// starttls - RFC 3207: STARTTLS, the handshake, and EHLO again. Opportunistic mode goes on in
// plaintext when the server does not offer it or refuses it.
awaitable<void> SmtpClient::starttls() {
    if (skip_starttls_) {
        spdlog::info("smtp client {}: the TLS handshake failed on the last connection; continuing without TLS", peer_);
        co_return;
    }
    if (!ext_.starttls) {
        if (options_.tls_required)
            throw ClientError(fmt::format("{}: STARTTLS required but not offered", peer_), Cause::policy);
        spdlog::info("smtp client {}: STARTTLS not offered, continuing without TLS", peer_);
        co_return;
    }
    ServerReply r = co_await exchange("STARTTLS", "STARTTLS", kCommandTimeout);
    if (r.code != 220) {
        if (options_.tls_required)
            throw ClientError(fmt::format("{}: STARTTLS refused: {}", peer_, r.summary()), r.code, true);
        spdlog::info("smtp client {}: STARTTLS refused ({}), continuing without TLS", peer_, r.summary());
        co_return;
    }
    // Anything after the 220 was sent before the handshake: a man in the middle injecting replies
    // that would be read as if they came over TLS (CVE-2011-0411 and its client-side kin).
    if (conn_->buffered() != 0) fail("data after the 220 to STARTTLS (reply injection)", Cause::policy);
    co_await tls_handshake();
    // RFC 3207 4.2: forget what the server said before TLS and ask again.
    ext_ = ServerExtensions{};
    co_await hello();
}

// authenticate - RFC 4954 with the best mechanism the server offers for our kind of secret
// (net/sasl_client); LOGIN is allowed, many submission servers offer nothing else.
awaitable<void> SmtpClient::authenticate() {
    // Credentials never travel in plaintext unless the configuration asked for no TLS at all: an
    // opportunistic session that ended up without TLS must not give the password away.
    if (!conn_->tls() && options_.tls != TlsMode::none)
        throw ClientError(fmt::format("{}: refusing AUTH without TLS", peer_), Cause::policy).at_login(false);
    // SMTP has no login of its own (own_login false): login() returns nothing to use.
    SaslClient sasl(*this, options_, SaslContext{"AUTH", peer_, "smtp client", conn_->tls()});
    co_await sasl.login(ext_.auth, true, false);
}

// sasl_start - AUTH with an initial response (RFC 4954 4), or, when the command line would be too
// long, with the response after the server's empty challenge.
awaitable<SaslStep> SmtpClient::sasl_start(std::string_view mechanism, const std::optional<std::string>& initial) {
    if (!initial) {
        ServerReply r = co_await exchange(fmt::format("AUTH {}", mechanism), "AUTH", kCommandTimeout);
        co_return r.sasl_step();
    }
    std::string encoded = initial->empty() ? std::string("=") : base64_encode(*initial);
    std::string line = fmt::format("AUTH {} {}", mechanism, encoded);
    if (line.size() <= kMaxAuthLine) {
        ServerReply r = co_await exchange(std::move(line), "AUTH", kCommandTimeout);
        co_return r.sasl_step();
    }
    ServerReply r = co_await exchange(fmt::format("AUTH {}", mechanism), "AUTH", kCommandTimeout);
    if (r.code != 334) co_return r.sasl_step();
    if (encoded.size() > kMaxAuthLine) fail("AUTH response longer than RFC 4954 allows", Cause::policy);
    ServerReply f = co_await exchange(std::move(encoded), "AUTH", kCommandTimeout);
    co_return f.sasl_step();
}

// sasl_respond - one base64 response line to a 334 challenge.
awaitable<SaslStep> SmtpClient::sasl_respond(std::string_view response) {
    ServerReply r = co_await exchange(base64_encode(response), "AUTH", kCommandTimeout);
    co_return r.sasl_step();
}

// sasl_cancel - RFC 4954 4: "*" ends the exchange; the server answers 501.
awaitable<SaslStep> SmtpClient::sasl_cancel() {
    ServerReply r = co_await exchange("*", "AUTH", kCommandTimeout);
    co_return r.sasl_step();
}

awaitable<void> SmtpClient::open() {
    // RFC 8314 3.3: implicit TLS starts at once, before the server says anything.
    if (options_.tls == TlsMode::implicit && !conn_->tls()) co_await tls_handshake();

    ServerReply greeting = co_await read_reply("the greeting", kGreetingTimeout);
    if (greeting.code != 220)
        throw ClientError(fmt::format("{}: greeting: {}", peer_, greeting.summary()), greeting.code,
                          greeting.code < 500);
    set_state(State::greeted);
    co_await hello();
    if (options_.tls == TlsMode::starttls && !conn_->tls()) co_await starttls();
    if (!options_.username.empty()) co_await authenticate();
    set_state(State::ready);
    spdlog::info("smtp client {}: connected{}{}", peer_, conn_->tls() ? ", " : "", conn_->tls_description());
}

// reset - RSET after a failed transaction; a server that refuses it cannot be trusted with the next.
awaitable<void> SmtpClient::reset() {
    bool lost = false;
    ServerReply r;
    try {
        r = co_await exchange("RSET", "RSET", kCommandTimeout);
    } catch (const ClientError&) {
        lost = true;   // the transaction's results stand; only the connection is gone
    }
    if (lost) co_return;
    if (r.code != 250) {
        spdlog::info("smtp client {}: RSET refused: {}", peer_, r.summary());
        set_state(State::broken);
        conn_->close();
        co_return;
    }
    set_state(State::ready);
}

// stream_body - the message, dot-stuffed (RFC 5321 4.5.2), CRLF-closed, then "." (4.1.1.4).
awaitable<void> SmtpClient::stream_body(const PreparedMessage& p) {
    DotStuffer stuffer;
    std::string out;
    out.reserve(kDataChunk * 2 + 8);
    stuffer.feed(p.header, out);
    std::string chunk(kDataChunk, '\0');
    std::uint64_t offset = p.rest;
    while (offset < p.end) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kDataChunk, p.end - offset));
        ssize_t got = pread_full(p.file->get(), chunk.data(), want, offset);
        // RFC 5321 has no way to abort DATA: closing the connection is what makes the server
        // discard the partial message.
        if (got <= 0) fail(fmt::format("reading the queue file: {}", got < 0 ? std::strerror(errno) : "truncated"), Cause::policy);
        offset += static_cast<std::uint64_t>(got);
        stuffer.feed(std::string_view(chunk.data(), static_cast<std::size_t>(got)), out);
        if (out.size() >= kDataChunk) {
            co_await write(out, "the message", kDataBlockTimeout);
            out.clear();
        }
    }
    stuffer.finish(out);
    co_await write(out, "the message", kDataBlockTimeout);
}

// check_message - everything that can be refused without the server, decided before MAIL (check,
// then act): a local refusal for the whole message, or nullopt with the message prepared.
std::optional<Result> SmtpClient::check_message(const OutboundMessage& m, std::optional<PreparedMessage>& prepared) const {
    if (m.recipients.empty()) return local_result(554, "5.5.1", "no recipients");
    // RFC 6531 3.4: a message that needs SMTPUTF8 cannot go to a server without it.
    if (m.smtputf8 && !ext_.smtputf8)
        return local_result(553, "5.6.7", "the server does not support SMTPUTF8 (not sent)");
    // The queue is ours, but a CR or LF in a parameter would inject a command: never send one.
    if (!valid_path_text(m.sender) || (!m.ret.empty() && !valid_esmtp_value(m.ret)) ||
        (!m.envid.empty() && !valid_esmtp_value(m.envid)))
        return local_result(501, "5.5.4", "invalid sender or DSN parameter in the queue (not sent)");
    std::string error;
    prepared = prepare_message(m, error);
    if (!prepared) {
        spdlog::error("smtp client {}: {}", peer_, error);
        return local_result(451, "4.3.0", "cannot read the queued message");
    }
    // RFC 1870 6: refuse early rather than send what the server has said it will not take.
    if (ext_.size && *ext_.size > 0 && prepared->size > *ext_.size)
        return local_result(552, "5.3.4", fmt::format("message size {} exceeds the server's limit of {} (not sent)",
                                                      prepared->size, *ext_.size));
    return std::nullopt;
}

// transaction_steps - MAIL, one RCPT per sendable recipient, DATA, with the parameters the server
// offers; a recipient that cannot be sent gets its local refusal in out.
std::vector<SmtpClient::Step> SmtpClient::transaction_steps(const OutboundMessage& m, const PreparedMessage& p,
                                                            SendResult& out) const {
    std::vector<Step> steps;
    std::string mail = fmt::format("MAIL FROM:<{}>", m.sender);
    if (ext_.size) mail += fmt::format(" SIZE={}", p.size);          // RFC 1870 3
    if (m.body_8bit && ext_.eightbitmime) mail += " BODY=8BITMIME";   // RFC 6152 2
    if (m.smtputf8) mail += " SMTPUTF8";                              // RFC 6531 3.4
    if (ext_.dsn && !m.ret.empty()) mail += " RET=" + m.ret;          // RFC 3461 4.3
    if (ext_.dsn && !m.envid.empty()) mail += " ENVID=" + m.envid;    // RFC 3461 4.4
    steps.push_back(Step{Step::Kind::mail, 0, mail + "\r\n", kMailTimeout});
    for (std::size_t i = 0; i < m.recipients.size(); ++i) {
        const auto& r = m.recipients[i];
        if (r.address.empty() || !valid_path_text(r.address) || (!r.orcpt.empty() && !valid_esmtp_value(r.orcpt))) {
            out.recipients[i] = local_result(501, "5.1.3", "invalid recipient address in the queue (not sent)");
            continue;
        }
        std::string rcpt = fmt::format("RCPT TO:<{}>", r.address);
        if (ext_.dsn && r.notify != 0) rcpt += " NOTIFY=" + notify_param(r.notify);   // RFC 3461 4.1
        if (ext_.dsn && !r.orcpt.empty()) rcpt += " ORCPT=" + r.orcpt;                // RFC 3461 4.2
        steps.push_back(Step{Step::Kind::rcpt, i, rcpt + "\r\n", kRcptTimeout});
    }
    steps.push_back(Step{Step::Kind::data, 0, "DATA\r\n", kDataInitTimeout});
    return steps;
}

// envelope - send the steps and read their replies. RFC 2920 3.1: with PIPELINING, MAIL, the RCPTs
// and DATA go in one write (in groups, see kMaxPipelineGroup) and the replies are read in order;
// without it, one by one, and DATA only when a recipient was accepted.
awaitable<SmtpClient::EnvelopeOutcome> SmtpClient::envelope(const std::vector<Step>& steps, SendResult& out) {
    EnvelopeOutcome o;
    const std::size_t group = ext_.pipelining ? kMaxPipelineGroup : 1;
    for (std::size_t first = 0; first < steps.size(); first += group) {
        if (o.closing) break;
        std::size_t last = std::min(first + group, steps.size());
        // Without pipelining, stop where the answers so far make the next command pointless.
        if (!ext_.pipelining && steps[first].kind != Step::Kind::mail && !o.mail_ok) break;
        if (!ext_.pipelining && steps[first].kind == Step::Kind::data && o.accepted.empty()) break;
        std::string batch;
        for (std::size_t i = first; i < last; ++i) batch += steps[i].line;
        co_await write(batch, "MAIL/RCPT/DATA", kMailTimeout);
        for (std::size_t i = first; i < last; ++i) {
            const Step& s = steps[i];
            const char* what = s.kind == Step::Kind::mail ? "MAIL" : s.kind == Step::Kind::rcpt ? "RCPT" : "DATA";
            ServerReply r = co_await read_reply(what, s.timeout);
            if (r.code == 421) {
                o.closing = r;
                break;
            }
            switch (s.kind) {
                case Step::Kind::mail:
                    out.message = r.result();
                    o.mail_ok = r.positive();
                    break;
                case Step::Kind::rcpt:
                    out.recipients[s.recipient] = r.result();
                    if (r.positive()) o.accepted.push_back(s.recipient);
                    break;
                case Step::Kind::data:
                    o.data = r;
                    break;
            }
        }
    }
    co_return o;
}

// lmtp_replies - RFC 2033 4.2: one reply per accepted recipient, in RCPT order. A connection lost
// after some of them keeps those replies and gives the rest (and the message) a local 451 4.4.2
// instead of throwing: the answered ones are final and must not be sent again.
awaitable<void> SmtpClient::lmtp_replies(const std::vector<std::size_t>& accepted, SendResult& out) {
    std::size_t answered = 0;
    bool lost = false;
    std::string lost_reason;
    for (std::size_t i : accepted) {
        ServerReply r;
        try {
            r = co_await read_reply("the end of data", kDataFinalTimeout);
        } catch (const ClientError& e) {
            if (answered == 0) throw;   // nothing delivered: as for SMTP
            lost = true;
            lost_reason = e.what();
        }
        if (lost) break;
        out.recipients[i] = r.result();
        ++answered;
    }
    if (lost) {
        // The answered recipients are final; the rest will be retried. Not code 0: a caller that
        // falls back to the message-level result for an unanswered recipient must not find a 250.
        spdlog::warn("smtp client {}: {}", peer_, lost_reason);
        Result unanswered = local_result(451, "4.4.2", "connection lost before this recipient's LMTP reply");
        for (std::size_t k = answered; k < accepted.size(); ++k) out.recipients[accepted[k]] = unanswered;
        out.message = unanswered;
        co_return;
    }
    out.message = out.recipients[accepted.front()];
    for (std::size_t i : accepted)
        if (out.recipients[i].ok()) {
            out.message = out.recipients[i];
            break;
        }
}

awaitable<SendResult> SmtpClient::send(const OutboundMessage& m) {
    if (state_ != State::ready)
        throw ClientError(fmt::format("{}: connection not usable ({})", peer_, state_name(state_)), Cause::network);
    SendResult out;
    out.recipients.resize(m.recipients.size());
    auto refuse_all = [&](const Result& r) {
        out.message = r;
        for (auto& x : out.recipients) x = r;
    };

    // RFC 6152 3: 8-bit content goes to a server without 8BITMIME converted, or not at all.
    if (m.body_8bit && !ext_.eightbitmime) {
        std::string why;
        std::optional<Fd> seven;
        try {
            seven = co_await offload([&] { return to_seven_bit(m.file, m.skip, why); });
        } catch (const std::exception& e) {
            why = e.what();
        }
        if (!seven) {
            spdlog::warn("smtp client {}: cannot convert {} to 7 bit: {}", peer_, m.file.string(), why);
            refuse_all(local_result(554, "5.6.3", "8-bit message, the server does not offer 8BITMIME, and it cannot be converted: " + why));
            co_return out;
        }
        spdlog::info("smtp client {}: no 8BITMIME; {} converted to 7 bit", peer_, m.file.filename().string());
        OutboundMessage converted = m;
        converted.converted = std::make_shared<Fd>(std::move(*seven));
        converted.skip = 0;
        converted.body_8bit = false;
        co_return co_await send(converted);
    }
    std::optional<PreparedMessage> prepared;
    if (auto refusal = check_message(m, prepared)) {
        refuse_all(*refusal);
        co_return out;
    }
    std::vector<Step> steps = transaction_steps(m, *prepared, out);
    if (steps.size() == 2) {   // MAIL and DATA only: no recipient can be sent
        out.message = out.recipients.front();
        co_return out;
    }

    set_state(State::transaction);
    EnvelopeOutcome env = co_await envelope(steps, out);
    if (env.closing) {
        // RFC 5321 3.8: the server is going away. Every command not yet answered gets the 421.
        Result r = env.closing->result();
        if (!env.mail_ok) refuse_all(r);
        else
            for (std::size_t i = 0; i < out.recipients.size(); ++i)
                if (out.recipients[i].code == 0 ||
                    std::find(env.accepted.begin(), env.accepted.end(), i) != env.accepted.end())
                    out.recipients[i] = r;
        out.message = r;
        set_state(State::broken);
        conn_->close();
        co_return out;
    }
    if (!env.mail_ok) {
        // Pipelined RCPTs after a refused MAIL got 503s; the MAIL refusal is what counts.
        Result r = out.message;
        refuse_all(r);
    }
    if (!env.mail_ok || env.accepted.empty()) {
        if (env.data && env.data->code == 354) {
            // RFC 2920 3.1: DATA accepted with no valid recipient: send an empty message and
            // expect it refused.
            co_await write(".\r\n", "the message", kDataBlockTimeout);
            ServerReply ignored = co_await read_reply("the end of data", kDataFinalTimeout);
            (void)ignored;
        }
        if (env.mail_ok) {
            // No recipient taken: say why with the first refusal.
            for (const auto& r : out.recipients)
                if (r.code != 0) {
                    out.message = r;
                    break;
                }
        }
        co_await reset();
        co_return out;
    }
    if (!env.data || env.data->code != 354) {
        out.message = env.data ? env.data->result() : local_result(451, "4.4.2", "DATA was not answered");
        for (std::size_t i : env.accepted) out.recipients[i] = out.message;
        co_await reset();
        co_return out;
    }

    if (prepared->replaced > 0)
        spdlog::debug("smtp client {}: From: {} -> {} ({}x)", peer_, m.from_rewrite_old, m.from_rewrite_new,
                      prepared->replaced);
    co_await stream_body(*prepared);

    if (options_.lmtp) {
        co_await lmtp_replies(env.accepted, out);
        if (state_ == State::broken) co_return out;   // lost after some replies
    } else {
        ServerReply final_reply = co_await read_reply("the end of data", kDataFinalTimeout);
        out.message = final_reply.result();
        for (std::size_t i : env.accepted) out.recipients[i] = out.message;
    }
    if (!out.message.ok()) {
        co_await reset();
        co_return out;
    }
    set_state(State::ready);
    co_return out;
}

awaitable<void> SmtpClient::quit() {
    if (state_ == State::closed) co_return;
    if (state_ != State::broken && conn_) {
        try {
            ServerReply r = co_await exchange("QUIT", "QUIT", kQuitTimeout);
            if (r.code != 221) spdlog::debug("smtp client {}: QUIT answered {}", peer_, r.summary());
        } catch (const ClientError&) {
            // The mail is delivered or not already; a lost goodbye changes nothing.
        }
    }
    if (conn_) conn_->close();
    set_state(State::closed);
}

awaitable<Result> SmtpClient::command(std::string line, std::chrono::seconds timeout) {
    if (state_ != State::ready) fail(fmt::format("{} in state {}", line, state_name(state_)), Cause::policy);
    const std::string verb = line.substr(0, line.find(' '));
    ServerReply r = co_await exchange(std::move(line), verb.c_str(), timeout);
    co_return r.result();
}

Connection& SmtpClient::turned() {
    // The provider speaks first now, as a client: nothing of ours may follow, not even QUIT.
    set_state(State::closed);
    return *conn_;
}

}  // namespace

ServerExtensions parse_extensions(const std::vector<std::string>& lines) {
    ServerExtensions e;
    // The first line is the server's name and greeting text, not a keyword.
    for (std::size_t i = 1; i < lines.size(); ++i) {
        std::string_view line = lines[i];
        std::size_t sp = line.find_first_of(" =");
        std::string keyword = uppercase_ascii(line.substr(0, sp));
        std::string_view params = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
        if (keyword == "PIPELINING") e.pipelining = true;
        else if (keyword == "8BITMIME") e.eightbitmime = true;
        else if (keyword == "SMTPUTF8") e.smtputf8 = true;
        else if (keyword == "DSN") e.dsn = true;
        else if (keyword == "STARTTLS") e.starttls = true;
        else if (keyword == "ENHANCEDSTATUSCODES") e.enhanced_status_codes = true;
        else if (keyword == "ATRN") e.atrn = true;
        else if (keyword == "ETRN") e.etrn = true;
        else if (keyword == "SIZE") {
            // RFC 1870 4: "SIZE" alone or with 0 means no fixed limit; garbage is treated the same.
            std::uint64_t n = 0;
            bool ok = !params.empty() && params.size() <= 19;
            for (char c : params) ok = ok && c >= '0' && c <= '9';
            if (ok)
                for (char c : params) n = n * 10 + static_cast<std::uint64_t>(c - '0');
            e.size = ok ? n : 0;
        } else if (keyword == "AUTH") {
            // "AUTH PLAIN LOGIN", and the pre-RFC "AUTH=PLAIN LOGIN" some servers still send.
            add_mechanisms(params, e.auth);
        }
    }
    return e;
}

ClientOptions hop_options(const Config& config, const HopConfig& hop, std::string server_name) {
    ClientOptions o;
    o.helo = config.hostname;
    o.server_name = std::move(server_name);
    o.tls = hop.tls;
    o.tls_required = hop.tls != TlsMode::none;
    o.tls_verify = hop.tls_verify;
    if (!hop.ca_file.empty()) o.ca_file = config.resolve(hop.ca_file);
    o.username = hop.username;
    o.password = password_source(hop.password, hop.password_command);
    o.oauth_token = token_source(hop.oauth2_token_command);
    return o;
}

awaitable<std::unique_ptr<Client>> Client::connect(std::vector<boost::asio::ip::tcp::endpoint> endpoints,
                                                   ClientOptions options) {
    // Opportunistic TLS (RFC 7435) that fails in the handshake is worth no more than none: like
    // Postfix at security level "may", the same address is tried once more in plaintext (attempt 1)
    // rather than keep the mail. AUTH still never goes without TLS (authenticate()).
    auto client = co_await connect_any<SmtpClient>(endpoints, options, kConnectTimeout, [](SmtpClient& c, unsigned attempt) {
        if (attempt > 0) c.without_starttls();
    });
    co_return std::unique_ptr<Client>(std::move(client));
}

awaitable<std::unique_ptr<Client>> Client::start(std::unique_ptr<Connection> connection, ClientOptions options) {
    auto client = co_await start_session<SmtpClient>(std::move(connection), std::move(options));
    co_return std::unique_ptr<Client>(std::move(client));
}

awaitable<std::unique_ptr<Client>> Client::start(Connection& connection, ClientOptions options) {
    auto client = co_await start_borrowed<SmtpClient>(connection, std::move(options));
    co_return std::unique_ptr<Client>(std::move(client));
}

}  // namespace mk::smtp
