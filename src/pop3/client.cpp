// pop3/client.cpp — the POP3 client used by the fetcher (RFC 1939, 2449 CAPA, 2595 STLS, 5034 AUTH); the
// provider's server is untrusted: every line is bounded, every response checked, every listing verified.
//
// One connection, one state machine: connecting (TCP, implicit TLS) -> authorization (greeting, CAPA,
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
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include "core/base64.hpp"
#include "net/connect_any.hpp"
#include "net/connection.hpp"
#include "net/offload.hpp"
#include "net/sasl.hpp"
#include "net/tls.hpp"
#include "pop3/command.hpp"

namespace mk::pop3 {

namespace {

using namespace std::chrono_literals;
namespace ssl = boost::asio::ssl;
using Duration = std::chrono::steady_clock::duration;

// options.timeout is the idle time per read (or write) with nothing moving, not a total; this stands
// in when the configuration gives none (the fetcher's documented default, "timeout = 60s").
constexpr Duration kDefaultTimeout = 60s;
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

enum class State { connecting, authorization, transaction, broken, closed };

// state_name - for the log.
const char* state_name(State s) {
    switch (s) {
        case State::connecting: return "connecting";
        case State::authorization: return "authorization";
        case State::transaction: return "transaction";
        case State::broken: return "broken";
        case State::closed: return "closed";
    }
    return "?";
}

// has_control - a CR, LF or other control character that would end or corrupt a command line.
bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

// summary - "-ERR [AUTH] text" for logs and errors (the text is already free of control characters).
std::string summary(const Response& r) {
    std::string s = r.indicator == Indicator::ok ? "+OK" : r.indicator == Indicator::err ? "-ERR" : "+";
    std::string_view code = resp_code_text(r.code);
    if (!code.empty()) s += fmt::format(" [{}]", code);
    if (!r.text.empty() && r.indicator != Indicator::more) s += " " + r.text;
    return s;
}

// Sha256 - an incremental SHA-256 (OpenSSL EVP) for the uid of a message on a server without UIDL.
class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new()) {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
            throw ClientError("SHA-256 is not available", false);
    }
    void update(std::string_view data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
    // hex - the digest in lower-case hex; the object is spent afterwards.
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx_.get(), md, &len);
        static constexpr char kHex[] = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < len; ++i) {
            out += kHex[md[i] >> 4];
            out += kHex[md[i] & 0xf];
        }
        return out;
    }

private:
    struct Free {
        void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
    };
    std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// The concrete client over one mk::Connection.
class Pop3Client final : public Client {
public:
    Pop3Client(ClientOptions options, std::shared_ptr<ssl::context> tls_ctx, tcp::endpoint endpoint)
        : options_(std::move(options)), tls_ctx_(std::move(tls_ctx)), endpoint_(std::move(endpoint)) {
        timeout_ = options_.timeout > std::chrono::seconds::zero() ? Duration(options_.timeout) : kDefaultTimeout;
        peer_ = peer_name(options_.server_name, endpoint_);
    }
    ~Pop3Client() override {
        // Without QUIT the server does not enter UPDATE: nothing marked here is deleted (RFC 1939 6).
        if (conn_) conn_->close();
    }

    // open - everything connect() promises for this one endpoint; throws ClientError.
    awaitable<void> open();
    // login_failed - the failure came from the login: other endpoints would get the same credentials,
    // and repeated failures can lock the account.
    bool login_failed() const { return login_failed_; }

