// imap/server_session.cpp — the IMAP server session: one coroutine per connection reading a command
// (lines and literals, bounded), checking it against the command table (legal state), and running its
// handler, which checks first and acts after. Mailbox work (directory scans, SQLite, fsync, reading
// messages) runs on the blocking pool through the session's own MailIndex; the network thread only
// parses, formats and writes.
#include "imap/server_session.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/base64.hpp"
#include "core/date.hpp"
#include "core/ids.hpp"
#include "core/ip.hpp"
#include "core/password.hpp"
#include "core/text.hpp"
#include "imap/command.hpp"
#include "imap/fetch_items.hpp"
#include "imap/mailbox_list.hpp"
#include "imap/response.hpp"
#include "imap/search.hpp"
#include "imap/structure.hpp"
#include "net/offload.hpp"
#include "net/sasl.hpp"
#include "store/crlf.hpp"
#include "store/intake.hpp"
#include "store/mail_index.hpp"
#include "store/maildir.hpp"

namespace mk {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using imap::AppendMessage;
using imap::Command;
using imap::FetchAtt;
using imap::flags_text;
using imap::Verb;

// RFC 9051 5.4: an authenticated client may idle 30 minutes; before login a short wait is enough
// (Dovecot: 3 minutes for the first command), and frees the slot of a client that never logs in.
constexpr auto kLoginTimeout = 60s;
constexpr auto kAuthenticatedTimeout = 30min;
constexpr auto kWriteTimeout = 2min;
constexpr auto kTlsHandshakeTimeout = 30s;
// IDLE looks for changes to the folder's directories this often (a stat of new/ and cur/).
constexpr auto kIdlePoll = 500ms;
// A client this wrong (BADs in a row) is broken or hostile.
constexpr unsigned kMaxBadCommands = 20;
// Literal writes go to the spool in pieces of this size.
constexpr std::size_t kLiteralChunk = 64 * 1024;
// MULTIAPPEND messages in one command.
constexpr std::size_t kMaxAppendMessages = 1000;

enum class State { not_authenticated, authenticated, selected, logout };
constexpr unsigned bit(State s) { return 1u << static_cast<unsigned>(s); }
constexpr unsigned kAny = bit(State::not_authenticated) | bit(State::authenticated) | bit(State::selected);
constexpr unsigned kNotAuth = bit(State::not_authenticated);
constexpr unsigned kAuth = bit(State::authenticated) | bit(State::selected);
constexpr unsigned kSelected = bit(State::selected);

// folder_mtimes - the modification times of a folder's new/ and cur/: what IDLE watches.
std::pair<std::int64_t, std::int64_t> folder_mtimes(const std::filesystem::path& folder) {
    auto mtime = [](const std::filesystem::path& p) -> std::int64_t {
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) return 0;
        return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    };
    return {mtime(folder / "new"), mtime(folder / "cur")};
}

// UID ranges, ascending and disjoint: what VANISHED names (a folder's gaps can span billions of UIDs).
using UidRanges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

UidRanges merged(UidRanges r) {
    std::sort(r.begin(), r.end());
    UidRanges out;
    for (const auto& [a, b] : r) {
        if (!out.empty() && a <= out.back().second + std::uint64_t{1}) out.back().second = std::max(out.back().second, b);
        else out.emplace_back(a, b);
    }
    return out;
}

// ranges_of - a sequence set as UID ranges, "*" being largest.
UidRanges ranges_of(const imap::SequenceSet& set, std::uint32_t largest) {
    UidRanges r;
    for (const imap::SeqRange& x : set) {
        std::uint32_t a = x.first == imap::kStar ? largest : x.first, b = x.last == imap::kStar ? largest : x.last;
        r.emplace_back(std::min(a, b), std::max(a, b));
    }
    return merged(std::move(r));
}

UidRanges intersect(const UidRanges& x, const UidRanges& y) {
    UidRanges out;
    for (std::size_t i = 0, j = 0; i < x.size() && j < y.size();) {
        const std::uint32_t a = std::max(x[i].first, y[j].first), b = std::min(x[i].second, y[j].second);
        if (a <= b) out.emplace_back(a, b);
        (x[i].second < y[j].second ? i : j)++;
    }
    return out;
}

std::string ranges_text(const UidRanges& r) {
    std::string out;
    for (const auto& [a, b] : r) {
        if (!out.empty()) out += ',';
        out += a == b ? std::to_string(a) : fmt::format("{}:{}", a, b);
    }
    return out;
}

// What a command came to, for the tagged reply. An empty status ends the session (the handler said
// why, or the client is gone); kAnswered: the handler sent the tagged reply itself (STARTTLS).
struct Done {
    std::string status;   // "OK", "NO", "BAD"
    std::string text;     // with its response code: "[TRYCREATE] no such mailbox"
};
constexpr std::string_view kAnswered = "-";
Done ok(std::string text) { return {"OK", std::move(text)}; }
Done no(std::string text) { return {"NO", std::move(text)}; }
Done bad(std::string text) { return {"BAD", std::move(text)}; }

// index_refusal - a MailIndexError as the tagged NO with its RFC 5530 response code.
Done index_refusal(const MailIndexError& e) {
    using K = MailIndexError::Kind;
    switch (e.kind()) {
        case K::nonexistent: return no(fmt::format("[NONEXISTENT] {}", e.what()));
        case K::already_exists: return no(fmt::format("[ALREADYEXISTS] {}", e.what()));
        case K::bad_name:
        case K::cannot: return no(fmt::format("[CANNOT] {}", e.what()));
        case K::limit: return no(fmt::format("[LIMIT] {}", e.what()));
        case K::storage: return no(fmt::format("[SERVERBUG] {}", e.what()));
    }
    return no(e.what());
}

