// imap/client.cpp — the IMAP4rev1 client used by the fetcher (RFC 3501, 2177 IDLE, 4315 UIDPLUS, 4959
// SASL-IR, 7628 OAUTHBEARER, 8314 implicit TLS); the provider's server is untrusted: every response
// goes through the bounded parser (imap/response), bodies are streamed, never held.
//
// One connection, one state machine (RFC 3501 3): connected (implicit TLS) -> not_authenticated
// (greeting, CAPABILITY, STARTTLS and CAPABILITY again, login) -> authenticated -> selected (SELECT)
// <-> idling (IDLE .. DONE) -> logged_out. A network failure, a timeout, BYE or a protocol violation
// makes the session broken: the connection is closed and every later call throws. A NO or BAD to a
// command leaves the session usable. Untagged responses are welcome at any time (RFC 3501 7): EXISTS
// and EXPUNGE keep the message count, CAPABILITY the capabilities; the rest is ignored.
#include "imap/client.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include <boost/asio/ssl.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/base64.hpp"
#include "imap/response.hpp"
#include "net/connection.hpp"
#include "net/sasl_client.hpp"

namespace mk::imap {

namespace {

using namespace std::chrono_literals;
namespace ssl = boost::asio::ssl;
using Clock = std::chrono::steady_clock;
using Duration = Clock::duration;

// No RFC figure: a host that does not complete a TCP handshake in this time is down for us (the SMTP
// client's figure, after Postfix's smtp_connect_timeout).
constexpr Duration kConnectTimeout = 30s;
// RFC 2177 3: the server may log out an idle client after 30 minutes; re-issue IDLE at least every 29.
constexpr Duration kMaxIdle = 29min;
// The messages are fetched and deleted by then: only the goodbye is at stake.
constexpr Duration kLogoutTimeout = 10s;
// RFC 3501 9: a literal's size is a 32-bit number, so no IMAP4rev1 message is larger.
constexpr std::uint64_t kMaxImapLiteral = 0xffffffffu;
// RFC 3501 sets no folder size. One listing entry costs 16 bytes here (in a std::map about 64), so
// this caps a listing (the UIDs of UID SEARCH ALL, then their sizes) at ~64 MB; a folder larger than
// that is reported instead of fetched.
constexpr std::size_t kMaxListing = 1'000'000;
// messages() fetches the sizes of the UIDs UID SEARCH ALL found this many at a time: each UID FETCH
// command line stays bounded (at most 11 octets a UID, ~5.5 KB, under RFC 7162 4's 8192) and so does
// each command's response, instead of one UID FETCH 1:* answered with the whole folder at once.
constexpr std::size_t kListBatch = 500;
// UID SEARCH covers this many sequence numbers per command; see messages().
constexpr std::uint32_t kSearchWindow = 5000;
// Untagged responses to one command beyond the listing: a server that never sends its tagged
// response but keeps talking (each response is bounded, their number must be too).
constexpr std::size_t kMaxResponsesPerCommand = kMaxListing + 10'000;
// RFC 7162 4 asks servers to accept command lines of 8192 octets; a UID (up to 10 digits and a comma)
// costs 11, so 500 per UID STORE / UID EXPUNGE stays well under that.
constexpr std::size_t kMaxUidsPerCommand = 500;
// Server text quoted in our errors and logs is cut to this many characters.
constexpr std::size_t kMaxQuotedText = 200;

enum class State { connected, not_authenticated, authenticated, selected, idling, logged_out, broken };

// state_name - for the log.
const char* state_name(State s) {
    switch (s) {
        case State::connected: return "connected";
        case State::not_authenticated: return "not authenticated";
        case State::authenticated: return "authenticated";
        case State::selected: return "selected";
        case State::idling: return "idling";
        case State::logged_out: return "logged out";
        case State::broken: return "broken";
    }
    return "?";
}

// printable - server text for a log line or an error: control characters become spaces, and it is cut.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, kMaxQuotedText)) {
        auto u = static_cast<unsigned char>(c);
        out += u < 0x20 || u == 0x7f ? ' ' : c;
    }
    if (s.size() > kMaxQuotedText) out += "...";
    return out;
}