    awaitable<std::vector<MessageInfo>> messages() override;
    awaitable<void> retrieve(unsigned number, const std::function<void(std::string_view)>& sink,
                             unsigned next = 0) override;
    awaitable<void> remove(unsigned number) override;
    awaitable<void> quit() override;
    std::string peer() const override { return peer_; }

private:
    void set_state(State s);
    [[noreturn]] void fail(const std::string& what);
    [[noreturn]] void login_error(const std::string& what, const Response& r);
    void require_transaction(const char* what) const;
    awaitable<Response> read_response(const char* what, bool continuation = false,
                                      std::size_t max = kMaxResponseText);
    awaitable<void> write(std::string_view data, const char* what);
    awaitable<Response> command(std::string line, const char* what, bool continuation = false,
                                std::size_t max = kMaxResponseText);
    awaitable<void> read_lines(const char* what, std::size_t max_lines,
                               const std::function<void(std::string_view)>& line_fn);
    awaitable<void> read_body(const std::string& what, const std::function<void(std::string_view)>& sink);
    awaitable<void> tls_handshake();
    awaitable<bool> capa();
    awaitable<void> stls();
    awaitable<void> login();
    awaitable<void> login_oauth();
    awaitable<void> login_password();
    awaitable<Response> auth_exchange(const std::string& mechanism, const std::string& initial);
    awaitable<Response> auth_oauth(const std::string& mechanism, const std::string& token);
    awaitable<void> uids_from_top(std::vector<MessageInfo>& list);
    bool offers(std::string_view mechanism) const {
        return std::find(caps_.sasl.begin(), caps_.sasl.end(), mechanism) != caps_.sasl.end();
    }

    ClientOptions options_;
    std::shared_ptr<ssl::context> tls_ctx_;   // declared before conn_: it outlives the TLS stream
    tcp::endpoint endpoint_;
    Duration timeout_;
    std::unique_ptr<Connection> conn_;
    std::string peer_;
    State state_ = State::connecting;
    Capabilities caps_;
    std::optional<unsigned> ahead_;   // a RETR sent ahead (pipelined), its answer not yet read
    awaitable<void> drain_ahead();
    bool login_failed_ = false;
};

// set_state - the one place the session changes state, logged old -> new.
void Pop3Client::set_state(State s) {
    if (s != state_) spdlog::debug("pop3 client {}: state {} -> {}", peer_, state_name(state_), state_name(s));
    state_ = s;
}

// fail - the session is unusable (network, TLS, protocol violation): close without QUIT, so that no
// deletion of this session is committed, and throw.
void Pop3Client::fail(const std::string& what) {
    set_state(State::broken);
    if (conn_) conn_->close();
    throw ClientError(fmt::format("{}: {}", peer_, what), false);
}

// login_error - the server refused the login. RFC 3206 4 and RFC 2449 8.1 codes say when the cause is
// not the credentials (SYS/TEMP, SYS/PERM, IN-USE, LOGIN-DELAY): those are not reported as auth
// failures, so the fetcher does not tell the user to fix a password that is right. Any other -ERR,
// with [AUTH] or without a code, is a refusal of the credentials.
void Pop3Client::login_error(const std::string& what, const Response& r) {
    login_failed_ = true;
    const bool credentials = r.code == RespCode::auth || r.code == RespCode::none;
    set_state(State::broken);
    if (conn_) conn_->close();
    throw ClientError(fmt::format("{}: {} as {} refused: {}", peer_, what, options_.username, summary(r)), credentials);
}

// require_transaction - check before a command of the transaction state that the session can take it.
void Pop3Client::require_transaction(const char* what) const {
    if (state_ != State::transaction)
        throw ClientError(fmt::format("{}: {}: session not usable ({})", peer_, what, state_name(state_)), false);
}

// read_response - one status line, bounded (RFC 2449 4: 512 octets with CRLF; AUTH challenges get
// more, RFC 5034 4), "+" accepted only where an AUTH continuation may come.
awaitable<Response> Pop3Client::read_response(const char* what, bool continuation, std::size_t max) {
    LineResult line = co_await conn_->read_line(max, timeout_);
    if (line.status == ReadStatus::timeout) fail(fmt::format("timed out waiting for the response to {}", what));
    if (line.status == ReadStatus::closed) fail(fmt::format("connection closed waiting for the response to {}", what));
    if (line.status == ReadStatus::too_long)
        fail(fmt::format("response to {} is longer than {} octets", what, max + 2));
    std::optional<Response> r = parse_response(line.line, continuation);
    if (!r) fail(fmt::format("malformed response to {}", what));
    co_return std::move(*r);
}