class Session {
public:
    Session(Connection& conn, Services& svc)
        : conn_(conn), svc_(svc), config_(svc.config), peer_(conn.remote_address().to_string()) {}
    ~Session() { release_login(); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    awaitable<void> run();

private:
    using Handler = awaitable<Done> (Session::*)(const Command&);
    struct Row {
        Verb verb;
        Handler handler;
        unsigned states;
    };
    static const std::array<Row, 30> kTable;

    // The command handlers: each checks, then acts, and says how it went (the tagged reply).
    awaitable<Done> cmd_capability(const Command&);
    awaitable<Done> cmd_noop(const Command&);
    awaitable<Done> cmd_logout(const Command&);
    awaitable<Done> cmd_id(const Command&);
    awaitable<Done> cmd_enable(const Command&);
    awaitable<Done> cmd_starttls(const Command&);
    awaitable<Done> cmd_authenticate(const Command&);
    awaitable<Done> cmd_login(const Command&);
    awaitable<Done> cmd_select(const Command&);
    awaitable<Done> cmd_create(const Command&);
    awaitable<Done> cmd_delete(const Command&);
    awaitable<Done> cmd_rename(const Command&);
    awaitable<Done> cmd_subscribe(const Command&);
    awaitable<Done> cmd_list(const Command&);
    awaitable<Done> cmd_namespace(const Command&);
    awaitable<Done> cmd_status(const Command&);
    awaitable<Done> cmd_append(const Command&);
    awaitable<Done> cmd_idle(const Command&);
    awaitable<Done> cmd_check(const Command&);
    awaitable<Done> cmd_close(const Command&);
    awaitable<Done> cmd_unselect(const Command&);
    awaitable<Done> cmd_expunge(const Command&);
    awaitable<Done> cmd_search(const Command&);
    awaitable<Done> cmd_fetch(const Command&);
    awaitable<Done> cmd_store(const Command&);
    awaitable<Done> cmd_copy(const Command&);

    // read_command - one whole command: its lines and small literals (answering "+" to a synchronizing
    // one); nullopt when the client is gone, silent too long, or hopelessly out of step (said). An
    // APPEND is returned when its first message literal is announced, before that literal is read.
    awaitable<std::optional<std::string>> read_command();
    // read_literal - n octets into out (at most kMaxCommandSize together with what is there).
    awaitable<bool> read_literal(std::uint64_t n, std::string& out);
    // skip_append - read and drop the messages of a refused APPEND that the client sends unasked (LITERAL+),
    // each at most bound octets, and the rest of its command: a literal's bytes are never taken for
    // commands (RFC 7888 4). A synchronizing literal ends it (the client waits for a "+" it will not
    // get). false: the client went away, or a literal is over bound (the caller says BYE).
    awaitable<bool> skip_append(AppendMessage m, std::uint64_t bound);
    // spool_literal - n octets of an APPEND message into a new spool file; null when the client went away.
    awaitable<std::unique_ptr<SpoolFile>> spool_literal(std::uint64_t n);

    awaitable<Done> login(const std::string& name, const std::string& password, std::string_view method);
    std::string capabilities() const;
    void release_login() {
        if (!counted_.empty() && --svc_.imap_logins[counted_] == 0) svc_.imap_logins.erase(counted_);
        counted_.clear();
    }
    bool plaintext_ok() const { return conn_.tls() || is_loopback(conn_.remote_address()); }
    std::optional<std::string> folder_name(const std::string& sent) const { return imap::mailbox_name(sent, utf8_); }
    std::string sent_name(std::string_view folder) const { return imap::quoted_mailbox(folder, utf8_); }
    std::chrono::steady_clock::duration timeout() const {
        return state_ == State::not_authenticated ? std::chrono::steady_clock::duration(kLoginTimeout)
                                                  : std::chrono::steady_clock::duration(kAuthenticatedTimeout);
    }

    void untagged(std::string_view line) {
        out_ += "* ";
        out_ += line;
        out_ += "\r\n";
    }
    awaitable<void> flush();

    // The selected folder: its messages as this session last told the client (sequence numbers are
    // positions in view_.messages).
    std::vector<std::uint32_t> resolve(const imap::SequenceSet& set, bool uid) const;   // indexes, ascending
    // claim_recent - the folder's messages from index on that no session has been told of: this
    // session's \Recent (IMAP4rev1 only); how many it got.
    awaitable<std::size_t> claim_recent(std::size_t from);
    bool recent(const MessageRecord& r) const { return std::binary_search(recent_.begin(), recent_.end(), r.uid); }
    // qresync_answers - SELECT (QRESYNC ...) and UID FETCH (CHANGEDSINCE ... VANISHED): the UIDs among
    // known expunged after modseq as VANISHED (EARLIER) (RFC 7162 3.2.5.1, 3.2.6).
    awaitable<void> tell_vanished_since(std::uint64_t modseq, const imap::SequenceSet& known);
    // report_changes - sync the folder and tell the client what changed since it was last told
    // (EXPUNGE or VANISHED, FETCH FLAGS, EXISTS, RECENT); only after commands that allow expunges
    // to be told (RFC 9051 7.5.1: not after FETCH, STORE or SEARCH by sequence number).
    awaitable<void> report_changes();
    // watch_folder - IDLE's watcher: every kIdlePoll, if the folder's directories changed, report the
    // changes, until *stop; then cancels done (which IDLE waits on).
    awaitable<void> watch_folder(const bool* stop, asio::steady_timer* done);
    void tell_expunged(const std::vector<std::uint32_t>& uids);
    std::string fetch_flags_line(std::size_t index, bool uid) const;
    void deselect() {
        state_ = State::authenticated;
        folder_.clear();
        view_ = {};
        recent_.clear();
        saved_.clear();
    }

    Connection& conn_;
    Services& svc_;
    ConfigPtr config_;   // one snapshot for the whole session, whatever SIGHUP does meanwhile
    const std::string peer_;
    State state_ = State::not_authenticated;
    std::string user_;
    std::string counted_;           // the user this session counts in Services::imap_logins
    std::unique_ptr<MailIndex> index_;
    std::string folder_;
    bool read_only_ = false;
    FolderState view_;
    bool condstore_ = false;        // CONDSTORE enabled (ENABLE, SELECT (CONDSTORE), a MODSEQ item)
    bool qresync_ = false;          // QRESYNC enabled: expunges are told as VANISHED (RFC 7162 3.2.10)
    bool rev2_ = false;             // IMAP4rev2 enabled (RFC 9051): ESEARCH answers SEARCH, no \Recent
    bool utf8_ = false;             // IMAP4rev2 or UTF8=ACCEPT enabled: mailbox names in UTF-8 (RFC 6855)
    std::vector<std::uint32_t> recent_;   // UIDs recent to this session, ascending
    std::vector<std::uint32_t> saved_;    // RFC 5182 "$": the UIDs the last SEARCH ... SAVE found
    std::string out_;
    unsigned bad_ = 0;
    std::string tag_;               // the command being run
};

const std::array<Session::Row, 30> Session::kTable{{
    {Verb::capability, &Session::cmd_capability, kAny},
    {Verb::noop, &Session::cmd_noop, kAny},
    {Verb::logout, &Session::cmd_logout, kAny},
    {Verb::id, &Session::cmd_id, kAny},
    {Verb::enable, &Session::cmd_enable, kAuth},
    {Verb::starttls, &Session::cmd_starttls, kNotAuth},
    {Verb::authenticate, &Session::cmd_authenticate, kNotAuth},
    {Verb::login, &Session::cmd_login, kNotAuth},
    {Verb::select, &Session::cmd_select, kAuth},
    {Verb::examine, &Session::cmd_select, kAuth},
    {Verb::create, &Session::cmd_create, kAuth},
    {Verb::delete_, &Session::cmd_delete, kAuth},
    {Verb::rename, &Session::cmd_rename, kAuth},
    {Verb::subscribe, &Session::cmd_subscribe, kAuth},
    {Verb::unsubscribe, &Session::cmd_subscribe, kAuth},
    {Verb::list, &Session::cmd_list, kAuth},
    {Verb::lsub, &Session::cmd_list, kAuth},
    {Verb::namespace_, &Session::cmd_namespace, kAuth},
    {Verb::status, &Session::cmd_status, kAuth},
    {Verb::append, &Session::cmd_append, kAuth},
    {Verb::idle, &Session::cmd_idle, kAuth},
    {Verb::check, &Session::cmd_check, kSelected},
    {Verb::close, &Session::cmd_close, kSelected},
    {Verb::unselect, &Session::cmd_unselect, kSelected},
    {Verb::expunge, &Session::cmd_expunge, kSelected},
    {Verb::search, &Session::cmd_search, kSelected},
    {Verb::fetch, &Session::cmd_fetch, kSelected},
    {Verb::store, &Session::cmd_store, kSelected},
    {Verb::copy, &Session::cmd_copy, kSelected},
    {Verb::move, &Session::cmd_copy, kSelected},
}};

std::string Session::capabilities() const {
    std::string caps = "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE ID IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN "
                       "SPECIAL-USE CONDSTORE QRESYNC STATUS=SIZE ESEARCH SEARCHRES BINARY MULTIAPPEND LIST-EXTENDED "
                       "LIST-STATUS UTF8=ACCEPT";
    caps += fmt::format(" APPENDLIMIT={}", config_->limits.max_message_size);
    if (state_ == State::not_authenticated) {
        if (!conn_.tls() && svc_.tls) caps += " STARTTLS";
        // RFC 9051 6.2.3: without TLS (and off loopback) no password may cross: say so.
        caps += plaintext_ok() ? " AUTH=PLAIN" : " LOGINDISABLED";
    }
    return caps;
}

awaitable<void> Session::flush() {
    if (out_.empty()) co_return;
    std::string data;
    data.swap(out_);
    co_await conn_.write(data, kWriteTimeout);
}

awaitable<bool> Session::read_literal(std::uint64_t n, std::string& out) {
    while (n > 0) {
        std::string_view in = co_await conn_.peek_some(timeout());
        if (in.empty()) co_return false;
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, in.size()));
        out.append(in.substr(0, take));
        conn_.consume(take);
        n -= take;
    }
    co_return true;
}