// summary - "NO [AUTHENTICATIONFAILED] Authentication failed." for errors and logs.
std::string summary(const Response& r) {
    std::string s = r.name;
    if (!r.code.name.empty())
        s += r.code.text.empty() ? fmt::format(" [{}]", r.code.name) : fmt::format(" [{} {}]", r.code.name, r.code.text);
    if (!r.text.empty()) s += " " + r.text;
    return printable(s);
}

// temporary - a refusal whose response code says it may pass (RFC 5530 3: UNAVAILABLE, INUSE).
bool temporary(const Response& r) { return r.code.name == "UNAVAILABLE" || r.code.name == "INUSE"; }

// The concrete client over one mk::Connection; it frames the SASL exchanges of AUTHENTICATE itself.
class ImapClient final : public Client, public ClientSession, private SaslFraming {
public:
    ImapClient(std::unique_ptr<Connection> conn, ClientOptions options, std::shared_ptr<ssl::context> tls_ctx)
        : ClientSession(std::move(conn), std::move(tls_ctx), options.server_name),
          options_(std::move(options)),
          parser_(options_.max_message_size == 0 ? kMaxImapLiteral : options_.max_message_size),
          timeout_(idle_timeout(options_)) {}

    // open - everything start() promises on this connection; throws ClientError.
    awaitable<void> open();

    awaitable<Folder> select(const std::string& folder) override;
    awaitable<std::vector<MessageInfo>> messages() override;
    awaitable<void> retrieve(std::uint32_t uid, const std::function<void(std::string_view)>& sink) override;
    awaitable<void> remove(const std::vector<std::uint32_t>& uids) override;
    bool can_idle() const override { return has_cap("IDLE"); }
    awaitable<bool> idle(std::chrono::seconds max_wait) override;
    awaitable<void> logout() override;
    std::string peer() const override { return peer_; }
    void abort() override {
        if (conn_) conn_->close();
    }

private:
    using DataHandler = std::function<void(const Response&)>;

    void set_state(State s);
    void broken() override { set_state(State::broken); }
    [[noreturn]] void login_error(const std::string& what);
    [[noreturn]] void refused(const std::string& what, const Response& r) const;
    void require(State wanted, const char* what) const;
    bool has_cap(std::string_view cap) const { return std::find(caps_.begin(), caps_.end(), cap) != caps_.end(); }
    std::string next_tag() { return fmt::format("A{:03}", ++tag_number_); }

    awaitable<std::optional<Response>> read_response_within(const char* what, const BodySink& sink, Duration timeout);
    awaitable<Response> read_response(const char* what, const BodySink& sink);
    void on_untagged(const Response& r);
    awaitable<Response> finish(const std::string& tag, const char* what, const DataHandler& on_data,
                               const BodySink& sink, bool continuation_ok, bool bye_ok);
    awaitable<Response> command(const std::string& args, const char* what, const DataHandler& on_data = {},
                                const BodySink& sink = {});
    awaitable<void> capability();
    awaitable<void> starttls();
    awaitable<void> login();
    awaitable<SaslStep> sasl_start(std::string_view mechanism, const std::optional<std::string>& initial) override;
    awaitable<SaslStep> sasl_respond(std::string_view response) override;
    awaitable<SaslStep> sasl_cancel() override;
    awaitable<SaslStep> sasl_step();
    awaitable<Response> login_command(const std::string& password);

    ClientOptions options_;
    ResponseParser parser_;
    Duration timeout_;
    State state_ = State::connected;
    std::vector<std::string> caps_;
    bool caps_seen_ = false;          // a CAPABILITY arrived since caps_seen_ was last cleared
    unsigned tag_number_ = 0;
    std::string auth_tag_;            // the tag of the AUTHENTICATE under way
    // The selected folder.
    std::uint32_t exists_ = 0;
    bool read_only_ = false;
    bool new_since_listing_ = false;  // an EXISTS raised the count after the last messages()
    std::uint64_t changes_ = 0;       // EXISTS and EXPUNGE responses seen, for IDLE
};

// set_state - the one place the session changes state, logged old -> new.
void ImapClient::set_state(State s) {
    if (s != state_) spdlog::debug("imap client {}: state {} -> {}", peer_, state_name(state_), state_name(s));
    state_ = s;
}

// login_error - the credentials were refused or cannot be sent: an auth error, no other endpoint tried.
void ImapClient::login_error(const std::string& what) {
    throw ClientError(fmt::format("{}: {}", peer_, what), ClientCause::policy).at_login(true);
}