// write - the whole buffer within the timeout, or the session is broken.
awaitable<void> Pop3Client::write(std::string_view data, const char* what) {
    std::string failure = co_await conn_->write_failure(data, timeout_);
    if (!failure.empty()) fail(fmt::format("writing {}: {}", what, failure));
}

// command - write one line (CRLF added) and read its status line.
awaitable<Response> Pop3Client::command(std::string line, const char* what, bool continuation, std::size_t max) {
    line += "\r\n";
    co_await write(line, what);
    Response r = co_await read_response(what, continuation, max);
    co_return r;
}

// read_lines - the lines of a multi-line CAPA/LIST/UIDL response up to its "." (RFC 1939 3), each
// bounded by RFC 2449 4, CRLF-terminated, unstuffed, at most max_lines of them. line_fn may call fail().
awaitable<void> Pop3Client::read_lines(const char* what, std::size_t max_lines,
                                       const std::function<void(std::string_view)>& line_fn) {
    for (std::size_t n = 0;; ++n) {
        LineResult line = co_await conn_->read_line(kMaxResponseText, timeout_);
        if (line.status == ReadStatus::timeout) fail(fmt::format("timed out in the {} listing", what));
        if (line.status == ReadStatus::closed) fail(fmt::format("connection closed in the {} listing", what));
        if (line.status == ReadStatus::too_long)
            fail(fmt::format("a line of the {} listing is longer than {} octets", what, kMaxResponseLine));
        // Only CRLF "." CRLF ends a multi-line response; a bare LF in a listing is no POP3 at all.
        if (!line.crlf) fail(fmt::format("bare LF in the {} listing", what));
        std::string_view text = line.line;
        if (text == ".") co_return;
        if (n == max_lines) fail(fmt::format("the {} listing has more than {} lines", what, max_lines));
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
        if (data.empty()) fail(fmt::format("{} in the middle of {}", conn_->timed_out() ? "timed out" : "connection closed", what));
        std::size_t used = 0;
        while (used < data.size() && unstuffer.status() == DotUnstuffer::Status::more) {
            // The output is never longer than the input, so a slice of this size cannot overfill out.
            used += unstuffer.feed(data.substr(used, kSinkChunk - out.size()), out);
            if (out.size() >= kSinkChunk / 2) deliver();
        }
        conn_->consume(used);
        if (unstuffer.status() == DotUnstuffer::Status::line_too_long)
            fail(fmt::format("{}: a line longer than {} bytes without LF (not a message; nothing kept)", what,
                             kMaxMessageLine));
        if (unstuffer.status() == DotUnstuffer::Status::done) {
            deliver();
            co_return;
        }
    }
}

// tls_handshake - client side of TLS on the connection, SNI and verification per options.
awaitable<void> Pop3Client::tls_handshake() {
    // Without a configured name the certificate is checked against the address we connected to.
    std::string name = options_.server_name.empty() ? endpoint_.address().to_string() : options_.server_name;
    std::string failure = co_await conn_->tls_client_failure(*tls_ctx_, name, timeout_);
    if (!failure.empty()) fail(fmt::format("TLS handshake: {}", failure));
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
    if (!caps_.stls) fail("STLS required but not offered (no credentials sent)");
    Response r = co_await command("STLS", "STLS");
    if (r.indicator != Indicator::ok) fail(fmt::format("STLS refused: {} (no credentials sent)", summary(r)));
    // Anything after the +OK was sent before the handshake: a man in the middle injecting responses
    // that would be read as if they came over TLS (the STARTTLS injection attacks, CVE-2011-0411 kin).
    if (conn_->buffered() != 0) fail("data after the +OK to STLS (response injection)");
    co_await tls_handshake();
    // RFC 2595 4: the client MUST discard what it learnt before TLS and ask again.
    caps_ = Capabilities{};
    bool answered = co_await capa();
    (void)answered;   // refused: assume nothing, as before TLS
}