awaitable<std::optional<std::string>> Session::read_command() {
    std::string text;
    for (;;) {
        conn_.set_idle(text.empty());
        LineResult line = co_await conn_.read_line(imap::kMaxCommandLine, timeout());
        conn_.set_idle(false);
        if (line.status == ReadStatus::closed) co_return std::nullopt;
        if (line.status == ReadStatus::timeout) {
            untagged("BYE autologout: idle for too long");
            co_return std::nullopt;
        }
        if (line.status == ReadStatus::too_long) {
            untagged("BYE command line too long");
            co_return std::nullopt;
        }
        text.append(line.line);
        std::optional<imap::LiteralMark> mark = imap::literal_at_end(line.line);
        if (!mark) co_return text;
        // APPEND's message: left for cmd_append, which streams it.
        if (imap::append_head(text)) co_return text;
        if (text.size() + mark->size > imap::kMaxCommandSize) {
            // RFC 7888 4: a non-synchronizing literal already on its way cannot be refused politely.
            if (!mark->synchronizing) {
                untagged("BYE [TOOBIG] command too large");
                co_return std::nullopt;
            }
            std::string tag = imap::parse_command(text).tag;
            out_ += fmt::format("{} BAD [TOOBIG] command too large\r\n", tag.empty() ? "*" : tag);
            co_return std::string();
        }
        if (mark->synchronizing) {
            out_ += "+ go ahead\r\n";
            co_await flush();
        }
        text += "\r\n";
        if (!co_await read_literal(mark->size, text)) co_return std::nullopt;
    }
}

awaitable<void> Session::run() {
    untagged(fmt::format("OK [CAPABILITY {}] {} IMAP mailkeep ready", capabilities(), config_->hostname));
    while (state_ != State::logout) {
        if (conn_.buffered() == 0) co_await flush();
        if (svc_.draining) {
            untagged("BYE shutting down");
            break;
        }
        std::optional<std::string> text = co_await read_command();
        if (!text) break;
        if (text->empty()) continue;   // refused while it was read
        imap::Parsed p;
        std::optional<Command> appending = imap::append_head(*text);
        if (appending) p.command = std::move(*appending);
        else p = imap::parse_command(*text);
        if (!p.command) {
            out_ += fmt::format("{} BAD {}\r\n", p.tag.empty() ? "*" : p.tag, p.error);
            if (++bad_ >= kMaxBadCommands) {
                untagged("BYE too many errors");
                break;
            }
            continue;
        }
        const Command& c = *p.command;
        tag_ = c.tag;
        const Row* row = nullptr;
        for (const Row& r : kTable)
            if (r.verb == c.verb) row = &r;
        Done done;
        if (!(row->states & bit(state_))) {
            // An APPEND's message sent unasked is not a command: read past it (before login, only
            // as much as a command may be).
            if (appending) {
                const bool skipped = co_await skip_append(c.append.at(0), imap::kMaxCommandSize);
                if (!skipped) {
                    untagged("BYE [TOOBIG] cannot take this APPEND");
                    break;
                }
            }
            done = bad(state_ == State::not_authenticated ? "log in first" : "not allowed now");
        } else {
            try {
                done = co_await (this->*(row->handler))(c);
            } catch (const MailIndexError& e) {
                spdlog::error("imap user={} ip={}: {}", user_, peer_, e.what());
                done = index_refusal(e);
            } catch (const StorageError& e) {
                spdlog::error("imap user={} ip={}: {}", user_, peer_, e.what());
                done = no(fmt::format("[SERVERBUG] {}", e.what()));
            }
        }
        if (done.status.empty()) break;   // the handler ended the session (said so itself)
        if (done.status == kAnswered) continue;
        bad_ = done.status == "BAD" ? bad_ + 1 : 0;
        out_ += fmt::format("{} {} {}\r\n", c.tag, done.status, done.text);
        if (bad_ >= kMaxBadCommands) {
            untagged("BYE too many errors");
            break;
        }
    }
    co_await flush();
}

// --- any state ---------------------------------------------------------------------------------

awaitable<Done> Session::cmd_capability(const Command&) {
    untagged("CAPABILITY " + capabilities());
    co_return ok("CAPABILITY completed");
}

awaitable<Done> Session::cmd_noop(const Command&) {
    if (state_ == State::selected) co_await report_changes();
    co_return ok("NOOP completed");
}

awaitable<Done> Session::cmd_logout(const Command&) {
    untagged("BYE logging out");
    state_ = State::logout;
    co_return ok("LOGOUT completed");
}

awaitable<Done> Session::cmd_id(const Command& c) {
    std::string said;
    for (const auto& [k, v] : c.id) said += fmt::format("{}{}={}", said.empty() ? "" : " ", printable(k), printable(v.value_or("NIL")));
    if (!said.empty()) spdlog::info("imap ip={} id: {}", peer_, said);
    untagged("ID (\"name\" \"mailkeep\")");
    co_return ok("ID completed");
}

awaitable<Done> Session::cmd_enable(const Command& c) {
    // RFC 5161: what this command turned on is listed; what was on already or is unknown is not.
    std::string enabled;
    auto turn_on = [&](bool& flag, std::string_view name) {
        if (flag) return;
        flag = true;
        enabled += fmt::format(" {}", name);
    };
    for (const std::string& cap : c.args) {
        if (cap == "CONDSTORE") turn_on(condstore_, cap);
        if (cap == "QRESYNC") {
            turn_on(qresync_, cap);
            condstore_ = true;   // RFC 7162 3.2.3: QRESYNC implies CONDSTORE
        }
        if (cap == "IMAP4REV2") {
            turn_on(rev2_, "IMAP4rev2");
            utf8_ = true;   // RFC 9051 5.1: mailbox names are UTF-8
        }
        if (cap == "UTF8=ACCEPT") turn_on(utf8_, cap);
    }
    untagged("ENABLED" + enabled);
    co_return ok("ENABLE completed");
}

// --- not authenticated ----------------------------------------------------------------------

awaitable<Done> Session::cmd_starttls(const Command&) {
    if (conn_.tls()) co_return bad("TLS is on already");
    if (!svc_.tls) co_return no("TLS is not available");
    // Plaintext pipelined behind STARTTLS would be read as if it came over TLS (CVE-2011-0411).
    if (conn_.buffered() != 0) {
        untagged("BYE data after STARTTLS");
        co_return Done{};
    }
    out_ += fmt::format("{} OK begin TLS negotiation now\r\n", tag_);
    co_await flush();
    try {
        co_await conn_.start_tls(*svc_.tls, kTlsHandshakeTimeout);
    } catch (const std::exception& e) {
        spdlog::info("imap ip={}: TLS handshake failed: {}", peer_, e.what());
        co_return Done{};
    }
    co_return Done{std::string(kAnswered), {}};   // the OK went out before the handshake
}

awaitable<Done> Session::login(const std::string& name, const std::string& password, std::string_view method) {
    const asio::ip::address& addr = conn_.remote_address();
    const UserConfig* user = nullptr;
    // crypt(3) takes milliseconds by design: it runs on the blocking pool, not the network thread.
    if (!name.empty() && !password.empty()) user = co_await offload([&] { return authenticate(*config_, name, password); });
    if (!user) {
        const std::chrono::milliseconds delay = co_await svc_.throttle.failed(addr);
        spdlog::warn("imap auth failed login={} ip={} method={} delay={}ms", printable(name), peer_, method, delay.count());
        co_return no("[AUTHENTICATIONFAILED] invalid credentials");
    }
    svc_.throttle.record_success(addr);
    std::string who = user->name;
    const std::size_t cap = config_->limits.max_imap_sessions_per_user;
    if (auto it = svc_.imap_logins.find(who); it != svc_.imap_logins.end() && it->second >= cap) {
        spdlog::warn("imap login user={} ip={} refused: {} sessions already (max_imap_sessions_per_user)", who, peer_, cap);
        co_return no("[UNAVAILABLE] too many IMAP sessions for this user, try again later");
    }
    // Counted before the waits below, so that logins at the same moment cannot pass the cap together.
    ++svc_.imap_logins[who];
    counted_ = who;
    // Mail that was on the user's provider a moment ago should be here now (as for POP3).
    if (svc_.before_login) co_await svc_.before_login(who);
    std::unique_ptr<MailIndex> index;
    std::string failure;
    try {
        index = co_await offload([&] { return std::make_unique<MailIndex>(maildir_path(config_->data_dir, who)); });
    } catch (const std::exception& e) {
        failure = e.what();
    }
    if (!index) {
        spdlog::error("imap user={} ip={}: cannot open the mailbox index: {}", who, peer_, failure);
        release_login();
        co_return no("[UNAVAILABLE] mailbox unavailable, try again later");
    }
    index_ = std::move(index);
    user_ = std::move(who);
    state_ = State::authenticated;
    spdlog::info("imap login user={} ip={} method={} tls={}", user_, peer_, method, conn_.tls());
    // K-9 and Thunderbird for Android read the capabilities after login from this OK only.
    co_return ok(fmt::format("[CAPABILITY {}] logged in", capabilities()));
}