// refused - the server said NO or BAD to a command: the session stays usable.
void ImapClient::refused(const std::string& what, const Response& r) const {
    throw ClientError(fmt::format("{}: {} refused: {}", peer_, what, summary(r)), 0, temporary(r));
}

// require - check, before a command, that the session is in the state the command belongs to.
void ImapClient::require(State wanted, const char* what) const {
    if (state_ != wanted)
        throw ClientError(fmt::format("{}: {}: session not usable ({})", peer_, what, state_name(state_)),
                          ClientCause::network);
}

// read_response_within - the next whole response, or nullopt when timeout passed with the response
// not complete (what was read of it stays in the parser). Closed connection or garbage: fail().
// A sink that throws breaks the session (the rest of its literal is unread) and the exception goes on.
awaitable<std::optional<Response>> ImapClient::read_response_within(const char* what, const BodySink& sink,
                                                                    Duration timeout) {
    for (;;) {
        auto start = Clock::now();
        std::string_view data = co_await conn_->peek_some(timeout);
        if (data.empty()) {
            // The watchdog fires no sooner than timeout after the read began; anything earlier is EOF.
            if (Clock::now() - start >= timeout) co_return std::nullopt;
            fail(fmt::format("connection closed {} {}",
                             parser_.in_body() ? "in the middle of the message in" : "waiting for the response to", what),
                 ClientCause::network);
        }
        std::size_t used = 0;
        try {
            used = parser_.feed(data, sink);
        } catch (...) {
            set_state(State::broken);
            conn_->close();
            throw;
        }
        conn_->consume(used);
        if (parser_.failed())
            fail(fmt::format("protocol violation in the response to {}: {}", what, error_text(parser_.error())),
                 ClientCause::policy);
        if (parser_.done()) co_return parser_.take();
        timeout = timeout_;   // from the second read on, the idle time of the session
    }
}

// read_response - the next whole response within the session's idle time per read.
awaitable<Response> ImapClient::read_response(const char* what, const BodySink& sink) {
    std::optional<Response> r = co_await read_response_within(what, sink, timeout_);
    if (!r) fail(fmt::format("timed out waiting for the response to {}", what), ClientCause::network);
    co_return std::move(*r);
}

// on_untagged - what any untagged response tells the session, whichever command it came with.
void ImapClient::on_untagged(const Response& r) {
    if (r.name == "CAPABILITY" || r.code.name == "CAPABILITY") {
        caps_ = r.capabilities;
        caps_seen_ = true;
    }
    if (r.name == "EXISTS" && r.number) {
        // RFC 3501 7.3.1: the new size of the mailbox; larger means new mail.
        if ((state_ == State::selected || state_ == State::idling) && *r.number > exists_) new_since_listing_ = true;
        exists_ = *r.number;
        ++changes_;
    } else if (r.name == "EXPUNGE") {
        // RFC 3501 7.4.1: one message fewer.
        if (exists_ > 0) --exists_;
        ++changes_;
    }
    // RFC 3501 7.1: an ALERT must be shown to the user: the log is where they look.
    if (r.code.name == "ALERT") spdlog::warn("imap client {}: server alert: {}", peer_, printable(r.text));
}

// finish - read the responses to the command tagged tag up to its tagged response; untagged ones go
// to on_untagged and on_data. With continuation_ok a "+" is returned as well (AUTHENTICATE, literals,
// IDLE); otherwise it is a protocol violation. BYE breaks the session unless bye_ok (LOGOUT).
awaitable<Response> ImapClient::finish(const std::string& tag, const char* what, const DataHandler& on_data,
                                       const BodySink& sink, bool continuation_ok, bool bye_ok) {
    for (std::size_t n = 0;; ++n) {
        if (n == kMaxResponsesPerCommand) fail(fmt::format("more than {} responses to {}", n, what), ClientCause::policy);
        Response r = co_await read_response(what, sink);
        if (r.kind == Kind::tagged) {
            // RFC 3501 2.2.1: commands are answered in the order sent; we never have two outstanding.
            if (r.tag != tag)
                fail(fmt::format("response tagged {} while waiting for {}", printable(r.tag), tag), ClientCause::policy);
            on_untagged(r);   // a tagged OK may carry [CAPABILITY ...] (RFC 3501 7.1)
            co_return r;
        }
        if (r.kind == Kind::continuation) {
            if (continuation_ok) co_return r;
            fail(fmt::format("unexpected continuation request during {}", what), ClientCause::policy);
        }
        if (r.status == Status::bye && !bye_ok)
            fail(fmt::format("server closed the session during {}: {}", what, summary(r)), ClientCause::reply);
        on_untagged(r);
        if (on_data) on_data(r);
    }
}