// auth_exchange - AUTH with the initial response on the command line (RFC 5034 4), or, when that line
// would pass RFC 2449's 255 octets (bearer tokens do), with the response after an empty challenge.
awaitable<Response> Pop3Client::auth_exchange(const std::string& mechanism, const std::string& initial) {
    std::string encoded = base64_encode(initial);
    // RFC 5034 4: an empty initial response is sent as "=".
    std::string line = fmt::format("AUTH {} {}", mechanism, encoded.empty() ? std::string("=") : encoded);
    if (line.size() <= kMaxCommandText) {
        Response r = co_await command(std::move(line), "AUTH", true, kMaxAuthLine);
        co_return r;
    }
    Response r = co_await command(fmt::format("AUTH {}", mechanism), "AUTH", true, kMaxAuthLine);
    if (r.indicator != Indicator::more) co_return r;
    // RFC 5034 4: response lines are bound by the mechanism, not by the 255 octets of a command.
    Response f = co_await command(std::move(encoded), "AUTH", true, kMaxAuthLine);
    co_return f;
}

// auth_oauth - one OAUTHBEARER or XOAUTH2 attempt. A refused token gets a "+" challenge carrying an
// error in JSON; the client answers it (RFC 7628 3.2.3) and the server ends with -ERR.
awaitable<Response> Pop3Client::auth_oauth(const std::string& mechanism, const std::string& token) {
    Response r = co_await auth_exchange(mechanism, oauth_response(mechanism, options_.username, token));
    if (r.indicator != Indicator::more) co_return r;
    auto detail = base64_decode(r.text);   // {"status":"invalid_token",...}: no secret in it
    if (detail && !has_control(*detail)) spdlog::info("pop3 client {}: AUTH {} refused: {}", peer_, mechanism, *detail);
    Response f = co_await command(base64_encode(oauth_failure_response(mechanism)), "AUTH", true, kMaxAuthLine);
    if (f.indicator == Indicator::more) {
        // Still challenging: RFC 5034 4 "*" cancels; the attempt has failed either way.
        Response c = co_await command("*", "AUTH", true, kMaxAuthLine);
        co_return c;
    }
    co_return f;
}

// login_oauth - the bearer token, refreshed once when the server refuses it (most often it expired).
awaitable<void> Pop3Client::login_oauth() {
    const std::string mechanism = offers("OAUTHBEARER") ? "OAUTHBEARER" : "XOAUTH2";
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool refresh = attempt > 0;
        std::string token;
        std::string error;
        try {
            token = co_await offload([&] { return options_.oauth_token(refresh); });
        } catch (const std::exception& e) {
            error = e.what();   // the token command's exit status, never its output
        }
        if (error.empty() && token.empty()) error = "empty";
        if (error.empty() && has_control(token)) error = "control character in the token";
        if (!error.empty()) {
            login_failed_ = true;
            throw ClientError(fmt::format("{}: no OAuth token: {}", peer_, error), true);
        }
        Response r = co_await auth_oauth(mechanism, token);
        if (r.indicator == Indicator::ok) co_return;
        // A refusal for a cause other than the token (SYS/TEMP, IN-USE) is not cured by a new one.
        const bool token_refused = r.code == RespCode::auth || r.code == RespCode::none;
        if (!refresh && token_refused) {
            spdlog::info("pop3 client {}: AUTH {} refused, retrying with a refreshed token", peer_, mechanism);
            continue;
        }
        login_error(fmt::format("AUTH {}", mechanism), r);
    }
}