awaitable<Done> Session::cmd_login(const Command& c) {
    if (!plaintext_ok()) co_return no("[PRIVACYREQUIRED] LOGIN only over TLS");
    co_return co_await login(c.args.at(0), c.args.at(1), "LOGIN");
}

awaitable<Done> Session::cmd_authenticate(const Command& c) {
    if (c.args.at(0) != "PLAIN") co_return no("[CANNOT] unsupported authentication mechanism");
    if (!plaintext_ok()) co_return no("[PRIVACYREQUIRED] AUTHENTICATE only over TLS");
    std::string response;
    if (c.args.size() > 1) {
        response = c.args[1];
    } else {
        out_ += "+ \r\n";
        co_await flush();
        LineResult line = co_await conn_.read_line(imap::kMaxCommandLine, kLoginTimeout);
        if (line.status != ReadStatus::ok) co_return Done{};
        response = std::string(line.line);
    }
    if (response == "*") co_return bad("AUTHENTICATE cancelled");   // RFC 9051 6.2.2
    std::optional<SaslCredentials> creds = decode_plain(response);
    if (!creds) co_return bad("malformed PLAIN response");
    if (!creds->authzid.empty() && creds->authzid != creds->authcid) co_return no("[AUTHORIZATIONFAILED] no proxy logins");
    co_return co_await login(creds->authcid, creds->password, "PLAIN");
}

// --- authenticated ------------------------------------------------------------------------------

awaitable<Done> Session::cmd_select(const Command& c) {
    std::optional<std::string> name = folder_name(c.args.at(0));
    if (!name) co_return bad("mailbox name is not valid modified UTF-7");
    if (c.qresync && !qresync_) co_return bad("QRESYNC is not enabled");
    if (state_ == State::selected) untagged("OK [CLOSED] previous mailbox closed");
    deselect();
    FolderState state = co_await offload([&] { return index_->sync(*name); });
    if (c.condstore) condstore_ = true;
    folder_ = *name;
    read_only_ = c.verb == Verb::examine;
    view_ = std::move(state);
    state_ = State::selected;
    const std::size_t recent = co_await claim_recent(0);
    std::set<std::string> keywords;
    for (const MessageRecord& r : view_.messages) keywords.insert(r.keywords.begin(), r.keywords.end());
    std::string kw;
    for (const std::string& k : keywords) kw += " " + k;
    untagged(fmt::format("FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{})", kw));
    untagged(fmt::format("OK [PERMANENTFLAGS ({}{})] flags and keywords may be stored",
                         read_only_ ? "" : "\\Answered \\Flagged \\Deleted \\Seen \\Draft", read_only_ ? "" : kw + " \\*"));
    untagged(fmt::format("{} EXISTS", view_.messages.size()));
    if (rev2_) {
        // RFC 9051 6.3.2: the mailbox's name as the server has it; RECENT and UNSEEN are gone.
        untagged(fmt::format("LIST () \".\" {}", sent_name(folder_)));
    } else {
        untagged(fmt::format("{} RECENT", recent));
        for (std::size_t i = 0; i < view_.messages.size(); ++i)
            if (!(view_.messages[i].flags & kFlagSeen)) {
                untagged(fmt::format("OK [UNSEEN {}] first unseen", i + 1));
                break;
            }
    }
    untagged(fmt::format("OK [UIDVALIDITY {}] UIDs valid", view_.uidvalidity));
    untagged(fmt::format("OK [UIDNEXT {}] predicted next UID", view_.uidnext));
    untagged(fmt::format("OK [HIGHESTMODSEQ {}] highest", view_.highest_modseq));
    // RFC 7162 3.2.5.1: with the client's last UIDVALIDITY and MODSEQ, what it missed: the expunges,
    // then the flag changes. Another UIDVALIDITY: the client starts over, told nothing more.
    if (c.qresync && c.qresync->uidvalidity == view_.uidvalidity) {
        co_await tell_vanished_since(c.qresync->modseq, c.qresync->known_uids);
        const imap::SequenceSet& known = c.qresync->known_uids;
        const std::uint32_t largest = view_.messages.empty() ? 0 : view_.messages.back().uid;
        for (std::size_t i = 0; i < view_.messages.size(); ++i) {
            const MessageRecord& r = view_.messages[i];
            if (r.modseq > c.qresync->modseq && (known.empty() || imap::contains(known, r.uid, largest)))
                untagged(fetch_flags_line(i, true));
        }
    }
    spdlog::info("imap user={} ip={} {} {}: {} message(s)", user_, peer_, read_only_ ? "examine" : "select",
                 printable(folder_), view_.messages.size());
    co_return ok(fmt::format("[{}] {} completed", read_only_ ? "READ-ONLY" : "READ-WRITE",
                             read_only_ ? "EXAMINE" : "SELECT"));
}

awaitable<std::size_t> Session::claim_recent(std::size_t from) {
    if (rev2_ || from >= view_.messages.size()) co_return 0;
    const std::uint32_t last = view_.messages.back().uid;
    const std::uint32_t first = co_await offload([&] { return index_->claim_recent(folder_, last, read_only_); });
    std::size_t got = 0;
    for (std::size_t i = from; i < view_.messages.size(); ++i)
        if (view_.messages[i].uid >= first) {
            recent_.push_back(view_.messages[i].uid);
            ++got;
        }
    co_return got;
}

awaitable<void> Session::tell_vanished_since(std::uint64_t modseq, const imap::SequenceSet& known) {
    std::optional<std::vector<std::uint32_t>> gone = co_await offload([&] { return index_->vanished(folder_, modseq); });
    const std::uint32_t largest = view_.uidnext > 1 ? view_.uidnext - 1 : 0;
    UidRanges told;
    if (gone) {
        for (std::uint32_t uid : *gone) told.emplace_back(uid, uid);
    } else {
        // The index has forgotten expunges that old: every UID below UIDNEXT that is not here (RFC
        // 7162 3.2.5.1 lets the server name UIDs that never existed).
        std::uint32_t next = 1;
        for (const MessageRecord& r : view_.messages) {
            if (r.uid > next) told.emplace_back(next, r.uid - 1);
            next = r.uid + 1;
        }
        if (next <= largest) told.emplace_back(next, largest);
    }
    told = intersect(merged(std::move(told)), known.empty() ? UidRanges{{1, largest}} : ranges_of(known, largest));
    if (!told.empty()) untagged("VANISHED (EARLIER) " + ranges_text(told));
}

awaitable<Done> Session::cmd_create(const Command& c) {
    std::optional<std::string> name = folder_name(c.args.at(0));
    if (!name) co_return bad("mailbox name is not valid modified UTF-7");
    std::string n = *name;
    if (!n.empty() && n.back() == '.') n.pop_back();   // RFC 9051 6.3.4: a trailing separator is a hint
    if (n == "INBOX") co_return no("[ALREADYEXISTS] INBOX exists");
    co_await offload([&] { index_->create(n); });
    co_return ok("CREATE completed");
}