// command - send "tag args" and read everything up to the tagged response.
awaitable<Response> ImapClient::command(const std::string& args, const char* what, const DataHandler& on_data,
                                        const BodySink& sink) {
    std::string tag = next_tag();
    std::string line = tag + " " + args + "\r\n";
    co_await write(line, what, timeout_);
    Response r = co_await finish(tag, what, on_data, sink, false, false);
    co_return r;
}

// capability - RFC 3501 6.1.1: what the server offers now, into caps_.
awaitable<void> ImapClient::capability() {
    caps_seen_ = false;
    Response r = co_await command("CAPABILITY", "CAPABILITY");
    if (r.status != Status::ok) fail(fmt::format("CAPABILITY refused: {}", summary(r)), ClientCause::policy);
    // RFC 3501 6.1.1: the untagged CAPABILITY is required, and IMAP4rev1 must be in it.
    if (!caps_seen_) fail("no CAPABILITY in the response to CAPABILITY", ClientCause::policy);
    if (!has_cap("IMAP4REV1")) fail("not an IMAP4rev1 server", ClientCause::policy);
}

// starttls - RFC 3501 6.2.1, RFC 2595 3.1: STARTTLS, the handshake, CAPABILITY again. Required when
// configured: a server that does not offer it gets no credentials in plaintext.
awaitable<void> ImapClient::starttls() {
    if (!has_cap("STARTTLS")) fail("STARTTLS required but not offered", ClientCause::policy);
    Response r = co_await command("STARTTLS", "STARTTLS");
    if (r.status != Status::ok) fail(fmt::format("STARTTLS refused: {}", summary(r)), ClientCause::policy);
    // Anything after the OK was sent before the handshake: a man in the middle injecting responses
    // that would be read as if they came over TLS (CVE-2011-0411 and its IMAP kin).
    if (conn_->buffered() != 0) fail("data after the OK to STARTTLS (response injection)", ClientCause::policy);
    co_await start_tls(timeout_);
    // RFC 3501 6.2.1: forget what the server said before TLS and ask again.
    caps_.clear();
    co_await capability();
}

// sasl_start - RFC 3501 6.2.2 AUTHENTICATE with the initial response on the command line when the
// server offers SASL-IR (RFC 4959), else after its first "+".
awaitable<SaslStep> ImapClient::sasl_start(std::string_view mechanism, const std::optional<std::string>& initial) {
    auth_tag_ = next_tag();
    const char* what = "AUTHENTICATE";
    std::string command = fmt::format("{} AUTHENTICATE {}", auth_tag_, mechanism);
    if (initial && has_cap("SASL-IR")) {
        std::string line = fmt::format("{} {}\r\n", command, initial->empty() ? std::string("=") : base64_encode(*initial));
        co_await write(line, what, timeout_);
        SaslStep step = co_await sasl_step();
        co_return step;
    }
    command += "\r\n";
    co_await write(command, what, timeout_);
    SaslStep first = co_await sasl_step();
    if (!initial || first.kind != SaslStep::Kind::challenge) co_return first;
    // RFC 3501 6.2.2: the response is base64 on a line of its own; empty stays empty.
    SaslStep step = co_await sasl_respond(*initial);
    co_return step;
}

// sasl_respond - one base64 response line to a "+" challenge.
awaitable<SaslStep> ImapClient::sasl_respond(std::string_view response) {
    std::string line = base64_encode(response) + "\r\n";
    co_await write(line, "AUTHENTICATE", timeout_);
    SaslStep step = co_await sasl_step();
    co_return step;
}

// sasl_cancel - RFC 3501 6.2.2: "*" cancels the exchange; the server answers BAD.
awaitable<SaslStep> ImapClient::sasl_cancel() {
    co_await write("*\r\n", "AUTHENTICATE", timeout_);
    SaslStep step = co_await sasl_step();
    co_return step;
}