// login_password - AUTH PLAIN where offered (RFC 5034, RFC 4616), else USER/PASS (RFC 1939 7).
awaitable<void> Pop3Client::login_password() {
    std::string password;
    std::string error;
    try {
        if (options_.password) password = co_await offload([&] { return options_.password(); });
        else error = options_.oauth_token ? "the server offers neither OAUTHBEARER nor XOAUTH2, and no password is set"
                                          : "none configured";
    } catch (const std::exception& e) {
        error = e.what();   // run_secret_command's message: the exit status, never the output
    }
    // Check, then act: a CR or LF in a credential would end the command line and inject the next one.
    if (error.empty() && (has_control(options_.username) || has_control(password)))
        error = "control character in the user name or password";
    if (!error.empty()) {
        login_failed_ = true;
        throw ClientError(fmt::format("{}: no password: {}", peer_, error), true);
    }
    if (offers("PLAIN")) {
        Response r = co_await auth_exchange("PLAIN", plain_response(options_.username, password));
        if (r.indicator == Indicator::more) {
            // PLAIN has one message: a further challenge is not PLAIN. Cancel (RFC 5034 4) and give up.
            r = co_await command("*", "AUTH", true, kMaxAuthLine);
            if (r.indicator == Indicator::ok) fail("AUTH PLAIN succeeded after being cancelled");
        }
        if (r.indicator != Indicator::ok) login_error("AUTH PLAIN", r);
        co_return;
    }
    // RFC 2449 4: a command line is 255 octets with CRLF; USER/PASS has no way around it.
    std::string user = "USER " + options_.username;
    std::string pass = "PASS " + password;
    if (user.size() > kMaxCommandText || pass.size() > kMaxCommandText) {
        login_failed_ = true;
        throw ClientError(fmt::format("{}: user name or password too long for USER/PASS (RFC 2449 4) and no AUTH PLAIN",
                                      peer_), true);
    }
    Response u = co_await command(std::move(user), "USER");
    if (u.indicator != Indicator::ok) login_error("USER", u);
    Response p = co_await command(std::move(pass), "PASS");
    if (p.indicator != Indicator::ok) login_error("PASS", p);
}

// login - the best way the server offers for the secret we have.
awaitable<void> Pop3Client::login() {
    // The flow above guarantees TLS when it was configured; check anyway before any secret leaves.
    if (options_.security != Security::plain && !conn_->tls()) fail("refusing to log in without TLS");
    if (options_.oauth_token && (offers("OAUTHBEARER") || offers("XOAUTH2"))) {
        co_await login_oauth();
        co_return;
    }
    co_await login_password();
}