awaitable<Done> Session::cmd_delete(const Command& c) {
    std::optional<std::string> name = folder_name(c.args.at(0));
    if (!name) co_return bad("mailbox name is not valid modified UTF-7");
    if (*name == "INBOX") co_return no("[CANNOT] INBOX cannot be deleted");
    if (state_ == State::selected && *name == folder_) deselect();
    co_await offload([&] { index_->remove(*name); });
    co_return ok("DELETE completed");
}

awaitable<Done> Session::cmd_rename(const Command& c) {
    std::optional<std::string> from = folder_name(c.args.at(0));
    std::optional<std::string> to = folder_name(c.args.at(1));
    if (!from || !to) co_return bad("mailbox name is not valid modified UTF-7");
    co_await offload([&] { index_->rename(*from, *to); });
    co_return ok("RENAME completed");
}

awaitable<Done> Session::cmd_subscribe(const Command& c) {
    std::optional<std::string> name = folder_name(c.args.at(0));
    if (!name) co_return bad("mailbox name is not valid modified UTF-7");
    const bool on = c.verb == Verb::subscribe;
    if (on) {
        bool exists = co_await offload([&] { return index_->exists(*name); });
        if (!exists) co_return no("[NONEXISTENT] no such mailbox");
    }
    co_await offload([&] { index_->subscribe(*name, on); });
    co_return ok(on ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
}

awaitable<Done> Session::cmd_list(const Command& c) {
    const bool lsub = c.verb == Verb::lsub;
    std::optional<std::string> reference = folder_name(c.args.at(0));
    if (!reference) co_return bad("reference is not valid modified UTF-7");
    std::vector<std::string> patterns;
    for (std::size_t i = 1; i < c.args.size(); ++i) {
        std::optional<std::string> p = folder_name(c.args[i]);
        if (!p) co_return bad("pattern is not valid modified UTF-7");
        patterns.push_back(*reference + *p);
    }
    std::vector<FolderInfo> folders = co_await offload([&] { return index_->folders(); });
    imap::Listing listing = imap::list_folders(std::move(folders), c, patterns, utf8_);
    if (!listing.error.empty()) co_return bad(listing.error);
    // RFC 5819 LIST-STATUS: a STATUS for each selectable mailbox right after its LIST.
    const bool status = std::find(c.list_return.begin(), c.list_return.end(), "STATUS") != c.list_return.end();
    for (const imap::Listed& l : listing.folders) {
        untagged(l.response);
        if (!status || !l.selectable) continue;
        Command s;
        s.args.push_back(imap::encode_mailbox(l.name, utf8_));
        s.args.insert(s.args.end(), c.list_status.begin(), c.list_status.end());
        Done d = co_await cmd_status(s);
        if (d.status == "BAD") co_return d;
    }
    co_return ok(lsub ? "LSUB completed" : "LIST completed");
}

awaitable<Done> Session::cmd_namespace(const Command&) {
    untagged("NAMESPACE ((\"\" \".\")) NIL NIL");
    co_return ok("NAMESPACE completed");
}

awaitable<Done> Session::cmd_status(const Command& c) {
    std::optional<std::string> name = folder_name(c.args.at(0));
    if (!name) co_return bad("mailbox name is not valid modified UTF-7");
    std::vector<std::string> items(c.args.begin() + 1, c.args.end());
    for (const std::string& i : items)
        if (i != "MESSAGES" && i != "UIDNEXT" && i != "UIDVALIDITY" && i != "UNSEEN" && i != "DELETED" && i != "SIZE" &&
            i != "RECENT" && i != "HIGHESTMODSEQ")
            co_return bad("unknown STATUS item " + i);
    FolderStatus st = co_await offload([&] { return index_->status(*name); });
    std::string out;
    for (const std::string& i : items) {
        std::uint64_t v = i == "MESSAGES"      ? st.messages
                          : i == "UIDNEXT"     ? st.uidnext
                          : i == "UIDVALIDITY" ? st.uidvalidity
                          : i == "UNSEEN"      ? st.unseen
                          : i == "DELETED"     ? st.deleted
                          : i == "SIZE"        ? st.size
                          : i == "RECENT"      ? st.recent
                                               : st.highest_modseq;
        out += fmt::format("{}{} {}", out.empty() ? "" : " ", i, v);
    }
    untagged(fmt::format("STATUS {} ({})", sent_name(*name), out));
    co_return ok("STATUS completed");
}

awaitable<bool> Session::skip_append(AppendMessage m, std::uint64_t bound) {
    for (;;) {
        if (m.literal.synchronizing) co_return true;
        if (m.literal.size > bound) co_return false;
        for (std::uint64_t n = m.literal.size; n > 0;) {
            std::string_view in = co_await conn_.peek_some(timeout());
            if (in.empty()) co_return false;
            const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, in.size()));
            conn_.consume(take);
            n -= take;
        }
        LineResult line = co_await conn_.read_line(imap::kMaxCommandLine, timeout());
        if (line.status != ReadStatus::ok) co_return false;
        std::string_view rest = line.line;
        if (m.utf8 && rest.starts_with(')')) rest.remove_prefix(1);
        imap::AppendNext next = imap::append_next(rest);
        if (!next.message) co_return true;   // the command ended (or went wrong: it is refused anyway)
        m = std::move(*next.message);
    }
}

awaitable<std::unique_ptr<SpoolFile>> Session::spool_literal(std::uint64_t n) {
    std::unique_ptr<SpoolFile> spool = svc_.intake->create(new_queue_id());
    while (n > 0) {
        std::string_view in = co_await conn_.peek_some(timeout());
        if (in.empty()) co_return nullptr;
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>({n, in.size(), kLiteralChunk}));
        spool->write(in.substr(0, take));
        conn_.consume(take);
        n -= take;
    }
    co_return spool;
}

awaitable<Done> Session::cmd_append(const Command& c) {
    std::optional<std::string> name = folder_name(c.args.at(0));
    AppendMessage first = c.append.at(0);
    bool exists = false;
    if (name) exists = co_await offload([&] { return index_->exists(*name); });
    std::string refusal = !name ? std::string("BAD mailbox name is not valid modified UTF-7")
                          : !exists ? std::string("NO [TRYCREATE] no such mailbox")
                          : first.literal.size > config_->limits.max_message_size
                              ? std::string("NO [TOOBIG] message larger than APPENDLIMIT")
                              : std::string();
    if (!refusal.empty()) {
        // A synchronizing literal is refused before it is sent; a non-synchronizing one is on its way:
        // read past it, unless it is over APPENDLIMIT (RFC 7888 4 lets the server hang up then).
        const bool skipped = co_await skip_append(first, config_->limits.max_message_size);
        if (!skipped) {
            untagged("BYE [TOOBIG] cannot take this APPEND");
            co_return Done{};
        }
        auto sp = refusal.find(' ');
        co_return Done{refusal.substr(0, sp), refusal.substr(sp + 1)};
    }
    struct Received {
        std::unique_ptr<SpoolFile> spool;
        std::uint32_t flags = 0;
        std::vector<std::string> keywords;
        std::int64_t date = 0;
    };
    std::vector<Received> got;
    AppendMessage m = std::move(first);
    for (;;) {
        auto parsed = imap::flag_bits(m.flags);
        if (m.literal.synchronizing) {
            if (m.literal.size > config_->limits.max_message_size) co_return no("[TOOBIG] message larger than APPENDLIMIT");
            out_ += "+ go ahead\r\n";
            co_await flush();
        } else if (m.literal.size > config_->limits.max_message_size) {
            untagged("BYE [TOOBIG] message larger than APPENDLIMIT");
            co_return Done{};
        }
        std::unique_ptr<SpoolFile> spool = co_await spool_literal(m.literal.size);
        if (!spool) co_return Done{};
        if (!parsed) co_return bad("unknown system flag");
        got.push_back(Received{std::move(spool), parsed->first, parsed->second,
                               m.date.value_or(static_cast<std::int64_t>(std::time(nullptr)))});
        LineResult line = co_await conn_.read_line(imap::kMaxCommandLine, timeout());
        if (line.status != ReadStatus::ok) co_return Done{};
        std::string_view rest = line.line;
        if (m.utf8) {
            if (!rest.starts_with(')')) co_return bad("expected ) after the UTF8 message");
            rest.remove_prefix(1);
        }
        imap::AppendNext next = imap::append_next(rest);
        if (!next.error.empty()) co_return bad(next.error);
        if (!next.message) break;
        if (got.size() == kMaxAppendMessages) co_return no("[LIMIT] too many messages in one APPEND");
        m = std::move(*next.message);
    }
    // All or nothing (RFC 3502 6): what went in before a failure is taken out again.
    std::vector<std::uint32_t> uids;
    std::uint32_t uidvalidity = 0;
    std::string failure;
    co_await offload([&] {
        try {
            for (Received& r : got) {
                MailIndex::Appended a = index_->append(*name, r.spool->path(), r.flags, r.keywords, r.date);
                uidvalidity = a.uidvalidity;
                uids.push_back(a.uid);
            }
        } catch (const std::exception& e) {
            failure = e.what();
            if (!uids.empty()) index_->expunge(*name, uids);
        }
    });
    if (!failure.empty()) {
        spdlog::error("imap user={} ip={} append to {}: {}", user_, peer_, printable(*name), failure);
        co_return no("[SERVERBUG] cannot store the message, try again later");
    }
    spdlog::info("imap user={} ip={} append to {}: {} message(s)", user_, peer_, printable(*name), uids.size());
    if (state_ == State::selected && *name == folder_) co_await report_changes();
    co_return ok(fmt::format("[APPENDUID {} {}] APPEND completed", uidvalidity, imap::uid_set(uids)));
}