// sasl_step - the server's next answer to AUTHENTICATE: "+" carries a challenge, the tagged OK is
// success; a tagged NO or BAD refuses the login.
awaitable<SaslStep> ImapClient::sasl_step() {
    Response r = co_await finish(auth_tag_, "AUTHENTICATE", {}, {}, true, false);
    if (r.kind == Kind::continuation) co_return SaslStep{SaslStep::Kind::challenge, r.text};
    if (r.status == Status::ok) co_return SaslStep{SaslStep::Kind::success};
    co_return SaslStep{SaslStep::Kind::failure, {}, 0, temporary(r), true, summary(r)};
}

// login_command - RFC 3501 6.2.3 LOGIN user password: quoted strings, or literals for 8-bit octets
// (LITERAL+ non-synchronizing when offered, RFC 7888; otherwise waiting for each "+").
awaitable<Response> ImapClient::login_command(const std::string& password) {
    const char* what = "LOGIN";
    std::string tag = next_tag();
    std::string line = tag + " LOGIN";
    const bool literal_plus = has_cap("LITERAL+");
    // XXX g++ 12 miscompiles a braced list inside a coroutine: the arguments are pushed one by one.
    std::vector<const std::string*> args;
    args.push_back(&options_.username);
    args.push_back(&password);
    for (const std::string* arg : args) {
        if (auto q = quote(*arg)) {
            line += " " + *q;
            continue;
        }
        if (literal_plus) {
            line += fmt::format(" {{{}+}}\r\n", arg->size());
            line += *arg;
            continue;
        }
        line += fmt::format(" {{{}}}\r\n", arg->size());
        co_await write(line, what, timeout_);
        Response r = co_await finish(tag, what, {}, {}, true, false);
        if (r.kind == Kind::tagged) co_return r;
        line = *arg;
    }
    line += "\r\n";
    co_await write(line, what, timeout_);
    Response r = co_await finish(tag, what, {}, {}, false, false);
    co_return r;
}

// login - the best login the server offers for our kind of secret: AUTHENTICATE OAUTHBEARER/XOAUTH2 with
// a token (refreshed once when refused), else AUTHENTICATE PLAIN (net/sasl_client), else LOGIN (RFC 3501
// 6.2) unless the server disabled it.
awaitable<void> ImapClient::login() {
    // Credentials never travel in plaintext unless the configuration asked for no TLS at all.
    if (!conn_->tls() && options_.tls != TlsMode::none) login_error("refusing to log in without TLS");
    caps_seen_ = false;
    std::vector<std::string> mechanisms;
    for (const std::string& cap : caps_)
        if (cap.starts_with("AUTH=")) mechanisms.push_back(cap.substr(5));   // RFC 3501 6.2.2
    SaslClient sasl(*this, options_, SaslContext{"AUTHENTICATE", peer_, "imap client", conn_->tls()});
    std::optional<std::string> password = co_await sasl.login(mechanisms, false, !has_cap("LOGINDISABLED"));
    if (!password) co_return;
    Response r = co_await login_command(*password);
    if (r.status != Status::ok)
        throw ClientError(fmt::format("{}: LOGIN as {} failed: {}", peer_, options_.username, summary(r)), 0, temporary(r))
            .at_login(true);
}

awaitable<void> ImapClient::open() {
    // RFC 8314 3.2: implicit TLS starts at once, before the server says anything.
    if (options_.tls == TlsMode::implicit && !conn_->tls()) co_await start_tls(timeout_);

    // RFC 3501 7.1: the greeting is an untagged OK, PREAUTH or BYE.
    Response greeting = co_await read_response("the greeting", {});
    if (greeting.kind != Kind::untagged || (greeting.status != Status::ok && greeting.status != Status::preauth &&
                                            greeting.status != Status::bye))
        fail("the greeting is not an untagged OK, PREAUTH or BYE", ClientCause::policy);
    if (greeting.status == Status::bye)
        fail(fmt::format("server refused the connection: {}", summary(greeting)), ClientCause::reply);
    on_untagged(greeting);
    const bool preauth = greeting.status == Status::preauth;
    // A PREAUTH session is authenticated already, where STARTTLS is no longer allowed (RFC 3501 6.2.1):
    // on a connection that must be upgraded that is a downgrade (CVE-2020-12398, CVE-2020-14093).
    const bool upgrade = options_.tls == TlsMode::starttls && !conn_->tls();
    if (preauth && upgrade) fail("PREAUTH greeting where STARTTLS is required", ClientCause::policy);
    set_state(preauth ? State::authenticated : State::not_authenticated);
    if (!caps_seen_) co_await capability();
    if (!has_cap("IMAP4REV1")) fail("not an IMAP4rev1 server", ClientCause::policy);
    if (upgrade) co_await starttls();
    if (!preauth) {
        co_await login();
        set_state(State::authenticated);
        // RFC 3501 6.2.3: capabilities may change at login; most servers say so in the tagged OK.
        if (!caps_seen_) co_await capability();
    }
    spdlog::info("imap client {}: logged in{}{}", peer_, conn_->tls() ? ", " : "", conn_->tls_description());
}