awaitable<void> Pop3Client::open() {
    std::string reason;
    conn_ = co_await Connection::connect(endpoint_, timeout_, reason);
    if (!conn_) fail(fmt::format("connect: {}", reason));
    // RFC 8314 3.3: implicit TLS starts at once, before the server says anything.
    if (options_.security == Security::implicit) co_await tls_handshake();

    Response greeting = co_await read_response("the greeting");
    if (greeting.indicator != Indicator::ok) fail(fmt::format("greeting: {}", summary(greeting)));
    set_state(State::authorization);
    // A -ERR is a server from before CAPA: assume nothing (USER/PASS and UIDL are still tried, they
    // are RFC 1939's; STLS is not, and a required STLS then fails).
    bool answered = co_await capa();
    (void)answered;
    if (options_.security == Security::stls) co_await stls();
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
        co_await write(batch, "TOP");
        for (std::size_t i = first; i < last; ++i) {
            Response r = co_await read_response("TOP");
            if (r.indicator != Indicator::ok)
                fail(fmt::format("no UIDL and TOP {} 0 refused ({}): the messages cannot be identified", list[i].number,
                                 summary(r)));
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
    co_await write(first_write, "LIST");
    Response list = co_await read_response("LIST");
    if (list.indicator != Indicator::ok) fail(fmt::format("LIST refused: {}", summary(list)));
    std::vector<MessageInfo> out;
    const std::function<void(std::string_view)> add_scan = [&](std::string_view line) {
        std::uint64_t number = 0, size = 0;
        if (!parse_scan_listing(line, number, size) || number > UINT_MAX) fail("malformed LIST line");
        out.push_back(MessageInfo{static_cast<unsigned>(number), size, {}});
    };
    co_await read_lines("LIST", kMaxListing, add_scan);
    std::sort(out.begin(), out.end(), [](const MessageInfo& a, const MessageInfo& b) { return a.number < b.number; });
    for (std::size_t i = 1; i < out.size(); ++i)
        if (out[i].number == out[i - 1].number) fail(fmt::format("LIST names message {} twice", out[i].number));

    if (!pipelined) co_await write("UIDL\r\n", "UIDL");
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
        if (!parse_uid_listing(line, number, uid)) fail("malformed UIDL line");
        uids.emplace_back(number, std::move(uid));
    };
    co_await read_lines("UIDL", kMaxListing, add_uid);
    std::sort(uids.begin(), uids.end());
    // The fetcher decides "delivered already" and "delete" by uid: a listing that does not match LIST
    // one to one, or names one uid twice, could make it delete a message it never fetched.
    if (uids.size() != out.size()) fail(fmt::format("LIST has {} messages, UIDL {}", out.size(), uids.size()));
    std::unordered_set<std::string_view> seen;   // views into uids: nothing is moved out until checked
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (uids[i].first != out[i].number) fail("LIST and UIDL name different messages");
        if (!seen.insert(uids[i].second).second) fail("UIDL gives two messages the same uid");
    }
    seen.clear();
    for (std::size_t i = 0; i < out.size(); ++i) out[i].uid = std::move(uids[i].second);
    co_return out;
}

awaitable<void> Pop3Client::retrieve(unsigned number, const std::function<void(std::string_view)>& sink, unsigned next) {
    require_transaction("RETR");
    if (number == 0) throw ClientError(fmt::format("{}: RETR 0: messages are numbered from 1", peer_), false);
    // Check, then act: a RETR already on the wire for another message is read away first.
    if (ahead_ && *ahead_ != number) co_await drain_ahead();
    std::string out;
    if (!ahead_) out += fmt::format("RETR {}\r\n", number);
    ahead_.reset();
    if (next != 0 && caps_.pipelining) {
        out += fmt::format("RETR {}\r\n", next);
        ahead_ = next;
    }
    if (!out.empty()) co_await write(out, "RETR");
    Response r = co_await read_response("RETR", false, kMaxResponseText);
    // A refusal (deleted, or gone) leaves the session usable (a pipelined RETR stays ahead).
    if (r.indicator != Indicator::ok)
        throw ClientError(fmt::format("{}: RETR {} refused: {}", peer_, number, summary(r)), false);
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
    if (number == 0) throw ClientError(fmt::format("{}: DELE 0: messages are numbered from 1", peer_), false);
    Response r = co_await command(fmt::format("DELE {}", number), "DELE");
    if (r.indicator != Indicator::ok)
        throw ClientError(fmt::format("{}: DELE {} refused: {}", peer_, number, summary(r)), false);
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
        throw ClientError(fmt::format("{}: QUIT refused, deletions not committed: {}", peer_, summary(r)), false);
}

}  // namespace

awaitable<std::unique_ptr<Client>> Client::connect(std::vector<boost::asio::ip::tcp::endpoint> endpoints,
                                                   ClientOptions options) {
    if (endpoints.empty()) throw ClientError("no address to connect to", false);
    auto ctx = client_context<ClientError>(options.security != Security::plain, options.tls_verify, options.ca_file);
    auto client = co_await connect_any<Pop3Client, ClientError>(
        endpoints, [&](const auto& endpoint) { return std::make_unique<Pop3Client>(options, ctx, endpoint); });
    co_return std::unique_ptr<Client>(std::move(client));
}

}  // namespace mk::pop3