awaitable<void> Session::watch_folder(const bool* stop, asio::steady_timer* done) {
    asio::steady_timer tick(co_await asio::this_coro::executor);
    const std::filesystem::path dir = index_->folder_path(folder_);
    auto seen = folder_mtimes(dir);
    while (!*stop) {
        tick.expires_after(kIdlePoll);
        boost::system::error_code ec;
        co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (*stop) break;
        auto now = folder_mtimes(dir);
        if (now == seen) continue;
        seen = now;
        try {
            co_await report_changes();
            co_await flush();
        } catch (const std::exception& e) {
            spdlog::info("imap user={} ip={} idle: {}", user_, peer_, e.what());
            break;
        }
    }
    done->cancel();
}

awaitable<Done> Session::cmd_idle(const Command&) {
    out_ += "+ idling\r\n";
    co_await flush();
    // The client's DONE is read here while a watcher reports changes to the folder as they happen.
    // Its flag and timer live in this frame, which waits for the watcher to finish before it returns.
    // (A member coroutine, not a capturing lambda: g++ 12 destroyed such a lambda's captures twice
    // when it was handed to co_spawn beside a co_await.)
    const auto executor = co_await asio::this_coro::executor;
    bool stop = false;
    asio::steady_timer watcher_done(executor, std::chrono::steady_clock::time_point::max());
    const bool watching = state_ == State::selected;
    if (watching) asio::co_spawn(executor, watch_folder(&stop, &watcher_done), asio::detached);
    conn_.set_idle(true);
    LineResult line = co_await conn_.read_line(imap::kMaxCommandLine, kAuthenticatedTimeout);
    conn_.set_idle(false);
    stop = true;
    if (watching) {
        boost::system::error_code ec;
        co_await watcher_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (line.status == ReadStatus::timeout) {
        untagged("BYE autologout: idle for too long");
        co_return Done{};
    }
    if (line.status != ReadStatus::ok) co_return Done{};
    if (!iequals(line.line, "DONE")) co_return bad("expected DONE");
    co_return ok("IDLE terminated");
}

// --- selected -----------------------------------------------------------------------------------

// valid_sequence - RFC 9051 9 seq-number: a message number past the mailbox, or "*" in an empty one,
// is a client error (BAD); UIDs may name anything (UID commands just find nothing).
bool valid_sequence(const imap::SequenceSet& set, std::size_t messages) {
    for (const imap::SeqRange& r : set)
        for (std::uint32_t n : {r.first, r.last})
            if ((n == imap::kStar && messages == 0) || (n != imap::kStar && n > messages)) return false;
    return true;
}

std::vector<std::uint32_t> Session::resolve(const imap::SequenceSet& set, bool uid) const {
    std::vector<std::uint32_t> out;
    const auto& ms = view_.messages;
    if (ms.empty()) return out;
    if (imap::is_saved_result(set)) {   // "$": the saved UIDs, whether the command is a UID one or not
        for (std::uint32_t i = 0; i < ms.size(); ++i)
            if (std::binary_search(saved_.begin(), saved_.end(), ms[i].uid)) out.push_back(i);
        return out;
    }
    const std::uint32_t largest = uid ? ms.back().uid : static_cast<std::uint32_t>(ms.size());
    for (std::uint32_t i = 0; i < ms.size(); ++i)
        if (imap::contains(set, uid ? ms[i].uid : i + 1, largest)) out.push_back(i);
    return out;
}

std::string Session::fetch_flags_line(std::size_t index, bool uid) const {
    const MessageRecord& r = view_.messages[index];
    std::string items = "FLAGS " + flags_text(r, recent(r));
    if (uid) items += fmt::format(" UID {}", r.uid);
    if (condstore_) items += fmt::format(" MODSEQ ({})", r.modseq);
    return fmt::format("{} FETCH ({})", index + 1, items);
}

void Session::tell_expunged(const std::vector<std::uint32_t>& uids) {
    // RFC 7162 3.2.10: with QRESYNC one VANISHED names them all by UID.
    std::vector<std::uint32_t> told;
    // Highest sequence number first: each EXPUNGE renumbers only the messages after it.
    for (std::size_t i = view_.messages.size(); i-- > 0;)
        if (std::binary_search(uids.begin(), uids.end(), view_.messages[i].uid)) {
            if (qresync_) told.push_back(view_.messages[i].uid);
            else untagged(fmt::format("{} EXPUNGE", i + 1));
            view_.messages.erase(view_.messages.begin() + static_cast<std::ptrdiff_t>(i));
        }
    if (!told.empty()) untagged("VANISHED " + imap::uid_set(std::move(told)));
}

awaitable<void> Session::report_changes() {
    std::optional<FolderState> changed = co_await offload([&] { return index_->sync_changed(folder_, view_.version); });
    if (!changed) co_return;   // nothing changed since this session last looked: no message read
    const std::vector<MessageRecord>& now = changed->messages;
    // Both lists ascend by UID: a walk pairs them. The expunges first, then the flag changes under the
    // numbers that are left.
    std::vector<std::uint32_t> gone;
    for (std::size_t i = 0, j = 0; i < view_.messages.size(); ++i) {
        while (j < now.size() && now[j].uid < view_.messages[i].uid) ++j;
        if (j == now.size() || now[j].uid != view_.messages[i].uid) gone.push_back(view_.messages[i].uid);
    }
    tell_expunged(gone);
    for (std::size_t i = 0, j = 0; i < view_.messages.size(); ++i) {
        MessageRecord& mine = view_.messages[i];
        while (now[j].uid < mine.uid) ++j;   // every message of the view is in now
        const MessageRecord& r = now[j];
        if (r.flags != mine.flags || r.keywords != mine.keywords || r.modseq != mine.modseq) {
            mine = r;
            untagged(fetch_flags_line(i, true));
        } else {
            mine.file = r.file;
        }
    }
    const std::uint32_t last = view_.messages.empty() ? 0 : view_.messages.back().uid;
    const std::size_t before = view_.messages.size();
    for (const MessageRecord& r : now)
        if (r.uid > last) view_.messages.push_back(r);
    if (view_.messages.size() != before) {
        untagged(fmt::format("{} EXISTS", view_.messages.size()));
        const std::size_t got = co_await claim_recent(before);
        if (got > 0)
            untagged(fmt::format("{} RECENT", std::count_if(view_.messages.begin(), view_.messages.end(),
                                                             [&](const MessageRecord& r) { return recent(r); })));
    }
    view_.uidnext = changed->uidnext;
    view_.highest_modseq = changed->highest_modseq;
    view_.version = changed->version;
}

awaitable<Done> Session::cmd_check(const Command&) {
    co_await report_changes();
    co_return ok("CHECK completed");
}

awaitable<Done> Session::cmd_close(const Command&) {
    // RFC 9051 6.4.1: CLOSE expunges silently (not in a read-only mailbox).
    if (!read_only_) {
        std::vector<std::uint32_t> uids;
        for (const MessageRecord& r : view_.messages)
            if (r.flags & kFlagDeleted) uids.push_back(r.uid);
        if (!uids.empty()) co_await offload([&] { index_->expunge(folder_, uids); });
    }
    deselect();
    co_return ok("CLOSE completed");
}

awaitable<Done> Session::cmd_unselect(const Command&) {
    deselect();
    co_return ok("UNSELECT completed");
}

awaitable<Done> Session::cmd_expunge(const Command& c) {
    if (read_only_) co_return no("[READ-ONLY] mailbox is read-only");
    std::vector<std::uint32_t> uids;
    std::vector<std::uint32_t> within = c.uid ? resolve(c.set, true) : std::vector<std::uint32_t>();
    for (std::size_t i = 0; i < view_.messages.size(); ++i) {
        const MessageRecord& r = view_.messages[i];
        if (!(r.flags & kFlagDeleted)) continue;
        if (c.uid && !std::binary_search(within.begin(), within.end(), static_cast<std::uint32_t>(i))) continue;
        uids.push_back(r.uid);
    }
    std::vector<std::uint32_t> gone;
    if (!uids.empty()) gone = co_await offload([&] { return index_->expunge(folder_, uids); });
    tell_expunged(gone);
    co_await report_changes();
    co_return ok("EXPUNGE completed");
}

awaitable<Done> Session::cmd_search(const Command& c) {
    // RFC 4731 ESEARCH, RFC 5182 SAVE. IMAP4rev2 answers every SEARCH with ESEARCH (RETURN () is ALL).
    std::vector<std::string> opts = c.search_return;
    if (opts.empty() && (c.search_return_given || rev2_)) opts = {"ALL"};
    const auto asked = [&](std::string_view o) { return std::find(opts.begin(), opts.end(), o) != opts.end(); };
    for (const std::string& o : opts)
        if (o != "MIN" && o != "MAX" && o != "COUNT" && o != "ALL" && o != "SAVE")
            co_return bad("unknown SEARCH RETURN option " + o);
    const bool save = asked("SAVE");
    std::vector<std::uint32_t> saved = std::move(saved_);   // "$" is the last saved result while this runs
    if (!save) saved_ = saved;                               // a SEARCH ... SAVE that fails leaves "$" empty
    std::function<bool(const imap::SearchKey&)> sets_valid = [&](const imap::SearchKey& k) {
        if (k.kind == imap::SearchKey::Kind::set && !valid_sequence(k.set, view_.messages.size())) return false;
        return std::all_of(k.keys.begin(), k.keys.end(), sets_valid);
    };
    if (!sets_valid(c.search)) co_return bad("invalid message sequence number");
    if (c.charset && !iequals(*c.charset, "UTF-8") && !iequals(*c.charset, "US-ASCII"))
        co_return no("[BADCHARSET (UTF-8 US-ASCII)] unsupported charset");
    const bool load = imap::needs_message(c.search);
    const std::filesystem::path dir = index_->folder_path(folder_);
    std::vector<std::uint32_t> hits;
    std::uint64_t max_modseq = 0;
    const auto& ms = view_.messages;
    const std::uint32_t largest_uid = ms.empty() ? 0 : ms.back().uid;
    std::function<bool(const imap::SearchKey&)> uses_modseq = [&](const imap::SearchKey& k) {
        return k.kind == imap::SearchKey::Kind::modseq || std::any_of(k.keys.begin(), k.keys.end(), uses_modseq);
    };
    const bool modseq = uses_modseq(c.search);
    if (modseq) condstore_ = true;
    // Messages are read a window at a time on the pool: one hop per window, not per message.
    constexpr std::size_t kWindow = 256;
    for (std::size_t start = 0; start < ms.size(); start += kWindow) {
        std::size_t end = std::min(ms.size(), start + kWindow);
        std::vector<std::uint32_t> found = co_await offload([&] {
            std::vector<std::uint32_t> out;
            for (std::size_t i = start; i < end; ++i) {
                std::optional<std::string> bytes;
                imap::SearchSubject s{ms[i], static_cast<std::uint32_t>(i + 1), static_cast<std::uint32_t>(ms.size()),
                                      largest_uid, recent(ms[i]), &saved, [&]() -> std::string_view {
                                          if (!bytes) bytes = load ? imap::load_message(dir, ms[i]) : std::string();
                                          return *bytes;
                                      }};
                if (imap::matches(c.search, s)) out.push_back(static_cast<std::uint32_t>(i));
            }
            return out;
        });
        hits.insert(hits.end(), found.begin(), found.end());
    }
    std::vector<std::uint32_t> numbers;
    for (std::uint32_t i : hits) {
        numbers.push_back(c.uid ? ms[i].uid : i + 1);
        max_modseq = std::max(max_modseq, ms[i].modseq);
    }
    if (save) {
        // RFC 5182 2.1: with MIN or MAX alone beside SAVE, only those are saved.
        const bool extremes = (asked("MIN") || asked("MAX")) && !asked("ALL") && !asked("COUNT");
        for (std::size_t k = 0; k < hits.size(); ++k)
            if (!extremes || (asked("MIN") && k == 0) || (asked("MAX") && k + 1 == hits.size()))
                saved_.push_back(ms[hits[k]].uid);
    }
    if (!opts.empty()) {
        if (opts.size() == 1 && save) co_return ok("SEARCH completed, result saved");
        std::string line = fmt::format("ESEARCH (TAG {}){}", imap::imap_string(c.tag), c.uid ? " UID" : "");
        for (const std::string& o : opts) {   // in the order asked, as Dovecot answers
            if (o == "MIN" && !numbers.empty()) line += fmt::format(" MIN {}", numbers.front());
            if (o == "MAX" && !numbers.empty()) line += fmt::format(" MAX {}", numbers.back());
            if (o == "ALL" && !numbers.empty()) line += " ALL " + imap::uid_set(numbers);
            if (o == "COUNT") line += fmt::format(" COUNT {}", numbers.size());
        }
        if (modseq && !numbers.empty()) line += fmt::format(" MODSEQ {}", max_modseq);
        untagged(line);
        co_return ok("SEARCH completed");
    }
    std::string line = "SEARCH";
    for (std::uint32_t n : numbers) line += " " + std::to_string(n);
    if (modseq && !numbers.empty()) line += fmt::format(" (MODSEQ {})", max_modseq);
    untagged(line);
    co_return ok("SEARCH completed");
}

awaitable<Done> Session::cmd_fetch(const Command& c) {
    if (!c.uid && !valid_sequence(c.set, view_.messages.size())) co_return bad("invalid message sequence number");
    // RFC 7162 3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE, once QRESYNC is enabled.
    if (c.vanished && (!qresync_ || !c.uid || !c.changed_since)) co_return bad("VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC");
    std::vector<std::uint32_t> indexes = resolve(c.set, c.uid);
    if (c.changed_since) condstore_ = true;
    if (c.vanished) co_await tell_vanished_since(*c.changed_since, c.set);
    bool set_seen = false;
    // Items the index record answers (FLAGS, UID, RFC822.SIZE, INTERNALDATE, MODSEQ) are built here;
    // only a fetch that reads the file or the cache takes hops to the pool (windows of messages).
    bool blocking = false;
    for (const FetchAtt& a : c.fetch) {
        using K = FetchAtt::Kind;
        blocking = blocking || imap::needs_file(a);
        if (a.kind == K::modseq) condstore_ = true;
        // RFC 9051 6.4.5: reading the text sets \Seen, except with .PEEK, RFC822.HEADER or read-only.
        if ((a.kind == K::body_section && !a.peek) || a.kind == K::rfc822 || a.kind == K::rfc822_text)
            set_seen = set_seen || !read_only_;
    }
    if (c.changed_since)
        std::erase_if(indexes, [&](std::uint32_t i) { return view_.messages[i].modseq <= *c.changed_since; });
    // \Seen for every message the fetch reads, in one transaction (one fsync) before any is sent.
    std::vector<std::uint32_t> reflagged;   // UIDs whose flags this fetch changed, ascending
    if (set_seen) {
        std::vector<std::uint32_t> unseen;
        for (std::uint32_t i : indexes)
            if (!(view_.messages[i].flags & kFlagSeen)) unseen.push_back(view_.messages[i].uid);
        if (!unseen.empty()) {
            std::vector<std::uint32_t> failed;
            std::vector<MessageRecord> changed = co_await offload([&] {
                return index_->store(folder_, unseen, FlagChange::add, kFlagSeen, {}, std::nullopt, failed);
            });
            std::map<std::uint32_t, MessageRecord> by_uid;
            for (MessageRecord& r : changed) by_uid[r.uid] = std::move(r);
            for (std::uint32_t i : indexes)
                if (auto it = by_uid.find(view_.messages[i].uid); it != by_uid.end()) {
                    view_.messages[i] = std::move(it->second);
                    reflagged.push_back(view_.messages[i].uid);
                }
        }
    }
    const std::filesystem::path dir = index_->folder_path(folder_);
    auto build = [&](std::uint32_t i) {
        const MessageRecord& r = view_.messages[i];
        return imap::message_items(c.fetch, r, recent(r), dir,
                                   [&](std::string_view key, const std::function<std::string()>& make) {
                                       if (auto v = index_->cached(folder_, r.uid, key)) return *v;
                                       std::string v = make();
                                       index_->cache(folder_, r.uid, key, v);
                                       return v;
                                   });
    };
    // Messages whose items need the file are built on the pool a window at a time (one hop for many
    // small messages, one message when it is large), and written before the next window is read.
    constexpr std::size_t kWindowMessages = 64;
    constexpr std::size_t kWindowBytes = 1024 * 1024;
    std::vector<imap::MessageItems> window;
    for (std::size_t next = 0; next < indexes.size();) {
        const std::size_t first = next;
        window.clear();
        if (blocking) {
            co_await offload([&] {
                std::size_t bytes = 0;
                while (next < indexes.size() && window.size() < kWindowMessages && bytes < kWindowBytes) {
                    window.push_back(build(indexes[next++]));
                    bytes += window.back().text.size();
                }
            });
        } else {
            window.push_back(build(indexes[next++]));
        }
        for (std::size_t k = 0; k < window.size(); ++k) {
            const std::uint32_t i = indexes[first + k];
            const MessageRecord& r = view_.messages[i];
            imap::MessageItems& items = window[k];
            if (items.unknown_cte) co_return no("[UNKNOWN-CTE] cannot decode the part's content transfer encoding");
            const bool flags_changed = std::binary_search(reflagged.begin(), reflagged.end(), r.uid);
            std::string& text = items.text;
            auto add = [&](std::string_view name, const std::string& value) {
                if (!text.empty()) text += ' ';
                text += fmt::format("{} {}", name, value);
            };
            if (c.uid && !items.uid) add("UID", std::to_string(r.uid));
            if (flags_changed && !items.flags) add("FLAGS", flags_text(r, recent(r)));
            if ((c.changed_since || (condstore_ && flags_changed)) && !items.modseq)
                add("MODSEQ", fmt::format("({})", r.modseq));
            out_ += fmt::format("* {} FETCH (", i + 1);
            out_ += text;
            out_ += ")\r\n";
            // Bodies go out as they are made: a FETCH of many large messages does not pile up here.
            if (out_.size() >= kLiteralChunk) co_await flush();
        }
    }
    if (c.uid) co_await report_changes();
    co_return ok("FETCH completed");
}

awaitable<Done> Session::cmd_store(const Command& c) {
    if (!c.uid && !valid_sequence(c.set, view_.messages.size())) co_return bad("invalid message sequence number");
    if (read_only_) co_return no("[READ-ONLY] mailbox is read-only");
    auto parsed = imap::flag_bits(c.store.flags);
    if (!parsed) co_return bad("unknown system flag");
    if (c.store.unchanged_since) condstore_ = true;
    std::vector<std::uint32_t> indexes = resolve(c.set, c.uid);
    std::vector<std::uint32_t> uids;
    for (std::uint32_t i : indexes) uids.push_back(view_.messages[i].uid);
    const FlagChange change = c.store.op == imap::StoreArgs::Op::add      ? FlagChange::add
                              : c.store.op == imap::StoreArgs::Op::remove ? FlagChange::remove
                                                                          : FlagChange::replace;
    std::vector<std::uint32_t> failed;
    std::vector<MessageRecord> changed = co_await offload([&] {
        return index_->store(folder_, uids, change, parsed->first, parsed->second, c.store.unchanged_since, failed);
    });
    std::map<std::uint32_t, MessageRecord> by_uid;
    for (MessageRecord& r : changed) by_uid[r.uid] = std::move(r);
    for (std::uint32_t i : indexes) {
        auto it = by_uid.find(view_.messages[i].uid);
        const bool changed = it != by_uid.end();
        if (changed) view_.messages[i] = it->second;
        const bool refused = std::find(failed.begin(), failed.end(), view_.messages[i].uid) != failed.end();
        // RFC 9051 6.4.6: without .SILENT every message's flags, changed or not, as a FETCH says them;
        // RFC 7162 3.1.3: with UNCHANGEDSINCE the changed ones even when silent, the refused ones never.
        if ((!c.store.silent && !refused) || (changed && c.store.unchanged_since)) untagged(fetch_flags_line(i, c.uid));
    }
    if (!failed.empty()) {
        std::vector<std::uint32_t> numbers;
        for (std::uint32_t i : indexes)
            if (std::find(failed.begin(), failed.end(), view_.messages[i].uid) != failed.end())
                numbers.push_back(c.uid ? view_.messages[i].uid : i + 1);
        co_return ok(fmt::format("[MODIFIED {}] conditional STORE failed", imap::uid_set(numbers)));
    }
    co_return ok("STORE completed");
}

awaitable<Done> Session::cmd_copy(const Command& c) {
    if (!c.uid && !valid_sequence(c.set, view_.messages.size())) co_return bad("invalid message sequence number");
    const bool move = c.verb == Verb::move;
    if (move && read_only_) co_return no("[READ-ONLY] mailbox is read-only");
    std::optional<std::string> to = folder_name(c.args.at(0));
    if (!to) co_return bad("mailbox name is not valid modified UTF-7");
    bool exists = co_await offload([&] { return index_->exists(*to); });
    if (!exists) co_return no("[TRYCREATE] no such mailbox");
    std::vector<std::uint32_t> uids;
    for (std::uint32_t i : resolve(c.set, c.uid)) uids.push_back(view_.messages[i].uid);
    if (uids.empty()) co_return ok(move ? "MOVE completed" : "COPY completed");
    MailIndex::Copied copied = co_await offload([&] {
        return move ? index_->move(folder_, uids, *to) : index_->copy(folder_, uids, *to);
    });
    const std::string code = fmt::format("[COPYUID {} {} {}]", copied.uidvalidity, imap::uid_set(copied.from_uids),
                                         imap::uid_set(copied.to_uids));
    if (!move) co_return ok(code + " COPY completed");
    // RFC 6851 3.3: the COPYUID goes in an untagged OK before the EXPUNGEs.
    untagged("OK " + code + " moved");
    std::vector<std::uint32_t> gone = copied.from_uids;
    std::sort(gone.begin(), gone.end());
    tell_expunged(gone);
    co_return ok("MOVE completed");
}

}  // namespace

awaitable<void> imap_session(Connection& conn, Services& services) {
    Session s(conn, services);
    co_await s.run();
}

}  // namespace mk