awaitable<Folder> ImapClient::select(const std::string& folder) {
    if (state_ != State::selected) require(State::authenticated, "SELECT");
    auto encoded = encode_mailbox(folder);
    std::optional<std::string> quoted;
    if (encoded && !encoded->empty()) quoted = quote(*encoded);
    if (!quoted) throw ClientError(fmt::format("{}: invalid folder name \"{}\"", peer_, printable(folder)), ClientCause::policy);
    // RFC 3501 6.3.1: SELECT leaves the selected state at once, whatever its outcome.
    set_state(State::authenticated);
    exists_ = 0;
    read_only_ = false;
    Folder f;
    bool have_uidvalidity = false;
    DataHandler on_data = [&](const Response& r) {
        if (r.code.name == "UIDVALIDITY" && r.code.number) {
            f.uidvalidity = *r.code.number;
            have_uidvalidity = true;
        } else if (r.code.name == "UIDNEXT" && r.code.number) {
            f.uidnext = *r.code.number;
        }
    };
    Response r = co_await command("SELECT " + *quoted, "SELECT", on_data);
    if (r.status != Status::ok) refused(fmt::format("SELECT {}", printable(folder)), r);
    read_only_ = r.code.name == "READ-ONLY";
    set_state(State::selected);
    new_since_listing_ = false;
    // RFC 3501 6.3.1: UIDVALIDITY is required; without it no UID can be remembered across sessions.
    if (!have_uidvalidity) fail(fmt::format("no UIDVALIDITY for {}", printable(folder)), ClientCause::policy);
    f.exists = exists_;
    co_return f;
}

awaitable<std::vector<MessageInfo>> ImapClient::messages() {
    require(State::selected, "UID SEARCH");
    // Whatever is new from here on is in this listing or raises the flag again.
    new_since_listing_ = false;
    std::vector<MessageInfo> out;
    if (exists_ == 0) co_return out;   // nothing to search for, nothing to fetch
    // RFC 3501 6.4.4, 7.2.5: the UIDs come in untagged SEARCH responses (one or several), any order.
    std::vector<std::uint32_t> uids;
    DataHandler on_search = [&](const Response& r) {
        if (r.name != "SEARCH") return;
        for (const Value& v : r.values) {
            // RFC 3501 9: nz-number, 32 bits.
            if (v.kind != ValueKind::number || v.number == 0 || v.number > 0xffffffffu)
                fail("protocol violation in the response to UID SEARCH: not a UID", ClientCause::policy);
            if (uids.size() == kMaxListing)
                fail(fmt::format("folder listing larger than {} messages", kMaxListing), ClientCause::policy);
            uids.push_back(static_cast<std::uint32_t>(v.number));
        }
    };
    // The SEARCH goes by windows of message sequence numbers: one answer line per window stays under
    // the parser's kMaxLine even with 10-digit UIDs (5,000 x 11 octets), where "UID SEARCH ALL" on a
    // large folder is one line longer than any bound we would accept. The last window is open-ended.
    const std::uint32_t total = exists_;
    for (std::uint32_t first = 1; first <= total; first += kSearchWindow) {
        bool last = total - first < kSearchWindow;
        std::string window = last ? fmt::format("{}:*", first) : fmt::format("{}:{}", first, first + kSearchWindow - 1);
        Response searched = co_await command("UID SEARCH " + window, "UID SEARCH", on_search);
        if (searched.status != Status::ok) refused("UID SEARCH", searched);
    }
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());

    std::map<std::uint32_t, std::uint64_t> sizes;
    DataHandler on_fetch = [&](const Response& r) {
        if (r.name != "FETCH") return;
        auto uid = r.fetch_uid();
        const FetchItem* size = r.item("RFC822.SIZE");
        // Unsolicited FETCHes (flag changes by another client) carry neither: they are not the listing.
        if (!uid || !size || size->value.kind != ValueKind::number) return;
        if (sizes.size() == kMaxListing && !sizes.contains(*uid))
            fail(fmt::format("folder listing larger than {} messages", kMaxListing), ClientCause::policy);
        sizes[*uid] = size->value.number;
    };
    // A UID found by the SEARCH and expunged before its FETCH is simply not answered (RFC 3501 6.4.8):
    // it is not in the listing.
    for (std::size_t i = 0; i < uids.size(); i += kListBatch) {
        std::size_t end = std::min(uids.size(), i + kListBatch);
        std::string set = uid_set(std::vector<std::uint32_t>(uids.begin() + static_cast<std::ptrdiff_t>(i),
                                                             uids.begin() + static_cast<std::ptrdiff_t>(end)));
        Response r = co_await command(fmt::format("UID FETCH {} (UID RFC822.SIZE)", set), "UID FETCH", on_fetch);
        if (r.status != Status::ok) refused("UID FETCH", r);
    }
    out.reserve(sizes.size());
    for (const auto& [uid, size] : sizes) out.push_back(MessageInfo{uid, size});
    co_return out;
}

awaitable<void> ImapClient::retrieve(std::uint32_t uid, const std::function<void(std::string_view)>& sink) {
    require(State::selected, "UID FETCH");
    if (uid == 0) throw ClientError(fmt::format("{}: UID 0 does not exist (RFC 3501 2.3.1.1)", peer_), ClientCause::policy);
    std::size_t bodies = 0;
    bool vanished = false;
    bool unverified = false;   // bytes of the current FETCH went to sink before its UID was known
    BodySink body_sink = [&](const BodyPiece& piece) {
        if (piece.item != "BODY[]") return;
        if (piece.uid && *piece.uid != uid) return;   // another message's body: not ours to keep
        if (!piece.uid) unverified = true;
        sink(piece.data);
    };
    DataHandler on_data = [&](const Response& r) {
        if (r.name != "FETCH") return;
        const FetchItem* body = r.item("BODY[]");
        bool ours = r.fetch_uid() == uid;
        if (unverified && !ours)
            fail(fmt::format("UID FETCH {}: the body of another message was sent", uid), ClientCause::policy);
        unverified = false;
        if (!body || !ours) return;
        if (body->value.kind == ValueKind::nil) vanished = true;
        if (++bodies > 1) fail(fmt::format("UID FETCH {}: the body was sent twice", uid), ClientCause::policy);
    };
    Response r = co_await command(fmt::format("UID FETCH {} (BODY.PEEK[])", uid), "UID FETCH", on_data, body_sink);
    if (r.status != Status::ok) refused(fmt::format("UID FETCH {}", uid), r);
    // RFC 3501 6.4.8: a UID that no longer exists is answered OK with no FETCH at all.
    if (bodies == 0 || vanished)
        throw ClientError(fmt::format("{}: UID {}: no such message (expunged?)", peer_, uid), 0, false);
}

awaitable<void> ImapClient::remove(const std::vector<std::uint32_t>& uids) {
    require(State::selected, "UID STORE");
    if (uids.empty()) co_return;
    if (read_only_) throw ClientError(fmt::format("{}: folder is read-only: nothing deleted", peer_), ClientCause::policy);
    std::vector<std::uint32_t> sorted = uids;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    if (sorted.front() == 0) throw ClientError(fmt::format("{}: UID 0 does not exist", peer_), ClientCause::policy);
    std::vector<std::string> sets;
    for (std::size_t i = 0; i < sorted.size(); i += kMaxUidsPerCommand) {
        std::size_t end = std::min(sorted.size(), i + kMaxUidsPerCommand);
        sets.push_back(uid_set(std::vector<std::uint32_t>(sorted.begin() + static_cast<std::ptrdiff_t>(i),
                                                          sorted.begin() + static_cast<std::ptrdiff_t>(end))));
    }
    // RFC 3501 6.4.6: .SILENT: no FETCH per message back.
    for (const auto& set : sets) {
        Response r = co_await command(fmt::format("UID STORE {} +FLAGS.SILENT (\\Deleted)", set), "UID STORE");
        if (r.status != Status::ok) refused("UID STORE", r);
    }
    if (has_cap("UIDPLUS")) {
        // RFC 4315 2.1: only these messages, not others another client marked \Deleted.
        for (const auto& set : sets) {
            Response r = co_await command("UID EXPUNGE " + set, "UID EXPUNGE");
            if (r.status != Status::ok) refused("UID EXPUNGE", r);
        }
        co_return;
    }
    // XXX without UIDPLUS, EXPUNGE also removes what another client marked \Deleted: there is no other way.
    Response r = co_await command("EXPUNGE", "EXPUNGE");
    if (r.status != Status::ok) refused("EXPUNGE", r);
}

awaitable<bool> ImapClient::idle(std::chrono::seconds max_wait) {
    require(State::selected, "IDLE");
    if (!can_idle()) throw ClientError(fmt::format("{}: server does not offer IDLE", peer_), ClientCause::policy);
    // New mail announced during an earlier command: report it now rather than wait for the next.
    if (new_since_listing_) {
        new_since_listing_ = false;
        co_return true;
    }
    const std::uint64_t before = changes_;
    Duration wait = std::min<Duration>(max_wait, kMaxIdle);
    const char* what = "IDLE";
    std::string tag = next_tag();
    std::string line = tag + " IDLE\r\n";
    co_await write(line, what, timeout_);
    Response start = co_await finish(tag, what, {}, {}, true, false);
    if (start.kind == Kind::tagged) refused("IDLE", start);
    set_state(State::idling);
    // RFC 2177 3: wait for untagged responses; the deadline is ours, the server may be silent throughout.
    const auto deadline = Clock::now() + wait;
    bool ended_by_server = false;
    while (changes_ == before) {
        auto now = Clock::now();
        if (now >= deadline) break;
        std::optional<Response> r = co_await read_response_within(what, {}, deadline - now);
        if (!r) break;
        if (r->kind == Kind::tagged) {
            // The server ended IDLE itself (allowed, RFC 2177 3 "the server MAY ... terminate").
            if (r->tag != tag) fail(fmt::format("response tagged {} while idling", printable(r->tag)), ClientCause::policy);
            ended_by_server = true;
            break;
        }
        if (r->kind == Kind::continuation) fail("unexpected continuation request while idling", ClientCause::policy);
        if (r->status == Status::bye)
            fail(fmt::format("server closed the session while idling: {}", summary(*r)), ClientCause::reply);
        on_untagged(*r);
    }
    if (!ended_by_server) {
        co_await write("DONE\r\n", what, timeout_);
        Response end = co_await finish(tag, what, {}, {}, false, false);
        if (end.status != Status::ok) fail(fmt::format("IDLE ended with {}", summary(end)), ClientCause::policy);
    }
    set_state(State::selected);
    bool changed = changes_ != before;
    if (changed) new_since_listing_ = false;   // the caller lists now
    co_return changed;
}

awaitable<void> ImapClient::logout() {
    if (state_ == State::logged_out || state_ == State::broken || !conn_) {
        if (conn_) conn_->close();
        set_state(State::logged_out);
        co_return;
    }
    bool lost = false;
    try {
        timeout_ = std::min(timeout_, kLogoutTimeout);
        std::string tag = next_tag();
        std::string line = tag + " LOGOUT\r\n";
        co_await write(line, "LOGOUT", timeout_);
        // RFC 3501 6.1.3: an untagged BYE, then the tagged OK.
        Response r = co_await finish(tag, "LOGOUT", {}, {}, false, true);
        if (r.status != Status::ok) spdlog::debug("imap client {}: LOGOUT answered {}", peer_, summary(r));
    } catch (const ClientError&) {
        lost = true;   // the work is done; a lost goodbye changes nothing
    }
    if (lost) spdlog::debug("imap client {}: no clean LOGOUT", peer_);
    if (conn_) conn_->close();
    set_state(State::logged_out);
}

}  // namespace

awaitable<std::unique_ptr<Client>> Client::connect(std::vector<boost::asio::ip::tcp::endpoint> endpoints,
                                                   ClientOptions options) {
    auto client = co_await connect_any<ImapClient>(endpoints, options, kConnectTimeout);
    co_return std::unique_ptr<Client>(std::move(client));
}

awaitable<std::unique_ptr<Client>> Client::start(std::unique_ptr<Connection> connection, ClientOptions options) {
    auto client = co_await start_session<ImapClient>(std::move(connection), std::move(options));
    co_return std::unique_ptr<Client>(std::move(client));
}

}  // namespace mk::imap
